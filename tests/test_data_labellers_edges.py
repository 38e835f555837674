"""Each labeller's report at its edges: a labeller whose every record is a skip or an undone label (the first day of
any team), in every task, and the admin tab's table over the same labels."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pytest

from annotate.agreement import labeller_table, quality_table
from data.labellers import labeller_lines, labeller_rows

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
ANSWERS = {"pairwise": "a", "kto": "desirable"}


def log(task: str) -> pd.DataFrame:
    """ann labels two items; dave skipped one (a retraction that supersedes nothing) and undid his only label."""
    base = {"task": task, "strength": None, "seconds": 9.0, "active_seconds": None, "left": None, "ranking": None,
            "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    rows = [
        base | {"item_id": "i1", "annotator": "ann", "choice": ANSWERS[task], "id": "l1"},
        base | {"item_id": "i2", "annotator": "ann", "choice": ANSWERS[task], "id": "l2"},
        base
        | {"item_id": "i1", "annotator": "dave", "choice": None, "retracted": True, "id": "l3"},  # a skip
        base | {"item_id": "i2", "annotator": "dave", "choice": ANSWERS[task], "id": "l4"},
        base
        | {
            "item_id": "i2",
            "annotator": "dave",
            "choice": None,
            "retracted": True,
            "supersedes": "l4",
            "id": "l5",
        },  # undo  # fmt: skip
    ]
    return pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])


@pytest.mark.parametrize("task", ["pairwise", "kto"])
def test_a_labeller_with_no_current_label_is_reported_not_a_traceback(task):
    labels = log(task)
    report = {
        r["labeller"]: r for r in labeller_rows(labels, task=task)
    }  # was KeyError: "['dave'] not in index"
    assert report["dave"]["labels"] == 0 and report["dave"]["kappa"] == {} and report["dave"]["flags"] == []
    assert report["dave"]["skip_rate"] == 1.0 and report["ann"]["labels"] == 2
    columns, rows = quality_table(labeller_table(labels, task), labels, task)  # the admin tab's table
    assert "flags" in columns and len(rows) == 2
    section = {"team": {"median_seconds": 9.0, "labels_per_hour": 400.0}, "labellers": list(report.values())}
    lines = labeller_lines(
        section if task == "pairwise" else {"labellers": [], "team": {}, "tasks": {task: section}}
    )
    assert any(line.startswith("  dave: 0 labels") for line in lines)


def test_no_labeller_anywhere_is_said_once():
    empty = {"labellers": [], "team": {}, "tasks": {"kto": {"labellers": [], "team": {}}}}
    assert labeller_lines(empty) == [
        "pairwise: no labels by a person yet (imported and machine labels are not a labeller's)"
    ]


def test_a_raters_interval_counts_answers_not_aspects():
    """Eight answers rated on five aspects are 40 values but 8 observations: too few to flag anyone (counted by
    value, the r interval was as narrow as 40 independent answers would make it)."""
    base = {"task": "rate", "choice": None, "strength": None, "seconds": 9.0, "active_seconds": None, "left": None,
            "ranking": None, "rubric": "r", "retracted": False, "supersedes": None}  # fmt: skip
    aspects = ("a1", "a2", "a3", "a4", "a5")
    rows = []
    for i in range(8):
        good = {a: 1 + (i + j) % 5 for j, a in enumerate(aspects)}
        noise = {a: 1 + (3 * i + 2 * j + 1) % 5 for j, a in enumerate(aspects)}
        for who, values in (("ann", good), ("bob", good), ("cyd", noise)):
            rows.append(base | {"item_id": f"x{i}", "annotator": who, "ratings": json.dumps(values)})
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    cyd = {r["labeller"]: r for r in labeller_rows(labels, task="rate")}["cyd"]
    assert cyd["compared"] == 40 and cyd["answers_compared"] == 8 and cyd["flags"] == []
    low, high = cyd["r_with_others_ci95"]
    r = cyd["r_with_others"]
    assert high == pytest.approx(math.tanh(math.atanh(r) + 1.96 / math.sqrt(8 - 3)), abs=2e-3)


def test_a_ranker_who_ties_every_answer_is_flagged_and_counted_on_gold():
    """τ-b against an all-tied ranking is undefined, so such rankings fell out of every figure: the ranker showed
    0 rankings compared, 'answered 0' on gold, and no flag (a new-user audit)."""
    base = {"task": "rank", "choice": None, "strength": None, "seconds": 9.0, "active_seconds": None,
            "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    rows = []
    for i in range(32):
        answers = [f"r{i}a{j}" for j in range(4)]
        for who, ranking in (
            ("ann", ">".join(answers)),
            ("bob", ">".join(answers)),
            ("flat", "=".join(answers)),
        ):
            rows.append(base | {"item_id": f"r{i}", "annotator": who, "ranking": ranking,
                                "left": ",".join(answers)})  # fmt: skip
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    gold = pa.table({"item_id": ["r0", "r1"], "ranking": ["r0a0>r0a1>r0a2>r0a3", "r1a0>r1a1>r1a2>r1a3"]})
    report = {r["labeller"]: r for r in labeller_rows(labels, gold, task="rank")}
    flat = report["flat"]
    assert flat["all_tied_rate"] == 1.0 and flat["gold"]["answered"] == 0 and flat["gold"]["all_tied"] == 2
    assert flat["flags"] == ["ties every answer in 100% of rankings (> 50%): they order nothing"]
    assert report["ann"]["all_tied_rate"] == 0.0 and report["ann"]["gold"]["answered"] == 2
    assert not any("ties every answer" in f for f in report["ann"]["flags"])
    line = next(x for x in labeller_lines({"labellers": [], "team": {}, "tasks": {"rank": {
        "team": {"median_seconds": 9.0, "labels_per_hour": 400.0}, "labellers": list(report.values())}}})
        if x.startswith("  flat:"))  # fmt: skip
    assert "gold τ-b - (0 rankings, 2 all tied)" in line
    assert "ties 1.000, all tied 1.000, skip" in line  # the share its flag reads, printed beside it


def test_a_labeller_who_gives_one_answer_to_everything_is_flagged_unless_the_others_agree():
    """An always-"desirable" KTO labeller scored 0.5 on balanced gold, above the gold flag's floor, and had no other
    flag (a new-user audit); a careful labeller on data that is nearly all desirable must not be flagged."""
    base = {"task": "kto", "strength": None, "seconds": 9.0, "active_seconds": None, "left": None, "ranking": None,
            "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip

    def report(truths: list[str]) -> dict:
        rows = []
        for i, truth in enumerate(truths):
            for who, answer in (("ann", truth), ("bob", truth), ("always", "desirable")):
                rows.append(base | {"item_id": f"c{i}", "annotator": who, "choice": answer})
        labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
        return {r["labeller"]: r for r in labeller_rows(labels, task="kto")}

    balanced = report(["desirable" if i % 2 else "undesirable" for i in range(40)])
    assert balanced["always"]["top_answer"] == {"choice": "desirable", "share": 1.0}
    assert balanced["always"]["flags"] == [
        "answers desirable to 100% of items while the others' majority differs on 50% of them: exclude them before --aggregate dawid-skene "
        "(--exclude-labeller always), which can take them for the most accurate and lose the other answers"
    ]
    assert balanced["ann"]["flags"] == []
    skewed = report(["undesirable" if i == 0 else "desirable" for i in range(40)])  # the data is one answer
    assert skewed["ann"]["top_answer"]["share"] == 0.975 and skewed["ann"]["flags"] == []
    assert skewed["always"]["flags"] == []  # right on 39 of 40: nothing to act on


def test_dawid_skene_gives_no_accuracy_to_a_labeller_nobody_checks():
    """A labeller who shares no item with another and answered no gold got Dawid–Skene accuracy 1.0 (their own
    answers read back as right): no data, so no figure. One gold label, or one shared item, gives them one."""
    base = {"task": "pairwise", "strength": None, "seconds": 9.0, "active_seconds": None, "left": None,
            "ranking": None, "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    rows = [
        base | {"item_id": f"s{i}", "annotator": who, "choice": "a"}
        for i in range(5)
        for who in ("ann", "bob")
    ]
    rows += [base | {"item_id": f"z{i}", "annotator": "zed", "choice": "a"} for i in range(10)]
    rows += [base | {"item_id": f"g{i}", "annotator": "gus", "choice": "b"} for i in range(3)]
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    gold = pa.table({"item_id": ["g0"], "choice": ["a"]})
    report = {r["labeller"]: r for r in labeller_rows(labels, gold)}
    assert report["zed"]["ds_accuracy"] is None  # was 1.0
    assert report["ann"]["ds_accuracy"] == pytest.approx(1.0, abs=0.01)
    # gus is wrong on his one gold pair, his other two b answers unchecked: fitted, they came out 0.749 each, a mean
    # of 0.499 with the gold's 0 (0.798 and 0.532 before the prior's imagined wrong answers). One gold pair is too
    # little to read how he errs on b (`dawid_skene.CHECKED_AT`): they stay out of the fit, and his accuracy is
    # his one gold label's. (While a and b were two free classes it was below 0.5 for another reason: everyone
    # else's answers stored as `a` made p(a) high and his b answers look wrong.)
    assert report["gus"]["ds_accuracy"] == pytest.approx(0.0, abs=1e-3)
    section = {"team": {"median_seconds": 9.0, "labels_per_hour": 400.0}, "labellers": list(report.values())}
    line = next(x for x in labeller_lines(section) if x.startswith("  zed:"))
    assert "DS accuracy -," in line


def test_the_text_report_says_each_kappa_with_dashes_not_a_python_dict():
    """`κ {'bob': None}` was printed: a dict's repr, and None for a κ that chance explains entirely (both gave one
    answer to every shared item: `tie`, since `a` everywhere is half `b` with the sides swapped), where every other
    figure without data reads -."""
    base = {"task": "pairwise", "strength": None, "seconds": 9.0, "active_seconds": None, "left": None,
            "ranking": None, "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    rows = [
        base | {"item_id": f"i{i}", "annotator": who, "choice": "tie"}
        for i in range(20)
        for who in ("ann", "bob")
    ]
    rows += [base | {"item_id": f"i{i}", "annotator": "cyd", "choice": "ab"[i % 2]} for i in range(20)]
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    report = labeller_rows(labels)
    assert report[0]["kappa"] == {"bob": None, "cyd": 0.0}  # the JSON's null
    section = {"team": {"median_seconds": 9.0, "labels_per_hour": 400.0}, "labellers": report}
    lines = labeller_lines(section)
    assert lines[1].endswith("κ bob -, cyd 0.000"), lines[1]
    # a labeller nobody shares 20 items with read `κ -`, as an undefined κ does: dan labelled 19 of ann's items
    rows += [base | {"item_id": f"i{i}", "annotator": "dan", "choice": "tie"} for i in range(19)]
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    lines = labeller_lines(section | {"labellers": labeller_rows(labels)})
    assert lines[4].endswith("κ - (no other labeller shares 20 items)"), lines[4]


def test_one_answer_flag_holds_at_its_bounds_exactly():
    """One answer to ≥ 95 % of labels while the others' majority differs ≥ 20 % of the time: an always-desirable
    labeller whose others differ on 6 of 30 items (agreement 24/30 = 0.8) was not flagged, since 1 − 0.8 is
    0.19999999999999996 in floating point."""
    base = {"task": "kto", "strength": None, "seconds": 9.0, "active_seconds": None, "left": None, "ranking": None,
            "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    rows = []
    for i in range(30):
        truth = "undesirable" if i < 6 else "desirable"
        for who, answer in (("ann", truth), ("bob", truth), ("always", "desirable")):
            rows.append(base | {"item_id": f"c{i}", "annotator": who, "choice": answer})
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    report = {r["labeller"]: r for r in labeller_rows(labels, task="kto")}
    assert report["always"]["loo_agreement"] == 0.8 and report["always"]["labels"] == 30
    assert report["always"]["flags"] == [
        "answers desirable to 100% of items while the others' majority differs on 20% of them: exclude them before --aggregate dawid-skene "
        "(--exclude-labeller always), which can take them for the most accurate and lose the other answers"
    ]


def test_one_answer_flag_never_reads_100_percent_for_a_labeller_who_gave_another_answer():
    """Said apart from its limit, as the other flags are: 299 of 300 labels one answer read "100%", as if they had
    never given another."""
    base = {"task": "kto", "strength": None, "seconds": 9.0, "active_seconds": None, "left": None, "ranking": None,
            "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    rows = []
    for i in range(300):
        truth = "desirable" if i % 2 else "undesirable"
        mostly = "undesirable" if i == 0 else "desirable"
        for who, answer in (("ann", truth), ("bob", truth), ("mostly", mostly)):
            rows.append(base | {"item_id": f"c{i}", "annotator": who, "choice": answer})
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    report = {r["labeller"]: r for r in labeller_rows(labels, task="kto")}
    assert report["mostly"]["flags"] == [
        "answers desirable to 99.7% of items while the others' majority differs on 50% of them: exclude them before --aggregate dawid-skene "
        "(--exclude-labeller mostly), which can take them for the most accurate and lose the other answers"
    ]


def test_one_answer_flag_needs_the_others_majority_on_as_many_items_as_the_labels():
    """A careful labeller on data that is nearly all one answer, who shared 2 of their 40 items with a careless
    labeller, was flagged: "the others' majority differs on 100%" of 2 items. The disagreement is read over >= 30
    items the others decide, as the share over >= 30 labels."""
    base = {"task": "kto", "strength": None, "seconds": 9.0, "active_seconds": None, "left": None, "ranking": None,
            "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip

    def report(shared: int) -> dict:
        rows = [
            base
            | {"item_id": f"c{i}", "annotator": "ann", "choice": "undesirable" if i == 39 else "desirable"}
            for i in range(40)
        ]
        rows += [
            base | {"item_id": f"c{i}", "annotator": "bob", "choice": "undesirable"} for i in range(shared)
        ]
        labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
        return {r["labeller"]: r for r in labeller_rows(labels, task="kto")}["ann"]

    few = report(2)
    assert (few["loo_compared"], few["loo_agreement"], few["flags"]) == (2, 0.0, [])
    many = report(30)
    assert many["loo_compared"] == 30 and many["flags"] == [
        "answers desirable to 98% of items while the others' majority differs on 100% of them: exclude them before --aggregate dawid-skene "
        "(--exclude-labeller ann), which can take them for the most accurate and lose the other answers"
    ]


def test_a_careful_labeller_whose_better_answers_are_stored_as_a_is_not_flagged_for_one_answer():
    """A pair's `a` and `b` are shown on a side drawn per labeller and item, so answering `a` to everything follows
    the answers, not the screen: a careful labeller on pairs imported with `--unlabelled` (each file's chosen
    answer stored as `a`) answers `a` throughout. Beside a random clicker and an always-left clicker (K = 3, whose
    majority differs from her on over 20 % of the items), she was flagged "answers a to 100% of items" (a walk of
    the admin tab); the clickers' flags are the left side's and gold's. An always-`tie` labeller is still flagged:
    that answer is no side."""
    base = {"task": "pairwise", "strength": None, "seconds": 9.0, "active_seconds": None, "ranking": None,
            "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    rows = []
    for i in range(40):
        shown_left = "ab"[i % 2]  # the answer the labellers saw on the left (a coin flip per item)
        random_pick = shown_left if i < 32 else "ab"[(i + 1) % 2]  # agrees with the clicker on 32 items
        for who, answer in (("careful", "a"), ("clicker", shown_left), ("random", random_pick)):
            rows.append(base | {"item_id": f"p{i}", "annotator": who, "choice": answer, "left": shown_left})
        for who, answer in (("tied", "tie"), ("ann", "a"), ("bob", "a")):  # an always-tie labeller's items
            rows.append(base | {"item_id": f"q{i}", "annotator": who, "choice": answer, "left": shown_left})
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    report = {r["labeller"]: r for r in labeller_rows(labels)}
    careful = report["careful"]
    assert careful["top_answer"] == {"choice": "a", "share": 1.0} and careful["loo_compared"] >= 30
    assert careful["loo_agreement"] <= 0.8  # the others' majority differs on >= 20 % of her items
    assert careful["flags"] == []
    assert report["tied"]["flags"] == [
        "answers tie to 100% of items while the others' majority differs on 100% of them: exclude them before --aggregate dawid-skene "
        "(--exclude-labeller tied), which can take them for the most accurate and lose the other answers"
    ]


def test_a_name_with_a_newline_stays_on_its_labellers_line():
    """The Python API stores any name: one holding a newline printed a line of its own, such as a forged FLAG."""
    base = {"task": "pairwise", "strength": None, "seconds": 9.0, "active_seconds": None, "left": None,
            "ranking": None, "ratings": None, "rubric": None, "retracted": False, "supersedes": None}  # fmt: skip
    evil = "evil\n    FLAG forged"
    rows = [
        base | {"item_id": f"i{i}", "annotator": who, "choice": "a"}
        for i in range(20)
        for who in ("ann", evil)
    ]
    labels = pd.DataFrame([row | {"created_at": T0 + timedelta(seconds=n)} for n, row in enumerate(rows)])
    section = {"team": {"median_seconds": 9.0, "labels_per_hour": 400.0}, "labellers": labeller_rows(labels)}
    lines = labeller_lines(section)
    assert len(lines) == 3  # the team's line, ann's, evil's: no line of its own for the name's second part
    assert lines[2].startswith("  evil\\n    FLAG forged: 20 labels") and "κ ann 1.000" in lines[2]
    assert "κ evil\\n    FLAG forged 1.000" in lines[1]


def test_labels_an_import_withdrew_are_counted_as_such_not_as_the_labellers_undos():
    """gina's imported labels withdrawn by `data import --remove` left her at `0 labels` in `stats --labellers`
    with nothing to say why, and the admin tab counted the withdrawals as her undos, its `last active` the time
    an admin ran the command. A label imported again (renewed) is in force, no longer withdrawn."""
    from annotate.agreement import labeller_table
    from data.records import withdrawal_id

    base = {"task": "pairwise", "strength": None, "seconds": None, "active_seconds": None, "left": None,
            "ranking": None, "ratings": None, "rubric": None}  # fmt: skip
    rows = [
        {"item_id": "i1", "choice": "a", "retracted": False, "supersedes": None, "id": "l1"},
        {"item_id": "i2", "choice": "b", "retracted": False, "supersedes": None, "id": "l2"},
        {"item_id": "i3", "choice": "a", "retracted": False, "supersedes": None, "id": "l3"},
        {"item_id": "i1", "choice": None, "retracted": True, "supersedes": "l1", "id": withdrawal_id("l1")},
        {
            "item_id": "i2",
            "choice": None,
            "retracted": True,
            "supersedes": "l2",
            "id": "undo2",
        },  # her own undo
        {"item_id": "i3", "choice": None, "retracted": True, "supersedes": "l3", "id": withdrawal_id("l3")},
        {
            "item_id": "i3",
            "choice": "a",
            "retracted": False,
            "supersedes": withdrawal_id("l3"),
            "id": "l3again",
        },
    ]
    labels = pd.DataFrame(
        [
            base | row | {"annotator": "gina", "created_at": T0 + timedelta(days=n)}
            for n, row in enumerate(rows)
        ]
    )
    (report,) = labeller_rows(labels)
    assert (report["labels"], report["withdrawn"], report["skip_rate"]) == (1, 1, 0.0)
    section = {"team": {"median_seconds": None, "labels_per_hour": None}, "labellers": [report]}
    assert any(line.startswith("  gina: 1 label (1 withdrawn by data import --remove), gold") for line in
               labeller_lines(section))  # fmt: skip
    table = labeller_table(labels, "pairwise").set_index("labeller")
    assert table.loc["gina", ["labels", "skips", "undos", "withdrawn"]].tolist() == [1, 0, 1, 1]
    assert table.loc["gina", "last_active"] == (T0 + timedelta(days=6)).strftime("%Y-%m-%d %H:%M")
    withdrawn_last = labels.iloc[:6]  # before the renewal: the latest own record is her undo, on day 4
    assert labeller_table(withdrawn_last, "pairwise").loc[0, "last_active"] == "2026-01-05 00:00"
