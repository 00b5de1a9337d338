// The readouts above the block map: position, live, free blocks and the largest free run.
'use strict';

mpheap.readouts = function readouts(page) {
  const { $, fmtInt, countAtMost } = mpheap.util;
  const { trace, snaps, state, blockSize, model, api } = page;
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

  return { update: updateReadouts };
};
