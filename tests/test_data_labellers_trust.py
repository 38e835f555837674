"""Each labeller's `trust` (`stats --labellers`, its JSON, the admin tab's labellers table): the posterior Dawid–Skene
export gives an answer of theirs that nobody checks (`data.dawid_skene.checked_trust`), which was shown nowhere."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq

from data.__main__ import main
from data.intervals import trust_text
from data.labeller_dawid_skene import EXCLUDED_CHECKS
from data.records import Label
from data.selection import set_excluded
from tests.test_train import build_workspace


def test_trust_is_the_posterior_of_the_labellers_unchecked_exported_rows(tmp_path, capsys):
    """dan says a on 2 of the 8 pairs ann, bob and cyd share and b on the 4 only he labels: b checked on fewer than
    3 items, his own 4 stay out of the fit at his trust, (Σ + 2) / (2 + 2.5) over the 2 it checks (not 0.8)."""
    ws = build_workspace(tmp_path / "ws", count=12, annotators=())
    pairs = ws.frame("pairs")["id"].tolist()
    labels = [Label(pair, "dan", "pairwise", "b") for pair in pairs[8:]]
    labels += [Label(pair, "dan", "pairwise", "a") for pair in pairs[:2]]
    for i, pair in enumerate(pairs[:8]):
        votes = (("ann", "a"), ("bob", "a" if i % 2 else "b"), ("cyd", "b" if i % 3 == 0 else "a"))
        labels += [Label(pair, name, "pairwise", choice) for name, choice in votes]
    ws.append(labels)
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--aggregate", "dawid-skene"]) == 0
    rows = pq.read_table(ws.exports / "dpo.parquet").to_pylist()
    exported = {float(trust_text(r["posterior"])) for r in rows if r["checked"] is False}  # as printed
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    report = {r["labeller"]: r for r in json.loads(capsys.readouterr().out)["labellers"]}
    assert len(exported) == 1 and sum(r["checked"] is False for r in rows) == 4
    assert exported == {report["dan"]["trust"]} and report["dan"]["trust"] != 0.8
    assert report["dan"]["ds_accuracy"] is not None
    assert main(["stats", "-w", str(ws.path), "--labellers"]) == 0
    assert report["dan"]["trust"] == 0.87998  # 0.880 read as if a --min-posterior 0.88 kept his rows
    assert "trust 0.87998, " in capsys.readouterr().out
    assert admin_trust(ws)["dan"] == "0.87998"


def admin_trust(ws) -> dict[str, str]:
    """The trust column of the admin tab's labellers table, by labeller."""
    from annotate.admin import admin_view
    from annotate.app import make_context
    from annotate.service import LabelService
    from annotate.users import Authenticator, User, hash_password

    users = {"lead": User("lead", hash_password("correct horse battery"), admin=True)}
    _, table, _, _ = admin_view(make_context(LabelService(ws), Authenticator(users)), "lead")
    columns = re.findall(r"<th>(.*?)</th>", table)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
    return {row[0]: dict(zip(columns, row))["trust"] for row in cells if row}


def test_a_labeller_whom_only_an_excluded_labeller_checks_is_shown_at_the_exports_trust(tmp_path, capsys):
    """mallory (excluded) labels all 12 pairs, ann the 4 gold ones, cyd the other 8: only mallory checks cyd. The
    report fits mallory too (a lead judges everyone), so cyd showed a DS accuracy and trust 0.89, while the export,
    which leaves mallory out, gave cyd's 8 rows 0.8, as answers nobody checks. Her trust is the export's now, and
    the row says where her checks come from; ann, checked by gold, and mallory keep their figures."""
    ws = build_workspace(tmp_path / "ws", count=12, annotators=())
    pairs = ws.frame("pairs")["id"].tolist()
    labels = [Label(pair, "mallory", "pairwise", "a" if i % 4 else "b") for i, pair in enumerate(pairs)]
    labels += [Label(pair, "ann", "pairwise", "a") for pair in pairs[:4]]
    labels += [Label(pair, "cyd", "pairwise", "a" if i % 5 else "b") for i, pair in enumerate(pairs[4:])]
    ws.append(labels)
    for pair in pairs[:4]:
        assert main(["gold", "-w", str(ws.path), "--pair", pair, "--answer", "a"]) == 0
    out = ["--exclude-labeller", "mallory"]
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--aggregate", "dawid-skene", *out]) == 0
    rows = pq.read_table(ws.exports / "dpo.parquet").to_pylist()
    assert {(r["checked"], r["posterior"]) for r in rows} == {(False, 0.8)} and len(rows) == 8
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json", *out]) == 0
    report = {r["labeller"]: r for r in json.loads(capsys.readouterr().out)["labellers"]}
    cyd = report["cyd"]
    assert (cyd["trust"], cyd["trust_note"]) == (0.8, EXCLUDED_CHECKS) and cyd["ds_accuracy"] > 0.8
    assert "trust_note" not in report["ann"] and "trust_note" not in report["mallory"]
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0  # nobody excluded: the fit's
    everyone = {r["labeller"]: r for r in json.loads(capsys.readouterr().out)["labellers"]}
    assert everyone["cyd"]["trust"] > 0.8 and "trust_note" not in everyone["cyd"]
    assert (report["mallory"]["trust"], report["ann"]["ds_accuracy"]) == (
        everyone["mallory"]["trust"],
        everyone["ann"]["ds_accuracy"],
    )
    assert main(["stats", "-w", str(ws.path), "--labellers", *out]) == 0
    assert (
        f"DS accuracy {cyd['ds_accuracy']:.3f}, trust 0.800 ({EXCLUDED_CHECKS}), " in capsys.readouterr().out
    )
    set_excluded(
        ws.path, "mallory", True
    )  # the admin tab's switch: its table shows the trust its export gives
    # the note, as the report says it: the admin table showed 0.800 beside cyd's DS accuracy unexplained
    shown = admin_trust(ws)
    assert shown["cyd"] == f"0.800 ({EXCLUDED_CHECKS})"
    assert [shown[name] for name in ("ann", "mallory")] == [
        f"{report[n]['trust']:.3f}" for n in ("ann", "mallory")
    ]  # no note where the report has none
