"""Machine labellers measured against people: pure functions over the label log, tested with exact values.

The reference is the people's verdict on an item, by the aggregation `--aggregate` names (one for stats, export,
train and the admin tab): their majority, or Dawid–Skene's verdicts of the whole workspace (`verdicts_table`, given
by the caller: a fit over the judged items alone would be another fit). People's verdicts are made of
`data.selection.verdict_labels`, as every verdict is: people's and imported labels (not SPIN's by-construction one).
Split votes are left out; each row says which reference it was measured against (``against``).

One rule wherever people are compared with a machine: ``tie`` and ``both_bad`` are one answer, no preference
(`no_preference`), since a judge has no both-bad answer. People's majority is taken with both_bad read as tie (one
tie and one both_bad on a pair is a tie verdict, not a split vote), a Dawid–Skene both_bad verdict is a tie, and a
person who answers both_bad to a machine's tie followed it. Among people (verdicts, exports, the Dawid–Skene fit)
the two stay apart: both_bad says more than tie, and a pair with one of each is a split vote there.

- ``machine_agreement``: per machine annotator and round (and over all rounds), on the pairs both labelled: raw
  agreement with ties, agreement on the pairs where neither side said tie (MT-Bench's "without tie"), Cohen's κ
  with each pair counted as stored and sides swapped (`data.choice_agreement.side_free_kappa`: which answer a pair
  stores as ``a`` moves no κ), and accuracy by the humans' strength level (Llama 2's view of a reward model);
- ``suggestion_follow``: how often labellers picked what the machine suggested, when it was shown and when it was
  hidden (`annotate --suggest`): the difference is how much the suggestion sways them.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from data.aggregate import DAWID_SKENE, MAJORITY, SPLIT, aggregate, current_labels
from data.annotators import machine_labeller_mask
from data.choice_agreement import side_free_kappa
from data.errors import counted
from data.intervals import figure_text
from data.selection import verdict_labels

TIE = "tie"
AGAINST = {MAJORITY: "majority", DAWID_SKENE: "Dawid–Skene verdicts"}  # a row's ``against``, said


def no_preference(choices: pd.Series) -> pd.Series:
    """Choices as a machine's are compared: both_bad read as tie (see the module docstring)."""
    return choices.replace({"both_bad": TIE})


def human_verdicts(labels: pd.DataFrame, dawid_skene: pd.DataFrame | pa.Table | None = None) -> pd.DataFrame:
    """item_id -> (verdict a/b/tie, strength) of the people who labelled the item, split votes left out: their
    majority with both_bad read as tie, or, given ``dawid_skene`` (`verdicts_table` by Dawid–Skene), its verdicts
    of those items, a both_bad verdict read as tie."""
    people = verdict_labels(labels)
    if dawid_skene is None:  # both_bad read as tie before the majority: no both_bad verdict comes of it
        verdicts = aggregate(people.assign(choice=no_preference(people["choice"])), "pairwise")
    else:
        if isinstance(dawid_skene, pa.Table):
            dawid_skene = dawid_skene.select(["item_id", "verdict", "strength"]).to_pandas()
        labelled = current_labels(people, "pairwise")["item_id"]
        verdicts = dawid_skene[dawid_skene["item_id"].isin(labelled)]
        verdicts = verdicts.assign(verdict=no_preference(verdicts["verdict"]))
    verdicts = verdicts[verdicts["verdict"] != SPLIT]
    return verdicts.set_index("item_id")[["verdict", "strength"]]


def machine_current(labels: pd.DataFrame) -> pd.DataFrame:
    """The current pairwise labels of machine labellers (judges and reward models)."""
    current = current_labels(labels[machine_labeller_mask(labels["annotator"])], "pairwise")
    return current.assign(choice=no_preference(current["choice"]))


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
        "kappa": side_free_kappa(machine, human),
        "accuracy_by_strength": dict(sorted(by_strength.items())),
    }


def machine_agreement(
    labels: pd.DataFrame, pairs: pd.DataFrame, dawid_skene: pd.DataFrame | pa.Table | None = None
) -> list[dict]:
    """One row per machine annotator and round, then one with round "all": its agreement with the people's
    verdicts on the pairs both labelled, their majority or, given ``dawid_skene``, those verdicts (`human_verdicts`;
    ``against`` says which)."""
    human = human_verdicts(labels, dawid_skene)
    against = MAJORITY if dawid_skene is None else DAWID_SKENE
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
            rows.append({"annotator": annotator, "round": round_, "against": against, **figures})
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
        followed = sum(picks[i] == c for i, c in zip(rows["item_id"], no_preference(rows["choice"])))
        out[mode] = {
            "labels": len(rows),
            "followed": followed,
            "rate": followed / len(rows) if len(rows) else None,
        }
    return out


def machine_lines(rows: list[dict], follow: dict[str, dict] | None = None) -> list[str]:
    """Readable lines for ``machine_agreement`` rows (and ``suggestion_follow``) in `python -m data stats`."""
    lines = []
    for r in rows:
        strengths = ", ".join(
            f"{level}: {cell['correct']}/{cell['pairs']}" for level, cell in r["accuracy_by_strength"].items()
        )
        lines.append(
            f"{r['annotator']}  round {r['round']}: {counted(r['pairs'], 'pair')}, agreement "
            f"{figure_text(r['agreement'])}, without ties {figure_text(r['agreement_without_ties'])} "
            f"({counted(r['pairs_without_ties'], 'pair')}), "
            f"kappa {figure_text(r['kappa'])}; correct by human strength {strengths or '-'}"
        )
    if follow and any(v["labels"] for v in follow.values()):
        shown, hidden = follow["shown"], follow["hidden"]
        lines.append(
            f"suggestions followed: shown {figure_text(shown['rate'])} of {shown['labels']}, "
            f"hidden {figure_text(hidden['rate'])} of {hidden['labels']}"
        )
    return lines
