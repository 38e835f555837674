"""The page's pace count, appended to the page script by annotate.assets: the seconds this tab was visible with a
key or pointer event in the last 60 s, for the item on screen. The submit sends it along (annotate.app reads
``window.prefloopActiveSeconds`` in the submit event's `js`), and the label stores it as ``active_seconds``.
"""

PACE_SCRIPT = """
(() => {
  "use strict";
  // Active time in tenths of a second (whole-second ticks read a 1.1 s label as 1.0 and blurred the 3 s flag):
  // at each tick, and when read, the time since the last tick counts while the tab is visible and there was input
  // (a browser may hold timers to one a second: the read adds what has passed since).
  const IDLE_MS = 60000, TICK_MS = 250;
  let item = null, active = 0, lastInput = 0, lastTick = performance.now();
  const mark = () => { lastInput = Date.now(); };
  for (const name of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "scroll"]) {
    document.addEventListener(name, mark, {passive: true, capture: true});
  }
  const counting = () => item && document.visibilityState === "visible" && Date.now() - lastInput < IDLE_MS;
  const tick = () => {
    const at = performance.now(), step = at - lastTick;
    lastTick = at;
    const now = document.querySelector("#pf-prompt [data-view]")?.dataset.item || null;
    if (now !== item) { item = now; active = 0; return; }
    if (counting()) active += step;
  };
  setInterval(tick, TICK_MS);
  window.prefloopActiveSeconds = () => { tick(); return Math.round(active / 100) / 10; };
})();
"""
