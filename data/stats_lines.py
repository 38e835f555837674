"""`python -m data stats` in plain words: one line (or a heading and its indented lines) per figure of
`data.stats.workspace_stats`, each starting with its key as ``--json`` names it (``rows: 8 prompts, 18 completions,
...``), never a Python dict or list. ``--json`` prints the figures themselves.

Each figure has its own small function in `LINES`; a figure with none (a plain number) is printed as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from data.errors import counted, one_line
from data.intervals import figure_text
from data.lineage import lineage_lines
from data.machine import AGAINST, machine_lines
from data.rank_agreement import left_out_note, tau_items_note
from data.selection import VERDICT_LABELS
from data.stats import TABLES


def _number(value: float | None) -> str:
    return figure_text(value, none="n/a")


def _listed(parts: list[str]) -> str:
    return ", ".join(parts) or "none"


# The split items an export counts under another reason (`data.stats.split_counted_apart`), in words
SPLIT_APART = {"gold": "on gold items", "kind_arena_not_asked": "on arena pairs"}


def apart_note(apart: dict | None) -> str:
    """`` (3 on gold items: an export counts them as gold, not split)``; "" where none is."""
    if not apart:
        return ""
    parts = ", ".join(f"{n} {SPLIT_APART[reason]}" for reason, n in apart.items())
    them = "it" if sum(apart.values()) == 1 else "them"
    return f" ({parts}: an export counts {them} as {', '.join(apart)}, not split)"


def item_line(key: str, figures: dict) -> str:
    """A pairwise, KTO or rank `<task>_items` figure: in words, and whose labels it counts (`verdict_labels`)."""
    if key == "rank_items":
        return (
            f"{key} ({VERDICT_LABELS}): {counted(figures['rankings'], 'ranking')} of "
            f"{counted(figures['items'], 'item')}, {counted(figures['multi_ranked_items'], 'item')} ranked by ≥2; "
            f"Kendall's τ-b {_number(figures['kendall_tau'])}{tau_items_note(figures)}, Krippendorff's α (ordinal) "
            f"{_number(figures['alpha_ordinal'])}{left_out_note(figures)}"
        )
    return (
        f"{key} ({figures['aggregate']}; {VERDICT_LABELS}): {counted(figures['labelled'], 'item')} labelled, "
        f"{figures['split_votes']} split{apart_note(figures.get('split_votes_counted_apart'))}, mean agreement "
        f"{_number(figures['mean_agreement_multi_annotator'])} "
        "on items with ≥2 labels"
    )


def _rate_lines(key: str, figures: dict) -> list[str]:
    """The rated answers and ratings, then Krippendorff's α of each rubric aspect on a line of its own."""
    lines = [
        f"{key} ({VERDICT_LABELS}): {counted(figures['rated'], 'answer')} rated, "
        f"{counted(figures['ratings'], 'rating')}; Krippendorff's α per aspect:"
        + ("" if figures["alpha_per_aspect"] else " none")
    ]
    for aspect, alphas in figures["alpha_per_aspect"].items():
        both = " / ".join(_number(alphas[level]) for level in ("interval", "ordinal"))
        lines.append(
            f"  {aspect}: {both} (interval / ordinal; {counted(alphas['items'], 'answer')} with ≥2 ratings)"
        )
    return lines


def _rows(key: str, rows: dict[str, int]) -> list[str]:
    """Each table's rows, the tables in the order the records flow (prompts first)."""
    names = [name for name in TABLES if name in rows] + [name for name in rows if name not in TABLES]
    return [f"{key}: " + _listed([counted(rows[name], name.removesuffix("s"), name) for name in names])]


def _pairs_by_kind_round(key: str, counts: dict[str, int]) -> list[str]:
    """``{"edit/round 0": 1}`` as ``1 edit in round 0``."""
    said = []
    for kind_round, n in counts.items():
        kind, _, rnd = kind_round.partition("/")
        said.append(f"{n} {kind} in {rnd}")
    return [f"{key}: {_listed(said)}"]


def _counts(each: str) -> Callable[[str, dict], list[str]]:
    """Counts by value, each written as ``each`` says (``{n} in {value}``: ``2 in test``)."""
    return lambda key, counts: [f"{key}: " + _listed([each.format(n=n, value=v) for v, n in counts.items()])]


def _labels(key: str, distribution: dict[str, dict[str, int]]) -> list[str]:
    """The labels of each task by choice: ``pairwise (11 a, 0 b, 0 tie, 0 both_bad); kto (...)``; rankings and
    ratings have lines of their own (``none pairwise or kto`` where those are all there is; `stats_lines` says
    ``none`` where there is no label at all)."""
    tasks = [
        f"{task} ({', '.join(f'{n} {choice}' for choice, n in choices.items())})"
        for task, choices in distribution.items()
    ]
    return [f"{key}: " + ("; ".join(tasks) or "none pairwise or kto")]


