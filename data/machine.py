"""Machine labellers measured against people: pure functions over the label log, tested with exact values.

The reference is the human majority of an item: the aggregated verdict of every label that is not a machine
labeller's (`judge:`/`rm:`) nor SPIN's by-construction label, so imported human preferences count as human. A
``both_bad`` verdict compares as a tie (a judge has no both-bad answer); split votes are left out.

- ``machine_agreement``: per machine annotator and round (and over all rounds), on the pairs both labelled: raw
  agreement with ties, agreement on the pairs where neither side said tie (MT-Bench's "without tie"), Cohen's κ,
  and accuracy by the humans' strength level (Llama 2's view of a reward model);
- ``suggestion_follow``: how often labellers picked what the machine suggested, when it was shown and when it was
  hidden (`annotate --suggest`): the difference is how much the suggestion sways them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd

from data.aggregate import SPLIT, aggregate, current_labels
from data.annotators import SPIN, machine_labeller_mask
from data.errors import counted

TIE = "tie"


def cohen_kappa(x: Sequence[str], y: Sequence[str]) -> float | None:
    """kappa = (p_o - p_e) / (1 - p_e) for two labellers' choices on the same items (Cohen 1960)."""
    if len(x) != len(y):
        raise ValueError("cohen_kappa needs two equally long label lists")
    n = len(x)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(x, y)) / n
    cx, cy = Counter(x), Counter(y)
    expected = sum(cx[c] * cy[c] for c in cx) / n**2
    return None if expected == 1 else (observed - expected) / (1 - expected)


def human_verdicts(labels: pd.DataFrame) -> pd.DataFrame:
    """item_id -> (verdict a/b/tie, strength) of the human majority, split votes left out."""
    people = labels[~machine_labeller_mask(labels["annotator"]) & (labels["annotator"] != SPIN)]
    verdicts = aggregate(people, "pairwise")
    verdicts = verdicts[verdicts["verdict"] != SPLIT].copy()
    verdicts["verdict"] = verdicts["verdict"].replace({"both_bad": TIE})
    return verdicts.set_index("item_id")[["verdict", "strength"]]


def machine_current(labels: pd.DataFrame) -> pd.DataFrame:
    """The current pairwise labels of machine labellers (judges and reward models)."""
    current = current_labels(labels[machine_labeller_mask(labels["annotator"])], "pairwise")
    return current.assign(choice=current["choice"].replace({"both_bad": TIE}))


def _figures(machine: list[str], human: list[str], strength: list) -> dict:
    decisive = [(m, h) for m, h in zip(machine, human) if m != TIE and h != TIE]
    by_strength: dict[str, dict] = {}
    for m, h, s in zip(machine, human, strength):
        if h == TIE:
            continue
        level = "none" if s is None or pd.isna(s) else str(int(round(s)))
        cell = by_strength.setdefault(level, {"pairs": 0, "correct": 0})
        cell["pairs"] += 1
        cell["correct"] += m == h
    for cell in by_strength.values():
        cell["accuracy"] = cell["correct"] / cell["pairs"]
    return {
        "pairs": len(machine),
        "agreement": sum(m == h for m, h in zip(machine, human)) / len(machine) if machine else None,
        "pairs_without_ties": len(decisive),
        "agreement_without_ties": sum(m == h for m, h in decisive) / len(decisive) if decisive else None,
        "kappa": cohen_kappa(machine, human),
        "accuracy_by_strength": dict(sorted(by_strength.items())),
    }


def machine_agreement(labels: pd.DataFrame, pairs: pd.DataFrame) -> list[dict]:
    """One row per machine annotator and round, then one with round "all": its agreement with the human majority
    on the pairs both labelled (see the module docstring)."""
    human = human_verdicts(labels)
    machine = machine_current(labels)
    machine = machine[machine["item_id"].isin(human.index)]
    rows = []
    if machine.empty:
        return rows
    round_of = pd.Series(pairs["round"].to_numpy(), index=pairs["id"].to_numpy())
    for annotator, group in machine.groupby("annotator", sort=True):
        group = group.assign(round=group["item_id"].map(round_of))
        parts = [(int(r), g) for r, g in group.groupby("round", sort=True)] + [("all", group)]
        for round_, part in parts:
            truth = human.loc[part["item_id"]]
            figures = _figures(list(part["choice"]), list(truth["verdict"]), list(truth["strength"]))
            rows.append({"annotator": annotator, "round": round_, **figures})
    return rows


def machine_picks(labels: pd.DataFrame) -> dict[str, str]:
    """item_id -> the machine labellers' majority choice (a, b or tie), where they have one."""
    verdicts = aggregate(machine_current(labels), "pairwise")
    verdicts = verdicts[verdicts["verdict"] != SPLIT]
    return dict(zip(verdicts["item_id"], verdicts["verdict"]))


def machine_certainty(labels: pd.DataFrame) -> dict[str, float]:
    """item_id -> how sure the machine labellers are (0 = not at all): 0 where they disagree with each other or
    call a tie, else the smallest confidence among them (1 where none was recorded)."""
    out = {}
    for item, group in machine_current(labels).groupby("item_id"):
        choices = set(group["choice"])
        if len(choices) > 1 or choices == {TIE}:
            out[item] = 0.0
        else:
            out[item] = float(group["confidence"].fillna(1.0).min())
    return out


def suggestion_follow(labels: pd.DataFrame) -> dict[str, dict]:
    """For labels made with the machine's pick shown / hidden: how many, and the share that chose that pick."""
    picks = machine_picks(labels)
    people = labels[~machine_labeller_mask(labels["annotator"]) & labels["suggestion"].notna()]
    current = current_labels(people, "pairwise")
    out = {}
    for mode in ("shown", "hidden"):
        rows = current[(current["suggestion"] == mode) & current["item_id"].isin(picks)]
        followed = sum(picks[i] == c for i, c in zip(rows["item_id"], rows["choice"]))
        out[mode] = {
            "labels": len(rows),
            "followed": followed,
            "rate": followed / len(rows) if len(rows) else None,
        }
    return out


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def machine_lines(rows: list[dict], follow: dict[str, dict] | None = None) -> list[str]:
    """Readable lines for ``machine_agreement`` rows (and ``suggestion_follow``) in `python -m data stats`."""
    lines = []
    for r in rows:
        strengths = ", ".join(
            f"{level}: {cell['correct']}/{cell['pairs']}" for level, cell in r["accuracy_by_strength"].items()
        )
        lines.append(
            f"{r['annotator']}  round {r['round']}: {counted(r['pairs'], 'pair')}, agreement "
            f"{_number(r['agreement'])}, without ties {_number(r['agreement_without_ties'])} "
            f"({counted(r['pairs_without_ties'], 'pair')}), "
            f"kappa {_number(r['kappa'])}; correct by human strength {strengths or '-'}"
        )
    if follow and any(v["labels"] for v in follow.values()):
        shown, hidden = follow["shown"], follow["hidden"]
        lines.append(
            f"suggestions followed: shown {_number(shown['rate'])} of {shown['labels']}, "
            f"hidden {_number(hidden['rate'])} of {hidden['labels']}"
        )
    return lines
