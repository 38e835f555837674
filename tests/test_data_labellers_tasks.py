"""Each labeller's report for the tasks beyond pairwise (`data.labellers`, `python -m data stats --labellers`):
KTO choices (leave-one-out agreement, κ, Dawid–Skene, gold), rankings (τ-b with the others and with the order the
answers were shown in, its flag) and rubric ratings (difference from the other raters' mean)."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from data.__main__ import main
from data.intervals import correlation_interval
from data.labeller_flags import flags
from data.labellers import labeller_rows, team_pace
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def frame(rows: list[dict]) -> pd.DataFrame:
    """Label-log rows (one current label each) with the columns the report reads."""
    base = {
        "choice": None,
        "strength": None,
        "seconds": 10.0,
        "active_seconds": None,
        "retracted": False,
        "supersedes": None,
        "left": None,
        "ranking": None,
        "ratings": None,
        "rubric": None,
    }
    return pd.DataFrame(
        [base | row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)]
    )


def test_kto_labellers_agreement_dawid_skene_and_flags():
    truth = ["desirable" if i % 3 else "undesirable" for i in range(30)]
    flip = {"desirable": "undesirable", "undesirable": "desirable"}
    rows = []
    for i, answer in enumerate(truth):
        for who in ("good1", "good2", "good3", "flipper"):
            choice = flip[answer] if who == "flipper" else answer
            seconds = 1.0 if who == "flipper" else 12.0
            rows.append(
                {"item_id": f"c{i}", "annotator": who, "task": "kto", "choice": choice, "seconds": seconds}
            )
    rows.append({"item_id": "c0", "annotator": "pairs-only", "task": "pairwise", "choice": "a"})
    report = {r["labeller"]: r for r in labeller_rows(frame(rows), task="kto")}
    assert set(report) == {"good1", "good2", "good3", "flipper"}  # the kto task's labellers only
    good, flipper = report["good1"], report["flipper"]
    assert good["labels"] == 30 and good["loo_agreement"] == 1.0 and flipper["loo_agreement"] == 0.0
    assert good["kappa"] == {"flipper": -0.8, "good2": 1.0, "good3": 1.0}
    assert good["desirable_rate"] == round(20 / 30, 3) and flipper["desirable_rate"] == round(10 / 30, 3)
    assert good["ds_accuracy"] > 0.95 and flipper["ds_accuracy"] < 0.05
    assert "left_share" not in good and "tie_rate" not in good  # no sides, no ties in KTO
    assert good["flags"] == [] and flipper["flags"] == ["median 1.0 s per label (< 3 s)"]
    assert team_pace(frame(rows), "kto")["median_seconds"] == 12.0


def ranked(order: list[str]) -> str:
    return ">".join(order)


def test_rankers_tau_with_others_and_the_shown_order_flag():
    rng = random.Random(0)
    rows = []
    for i in range(40):
        best_first = [f"i{i}a{j}" for j in range(4)]  # the true order
        for who in ("careful1", "careful2", "clicker"):
            shown = rng.sample(best_first, 4)  # shuffled for every labeller, as the rank view does
            order = shown if who == "clicker" else best_first
            ranking = ranked(order)
            if who == "careful2" and i == 0:
                ranking = f"{best_first[0]}>{best_first[1]}={best_first[2]}>{best_first[3]}"
            rows.append(
                {
                    "item_id": f"r{i}",
                    "annotator": who,
                    "task": "rank",
                    "ranking": ranking,
                    "left": ",".join(shown),
                }
            )
    report = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rank")}
    clicker, careful = report["clicker"], report["careful1"]
    assert clicker["shown_order_tau"] == 1.0 and clicker["shown_order_rankings"] == 40
    assert clicker["flags"] == [
        "ranks in the order shown (mean τ-b +1.000, beyond ±0.4)",
        "agrees with the others weakly or not at all (mean τ-b with the other rankers' consensus -0.058, 95 % CI "
        "up to 0.078, below 0.2 over 40 rankings)",
    ]
    assert (
        abs(careful["shown_order_tau"]) < 0.4 and careful["flags"] == [] and report["careful2"]["flags"] == []
    )
    # each of its 40 rankings against the consensus of the two others, the clicker weighing nothing (its own τ-b with
    # an unweighted consensus is below 0): unweighted, 3 consensuses tied every answer (the clicker's order careful2's
    # reversed) and ranked nothing
    assert careful["compared"] == 40
    assert careful["tau_with_others"] > 0.45 > abs(clicker["tau_with_others"])
    low, high = careful["tau_with_others_ci95"]
    assert 0.1 < low < careful["tau_with_others"] < high <= 1
    assert report["careful2"]["tie_rate"] == 0.025 and careful["tie_rate"] == 0.0


def test_two_rankers_who_disagree_have_a_tau_at_k_2():
    """At K = 2 the consensus of the others is one ranking, weighed by its ranker's mean τ-b clipped at 0: two
    rankers who disagreed weighed 0 each and had no τ-b at all (`"compared": 0`), so even a random ranker could
    never be flagged. A ranker who has a partner who weighs more is still measured against them alone."""
    best_first = [[f"i{i}a{j}" for j in range(4)] for i in range(30)]
    rows = [
        {"item_id": f"r{i}", "annotator": who, "task": "rank", "ranking": ranked(order)}
        for i, answers in enumerate(best_first)
        for who, order in (("bob", answers), ("carol", answers[::-1]))
    ]
    report = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rank")}
    for name in ("bob", "carol"):
        assert (report[name]["tau_with_others"], report[name]["compared"]) == (-1.0, 30)
        assert report[name]["flags"] == [
            "agrees with the others weakly or not at all (mean τ-b with the other rankers' consensus -1.000, 95 % CI "
            "up to -0.967, below 0.2 over 30 rankings)"  # thirty -1s: no spread to see, the pooled variance
        ]
    rng = random.Random(0)
    rows = []
    for i in range(60):  # each item ranked by two of careful1, careful2 and clicker, in turn
        answers = [f"i{i}a{j}" for j in range(4)]
        for who in [("careful1", "careful2"), ("careful1", "clicker"), ("careful2", "clicker")][i % 3]:
            order = rng.sample(answers, 4) if who == "clicker" else answers
            rows.append({"item_id": f"r{i}", "annotator": who, "task": "rank", "ranking": ranked(order)})
    report = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rank")}
    clicker = report["clicker"]
    assert clicker["tau_with_others"] < 0 and clicker["compared"] == 40 and clicker["flags"]
    # the clicker weighs 0: the careful rankers' rankings beside it say nothing of them
    assert [report[name]["compared"] for name in ("careful1", "careful2")] == [20, 20]
    assert report["careful1"]["tau_with_others"] == 1.0


def test_raters_difference_from_the_others_mean():
    def rating(item, who, values):
        return {
            "item_id": item,
            "annotator": who,
            "task": "rate",
            "ratings": json.dumps(values),
            "rubric": "r",
        }

    rows = [
        rating("x", "ann", {"help": 4, "tone": 3}),
        rating("x", "bob", {"help": 2, "tone": 3}),
        rating("x", "cyd", {"help": 3}),
        rating("y", "ann", {"help": 1}),  # rated by ann alone: compared with nobody
    ]
    report = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rate")}
    # help on x: ann 4 against (2 + 3) / 2 -> +1.5, bob -1.5, cyd 0; tone on x: ann 3 against 3 -> 0, bob 0
    assert report["ann"]["compared"] == 2 and report["ann"]["mean_abs_difference"] == 0.75
    assert report["ann"]["bias"] == 0.75 and report["bob"]["bias"] == -0.75
    assert report["cyd"] == report["cyd"] | {"compared": 1, "mean_abs_difference": 0.0, "bias": 0.0}
    assert report["ann"]["labels"] == 2 and report["ann"]["flags"] == []


@pytest.fixture
def kto_workspace(tmp_path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    records = []
    for i in range(6):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "toy", "hf") for side in "ab")
        records += [prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")]
        for who in ("ann", "bob"):
            choice = "desirable" if (i % 2 == 0) or who == "ann" else "undesirable"
            records.append(Label(a.id, who, "kto", choice, seconds=9.0, created_at=T0 + timedelta(minutes=i)))
    ws.append(records)
    return ws


def test_stats_labellers_reports_each_task_with_labels(kto_workspace, capsys):
    assert main(["stats", "-w", str(kto_workspace.path), "--labellers", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["labellers"] == [] and list(report["tasks"]) == ["kto"]
    kto = {r["labeller"]: r for r in report["tasks"]["kto"]["labellers"]}
    assert kto["ann"]["loo_agreement"] == 0.5 and kto["bob"]["desirable_rate"] == 0.5
    assert report["tasks"]["kto"]["team"]["median_seconds"] == 9.0
    assert main(["stats", "-w", str(kto_workspace.path), "--labellers"]) == 0
    text = capsys.readouterr().out
    assert "kto: team median 9.0 s per label, 400.0 labels/hour" in text
    assert "  bob: 6 labels, gold -, loo agreement 0.500, DS accuracy 0.500, " in text
    # No person labelled a pair, but people labelled KTO: the report is KTO's, without a pairwise line of nobody;
    # no figure anywhere is printed as None.
    assert text.startswith("kto: ") and "pairwise" not in text and "None" not in text


def test_the_admin_tab_shows_each_figure_as_stats_labellers_prints_it(kto_workspace, capsys):
    """bob agrees with the others on half his items: `stats --labellers` printed 0.500 and the admin tab's labellers
    table 0.5 (its intervals and cards to two decimals), so a lead comparing the two read different strings. Both
    print a figure through one formatter now (`data.intervals.figure_text`)."""
    import re

    from annotate.admin import admin_view
    from annotate.app import make_context
    from annotate.service import LabelService
    from annotate.users import Authenticator, User, hash_password

    assert main(["stats", "-w", str(kto_workspace.path), "--labellers"]) == 0
    text = capsys.readouterr().out
    users = {"ann": User("ann", hash_password("correct horse battery"), admin=True)}
    ctx = make_context(LabelService(kto_workspace, "kto", overlap=2), Authenticator(users))
    _, labellers, _, _ = admin_view(ctx, "ann")
    columns = re.findall(r"<th>(.*?)</th>", labellers)
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", labellers)]
    bob = next(dict(zip(columns, cells)) for cells in rows if cells and cells[0] == "bob")
    shown = (bob["agrees with others"], bob["DS accuracy"], bob["desirable share"])
    assert shown == ("0.500", "0.500", "0.500"), bob
    assert (
        f"bob: 6 labels, gold -, loo agreement {shown[0]}, DS accuracy {shown[1]}, trust {bob['trust']}, "
        f"desirable {shown[2]}" in text
    )


def test_a_figure_that_rounds_to_zero_is_printed_without_a_minus_sign():
    """A rater a hair below the others (bias -0.0002) or a κ of -0.0004 was printed `-0.000` by `stats --labellers`
    and shown so in the admin tab, as if it were some amount below zero; it is 0.000 now. A figure below zero at
    the decimals shown keeps its sign; none (None, NaN) is a dash (the cards' n/a)."""
    from annotate.render import figure
    from data.intervals import figure_text

    assert [figure_text(v) for v in (-0.0002, -0.0, 0.0004, -0.0006, -0.25)] == [
        "0.000",
        "0.000",
        "0.000",
        "-0.001",
        "-0.250",
    ]
    assert figure_text(-0.04, 1) == "0.0" and figure(-0.0004) == "0.000"
    assert (figure_text(None), figure_text(float("nan")), figure(None)) == ("-", "-", "n/a")


def test_admin_labellers_table_for_kto(label_ws, tmp_path):
    from annotate.admin import admin_view
    from annotate.app import make_context
    from annotate.service import LabelService
    from annotate.users import Authenticator, User, hash_password

    users = {n: User(n, hash_password("correct horse battery"), admin=n == "ann") for n in ("ann", "bob")}
    ctx = make_context(LabelService(label_ws, "kto", overlap=2), Authenticator(users))
    for user in ("ann", "bob"):
        for k in range(8):
            shown = ctx.service.show(user)
            choice = "undesirable" if (user, k) == ("bob", 0) else "desirable"
            ctx.service.submit(user, shown.item.id, choice, active_seconds=5.0)
    cards, labellers, _, _ = admin_view(ctx, "ann")
    assert (
        "<th>agrees with others</th><th>DS accuracy</th><th>trust</th><th>desirable share</th>" in labellers
    )
    assert "<td>ann</td><td>8</td>" in labellers and "<td>0.875</td>" in labellers  # bob: 7 of 8 desirable
    assert "<td>5.0</td>" in labellers and "median seconds per label" in cards  # the browser's active seconds


def test_flags_compare_the_figures_before_they_are_rounded():
    import pyarrow as pa

    from data.labellers import wilson_interval

    # 2,001 labels, always a: the left side 1,401 times (0.70015, shown 0.7); 2.96 s each (shown 3.0); 28 of 59 gold
    # right (interval up to 0.5996, shown 0.6). Each is past its threshold, so each is flagged.
    rows = [
        {"item_id": f"p{i}", "annotator": "edge", "task": "pairwise", "choice": "a", "seconds": 2.96}
        | {"left": "a" if i < 1401 else "b", "strength": 2}
        for i in range(2001)
    ]
    gold = pa.table({"item_id": [f"p{i}" for i in range(59)], "choice": ["a"] * 28 + ["b"] * 31})
    (row,) = labeller_rows(frame(rows), gold)
    assert row["left_share"] == 0.7 and row["median_seconds"] == 3.0 and row["gold"]["ci95"][1] == 0.6
    assert wilson_interval(28, 59)[1] < 0.6
    assert row["flags"] == [
        "gold accuracy 0.475 (95 % CI up to 0.5996) below 0.6",
        "median 2.96 s per label (< 3 s)",
        "picks the left side 70.01% of the time (outside 30%-70%)",
    ]


def test_raters_correlation_interval_and_the_chance_and_one_value_flags():
    rng = random.Random(1)
    rows = []
    for i in range(40):
        truth = 1 + i % 5  # each answer's true helpfulness, 1..5
        values = {
            "careful": truth if rng.random() < 0.8 else max(1, min(5, truth + rng.choice((-1, 1)))),
            "harsh": max(1, truth - 1),
            "random": rng.randint(1, 5),
            "constant": 3,
        }
        for who, value in values.items():
            rows.append(
                {
                    "item_id": f"x{i}",
                    "annotator": who,
                    "task": "rate",
                    "ratings": json.dumps({"help": value}),
                    "rubric": "r",
                }
            )
    report = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rate")}
    careful, harsh, noise, constant = (report[w] for w in ("careful", "harsh", "random", "constant"))
    assert careful["flags"] == [] and harsh["flags"] == []  # a harsh rater is biased, not careless
    assert harsh["bias"] < -0.5 and careful["r_with_others"] > 0.5 and harsh["r_with_others"] > 0.5
    # the interval is Fisher's: tanh(atanh r ± 1.96 / √(n − 3)), n = 40 shared values
    r = careful["r_with_others"]
    low, high = careful["r_with_others_ci95"]
    assert low == pytest.approx(math.tanh(math.atanh(r) - 1.96 / math.sqrt(37)), abs=2e-3) and high < 1
    assert len(noise["flags"]) == 1 and noise["flags"][0].startswith(
        "agrees with the others weakly or not at all (correlation with the other raters' mean -0.149, 95 % CI up "
        "to 0.171, below 0.3 over 40 rated answers)"
    )
    assert noise["compared"] == 40 and careful["r_with_others_ci95"][0] > 0.3
    assert constant["r_with_others"] is None and constant["one_value"] == {"help": 3.0}
    assert constant["flags"] == ["gives every answer the same rating (help 3) over 40 rated answers"]


def test_one_value_is_read_over_every_answer_rated_shared_or_not():
    """A rater who gives everything a 3 is flagged at --overlap 1 too (they shared no answer: the flag read only the
    shared ones, so nobody was ever flagged so there); one who varies on the answers nobody else rated is not."""
    rows = []
    for i in range(40):
        rows.append({"item_id": f"alone{i}", "annotator": "constant", "ratings": json.dumps({"help": 3})})
        varied = 3 if i < 35 else 1 + i % 5  # 3 on the answers shared with bob, varied on five of their own
        rows.append({"item_id": f"mixed{i}", "annotator": "mixed", "ratings": json.dumps({"help": varied})})
        if i < 35:
            rows.append(
                {"item_id": f"mixed{i}", "annotator": "bob", "ratings": json.dumps({"help": 1 + i % 5})}
            )
    rows = [row | {"task": "rate", "rubric": "r"} for row in rows]
    report = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rate")}
    constant, mixed = report["constant"], report["mixed"]
    assert constant["answers_compared"] == 0 and constant["answers_rated"] == 40
    assert constant["one_value"] == {"help": 3.0}
    assert constant["flags"] == ["gives every answer the same rating (help 3) over 40 rated answers"]
    assert mixed["answers_compared"] == 35 and mixed["one_value"] is None and mixed["flags"] == []


def rated(who: str, item: str, help_: int, safety: int) -> dict:
    ratings = json.dumps({"help": help_, "safety": safety})
    return {"item_id": item, "annotator": who, "task": "rate", "ratings": ratings, "rubric": "r"}


def one_aspect_team(answers: int, shared: int) -> dict[str, dict]:
    """ann and bob rate ``shared`` answers as they are (help 1-5, safety 0-4, each varied); half rates help so too
    on ``answers`` (``shared`` of them theirs) but gives every answer safety 2. The report, by labeller."""
    rows = []
    for i in range(answers):
        truth = (1 + i % 5, (i // 5) % 5)
        rows.append(rated("half", f"x{i}", truth[0], 2))
        rows += [rated(who, f"x{i}", *truth) for who in ("ann", "bob")] if i < shared else []
    return {r["labeller"]: r for r in labeller_rows(frame(rows), task="rate")}


def test_a_rater_who_gives_one_aspect_one_value_is_flagged_naming_it():
    """A rater careful on help but giving every answer safety 2 was not flagged: the one-rating flag read every
    aspect at once, and their correlation with the others, pooled over the aspects, held well above the floor."""
    report = one_aspect_team(40, 40)
    half = report["half"]
    assert half["r_with_others_ci95"][0] > 0.3 and half["one_value"] is None
    figures = half["one_value_aspects"]["safety"]
    assert figures == {
        "value": 2.0,
        "answers": 40,
        "compared": 40,
        "others_off": 0.375,  # safety 0 (10 answers) and 4 (5) lie beyond ±1 of 2
        "team_r": 1.0,  # ann and bob agree on every answer
        "team_r_ci95": pytest.approx(correlation_interval(1.0, 40), abs=1e-3),
    }
    assert half["flags"] == [
        "gives every answer the same safety rating (2) over 40 rated answers, while the other raters, who agree "
        "with each other on it (r +1.000), put their mean beyond ±1 of it on 38% of the 40 they rated too"
    ]
    assert report["ann"]["flags"] == report["bob"]["flags"] == []


@pytest.mark.parametrize(("answers", "shared", "flagged"), [(30, 30, True), (29, 29, False), (40, 29, False)])
def test_one_aspects_one_value_is_flagged_over_30_answers_rated_and_30_the_others_rated(
    answers, shared, flagged
):
    """A rater with few answers is not flagged for one value on an aspect, as for one on every aspect; nor where
    few of them were rated by another, whose ratings alone say the answers differ on it."""
    assert bool(one_aspect_team(answers, shared)["half"]["flags"]) is flagged


def test_one_aspects_one_value_the_answers_all_deserve_is_not_flagged_beside_noisy_raters():
    """Every answer's safety is 4, and exact says so; a noisy rater's values pull the others' mean beyond ±1 of 4
    on many answers, but the others do not agree with each other on how the answers differ: no flag."""
    rng = random.Random(3)
    rows = []
    for i in range(60):
        help_ = 1 + i % 5
        rows += [
            rated("exact", f"x{i}", help_, 4),
            rated("noisy", f"x{i}", help_, rng.randint(0, 4)),
            rated("fair", f"x{i}", help_, rng.choice((3, 4))),
        ]
    exact = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rate")}["exact"]
    figures = exact["one_value_aspects"]["safety"]
    assert figures["others_off"] >= 0.2 and figures["team_r_ci95"][0] <= 0
    assert exact["flags"] == []


def test_a_perfect_correlation_from_few_answers_is_not_read_as_certain():
    """Fisher's z of r = ±1 is infinite: two raters who agree on five answers read r 1 [0.999, 1]. The bound towards
    0 is taken at |r| ≤ √(1 − 1/n) (`correlation_interval`): it widens at few answers, narrows as they grow, and a
    lower r never gives a higher bound; below √(1 − 1/n) the interval is Fisher's as before."""
    rows = [
        {
            "item_id": f"x{i}",
            "annotator": who,
            "task": "rate",
            "ratings": json.dumps({"help": 1 + i}),
            "rubric": "r",
        }
        for i in range(5)
        for who in ("ann", "bob")
    ]
    ann = {r["labeller"]: r for r in labeller_rows(frame(rows), task="rate")}["ann"]
    assert ann["r_with_others"] == pytest.approx(1.0)
    low, high = ann["r_with_others_ci95"]
    assert low == pytest.approx(
        math.tanh(math.atanh(math.sqrt(0.8)) - 1.96 / math.sqrt(2)), abs=5e-4
    )  # rounded
    assert high == 1.0
    assert low < 0.1
    lows = [correlation_interval(1.0, n)[0] for n in (4, 5, 6, 10, 30, 100, 1000)]
    assert lows == sorted(lows) and lows[-1] < 1.0  # narrower with more answers, never of no width
    assert correlation_interval(-1.0, 5) == pytest.approx([-1.0, -correlation_interval(1.0, 5)[0]])
    grid = [-1.0, -0.9999, -0.99, -0.9, -0.5, 0.0, 0.5, 0.9, 0.99, 0.9999, 1.0]
    for n in (4, 5, 10, 30):
        bounds = [correlation_interval(r, n) for r in grid]
        assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(bounds, bounds[1:]))  # monotone in r
        assert all(low <= r <= high for r, (low, high) in zip(grid, bounds))
    fisher = [math.tanh(math.atanh(0.9) + s * 1.96 / math.sqrt(27)) for s in (-1, 1)]
    assert correlation_interval(0.9, 30) == pytest.approx(fisher)
    assert correlation_interval(1.0, 3) is None and correlation_interval(None, 30) is None


def test_flag_figures_are_said_to_three_decimals_and_never_as_their_limit():
    """A flag said its figure rounded its own way beside the table's 3 decimals: `gold accuracy 0.0 (95 % CI up to
    0.434)`, and a mean τ-b of 0.40004 against the order shown as `+0.40, beyond ±0.4`, its limit."""
    row = {"gold": {"accuracy": 0.0, "answered": 5, "ci95": [0.0, 0.434]}, "median_seconds": None}
    row |= {"left_share": None, "left_decisive": 0, "shown_order_tau": 0.40004, "shown_order_rankings": 30}
    assert flags(row) == [
        "gold accuracy 0.000 (95 % CI up to 0.434) below 0.6",
        "ranks in the order shown (mean τ-b +0.40004, beyond ±0.4)",
    ]
    row["shown_order_tau"] = -0.45
    assert flags(row)[1] == "ranks against the order shown (mean τ-b -0.450, beyond ±0.4)"
