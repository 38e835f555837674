"""The KTO team of `python benchmarks/bench_labellers.py --kto`: desirable/undesirable answers with a rare
undesirable share, K = 2 of five simulated labellers per answer, aggregated by the majority and by Dawid–Skene
through the app's code (`data.aggregate.verdicts_table`), against the simulated truths.

Each answer is undesirable with probability ``UNDESIRABLE`` (10 %, then 50 % for comparison); each labeller gives
the true answer with their accuracy (0.90, 0.85, 0.80, 0.75, 0.70), the other one otherwise. Printed per workspace
size, summed over the seeds: verdict accuracy (the majority's splits broken at random; Dawid–Skene; the true
parameters, what a perfect fit would give); how many answers that two labellers agreed were undesirable (or
desirable) Dawid–Skene calls the other way; and what a KTO export trains on that is against the truth — the
majority's (splits left out), Dawid–Skene's, Dawid–Skene's at ``--min-posterior 0.9``, and the same with the
simulation's own confusion matrices and shares in place of the fitted ones (a perfect fit: what ``--min-posterior
0.9`` should cost). Then the rare share once more with ``ALWAYS`` answering desirable to everything, and the same
with that labeller's labels left out, as ``--exclude-labeller`` leaves them (their answers then have one label)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from data import dawid_skene
from data.aggregate import verdicts_table

KTO = np.array(["desirable", "undesirable"])
KTO_TEAM = {"w90": 0.90, "w85": 0.85, "w80": 0.80, "w75": 0.75, "w70": 0.70}
UNDESIRABLE = (0.1, 0.5)  # shares of undesirable answers simulated: rare, then even
KTO_ITEMS = (30, 100, 300)
SURE = 0.9  # the --min-posterior whose export is measured
ALWAYS = "w70"  # the labeller who answers desirable to everything in the one-answer case


def kto_simulate(items: int, undesirable: float, seed: int, k: int = 2, always: str | None = None) -> dict:
    """Label codes (item, labeller, choice per label: 0 desirable, 1 undesirable) and each answer's truth;
    ``always``: a labeller who answers desirable to everything instead (None: nobody)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(items) < undesirable).astype(np.int64)
    who = np.argsort(rng.random((items, len(KTO_TEAM))), axis=1)[:, :k].ravel()  # k distinct labellers
    item = np.repeat(np.arange(items), k)
    right = rng.random(len(item)) < np.array(list(KTO_TEAM.values()))[who]
    choice = np.where(right, truth[item], 1 - truth[item])
    if always is not None:
        choice[who == list(KTO_TEAM).index(always)] = 0
    return {
        "truth": truth,
        "item": item,
        "who": who,
        "choice": choice,
        "undesirable": undesirable,
        "always": always,
    }


def excluded(sim: dict, name: str) -> dict:
    """``sim`` without ``name``'s labels, as `--exclude-labeller` leaves them out of the verdicts."""
    kept = sim["who"] != list(KTO_TEAM).index(name)
    return {**sim, **{key: sim[key][kept] for key in ("item", "who", "choice")}}


def kto_labels(sim: dict) -> pa.Table:
    n = len(sim["item"])
    stamp = pa.array(np.full(n, int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1e6)), pa.int64())
    return pa.table(
        {
            "item_id": pa.array(np.char.add("c", sim["item"].astype(str))),
            "annotator": pa.array(np.array(list(KTO_TEAM))[sim["who"]]),
            "task": pa.array(np.full(n, "kto")),
            "choice": pa.array(KTO[sim["choice"]]),
            "strength": pa.nulls(n, pa.int64()),
            "seconds": pa.array(np.full(n, 12.0)),
            "retracted": pa.array(np.zeros(n, dtype=bool)),
            "supersedes": pa.nulls(n, pa.string()),
            "left": pa.nulls(n, pa.string()),
            "created_at": stamp.cast(pa.timestamp("us", tz="UTC")),
        }
    )


def true_posterior(sim: dict) -> np.ndarray:
    """Each answer's posterior given its labels under the simulation's own confusion matrices and shares."""
    accuracy = np.array(list(KTO_TEAM.values()))[:, None, None]
    confusion = accuracy * np.eye(2) + (1 - accuracy) * (1 - np.eye(2))
    if sim.get("always") is not None:  # desirable whatever the truth (an answer never given: probability ~0)
        confusion[list(KTO_TEAM).index(sim["always"])] = [[1, 1e-300], [1, 1e-300]]
    prior = np.array([1 - sim["undesirable"], sim["undesirable"]])
    return dawid_skene.e_step(confusion, prior, sim["item"], sim["who"], sim["choice"], len(sim["truth"]))


