"""The label tab per task: what differs between pairwise, kto, rank and rate on screen, as one table (`TASKS`).

An entry holds the task's keys table, the hint shown when a submit comes without a pick, the input the pick goes
into (the ``#pf-choice`` radios or ranking box, or the rubric panel's hidden ratings), whether the second card and
the strength radios show, whether a refused pick (an unfinished ranking or rating) stays on screen, and how an
item's answers are drawn (`cards`). annotate.app and annotate.labelling take the entry of the service's label task
(the arena's is pairwise's) and name no task themselves.
"""

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from annotate.assets import KTO_KEYS, PAIRWISE_KEYS
from annotate.rank_view import RANK_KEYS, rank_cards, ranking_box
from annotate.rate_view import RATE_KEYS, rating_panel
from annotate.render import STRENGTHS, card_html
from annotate.screen import Shown
from data.rubric import Rubric

# The radios' option order is the page script's too (annotate.assets.KEYMAP: key -> option index).
PAIRWISE_CHOICES = [("A is better  [a]", "left"), ("B is better  [b]", "right"), ("Tie  [t]", "tie")]
PAIRWISE_CHOICES.append(("Both bad  [x]", "both_bad"))
KTO_CHOICES = [("Desirable  [d]", "desirable"), ("Undesirable  [x]", "undesirable")]
STRENGTH_CHOICES = [(f"{key}  {STRENGTHS[s]}", s) for key, s in zip("1234", (4, 3, 2, 1))]

Cards = Callable[[Shown, Rubric | None, str | None], tuple[str, str]]


@dataclass(frozen=True)
class TaskView:
    """One task's label tab (see the module's docstring)."""

    keys: list[tuple[str, str]]
    pick_hint: str
    pick_input: Callable[[], gr.Component]
    cards: Cards  # (shown, the rubric, the pick on screen) -> the left and right cards' HTML
    two_cards: bool = False
    strength: bool = False
    keeps_unfinished: bool = False


def _radios(choices: list[tuple[str, str]], task: str) -> Callable[[], gr.Radio]:
    def radios() -> gr.Radio:
        return gr.Radio(
            choices, label="Your judgement", elem_id="pf-choice", elem_classes=f"pf-task-{task}", scale=3
        )

    return radios


def _ratings_box() -> gr.Textbox:
    return gr.Textbox(visible=False, elem_id="pf-ratings")  # the rubric panel's ratings (JSON)


def _pair_cards(shown: Shown, rubric: Rubric | None, choice: str | None) -> tuple[str, str]:
    texts = shown.item.texts
    left, right = (texts[0], texts[1]) if shown.left == "a" else (texts[1], texts[0])
    return card_html("A", "a", left), card_html("B", "b", right)


def _answer_card(shown: Shown, rubric: Rubric | None, choice: str | None) -> tuple[str, str]:
    return card_html("Answer", "d / x", shown.item.texts[0]), ""


def _rank_cards(shown: Shown, rubric: Rubric | None, choice: str | None) -> tuple[str, str]:
    return rank_cards(shown), ""


def _rated_card(shown: Shown, rubric: Rubric | None, choice: str | None) -> tuple[str, str]:
    # the rubric panel beside the answer, an edit's ratings picked
    return card_html("Answer", "rate →", shown.item.texts[0]), rating_panel(rubric, shown.item.id, choice)


TASKS = {
    "pairwise": TaskView(
        PAIRWISE_KEYS,
        "a / b / t / x",
        _radios(PAIRWISE_CHOICES, "pairwise"),
        _pair_cards,
        two_cards=True,
        strength=True,
    ),
    "kto": TaskView(KTO_KEYS, "d / x", _radios(KTO_CHOICES, "kto"), _answer_card),
    "rank": TaskView(
        RANK_KEYS, "the answers' numbers, best first", ranking_box, _rank_cards, keeps_unfinished=True
    ),
    "rate": TaskView(
        RATE_KEYS, "digits, Tab to move", _ratings_box, _rated_card, two_cards=True, keeps_unfinished=True
    ),
}
