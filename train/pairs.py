"""Training rows from the workspace, through `data`'s exports: preference pairs (DPO family, SPIN) and KTO rows,
from pairwise and KTO labels or from rubric ratings (`data.ratings`: --kto-from, --rm-from-ratings), and SFT rows
(gold answers and labellers' edits, as `python -m data export --format sft [--edits]`)."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd

from data.aggregate import MAJORITY
from data.edits import edit_pair_ids, without_gold_edits
from data.errors import PrefloopError
from data.export import to_dpo, to_kto
from data.export_labels import export_labels
from data.export_sft import split_answer, to_sft
from data.export_workspace import sft_edits_rows
from data.gold import read_gold
from data.rank_pairs import RANK_KIND, other_round_items
from data.ratings import kto_from_ratings, pairs_from_ratings, ratings_table
from data.records import Label, content_id, to_row
from data.selection import excluded_labellers, of_kinds, of_split
from data.workspace import Workspace
from train.losses import agreement_noise, agreement_weights, odpo_offset
from train.sources import machine_only_items

AGREEMENT_MODES = ("off", "smoothing", "robust", "weight")
SFT_SOURCES = ("gold", "edits")  # --sft-from: prompts' gold answers, labellers' kept edits


class TrainDataError(PrefloopError):
    """The workspace holds nothing this method can train on."""


def preference_rows(
    workspace: Workspace,
    split: str | None,
    kinds: tuple[str, ...],
    rounds: tuple[int, ...] | None = None,
    labels: str = "auto",
    aggregate: str = MAJORITY,
    excluded: tuple[str, ...] = (),
    rank_pairs: str = "all",
    held_out: bool = False,
    min_posterior: float | None = None,
) -> tuple[list[dict], Counter]:
    """Labelled pairs (verdict a or b) of the given kinds, rounds and split, in TRL's DPO columns, from the labels
    of ``labels`` (`train.sources`) less the ``excluded`` labellers' (and excluded.json's), aggregated by
    ``aggregate`` (majority or dawid-skene, as `python -m data export`); gold pairs never train. Kind ``rank``: the
    ``rank_pairs`` (all or adjacent) of each ranking (`data.rank_pairs`); a pair, or a rank item (once), of a round
    not in ``rounds`` is counted ``other_round``. Each row's ``source`` says whether only machine labellers
    decided it. ``held_out`` (the evaluation's rows): gold pairs join too, decided by their gold answer alone (they
    are the surest verdicts there are; evaluating on them trains nothing)."""
    # Children first, in data export's order (Workspace.read): gold, labels, pairs, completions, prompts, so a
    # label or pair appended meanwhile never shows without its parents.
    gold = read_gold(workspace)
    rank_gold = read_gold(workspace, "rank").column("item_id").to_pylist()  # gold rankings never train either
    stored = workspace.frame("labels")
    pairs, arenas = workspace.frame("pairs"), workspace.frame("arenas")  # which answers are the arena's
    completions, prompts = workspace.frame("completions"), workspace.frame("prompts")
    excluded = excluded_labellers(workspace.path, excluded)  # and the admin tab's switch
    chosen = export_labels(stored, "dpo", excluded, labels, pairs, arenas)  # as export's
    dropped: Counter = Counter()  # edits of gold items' answers never train, as gold pairs
    edits = edit_pair_ids(pairs)  # their labels stay out of Dawid–Skene's fit, whichever kinds train
    # the other split's pairs first, so that the counts below are the split's own (as data export's)
    pairs = of_split(chosen.pairs_of(pairs), prompts, split, dropped)
    pairs = without_gold_edits(pairs, gold, dropped, rank_gold, completions)
    pairs = of_kinds(pairs, kinds, dropped)  # as data export counts them
    ranks = rank_pairs if RANK_KIND in kinds else "none"
    other_rounds: set[str] = set()  # rank items of the rounds not asked: counted whole, other_round
    if rounds is not None:
        pairs = _of_rounds(pairs, rounds, dropped)
        other_rounds = other_round_items(chosen.items_of(completions), rounds) if ranks != "none" else set()
    rows, counts = to_dpo(
        prompts,
        completions,
        pairs,
        chosen.labels,
        split,
        aggregate,
        gold,
        ranks,
        edits,
        rank_gold,
        min_posterior,
        other_rounds=other_rounds,
        **chosen.undecided(completions, rank_gold),
    )
    counts.update(dropped + chosen.arena_counts(completions, prompts, split))
    if held_out and gold.num_rows:
        on_gold = _gold_rows(prompts, completions, pairs, gold, split)
        rows += on_gold
        counts["gold_evaluated"] = len(on_gold)
    _mark_sources(rows, chosen.labels)
    return rows, counts


def _mark_sources(rows: list[dict], labels: pd.DataFrame) -> None:
    """Each row's reference-cache key, and its ``source``: machine where only machine labellers decided it."""
    machine = machine_only_items(labels)
    for row in rows:
        row["ref_key"] = content_id(row["prompt"], row["chosen"], row["rejected"])
        row["source"] = "machine" if row["pair_id"] in machine else "human"


