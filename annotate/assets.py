"""Static parts of the app: the page script, the key tables and the default guidelines (the stylesheet:
`annotate.stylesheet`).

Gradio has no hotkeys, so a small script (served as ``/prefloop/app.js`` by annotate.web, so the CSP needs no
inline script of ours) maps keys to clicks on the app's own buttons and radio options (by element id). Keys never
fire while a text field has focus: Esc leaves the note, Ctrl+Enter submits from it, and key repeats are ignored so
that a held key cannot label several items; with no item on screen ("All done") only undo and g act, the stylesheet
hiding the rest. Keys pressed while a submit is on its way are queued and applied once
the answer is drawn in full (or, with no answer, dropped with a visible message). The script also keeps the
labeller's pick in ``localStorage`` across a lost connection (annotate.restore_script; for that labeller only) and
forgets it on Log out, shows why a sign-in was throttled (and keeps the name after a wrong password), and says so when the
tab has been signed out.
"""

from __future__ import annotations

import json

from annotate.edit_script import EDIT_SCRIPT
from annotate.pace_script import PACE_SCRIPT
from annotate.rank_view import RANK_GUIDELINES, RANK_SCRIPT
from annotate.rate_view import RATE_GUIDELINES, RATE_SCRIPT
from annotate.restore_script import RESTORE_SCRIPT

PAIRWISE_KEYS = [
    ("a", "left (A) is better"),
    ("b", "right (B) is better"),
    ("t", "tie"),
    ("x", "both bad"),
    ("1 – 4", "strength: significantly / better / slightly / negligibly or unsure"),
    ("Enter", "submit"),
    ("s", "skip"),
    ("u  or  Ctrl+Z", "undo my last label"),
    ("n", "write a note (Esc leaves it, Ctrl+Enter submits)"),
    ("c", "show / hide a conversation's earlier turns"),
    ("g", "show / hide guidelines"),
]
KTO_KEYS = [
    ("d", "desirable"),
    ("x", "undesirable"),
    ("Enter", "submit"),
    ("s", "skip"),
    ("u  or  Ctrl+Z", "undo my last label"),
    ("n", "write a note (Esc leaves it, Ctrl+Enter submits)"),
    ("c", "show / hide a conversation's earlier turns"),
    ("g", "show / hide guidelines"),
]

# key -> [radio group element id, option index]; the same option order as the radios in annotate.tasks.
KEYMAP = {
    "pairwise": {
        "a": ["pf-choice", 0],
        "b": ["pf-choice", 1],
        "t": ["pf-choice", 2],
        "x": ["pf-choice", 3],
        "1": ["pf-strength", 0],
        "2": ["pf-strength", 1],
        "3": ["pf-strength", 2],
        "4": ["pf-strength", 3],
    },
    "kto": {"d": ["pf-choice", 0], "x": ["pf-choice", 1]},
    "rank": {},  # the answers' numbers, = and Backspace: rankKey (annotate.rank_view)
    "rate": {},  # digits, Tab and the arrows go to the rubric panel (annotate.rate_view.RATE_SCRIPT)
}
RATE_PANEL_KEYS = [*"0123456789", "tab", "arrowup", "arrowdown", "arrowleft", "arrowright"]

