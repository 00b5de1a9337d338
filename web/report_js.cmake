# The report page's script, in the order web/embed.cmake concatenates it into kReportJs (paths
# relative to web/src). Included by embed.cmake and by src/mpheap/report/CMakeLists.txt (for the
# build's dependencies), so this list is the only place to add a module.
#
# Each file is a plain browser script whose only top-level statement (after 'use strict') puts
# one thing on the namespace object `mpheap`: embed.cmake wraps them all in one function that
# declares `const mpheap = {}`, so nothing reaches the page's global scope except what report.js
# sets (window.mpheapReport). A file may use, when it is loaded, only what the files before it
# put on `mpheap`; report.js comes last and wires the views together.
set(MPHEAP_REPORT_JS
  js/util.js             # $, number formatting, binary search, canvas sizing
  js/colours.js          # block map and chart colours, palette
  js/decode.js           # the embedded JSON and its base64 typed-array columns
  js/trace-model.js      # TraceModel: allocations, stacks, sites, replay to any event
  js/snapshot-model.js   # SnapshotModel: objects per snapshot, owners, addresses
  js/tooltip.js          # the shared tooltip
  js/block-map.js        # the block map canvas, its hover text
  js/legend.js           # the block map's legend
  js/readouts.js         # position, live, free, largest free run
  js/chart-axes.js       # axis ticks, byte units, drawing axes
  js/memory-series.js    # memory over time: the series per x axis (events, collections, time)
  js/memory-chart.js     # memory over time: drawing, hover, click
  js/lifespans.js        # allocation lifespans timeline
  js/flame-graph.js      # flame graph (icicle)
  js/snapshot-tables.js  # census, retainers, free-run histogram
  js/scrubber.js         # setPosition, setSource, playback
  js/header.js           # title and summary line
  js/controls.js         # selects, buttons, resize
  report.js              # main: data, state, the page object, first drawing
)