def _of_rounds(pairs: pd.DataFrame, rounds: tuple[int, ...], dropped: Counter) -> pd.DataFrame:
    """The pairs of ``rounds``; the rest counted ``other_round`` in ``dropped``."""
    inside = pairs["round"].isin(rounds)
    dropped["other_round"] += int((~inside).sum())
    return pairs[inside]


def _gold_rows(prompts, completions, pairs: pd.DataFrame, gold, split: str | None) -> list[dict]:
    """The held-out rows of the gold pairs, decided by their gold answer alone."""
    scored = pairs[pairs["id"].isin(set(gold.column("item_id").to_pylist()))]
    rows, _ = to_dpo(prompts, completions, scored, _answers(gold, "pairwise"), split)
    return rows


def _answers(gold, task: str) -> pd.DataFrame:
    """Gold answers as one label each (annotator ``gold``), for the verdicts of the held-out rows."""
    return pd.DataFrame(
        [
            to_row(Label(item, "gold", task, choice))
            for item, choice in zip(*gold.select(["item_id", "choice"]).columns)
        ]
    )


def kto_rows(
    workspace: Workspace,
    split: str | None,
    seed: int = 0,
    labels: str = "auto",
    aggregate: str = MAJORITY,
    excluded: tuple[str, ...] = (),
    held_out: bool = False,
    min_posterior: float | None = None,
) -> tuple[list[dict], Counter]:
    """KTO rows from the KTO labels of ``labels`` (`data.selection.choose_labels`) less the ``excluded``
    labellers', as `python -m data export --format kto` makes them (an answer labelled only by labellers ``labels``
    does not choose counted unlabelled), ordered so that every stretch of the data mixes desirable and undesirable
    examples.

    TRL's KTOTrainer reads the data in order (its KL estimate pairs each example with its batch neighbours), so a
    file sorted by label would give one-sided batches. Each kind is shuffled (seeded) and the two are interleaved in
    proportion to their counts.
    """
    gold = read_gold(workspace, "kto")
    stored = workspace.frame("labels")
    pairs, arenas = workspace.frame("pairs"), workspace.frame("arenas")  # which answers are the arena's
    chosen = export_labels(
        stored, "kto", excluded_labellers(workspace.path, excluded), labels, pairs, arenas
    )  # as export's
    completions, prompts = workspace.frame("completions"), workspace.frame("prompts")  # children first
    rows, counts = to_kto(
        prompts,
        chosen.items_of(completions),
        chosen.labels,
        split,
        aggregate,
        gold,
        min_posterior,
        chosen.excluded_only("kto"),
        chosen.unlabelled("kto"),
    )
    counts.update(chosen.arena_counts(completions, prompts, split))
    if held_out and gold.num_rows:  # gold completions, decided by their gold answer (as preference_rows)
        on_gold, _ = to_kto(prompts, completions, _answers(gold, "kto"), split)
        rows += on_gold
        counts["gold_evaluated"] = len(on_gold)
    return interleave(rows, seed), counts