SCRIPT_TEMPLATE = """
(() => {
  "use strict";
  const KEYMAP = __KEYMAP__, RATE_KEYS = __RATE_KEYS__;
  const BUTTONS = {"enter": "pf-submit", "s": "pf-skip", "u": "pf-undo"};
  // what a key does with no item on screen ("All done": annotate.render.NO_ITEM_KEYS): undo (u, Ctrl+Z), guidelines
  const ITEM_FREE = ["u", "g"];
  const PENDING = "prefloop-pending", QUEUE_LIMIT = 16, ANSWER_MS = 15000, DRAW_MS = 2000;
  // inflight: when a submit, skip, undo or save was sent, 0 once its answer is drawn (`prefloopDrawn`) or given
  // up on (ANSWER_MS); drawing: the wait for an answer to be drawn in full (`whenDrawn`); answering: such an
  // action sent, and Gradio not yet done with its answer; viewAt: when a view was last drawn. The kept pick's
  // state: annotate.restore_script. editorOn: the item the editor was opened on (its button pressed: `e`, a restore).
  let inflight = 0, lastView = null, queued = [], drawing = 0, answering = false, viewAt = 0, editorOn = null;

  const $ = (selector) => document.querySelector(selector);
  const taskOf = () => $("#pf-rate") ? "rate" : $(".pf-task-kto") ? "kto" : $(".pf-task-rank") ? "rank" : "pairwise";
  const rankBox = () => $("#pf-choice.pf-task-rank textarea, #pf-choice.pf-task-rank input");
  const editBox = () => $("#pf-edit textarea");  // edit to gold (annotate.edit_view): null where it is closed
  const editing = () => editBox()?.offsetParent ? editBox() : null;
  const typing = (el) => el && (el.isContentEditable || el.tagName === "TEXTAREA" ||
    (el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type)));
  const press = (id) => { const el = document.getElementById(id); if (el && !el.disabled) el.click(); };
  const radios = (group) => [...document.querySelectorAll(`#${group} input[type=radio]`)];
  const pick = (group, index) => { const input = radios(group)[index]; if (input && !input.checked) input.click(); };
  // Gradio's radios share no name: the one picked before stays checked until Gradio draws the group again, so
  // the one just picked (`changed`) is the group's pick (else a changed pick was kept as the earlier one).
  const checkedIn = (group, changed) => {
    const all = radios(group);
    return changed?.checked && all.includes(changed) ? all.indexOf(changed) : all.findIndex((i) => i.checked);
  };
  const shown = () => $("#pf-prompt [data-view]");
  // A kept pick is of the item, of the labeller it was drawn for (`data-labeller`: another one signing in to this
  // browser after a time-out must not be handed it) and (rank) of the answers it numbered (`data-answers`).
  const keyOf = (view) => [view?.dataset.item, view?.dataset.labeller, view?.dataset.answers].map((k) => k || "")
    .join(" ");
  const load = () => { try { return JSON.parse(localStorage.getItem(PENDING)); } catch { return null; } };
  const save = (p) => p ? localStorage.setItem(PENDING, JSON.stringify(p)) : localStorage.removeItem(PENDING);

  // A visible line for what the page itself decides (queued keys, throttled sign-in); text only, never HTML.
  const say = (text) => {
    let el = $("#pf-js-note");
    if (!el) {
      el = document.createElement("div");
      el.id = "pf-js-note";
      el.setAttribute("role", "status");
      el.style.cssText = "position:fixed;top:8px;left:50%;transform:translateX(-50%);z-index:1000;padding:8px 14px;" +
        "border-radius:8px;background:#fff4e0;color:#8a5300;font:14px sans-serif;box-shadow:0 1px 4px #0003";
      document.body.appendChild(el);
    }
    el.textContent = text;
    el.hidden = !text;
  };
__RANK__
__RESTORE__

  // asked: drawn while a submit, skip or undo is on its way: its answer, or a draw sent before it and answered
  // late (the label tab's second draw as the page loads). Either way not the item drawn again unasked; the one
  // sent is answered only once its own `.then` ran (`prefloopDrawn`): a late draw of the same item taken for the
  // submit's answer left the page waiting for none (no "No answer" note, no reload to send the pick again).
  const onView = (view) => {
    const first = lastView === null, asked = inflight !== 0;
    lastView = view.dataset.view;
    viewAt = Date.now();
    if (first) typedFirst(view);  // what was written before this draw is this item's
    if (editorOn !== null && view.dataset.item !== editorOn) closeStale(view, asked);
    if (asked || written?.key !== keyOf(view)) written = null;
    rewrite();
    const pending = load();
    if (pending && pending.key !== keyOf(view)) save(null);  // the server moved on (or answers joined the item)
    // The same item drawn again unasked is the label tab drawn again (a labeller's page draws it twice as it
    // loads; an admin opens the tab again): the server's view holds no pick, so the kept one goes back on screen.
    const again = !asked && !pending?.submitted;
    if (pending && (first || again) && pending.key === keyOf(view)) {
      const id = ++chain;  // one restore at a time: an earlier one (the page's first draw's) stops
      restoring = true;
      setTimeout(() => restore(pending, id), 300);
    } else if (!restoring || pending?.key !== keyOf(view)) {
      chain += 1;
      restoring = false;
    }  // else the item drawn again while its submitted pick goes back: that restore picks it again until it holds
    clearTimeout(drawing);
    drawing = setTimeout(() => whenDrawn(Date.now()), 30);
  };

  // Keys that arrive while a submit, skip or undo is on its way wait for the answer, then apply to the next item,
  // once Gradio has drawn all of it: it marks its event pending (a status tracker's progress text in the tab's
  // outputs) until every output is on screen, the choice radios reset for the next item among them, and it drops
  // a second submit while the first is pending. On a loaded machine a key applied 30 ms after the item showed was
  // wiped by that reset, or its Enter dropped. That mark is Gradio's markup, so the wait also holds until the
  // event's own `.then` says Gradio is done with it (`ANSWER_DRAWN`, after its outputs are set and it no longer
  // holds the event pending): a Gradio without the mark still waits. A mark that never clears holds them
  // DRAW_MS at most; the answer itself is the `.then`'s (a view is no answer: `onView`).
  // A `.then` later than that (its answer drawn since it was sent, and no longer waited on) applies the keys itself:
  // `whenDrawn` left them queued behind the wait it had not ended, for good.
  // ``status``: the status line the answer set (one marked refused: `unsend`).
  window.prefloopDrawn = (status) => {
    const late = inflight !== 0 && viewAt >= inflight && !drawing;
    answering = false;
    inflight = 0;
    if (refusal(status)) unsend();
    if (late) flush();
  };
  // The app answered with an error (Gradio shows its line; `ANSWER_FAILED`): an answer, so no "No answer" note
  // and no reload to send the pick again (an error that came back every time reloaded the page every 15 s). It
  // draws no item: keys queued for the next one are dropped, said so (not over the signed-out note and its link),
  // not applied to the one still on screen. A send it refused is no longer sent (`unsend`), but for a signed-out
  // tab's: that one goes once the labeller signs in again (the page that sign-in loads sends it).
  window.prefloopFailed = () => {
    answering = false;
    inflight = 0;
    if (!$("#pf-sign-in")) unsend();
    if (queued.length && !$("#pf-sign-in")) say(`The app answered with an error: ${queued.length} key(s) not applied; check the item and press them again.`);
    queued = [];
  };
  const whenDrawn = (since) => {
    const busy = (answering || $("#pf-prompt .progress-text")) && Date.now() - since < DRAW_MS;
    drawing = busy ? setTimeout(() => whenDrawn(since), 25) : 0;
    if (!busy) { rewrite(); flush(); }
  };
  // A draw of another item than the editor was opened on cancels an editor it leaves on screen or that shows after
  // it: unasked (the label tab's late draw as the page loads, that item labelled or skipped in another tab
  // meanwhile) or asked (a skip, submit or undo sent while the editor's own answer was on its way: that answer,
  // drawn last, opened the editor over the next item), or Gradio shows it again once done with the draw (it did,
  // where the draw closed it). Its text is the gone item's answer, which a save stored as an edit of this item's
  // answer. Until another view is drawn or `e` opens the editor on this item.
  const closeStale = (view, asked, since = Date.now()) => {
    const {item, view: drawn} = view.dataset;
    if (lastView !== drawn || editorOn === item || Date.now() - since > ANSWER_MS) return;
    // an asked draw's answer closes the editor after drawing its item: looked at once Gradio is done with it (a
    // save's editor, still on screen then, was cancelled: "Edit cancelled" over its "Saved to disk")
    if (editing() && !(asked && (inflight || drawing))) return press("pf-edit-cancel");
    setTimeout(() => closeStale(view, asked, since), 50);
  };
  const flush = () => {
    while (queued.length && !inflight) act(queued.shift());
    say(queued.length ? `Saving… ${queued.length} key(s) queued` : "");
  };
  // No answer at all: after a restart Gradio can keep waiting on its old connection. A submitted pick is kept in
  // this browser, so a reload sends it again (the server saves it once, or answers "Already saved"). The reload
  // waits until the server answers: one while it is still down showed the browser's error page, and stayed there.
  // An answer that is not the page (a server still starting can answer 404 or 5xx) is no answer: a reload then
  // showed that error, for good.
  const notYet = () => {
    say("No answer from the app: your label is kept here and sent once the app is back…");
    inflight = Date.now() - ANSWER_MS + 1000;
  };
  const reloadWhenUp = () => fetch(window.location.href, {cache: "no-store", credentials: "same-origin"}).then(
    (answer) => (answer.ok ? window.location.reload() : notYet()), notYet);
  setInterval(() => {
    if (inflight && Date.now() - inflight > ANSWER_MS) {
      inflight = 0;
      if (load()?.submitted && keyOf(shown()) === load().key) {
        say("No answer from the app: reloading to send your label again…");
        reloadWhenUp();
        return;
      }
      if (queued.length) say(`No answer from the app: ${queued.length} key(s) not applied; check the item and press them again.`);
      queued = [];
    }
  }, 1000);

  const act = ({key, ctrl, shift}) => {
    if (!shown()?.dataset.item && !ctrl && !ITEM_FREE.includes(key)) return;  // no item: nothing to judge
    if (restoring && !["n", "c", "g"].includes(key)) settleNow();  // a key that picks or acts wins (settleNow)
    if (ctrl && key === "z") return press("pf-undo");
    const task = taskOf();
    if (task === "rate" && window.prefloopRate?.(key, shift)) return;
    if (task === "rank" && RANK_KEY.test(key)) return rankKey(key);
    if (KEYMAP[task][key]) return pick(...KEYMAP[task][key]);
    if (BUTTONS[key]) return press(BUTTONS[key]);
    if (key === "n") return $("#pf-note textarea")?.focus();
    if (key === "c") return toggleEarlier();
    if (key === "g") $("#pf-guidelines button, #pf-guidelines .label-wrap")?.click();
  };
  // A conversation's earlier turns (annotate.render.chat_html folds them in a <details>): open or close them all.
  const toggleEarlier = () => {
    const folds = [...document.querySelectorAll("#pf-prompt details.pf-earlier")];
    const open = !folds.some((d) => d.open);
    folds.forEach((d) => { d.open = open; });
  };

  document.addEventListener("keydown", (event) => {
    // the label tab on screen: its Undo shows with an item or without (Submit is hidden where none is)
    const undo = document.getElementById("pf-undo");
    if (event.isComposing || event.altKey || !undo || undo.offsetParent === null) return;
    const key = event.key.toLowerCase();
    if (typing(event.target)) {
      if (key === "escape") { event.target.blur(); event.preventDefault(); }
      if (key === "enter" && (event.ctrlKey || event.metaKey)) {  // wins over a restore, as Enter does (`act`)
        event.preventDefault(); event.target.blur(); if (restoring) settleNow();
        setTimeout(() => press("pf-submit"), 50);
      }
      return;
    }
    if (event.repeat) return;
    // Enter or Space on a focused <summary> (reached with Tab) opens its fold, as the browser does: not a submit.
    if (event.target.tagName === "SUMMARY" && (key === "enter" || key === " ")) return;
    const ctrl = event.ctrlKey || event.metaKey;
    const task = taskOf(), shift = event.shiftKey;
    const known = KEYMAP[task][key] || BUTTONS[key] || ["n", "c", "g"].includes(key) ||
      (task === "rank" && RANK_KEY.test(key)) || (task === "rate" && RATE_KEYS.includes(key));
    if (ctrl ? key !== "z" : !known) return;
    event.preventDefault();
    if (!inflight && !queued.length) return act({key, ctrl, shift});  // else after the keys waiting
    if (queued.length >= QUEUE_LIMIT) return say(`Still saving: key ${event.key} not applied (${QUEUE_LIMIT} keys waiting).`);
    queued.push({key, ctrl, shift});
    say(`Saving… ${queued.length} key(s) queued`);
  });

  document.addEventListener("click", (event) => {
    // the labeller's click on the choices, ratings, Submit, Skip or Undo wins over a restore, as a key does: settled
    // before it applies (Submit sends the kept pick put back under it; the restore's own press is no trusted click)
    const wins = "#pf-choice, #pf-strength, #pf-rate, #pf-submit, #pf-skip, #pf-undo";
    if (event.isTrusted && restoring && event.target.closest?.(wins)) settleNow();
    if (event.target.closest?.("#pf-edit-open")) editorOn = shown()?.dataset.item ?? null;
    const button = event.target.closest?.("#pf-submit, #pf-skip, #pf-undo, #pf-edit-save, #pf-edit-cancel");
    if (!button) return;
    // Cancel saves nothing (README): the edit is given up, and so is a send of the pick (no longer the pick sent,
    // which a later change back marked as sent again): a reload puts it back and sends nothing; Enter sends it
    if (button.id === "pf-edit-cancel") {
      if (load()) save({...load(), edit: null, submitted: false, sentPick: null});
      return;
    }
    if (button.id === "pf-submit" || button.id === "pf-edit-save") remember(true, button.id === "pf-edit-save");
    inflight = Date.now();
    answering = true;
  }, true);
  document.addEventListener("change", (event) => {
    if (event.target.closest?.("#pf-choice, #pf-strength, #pf-rate")) remember(false, true, event.target);
  }, true);
  document.addEventListener("input", (event) => {
    if (!event.target.closest?.("#pf-note, #pf-choice.pf-task-rank, #pf-edit")) return;
    // typing wins over a restore too: it ends the restore, so the text is kept at once as typed (`remember` keeps
    // nothing while restoring) and no restore step writes the kept text over it
    if (event.isTrusted && restoring) settleNow(event.target);
    if (!event.target.closest("#pf-edit")) keepWritten();
    remember(false);
  }, true);
  // Gradio draws the same item again by patching its render in place: only `data-view` changes, and where nothing
  // else changed after it that draw went unseen (a note written before it stayed wiped).
  new MutationObserver(() => {
    const view = shown();
    if (view && view.dataset.view !== lastView) onView(view);
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true, attributes: true,
    attributeFilter: ["data-view"]});

  // Log out forgets the unsent pick: the next person at a shared computer must not find (or send) it.
  document.addEventListener("submit", (event) => {
    if (event.target.closest?.(".pf-logout")) save(null);
  }, true);

  // A signed-out tab (logged out elsewhere, or idle too long): say so and offer the sign-in, instead of Gradio's
  // small "Error" beside a stale "Saved" line.
  const signedOut = () => {
    say("You are signed out: nothing was saved. Your pick is kept in this browser.");
    const note = $("#pf-js-note");
    if (note && !note.querySelector("a")) {
      const link = document.createElement("a");
      link.href = "./";
      link.textContent = " Sign in again";
      link.id = "pf-sign-in";
      note.appendChild(link);
    }
    const status = $("#pf-status");
    if (status) status.textContent = "";
  };

  // Gradio's login form shows nothing for a refused (throttled) sign-in: say why; and it clears the name after a
  // wrong password: put it back.
  const fetch0 = window.fetch;
  window.fetch = async (...args) => {
    const url = String(args[0]?.url || args[0]);
    const body = args[1]?.body;
    const name = url.endsWith("login") && body instanceof FormData ? body.get("username") : null;
    const response = await fetch0(...args);
    if (response.status === 429 && url.endsWith("login")) {
      response.clone().json().then((body) => say(String(body.detail))).catch(() => {});
    }
    if (name && !response.ok) {
      const refill = (tries) => {
        const input = $("input[type=text]");
        if (input && !input.value) {
          input.value = name;
          input.dispatchEvent(new Event("input", {bubbles: true}));
        } else if (!input && tries > 0) setTimeout(() => refill(tries - 1), 100);
      };
      setTimeout(() => refill(20), 50);
    }
    if (response.status === 401 && url.includes("/gradio_api/")) signedOut();
    return response;
  };
})();
"""


