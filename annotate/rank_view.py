"""The rank view of the labelling app (`annotate --task rank`): k answers to one prompt, ranked with keys only.

The labeller presses the answers' numbers best first, ``=`` between two numbers ties them, Backspace takes the last
one back, Enter submits. The ranking being built is the text of the ``#pf-choice`` box ("3 > 1 = 4 > 2"), which
the page script (``RANK_SCRIPT``, part of annotate.assets' script) writes and the submit sends; the service turns it
into completion ids through the order this labeller was shown (data.ranking.screen_ranking). Every answer's text
goes through annotate.render (escaped, invisible characters shown), as in the pairwise view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from annotate.render import card_html
from data.ranking import RankingError, screen_ranking, to_screen
from data.records import Label

if TYPE_CHECKING:
    from annotate.screen import Shown

# The key of the rank answers the page numbers (`labelling.stamped`'s data-answers; "" on other pages), as a JS
# expression: a submit sends it (annotate.app, annotate.edit_view), so the service refuses a ranking typed on others.
SHOWN_ANSWERS = '(document.querySelector("#pf-prompt [data-view]")?.dataset.answers || "")'

RANK_KEYS = [
    ("1 – 6", "the answers' numbers, best first"),
    ("=", "tie: the next number ranks equal to the last"),
    ("Backspace", "take the last number (or =) back"),
    ("Enter", "submit (every answer ranked)"),
    ("s", "skip"),
    ("u  or  Ctrl+Z", "undo my last label"),
    ("n", "write a note (Esc leaves it, Ctrl+Enter submits)"),
    ("c", "show / hide a conversation's earlier turns"),
    ("g", "show / hide guidelines"),
]

RANK_GUIDELINES = """### Ranking guidelines
Read the prompt, then every answer. Rank them **from the one you would most like to receive to the least**:
helpful, correct, honest and harmless, in that order when they conflict.

- Press the answers' numbers in order, best first: `3 1 4 2`; Enter submits.
- **=** ties two answers of equal quality: `3 1 = 4 2` ranks 1 and 4 together.
- **Backspace** takes the last number back. Every answer must be ranked.
- The answers are shuffled for every labeller; their numbers say nothing.
- Skip (**s**) when you cannot judge the prompt; add a note for anything odd.
"""

# Inserted into the page script of annotate.assets (its `$`, `say` and `rankBox`); digits, '=' and Backspace reach `rankKey`
# only on the rank view (a `.pf-task-rank` element), through the same queue as the other keys.
RANK_SCRIPT = r"""
  const RANK_KEY = /^([1-9]|=|backspace)$/;
  const rankKey = (key) => {
    const box = rankBox();
    if (!box) return;
    const count = document.querySelectorAll("#pf-left .pf-rank-card").length;
    let text = box.value.replace(/\s+/g, "");
    if (key === "backspace") text = /=$/.test(text) ? text.slice(0, -1) : text.replace(/[>=]?\d+$/, "");
    else if (key === "=") {
      if (!/\d$/.test(text)) return say("Press an answer's number first; = ties the next one to it.");
      text += "=";
    } else if (+key > count) return say(`There are ${count} answers: press 1-${count}.`);
    else if (text.split(/[>=]/).includes(key)) return say(`Answer ${key} is ranked already (Backspace takes it back).`);
    else text += (/\d$/.test(text) ? ">" : "") + key;
    say("");
    box.value = text.replace(/([>=])/g, " $1 ");
    box.dispatchEvent(new Event("input", {bubbles: true}));
  };
"""

RANK_CSS = """
#pf-left .pf-rank-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 12px; }
#pf-choice.pf-task-rank textarea, #pf-choice.pf-task-rank input { font-family: var(--font-mono); font-size: 1.2rem; }
"""


def ranking_box() -> gr.Textbox:
    """The ranking being built, in the answers' numbers: the page script writes it, the submit sends it."""
    return gr.Textbox(
        label="Your ranking, best first — press the numbers; = ties, Backspace takes back, Enter submits",
        elem_id="pf-choice",
        elem_classes="pf-task-rank",
        placeholder="e.g. 3 > 1 = 4 > 2",
        lines=1,
        max_lines=1,
        scale=3,
    )


def rank_cards(shown: Shown) -> str:
    """The k answers as numbered cards, in the order this labeller is shown them."""
    text_of = dict(zip(shown.item.completion_ids, shown.item.texts))
    cards = "".join(
        f'<div class="pf-rank-card">{card_html(f"Answer {n}", str(n), text_of[answer])}</div>'
        for n, answer in enumerate(shown.order, 1)
    )
    return f'<div class="pf-rank-cards">{cards}</div>'


def shown_of(label: Label) -> list[str]:
    """The completion ids in the order the labeller saw them (recorded in ``left``)."""
    return (label.left or "").split(",")


def screen_of(label: Label) -> str:
    """A ranking label in the numbers its labeller saw: "3 > 1 = 4 > 2"."""
    try:
        return to_screen(label.ranking, shown_of(label))
    except (KeyError, RankingError):  # an order not recorded (a label from elsewhere): the ids themselves
        return label.ranking.replace(">", " > ").replace("=", " = ")


def describe_ranking(label: Label) -> str:
    return f"ranking {screen_of(label)}"


def same_ranking(label: Label, text: str) -> bool:
    """Whether ``text`` (typed on screen) is the ranking ``label`` holds (a submit that arrived twice)."""
    try:
        return screen_ranking(text, shown_of(label)) == label.ranking
    except RankingError:
        return False
