// Colours: the block map's free and outside cells, the memory chart's lines, and the palette
// of distinct colours for call sites and types.
'use strict';

mpheap.colours = (() => {
  const FREE = [27, 31, 36];
  const OUTSIDE = [0, 0, 0];
  // The memory chart's lines; the free-run histogram uses `free` too.
  const MEM_COLOURS = { live: [31, 111, 235], free: [46, 160, 67], run: [219, 109, 40] };
  function hslToRgb(h, s, l) {
    const k = (n) => (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
    return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
  }
  // Distinct, stable colours for small integers (golden-ratio hues).
  function paletteColour(i) {
    return hslToRgb((i * 0.618033988749895 + 0.11) % 1, 0.62, i % 2 ? 0.6 : 0.5);
  }
  const css = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

  return { FREE, OUTSIDE, MEM_COLOURS, hslToRgb, paletteColour, css };
})();
