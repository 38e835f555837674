"""The figures a team lead reads (`data stats --labellers --json`, `data stats --json`, the admin tab's κ and α,
`data leaderboard --json`) against reference computations written here from the textbook definitions, in plain
Python and numpy, from the raw label records — never calling the code they check. Small random workspaces (a few
seeds) hold every edge the figures must get right: skips, undone and replaced labels, ties and both-bad, gold
items, machine annotators (`judge:`, `import`), an excluded labeller stored in decomposed Unicode, a labeller with
one label. Published examples pin the formulas themselves (Fleiss 1971 as Wikipedia reproduces it, Krippendorff's
own worked example, Newcombe 1998's Wilson intervals)."""

from __future__ import annotations

import json
import math
import random
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from annotate.agreement import agreement, binomial_two_sided, position_bias
from data.__main__ import main
from data.aggregate import current_labels
from data.annotators import human_labels
from data.choice_agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from data.intervals import wilson_interval
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
CHOICES = ("a", "b", "tie", "both_bad")
ZOE = unicodedata.normalize("NFD", "zoë")  # stored decomposed, excluded by its composed spelling
PEOPLE = ("ann", "bob", "cyd", ZOE)
Z = 1.96


# ---- references, from the definitions --------------------------------------------------------------------------


def ref_wilson(k: float, n: int) -> tuple[float, float]:
    """Wilson (1927): the p whose score test |p̂ − p| / √(p(1 − p)/n) = z, solved as the quadratic's two roots."""
    p = k / n
    a = 1 + Z * Z / n
    b = -(2 * p + Z * Z / n)
    c = p * p
    root = math.sqrt(b * b - 4 * a * c)
    return max(0.0, (-b - root) / (2 * a)), min(1.0, (-b + root) / (2 * a))


def ref_cohen(x: list[str], y: list[str]) -> float | None:
    """Cohen (1960) from the confusion table: (p_o − p_e) / (1 − p_e), p_e from the row and column margins."""
    cats = sorted(set(x) | set(y))
    table = np.zeros((len(cats), len(cats)))
    for u, v in zip(x, y):
        table[cats.index(u), cats.index(v)] += 1
    table /= table.sum()
    observed = np.trace(table)
    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    return None if expected == 1 else (observed - expected) / (1 - expected)


SWAP = {"a": "b", "b": "a"}


def ref_side_free_cohen(x: list[str], y: list[str]) -> float | None:
    """Cohen's κ of pairwise choices with a pair's sides exchangeable: over the pairs as stored and again with every
    pair's sides swapped (a for b, b for a)."""
    return ref_cohen(x + [SWAP.get(c, c) for c in x], y + [SWAP.get(c, c) for c in y])


def ref_fleiss(counts: np.ndarray) -> float:
    """Fleiss (1971): items × categories counts, n raters per item."""
    counts = np.asarray(counts, dtype=float)
    items, n = counts.shape[0], counts[0].sum()
    p_j = counts.sum(axis=0) / (items * n)
    p_i = (np.square(counts).sum(axis=1) - n) / (n * (n - 1))
    return (p_i.mean() - np.square(p_j).sum()) / (1 - np.square(p_j).sum())


def ref_alpha_nominal(units: list[list], weight: float = 1.0) -> float:
    """Krippendorff's α (nominal) from the coincidence matrix o_ck = Σ_u weight · (pairs c-k in u) / (m_u − 1)."""
    cats = sorted({v for u in units for v in u})
    o = np.zeros((len(cats), len(cats)))
    for values in units:
        if len(values) < 2:
            continue
        for i, u in enumerate(values):
            for j, v in enumerate(values):
                if i != j:
                    o[cats.index(u), cats.index(v)] += weight / (len(values) - 1)
    n_c, n = o.sum(axis=1), o.sum()
    observed = o.sum() - np.trace(o)
    expected = (n_c.sum() ** 2 - np.square(n_c).sum()) / (n - 1)
    return 1 - observed / expected


