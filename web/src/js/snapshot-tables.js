// The snapshot's tables: objects by type (census, with the block map's colour of each type),
// the top 10 retainers with their paths, and the free-run histogram (free blocks by run length
// in powers of two).
'use strict';

mpheap.snapshotTables = function snapshotTables(page) {
  const { $, fmtInt } = mpheap.util;
  const { MEM_COLOURS, paletteColour, css } = mpheap.colours;
  const { snaps, blockSize } = page;
  // A retainer path's steps: the root's name, then each `.attr`, `[index]` and `-> 0xADDR
  // (type)` hop (heap/python_path.h); brackets and quotes are kept whole.
  function pathSteps(path) {
    const steps = [];
    let start = 0;
    let depth = 0;
    let quote = '';
    for (let i = 0; i < path.length; i++) {
      const ch = path[i];
      if (quote) {
        if (ch === '\\') i++;
        else if (ch === quote) quote = '';
      } else if (ch === "'" || ch === '"') {
        quote = ch;
      } else if (ch === '(' || ch === '[') {
        if (depth++ === 0 && ch === '[' && i > start) steps.push(path.slice(start, (start = i)));
      } else if (ch === ')' || ch === ']') {
        depth = Math.max(0, depth - 1);
      } else if (depth === 0 && i > start && (ch === '.' || path.startsWith(' -> ', i))) {
        steps.push(path.slice(start, (start = i)));
      }
    }
    steps.push(path.slice(start));
    return steps;
  }
  // The path as one nowrap span per step with a break opportunity between steps; the cell's
  // text stays the path as written.
  function pathCell(path) {
    const frag = document.createDocumentFragment();
    pathSteps(path).forEach((step, k) => {
      if (k > 0) frag.append(document.createElement('wbr'));
      const lead = step.match(/^ +/);
      if (lead) frag.append(lead[0]);
      const span = document.createElement('span');
      span.className = 'step';
      span.textContent = step.slice(lead ? lead[0].length : 0);
      frag.append(span);
    });
    return frag;
  }
  function fillTable(id, rows) {
    const body = $(id).tBodies[0];
    body.textContent = '';
    for (const row of rows) {
      const tr = document.createElement('tr');
      for (const [content, cls] of row) {
        const td = document.createElement('td');
        td.append(content);
        if (cls) td.className = cls;
        tr.append(td);
      }
      body.append(tr);
    }
  }
  function typeCell(t) {
    const frag = document.createDocumentFragment();
    frag.append(page.legend.swatch(paletteColour(snaps.typeSlot(t))), snaps.strings[t]);
    return frag;
  }
  function drawSnapshotTables() {
    const i = snaps.cur;
    const x = snaps.list[i];
    const o = snaps.objects(i);
    $('snapshot-label').textContent = `${i}: ${x.label}`;
    const census = new Map();
    for (let j = 0; j < o.count; j++) {
      const c = census.get(o.type[j]) || { count: 0, blocks: 0 };
      c.count++;
      c.blocks += o.blocks[j];
      census.set(o.type[j], c);
    }
    fillTable(
      'census',
      [...census.entries()]
        .sort((a, b) => b[1].blocks - a[1].blocks || a[0] - b[0])
        .map(([t, c]) => [[typeCell(t)], [fmtInt(c.count), 'n'], [fmtInt(c.blocks), 'n'], [fmtInt(c.blocks * blockSize), 'n']]),
    );
    const order = Array.from({ length: o.count }, (_, j) => j).filter((j) => !o.garbage[j]);
    order.sort((a, b) => o.retained[b] - o.retained[a] || o.block[a] - o.block[b]);
    fillTable(
      'retainers',
      order.slice(0, 10).map((j) => [
        [fmtInt(o.retained[j]), 'n'],
        [fmtInt(o.blocks[j] * blockSize), 'n'],
        [`${snaps.address(i, o.block[j])} ${snaps.strings[o.type[j]]}`],
        [pathCell(snaps.path(i, j)), 'path'],
      ]),
    );
    drawFragmentation(x);
  }
  function drawFragmentation(x) {
    const canvas = $('fragmentation');
    const ctx = canvas.getContext('2d');
    const W = canvas.width;
    const H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    // Runs by length in powers of two: 1, 2-3, 4-7, ...; bar height = free blocks in them.
    const buckets = [];
    for (const [length, count] of x.free_histogram) {
      const k = Math.floor(Math.log2(length));
      while (buckets.length <= k) buckets.push({ runs: 0, blocks: 0 });
      buckets[k].runs += count;
      buckets[k].blocks += count * length;
    }
    const max = Math.max(1, ...buckets.map((b) => b.blocks));
    const bw = Math.min(40, (W - 10) / Math.max(1, buckets.length));
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = getComputedStyle(document.body).color;
    buckets.forEach((b, k) => {
      const h = (b.blocks / max) * (H - 40);
      ctx.fillStyle = css(MEM_COLOURS.free);
      ctx.fillRect(5 + k * bw, H - 20 - h, bw - 3, h);
      ctx.fillStyle = getComputedStyle(document.body).color;
      ctx.fillText(String(2 ** k), 5 + k * bw, H - 8);
      if (b.runs) ctx.fillText(String(b.runs), 5 + k * bw, H - 24 - h);
    });
    ctx.fillText(`free blocks by run length (runs above bars); largest ${x.largest_free_run}`, 5, 10);
    canvas.dataset.runs = String(x.free_histogram.reduce((s, [, c]) => s + c, 0));
  }

  return { draw: drawSnapshotTables };
};
