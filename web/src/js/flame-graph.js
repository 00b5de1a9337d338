// Flame graph (icicle: outermost frame on top) of live blocks at the scrubber's event or of all
// blocks allocated, by call stack with the allocator's own frames folded into their callers;
// click a frame to zoom, the top bar to zoom out.
'use strict';

mpheap.flameGraph = function flameGraph(page) {
  const { $, fmtInt, plural, fitCanvas } = mpheap.util;
  const { hslToRgb, css } = mpheap.colours;
  const { trace, state } = page;
  const { show: showTooltip, hide: hideTooltip } = page.tooltip;
  const flameCanvas = $('flame');
  let flameLayout = [];
  let children = null;
  function flameChildren() {
    if (children) return children;
    children = Array.from({ length: trace.stackCount }, () => []);
    for (let s = 1; s < trace.stackCount; s++) {
      if (trace.display[s] === s) children[trace.display[trace.stackParent[s]]].push(s);
    }
    const name = (s) => trace.frames[trace.stackFrame[s]].fn;
    for (const c of children) c.sort((x, y) => (name(x) < name(y) ? -1 : name(x) > name(y) ? 1 : x - y));
    return children;
  }
  function flameWeights() {
    const w = new Float64Array(trace.stackCount);
    const live = $('flame-mode').value === 'live';
    for (let i = 0; i < trace.n; i++) {
      if (live && (trace.t0[i] > trace.cur || trace.t1[i] <= trace.cur)) continue;
      w[trace.display[trace.stack[i]]] += trace.size[i];
    }
    // Stacks are interned outermost first, so a caller's id is smaller than its callee's.
    for (let s = trace.stackCount - 1; s > 0; s--) {
      if (trace.display[s] === s && w[s] > 0) w[trace.display[trace.stackParent[s]]] += w[s];
    }
    return w;
  }
  function drawFlame() {
    if (!trace || state.source !== 'trace') return;
    const kids = flameChildren();
    const w = flameWeights();
    const rowH = 17;
    const nodes = [];
    let depth = 0;
    const root = w[state.flameZoom] > 0 ? state.flameZoom : 0;
    const total = w[root];
    const place = (s, x, width, d) => {
      nodes.push({ s, x, width, d, w: w[s] });
      depth = Math.max(depth, d);
      let cx = x;
      for (const c of kids[s]) {
        if (w[c] <= 0) continue;
        const cw = (w[c] / total) * flameCanvas.width;
        if (cw >= 0.5) place(c, cx, cw, d + 1);
        cx += cw;
      }
    };
    const ctx = fitCanvas(flameCanvas);
    if (total > 0) place(root, 0, flameCanvas.width, 0);
    const height = Math.max(40, (depth + 1) * rowH + 2);
    if (flameCanvas.height !== height) flameCanvas.height = height;
    ctx.clearRect(0, 0, flameCanvas.width, flameCanvas.height);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (const n of nodes) {
      const c = n.s === 0 ? [120, 128, 138] : hslToRgb(0.02 + ((trace.stackFrame[n.s] * 0.37) % 1) * 0.12, 0.75, 0.6);
      ctx.fillStyle = css(c);
      ctx.fillRect(n.x, n.d * rowH, Math.max(0.5, n.width - 1), rowH - 1);
      if (n.width > 40) {
        const label = n.s === 0 ? `all (${fmtInt(n.w)} blocks)` : trace.frames[trace.stackFrame[n.s]].fn;
        ctx.fillStyle = '#111';
        ctx.save();
        ctx.beginPath();
        ctx.rect(n.x, n.d * rowH, n.width - 3, rowH);
        ctx.clip();
        ctx.fillText(label, n.x + 3, n.d * rowH + rowH / 2);
        ctx.restore();
      }
    }
    if (total === 0) {
      ctx.fillStyle = getComputedStyle(document.body).color;
      ctx.fillText('no live blocks at this time', 6, 20);
    }
    flameLayout = nodes;
    flameCanvas.dataset.total = String(total);
  }
  function flameNodeAt(ev) {
    const r = flameCanvas.getBoundingClientRect();
    const x = ((ev.clientX - r.left) / r.width) * flameCanvas.width;
    const d = Math.floor(((ev.clientY - r.top) / r.height) * flameCanvas.height / 17);
    return flameLayout.find((n) => n.d === d && n.x <= x && x < n.x + n.width);
  }
  flameCanvas.addEventListener('mousemove', (ev) => {
    const n = flameNodeAt(ev);
    if (!n) return hideTooltip();
    const total = flameLayout.length ? flameLayout[0].w : 1;
    const f = n.s === 0 ? { fn: 'all', loc: '' } : trace.frames[trace.stackFrame[n.s]];
    showTooltip(ev, `${f.fn}\n${f.loc}\n${plural(n.w, 'block')} (${((100 * n.w) / total).toFixed(1)}%)`);
    return undefined;
  });
  flameCanvas.addEventListener('mouseleave', hideTooltip);
  flameCanvas.addEventListener('click', (ev) => {
    const n = flameNodeAt(ev);
    if (!n) return;
    state.flameZoom = n.d === 0 && n.s !== 0 ? trace.display[trace.stackParent[n.s]] : n.s;
    drawFlame();
  });
  $('flame-mode').addEventListener('change', drawFlame);

  return { draw: drawFlame };
};
