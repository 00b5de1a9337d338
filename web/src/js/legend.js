// The block map's legend: free, past the heap's end, then the call sites with the most live
// blocks or the age scale (trace), or the types with the most blocks or reachable/garbage
// (snapshot). Each swatch shows a head block's colour (left) and a tail block's (right), the
// values the block map draws; the census uses the same swatches.
'use strict';

mpheap.legend = function legendView(page) {
  const { $, fmtInt } = mpheap.util;
  const { FREE, OUTSIDE_CLASS, REACHABLE, GARBAGE, hslToRgb, paletteColour, shade, css } = mpheap.colours;
  const { trace, snaps, state } = page;
  // A swatch: colour c as a head block (left half) and a tail block (right half); one colour for
  // free; the hatch for `null` (past the heap's end).
  function swatch(c, used = true) {
    const i = document.createElement('i');
    i.className = c ? 'swatch' : `swatch ${OUTSIDE_CLASS}`;
    const halves = c ? (used ? [shade(c, true), shade(c, false)] : [c, c]) : [];
    for (const h of halves) {
      const b = document.createElement('b');
      b.style.backgroundColor = css(h);
      i.append(b);
    }
    return i;
  }
  function drawLegend() {
    const legend = $('legend');
    legend.textContent = '';
    const add = (colour, text, used = true) => {
      const span = document.createElement('span');
      span.append(swatch(colour, used), text);
      legend.append(span);
    };
    add(FREE, 'free', false);
    if (page.map.outsideCells() > 0) add(null, "past the heap's end", false);
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
      add(REACHABLE, 'reachable');
      add(GARBAGE, 'garbage');
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

  return { draw: drawLegend, swatch };
};
