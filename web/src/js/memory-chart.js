// Memory over time: live, free blocks and the largest free run per timeline point (trace) or
// per snapshot, the peak and collections marked; a click moves the scrubber there.
'use strict';

mpheap.memoryChart = function memoryChart(page) {
  const { $, fmtInt, fitCanvas } = mpheap.util;
  const { MEM_COLOURS, css } = mpheap.colours;
  const { trace, snaps, state, blockSize } = page;
  const memCanvas = $('memchart');
  // The series shown: x positions (event or snapshot index) and the lines.
  function memorySeries() {
    if (state.source === 'trace') {
      const tl = trace.tl;
      const lines = [{ name: 'live blocks', colour: MEM_COLOURS.live, values: tl.live }];
      if (trace.heapBlocks !== null) {
        lines.push({ name: 'free blocks', colour: MEM_COLOURS.free, values: tl.free });
        lines.push({ name: 'largest free run', colour: MEM_COLOURS.run, values: tl.run });
      }
      return { x: tl.event, count: tl.count, lines, span: Math.max(1, trace.events - 1), marks: tl.collection };
    }
    const n = snaps.list.length;
    const x = new Uint32Array(n);
    const live = new Uint32Array(n);
    const free = new Uint32Array(n);
    const run = new Uint32Array(n);
    snaps.list.forEach((s, i) => {
      x[i] = i;
      live[i] = Math.round(s.totals.used / blockSize);
      free[i] = Math.round(s.totals.free / blockSize);
      run[i] = s.largest_free_run;
    });
    return {
      x,
      count: n,
      span: Math.max(1, n - 1),
      marks: null,
      lines: [
        { name: 'used blocks', colour: MEM_COLOURS.live, values: live },
        { name: 'free blocks', colour: MEM_COLOURS.free, values: free },
        { name: 'largest free run', colour: MEM_COLOURS.run, values: run },
      ],
    };
  }
  let memCache = null;
  function drawMemory() {
    const ctx = fitCanvas(memCanvas);
    const W = memCanvas.width;
    const H = memCanvas.height;
    const pad = { l: 50, r: 10, t: 10, b: 18 };
    if (!memCache || memCache.source !== state.source) memCache = { source: state.source, series: memorySeries() };
    const s = memCache.series;
    let max = 1;
    for (const line of s.lines) for (let i = 0; i < s.count; i++) max = Math.max(max, line.values[i]);
    const px = (x) => pad.l + (x / s.span) * (W - pad.l - pad.r);
    const py = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = getComputedStyle(document.body).color;
    ctx.strokeStyle = 'rgba(128,128,128,.4)';
    ctx.beginPath();
    ctx.moveTo(pad.l, pad.t);
    ctx.lineTo(pad.l, H - pad.b);
    ctx.lineTo(W - pad.r, H - pad.b);
    ctx.stroke();
    ctx.fillText(fmtInt(max), 2, pad.t + 8);
    ctx.fillText('0', 2, H - pad.b);
    if (s.marks) {
      ctx.fillStyle = 'rgba(150,80,200,.8)';
      for (let i = 0; i < s.count; i++) if (s.marks[i]) ctx.fillRect(px(s.x[i]) - 0.5, H - pad.b, 1, 6);
    }
    for (const line of s.lines) {
      ctx.strokeStyle = css(line.colour);
      ctx.lineWidth = 1.25;
      ctx.beginPath();
      for (let i = 0; i < s.count; i++) {
        if (i === 0) ctx.moveTo(px(s.x[i]), py(line.values[i]));
        else ctx.lineTo(px(s.x[i]), py(line.values[i]));
      }
      ctx.stroke();
      if (s.count <= 200) {
        ctx.fillStyle = css(line.colour);
        for (let i = 0; i < s.count; i++) ctx.fillRect(px(s.x[i]) - 1.5, py(line.values[i]) - 1.5, 3, 3);
      }
    }
    if (state.source === 'trace') {
      const sm = trace.summary;
      ctx.fillStyle = 'rgb(220,40,40)';
      ctx.beginPath();
      ctx.arc(px(sm.peak_event), py(sm.peak_live_blocks), 3.5, 0, 2 * Math.PI);
      ctx.fill();
      const label = `peak ${fmtInt(sm.peak_live_blocks)}`;
      const lx = Math.min(px(sm.peak_event) + 5, W - pad.r - ctx.measureText(label).width);
      ctx.fillText(label, lx, Math.max(pad.t + 8, py(sm.peak_live_blocks) - 4));
    }
    const pos = state.position[state.source];
    ctx.strokeStyle = 'rgba(128,128,128,.9)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(px(pos) + 0.5, pad.t);
    ctx.lineTo(px(pos) + 0.5, H - pad.b);
    ctx.stroke();
    memCanvas.dataset.points = String(s.count);
    const keys = $('memory-keys');
    keys.textContent = '';
    for (const line of s.lines) {
      const span = document.createElement('span');
      span.style.color = css(line.colour);
      span.textContent = `■ ${line.name}  `;
      keys.append(span);
    }
    if (s.marks) keys.append('▮ collections  ● peak');
    memCache.px = px;
    memCache.pad = pad;
  }
  memCanvas.addEventListener('click', (ev) => {
    if (!memCache) return;
    const r = memCanvas.getBoundingClientRect();
    const x = ((ev.clientX - r.left) / r.width) * memCanvas.width;
    const s = memCache.series;
    const frac = (x - memCache.pad.l) / (memCanvas.width - memCache.pad.l - memCache.pad.r);
    page.scrubber.setPosition(Math.max(0, Math.min(1, frac)) * s.span);
  });

  return { draw: drawMemory };
};
