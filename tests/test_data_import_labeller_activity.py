"""The admin's "last active" of a labeller whose labels came by `data import` was the time an admin ran the import,
as if they had labelled then: it is their latest record made in the app, or "imported" where every one of theirs
an import made (as first written, or written again after `--remove`)."""

from __future__ import annotations

from annotate.agreement import labeller_table
from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_import_labellers import relabel_in_app, rows, write


def last_active(ws) -> dict[str, str]:
    labels = Workspace(ws).frame("labels")  # as the admin tab reads them
    return dict(labeller_table(labels, "pairwise")[["labeller", "last_active"]].itertuples(index=False))


def test_an_imported_labellers_last_activity_is_the_apps_not_the_imports(tmp_path, capsys):
    ws = tmp_path / "ws"
    alice = write(tmp_path / "alice.jsonl", rows("alice"))
    bob = write(tmp_path / "bob.jsonl", [row | {"strength": 3} for row in rows("bob")])  # stored as a whole 3
    assert main(["import", "-w", str(ws), str(alice), str(bob)]) == 0
    assert last_active(ws) == {"alice": "imported", "bob": "imported"}

    relabel_in_app(ws, "alice", 2)
    [made] = [
        r for r in Workspace(ws).read("labels").to_pylist() if r["annotator"] == "alice" and r["seconds"]
    ]
    assert last_active(ws) == {"alice": made["created_at"].strftime("%Y-%m-%d %H:%M"), "bob": "imported"}

    assert main(["import", "-w", str(ws), "--remove", str(bob)]) == 0
    assert main(["import", "-w", str(ws), str(bob)]) == 0  # written again: still the import's
    assert last_active(ws)["bob"] == "imported"
