// Small helpers shared by the modules: element lookup, number formatting, binary search, canvas
// sizing.
'use strict';

mpheap.util = (() => {
  const $ = (id) => document.getElementById(id);
  const fmtInt = (n) => n.toLocaleString('en-US');
  const plural = (n, one, many) => `${fmtInt(n)} ${n === 1 ? one : many || one + 's'}`;

  // Number of entries of a sorted array (through `key`) that are <= k.
  function countAtMost(len, key, k) {
    let lo = 0;
    let hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (key(mid) <= k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Sizes a full-width canvas to its container and returns its 2d context.
  function fitCanvas(canvas) {
    const width = Math.max(300, Math.floor(canvas.parentElement.clientWidth - 24));
    if (canvas.width !== width) canvas.width = width;
    return canvas.getContext('2d');
  }

  return { $, fmtInt, plural, countAtMost, fitCanvas };
})();