def check_sft_sources(sources: tuple[str, ...]) -> None:
    unknown = sorted(set(sources) - set(SFT_SOURCES))
    if unknown or not sources:
        raise PrefloopError(
            f"--sft-from {','.join(unknown)}: expected one or both of {', '.join(SFT_SOURCES)}"
        )


def sft_rows(
    workspace: Workspace,
    split: str | None,
    sources: tuple[str, ...] = SFT_SOURCES,
    labels: str = "auto",
    excluded: tuple[str, ...] = (),
) -> tuple[list[dict], Counter]:
    """SFT rows in TRL's conversational prompt-completion columns (so that the loss is on the answer only): the
    gold answers of the prompts of ``split`` (`data.export_sft.to_sft`) and the labellers' kept edits
    (`data.edits.sft_edits_table`, the labels of ``labels`` less the ``excluded`` labellers' deciding whether an
    edit still stands: `data.export_labels.export_labels`, as `python -m data export --format sft
    --edits`), as ``sources`` say. Each row's ``source`` is ``gold`` or ``edit``; the counts name what was left
    out (``no_gold``, ``undone``, ``gold``: edits of a gold item's answer, ``unlabelled``: every edit with
    ``labels`` machine, ...)."""
    check_sft_sources(sources)
    counts: Counter = Counter()
    rows: list[dict] = []
    if "gold" in sources:
        gold_rows, gold_counts = to_sft(workspace.frame("prompts"), split)
        rows += [{**row, "source": "gold"} for row in gold_rows]
        counts.update({"gold_answers": gold_counts.pop("exported"), **gold_counts})
    if "edits" in sources:
        gold = read_gold(workspace)  # children first (Workspace.read): a concurrent append never half-shows
        rank_gold = read_gold(workspace, "rank").column("item_id").to_pylist()
        stored, pairs = workspace.frame("labels"), workspace.frame("pairs")
        arenas = workspace.frame("arenas")  # which answers are the arena's
        excluded = excluded_labellers(workspace.path, excluded)
        chosen = export_labels(stored, "sft-edits", excluded, labels, pairs, arenas)  # as export's
        completions, prompts = workspace.frame("completions"), workspace.frame("prompts")  # children first
        table, edit_counts = sft_edits_rows((prompts, completions, chosen, gold), pairs, split, rank_gold)
        rows += [{**row, "source": "edit"} for row in table.to_pylist()]
        counts.update({"edits": edit_counts.pop("exported"), **edit_counts})
        counts.update(chosen.arena_counts(completions, prompts, split))  # other_split adds to the edits'
    for row in rows:  # as `data export --format sft --sft-shape prompt-completion` splits them
        row["prompt"], row["completion"] = split_answer(row.pop("messages"))
    return rows, Counter({k: v for k, v in counts.items() if v})


def _rated(workspace: Workspace, split: str | None, excluded: tuple[str, ...], labels: str = "auto"):
    """The ratings export (`data.ratings.ratings_table`, as `python -m data export --format ratings --labels
    LABELS`) of ``split``, the labels it was made from, and the counts of the answers it left out: gold (``gold``:
    they measure raters, never train), rated by excluded labellers only (``excluded_only``), of the other split
    (``other_split``), rated by nobody or only by labellers ``labels`` does not choose (``unlabelled``), with a
    blank text (``degenerate``)."""
    gold = read_gold(workspace, "rate").column("item_id").to_pylist()  # children first (Workspace.read)
    stored = workspace.frame("labels")
    pairs, arenas = workspace.frame("pairs"), workspace.frame("arenas")  # which answers are the arena's
    chosen = export_labels(
        stored, "ratings", excluded_labellers(workspace.path, excluded), labels, pairs, arenas
    )  # as export's
    completions, prompts = workspace.frame("completions"), workspace.frame("prompts")  # children first
    table, counts = ratings_table(
        prompts,
        chosen.items_of(completions),
        chosen.labels,
        split,
        gold,
        chosen.excluded_only("rate"),
        chosen.unlabelled("rate"),
    )
    # every answer of the rate task, counted once
    kept = ("gold", "excluded_only", "other_split", "unlabelled", "degenerate")
    counts = Counter({k: counts[k] for k in kept if counts[k]})
    return table, chosen.labels, counts + chosen.arena_counts(completions, prompts, split)


