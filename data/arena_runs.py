"""What the arena's runs recorded (`data.records.ArenaRun`, the ``arenas`` table), as the leaderboard
(`data.leaderboard`) tells it: why a workspace has no arena pair (`check_arena_pairs`, `no_arena_why`), and how many
answers were not paired because they were another model's text (`identical_answers`, per pair of models as the
run tallied them: `IdenticalTally`): the board's win rates and strengths are over the answers that differed; and,
for `data validate`, the records whose answers are not stored (`missing_answers`). Pure functions over the tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.errors import PrefloopError
from data.leaderboard_models import lineage_order
from data.leaderboard_splits import prompt_splits
from data.leaderboard_votes import ARENA
from data.lineage import same_model


class IdenticalTally:
    """Per pair of an arena's models, the answer pairs `generate --arena` compared, those of one text (never paired)
    and the prompts they were on: what `data.records.ArenaRun.identical_by_models` records, so the board's note on
    an arena of three or more models names the pairs that answered alike, not only how many answers did."""

    def __init__(self) -> None:
        self._tally: dict[tuple[str, str], tuple[int, int, frozenset[str]]] = {}

    def add(self, a: str, b: str, prompt_id: str, identical: bool) -> None:
        """Models ``a`` and ``b``'s answers to ``prompt_id`` compared, ``identical`` where they were one text."""
        compared, alike, prompts = self._tally.get((a, b), (0, 0, frozenset()))
        prompts = prompts | {prompt_id} if identical else prompts
        self._tally[a, b] = (compared + 1, alike + identical, prompts)

    def rows(self, models: list[str]) -> list[dict]:
        """The model pairs with identical answers, in the order of ``models`` (the arena's): {"a", "b",
        "compared", "identical", "prompts"}."""
        order = {model: k for k, model in enumerate(models)}
        found = sorted(
            (pair for pair, tally in self._tally.items() if tally[1]), key=lambda p: [order[m] for m in p]
        )
        return [
            {"a": a, "b": b, "compared": compared, "identical": alike, "prompts": len(prompts)}
            for a, b in found
            for compared, alike, prompts in [self._tally[a, b]]
        ]


def missing_answers(arenas: pa.Table, completions: pa.Array, column: str = "answers") -> list[str]:
    """`data validate`'s line per arena record (``arenas``: id and ``column``, ``answers`` or ``ordinary``) whose
    list names an id no stored completion has (``completions``: the ids), naming the first and how many more: every
    reader takes the arena's answers (and those it left ordinary) from these lists, so a damaged one is said, one
    line a record, not one line an answer."""
    if column not in arenas.column_names:
        return []
    answers = arenas.column(column).combine_chunks()
    flat = pc.list_flatten(answers)  # a record written before the column holds null: nothing to check
    unknown = pc.invert(pc.is_in(flat, value_set=completions)).to_numpy(zero_copy_only=False)
    if not unknown.any():
        return []
    rows = pc.list_parent_indices(answers).to_numpy()[unknown].tolist()
    by_record: dict[int, list[str]] = {}
    for row, name in zip(rows, flat.filter(pa.array(unknown)).to_pylist()):
        by_record.setdefault(row, []).append(name)
    ids = arenas.column("id").to_pylist()
    return [
        f"arena {ids[row]}: {column} {names[0]} does not exist"
        + (
            f" (and {len(names) - 1} more of its {'answers' if column == 'answers' else 'ordinary answers'})"
            if len(names) > 1
            else ""
        )
        for row, names in by_record.items()
    ]


def check_arena_pairs(pairs: pd.DataFrame, arenas: pd.DataFrame | None = None) -> None:
    """A workspace without arena pairs is one line saying why (`no_arena_why`; ``arenas``: its arena records)."""
    if not (pairs["kind"] == ARENA).any():
        raise PrefloopError(f"no arena pairs in this workspace: {no_arena_why(arenas)}")


