// The memory chart's series for a source and an x axis: per point the position it stands for
// (event or snapshot), its x value, and used, free and largest-free-run bytes. Trace x axes:
// events, or GC collections (each collection one step at its number, the events between two
// spread over the unit between them); snapshots: capture time in ms where every snapshot has one,
// or the snapshot's number. A zoomed trace chart takes its events from the allocations instead.
'use strict';

mpheap.memorySeries = (() => {
  const { MEM_COLOURS } = mpheap.colours;
  const { countAtMost } = mpheap.util;
  const bytesOf = (blocks, blockSize) => Float64Array.from(blocks, (b) => b * blockSize);

  // x axes offered for the source: [value, text] each, the first the default.
  function axes(page, source) {
    if (source === 'trace') return [['events', 'events'], ['collections', 'GC collections']];
    const timed = page.snaps.list.every((s) => typeof s.time_ms === 'number');
    return timed ? [['time', 'capture time'], ['snapshots', 'snapshot number']] : [['snapshots', 'snapshot number']];
  }

  // The collection each timeline point belongs to or follows: runs of consecutive points marked
  // as sweeps are collections 1, 2, ...; `inSweep` says whether the point is one of them.
  function collectionsOf(tl) {
    const index = new Uint32Array(tl.count);
    let k = 0;
    for (let i = 0; i < tl.count; i++) {
      if (tl.collection[i] && (i === 0 || !tl.collection[i - 1])) k++;
      index[i] = k;
    }
    return { index, count: k };
  }

  // Collections as x: a sweep's points at its number k, the points after it and before the next
  // spread over (k, k + 1) by event.
  function collectionX(tl, coll) {
    const x = new Float64Array(tl.count);
    let i = 0;
    while (i < tl.count) {
      let j = i;
      while (j < tl.count && !!tl.collection[j] === !!tl.collection[i]) j++;
      const k = coll.index[i];
      if (tl.collection[i]) {
        x.fill(k, i, j);
      } else {
        // From the event the stretch starts after (the sweep's last, or the trace's first)
        // to the next sweep's first event (or the trace's last, which then ends at k + 1).
        const from = i > 0 ? tl.event[i - 1] : tl.event[0];
        const to = j < tl.count ? tl.event[j] : tl.event[tl.count - 1];
        for (let p = i; p < j; p++) x[p] = k + (to > from ? (tl.event[p] - from) / (to - from) : 0);
      }
      i = j;
    }
    return x;
  }

  function traceSeries(page, mode) {
    const { trace, blockSize } = page;
    const tl = trace.tl;
    const coll = collectionsOf(tl);
    const lines = [{ key: 'live', name: 'live', colour: MEM_COLOURS.live, values: bytesOf(tl.live, blockSize) }];
    if (trace.heapBlocks !== null) {
      lines.push({ key: 'free', name: 'free', colour: MEM_COLOURS.free, values: bytesOf(tl.free, blockSize) });
      lines.push({ key: 'run', name: 'largest free run', colour: MEM_COLOURS.run, values: bytesOf(tl.run, blockSize) });
    }
    const byCollection = mode === 'collections';
    const x = byCollection ? collectionX(tl, coll) : Float64Array.from(tl.event);
    const merged = trace.summary.collections - coll.count;
    return {
      count: tl.count, position: tl.event, x, lines, marks: byCollection ? null : tl.collection,
      xMin: x[0], xMax: Math.max(x[tl.count - 1], x[0] + 1), integerX: true,
      xTitle: byCollection
        ? `GC collections (${coll.count} of them; each one step, the events between two spread evenly)` +
          (merged > 0 ? `; ${merged} more merged into these by the chart's decimation` : '')
        : `events (${trace.events.toLocaleString('en-US')} in the trace)${tl.decimated ? ', decimated' : ''}`,
      heading(i) {
        const at = `after event ${tl.event[i].toLocaleString('en-US')}`;
        const k = coll.index[i];
        if (tl.collection[i]) return `${at}, sweep of collection ${k}`;
        return k === 0 ? `${at}, before the first collection` : `${at}, after collection ${k}`;
      },
    };
  }

  // A trace's events [from, to] in detail (a zoomed chart), from the allocations rather than the
  // decimated timeline: every event while there are at most two per pixel column, else each
  // column's lowest and highest live blocks at their events, so peaks and troughs survive. The
  // largest free run is only known at the timeline's points, so it is not drawn zoomed.
  function zoomedTraceSeries(page, from, to, columns) {
    const { trace, blockSize } = page;
    const { live, sweep } = trace.byEvent();
    const events = [];
    const perEvent = to - from + 1 <= 2 * Math.max(1, columns);
    const width = perEvent ? 1 : Math.ceil((to - from + 1) / columns);
    for (let a = from; a <= to; a += width) {
      const b = Math.min(to, a + width - 1);
      if (perEvent) {
        events.push(a);
        continue;
      }
      let lo = a;
      let hi = a;
      let swept = -1;
      for (let k = a; k <= b; k++) {
        if (live[k] < live[lo]) lo = k;
        if (live[k] > live[hi]) hi = k;
        if (sweep[k] && swept < 0) swept = k;
      }
      const picked = new Set([a, lo, hi, b]);
      if (swept >= 0) picked.add(swept);
      events.push(...[...picked].sort((x, y) => x - y));
    }
    const position = Float64Array.from(events);
    const lines = [{ key: 'live', name: 'live', colour: MEM_COLOURS.live, values: Float64Array.from(events, (k) => live[k] * blockSize) }];
    if (trace.heapBlocks !== null) {
      lines.push({ key: 'free', name: 'free', colour: MEM_COLOURS.free, values: Float64Array.from(events, (k) => (trace.heapBlocks - live[k]) * blockSize) });
    }
    return {
      count: events.length, position, x: position, lines, marks: Uint8Array.from(events, (k) => sweep[k]),
      xMin: from, xMax: Math.max(to, from + 1), integerX: true, zoomed: true,
      xTitle: `events ${from.toLocaleString('en-US')} to ${to.toLocaleString('en-US')} of ` +
        `${trace.events.toLocaleString('en-US')} (zoomed: ${perEvent ? 'every event' : 'lowest and highest per pixel'}; ` +
        'double-click for the whole trace)',
      heading: (i) => `after event ${events[i].toLocaleString('en-US')}${sweep[events[i]] ? ', a sweep' : ''}`,
    };
  }

  function snapshotSeries(page, mode) {
    const { snaps, blockSize } = page;
    const n = snaps.list.length;
    const pick = (f) => Float64Array.from(snaps.list, f);
    const byTime = mode === 'time';
    const x = byTime ? pick((s) => s.time_ms) : pick((s, i) => i);
    return {
      count: n, position: pick((s, i) => i), x, marks: null,
      xMin: x[0], xMax: Math.max(x[n - 1], x[0] + 1), integerX: !byTime,
      xTitle: byTime ? 'capture time (ms since the capture started)' : 'snapshot number',
      lines: [
        { key: 'live', name: 'used', colour: MEM_COLOURS.live, values: pick((s) => s.totals.used) },
        { key: 'free', name: 'free', colour: MEM_COLOURS.free, values: pick((s) => s.totals.free) },
        { key: 'run', name: 'largest free run', colour: MEM_COLOURS.run, values: pick((s) => s.largest_free_run * blockSize) },
      ],
      heading: (i) => `snapshot ${i}: ${snaps.list[i].label}`,
    };
  }

  // The series, with lookups between positions, x values and points. `zoom` ({from, to} events,
  // trace and events only) or null.
  function build(page, source, mode, zoom = null, columns = 0) {
    const s = zoom ? zoomedTraceSeries(page, zoom.from, zoom.to, columns)
      : source === 'trace' ? traceSeries(page, mode) : snapshotSeries(page, mode);
    // The last point at or before position p, and p's x (interpolated between points).
    s.pointAt = (p) => Math.max(0, countAtMost(s.count, (i) => s.position[i], p) - 1);
    s.xOf = (p) => {
      const i = s.pointAt(p);
      if (i + 1 >= s.count || s.position[i + 1] === s.position[i]) return s.x[i];
      return s.x[i] + ((p - s.position[i]) / (s.position[i + 1] - s.position[i])) * (s.x[i + 1] - s.x[i]);
    };
    // The position at x value v: interpolated for a trace, the nearest snapshot otherwise.
    s.positionAt = (v) => {
      const i = Math.max(0, countAtMost(s.count, (j) => s.x[j], v) - 1);
      if (i + 1 >= s.count || s.x[i + 1] === s.x[i]) return s.position[i];
      const f = (v - s.x[i]) / (s.x[i + 1] - s.x[i]);
      if (source !== 'trace') return s.position[f < 0.5 ? i : i + 1];
      return s.position[i] + f * (s.position[i + 1] - s.position[i]);
    };
    return s;
  }

  return { axes, build, collectionsOf };
})();
