// The block map's legend: free, then the call sites with the most live blocks or the age scale
// (trace), or the types with the most blocks or reachable/garbage (snapshot).
'use strict';

mpheap.legend = function legendView(page) {
  const { $, fmtInt } = mpheap.util;
  const { FREE, hslToRgb, paletteColour, css } = mpheap.colours;
  const { trace, snaps, state } = page;
  function drawLegend() {
    const legend = $('legend');
    legend.textContent = '';
    const add = (colour, text) => {
      const span = document.createElement('span');
      const swatch = document.createElement('i');
      swatch.style.background = css(colour);
      span.append(swatch, text);
      legend.append(span);
    };
    add(FREE, 'free');
    if (state.source === 'trace') {
      if (state.colourBy === 'age') {
        add(hslToRgb(0.6, 0.7, 0.55), 'new');
        add(hslToRgb(0, 0.7, 0.55), 'old (a quarter of the trace or more)');
        return;
      }
      // The sites with the most live blocks now.
      const blocks = new Map();
      for (let i = 0; i < trace.sp; i++) {
        if (trace.t1[i] > trace.cur) blocks.set(trace.site[i], (blocks.get(trace.site[i]) || 0) + trace.size[i]);
      }
      [...blocks.entries()]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 12)
        .forEach(([site, n]) => add(paletteColour(site), `${trace.siteName(site)} (${fmtInt(n)})`));
    } else if (state.colourBy === 'garbage') {
      add([90, 140, 200], 'reachable');
      add([200, 60, 60], 'garbage');
    } else {
      const o = snaps.objects(snaps.cur);
      const blocks = new Map();
      for (let j = 0; j < o.count; j++) blocks.set(o.type[j], (blocks.get(o.type[j]) || 0) + o.blocks[j]);
      [...blocks.entries()]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 16)
        .forEach(([t, n]) => add(paletteColour(snaps.typeSlot(t)), `${snaps.strings[t]} (${fmtInt(n)})`));
    }
  }

  return { draw: drawLegend };
};
