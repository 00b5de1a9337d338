// Chart axes: round tick steps (1, 2 or 5 times a power of ten), byte units (bytes, KiB, MiB)
// and drawing a plot's frame, ticks, tick labels and axis titles on a canvas.
'use strict';

mpheap.chartAxes = (() => {
  const { fmtInt } = mpheap.util;
  // Ticks from lo to at least hi, at most about `count` of them, at a round step.
  function niceTicks(lo, hi, count, integer = false) {
    const range = Math.max(hi - lo, integer ? 1 : 1e-9);
    const raw = range / Math.max(1, count);
    const pow = 10 ** Math.floor(Math.log10(raw));
    let step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) || 10 * pow;
    if (integer) step = Math.max(1, Math.round(step));
    const first = Math.ceil(lo / step - 1e-9) * step;
    const ticks = [];
    for (let v = first; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
    return { ticks, step };
  }
  // The unit a byte axis whose values reach `max` is labelled in.
  function byteUnit(max) {
    if (max >= 4 * 1024 * 1024) return { name: 'MiB', div: 1024 * 1024 };
    if (max >= 2048) return { name: 'KiB', div: 1024 };
    return { name: 'bytes', div: 1 };
  }
  // A tick's text: integers with separators, else as few decimals as the step needs.
  function tickText(v, step) {
    const decimals = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step) - 1e-9));
    return decimals === 0 ? fmtInt(Math.round(v)) : v.toFixed(decimals);
  }
  // Draws the frame, grid, ticks and labels of a plot in `box` ({l, r, t, b} pads of a W x H
  // canvas) for x in [x.min, x.max] and y from 0 to y.max rounded up to a tick (y.div: the unit's
  // size); returns the mappings to canvas pixels and the ticks drawn (for the tests).
  function draw(ctx, W, H, box, x, y) {
    const yt = niceTicks(0, y.max / y.div, Math.max(2, Math.floor((H - box.t - box.b) / 40)));
    const yMax = Math.max(1, Math.ceil(y.max / y.div / yt.step - 1e-9)) * yt.step * y.div;
    if (yt.ticks[yt.ticks.length - 1] * y.div < yMax - 1e-9) yt.ticks.push(yMax / y.div);
    const px = (v) => box.l + ((v - x.min) / Math.max(1e-9, x.max - x.min)) * (W - box.l - box.r);
    const py = (v) => H - box.b - (v / yMax) * (H - box.t - box.b);
    const fg = getComputedStyle(document.body).color;
    const xt = niceTicks(x.min, x.max, Math.max(2, Math.floor((W - box.l - box.r) / 90)), x.integer);
    const drawn = { x: [], y: [], xTitle: x.title, yTitle: y.title };
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.strokeStyle = 'rgba(128,128,128,.18)';
    ctx.fillStyle = fg;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of yt.ticks) {
      const yy = Math.round(py(v * y.div)) + 0.5;
      const text = tickText(v, yt.step);
      ctx.beginPath();
      ctx.moveTo(box.l - 4, yy);
      ctx.lineTo(W - box.r, yy);
      ctx.stroke();
      ctx.fillText(text, box.l - 6, yy);
      drawn.y.push({ value: v * y.div, text, px: yy });
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const v of xt.ticks) {
      const xx = Math.round(px(v)) + 0.5;
      const text = x.tickText ? x.tickText(v) : tickText(v, xt.step);
      ctx.beginPath();
      ctx.moveTo(xx, H - box.b);
      ctx.lineTo(xx, H - box.b + 4);
      ctx.stroke();
      const half = ctx.measureText(text).width / 2;
      ctx.fillText(text, Math.max(half + 1, Math.min(W - half - 1, xx)), H - box.b + 6);
      drawn.x.push({ value: v, text, px: xx });
    }
    ctx.strokeStyle = 'rgba(128,128,128,.7)';
    ctx.beginPath();
    ctx.moveTo(box.l + 0.5, box.t);
    ctx.lineTo(box.l + 0.5, H - box.b + 0.5);
    ctx.lineTo(W - box.r, H - box.b + 0.5);
    ctx.stroke();
    ctx.fillText(x.title, box.l + (W - box.l - box.r) / 2, H - 14);
    ctx.save();
    ctx.translate(12, box.t + (H - box.t - box.b) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(y.title, 0, -6);
    ctx.restore();
    ctx.textAlign = 'start';
    ctx.textBaseline = 'alphabetic';
    return { px, py, drawn };
  }

  return { niceTicks, byteUnit, tickText, draw };
})();
