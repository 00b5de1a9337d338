// Allocation lifespans: each allocation a bar at its blocks (down) over its lifetime (right),
// optionally only one call site's; a click moves the scrubber, hovering names the allocation.
'use strict';

mpheap.lifespans = function lifespans(page) {
  const { $, fmtInt, plural, fitCanvas } = mpheap.util;
  const { FREE, paletteColour, css } = mpheap.colours;
  const { trace, state } = page;
  const { show: showTooltip, hide: hideTooltip } = page.tooltip;
  const lifeCanvas = $('lifespans');
  function drawLifespans() {
    if (!trace || state.source !== 'trace') return;
    const ctx = fitCanvas(lifeCanvas);
    const W = lifeCanvas.width;
    const H = lifeCanvas.height;
    ctx.fillStyle = css(FREE);
    ctx.fillRect(0, 0, W, H);
    const sx = W / Math.max(1, trace.events);
    const sy = H / trace.mapBlocks;
    const colours = trace.siteFrames.map((_, i) => css(paletteColour(i)));
    const filter = state.siteFilter;
    for (let i = 0; i < trace.n; i++) {
      if (filter >= 0 && trace.site[i] !== filter) continue;
      ctx.fillStyle = colours[trace.site[i]];
      const x = trace.t0[i] * sx;
      ctx.fillRect(x, trace.start[i] * sy, Math.max(1, trace.t1[i] * sx - x), Math.max(1, trace.size[i] * sy));
    }
    ctx.fillStyle = 'rgba(255,255,255,.8)';
    ctx.fillRect(state.position.trace * sx, 0, 1, H);
  }
  lifeCanvas.addEventListener('click', (ev) => {
    const r = lifeCanvas.getBoundingClientRect();
    page.scrubber.setPosition(((ev.clientX - r.left) / r.width) * trace.events);
  });
  lifeCanvas.addEventListener('mousemove', (ev) => {
    const r = lifeCanvas.getBoundingClientRect();
    const t = ((ev.clientX - r.left) / r.width) * trace.events;
    const b = ((ev.clientY - r.top) / r.height) * trace.mapBlocks;
    for (let i = trace.n - 1; i >= 0; i--) {
      if (trace.t0[i] <= t && t < Math.max(trace.t1[i], trace.t0[i] + 1) && trace.start[i] <= b + 0.5 &&
          b - 0.5 < trace.start[i] + trace.size[i] &&
          (state.siteFilter < 0 || trace.site[i] === state.siteFilter)) {
        showTooltip(ev, `${trace.siteName(trace.site[i])}\n${plural(trace.size[i], 'block')} at block ${fmtInt(trace.start[i])}, events ${fmtInt(trace.t0[i])} to ${trace.end[i] === 4 ? 'the end' : fmtInt(trace.t1[i])}`);
        return;
      }
    }
    hideTooltip();
  });
  lifeCanvas.addEventListener('mouseleave', hideTooltip);

  return { draw: drawLifespans };
};
