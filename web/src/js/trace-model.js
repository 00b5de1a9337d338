// The trace: allocations, stacks and call sites decoded from the data, and the heap's state
// replayed to any event (which allocation owns each block, live blocks).
'use strict';

mpheap.TraceModel = (() => {
  const { bytes, u32, varints, unzigzag } = mpheap.decode;
  // An allocation's `life` value is (end_time - start_time) * END_CODES + how it ended: 0 freed,
  // 1 swept, 2 reallocated, 3 unlogged, 4 live at the end.
  const END_CODES = 8;
  const { countAtMost } = mpheap.util;

  function TraceModel(t) {
    const m = this;
    m.events = t.events;
    m.summary = t.summary;
    m.heapBlocks = t.heap_blocks;
    m.mapBlocks = Math.max(1, t.map_blocks);
    const a = t.alloc;
    m.n = a.count;
    // Varint columns (docs/report.md): start times as deltas, lifetimes with how each ended,
    // start blocks as zigzag deltas.
    const dt = varints(a.start_time, m.n);
    const life = varints(a.life, m.n);
    const dblock = varints(a.start_block, m.n);
    m.start = new Uint32Array(m.n);
    m.size = Uint32Array.from(varints(a.size, m.n));
    m.t0 = new Uint32Array(m.n);
    m.t1 = new Uint32Array(m.n);
    m.stack = Uint32Array.from(varints(a.stack, m.n));
    m.end = new Uint8Array(m.n);
    for (let i = 0, time = 0, block = 0; i < m.n; i++) {
      time += dt[i];
      block += unzigzag(dblock[i]);
      m.t0[i] = time;
      m.start[i] = block;
      m.t1[i] = time + Math.floor(life[i] / END_CODES);
      m.end[i] = life[i] % END_CODES;
    }
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
    // Ended allocations in end order, ties in start order (live ones end at `events`, never
    // reached): a counting sort, linear in allocations and events.
    const first = new Uint32Array(m.events + 1);
    let ended = 0;
    for (let i = 0; i < m.n; i++) {
      if (m.t1[i] < m.events) {
        first[m.t1[i] + 1]++;
        ended++;
      }
    }
    for (let k = 1; k <= m.events; k++) first[k] += first[k - 1];
    m.endOrder = new Uint32Array(ended);
    for (let i = 0; i < m.n; i++) if (m.t1[i] < m.events) m.endOrder[first[m.t1[i]]++] = i;
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
  // Live blocks after every event, and which events are sweeps (an allocation ended by a sweep
  // ends at one), from the allocation columns: linear, made on the first zoom of the memory
  // chart and kept.
  TraceModel.prototype.byEvent = function byEvent() {
    const m = this;
    if (m.perEvent) return m.perEvent;
    const live = new Float64Array(Math.max(1, m.events));
    const sweep = new Uint8Array(Math.max(1, m.events));
    for (let i = 0; i < m.n; i++) {
      live[m.t0[i]] += m.size[i];
      if (m.t1[i] < m.events) live[m.t1[i]] -= m.size[i];
      if (m.end[i] === 1) sweep[m.t1[i]] = 1;
    }
    for (let k = 1; k < m.events; k++) live[k] += live[k - 1];
    m.perEvent = { live, sweep };
    return m.perEvent;
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

  return TraceModel;
})();
