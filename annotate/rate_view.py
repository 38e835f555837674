"""The `rate` task's view: the rubric panel beside the answer, its keys and its page script.

The panel is server HTML (every name and description escaped, as annotate.render does for all text): one row per
aspect with its values and their keys; ``data-value`` holds the value picked (empty when none) and ``pf-focus``
marks the aspect the digits rate. The page script keeps the picks in the panel itself (no state of its own, so a
re-rendered panel is the truth), moves the focus with Tab / Shift-Tab or the arrows, and hands the ratings to the
submit event as JSON (``window.prefloopRatings``); the service checks them against the rubric before storing.
"""

from __future__ import annotations

from html import escape

from annotate.render import show_invisible
from data.rubric import Rubric, aspect_order, parse_ratings

RATE_KEYS = [
    ("0 – 9", "rate the focused aspect (its keys are shown beside its values); the focus moves on"),
    ("Tab / Shift+Tab", "next / previous aspect (or ↓ ↑)"),
    ("Enter", "submit (once every aspect is rated)"),
    ("s", "skip"),
    ("u  or  Ctrl+Z", "undo my last label"),
    ("n", "write a note (Esc leaves it, Ctrl+Enter submits)"),
    ("c", "show / hide a conversation's earlier turns"),
    ("g", "show / hide guidelines"),
]

RATE_GUIDELINES = """### Rating guidelines
Read the prompt and the answer, then rate the answer on **every aspect** of the rubric beside it, each on its own
scale (the aspect's line says what it measures). Rate each aspect on its own: a short answer can be correct, a
long one unhelpful.

- Press the value's key; the focus moves to the next aspect. **Tab** / **Shift+Tab** move between aspects.
- **Enter** saves once every aspect has a value; **s** skips an answer you cannot judge.
"""


def _text(text: str) -> str:
    """Rubric text (from a file the admin wrote, still text, never markup): escaped, invisible characters made visible."""
    return escape(show_invisible(text))


def ratings_text(ratings: str | dict | None, rubric: Rubric | None = None) -> str:
    """``helpfulness 3 · correctness 4 …`` for a stored (or submitted) rating, in ``rubric``'s order where given
    (the order the labeller rated them in; a stored rating's keys are sorted), aspects it lacks last."""
    try:
        values = parse_ratings(ratings)
    except ValueError:
        return "ratings"
    if rubric is not None:
        values = {name: values[name] for name in aspect_order(values, rubric.names)}
    return " · ".join(f"{name} {value}" for name, value in values.items()) or "no ratings"


def same_ratings(rubric: Rubric, stored: str, sent: str | dict | None) -> bool:
    """Whether ``sent`` (a submit that arrived again) is the stored rating, whatever its key order."""
    try:
        return stored == rubric.encode(parse_ratings(sent))
    except ValueError:
        return False


def rating_panel(rubric: Rubric, item_id: str, ratings: str | dict | None = None) -> str:
    """The rubric panel of item ``item_id`` with ``ratings`` picked (a stored rating being edited or undone), the
    focus on the first aspect without a value. It names its item because the page script picks values in the
    panel itself: Gradio redraws an HTML output only when its value changes, so the next item's empty panel, were
    it the same text as the last one sent, would leave the last item's picks on screen (and Enter would store
    them for the next answer)."""
    try:
        values = parse_ratings(ratings)
    except ValueError:
        values = {}
    unrated = [a.name for a in rubric.aspects if values.get(a.name) not in a.values]
    focus = unrated[0] if unrated else rubric.aspects[0].name
    rows = []
    for aspect in rubric.aspects:
        picked = values.get(aspect.name) if values.get(aspect.name) in aspect.values else None
        cells = "".join(
            f'<span class="pf-val{" pf-on" if value == picked else ""}" data-value="{value}" '
            f'data-key="{key}" title="{escape(aspect.name)} {value}"><kbd>{key}</kbd>'
            f"{'' if key == str(value) else f'<small>{value}</small>'}</span>"
            for key, value in zip(aspect.keys(), aspect.values)
        )
        rows.append(
            f'<div class="pf-aspect{" pf-focus" if aspect.name == focus else ""}" '
            f'data-aspect="{escape(aspect.name)}" data-value="{"" if picked is None else picked}">'
            f'<div class="pf-aspect-head"><b>{escape(aspect.name)}</b>'
            f'<span class="pf-muted">{aspect.low}–{aspect.high}</span></div>'
            f'<div class="pf-vals">{cells}</div><div class="pf-muted">{_text(aspect.description)}</div></div>'
        )
    return (
        f'<div id="pf-rate" class="pf-card pf-rate" data-rubric="{_text(rubric.name)}" '
        f'data-item="{escape(item_id)}">'
        f'<div class="pf-card-head"><span class="pf-side">Rubric: {_text(rubric.name)}</span>'
        "<kbd>Tab</kbd><kbd>0–9</kbd></div>"
        f'{"".join(rows)}<div class="pf-rate-note" role="status"></div></div>'
    )


