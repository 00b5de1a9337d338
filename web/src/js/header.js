// The page's header: the title and a one-line summary of the trace and the snapshots.
'use strict';

mpheap.header = function header(page, title) {
  const { $, fmtInt, plural } = mpheap.util;
  const { trace, snaps, blockSize } = page;
  $('title').textContent = title;
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
};