def no_arena_why(
    arenas: pd.DataFrame | None,
    sample: str = "sample them with `python -m generate --arena A,B --split test`",
) -> str:
    """Why a workspace has no arena pair, from what its arenas recorded (``arenas``: `data.records.ArenaRun` rows):
    an arena ran and every answer it compared was another model's text (`generate --arena` counts them
    `identical` and pairs none; it said "sample them with generate --arena" of an arena sampled twice), else
    ``sample``: how to sample one. Answers alone do not tell (two jobs' answers to one prompt in one round with one
    seed are no arena; another job's answers beside an arena's hid it); an arena sampled before arenas were
    recorded records it when run again (it finds its answers stored: nothing to sample)."""
    found = None if arenas is None else arenas[arenas["identical_prompts"].map(len) > 0]
    if found is None or not len(found):
        return sample
    models = {model for run in found["models"] for model in run}
    prompts = {prompt for run in found["identical_prompts"] for prompt in run}
    return (
        f"the arena was sampled ({len(models)} models answered {len(prompts)} prompts) and every answer was the same "
        "text as the other models' (`generate --arena` counts them `identical` and pairs none): nothing to vote on; "
        "compare models whose answers differ"
    )


def identical_answers(
    arenas: pd.DataFrame | None, models: pd.DataFrame, voted: set[tuple[str, int, str, str]] | None = None
) -> list[dict]:
    """Per arena (its split, round and models, each as its manifest entry; of its runs, the one over the most
    prompts: a rerun with a larger ``--limit`` answers the same first prompts and more) whose pairs the board counts
    a vote on (``voted``: `voted_arenas`, its split, round and two of its models; None: every arena; an arena that
    paired nothing, always) that left answers unpaired as another model's text (the note of an arena no vote on the
    board came from described figures it had no part in):
    {"models": ids or folders, "names": as the table names them, "split", "round", "prompts", "compared": the
    answer pairs compared, "identical": those of them unpaired, "identical_prompts": the prompts with no pair at
    all, "by_models": per pair of its models that answered alike, {"models", "names", "compared", "identical",
    "prompts"} (`IdenticalTally`; None where the run was recorded before it counted them), "shares": the answer
    pairs another note's arena holds too (`_sharing`)}; an arena another of its split and round covers (`_widest`)
    has that one's note. A vote compares only answers that differ, so a win rate of 0.727 over 33 votes said nothing
    of the prompts where the two models answered alike (each of those a tie, if counted)."""
    if arenas is None or not len(arenas):
        return []
    runs = arenas[arenas["identical"] > 0].copy()
    # each model as its manifest entry: a run before `train` registered a folder recorded the folder, one after, the id
    runs["entries"] = [lineage_order(models, list(names)) for names in runs["models"]]
    runs["key"] = [
        (split, rnd, frozenset(m["id"] for m in entries))
        for split, rnd, entries in zip(runs["split"], runs["round"], runs["entries"])
    ]
    runs = _widest(runs)
    found = []
    for run in runs.sort_values(["round", "created_at"], kind="stable").itertuples():
        # an arena that paired nothing can have no vote: its note is the one word on its models
        if voted is not None and run.pairs and not _voted_on(run, set(run.key[2]), voted):
            continue
        named = {m["label"]: m["name"] for m in run.entries}
        found.append(
            {
                "models": list(run.models),
                "names": [named[m] for m in run.models],
                "split": run.split,
                "round": int(run.round),
                "prompts": int(run.prompts),
                "compared": int(run.pairs + run.identical),
                "identical": int(run.identical),
                "identical_prompts": len(run.identical_prompts),
                "by_models": _by_models(run.identical_by_models, named),
                "entries": {m["id"]: m["name"] for m in run.entries},
            }
        )
    return _sharing(found)


