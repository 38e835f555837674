"""Which model each side of an arena vote is, and in what order the leaderboard lists the models.

A model's answers may be recorded under more than one label: a hub model under its hub id and under its snapshot
folder (`data.lineage.same_model`). `one_label_per_model` names each such model once, as the manifest's path for it
(else its snapshot), so it is one row on the board, and leaves out a vote that compares a model with itself;
`lineage_order` gives each label its manifest entry (round, parent, a readable name) in lineage order, the reference
(the base) first. Pure functions over the votes and the manifest (`data.leaderboard` builds the board with them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from data.errors import counted
from data.lineage import same_model
from data.provision import hub_id_of

log = logging.getLogger(__name__)


# why a vote compares a model with itself (`named_once`), as the board's votes-by-split line says it: it is on no board
SAME_MODEL = "same_model"
ITSELF = "itself"
SELF_VOTES = {
    SAME_MODEL: "comparing two answers of one model, both sides under its name",
    ITSELF: "comparing a model with itself, under its hub id and its snapshot folder",
}


def one_label_per_model(votes: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """``votes`` with each side named once per model (`named_once`); a vote that compares a model with itself
    compares nothing: it is left out, and counted in a warning by why (`SELF_VOTES`)."""
    votes, why = named_once(votes, models)
    for reason, said in SELF_VOTES.items():
        if n := int((why == reason).sum()):
            log.warning("%s %s: left out", counted(n, "vote"), said)
    return votes[why.isna()]


def named_once(votes: pd.DataFrame, models: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """``votes`` with each side named once per model, and why each compares a model with itself (None where it
    compares two): both sides one label (`SAME_MODEL`: an imported arena pair of one model's answers, which gave it a
    win over itself), or a hub model's answers recorded under its hub id and under its snapshot folder (`ITSELF`,
    `data.lineage.same_model`; a workspace's arena answers from before the snapshot named hub models), named as the
    manifest's path for it, else as the snapshot: one row on the board, not two."""
    why = pd.Series(None, index=votes.index, dtype=object)
    why[votes["model_a"] == votes["model_b"]] = SAME_MODEL
    rename = model_renames(set(votes["model_a"]) | set(votes["model_b"]), models)
    if rename:
        votes = votes.replace({"model_a": rename, "model_b": rename})
        why[why.isna() & (votes["model_a"] == votes["model_b"])] = ITSELF
    return votes, why


def model_renames(seen: set[str], models: pd.DataFrame) -> dict[str, str]:
    """The completion labels of ``seen`` that name a model another label names (`one_label_per_model`): label ->
    the manifest's path for it, else its snapshot folder."""
    paths = list(models.sort_values(["created_at", "id"], kind="stable")["path"])[::-1]  # the newest first
    known = set(paths) | set(models["id"])
    snapshots = [
        label for label in sorted(seen) if label not in known and hub_id_of(label) not in (None, label)
    ]
    rename = {}
    for label in seen - known:
        others = paths + (snapshots if hub_id_of(label) == label else [])
        rename[label] = next((n for n in others if same_model(n, label)), label)
    return {label: name for label, name in rename.items() if name != label}


def lineage_order(models: pd.DataFrame, labels: Sequence[str]) -> list[dict]:
    """The arena's models (completion labels) with their manifest entries, in lineage order (round, then
    registration); a label is a manifest id or a model folder; unknown labels come last, by name."""
    manifest = models.sort_values(["created_at", "id"], kind="stable")
    by_path = {row["path"]: row for _, row in manifest.iterrows()}  # the newest entry of each folder
    by_id = {row["id"]: row for _, row in manifest.iterrows()}
    found = []
    for label in labels:
        row = by_id.get(label)
        row = by_path.get(label) if row is None else row
        if row is None:
            found.append(
                {
                    "label": label,
                    "id": label,
                    "name": printable(label),
                    "round": None,
                    "parent": None,
                    "order": None,
                }
            )
            continue
        parent = None if pd.isna(row["parent_id"]) else row["parent_id"]
        name = manifest_name(row["id"], row["path"], row["method"], int(row["round"]))
        order = (int(row["round"]), manifest.index.get_loc(row.name))
        found.append(
            {
                "label": label,
                "id": row["id"],
                "name": name,
                "round": int(row["round"]),
                "parent": parent,
                "order": order,
            }
        )
    return sorted(found, key=lambda m: (m["order"] is None, m["order"] or (0, 0), m["name"]))


def manifest_name(model_id: str, path: str, method: str, round: int) -> str:
    """A manifest model as the board names it, `base r0 c67d5038 (m_a)`: its method, round, id's first 8 digits
    (which `--arena` and `--by` take) and folder."""
    return f"{method} r{round} {model_id[:8]} ({printable(Path(path).name)})"


def printable(name: str) -> str:
    """A model's folder as the table and plot show it: a newline or other control character escaped (one row)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
