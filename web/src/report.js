// mpheap report: draws the data `mpheap report` embedded in this page (schema: docs/report.md).
// No dependencies; canvas for everything drawn per block or per allocation.
'use strict';

(function main() {
  const startedAt = performance.now();
  const DATA = JSON.parse(document.getElementById('mpheap-data').textContent);
  const $ = (id) => document.getElementById(id);

  // ---- decoding -------------------------------------------------------------------------
  function bytes(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const u32 = (b64) => new Uint32Array(bytes(b64).buffer);
  const fmtInt = (n) => n.toLocaleString('en-US');
  const plural = (n, one, many) => `${fmtInt(n)} ${n === 1 ? one : many || one + 's'}`;

  // ---- colours ----------------------------------------------------------------------------
  const FREE = [27, 31, 36];
  const OUTSIDE = [0, 0, 0];
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

  // ---- the trace: allocations, stacks, replay to any event ----------------------------
  function TraceModel(t) {
    const m = this;
    m.events = t.events;
    m.summary = t.summary;
    m.heapBlocks = t.heap_blocks;
    m.mapBlocks = Math.max(1, t.map_blocks);
    const a = t.alloc;
    m.n = a.count;
    m.start = u32(a.start_block);
    m.size = u32(a.size);
    m.t0 = u32(a.start_time);
    m.t1 = u32(a.end_time);
    m.stack = u32(a.stack);
    m.end = bytes(a.end);
    m.frames = t.frames.map((s) => {
      const tab = s.indexOf('\t');
      return { fn: s.slice(0, tab), loc: s.slice(tab + 1) };
    });
    m.frameAllocator = bytes(t.frame_allocator);
    m.stackParent = u32(t.stack_parent);
    m.stackFrame = u32(t.stack_frame);
    m.stackCount = m.stackParent.length;
    // The display node of a stack: itself, or its nearest caller outside py/gc.c and py/malloc.c.
    m.display = new Uint32Array(m.stackCount);
    for (let s = 1; s < m.stackCount; s++) {
      m.display[s] = m.frameAllocator[m.stackFrame[s]] ? m.display[m.stackParent[s]] : s;
    }
    // Sites: allocation sites numbered by first appearance, for colours and the filter.
    m.siteOfStack = new Int32Array(m.stackCount).fill(-1);
    m.siteFrames = [];
    const siteIndex = new Map();
    m.site = new Int32Array(m.n);
    for (let i = 0; i < m.n; i++) {
      const s = m.stack[i];
      if (m.siteOfStack[s] < 0) {
        const d = m.display[s];
        const f = d === 0 ? -1 : m.stackFrame[d];
        if (!siteIndex.has(f)) {
          siteIndex.set(f, m.siteFrames.length);
          m.siteFrames.push(f);
        }
        m.siteOfStack[s] = siteIndex.get(f);
      }
      m.site[i] = m.siteOfStack[s];
    }
    // Ended allocations in end order (live ones end at `events`, never reached).
    const ends = [];
    for (let i = 0; i < m.n; i++) if (m.t1[i] < m.events) ends.push(i);
    ends.sort((x, y) => m.t1[x] - m.t1[y] || x - y);
    m.endOrder = Uint32Array.from(ends);
    m.owner = new Int32Array(m.mapBlocks).fill(-1);
    m.cur = -1; // the state shown is the one after event `cur`
    m.sp = 0; // allocations started so far (in start order)
    m.ep = 0; // entries of endOrder ended so far
    m.live = 0;
    m.tl = {
      count: t.timeline.count,
      decimated: t.timeline.decimated,
      event: u32(t.timeline.event),
      live: u32(t.timeline.live),
      free: u32(t.timeline.free),
      run: u32(t.timeline.run),
      collection: bytes(t.timeline.collection),
    };
  }
  TraceModel.prototype.setAlloc = function setAlloc(i) {
    const end = this.start[i] + this.size[i];
    for (let b = this.start[i]; b < end; b++) this.owner[b] = i;
    this.live += this.size[i];
  };
  TraceModel.prototype.clearAlloc = function clearAlloc(i) {
    const end = this.start[i] + this.size[i];
    for (let b = this.start[i]; b < end; b++) if (this.owner[b] === i) this.owner[b] = -1;
    this.live -= this.size[i];
  };
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
  // The state after event k. Near moves replay the events in between, forwards (ends before
  // starts within an event, as the replay does) or backwards; far jumps rebuild from the
  // allocation lists in O(allocations).
  TraceModel.prototype.seek = function seek(k) {
    const m = this;
    const sp = countAtMost(m.n, (i) => m.t0[i], k);
    const ep = countAtMost(m.endOrder.length, (i) => m.t1[m.endOrder[i]], k);
    const changes = Math.abs(sp - m.sp) + Math.abs(ep - m.ep);
    if (changes > m.n / 4 + 64) {
      m.owner.fill(-1);
      m.live = 0;
      for (let i = 0; i < sp; i++) if (m.t1[i] > k) m.setAlloc(i);
      m.sp = sp;
      m.ep = ep;
    } else if (k > m.cur) {
      for (;;) {
        const et = m.ep < m.endOrder.length ? m.t1[m.endOrder[m.ep]] : Infinity;
        const st = m.sp < m.n ? m.t0[m.sp] : Infinity;
        if (et > k && st > k) break;
        if (et <= st) m.clearAlloc(m.endOrder[m.ep++]);
        else m.setAlloc(m.sp++);
      }
    } else if (k < m.cur) {
      for (;;) {
        const et = m.ep > 0 ? m.t1[m.endOrder[m.ep - 1]] : -1;
        const st = m.sp > 0 ? m.t0[m.sp - 1] : -1;
        if (et <= k && st <= k) break;
        if (st >= et) m.clearAlloc(--m.sp);
        else m.setAlloc(m.endOrder[--m.ep]);
      }
    }
    m.cur = k;
  };
  TraceModel.prototype.stackFrames = function stackFrames(s) {
    const out = [];
    for (let x = s; x !== 0; x = this.stackParent[x]) out.push(this.frames[this.stackFrame[x]]);
    return out; // innermost first
  };
  TraceModel.prototype.siteName = function siteName(site) {
    const f = this.siteFrames[site];
    return f < 0 ? '[no stack]' : `${this.frames[f].fn} ${this.frames[f].loc}`;
  };

  // ---- snapshots ----------------------------------------------------------------------
  function SnapshotModel(s, blockSize) {
    const m = this;
    m.strings = s.strings;
    m.list = s.list;
    m.blockSize = blockSize;
    m.mapBlocks = 1;
    for (const x of m.list) {
      x.totalBlocks = x.areas.reduce((sum, area) => sum + area[1], 0);
      m.mapBlocks = Math.max(m.mapBlocks, x.totalBlocks);
    }
    m.owner = new Int32Array(m.mapBlocks).fill(-1);
    m.cur = -1;
    m.types = new Map(); // type string index -> colour slot
  }
  SnapshotModel.prototype.objects = function objects(i) {
    const x = this.list[i];
    if (!x.decoded) {
      const o = x.objects;
      x.decoded = {
        count: o.count,
        block: u32(o.block),
        blocks: u32(o.blocks),
        retained: u32(o.retained),
        type: u32(o.type),
        path: u32(o.path),
        garbage: bytes(o.garbage),
      };
    }
    return x.decoded;
  };
  SnapshotModel.prototype.seek = function seek(i) {
    const o = this.objects(i);
    this.owner.fill(-1);
    let used = 0;
    for (let j = 0; j < o.count; j++) {
      const end = o.block[j] + o.blocks[j];
      for (let b = o.block[j]; b < end; b++) this.owner[b] = j;
      used += o.blocks[j];
    }
    this.live = used;
    this.cur = i;
  };
  SnapshotModel.prototype.typeSlot = function typeSlot(t) {
    if (!this.types.has(t)) this.types.set(t, this.types.size);
    return this.types.get(t);
  };
  // Run-time address of a block counted over the areas laid end to end.
  SnapshotModel.prototype.address = function address(i, block) {
    let b = block;
    for (const [start, blocks] of this.list[i].areas) {
      if (b < blocks) return '0x' + (BigInt(start) + BigInt(b * this.blockSize)).toString(16);
      b -= blocks;
    }
    return '?';
  };

  // ---- state --------------------------------------------------------------------------
  const blockSize = DATA.block_size;
  const trace = DATA.trace ? new TraceModel(DATA.trace) : null;
  const snaps = DATA.snapshots ? new SnapshotModel(DATA.snapshots, blockSize) : null;
  const state = {
    source: trace ? 'trace' : 'snapshots',
    position: { trace: trace ? trace.events - 1 : 0, snapshots: snaps ? snaps.list.length - 1 : 0 },
    colourBy: 'site',
    siteFilter: -1,
    flameZoom: 0,
    playing: null,
  };
  const model = () => (state.source === 'trace' ? trace : snaps);
  const lastPosition = () => (state.source === 'trace' ? trace.events - 1 : snaps.list.length - 1);

  // ---- header -----------------------------------------------------------------------
  $('title').textContent = DATA.title;
  {
    const parts = [];
    if (trace) {
      const s = trace.summary;
      parts.push(
        `${plural(trace.events, 'event')} (alloc ${fmtInt(s.alloc)}, free ${fmtInt(s.free)}, ` +
          `sweep ${fmtInt(s.sweep)}, realloc ${fmtInt(s.realloc)}); peak ${fmtInt(s.peak_live_blocks)} ` +
          `blocks after event ${fmtInt(s.peak_event)}; ${fmtInt(s.live_blocks_end)} blocks live at the end; ` +
          `${plural(s.collections, 'collection')}`,
      );
      if (!s.sweeps_logged) parts.push('no sweeps logged: live figures are upper bounds');
      if (trace.heapBlocks === null) {
        parts.push('heap size unknown (give --heap-blocks or a dump): the map ends at the highest block used');
      }
    }
    if (snaps) parts.push(plural(snaps.list.length, 'snapshot'));
    parts.push(`${blockSize}-byte blocks`);
    $('summary').textContent = parts.join(' · ');
  }

  // ---- block map ----------------------------------------------------------------------
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
    if (state.colourBy === 'garbage' && o.garbage[owner]) return [200, 60, 60];
    if (state.colourBy === 'garbage') return [90, 140, 200];
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
    let used = 0;
    const colours = new Map();
    for (let cell = 0; cell < map.cols * map.rows; cell++) {
      let c;
      const b = map.cellBlock[cell];
      const owner = b >= 0 && b < m.owner.length ? m.owner[b] : -1;
      let head = false;
      if (b < 0 || b >= heapEnd) {
        c = OUTSIDE;
      } else if (owner < 0) {
        c = FREE;
      } else {
        used++;
        head = b === 0 || m.owner[b - 1] !== owner;
        const key = state.source === 'trace' && state.colourBy === 'age' ? -1 : owner;
        c = key >= 0 && colours.has(key) ? colours.get(key) : cellColour(owner);
        if (key >= 0 && !colours.has(key)) colours.set(key, c);
        if (
          state.source === 'trace' &&
          state.siteFilter >= 0 &&
          trace.site[owner] !== state.siteFilter
        ) {
          c = [70, 76, 84];
        }
      }
      const k = cell * 4;
      const shade = head ? 1 : 0.78;
      data[k] = c[0] * shade;
      data[k + 1] = c[1] * shade;
      data[k + 2] = c[2] * shade;
      data[k + 3] = 255;
    }
    mapCtx.putImageData(map.image, 0, 0);
    mapCanvas.dataset.renderedBlocks = String(used);
    mapCanvas.dataset.mapBlocks = String(heapEnd);
    api.renderedBlocks = used;
  }
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

  // ---- readouts and scrubber --------------------------------------------------------
  function timelineIndexAtOrBefore(k) {
    const tl = trace.tl;
    return Math.max(0, countAtMost(tl.count, (i) => tl.event[i], k) - 1);
  }
  function updateReadouts() {
    const m = model();
    const pos = state.position[state.source];
    const live = $('live-readout');
    live.dataset.liveBlocks = String(m.live);
    live.textContent = `${fmtInt(m.live)} live blocks (${fmtInt(m.live * blockSize)} bytes)`;
    let free = '';
    let run = '';
    if (state.source === 'trace') {
      $('position').textContent = `after event ${fmtInt(pos)} of ${fmtInt(trace.events)}`;
      if (trace.heapBlocks !== null) {
        const freeBlocks = trace.heapBlocks - m.live;
        free = `${fmtInt(freeBlocks)} free blocks`;
        const i = timelineIndexAtOrBefore(pos);
        if (trace.tl.event[i] === pos) run = `largest free run ${fmtInt(trace.tl.run[i])} blocks`;
      }
    } else {
      const x = snaps.list[pos];
      $('position').textContent = `snapshot ${fmtInt(pos)} of ${fmtInt(snaps.list.length)}: ${x.label}`;
      free = `${fmtInt(x.totalBlocks - m.live)} free blocks`;
      run = `largest free run ${fmtInt(x.largest_free_run)} blocks`;
    }
    $('free-readout').textContent = free;
    $('run-readout').textContent = run;
    api.liveBlocks = m.live;
    api.position = pos;
  }

  let pending = 0;
  function scheduleSlowViews() {
    if (pending) return;
    pending = requestAnimationFrame(() => {
      pending = 0;
      drawLegend();
      drawFlame();
      drawLifespans();
      if (state.source === 'snapshots') drawSnapshotTables();
    });
  }
  function setPosition(k) {
    const p = Math.max(0, Math.min(lastPosition(), Math.round(k)));
    state.position[state.source] = p;
    model().seek(p);
    if (state.source === 'snapshots') layoutMap();
    $('scrubber').value = String(p);
    drawMap();
    updateReadouts();
    drawMemory();
    scheduleSlowViews();
  }
  function setSource(source) {
    stopPlaying();
    state.source = source;
    $('source').value = source;
    const colour = $('colour-by');
    colour.textContent = '';
    const options = source === 'trace'
      ? [['site', 'allocating call site'], ['age', 'age']]
      : [['type', 'type'], ['garbage', 'reachable or garbage']];
    for (const [value, text] of options) colour.append(new Option(text, value));
    state.colourBy = options[0][0];
    $('scrubber').max = String(lastPosition());
    $('flame-section').hidden = source !== 'trace';
    $('lifespans-section').hidden = source !== 'trace';
    $('snapshot-section').hidden = source !== 'snapshots';
    layoutMap();
    model().cur = -1;
    if (source === 'trace') {
      trace.owner.fill(-1);
      trace.sp = 0;
      trace.ep = 0;
      trace.live = 0;
    }
    setPosition(state.position[source]);
  }
  function stopPlaying() {
    if (state.playing) cancelAnimationFrame(state.playing);
    state.playing = null;
    $('play').textContent = 'Play';
  }
  function play() {
    if (state.playing) {
      stopPlaying();
      return;
    }
    if (state.position[state.source] >= lastPosition()) setPosition(0);
    $('play').textContent = 'Pause';
    const step = Math.max(1, Math.round(lastPosition() / 600));
    const tick = () => {
      const next = state.position[state.source] + step;
      setPosition(next);
      if (next >= lastPosition()) stopPlaying();
      else state.playing = requestAnimationFrame(tick);
    };
    state.playing = requestAnimationFrame(tick);
  }

  // ---- tooltip --------------------------------------------------------------------------
  const tooltip = $('tooltip');
  function showTooltip(ev, text) {
    tooltip.textContent = '';
    const lines = text.split('\n');
    const title = document.createElement('b');
    title.textContent = lines[0];
    tooltip.append(title, '\n' + lines.slice(1).join('\n'));
    tooltip.hidden = false;
    const x = Math.min(ev.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    const y = ev.clientY + 14 + tooltip.offsetHeight > window.innerHeight
      ? ev.clientY - tooltip.offsetHeight - 8
      : ev.clientY + 14;
    tooltip.style.left = `${Math.max(0, x)}px`;
    tooltip.style.top = `${Math.max(0, y)}px`;
  }
  function hideTooltip() {
    tooltip.hidden = true;
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
      o.garbage[j] ? 'garbage: no root reaches it' : `held by ${snaps.strings[o.path[j]] || '(path not named)'}`,
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

  // ---- memory over time -----------------------------------------------------------------
  const memCanvas = $('memchart');
  const MEM_COLOURS = { live: [31, 111, 235], free: [46, 160, 67], run: [219, 109, 40] };
  function fitCanvas(canvas) {
    const width = Math.max(300, Math.floor(canvas.parentElement.clientWidth - 24));
    if (canvas.width !== width) canvas.width = width;
    return canvas.getContext('2d');
  }
  // The series shown: x positions (event or snapshot index) and the lines.
  function memorySeries() {
    if (state.source === 'trace') {
      const tl = trace.tl;
      const lines = [{ name: 'live blocks', colour: MEM_COLOURS.live, values: tl.live }];
      if (trace.heapBlocks !== null) {
        lines.push({ name: 'free blocks', colour: MEM_COLOURS.free, values: tl.free });
        lines.push({ name: 'largest free run', colour: MEM_COLOURS.run, values: tl.run });
      }
      return { x: tl.event, count: tl.count, lines, span: Math.max(1, trace.events - 1), marks: tl.collection };
    }
    const n = snaps.list.length;
    const x = new Uint32Array(n);
    const live = new Uint32Array(n);
    const free = new Uint32Array(n);
    const run = new Uint32Array(n);
    snaps.list.forEach((s, i) => {
      x[i] = i;
      live[i] = Math.round(s.totals.used / blockSize);
      free[i] = Math.round(s.totals.free / blockSize);
      run[i] = s.largest_free_run;
    });
    return {
      x,
      count: n,
      span: Math.max(1, n - 1),
      marks: null,
      lines: [
        { name: 'used blocks', colour: MEM_COLOURS.live, values: live },
        { name: 'free blocks', colour: MEM_COLOURS.free, values: free },
        { name: 'largest free run', colour: MEM_COLOURS.run, values: run },
      ],
    };
  }
  let memCache = null;
  function drawMemory() {
    const ctx = fitCanvas(memCanvas);
    const W = memCanvas.width;
    const H = memCanvas.height;
    const pad = { l: 50, r: 10, t: 10, b: 18 };
    if (!memCache || memCache.source !== state.source) memCache = { source: state.source, series: memorySeries() };
    const s = memCache.series;
    let max = 1;
    for (const line of s.lines) for (let i = 0; i < s.count; i++) max = Math.max(max, line.values[i]);
    const px = (x) => pad.l + (x / s.span) * (W - pad.l - pad.r);
    const py = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = getComputedStyle(document.body).color;
    ctx.strokeStyle = 'rgba(128,128,128,.4)';
    ctx.beginPath();
    ctx.moveTo(pad.l, pad.t);
    ctx.lineTo(pad.l, H - pad.b);
    ctx.lineTo(W - pad.r, H - pad.b);
    ctx.stroke();
    ctx.fillText(fmtInt(max), 2, pad.t + 8);
    ctx.fillText('0', 2, H - pad.b);
    if (s.marks) {
      ctx.fillStyle = 'rgba(150,80,200,.8)';
      for (let i = 0; i < s.count; i++) if (s.marks[i]) ctx.fillRect(px(s.x[i]) - 0.5, H - pad.b, 1, 6);
    }
    for (const line of s.lines) {
      ctx.strokeStyle = css(line.colour);
      ctx.lineWidth = 1.25;
      ctx.beginPath();
      for (let i = 0; i < s.count; i++) {
        if (i === 0) ctx.moveTo(px(s.x[i]), py(line.values[i]));
        else ctx.lineTo(px(s.x[i]), py(line.values[i]));
      }
      ctx.stroke();
      if (s.count <= 200) {
        ctx.fillStyle = css(line.colour);
        for (let i = 0; i < s.count; i++) ctx.fillRect(px(s.x[i]) - 1.5, py(line.values[i]) - 1.5, 3, 3);
      }
    }
    if (state.source === 'trace') {
      const sm = trace.summary;
      ctx.fillStyle = 'rgb(220,40,40)';
      ctx.beginPath();
      ctx.arc(px(sm.peak_event), py(sm.peak_live_blocks), 3.5, 0, 2 * Math.PI);
      ctx.fill();
      const label = `peak ${fmtInt(sm.peak_live_blocks)}`;
      const lx = Math.min(px(sm.peak_event) + 5, W - pad.r - ctx.measureText(label).width);
      ctx.fillText(label, lx, Math.max(pad.t + 8, py(sm.peak_live_blocks) - 4));
    }
    const pos = state.position[state.source];
    ctx.strokeStyle = 'rgba(128,128,128,.9)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(px(pos) + 0.5, pad.t);
    ctx.lineTo(px(pos) + 0.5, H - pad.b);
    ctx.stroke();
    memCanvas.dataset.points = String(s.count);
    const keys = $('memory-keys');
    keys.textContent = '';
    for (const line of s.lines) {
      const span = document.createElement('span');
      span.style.color = css(line.colour);
      span.textContent = `■ ${line.name}  `;
      keys.append(span);
    }
    if (s.marks) keys.append('▮ collections  ● peak');
    memCache.px = px;
    memCache.pad = pad;
  }
  memCanvas.addEventListener('click', (ev) => {
    if (!memCache) return;
    const r = memCanvas.getBoundingClientRect();
    const x = ((ev.clientX - r.left) / r.width) * memCanvas.width;
    const s = memCache.series;
    const frac = (x - memCache.pad.l) / (memCanvas.width - memCache.pad.l - memCache.pad.r);
    setPosition(Math.max(0, Math.min(1, frac)) * s.span);
  });

  // ---- allocation lifespans -------------------------------------------------------------
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
    setPosition(((ev.clientX - r.left) / r.width) * trace.events);
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

  // ---- flame graph (icicle: outermost frame on top) -------------------------------------
  const flameCanvas = $('flame');
  let flameLayout = [];
  let children = null;
  function flameChildren() {
    if (children) return children;
    children = Array.from({ length: trace.stackCount }, () => []);
    for (let s = 1; s < trace.stackCount; s++) {
      if (trace.display[s] === s) children[trace.display[trace.stackParent[s]]].push(s);
    }
    const name = (s) => trace.frames[trace.stackFrame[s]].fn;
    for (const c of children) c.sort((x, y) => (name(x) < name(y) ? -1 : name(x) > name(y) ? 1 : x - y));
    return children;
  }
  function flameWeights() {
    const w = new Float64Array(trace.stackCount);
    const live = $('flame-mode').value === 'live';
    for (let i = 0; i < trace.n; i++) {
      if (live && (trace.t0[i] > trace.cur || trace.t1[i] <= trace.cur)) continue;
      w[trace.display[trace.stack[i]]] += trace.size[i];
    }
    // Stacks are interned outermost first, so a caller's id is smaller than its callee's.
    for (let s = trace.stackCount - 1; s > 0; s--) {
      if (trace.display[s] === s && w[s] > 0) w[trace.display[trace.stackParent[s]]] += w[s];
    }
    return w;
  }
  function drawFlame() {
    if (!trace || state.source !== 'trace') return;
    const kids = flameChildren();
    const w = flameWeights();
    const rowH = 17;
    const nodes = [];
    let depth = 0;
    const root = w[state.flameZoom] > 0 ? state.flameZoom : 0;
    const total = w[root];
    const place = (s, x, width, d) => {
      nodes.push({ s, x, width, d, w: w[s] });
      depth = Math.max(depth, d);
      let cx = x;
      for (const c of kids[s]) {
        if (w[c] <= 0) continue;
        const cw = (w[c] / total) * flameCanvas.width;
        if (cw >= 0.5) place(c, cx, cw, d + 1);
        cx += cw;
      }
    };
    const ctx = fitCanvas(flameCanvas);
    if (total > 0) place(root, 0, flameCanvas.width, 0);
    const height = Math.max(40, (depth + 1) * rowH + 2);
    if (flameCanvas.height !== height) flameCanvas.height = height;
    ctx.clearRect(0, 0, flameCanvas.width, flameCanvas.height);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (const n of nodes) {
      const c = n.s === 0 ? [120, 128, 138] : hslToRgb(0.02 + ((trace.stackFrame[n.s] * 0.37) % 1) * 0.12, 0.75, 0.6);
      ctx.fillStyle = css(c);
      ctx.fillRect(n.x, n.d * rowH, Math.max(0.5, n.width - 1), rowH - 1);
      if (n.width > 40) {
        const label = n.s === 0 ? `all (${fmtInt(n.w)} blocks)` : trace.frames[trace.stackFrame[n.s]].fn;
        ctx.fillStyle = '#111';
        ctx.save();
        ctx.beginPath();
        ctx.rect(n.x, n.d * rowH, n.width - 3, rowH);
        ctx.clip();
        ctx.fillText(label, n.x + 3, n.d * rowH + rowH / 2);
        ctx.restore();
      }
    }
    if (total === 0) {
      ctx.fillStyle = getComputedStyle(document.body).color;
      ctx.fillText('no live blocks at this time', 6, 20);
    }
    flameLayout = nodes;
    flameCanvas.dataset.total = String(total);
  }
  function flameNodeAt(ev) {
    const r = flameCanvas.getBoundingClientRect();
    const x = ((ev.clientX - r.left) / r.width) * flameCanvas.width;
    const d = Math.floor(((ev.clientY - r.top) / r.height) * flameCanvas.height / 17);
    return flameLayout.find((n) => n.d === d && n.x <= x && x < n.x + n.width);
  }
  flameCanvas.addEventListener('mousemove', (ev) => {
    const n = flameNodeAt(ev);
    if (!n) return hideTooltip();
    const total = flameLayout.length ? flameLayout[0].w : 1;
    const f = n.s === 0 ? { fn: 'all', loc: '' } : trace.frames[trace.stackFrame[n.s]];
    showTooltip(ev, `${f.fn}\n${f.loc}\n${plural(n.w, 'block')} (${((100 * n.w) / total).toFixed(1)}%)`);
    return undefined;
  });
  flameCanvas.addEventListener('mouseleave', hideTooltip);
  flameCanvas.addEventListener('click', (ev) => {
    const n = flameNodeAt(ev);
    if (!n) return;
    state.flameZoom = n.d === 0 && n.s !== 0 ? trace.display[trace.stackParent[n.s]] : n.s;
    drawFlame();
  });
  $('flame-mode').addEventListener('change', drawFlame);

  // ---- snapshot tables -------------------------------------------------------------------
  function fillTable(id, rows) {
    const body = $(id).tBodies[0];
    body.textContent = '';
    for (const row of rows) {
      const tr = document.createElement('tr');
      for (const [text, cls] of row) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      body.append(tr);
    }
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
        .map(([t, c]) => [[snaps.strings[t]], [fmtInt(c.count), 'n'], [fmtInt(c.blocks), 'n'], [fmtInt(c.blocks * blockSize), 'n']]),
    );
    const order = Array.from({ length: o.count }, (_, j) => j).filter((j) => !o.garbage[j]);
    order.sort((a, b) => o.retained[b] - o.retained[a] || o.block[a] - o.block[b]);
    fillTable(
      'retainers',
      order.slice(0, 10).map((j) => [
        [fmtInt(o.retained[j]), 'n'],
        [fmtInt(o.blocks[j] * blockSize), 'n'],
        [`${snaps.address(i, o.block[j])} ${snaps.strings[o.type[j]]}`],
        [snaps.strings[o.path[j]], 'path'],
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

  // ---- controls ---------------------------------------------------------------------------
  const sourceSelect = $('source');
  if (trace) sourceSelect.append(new Option('trace events', 'trace'));
  if (snaps) sourceSelect.append(new Option('heap snapshots', 'snapshots'));
  sourceSelect.hidden = sourceSelect.options.length < 2;
  sourceSelect.addEventListener('change', () => setSource(sourceSelect.value));
  $('scrubber').addEventListener('input', (ev) => setPosition(Number(ev.target.value)));
  $('play').addEventListener('click', play);
  $('colour-by').addEventListener('change', (ev) => {
    state.colourBy = ev.target.value;
    drawMap();
    drawLegend();
  });
  if (trace) {
    const filter = $('site-filter');
    filter.append(new Option('all call sites', '-1'));
    const blocks = new Float64Array(trace.siteFrames.length);
    for (let i = 0; i < trace.n; i++) blocks[trace.site[i]] += trace.size[i];
    [...blocks.keys()]
      .sort((x, y) => blocks[y] - blocks[x])
      .forEach((site) => filter.append(new Option(`${trace.siteName(site)} (${fmtInt(blocks[site])} blocks allocated)`, String(site))));
    filter.addEventListener('change', () => {
      state.siteFilter = Number(filter.value);
      drawMap();
      drawLifespans();
    });
  }
  window.addEventListener('resize', () => {
    layoutMap();
    drawMap();
    drawMemory();
    scheduleSlowViews();
  });

  // ---- test and automation hooks -----------------------------------------------------
  const api = {
    ready: false,
    renderedBlocks: 0,
    liveBlocks: 0,
    position: 0,
    setPosition: (k) => setPosition(k),
    setSource: (s) => setSource(s),
    source: () => state.source,
    blockInfo: (b) => blockInfo(b),
    // Page coordinates of the centre of block b's cell (for hovering it).
    cellCentre: (b) => {
      const r = mapCanvas.getBoundingClientRect();
      const col = map.blockCell[b] % map.cols;
      const row = Math.floor(map.blockCell[b] / map.cols);
      return {
        x: r.left + ((col + 0.5) / map.cols) * r.width,
        y: r.top + ((row + 0.5) / map.rows) * r.height,
      };
    },
    // The first block of a live allocation/object now, or -1.
    firstUsedBlock: () => model().owner.findIndex((o) => o >= 0),
    renderMs: 0,
    readyAt: 0,
  };
  window.mpheapReport = api;

  setSource(state.source);
  drawLegend();
  drawFlame();
  drawLifespans();
  if (state.source === 'snapshots') drawSnapshotTables();
  api.renderMs = performance.now() - startedAt;
  api.readyAt = performance.now(); // since the navigation started: parse, decode, first drawing
  api.ready = true;
  document.body.dataset.ready = 'true';
})();