# The `.then` of every label event whose keys the page queues (submit, skip, undo, the editor's save: annotate.app,
# annotate.edit_view): Gradio runs it once it is done with the event's answer (`whenDrawn` in the page script, and
# the end of its `inflight`: a view drawn meanwhile may be another event's); not after an error, which draws no
# item: a draw after it waits at most DRAW_MS.
# Its input is the label tab's status line, as the answer set it (a refusal's is marked: `unsend`).
ANSWER_DRAWN = "(status) => { window.prefloopDrawn && window.prefloopDrawn(status); }"
# The `.failure` of the same events: Gradio (6.31) runs their `.then` only after an answer, not after an error
# (`shown_errors`' line, a refusal, a signed-out tab); this ends the wait for it instead.
ANSWER_FAILED = "() => { window.prefloopFailed && window.prefloopFailed(); }"

SCRIPT = (
    SCRIPT_TEMPLATE.replace("__KEYMAP__", json.dumps(KEYMAP))
    .replace("__RATE_KEYS__", json.dumps(RATE_PANEL_KEYS))
    .replace("__RANK__", RANK_SCRIPT)
    .replace("__RESTORE__", RESTORE_SCRIPT)
    + PACE_SCRIPT
    + RATE_SCRIPT
    + EDIT_SCRIPT
)


GUIDELINES = {
    "pairwise": """### Pairwise guidelines
Read the prompt, then both answers. Pick the answer **you would rather receive**:
helpful, correct, honest and harmless, in that order when they conflict.

- **A better / B better** — then say how much (1 = significantly … 4 = negligibly, or unsure).
- **Tie** — both are about equally good.
- **Both bad** — neither is acceptable (wrong, unsafe, off-topic, empty).
- Ignore which side an answer is on; the sides are shuffled for every item.
- Skip (**s**) when you cannot judge the prompt; add a note for anything odd.
""",
    "kto": """### KTO guidelines
Read the prompt and the answer. Is this an answer you would be **glad to receive**?

- **Desirable** — helpful, correct, honest and harmless.
- **Undesirable** — wrong, unsafe, evasive, off-topic or empty.
- Skip (**s**) when you cannot judge; add a note for anything odd.
""",
    "rank": RANK_GUIDELINES,
    "rate": RATE_GUIDELINES,
}
