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
    clearTimeout(waiting);  // one wait at a time: an earlier e's must not move the cursor while the labeller types
    intoEditor(100);
  }, true);
  // Once the server's answer opens the editor, the cursor goes into it, at the start (looked for every 50 ms for
  // 5 s after e only: no observer runs while the labeller labels).
  let waiting = null;
  const intoEditor = (tries) => {
    const el = box();
    if (visible(el)) { el.focus(); el.setSelectionRange(0, 0); }
    else if (tries > 0) waiting = setTimeout(() => intoEditor(tries - 1), 50);
  };
})();
"""

EDIT_CSS = """
.pf-diff del { background: #fdecec; color: #9b1c1c; } .pf-diff ins { background: #e7f6ec; color: #17663a; }
.pf-edit-entry { margin: 10px 0; padding: 8px 12px; border: 1px solid var(--border-color-primary); border-radius: 8px; }
"""