RATE_CSS = """
.pf-aspect { padding: 6px 8px; border-radius: 8px; border: 2px solid transparent; }
.pf-aspect + .pf-aspect { margin-top: 4px; }
.pf-aspect.pf-focus { border-color: var(--color-accent); background: var(--background-fill-secondary); }
.pf-aspect-head { display: flex; gap: 8px; align-items: baseline; }
.pf-vals { display: flex; gap: 6px; margin: 4px 0; flex-wrap: wrap; }
.pf-val { cursor: pointer; display: inline-flex; gap: 2px; align-items: baseline; padding: 1px 3px; border-radius: 6px; }
.pf-val.pf-on { background: var(--color-accent); }
.pf-val.pf-on kbd { background: var(--color-accent); color: white; border-color: var(--color-accent); }
.pf-rate-note { color: #8a5300; font-size: 0.85rem; min-height: 1.2em; }
"""

# The rating keys, for the page script (annotate.assets): it calls prefloopRate(key, shift) first on the rate task
# and leaves the key alone when that returns false.
RATE_SCRIPT = """
(() => {
  "use strict";
  const rows = () => [...document.querySelectorAll("#pf-rate .pf-aspect")];
  const focused = () => Math.max(0, rows().findIndex((r) => r.classList.contains("pf-focus")));
  const move = (to) => {
    const all = rows();
    if (!all.length) return;
    const at = (to + all.length) % all.length;
    all.forEach((r, i) => r.classList.toggle("pf-focus", i === at));
  };
  const note = (text) => { const el = document.querySelector("#pf-rate .pf-rate-note"); if (el) el.textContent = text; };
  const set = (row, value) => {
    row.dataset.value = value;
    row.querySelectorAll(".pf-val").forEach((v) => v.classList.toggle("pf-on", v.dataset.value === value));
    note("");
    document.getElementById("pf-rate")?.dispatchEvent(new Event("change", {bubbles: true}));
  };
  const ratings = () => {
    const out = {};
    for (const r of rows()) if (r.dataset.value !== "") out[r.dataset.aspect] = Number(r.dataset.value);
    return out;
  };
  const missing = () => rows().filter((r) => r.dataset.value === "").map((r) => r.dataset.aspect);
  window.prefloopRatings = () => (document.getElementById("pf-rate") ? JSON.stringify(ratings()) : null);
  window.prefloopSetRatings = (text) => {
    let values = null;
    try { values = JSON.parse(text); } catch { return; }
    for (const r of rows()) if (values && values[r.dataset.aspect] !== undefined) set(r, String(values[r.dataset.aspect]));
    // the next digit rates the first aspect still without a value, as on a fresh panel (not the first aspect,
    // whose kept value a digit would silently overwrite)
    const open = rows().findIndex((r) => r.dataset.value === "");
    if (open >= 0) move(open);
  };
  window.prefloopRate = (key, shift) => {
    const all = rows();
    if (!all.length) return false;
    if (key === "tab") { move(focused() + (shift ? -1 : 1)); return true; }
    if (key === "arrowdown" || key === "arrowright") { move(focused() + 1); return true; }
    if (key === "arrowup" || key === "arrowleft") { move(focused() - 1); return true; }
    if (/^[0-9]$/.test(key)) {
      const row = all[focused()];
      const value = row.querySelector(`.pf-val[data-key="${key}"]`);
      if (!value) { note(`${row.dataset.aspect} has no value on key ${key}`); return true; }
      set(row, value.dataset.value);
      if (focused() < all.length - 1) move(focused() + 1);
      return true;
    }
    if (key === "enter" && missing().length) {
      note(`Rate every aspect first: ${missing().join(", ")}`);
      move(all.findIndex((r) => r.dataset.value === ""));
      return true;
    }
    return false;
  };
  document.addEventListener("click", (event) => {
    const value = event.target.closest?.("#pf-rate .pf-val");
    if (!value) return;
    const row = value.closest(".pf-aspect");
    set(row, value.dataset.value);
    move(rows().indexOf(row));
  });
})();
"""