def rating_kto_rows(
    workspace: Workspace,
    split: str | None,
    rule: str,
    seed: int = 0,
    excluded: tuple[str, ...] = (),
    labels: str = "auto",
) -> tuple[list[dict], Counter]:
    """KTO rows from rubric ratings (``--kto-from 'ASPECT>=3'``, `data.ratings.kto_from_ratings`) of the labellers
    ``labels`` chooses, interleaved as `kto_rows`; the counts name what was left out (unrated, ambiguous, gold)."""
    table, chosen, left_out = _rated(workspace, split, excluded, labels)
    rows, counts = kto_from_ratings(table, rule, chosen)
    return interleave(rows, seed), counts + left_out


def rating_preference_rows(
    workspace: Workspace,
    split: str | None,
    aspect: str,
    excluded: tuple[str, ...] = (),
    labels: str = "auto",
) -> tuple[list[dict], Counter]:
    """Preference rows from rubric ratings (``--rm-from-ratings ASPECT``, `data.ratings.pairs_from_ratings`) of the
    labellers ``labels`` chooses: every two rated answers to a prompt, the higher rated chosen; equal ratings give
    no pair (counted). A pair of two answers only machine labellers rated is a ``machine`` row (`train.sources`)."""
    table, chosen, left_out = _rated(workspace, split, excluded, labels)
    rows, counts = pairs_from_ratings(table, aspect)
    counts.update(left_out)
    machine = machine_only_items(chosen, "rate")
    for row in rows:
        row["ref_key"] = content_id(row["prompt"], row["chosen"], row["rejected"])
        by_machine = row["chosen_id"] in machine and row["rejected_id"] in machine
        row["source"] = "machine" if by_machine else "human"
    return rows, counts


def interleave(rows: list[dict], seed: int) -> list[dict]:
    """KTO rows shuffled (seeded) within each label and interleaved in proportion to the counts."""
    rng = random.Random(seed)
    good = [r for r in rows if r["label"]]
    bad = [r for r in rows if not r["label"]]
    rng.shuffle(good)
    rng.shuffle(bad)
    mixed: list[dict] = []
    gi = bi = 0
    while gi < len(good) or bi < len(bad):
        # Take the kind whose next element sits earlier in its own proportional timeline.
        if bi >= len(bad) or (gi < len(good) and (gi + 0.5) / len(good) <= (bi + 0.5) / len(bad)):
            mixed.append(good[gi])
            gi += 1
        else:
            mixed.append(bad[bi])
            bi += 1
    return mixed


def kto_loss_weights(
    desirable_weight: float | None, undesirable_weight: float | None, rows: list[dict]
) -> dict[str, float]:
    """The KTO weights a run trains with: the flags where given, else balanced from the ``rows`` it trains
    (`kto_weights`); metrics.json records them (`kto_weights`), as the flags' default is no number."""
    good = sum(bool(r["label"]) for r in rows)
    balanced = kto_weights(good, len(rows) - good)
    return {"desirable": desirable_weight or balanced[0], "undesirable": undesirable_weight or balanced[1]}


