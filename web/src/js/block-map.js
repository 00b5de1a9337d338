// Block map: one canvas pixel per heap block (scaled up), coloured by call site or age (trace)
// or by type or reachability (snapshot); hovering a block shows its allocation or object.
'use strict';

mpheap.blockMap = function blockMap(page) {
  const { $, fmtInt, plural } = mpheap.util;
  const { FREE, REACHABLE, GARBAGE, FILTERED, hslToRgb, paletteColour, shade } = mpheap.colours;
  const { trace, snaps, state, blockSize, model, api } = page;
  const { show: showTooltip, hide: hideTooltip } = page.tooltip;
  const mapCanvas = $('blockmap');
  const mapCtx = mapCanvas.getContext('2d');
  const map = { cols: 64, rows: 1, scale: 1, image: null, blocks: 1, key: '', cellBlock: null, blockCell: null };
  // The areas drawn: [first block, blocks] each, every area starting on a new row.
  function mapAreas() {
    if (state.source === 'trace') return [[0, trace.mapBlocks]];
    const areas = [];
    let first = 0;
    for (const [, blocks] of snaps.list[Math.max(0, snaps.cur)].areas) {
      areas.push([first, blocks]);
      first += blocks;
    }
    return areas;
  }
  function layoutMap() {
    const areas = mapAreas();
    const key = `${state.source}:${JSON.stringify(areas)}:${window.innerWidth}`;
    if (key === map.key) return;
    map.key = key;
    const blocks = model().mapBlocks;
    map.blocks = blocks;
    map.cols = blocks <= 4096 ? 64 : blocks <= 65536 ? 256 : 512;
    map.rows = areas.reduce((rows, a) => rows + Math.max(1, Math.ceil(a[1] / map.cols)), 0);
    map.cellBlock = new Int32Array(map.cols * map.rows).fill(-1);
    map.blockCell = new Int32Array(blocks).fill(-1);
    let row = 0;
    for (const [first, n] of areas) {
      for (let i = 0; i < n; i++) {
        map.cellBlock[row * map.cols + i] = first + i;
        if (first + i < blocks) map.blockCell[first + i] = row * map.cols + i;
      }
      row += Math.max(1, Math.ceil(n / map.cols));
    }
    const width = Math.min(1200, mapCanvas.parentElement.clientWidth || 960);
    map.scale = Math.max(1, Math.min(14, Math.floor(width / map.cols)));
    mapCanvas.width = map.cols;
    mapCanvas.height = map.rows;
    mapCanvas.style.width = `${map.cols * map.scale}px`;
    mapCanvas.style.height = `${map.rows * map.scale}px`;
    map.image = mapCtx.createImageData(map.cols, map.rows);
  }
  function cellColour(owner) {
    if (state.source === 'trace') {
      if (state.colourBy === 'age') {
        const age = (trace.cur - trace.t0[owner]) / Math.max(1, trace.events);
        return hslToRgb(0.6 - 0.6 * Math.min(1, age * 4), 0.7, 0.55);
      }
      return paletteColour(trace.site[owner]);
    }
    const o = snaps.objects(snaps.cur);
    if (state.colourBy === 'garbage') return o.garbage[owner] ? GARBAGE : REACHABLE;
    return paletteColour(snaps.typeSlot(o.type[owner]));
  }
  function drawMap() {
    const m = model();
    const data = map.image.data;
    const heapEnd =
      state.source === 'trace'
        ? trace.heapBlocks === null
          ? trace.mapBlocks
          : trace.heapBlocks
        : snaps.list[snaps.cur].totalBlocks;
    map.heapEnd = heapEnd;
    let used = 0;
    const colours = new Map();
    for (let cell = 0; cell < map.cols * map.rows; cell++) {
      const b = map.cellBlock[cell];
      const k = cell * 4;
      if (b < 0 || b >= heapEnd) {
        // Past the area's end: transparent, the canvas's hatched background shows.
        data[k] = data[k + 1] = data[k + 2] = data[k + 3] = 0;
        continue;
      }
      const owner = b < m.owner.length ? m.owner[b] : -1;
      let c = FREE;
      if (owner >= 0) {
        used++;
        const head = b === 0 || m.owner[b - 1] !== owner;
        const key = state.source === 'trace' && state.colourBy === 'age' ? -1 : owner;
        c = key >= 0 && colours.has(key) ? colours.get(key) : cellColour(owner);
        if (key >= 0 && !colours.has(key)) colours.set(key, c);
        if (state.source === 'trace' && state.siteFilter >= 0 && trace.site[owner] !== state.siteFilter) c = FILTERED;
        c = shade(c, head);
      }
      data[k] = c[0];
      data[k + 1] = c[1];
      data[k + 2] = c[2];
      data[k + 3] = 255;
    }
    mapCtx.putImageData(map.image, 0, 0);
    mapCanvas.dataset.renderedBlocks = String(used);
    mapCanvas.dataset.mapBlocks = String(heapEnd);
    api.renderedBlocks = used;
  }
  const causes = ['freed', 'swept by a collection', 'reallocated', 'overwritten (freed unlogged)', 'still live at the end'];
  // The text the block map's tooltip shows for block b.
  function blockInfo(b) {
    const m = model();
    if (b < 0 || b >= map.blocks) return null;
    const owner = b < m.owner.length ? m.owner[b] : -1;
    if (owner < 0) return `block ${fmtInt(b)}: free`;
    if (state.source === 'trace') {
      const i = owner;
      const lines = [
        `${trace.siteName(trace.site[i])}`,
        `allocation of ${plural(trace.size[i], 'block')} (${fmtInt(trace.size[i] * blockSize)} bytes) at block ${fmtInt(trace.start[i])}`,
        `lifetime: events ${fmtInt(trace.t0[i])} to ${trace.end[i] === 4 ? 'the end' : fmtInt(trace.t1[i])}, ${causes[trace.end[i]]}`,
        'allocated by:',
      ];
      const frames = trace.stackFrames(trace.stack[i]);
      frames.slice(0, 24).forEach((f) => lines.push(`  ${f.fn}  ${f.loc}`));
      if (frames.length > 24) lines.push(`  ... ${frames.length - 24} more frames`);
      return lines.join('\n');
    }
    const o = snaps.objects(snaps.cur);
    const j = owner;
    const lines = [
      `${snaps.strings[o.type[j]]} at ${snaps.address(snaps.cur, o.block[j])}`,
      `${plural(o.blocks[j], 'block')} (${fmtInt(o.blocks[j] * blockSize)} bytes), retains ${fmtInt(o.retained[j])} bytes`,
      o.garbage[j] ? 'garbage: no root reaches it' : `held by ${snaps.path(snaps.cur, j) || '(path not named)'}`,
    ];
    return lines.join('\n');
  }
  function blockAtEvent(ev) {
    const r = mapCanvas.getBoundingClientRect();
    const col = Math.floor(((ev.clientX - r.left) / r.width) * map.cols);
    const row = Math.floor(((ev.clientY - r.top) / r.height) * map.rows);
    if (col < 0 || col >= map.cols || row < 0 || row >= map.rows) return -1;
    return map.cellBlock[row * map.cols + col];
  }
  mapCanvas.addEventListener('mousemove', (ev) => {
    const info = blockInfo(blockAtEvent(ev));
    if (info) showTooltip(ev, info);
    else hideTooltip();
  });
  mapCanvas.addEventListener('mouseleave', hideTooltip);
  // Page coordinates of the centre of block b's cell (for hovering it).
  function cellCentre(b) {
    const r = mapCanvas.getBoundingClientRect();
    const col = map.blockCell[b] % map.cols;
    const row = Math.floor(map.blockCell[b] / map.cols);
    return {
      x: r.left + ((col + 0.5) / map.cols) * r.width,
      y: r.top + ((row + 0.5) / map.rows) * r.height,
    };
  }

  // Block b's cell: column and row in canvas pixels (one per cell), or null.
  const cellOf = (b) => (b >= 0 && b < map.blocks && map.blockCell[b] >= 0
    ? { col: map.blockCell[b] % map.cols, row: Math.floor(map.blockCell[b] / map.cols) } : null);
  // The number of cells past the heap areas' ends (drawn hatched).
  const outsideCells = () => map.cellBlock.reduce((n, b) => n + (b < 0 || b >= map.heapEnd ? 1 : 0), 0);

  return { layout: layoutMap, draw: drawMap, blockInfo, cellCentre, cellOf, outsideCells };
};
