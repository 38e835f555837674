"""Judges and reward models measured against the people's verdicts of the aggregation asked for, on a hand-sized
workspace: `python -m data stats --aggregate` and the admin tab's "Verdicts by" switch."""

from __future__ import annotations

import json

import pytest

from annotate.admin import machine_cards
from annotate.agreement import admin_report
from data.__main__ import main
from data.aggregate import DAWID_SKENE, MAJORITY
from data.gold import read_gold
from data.records import Label


def judged(ws) -> list[str]:
    """Four pairs: p0 a/a, p1 a/b/b with gold answer a, p2 tie/both_bad, p3 people left alone; a judge on all
    four says a, a, tie, b. Their majority: a, b, tie (one answer against a machine); Dawid–Skene: a, a (gold
    clamped), tie or both_bad (a tie either way)."""
    p = ws.frame("pairs").sort_values("created_at")["id"].tolist()
    people = [
        (p[0], "ann", "a"),
        (p[0], "bob", "a"),
        (p[1], "ann", "a"),
        (p[1], "bob", "b"),
        (p[1], "cy", "b"),
    ]
    people += [(p[2], "ann", "tie"), (p[2], "bob", "both_bad")]
    ws.append([Label(item, name, "pairwise", choice) for item, name, choice in people])
    ws.append([Label(item, "judge:j", "pairwise", c) for item, c in zip(p, ["a", "a", "tie", "b"])])
    assert main(["gold", "-w", str(ws.path), "--pair", p[1], "--answer", "a"]) == 0
    return p


def overall(stats: dict) -> dict:
    return next(r for r in stats["machine_agreement"] if r["round"] == "all")


@pytest.mark.parametrize(("method", "agreement"), [(MAJORITY, 2 / 3), (DAWID_SKENE, 1.0)])
def test_judges_are_measured_against_the_verdicts_of_the_aggregation_asked(
    label_ws, capsys, method, agreement
):
    judged(label_ws)
    capsys.readouterr()
    assert main(["stats", "-w", str(label_ws.path), "--aggregate", method, "--json"]) == 0
    row = overall(json.loads(capsys.readouterr().out))
    assert (row["pairs"], row["agreement"], row["against"]) == (3, pytest.approx(agreement), method)
    assert main(["stats", "-w", str(label_ws.path), "--aggregate", method]) == 0
    said = {MAJORITY: "majority", DAWID_SKENE: "Dawid–Skene verdicts"}[method]
    assert f"machine labellers vs the human {said}:\n" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("method", "agreement", "decisive"), [(MAJORITY, "0.67", "0.50"), (DAWID_SKENE, "1.00", "1.00")]
)
def test_the_admin_tab_measures_judges_against_the_verdicts_its_switch_picks(
    label_ws, method, agreement, decisive
):
    judged(label_ws)
    labels, pairs = label_ws.frame("labels"), label_ws.frame("pairs")
    report = admin_report(labels, "pairwise", pairs, method, read_gold(label_ws, "pairwise"))
    assert {r["against"] for r in report["machines"]} == {method}
    said = {MAJORITY: "majority", DAWID_SKENE: "Dawid–Skene verdicts"}[method]
    card = machine_cards(report)[0]
    assert card[2] == f"agree {agreement}, {decisive} without ties; 3 pairs, against their {said}", card