def _widest(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` (``key``: split, round, model entries) less each run another run of its split and round covers: all
    its models and at least as many prompts (an arena answers its split's first ``--limit`` prompts, and a later one
    takes the answers and pairs stored before), so its answer pairs are among that run's; of one arena's runs over
    as many prompts, the latest. An arena of A and B beside one of A, B and C noted A and B's identical answers
    twice, as a vote on their pair cannot tell which arena it came from."""
    runs = runs.assign(width=runs["key"].map(lambda key: len(key[2])))
    runs = runs.sort_values(["prompts", "width", "created_at"], kind="stable")
    keys, prompts = list(runs["key"]), list(runs["prompts"])
    covered = [
        any(
            keys[j][:2] == key[:2] and key[2] <= keys[j][2] and prompts[j] >= prompts[k]
            for j in range(k + 1, len(keys))
        )
        for k, key in enumerate(keys)
    ]
    # a boolean Series, not a list: an empty list would select no column of an empty frame rather than no row
    return runs[pd.Series([not c for c in covered], index=runs.index, dtype=bool)]


def _sharing(found: list[dict]) -> list[dict]:
    """``found`` (`identical_answers`' notes, with their models' ``entries``: id to name), each with ``shares``: of
    each other note's arena of its split and round with two of its models or more, those models' names and the
    prompts both answered, whose answer pairs (and their identical answers) are both notes' (`_widest` leaves both
    where neither covers the other): {"names": the other arena's, "shared": the models of both, "prompts"}."""
    for arena in found:
        arena["shares"] = [
            {"names": other["names"], "shared": common, "prompts": min(arena["prompts"], other["prompts"])}
            for other in found
            if other is not arena and (other["split"], other["round"]) == (arena["split"], arena["round"])
            for common in [[name for i, name in arena["entries"].items() if i in other["entries"]]]
            if len(common) >= 2
        ]
    return [{k: v for k, v in arena.items() if k != "entries"} for arena in found]


def voted_arenas(
    votes: pd.DataFrame, pairs: pd.DataFrame, prompts: pd.DataFrame, models: pd.DataFrame
) -> set[tuple[str, int, str, str]]:
    """(split, round, model a, model b: manifest ids, or folders, as `ArenaRun.models` names them) of the arena
    pairs with a vote among ``votes`` (`votes_table`, as a board counts them): what `identical_answers` matches the
    arena records with."""
    labels = sorted(set(votes["model_a"]) | set(votes["model_b"]))
    ids = {m["label"]: m["id"] for m in lineage_order(models, labels)}
    rounds = votes["pair_id"].map(pairs.drop_duplicates("id").set_index("id")["round"])
    splits = prompt_splits(votes["prompt_id"], prompts)
    return {
        (split, int(rnd), ids[a], ids[b])
        for split, rnd, a, b in zip(splits, rounds, votes["model_a"], votes["model_b"])
    }


def _voted_on(run, ids: set[str], voted: set[tuple[str, int, str, str]]) -> bool:
    """Whether a vote of ``voted`` (`voted_arenas`) is on a pair of the arena ``run`` (an ``arenas`` row), whose
    models are ``ids`` as `lineage_order` names them: a run records a folder the manifest held no entry of yet by
    the folder, and the votes name it by the entry `train` registered later; it records a hub model by its snapshot
    folder, and the votes on a workspace's answers from before may name it by its hub id (`same_model`)."""
    return any(
        (split, rnd) == (run.split, run.round) and all(any(same_model(m, i) for i in ids) for m in (a, b))
        for split, rnd, a, b in voted
    )


def _by_models(recorded, named: dict[str, str]) -> list[dict] | None:
    """`identical_answers`' ``by_models`` from a run's ``identical_by_models`` (None: recorded before it was)."""
    # None, as a part written before the column reads it; empty (an `ArenaRun` made without it), as not counted
    if not isinstance(recorded, (list, np.ndarray)) or not len(recorded):
        return None
    return [
        {
            "models": [row["a"], row["b"]],
            "names": [named[row["a"]], named[row["b"]]],
            **{key: int(row[key]) for key in ("compared", "identical", "prompts")},
        }
        for row in recorded
    ]
