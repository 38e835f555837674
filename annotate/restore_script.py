"""The page script's part that keeps the labeller's pick in this browser and puts it back on screen (the kept pick:
``remember``, ``restore``, ``settleNow``, ``reopen``), and keeps a note or ranking being written when Gradio draws the
same item again. annotate.assets splices it into its script's closure (``__RESTORE__``), after the helpers it uses
(``shown``, ``keyOf``, ``load``, ``save``, ``pick``, ``press``, ``rankBox``, ``editing``, ``lastView``, ``editorOn``); the key and click
handling there reads ``restoring`` and calls ``settleNow``, ``onView`` calls ``typedFirst``, starts a restore and
calls ``rewrite``, and an answer that refused a send calls ``unsend``.
"""

RESTORE_SCRIPT = """
  // restoring: a kept pick is going back on screen (`restore`, then `reopen`), and what changes is not the
  // labeller's; chain: that restore's number, moved on by a draw that starts another or moves on from the item and
  // by an action of the labeller's that wins over it (the earlier restore stops at its next step); opening: a
  // restore pressed the editor's button, and its wait for the editor has not ended; written: the note and ranking
  // as last written on the item on screen (`key`), by the labeller or the page.
  let restoring = true, chain = 0, opening = false, written = null;
  const THIS_PAGE = String(Math.random());  // which page load first sent a kept pick (`prefloopPace`)

  // The choice on screen is kept in this browser until the server moves past the item, so a restart or a lost
  // connection cannot lose it; after a reload it is picked again and, if it had been submitted, sent again
  // (the server refuses a second label for an item that already has this labeller's label). So is an edit being
  // typed (`edit`: the open editor's text): the editor opens again with it, and a save of it is sent again.
  // Only while the editor is open on the item on screen (`editorOn`): one left open over another item (its Cancel
  // never landed) holds the gone item's answer, which a reload opened on this item and a save there stored as its.
  // withEdit false: a plain submit (the editor, if open, is not what is sent); changed: the radio just picked
  const remember = (submitted, withEdit = true, changed = null) => {
    const view = shown();
    if (restoring || !view || !view.dataset.item) return;
    let choice = checkedIn("pf-choice", changed);
    let strength = checkedIn("pf-strength", changed);
    const note = $("#pf-note textarea")?.value || "";
    const ranking = rankBox()?.value || "";  // rank: the ranking typed so far
    let ratings = window.prefloopRatings?.() ?? null;  // rate: the rubric panel's picks
    const edit = withEdit && editorOn === view.dataset.item ? editing()?.value ?? null : null;
    const previous = load();
    let sent = null, sentPick = null;  // sentPick: the pick as last sent (Enter, a save)
    if (previous?.key === keyOf(view)) {  // a radio cannot be un-picked: -1 here is a reset, not a choice
      if (choice < 0) choice = previous.choice;
      if (strength < 0) strength = previous.strength;
      if (ratings === "{}") ratings = previous.ratings;
      sent = previous.sent ?? null;
      sentPick = previous.sentPick ?? null;
    }
    const kept = {choice, strength, note, ranking, ratings, edit};
    const differs = (other) => Object.keys(kept).some((k) => (kept[k] ?? null) !== (other?.[k] ?? null));
    // nothing picked is never sent: the app stores nothing ("Pick a choice first"), and a reload sent it again
    if (choice < 0 && !ranking && (ratings ?? "{}") === "{}") submitted = false;
    // a pick changed since a send (one the server refused: a note too long) is another pick: timed from the change
    // on (that send's time took the labeller's time after it off the label's seconds), and not sent unless it is
    // the very pick sent again (changed back to it, where that send had no answer: a reload sends it again, paced
    // as at that send, whose time the pick as sent keeps; else it sent the pick made after a refusal, one the
    // labeller never sent)
    if (differs(previous)) sent = null;
    if (submitted) sentPick = kept;
    submitted = submitted || (sentPick !== null && !differs(sentPick));
    // its first send: when, from which page, and the active seconds then (`prefloopPace`)
    if (submitted && !sent) {
      sent = sentPick.sent ?? {at: Date.now(), page: THIS_PAGE, active: window.prefloopActiveSeconds?.() ?? null};
    }
    if (submitted) sentPick = {...sentPick, sent};
    save({item: view.dataset.item, key: keyOf(view), ...kept, submitted, sent, sentPick});
  };
  // A send the app refused (its answer marked so: a full disk, a note too long, nothing picked; or an error:
  // `prefloopFailed`) stays on screen and kept, but no longer sent: a reload puts it back and sends nothing (it
  // sent it again with no new Enter, and stored a pick the labeller had seen refused); Enter sends it again.
  const unsend = () => {
    const pending = load();
    if (pending?.key === keyOf(shown())) save({...pending, submitted: false, sentPick: null});
  };
  // The answer's refusal mark (annotate.render.message_html's `data-refused`), not its words: a line reworded
  // must not turn a refused send into one a reload sends again.
  const refusal = (status) => {
    const html = document.createElement("template");  // inert: nothing in it runs or loads
    html.innerHTML = typeof status === "string" ? status : "";
    return html.content.querySelector("[data-refused]") !== null;
  };
  // The pace a submit or save sends (annotate.pace_script.SENT_PACE, read after `remember` kept its send): this
  // page's active seconds, or, for the kept pick of the item on screen first sent from another page (this one
  // reloaded to send it again after a restart, whose count started at the reload), that send's active seconds and
  // the seconds since it, which the server takes off its time since the hand-out (the outage is no labeller's time).
  window.prefloopPace = () => {
    const sent = load()?.key === keyOf(shown()) ? load().sent : null;
    if (!sent || sent.page === THIS_PAGE) return [window.prefloopActiveSeconds?.() ?? null, null];
    return [sent.active, Math.max(0, (Date.now() - sent.at) / 1000)];
  };

  // The page is still settling after a reload (the load events re-render the tab): pick again until it holds.
  // ``id``: this chain's number; a later draw or a key (`settleNow`) ends it.
  const restore = (pending, id, tries = 10) => {
    if (id !== chain) return;
    if (keyOf(shown()) !== pending.key) { restoring = false; return; }  // other answers: other numbers
    putBack(pending);
    if (!holds(pending) && tries > 0) { setTimeout(() => restore(pending, id, tries - 1), 300); return; }
    setTimeout(() => {
      if (id !== chain) return;
      // the same item still: another one drawn meanwhile, with the same choice on screen, is not sent or edited
      const settled = keyOf(shown()) === pending.key && holds(pending);
      if (settled && typeof pending.edit === "string") return reopen(pending, id);
      if (!settled && tries > 0) return restore(pending, id, tries - 1);
      restoring = false;
      if (settled && pending.submitted) press("pf-submit");
    }, 300);
  };
  // typed: the text field the labeller is typing in, left as it is (emptied by the labeller, too)
  const putBack = (pending, typed = null) => {
    if (pending.choice >= 0) pick("pf-choice", pending.choice);
    if (pending.strength >= 0) pick("pf-strength", pending.strength);
    if (pending.ratings) window.prefloopSetRatings?.(pending.ratings);
    putText($("#pf-note textarea"), pending.note, typed);
    putText(rankBox(), pending.ranking, typed);
  };
  const putText = (box, text, typed) => {
    if (!box || !text || box.value || box === typed) return;
    box.value = text;
    box.dispatchEvent(new Event("input", {bubbles: true}));
  };
  const holds = (pending) => (pending.choice < 0 || radios("pf-choice")[pending.choice]?.checked) &&
    (!rankBox() || !pending.ranking || rankBox().value === pending.ranking);
  // The labeller's own action while the kept pick goes back wins over it (a label key, a click on the choices,
  // the ratings, Submit, Skip or Undo, typing in the note or ranking box, e, Ctrl+Enter): the rest of it goes
  // back on screen now, under the action, and nothing is sent or opened for it (the labeller is at the page: Enter
  // sends what is on screen). Returns the kept pick put back.
  const settleNow = (typed = null) => {
    chain += 1;
    restoring = false;
    const pending = load();
    if (pending?.key !== keyOf(shown())) return null;
    save({...pending, submitted: false, sentPick: null});
    putBack(pending, typed);
    return pending;
  };
  // `e` (annotate.edit_script) during a restore wins over it too, and a kept edit opens again, unsaved (the
  // server's answer alone would fill the editor over it): true where it does (e then presses nothing itself).
  window.prefloopSettle = () => {
    if (!restoring) return false;
    const pending = settleNow();
    if (typeof pending?.edit !== "string") return false;
    reopen({...pending, submitted: false}, chain);
    return true;
  };

  // The kept edit: open the editor (the server fills it with the answer picked), put the text back, and save it
  // if it had been saved (the server stores it once, or answers "Already saved"). One press of the editor's button
  // at a time (`opening`): a second answer landing after the text went back would write the answer over it.
  // It waits for the editor as long as the server takes to answer (annotate.edit_script, prefloopWhenEditorOpen).
  const reopen = (pending, id) => {
    if (id !== chain) return;
    if (!editing() && !opening) { opening = true; press("pf-edit-open"); }
    const closed = () => { opening = false; if (id === chain) restoring = false; };
    window.prefloopWhenEditorOpen((box) => {
      closed();
      if (id !== chain) return;
      box.value = pending.edit;
      box.dispatchEvent(new Event("input", {bubbles: true}));
      if (pending.submitted) setTimeout(() => { if (id === chain) press("pf-edit-save"); }, 50);
      else box.focus();
    }, closed);
  };

  // Gradio drawing the same item again unasked (the label tab's second draw as the page loads, an admin opening
  // the tab again) draws the server's empty note and ranking over what was written meanwhile: it goes back at once
  // (in `onView`, and again once the draw is on screen in full), never onto another item or an answer's draw.
  // Written before the tab's first draw (no item on screen yet: key null), it goes back onto the item that draw
  // brings (`typedFirst`).
  const keepWritten = () => {
    const view = shown();
    if (!view && lastView !== null) return;  // between two items
    written = {key: view ? keyOf(view) : null, note: $("#pf-note textarea")?.value, ranking: rankBox()?.value};
  };
  // The first draw's item gets what was written before it (`onView`): the labeller's typing, which wins over the
  // kept pick of that item as typing during a restore does (`settleNow`): it replaces the kept note (ranking), the
  // rest goes back under it, and nothing kept is sent or opened by itself.
  const typedFirst = (view) => {
    if (!written || written.key !== null) return;
    written.key = keyOf(view);
    const pending = load();
    if (pending?.key !== written.key) return;
    const typed = {...pending, submitted: false, edit: null};
    if (written.note) typed.note = written.note;
    if (written.ranking) typed.ranking = written.ranking;
    save(typed);
  };
  const rewrite = () => {
    if (!written || written.key !== keyOf(shown())) return;
    [[$("#pf-note textarea"), written.note], [rankBox(), written.ranking]].forEach(([box, text]) => {
      if (!box || typeof text !== "string" || box.value === text) return;
      box.value = text;
      box.dispatchEvent(new Event("input", {bubbles: true}));
    });
  };
"""
