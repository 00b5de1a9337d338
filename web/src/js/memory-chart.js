// Memory over time: used (live), free and largest free run in bytes per timeline point (trace)
// or per snapshot, against events, GC collections, capture time or snapshot number (a select);
// axes with units and ticks, sweeps shaded, the peak marked; hovering shows a point's values,
// a click moves the scrubber there. A trace's chart zooms with the wheel (events on x): then its
// points come from the allocations, every event or each pixel's lowest and highest.
'use strict';

mpheap.memoryChart = function memoryChart(page) {
  const { $, fmtInt, plural, fitCanvas, countAtMost } = mpheap.util;
  const { css } = mpheap.colours;
  const { state, trace, blockSize } = page;
  const { show: showTooltip, hide: hideTooltip } = page.tooltip;
  const canvas = $('memchart');
  const xSelect = $('chart-x');
  const box = { l: 64, r: 14, t: 12, b: 42 };
  const SWEEP = 'rgba(150, 80, 200, 0.28)';
  const PEAK = 'rgb(220, 40, 40)';
  const modes = {}; // the x axis chosen per source
  let cache = null; // { source, mode, series }
  let geo = null; // the last drawing's mappings and ticks
  let hover = -1; // the point under the pointer, or -1
  // The events shown when zoomed ({from, to}; trace, events on x), else null: the wheel zooms
  // around the pointer, a double-click shows the whole trace again.
  let zoom = null;
  const zoomable = () => state.source === 'trace' && modes.trace === 'events';

  function series() {
    const source = state.source;
    if (!cache || cache.source !== source) {
      const offered = mpheap.memorySeries.axes(page, source);
      xSelect.textContent = '';
      for (const [value, text] of offered) xSelect.append(new Option(text, value));
      modes[source] ||= offered[0][0];
      xSelect.value = modes[source];
      xSelect.disabled = offered.length < 2;
    }
    const z = zoomable() ? zoom : null;
    const columns = Math.max(1, canvas.width - box.l - box.r);
    if (!cache || cache.source !== source || cache.mode !== modes[source] || cache.zoom !== z ||
        (z && cache.columns !== columns)) {
      cache = { source, mode: modes[source], zoom: z, columns, series: mpheap.memorySeries.build(page, source, modes[source], z, columns) };
      hover = -1;
    }
    return cache.series;
  }

  function drawMemory() {
    const ctx = fitCanvas(canvas); // first: a zoomed series depends on the width
    const s = series();
    const W = canvas.width;
    const H = canvas.height;
    let max = 1;
    for (const line of s.lines) for (let i = 0; i < s.count; i++) max = Math.max(max, line.values[i]);
    const unit = mpheap.chartAxes.byteUnit(max);
    ctx.clearRect(0, 0, W, H);
    const x = { min: s.xMin, max: s.xMax, integer: s.integerX, title: s.xTitle };
    geo = mpheap.chartAxes.draw(ctx, W, H, box, x, { max, div: unit.div, title: unit.name });
    const { px, py } = geo;
    if (s.marks) {
      // Sweeps (collections) as shaded bands over the plot, at least a pixel wide.
      ctx.fillStyle = SWEEP;
      for (let i = 0; i < s.count; i++) {
        if (!s.marks[i]) continue;
        let j = i;
        while (j + 1 < s.count && s.marks[j + 1]) j++;
        const x0 = Math.floor(px(s.x[i - (i > 0 ? 1 : 0)]));
        ctx.fillRect(x0, box.t, Math.max(1, Math.ceil(px(s.x[j])) - x0), H - box.t - box.b);
        i = j;
      }
    }
    ctx.lineWidth = 1.25;
    for (const line of s.lines) {
      ctx.strokeStyle = css(line.colour);
      ctx.beginPath();
      for (let i = 0; i < s.count; i++) ctx[i ? 'lineTo' : 'moveTo'](px(s.x[i]), py(line.values[i]));
      ctx.stroke();
    }
    // Points as 5-pixel squares on whole pixels, after all the lines: their centres are the
    // exact colour of the key (the test reads them).
    if (s.count <= 200) {
      for (const line of s.lines) {
        ctx.fillStyle = css(line.colour);
        for (let i = 0; i < s.count; i++) ctx.fillRect(Math.round(px(s.x[i])) - 2, Math.round(py(line.values[i])) - 2, 5, 5);
      }
    }
    if (state.source === 'trace' && s.xMin <= s.xOf(trace.summary.peak_event) && s.xOf(trace.summary.peak_event) <= s.xMax) {
      const sm = trace.summary;
      const cx = px(s.xOf(sm.peak_event));
      const cy = py(sm.peak_live_blocks * blockSize);
      ctx.fillStyle = PEAK;
      ctx.beginPath();
      ctx.arc(cx, cy, 3.5, 0, 2 * Math.PI);
      ctx.fill();
      const label = `peak ${fmtInt(sm.peak_live_blocks * blockSize)} bytes`;
      ctx.fillText(label, Math.min(cx + 5, W - box.r - ctx.measureText(label).width), Math.max(box.t + 9, cy - 4));
    }
    const vline = (xx, style, dash) => {
      ctx.strokeStyle = style;
      ctx.lineWidth = 1;
      ctx.setLineDash(dash);
      ctx.beginPath();
      ctx.moveTo(Math.round(xx) + 0.5, box.t);
      ctx.lineTo(Math.round(xx) + 0.5, H - box.b);
      ctx.stroke();
      ctx.setLineDash([]);
    };
    const at = s.xOf(state.position[state.source]);
    if (s.xMin <= at && at <= s.xMax) vline(px(at), 'rgba(128,128,128,.9)', []);
    if (hover >= 0) vline(px(s.x[hover]), 'rgba(128,128,128,.9)', [3, 3]);
    canvas.dataset.points = String(s.count);
    drawKeys(s);
  }

  function drawKeys(s) {
    const keys = $('memory-keys');
    keys.textContent = '';
    // Each key's mark is in the very colour drawn (the sweeps' translucent one too).
    const key = (colour, mark, text) => {
      const span = document.createElement('span');
      span.className = 'key';
      const i = document.createElement('i');
      i.style.color = colour;
      i.textContent = mark;
      span.append(i, ` ${text}`);
      keys.append(span);
    };
    for (const line of s.lines) key(css(line.colour), '■', line.name);
    if (s.marks) key(SWEEP, '█', 'sweeps (collections)');
    if (state.source === 'trace') key(PEAK, '●', 'peak');
  }

  // The point nearest to canvas x `cx`.
  function pointAtPixel(cx) {
    const s = cache.series;
    const i = Math.max(0, countAtMost(s.count, (j) => geo.px(s.x[j]), cx) - 1);
    return i + 1 < s.count && geo.px(s.x[i + 1]) - cx < cx - geo.px(s.x[i]) ? i + 1 : i;
  }
  const canvasX = (ev) => ((ev.clientX - canvas.getBoundingClientRect().left) / canvas.getBoundingClientRect().width) * canvas.width;
  // The tooltip's text for point i: where it is and each line's value there.
  function pointText(i) {
    const s = cache.series;
    const lines = [s.heading(i)];
    for (const line of s.lines) {
      const bytes = line.values[i];
      lines.push(`${line.name}: ${plural(Math.round(bytes / blockSize), 'block')}, ${fmtInt(bytes)} bytes (${(bytes / 1024).toFixed(1)} KiB)`);
    }
    return lines.join('\n');
  }
  canvas.addEventListener('mousemove', (ev) => {
    if (!geo) return;
    hover = pointAtPixel(canvasX(ev));
    drawMemory();
    if (hover >= 0) showTooltip(ev, pointText(hover));
  });
  canvas.addEventListener('mouseleave', () => {
    hover = -1;
    hideTooltip();
    drawMemory();
  });
  canvas.addEventListener('click', (ev) => {
    if (!geo) return;
    const s = cache.series;
    const cx = Math.max(box.l, Math.min(canvas.width - box.r, canvasX(ev)));
    const v = s.xMin + ((cx - box.l) / (canvas.width - box.l - box.r)) * (s.xMax - s.xMin);
    page.scrubber.setPosition(s.positionAt(v));
  });
  // Zooms to events [from, to] (clamped; at least 16 of them), or back to the whole trace.
  function setZoom(from, to) {
    const last = trace.events - 1;
    const span = Math.min(last, Math.max(16, Math.round(to - from)));
    const a = Math.max(0, Math.min(last - span, Math.round(from)));
    zoom = span >= last ? null : { from: a, to: a + span };
    drawMemory();
    return zoom;
  }
  canvas.addEventListener('wheel', (ev) => {
    if (!geo || !zoomable()) return;
    ev.preventDefault();
    const s = cache.series;
    const cx = Math.max(box.l, Math.min(canvas.width - box.r, canvasX(ev)));
    const f = (cx - box.l) / (canvas.width - box.l - box.r);
    const at = s.xMin + f * (s.xMax - s.xMin);
    const span = (s.xMax - s.xMin) * (ev.deltaY < 0 ? 0.8 : 1.25);
    setZoom(at - f * span, at - f * span + span);
  }, { passive: false });
  canvas.addEventListener('dblclick', () => {
    if (zoom) setZoom(0, trace.events);
  });
  xSelect.addEventListener('change', () => {
    modes[state.source] = xSelect.value;
    drawMemory();
  });
  // For the tests (window.mpheapReport.memoryChart()): the plot's box, the ticks drawn and
  // where point i of a line is, in canvas pixels (= CSS pixels from the canvas's corner).
  function geometry() {
    const s = cache.series;
    return {
      left: box.l, right: canvas.width - box.r, top: box.t, bottom: canvas.height - box.b,
      xTitle: geo.drawn.xTitle, yTitle: geo.drawn.yTitle, xTicks: geo.drawn.x, yTicks: geo.drawn.y,
      count: s.count, keys: s.lines.map((l) => l.key), zoom: cache.zoom,
      point: (key, i) => {
        const line = s.lines.find((l) => l.key === key);
        return { x: geo.px(s.x[i]), y: geo.py(line.values[i]), value: line.values[i], position: s.position[i], heading: s.heading(i) };
      },
    };
  }

  return { draw: drawMemory, geometry, pointText, setZoom };
};
