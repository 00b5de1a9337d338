// The controls: what the scrubber moves over (trace or snapshots), the scrubber, play, colour
// by, the call-site filter; and redrawing on resize. Needs the views and the scrubber on `page`.
'use strict';

mpheap.controls = function controls(page) {
  const { $, fmtInt } = mpheap.util;
  const { trace, snaps, state } = page;
  const { setSource, setPosition, play, scheduleSlowViews } = page.scrubber;
  const sourceSelect = $('source');
  if (trace) sourceSelect.append(new Option('trace events', 'trace'));
  if (snaps) sourceSelect.append(new Option('heap snapshots', 'snapshots'));
  sourceSelect.hidden = sourceSelect.options.length < 2;
  sourceSelect.addEventListener('change', () => setSource(sourceSelect.value));
  $('scrubber').addEventListener('input', (ev) => setPosition(Number(ev.target.value)));
  $('play').addEventListener('click', play);
  $('colour-by').addEventListener('change', (ev) => {
    state.colourBy = ev.target.value;
    page.map.draw();
    page.legend.draw();
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
      page.map.draw();
      page.lifespans.draw();
    });
  }
  window.addEventListener('resize', () => {
    page.map.layout();
    page.map.draw();
    page.memory.draw();
    scheduleSlowViews();
  });
};