def kto_weights(desirable: int, undesirable: int) -> tuple[float, float]:
    """(desirable_weight, undesirable_weight) with λ_D·n_D = λ_U·n_U, the balance the KTO paper recommends
    (its advice: λ_D·n_D / (λ_U·n_U) in [1, 4/3]); the larger class keeps weight 1."""
    if not desirable or not undesirable:
        return 1.0, 1.0
    if desirable >= undesirable:
        return 1.0, desirable / undesirable
    return undesirable / desirable, 1.0


def add_agreement(rows: list[dict], mode: str) -> dict:
    """Attach the per-pair columns of ``--agreement`` to ``rows`` (``weight``: normalised to mean 1 over them all);
    returns their `agreement_summary`."""
    if mode not in AGREEMENT_MODES:
        raise PrefloopError(f"--agreement {mode!r}: expected one of {', '.join(AGREEMENT_MODES)}")
    if mode == "off" or not rows:
        return {"mode": mode}
    votes = [r["votes"] for r in rows]
    agreement = [r["agreement"] for r in rows]
    posterior = [r.get("posterior") for r in rows]  # Dawid–Skene's, with --aggregate dawid-skene: ε = 1 − it
    if mode == "weight":
        for row, weight in zip(rows, agreement_weights(votes, agreement, posterior)):
            row["pair_weight"] = weight
    else:
        for row, epsilon in zip(rows, agreement_noise(votes, agreement, posterior)):
            row["pair_epsilon"] = epsilon
    return agreement_summary(rows, mode)


def agreement_summary(rows: list[dict], mode: str) -> dict:
    """The per-pair weights or ε `add_agreement` attached, over ``rows`` (the report's: those trained, where
    --max-steps reaches only some of the rows it attached them to): how many, how many with ≥ 2 votes, mean, range,
    and how many took them from a posterior no fit made (``from_trust``, where any did: one labeller's answer that
    nobody checks, its posterior that labeller's trust, `data.aggregate.verdicts_table`'s ``checked``)."""
    if mode == "off" or not rows:
        return {"mode": mode}
    values = [r["pair_weight" if mode == "weight" else "pair_epsilon"] for r in rows]
    from_posterior = all(r.get("posterior") is not None for r in rows)
    summary = {
        "mode": mode,
        "from": "posterior" if from_posterior else "agreement",
        "pairs": len(rows),
        "multi_labelled_pairs": sum(r["votes"] >= 2 for r in rows),
        "mean": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
    }
    from_trust = sum(r.get("checked") is False for r in rows) if from_posterior else 0
    return summary | ({"from_trust": from_trust} if from_trust else {})


def add_offsets(rows: list[dict], alpha: float, default_strength: float) -> dict:
    """Attach ODPO's per-pair offset (``pair_offset``, see ``odpo_offset``) to ``rows``; returns a summary."""
    for row in rows:
        row["pair_offset"] = odpo_offset(row.get("strength"), alpha, default_strength)
    offsets = [r["pair_offset"] for r in rows]
    return {
        "alpha": alpha,
        "pairs_without_strength": sum(r.get("strength") is None for r in rows),
        "default_strength": default_strength,
        "mean": sum(offsets) / len(offsets) if offsets else 0.0,
        "min": min(offsets, default=0.0),
        "max": max(offsets, default=0.0),
    }


def step_chunks(rows: list[dict], steps: int, seed: int = 0) -> list[list[dict]]:
    """sDPO's data steps: with ``steps`` 0, one chunk per round (oldest first) when the rows span several rounds,
    else 2; with ``steps`` K, K chunks of near-equal size after a seeded shuffle (sizes differ by at most one)."""
    rounds = sorted({r["round"] for r in rows})
    if not steps and len(rounds) > 1:
        return [[r for r in rows if r["round"] == k] for k in rounds]
    steps = steps or 2
    if steps > len(rows):
        raise TrainDataError(
            f"--sdpo-steps {steps}: only {len(rows)} training pairs, need one per step at least"
        )
    order = list(rows)
    random.Random(seed).shuffle(order)
    return [order[len(order) * i // steps : len(order) * (i + 1) // steps] for i in range(steps)]
