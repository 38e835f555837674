"""The app's stylesheet (Gradio's ``css=``, set by ``annotate.app.launch``): the page's own rules, then those of the
rank, rate and edit views, which live beside their markup."""

from annotate.edit_script import EDIT_CSS
from annotate.rank_view import RANK_CSS
from annotate.rate_view import RATE_CSS

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
/* No item on screen (all done, the items left held by others, an admin's tab before it hands one out: the prompt's
   marker holds none, annotate.labelling.stamped): the judgement inputs and the keys that act on an item are hidden,
   as they do nothing there; Undo, u and g still work. The next item drawn (an undo, a reload) brings them back. */
body:has(#pf-prompt [data-item=""]) :is(#pf-choice, #pf-strength, #pf-note, #pf-submit, #pf-skip, #pf-edit-open,
  #pf-keys .pf-item-key) { display: none !important; }
.pf-invisible { color: #9b1c1c; background: #fdecec; border-radius: 3px; font-family: var(--font-mono); font-size: 0.75em; }
.pf-header > .pf-logout { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; margin-left: auto; }
.pf-logout button { background: none; border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: 2px 10px; cursor: pointer; color: var(--body-text-color); font: inherit; font-size: 0.85rem; }
.pf-download { display: inline-block; margin-top: 6px; font-weight: 600; }
.pf-scroll { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
#pf-admin-labellers, #pf-admin-disputed { max-width: 100%; overflow-x: auto; }
.pf-more summary { cursor: pointer; color: var(--color-accent); font-size: 0.85rem; margin-top: 6px; }
.pf-earlier { margin-bottom: 8px; }
.pf-earlier > summary { cursor: pointer; color: var(--color-accent); font-size: 0.85rem; }
.pf-earlier > summary:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 2px; }
.pf-earlier[open] > summary { margin-bottom: 8px; }
.pf-next { margin-top: 8px; font-size: 0.8rem; color: var(--body-text-color-subdued); font-style: italic; }
.pf-bar-own .pf-fill { background: var(--color-accent); }
#pf-progress .pf-fill-team, .pf-fill-team { background: var(--body-text-color-subdued); opacity: 0.5; }
/* Phones: the header wraps instead of being cut off, and the A/B cards stack at full width. */
@media (max-width: 720px) {
  .pf-header { flex-wrap: wrap; }
  .pf-header > :not(.pf-logout) { flex: 1 1 100% !important; min-width: 0 !important; }
  .pf-progress { min-width: 0; }
  #pf-cards { flex-direction: column; }
  #pf-cards > * { width: 100%; min-width: 0 !important; }
  .pf-text { max-height: none; }
  .pf-table th, .pf-table td { white-space: nowrap; }
}
"""

CSS += RANK_CSS + RATE_CSS + EDIT_CSS