def swapped_units(units: list[list]) -> list[list]:
    """Each item's pairwise labels as stored, then each again with a and b exchanged (tie, both_bad as they are)."""
    return units + [[SWAP.get(c, c) for c in u] for u in units]


# ---- published examples ----------------------------------------------------------------------------------------

FLEISS_1971 = [  # Wikipedia's "Fleiss' kappa" worked example: 10 subjects, 14 raters, 5 categories; κ = 0.210
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]  # fmt: skip
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 observers × 12 units example (None:
# missing); nominal α = 0.743
KRIPPENDORFF = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_published_examples():
    assert round(ref_fleiss(FLEISS_1971), 3) == 0.210
    assert fleiss_kappa(FLEISS_1971) == pytest.approx(ref_fleiss(FLEISS_1971), abs=1e-12)
    units = [[str(row[u]) for row in KRIPPENDORFF if row[u] is not None] for u in range(12)]
    assert round(ref_alpha_nominal(units), 3) == 0.743
    assert krippendorff_alpha(units) == pytest.approx(ref_alpha_nominal(units), abs=1e-12)
    # Wikipedia's Cohen example: 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no: p_o 0.7, p_e 0.5, κ 0.4
    x, y = ["y"] * 25 + ["n"] * 25, ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert ref_cohen(x, y) == pytest.approx(0.4) and cohen_kappa(x, y) == pytest.approx(0.4)
    # Newcombe (1998), Table II, the score method: 81/263, 15/148, 0/20, 1/29
    for (k, n), (low, high) in {
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0, 0.1611),
        (1, 29): (0.0061, 0.1718),
    }.items():
        assert [round(v, 4) for v in ref_wilson(k, n)] == [low, high]
        assert wilson_interval(k, n) == pytest.approx(ref_wilson(k, n), abs=1e-12)


def test_position_bias_p_value_is_the_exact_two_sided_binomial():
    for n in range(0, 16):
        for k in range(n + 1):
            pmf = [math.comb(n, i) / 2**n for i in range(n + 1)]
            ref = sum(p for p in pmf if p <= pmf[k] * (1 + 1e-9))  # as extreme as k, either side
            assert binomial_two_sided(k, n) == pytest.approx(min(1.0, ref), abs=1e-12)


# ---- a random workspace ----------------------------------------------------------------------------------------


