"""Each labeller's `trust` (`stats --labellers`, its JSON, the admin tab's labellers table): the posterior Dawid–Skene
export gives an answer of theirs that nobody checks (`data.dawid_skene.checked_trust`), which was shown nowhere."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq

from data.__main__ import main
from data.records import Label
from tests.test_train import build_workspace


def test_trust_is_the_posterior_of_the_labellers_unchecked_exported_rows(tmp_path, capsys):
    """dan says a on 2 of the 8 pairs ann, bob and cyd share and b on the 4 only he labels: b checked on fewer than
    3 items, his own 4 stay out of the fit at his trust, (Σ + 2) / (2 + 2.5) over the 2 it checks (not 0.8)."""
    from annotate.admin import admin_view
    from annotate.app import make_context
    from annotate.service import LabelService
    from annotate.users import Authenticator, User, hash_password

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
    exported = {round(r["posterior"], 3) for r in rows if r["checked"] is False}
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    report = {r["labeller"]: r for r in json.loads(capsys.readouterr().out)["labellers"]}
    assert len(exported) == 1 and sum(r["checked"] is False for r in rows) == 4
    assert exported == {report["dan"]["trust"]} and report["dan"]["trust"] != 0.8
    assert report["dan"]["ds_accuracy"] is not None
    assert main(["stats", "-w", str(ws.path), "--labellers"]) == 0
    assert f"trust {report['dan']['trust']:.3f}, " in capsys.readouterr().out
    users = {"lead": User("lead", hash_password("correct horse battery"), admin=True)}
    _, table, _, _ = admin_view(make_context(LabelService(ws), Authenticator(users)), "lead")
    columns = re.findall(r"<th>(.*?)</th>", table)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
    dan = next(dict(zip(columns, row)) for row in cells if row and row[0] == "dan")
    assert dan["trust"] == f"{report['dan']['trust']:.3f}"
