// The scrubber and playback: moving to an event or snapshot redraws the fast views at once and
// the slow ones (legend, flame graph, lifespans, snapshot tables) on the next animation frame.
'use strict';

mpheap.scrubber = function scrubber(page) {
  const { $ } = mpheap.util;
  const { trace, state, model, lastPosition } = page;
  // The views it redraws are looked up on `page` when called.
  let pending = 0;
  function scheduleSlowViews() {
    if (pending) return;
    pending = requestAnimationFrame(() => {
      pending = 0;
      page.legend.draw();
      page.flame.draw();
      page.lifespans.draw();
      if (state.source === 'snapshots') page.tables.draw();
    });
  }
  function setPosition(k) {
    const p = Math.max(0, Math.min(lastPosition(), Math.round(k)));
    state.position[state.source] = p;
    model().seek(p);
    if (state.source === 'snapshots') page.map.layout();
    $('scrubber').value = String(p);
    page.map.draw();
    page.readouts.update();
    page.memory.draw();
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
    page.map.layout();
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

  return { setPosition, setSource, play, scheduleSlowViews };
};