def build(path, seed: int):
    """60 sampled pairs, each labelled by 2-4 of four people (mostly 3-4, so that most of them share ≥ 20 items) with a random history (a label, a skip, a label then
    its undo, a label then a replacement, a skip then a label), plus judge:x and import on some; ``solo`` labels one
    pair; pairs 0-5 gold. Returns the workspace and every label record written."""
    rng = random.Random(seed)
    ws = Workspace.init(path)
    records, pairs = [], []
    for i in range(60):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        a, b = (Completion(prompt.id, f"answer {i} {s}", "toy", "hf") for s in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        pairs.append(pair.id)
    clock = iter(range(100_000))
    labels = []

    def label(item, who, choice, **extra):
        given = {
            "strength": rng.choice([None, 1, 2, 3, 4]) if choice in ("a", "b") else None,
            "seconds": round(rng.uniform(0.5, 30), 2),
            "active_seconds": rng.choice([None, round(rng.uniform(0.5, 20), 2)]),
            "left": rng.choice(["a", "b", None]),
            "created_at": T0 + timedelta(seconds=next(clock)),
        }
        record = Label(item, who, "pairwise", choice, **(given | extra))
        labels.append(record)
        return record

    def pick():
        return rng.choices(CHOICES, weights=[5, 3, 1, 1])[0]

    for item in pairs:
        for who in rng.sample(PEOPLE, rng.choice([2, 3, 3, 4, 4])):
            history = rng.choices(["label", "skip", "undo", "replace", "skip-label"], [10, 1, 1, 1, 1])[0]
            if history == "skip":
                label(item, who, None, retracted=True)
            elif history == "undo":
                first = label(item, who, pick())
                label(item, who, None, retracted=True, supersedes=first.id)
            elif history == "replace":
                first = label(item, who, pick())
                label(item, who, pick(), supersedes=first.id)
            else:
                if history == "skip-label":
                    label(item, who, None, retracted=True)
                label(item, who, pick())
        if rng.random() < 0.3:
            label(item, "judge:x", rng.choice(["a", "b", "tie"]))
        if rng.random() < 0.2:
            label(item, "import", rng.choice(["a", "b"]), strength=None)
    label(pairs[7], "solo", "b")
    ws.append(records + labels)
    for item in pairs[:6]:
        assert main(["gold", "-w", str(ws.path), "--pair", item, "--answer", rng.choice(CHOICES)]) == 0
    return ws, labels, pairs


def current_of(labels: list[Label]) -> dict[tuple[str, str], Label]:
    """(item, person) -> the person's label in force: their latest record, unless it retracts. Machines left out."""
    latest = {}
    for record in sorted(labels, key=lambda r: r.created_at):
        latest[record.item_id, record.annotator] = record
    machine = ("import", "spin")
    return {
        key: r
        for key, r in latest.items()
        if not r.retracted and key[1] not in machine and not key[1].startswith(("judge:", "rm:"))
    }


def gold_answers(ws: Workspace) -> dict[str, str]:
    events = ws.frame("gold").sort_values("created_at", kind="stable")
    answers = {}
    for row in events.itertuples():
        answers[row.item_id] = row.choice
    return {k: v for k, v in answers.items() if v is not None}


def ref_labeller(name: str, labels: list[Label], gold: dict[str, str]) -> dict:
    current = current_of(labels)
    mine = [r for (item, who), r in current.items() if who == name]
    n = len(mine)
    latest = {}
    for record in sorted(labels, key=lambda r: r.created_at):
        latest[record.item_id, record.annotator] = record
    skips = sum(1 for (_, who), r in latest.items() if who == name and r.retracted and r.supersedes is None)
    on_gold = [r for r in mine if r.item_id in gold]
    right = sum(r.choice == gold[r.item_id] for r in on_gold)
    loo = []
    for r in mine:
        others = Counter(o.choice for (item, who), o in current.items() if item == r.item_id and who != name)
        if others:
            (top, count), *rest = others.most_common()
            if not rest or rest[0][1] < count:
                loo.append(r.choice == top)
    by_item = defaultdict(dict)
    for (item, who), r in current.items():
        by_item[item][who] = r.choice
    kappa = {}
    for other in sorted({who for _, who in current} - {name}):
        shared = [(v[name], v[other]) for v in by_item.values() if name in v and other in v]
        if len(shared) >= 20:
            kappa[other] = ref_side_free_cohen(*map(list, zip(*shared)))
    decisive = [r for r in mine if r.choice in ("a", "b") and r.left is not None]
    spent = [r.active_seconds if r.active_seconds is not None else r.seconds for r in mine]
    return {
        "labels": n,
        "gold": (len(on_gold), right, ref_wilson(right, len(on_gold)) if on_gold else None),
        "loo_agreement": sum(loo) / len(loo) if loo else None,
        "loo_compared": len(loo),
        "kappa": kappa,
        "left_share": sum(r.choice == r.left for r in decisive) / len(decisive) if decisive else None,
        "left_decisive": len(decisive),
        "tie_rate": sum(r.choice == "tie" for r in mine) / n if n else None,
        "both_bad_rate": sum(r.choice == "both_bad" for r in mine) / n if n else None,
        "skip_rate": skips / (n + skips) if n + skips else None,
        "strength": dict(sorted(Counter(str(r.strength) for r in mine if r.strength is not None).items())),
        "median_seconds": float(np.median(spent)) if spent else None,
        "labels_per_hour": per_active_hour(spent),
    }


def per_active_hour(spent: list[float]) -> float | None:
    """Labels per active hour: the labels over the hours they took, none under a minute of them."""
    return 3600 * len(spent) / sum(spent) if sum(spent) >= 60 else None


def close(shown, expected, digits: int = 3) -> bool:
    """The report's rounded figure against the reference (None both, or equal once rounded as the report rounds)."""
    if expected is None or shown is None:
        return shown is None and expected is None
    return abs(shown - round(expected, digits)) < 10 ** -(digits + 1)


def stats_json(ws: Workspace, capsys, *flags) -> dict:
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_labellers_figures_match_the_definitions(tmp_path, capsys, seed):
    ws, labels, _ = build(tmp_path / "ws", seed)
    gold = gold_answers(ws)
    report = stats_json(ws, capsys, "--labellers", "--exclude-labeller", "zoë")
    rows = {r["labeller"]: r for r in report["labellers"]}
    assert sorted(rows) == sorted([*PEOPLE, "solo"])  # no machine among them
    assert rows[ZOE]["excluded"] and not rows["ann"]["excluded"]
    spent = [
        r.active_seconds if r.active_seconds is not None else r.seconds for r in current_of(labels).values()
    ]
    assert close(report["team"]["median_seconds"], float(np.median(spent)), 1)  # the excluded counted too
    assert close(report["team"]["labels_per_hour"], per_active_hour(spent), 1)
    for name, row in rows.items():
        ref = ref_labeller(name, labels, gold)
        where = f"seed {seed}, {name}"
        assert row["labels"] == ref["labels"], where
        answered, right, interval = ref["gold"]
        assert (row["gold"]["answered"], row["gold"]["correct"]) == (answered, right), where
        if interval is None:
            assert row["gold"]["ci95"] is None, where
        else:
            assert all(close(s, e) for s, e in zip(row["gold"]["ci95"], interval)), where
        for key in ("loo_agreement", "left_share", "tie_rate", "both_bad_rate", "skip_rate"):
            assert close(row[key], ref[key]), (where, key, row[key], ref[key])
        for key in ("median_seconds", "labels_per_hour"):
            assert close(row[key], ref[key], 1), (where, key, row[key], ref[key])
        assert (row["loo_compared"], row["left_decisive"]) == (ref["loo_compared"], ref["left_decisive"]), (
            where
        )
        assert row["strength"] == ref["strength"], where
        assert row["kappa"].keys() == ref["kappa"].keys(), where
        assert all(close(row["kappa"][k], v) for k, v in ref["kappa"].items()), (
            where,
            row["kappa"],
            ref["kappa"],
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_team_agreement_and_position_bias_match_the_definitions(tmp_path, seed):
    ws, labels, _ = build(tmp_path / "ws", seed)
    frame = ws.frame("labels")
    counted = human_labels(frame[frame["annotator"] != ZOE])  # zoë excluded: out of the agreement
    figures = agreement(current_labels(counted, "pairwise"), "pairwise")
    current = {k: r for k, r in current_of(labels).items() if k[1] != ZOE}
    by_item = defaultdict(list)
    for (item, _), r in current.items():
        by_item[item].append(r.choice)
    units = [v for v in by_item.values() if len(v) >= 2]
    assert figures["items"] == len(units)
    # a pair's sides exchangeable: each item also with a and b swapped, each copy weighing half for α
    assert figures["alpha"] == pytest.approx(ref_alpha_nominal(swapped_units(units), 0.5), abs=1e-9)
    size = Counter(map(len, units)).most_common()[0][0]  # the most common number of labels per item
    same = [u for u in units if len(u) == size]
    assert figures["fleiss_items"] == len(same)
    assert figures["fleiss"] == pytest.approx(
        ref_fleiss([[u.count(c) for c in CHOICES] for u in swapped_units(same)]), abs=1e-9
    )
    everyone = [r for r in current_of(labels).values() if r.choice in ("a", "b") and r.left is not None]
    bias = position_bias(current_labels(human_labels(frame), "pairwise"))
    wins = sum(r.choice == r.left for r in everyone)
    assert (bias["decisive"], bias["left_wins"]) == (len(everyone), wins)
    pmf = [math.comb(len(everyone), i) / 2 ** len(everyone) for i in range(len(everyone) + 1)]
    assert bias["p_value"] == pytest.approx(min(1.0, sum(p for p in pmf if p <= pmf[wins] * (1 + 1e-9))))


@pytest.mark.parametrize("seed", [0, 1])
def test_pairwise_items_match_the_majority_definition(tmp_path, capsys, seed):
    """`stats`' pairwise_items: verdicts of the people's and imports' labels in force (judges and the excluded out);
    its JSON's figures to 3 decimals, as the text's and `--labellers --json`'s (it printed 0.8260869565217389)."""
    ws, labels, _ = build(tmp_path / "ws", seed)
    stats = stats_json(ws, capsys, "--exclude-labeller", "zoë")
    latest = {}
    for record in sorted(labels, key=lambda r: r.created_at):
        latest[record.item_id, record.annotator] = record
    votes = defaultdict(list)
    for (item, who), r in latest.items():
        if not r.retracted and who != ZOE and not who.startswith("judge:"):
            votes[item].append(r.choice)
    split = agreement_sum = multi = 0
    for choices in votes.values():
        (top, count), *rest = Counter(choices).most_common()
        split += bool(rest) and rest[0][1] == count
        if len(choices) >= 2:
            multi += 1
            agreement_sum += count / len(choices)
    items = stats["pairwise_items"]
    assert (items["labelled"], items["split_votes"]) == (len(votes), split)
    assert items["mean_agreement_multi_annotator"] == round(agreement_sum / multi, 3)


def ref_bradley_terry(wins: np.ndarray) -> np.ndarray:
    """Zermelo's / Hunter's MM iteration for the Bradley–Terry MLE (wins[i, j]: i over j, ties halves), as logits
    against model 0: π_i ← W_i / Σ_j n_ij / (π_i + π_j)."""
    games = wins + wins.T
    pi = np.ones(len(wins))
    for _ in range(20_000):
        new = wins.sum(axis=1) / (games / (pi[:, None] + pi[None, :])).sum(axis=1)
        new /= new[0]
        if np.abs(new - pi).max() < 1e-13:
            break
        pi = new
    return np.log(pi)


@pytest.mark.parametrize("seed", [0, 1])
def test_leaderboard_strengths_win_shares_and_intervals_match_the_definitions(tmp_path, capsys, seed):
    """Three models' answers met on 16 prompts (the fewest with intervals) (arena pairs, sides random); ann and bob vote (a replaced vote, an
    undone one, ties and both-bad as halves), judge:x votes apart, a sampled pair's label is no vote."""
    rng = random.Random(seed)
    ws = Workspace.init(tmp_path / "ws")
    records, votes = [], []  # votes: (prompt, winner model index or None for half, model a, model b)
    clock = iter(range(100_000))

    def at():
        return T0 + timedelta(seconds=next(clock))

    for i in range(16):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        answers = [Completion(prompt.id, f"answer {i} by m{m}", f"m{m}", "hf") for m in range(3)]
        records += [prompt, *answers]
        for x, y in ((0, 1), (1, 2), (0, 2)):
            x, y = (x, y) if rng.random() < 0.5 else (y, x)
            pair = Pair(prompt.id, answers[x].id, answers[y].id, "arena")
            records.append(pair)
            for who in ("ann", "bob", "judge:x"):
                choice = rng.choices(CHOICES, [2 + x, 2 + y, 1, 1])[0]  # later models win more
                first = Label(pair.id, who, "pairwise", choice, created_at=at())
                records.append(first)
                history = rng.random()
                if history < 0.1:  # undone: no vote
                    records.append(Label(pair.id, who, "pairwise", None, retracted=True, supersedes=first.id,
                                         created_at=at()))  # fmt: skip
                    continue
                if history < 0.2:  # replaced: the later one counts
                    choice = rng.choice(CHOICES)
                    records.append(
                        Label(pair.id, who, "pairwise", choice, supersedes=first.id, created_at=at())
                    )
                if who != "judge:x":
                    votes.append((prompt.id, {"a": x, "b": y}.get(choice), x, y))
        sampled = Pair(prompt.id, answers[0].id, answers[1].id, "sampled")
        records += [sampled, Label(sampled.id, "ann", "pairwise", "a", created_at=at())]
    ws.append(records)
    capsys.readouterr()
    assert main(["leaderboard", "-w", str(ws.path), "--json", "--bootstrap", "60", "--seed", "3"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["reference"] == "m0" and [m["model"] for m in board["models"]] == ["m0", "m1", "m2"]

    def wins_of(rows) -> np.ndarray:
        wins = np.zeros((3, 3))
        for _, winner, x, y in rows:
            if winner is None:
                wins[x, y] += 0.5
                wins[y, x] += 0.5
            else:
                wins[winner, y if winner == x else x] += 1
        return wins

    wins = wins_of(votes)
    theta = ref_bradley_terry(wins)
    for k, row in enumerate(board["models"]):
        assert row["strength"] == pytest.approx(theta[k], abs=1e-4), k
        assert row["votes"] == sum(1 for v in votes if k in v[2:])
        if k:
            games = wins[k, 0] + wins[0, k]
            assert row["games"] == games and row["win_rate"] == pytest.approx(wins[k, 0] / games)
            # Wilson over the effective votes: n over the design effect, the cluster-robust variance of the share
            # (prompts the clusters) over the binomial one, at least 1
            per_prompt = [wins_of([v for v in votes if v[0] == p]) for p in sorted({v[0] for v in votes})]
            met = [(w[k, 0], w[k, 0] + w[0, k]) for w in per_prompt if w[k, 0] + w[0, k]]
            share = wins[k, 0] / games
            robust = sum((s - share * n) ** 2 for s, n in met) / games**2 * len(met) / (len(met) - 1)
            effect = max(1.0, robust / (share * (1 - share) / games))
            assert row["win_prompts"] == len(met) == 16
            assert [row["win_low"], row["win_high"]] == pytest.approx(
                ref_wilson(share * games / effect, games / effect)
            )
    # the 95 % percentile bootstrap over prompts, drawn as `data leaderboard --seed 3` draws them,
    prompts = sorted({v[0] for v in votes})
    draws = np.random.default_rng(3).integers(0, len(prompts), size=(60, len(prompts)))
    thetas = np.array(
        [ref_bradley_terry(wins_of([v for p in d for v in votes if v[0] == prompts[p]])) for d in draws]
    )
    # never narrower than the model's own: the Wald interval θ ± 1.96·SE, SE from the inverse Fisher information
    # Σ n_ij p_ij (1 − p_ij) of the summed votes, model 0 fixed (here every model is rated)
    games = wins + wins.T
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    information = np.diag((games * p * (1 - p)).sum(axis=1)) - games * p * (1 - p)
    spread = np.concatenate([[0.0], 1.96 * np.sqrt(np.diag(np.linalg.inv(information[1:, 1:])))])
    for k, row in enumerate(board["models"]):
        low = min(np.percentile(thetas[:, k], 2.5), theta[k] - spread[k])
        high = max(np.percentile(thetas[:, k], 97.5), theta[k] + spread[k])
        assert [row["low"], row["high"]] == pytest.approx([low, high], abs=1e-3)
