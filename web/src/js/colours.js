// Colours: the block map's free cells and its head/tail shading, the memory chart's lines, and
// the palette of distinct colours for call sites and types. Views that draw a colour and the
// legends that name it both take it from here, so a swatch is the very value drawn.
'use strict';

mpheap.colours = (() => {
  const FREE = [27, 31, 36];
  // Cells past a heap area's end are left transparent on the block map's canvas, so its CSS
  // background (a hatch, class .outside in report.css) shows through; the legend uses the class.
  const OUTSIDE_CLASS = 'outside';
  // Cells of an allocation or object after its first block are drawn darker.
  const TAIL_SHADE = 0.78;
  // The memory chart's lines; the free-run histogram uses `free` too.
  const MEM_COLOURS = { live: [31, 111, 235], free: [46, 160, 67], run: [219, 109, 40] };
  const REACHABLE = [90, 140, 200];
  const GARBAGE = [200, 60, 60];
  const FILTERED = [70, 76, 84]; // cells of the call sites the filter hides
  function hslToRgb(h, s, l) {
    const k = (n) => (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
    return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
  }
  // 24 colours chosen greedily for the largest smallest CIELAB distance (about 27 or more)
  // among mid-to-light, moderately saturated colours, so each is clear on FREE and on the page;
  // the first slots (the types and sites seen first) come first.
  const PALETTE = [
    '5588bb', 'eecc44', 'ee4466', '00eeaa', 'ff99ff', '997755', '448800', '008877', 'ff8844',
    '6677ee', 'bbddaa', 'ffbbcc', '00ddff', 'aa6699', '887700', 'aadd66', 'ccbbff', 'ffbb88',
    'dd4499', '009955', '11ddcc', 'dd7766', '779955', 'aa55bb',
  ].map((h) => [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)));
  // Distinct, stable colours for small integers: the palette, then golden-ratio hues.
  function paletteColour(i) {
    if (i < PALETTE.length) return PALETTE[i];
    const j = i - PALETTE.length;
    return hslToRgb((j * 0.618033988749895 + 0.11) % 1, 0.62, j % 2 ? 0.68 : 0.52);
  }
  // The colour a cell of colour c is drawn in: as it is for a head block, shaded for a tail.
  const shade = (c, head) => (head ? c : c.map((v) => Math.round(v * TAIL_SHADE)));
  const css = (c) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;

  return {
    FREE, OUTSIDE_CLASS, TAIL_SHADE, MEM_COLOURS, REACHABLE, GARBAGE, FILTERED,
    hslToRgb, paletteColour, shade, css,
  };
})();
