"""Static parts of the app: the stylesheet, the keyboard script and the default guidelines.

Gradio has no hotkeys, so a small script in the page head maps keys to clicks on the app's own buttons and radio
options (by element id). Keys never fire while a text field has focus: Esc leaves the note, Ctrl+Enter submits from
it, and key repeats are ignored so that a held key cannot label several items.
"""

from __future__ import annotations

import json

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
    ("g", "show / hide guidelines"),
]
KTO_KEYS = [
    ("d", "desirable"),
    ("x", "undesirable"),
    ("Enter", "submit"),
    ("s", "skip"),
    ("u  or  Ctrl+Z", "undo my last label"),
    ("n", "write a note (Esc leaves it, Ctrl+Enter submits)"),
    ("g", "show / hide guidelines"),
]

# key -> [radio group element id, option index]; the same option order as the radios in annotate.app.
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
}

_SCRIPT = """
<script>
(() => {
  const KEYMAP = __KEYMAP__;
  const BUTTONS = {"enter": "pf-submit", "s": "pf-skip", "u": "pf-undo"};
  const typing = (el) => el && (el.isContentEditable || el.tagName === "TEXTAREA" ||
    (el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type)));
  const press = (id) => { const el = document.getElementById(id); if (el && !el.disabled) el.click(); };
  const pick = (group, index) => {
    const inputs = document.querySelectorAll(`#${group} input[type=radio]`);
    if (inputs[index] && !inputs[index].checked) inputs[index].click();
  };
  document.addEventListener("keydown", (event) => {
    if (event.isComposing || event.altKey || !document.getElementById("pf-submit")) return;
    const key = event.key.toLowerCase();
    if (typing(event.target)) {
      if (key === "escape") { event.target.blur(); event.preventDefault(); }
      if (key === "enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault(); event.target.blur(); setTimeout(() => press("pf-submit"), 50);
      }
      return;
    }
    if (event.repeat) return;
    if ((event.ctrlKey || event.metaKey) && key === "z") { event.preventDefault(); press("pf-undo"); return; }
    if (event.ctrlKey || event.metaKey) return;
    const task = document.querySelector(".pf-task-kto") ? "kto" : "pairwise";
    if (KEYMAP[task][key]) { event.preventDefault(); pick(...KEYMAP[task][key]); return; }
    if (BUTTONS[key]) { event.preventDefault(); press(BUTTONS[key]); return; }
    if (key === "n") { event.preventDefault(); document.querySelector("#pf-note textarea")?.focus(); return; }
    if (key === "g") { event.preventDefault(); document.querySelector("#pf-guidelines button, #pf-guidelines .label-wrap")?.click(); }
  });
})();
</script>
"""

HEAD = _SCRIPT.replace("__KEYMAP__", json.dumps(KEYMAP))

CSS = """
.gradio-container { max-width: 1500px !important; }
.pf-header { display: flex; align-items: baseline; gap: 12px; }
.pf-header h1 { font-size: 1.25rem; margin: 0; }
.pf-muted { color: var(--body-text-color-subdued); font-size: 0.85rem; }
.pf-text { white-space: pre-wrap; word-break: break-word; font-family: var(--font); font-size: 0.95rem;
  line-height: 1.5; margin: 0; background: none; border: 0; padding: 0; max-height: 52vh; overflow: auto; }
.pf-prompt { border-left: 4px solid var(--color-accent); padding: 8px 14px; background: var(--background-fill-secondary);
  border-radius: 8px; }
.pf-turn + .pf-turn { margin-top: 8px; }
.pf-role { text-transform: uppercase; font-size: 0.7rem; letter-spacing: 0.08em; color: var(--body-text-color-subdued); }
.pf-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px; min-height: 140px;
  background: var(--background-fill-primary); }
.pf-card-head { display: flex; align-items: center; gap: 8px; margin-bottom: 8px; }
.pf-side { font-weight: 700; font-size: 1.05rem; }
kbd { display: inline-block; line-height: 1.4; text-decoration: none; border: 1px solid var(--border-color-primary); border-bottom-width: 2px; border-radius: 4px; padding: 0 5px;
  font-family: var(--font-mono); font-size: 0.8rem; background: var(--background-fill-secondary); }
.pf-progress { display: flex; flex-direction: column; gap: 4px; width: 100%; min-width: 320px; }
#pf-progress .pf-bar, .pf-bar { display: block; width: 100%; min-height: 8px; height: 8px; border-radius: 4px; background: var(--background-fill-secondary); overflow: hidden; }
#pf-progress .pf-fill, .pf-fill { display: block; height: 8px; background: var(--color-accent); }
.pf-message { padding: 8px 12px; border-radius: 8px; }
.pf-ok { background: #e7f6ec; color: #17663a; }
.pf-warn { background: #fff4e0; color: #8a5300; }
.pf-error { background: #fdecec; color: #9b1c1c; }
.pf-info, .pf-muted.pf-message { background: var(--background-fill-secondary); }
#pf-keys table, #pf-keys tr, #pf-keys td, .pf-keys { border: none !important; border-collapse: collapse; }
.pf-keys td { padding: 3px 8px 3px 0 !important; border: 0 !important; font-size: 0.85rem; vertical-align: top; }
.pf-keys td:first-child { white-space: nowrap; }
.pf-table { width: 100%; border-collapse: collapse; font-size: 0.85rem; border: 0 !important; }
.pf-table th, .pf-table td { text-align: left; padding: 6px 10px !important; border: 0 !important;
  border-bottom: 1px solid var(--border-color-primary) !important; }
.pf-table th { background: var(--background-fill-secondary); }
.pf-kpis { display: flex; gap: 12px; flex-wrap: wrap; }
.pf-kpi { flex: 1 1 160px; border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 14px; }
.pf-big { font-size: 1.5rem; font-weight: 700; }
#pf-submit { min-width: 160px; }
"""

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
}
