// The tooltip shared by the block map, the lifespans and the flame graph: first line bold,
// placed next to the pointer and kept inside the window.
'use strict';

mpheap.tooltip = function tooltipView(tooltip) {
  function show(ev, text) {
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
  function hide() {
    tooltip.hidden = true;
  }
  return { show, hide };
};
