// Allocation lifespans: each allocation a bar at its blocks (down) over its lifetime (right),
// optionally only one call site's; a click moves the scrubber, hovering names the allocation.
// Past `detailLimit` allocations (a long trace: hundreds of thousands) they are rasterised into
// one ImageData instead of one fillRect each: every allocation still covers at least a pixel, in
// the same colour and order (the last drawn wins a pixel), without antialiased edges.
'use strict';

mpheap.lifespans = function lifespans(page) {
  const { $, fmtInt, plural, fitCanvas } = mpheap.util;
  const { FREE, paletteColour, css } = mpheap.colours;
  const { trace, state } = page;
  const { show: showTooltip, hide: hideTooltip } = page.tooltip;
  const lifeCanvas = $('lifespans');
  const view = { detailLimit: 20000, mode: '' };
  function drawLifespans() {
    if (!trace || state.source !== 'trace') return;
    const ctx = fitCanvas(lifeCanvas);
    const W = lifeCanvas.width;
    const H = lifeCanvas.height;
    const sx = W / Math.max(1, trace.events);
    const sy = H / trace.mapBlocks;
    const filter = state.siteFilter;
    view.mode = trace.n > view.detailLimit ? 'raster' : 'rects';
    if (view.mode === 'raster') {
      rasterise(ctx, W, H, sx, sy, filter);
    } else {
      ctx.fillStyle = css(FREE);
      ctx.fillRect(0, 0, W, H);
      const colours = trace.siteFrames.map((_, i) => css(paletteColour(i)));
      for (let i = 0; i < trace.n; i++) {
        if (filter >= 0 && trace.site[i] !== filter) continue;
        ctx.fillStyle = colours[trace.site[i]];
        const x = trace.t0[i] * sx;
        ctx.fillRect(x, trace.start[i] * sy, Math.max(1, trace.t1[i] * sx - x), Math.max(1, trace.size[i] * sy));
      }
    }
    ctx.fillStyle = 'rgba(255,255,255,.8)';
    ctx.fillRect(state.position.trace * sx, 0, 1, H);
  }
  // Allocation i's bar as whole pixels [x0, x1) x [y0, y1), into `box` (`rasterise` inlines it).
  function pixels(i, W, H, sx, sy, box) {
    box.x0 = Math.min(W - 1, Math.floor(trace.t0[i] * sx));
    box.x1 = Math.min(W, Math.max(box.x0 + 1, Math.round(trace.t1[i] * sx)));
    box.y0 = Math.min(H - 1, Math.floor(trace.start[i] * sy));
    box.y1 = Math.min(H, Math.max(box.y0 + 1, Math.round((trace.start[i] + trace.size[i]) * sy)));
    return box;
  }
  // Each allocation as whole pixels (as `pixels` places them), written into one image: linear in
  // allocations plus the pixels covered. The image is kept for the next drawing of the same size
  // and filter (a scrubber move only moves the position line).
  let cached = null;
  function rasterise(ctx, W, H, sx, sy, filter) {
    if (cached && cached.W === W && cached.H === H && cached.filter === filter) {
      ctx.putImageData(cached.image, 0, 0);
      return;
    }
    const image = ctx.createImageData(W, H);
    const px = new Uint32Array(image.data.buffer);
    const rgba = (c) => ((255 << 24) | (c[2] << 16) | (c[1] << 8) | c[0]) >>> 0; // little-endian
    px.fill(rgba(FREE));
    const colours = Uint32Array.from(trace.siteFrames, (_, i) => rgba(paletteColour(i)));
    const { n, t0, t1, start, size, site } = trace;
    for (let i = 0; i < n; i++) {
      const s = site[i];
      if (filter >= 0 && s !== filter) continue;
      const c = colours[s];
      const x0 = Math.min(W - 1, Math.floor(t0[i] * sx));
      const x1 = Math.min(W, Math.max(x0 + 1, Math.round(t1[i] * sx)));
      const y0 = Math.min(H - 1, Math.floor(start[i] * sy));
      const y1 = Math.min(H, Math.max(y0 + 1, Math.round((start[i] + size[i]) * sy)));
      for (let y = y0; y < y1; y++) {
        const row = y * W;
        for (let x = x0; x < x1; x++) px[row + x] = c;
      }
    }
    ctx.putImageData(image, 0, 0);
    cached = { W, H, filter, image };
  }
  lifeCanvas.addEventListener('click', (ev) => {
    const r = lifeCanvas.getBoundingClientRect();
    page.scrubber.setPosition(((ev.clientX - r.left) / r.width) * trace.events);
  });
  // The allocation drawn on top at the pointer: in a raster, the last one whose pixels hold it
  // (what the eye sees there, however short its life); else the last whose bar it is in.
  function allocationAt(ev) {
    const r = lifeCanvas.getBoundingClientRect();
    const filter = state.siteFilter;
    if (view.mode === 'raster') {
      const W = lifeCanvas.width;
      const H = lifeCanvas.height;
      const sx = W / Math.max(1, trace.events);
      const sy = H / trace.mapBlocks;
      const x = Math.floor(((ev.clientX - r.left) / r.width) * W);
      const y = Math.floor(((ev.clientY - r.top) / r.height) * H);
      const box = {};
      for (let i = trace.n - 1; i >= 0; i--) {
        if (filter >= 0 && trace.site[i] !== filter) continue;
        pixels(i, W, H, sx, sy, box);
        if (box.x0 <= x && x < box.x1 && box.y0 <= y && y < box.y1) return i;
      }
      return -1;
    }
    const t = ((ev.clientX - r.left) / r.width) * trace.events;
    const b = ((ev.clientY - r.top) / r.height) * trace.mapBlocks;
    for (let i = trace.n - 1; i >= 0; i--) {
      if (trace.t0[i] <= t && t < Math.max(trace.t1[i], trace.t0[i] + 1) && trace.start[i] <= b + 0.5 &&
          b - 0.5 < trace.start[i] + trace.size[i] && (filter < 0 || trace.site[i] === filter)) {
        return i;
      }
    }
    return -1;
  }
  lifeCanvas.addEventListener('mousemove', (ev) => {
    const i = allocationAt(ev);
    if (i < 0) {
      hideTooltip();
      return;
    }
    showTooltip(ev, `${trace.siteName(trace.site[i])}\n${plural(trace.size[i], 'block')} at block ${fmtInt(trace.start[i])}, events ${fmtInt(trace.t0[i])} to ${trace.end[i] === 4 ? 'the end' : fmtInt(trace.t1[i])}`);
  });
  lifeCanvas.addEventListener('mouseleave', hideTooltip);

  // Test hooks: how the last drawing was made ('rects' or 'raster'); a new limit, which redraws;
  // allocation i's bar in canvas pixels as the raster draws it, with its colour, start block and
  // start event.
  function setDetailLimit(n) {
    view.detailLimit = n;
    cached = null;
    drawLifespans();
    return view.mode;
  }
  function bar(i) {
    const W = lifeCanvas.width;
    const H = lifeCanvas.height;
    const b = pixels(i, W, H, W / Math.max(1, trace.events), H / trace.mapBlocks, {});
    return { ...b, colour: paletteColour(trace.site[i]), start: trace.start[i], t0: trace.t0[i] };
  }
  return { draw: drawLifespans, mode: () => view.mode, setDetailLimit, bar };
};
