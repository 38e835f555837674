"""Edit to gold in the page (annotate.edit_view): the page script's part for the editor and the diff's styles, which
annotate.assets appends to the app's script and stylesheet (as annotate.rank_view's for the rank view).

`e` opens the editor (or goes back into it); in it every key is text except Ctrl+Enter (save, with the label) and
Esc (cancel), caught at `window` in the capture phase, before the label keys' handler sees them.
"""

EDIT_SCRIPT = """
(() => {
  "use strict";
  const box = () => document.querySelector("#pf-edit textarea");
  const press = (id) => { const el = document.getElementById(id); if (el && !el.disabled) el.click(); };
  const visible = (el) => !!el && el.offsetParent !== null;
  const typing = (el) => el && (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "INPUT");
  const OPEN_CAP_MS = 60000;
  window.addEventListener("keydown", (event) => {
    const key = event.key.toLowerCase();
    if (event.target.closest?.("#pf-edit")) {
      const save = key === "enter" && (event.ctrlKey || event.metaKey);
      if (key !== "escape" && !save) return;
      event.preventDefault(); event.stopImmediatePropagation();
      event.target.blur();
      press(save ? "pf-edit-save" : "pf-edit-cancel");
      return;
    }
    if (key !== "e" || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typing(event.target) || !visible(document.getElementById("pf-edit-open"))) return;
    event.preventDefault(); event.stopImmediatePropagation();
    if (event.repeat) return;
    if (visible(box())) return box().focus();
    // during a restore e wins over it, as a label key does (annotate.assets); a kept edit is opened again there
    if (window.prefloopSettle?.()) return;
    press("pf-edit-open");
    // once the server's answer opens the editor, the cursor goes into it, at the start; one wait at a time: an
    // earlier e's must not move the cursor while the labeller types
    const mine = ++waits;
    window.prefloopWhenEditorOpen((el) => { if (mine === waits) { el.focus(); el.setSelectionRange(0, 0); } });
  }, true);
  let waits = 0, refusals = 0;
  // The server's answer to the editor's button is drawn (annotate.edit_view: that event's `.then`, EDITOR_ANSWERED,
  // is handed the editor's text: the answer's when it opens, none when it is refused).
  window.prefloopEditorAnswered = (text) => { if (!text) refusals += 1; };
  // opened(box) once the editor shows, else closed() once the button's answer is a refusal or, where none is ever
  // heard of, after OPEN_CAP_MS: not a fixed few seconds, which a loaded machine's answer outlasted (the cursor
  // stayed out, a kept edit was lost); nor "the answer drawn", as Gradio can show the editor later still. Looked
  // for every 50 ms only while waiting.
  window.prefloopWhenEditorOpen = (opened, closed = () => {}) => {
    const before = refusals, since = Date.now();
    const look = () => {
      if (visible(box())) return opened(box());
      if (refusals > before || Date.now() - since > OPEN_CAP_MS) return closed();
      setTimeout(look, 50);
    };
    look();
  };
})();
"""

# The `.then` of the editor's button (annotate.edit_view), handed the editor's text: its answer is in, the editor
# opened (the answer's text) or refused (none).
EDITOR_ANSWERED = "(text) => { window.prefloopEditorAnswered && window.prefloopEditorAnswered(text); }"

EDIT_CSS = """
.pf-diff del { background: #fdecec; color: #9b1c1c; } .pf-diff ins { background: #e7f6ec; color: #17663a; }
.pf-edit-entry { margin: 10px 0; padding: 8px 12px; border: 1px solid var(--border-color-primary); border-radius: 8px; }
"""