def _annotators(key: str, labels: dict[str, int]) -> list[str]:
    """Each machine annotator and its labels in force: ``judge:J (5 labels)``."""
    return [f"{key}: " + _listed([f"{name} ({counted(n, 'label')})" for name, n in labels.items()])]


def _withdrawn(
    key: str, labels: dict[str, int]
) -> list[str]:  # no labels: counted apart from machine_annotators'
    shown = ", ".join(f"{name} {n}" for name, n in labels.items())
    return [f"machine annotators' labels withdrawn (data import --remove), not counted above: {shown}"]


def _edits(key: str, edits: dict) -> list[str]:
    editors = ", ".join(f"{n} {e['edits']} ({e['kept']} kept)" for n, e in edits["by_labeller"].items())
    return [
        f"edits: {edits['made']} made, {edits['kept']} kept, {edits['undone']} undone ({editors}); "
        "their own labels are not in the label counts or agreement"
    ]


def arena_only_line(counts: dict[str, int]) -> str:
    """What `data stats` and `data validate` say of the labels other tasks hold on the arena's answers."""
    tasks = ", ".join(f"{task} {n}" for task, n in counts.items())
    return (
        f"arena_only_labels: {counted(sum(counts.values()), 'label')} of other tasks on the arena's answers ({tasks}), "
        "which are evaluation data: left out of every export and train (counted arena_only) and of stats' "
        "<task>_items"
    )


NAMED = 5  # the gold items on the arena's answers `arena_gold_line` names


def arena_gold_line(items: dict[str, list[str]]) -> str:
    """What `data stats` says of the gold items on the arena's answers (`data.selection.arena_gold`), by task, with
    their ids (the first `NAMED`), which `gold_items` leaves out."""
    ids = [item for named in items.values() for item in named]
    more = f" and {len(ids) - NAMED} more" if len(ids) > NAMED else ""
    tasks = ", ".join(f"{task} {len(named)}" for task, named in items.items())
    return (
        f"arena_only_gold: {counted(len(ids), 'gold item')} on the arena's answers ({tasks}), made before they were "
        "evaluation data: left out of gold_items, as no app serves them and exports count their labels arena_only "
        f"(`python -m data gold --remove ID` withdraws one): {', '.join(ids[:NAMED])}{more}"
    )


def _models(key: str, models: list[dict]) -> list[str]:
    heading = "lineage (round -> data -> model -> held-out metrics):" + ("" if models else " no models yet")
    return [heading, *(f"  {line}" for line in lineage_lines(models))]


# Figures `workspace_stats` gives where rankings or ratings are stored
RANK_RATE_FIGURES = {"rank_items", "rate_items"}
LINES: dict[str, Callable[[str, object], list[str]]] = {
    "rows": _rows,
    "prompts_by_split": _counts("{n} in {value}"),
    "completions_by_engine": _counts("{n} by {value}"),
    "pairs_by_kind_round": _pairs_by_kind_round,
    "labellers": lambda key, names: [f"{key}: {_listed(names)}"],
    "machine_annotators": _annotators,
    "machine_annotators_withdrawn": _withdrawn,
    "edits": _edits,
    "arena_only_labels": lambda key, counts: [arena_only_line(counts)],
    "gold_items": _counts("{n} {value}"),
    "arena_only_gold": lambda key, items: [arena_gold_line(items)],
    "labels": _labels,
    "machine_labels": _labels,
    "pairwise_items": lambda key, figures: [item_line(key, figures)],
    "kto_items": lambda key, figures: [item_line(key, figures)],
    "rank_items": lambda key, figures: [item_line(key, figures)],
    "rate_items": _rate_lines,
    "models": _models,
}


def stats_lines(stats: dict, aggregate: str, excluded_line: str) -> list[str]:
    """The lines `python -m data stats` prints for ``stats`` (`workspace_stats`; ``aggregate``: the verdicts'
    method, ``excluded_line``: who is excluded and from where, `Exclusion.line`). A name from the workspace (a
    labeller's, a split's) that holds a control character is shown escaped (`one_line`), as a dict showed it."""
    stats = dict(stats)
    follow = stats.pop("suggestions", None)
    lines = []
    for key, value in stats.items():
        if key == "machine_agreement":
            lines.append(f"machine labellers vs the human {AGAINST[aggregate]}:" + ("" if value else " none"))
            lines += [f"  {line}" for line in machine_lines(value, follow)]
        elif key == "excluded_labellers":  # who, from where, and which lines below leave them out
            left_out = ", ".join(value["left_out_of"])
            lines.append(f"{excluded_line}: labels stored and counted in labels, left out of {left_out}")
        elif key == "labels" and not value and not stats.keys() & RANK_RATE_FIGURES:
            lines.append(f"{key}: none")  # "none pairwise or kto" would say rankings or ratings were stored
        elif key in LINES:
            lines += LINES[key](key, value)
        else:
            lines.append(f"{key}: {value}")
    return [one_line(line) for line in lines]
