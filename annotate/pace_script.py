"""The page's pace count, appended to the page script by annotate.assets: the seconds this tab was visible with a
key or pointer event in the last 60 s, for the item on screen (``window.prefloopActiveSeconds``). The submit sends it
along (`SENT_PACE`, in the submit event's `js`), and the label stores it as ``active_seconds``.

The last input's time outlives a page load of the same tab (``sessionStorage``): signing in reloads the page, so
the keys that signed in were on the page before, and a keyboard-only labeller's first item counted only from its
first key (reading it, nothing). A clock set back past the last input counts nothing until the next input.

A pick resent by a page reloaded after a restart sends the pace of its first send, kept with it in the browser
(``window.prefloopPace``, annotate.restore_script): that send's active seconds (this page's count started at the
reload) and the seconds since it, which the server takes off its time since the hand-out (the label's ``seconds``:
the outage is not the labeller's time).
"""

# What a submit or an edit's save sends of the page's pace, in its `js`: [active seconds, seconds since the first
# send of a pick resent from another page, else null]
SENT_PACE = "...(window.prefloopPace ? window.prefloopPace() : [null, null])"

PACE_SCRIPT = """
(() => {
  "use strict";
  // Active time in tenths of a second (whole-second ticks read a 1.1 s label as 1.0 and blurred the 3 s flag):
  // at each tick, and when read, the time since the last tick counts while the tab is visible and there was input
  // (a browser may hold timers to one a second: the read adds what has passed since).
  const IDLE_MS = 60000, TICK_MS = 250, LAST_INPUT = "prefloop-last-input";
  const kept = () => { try { return Number(sessionStorage.getItem(LAST_INPUT)) || 0; } catch { return 0; } };
  let item = null, active = 0, lastInput = kept(), lastTick = performance.now();
  if (lastInput > Date.now()) lastInput = 0;  // a time still to come (a clock set back) would count past 60 s
  const mark = () => { lastInput = Date.now(); };
  for (const name of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "scroll"]) {
    document.addEventListener(name, mark, {passive: true, capture: true});
  }
  // kept as the page goes (sign-in's reload, Log out): the next page of this tab counts from that input
  window.addEventListener("pagehide", () => {
    try { sessionStorage.setItem(LAST_INPUT, String(lastInput)); } catch {}
  });
  // The last input is a wall-clock time (it outlives the page): a clock set back past it reads a negative age,
  // which counted until the clock came back to 60 s after it (an hour set back, an hour more). Nothing counts then
  // until the next input.
  const counting = () => {
    const since = Date.now() - lastInput;
    return item && document.visibilityState === "visible" && since >= 0 && since < IDLE_MS;
  };
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