def kto_figures(sim: dict, rng: np.random.Generator) -> np.ndarray:
    """One workspace's counts: answers; right verdicts (majority, splits broken at random; Dawid–Skene; the true
    parameters); answers two labellers called undesirable, of them Dawid–Skene's desirable and the true parameters'
    desirable; the same for desirable; then (rows, wrong) of each export: majority, Dawid–Skene, Dawid–Skene at
    `SURE`, true parameters at `SURE`."""
    labels = kto_labels(sim)
    majority = verdicts_table(labels, "kto").to_pandas()
    fitted = verdicts_table(labels, "kto", "dawid-skene").to_pandas()
    index = majority["item_id"].str.slice(1).astype(int).to_numpy()  # verdicts sort by id as text
    truth = KTO[sim["truth"][index]]
    counts = majority[["n_desirable", "n_undesirable"]].to_numpy()
    tied = counts == counts.max(axis=1, keepdims=True)
    broken = KTO[np.argmax(tied * rng.random(tied.shape), axis=1)]
    ds = fitted["verdict"].to_numpy()
    ideal = true_posterior(sim)[index]
    exports = (
        (majority["verdict"].to_numpy(), np.ones(len(index), bool)),
        (ds, np.ones(len(index), bool)),
        (ds, fitted["posterior"].to_numpy() >= SURE),
        (KTO[ideal.argmax(axis=1)], ideal.max(axis=1) >= SURE),
    )
    figures = [len(index), (broken == truth).sum(), (ds == truth).sum(), (exports[3][0] == truth).sum()]
    for agreed, other in ((1, "desirable"), (0, "undesirable")):
        both = counts[:, agreed] >= 2
        figures += [both.sum(), (both & (ds == other)).sum(), (both & (exports[3][0] == other)).sum()]
    for verdict, sure in exports:
        rows = np.isin(verdict, KTO) & sure
        figures += [rows.sum(), (rows & (verdict != truth)).sum()]
    return np.array(figures, dtype=np.int64)


def kto_workspaces(seeds: int) -> int:
    """Print the figures of `kto_figures` summed over seeds 0..seeds-1 per undesirable share and size."""
    print(
        f"KTO, K = 2 of five labellers (accuracy 0.90-0.70), summed over seeds 0-{seeds - 1}: verdict accuracy "
        "majority (splits broken at random) | Dawid-Skene | true parameters; answers two labellers called undesirable (desirable) "
        "that Dawid-Skene (the true parameters) calls the other way; export rows against the truth, majority (splits left out) | "
        f"Dawid-Skene | Dawid-Skene --min-posterior {SURE} | true parameters --min-posterior {SURE}"
    )
    rare = UNDESIRABLE[0]
    cases = [(f"{share:.0%} undesirable", share, None, False) for share in UNDESIRABLE] + [
        (f"{rare:.0%} undesirable, {ALWAYS} answering desirable to everything", rare, ALWAYS, False),
        (f"the same, {ALWAYS} excluded (--exclude-labeller)", rare, ALWAYS, True),
    ]
    for title, undesirable, always, exclude in cases:
        print(title)
        for items in KTO_ITEMS:
            total = 0
            for seed in range(seeds):
                sim = kto_simulate(items, undesirable, seed, always=always)
                total = total + kto_figures(
                    excluded(sim, always) if exclude else sim, np.random.default_rng(seed + 1)
                )
            n, majority, ds, ideal, uu, uu_over, uu_ideal, dd, dd_over, dd_ideal, *exports = total.tolist()
            shown = " | ".join(
                f"{wrong}/{rows} ({wrong / max(rows, 1):.3f})"
                for rows, wrong in zip(exports[::2], exports[1::2])
            )
            print(
                f"  {items:4d} items: accuracy {majority / n:.3f} | {ds / n:.3f} | {ideal / n:.3f}; overruled: undesirable "
                f"{uu_over} of {uu} (true parameters {uu_ideal}), desirable {dd_over} of {dd} ({dd_ideal}); "
                f"export wrong {shown}"
            )
    return 0
