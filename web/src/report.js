// mpheap report: draws the data `mpheap report` embedded in this page (schema: docs/report.md).
// No dependencies; canvas for everything drawn per block or per allocation. This file runs last:
// the modules in web/src/js (order: web/report_js.cmake) have put their pieces on `mpheap`, and
// it wires them together on one `page` object that every view reads its state and the others
// from.
'use strict';

(function main() {
  const startedAt = performance.now();
  const DATA = mpheap.decode.pageData();

  // ---- state --------------------------------------------------------------------------
  const blockSize = DATA.block_size;
  const trace = DATA.trace ? new mpheap.TraceModel(DATA.trace) : null;
  const snaps = DATA.snapshots ? new mpheap.SnapshotModel(DATA.snapshots, blockSize) : null;
  const state = {
    source: trace ? 'trace' : 'snapshots',
    position: { trace: trace ? trace.events - 1 : 0, snapshots: snaps ? snaps.list.length - 1 : 0 },
    colourBy: 'site',
    siteFilter: -1,
    flameZoom: 0,
    playing: null,
  };
  const page = {
    blockSize,
    trace,
    snaps,
    state,
    model: () => (state.source === 'trace' ? trace : snaps),
    lastPosition: () => (state.source === 'trace' ? trace.events - 1 : snaps.list.length - 1),
    // ---- test and automation hooks (window.mpheapReport; docs/report.md) ----------------
    api: {
      ready: false,
      renderedBlocks: 0,
      liveBlocks: 0,
      position: 0,
      setPosition: (k) => page.scrubber.setPosition(k),
      setSource: (s) => page.scrubber.setSource(s),
      source: () => state.source,
      blockInfo: (b) => page.map.blockInfo(b),
      // Page coordinates of the centre of block b's cell (for hovering it).
      cellCentre: (b) => page.map.cellCentre(b),
      // Block b's cell on the block map's canvas: { col, row } (one canvas pixel per cell).
      cellOf: (b) => page.map.cellOf(b),
      // The memory chart's plot box, ticks and point positions (memory-chart.js).
      memoryChart: () => page.memory.geometry(),
      // Zooms the memory chart to events [from, to] (as the wheel does); returns the zoom or null.
      zoomMemoryChart: (from, to) => page.memory.setZoom(from, to),
      // The first block of a live allocation/object now, or -1.
      firstUsedBlock: () => page.model().owner.findIndex((o) => o >= 0),
      // The lifespans view: 'rects' (one fillRect per allocation) or 'raster' (past the detail
      // limit); setting the limit redraws and returns the mode; allocation i's bar in pixels
      // (lifespans.js).
      lifespansMode: () => page.lifespans.mode(),
      setLifespanDetailLimit: (n) => page.lifespans.setDetailLimit(n),
      lifespanBar: (i) => page.lifespans.bar(i),
      allocationCount: () => (trace ? trace.n : 0),
      renderMs: 0,
      readyAt: 0,
    },
  };

  // ---- views: each may use the ones before it when created, any of them when called ------
  mpheap.header(page, DATA.title);
  page.tooltip = mpheap.tooltip(document.getElementById('tooltip'));
  page.map = mpheap.blockMap(page);
  page.legend = mpheap.legend(page);
  page.readouts = mpheap.readouts(page);
  page.memory = mpheap.memoryChart(page);
  page.lifespans = mpheap.lifespans(page);
  page.flame = mpheap.flameGraph(page);
  page.tables = mpheap.snapshotTables(page);
  page.scrubber = mpheap.scrubber(page);
  mpheap.controls(page);

  const api = page.api;
  window.mpheapReport = api;

  page.scrubber.setSource(state.source);
  page.legend.draw();
  page.flame.draw();
  page.lifespans.draw();
  if (state.source === 'snapshots') page.tables.draw();
  api.renderMs = performance.now() - startedAt;
  api.readyAt = performance.now(); // since the navigation started: parse, decode, first drawing
  api.ready = true;
  document.body.dataset.ready = 'true';
})();
