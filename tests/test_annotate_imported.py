"""Candidates imported without a preference reach labellers: an `--unlabelled` chosen/rejected file and a
candidates file show in the app's queue (through the handlers), and the labels made there export to DPO."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from annotate.admin_export import export_labels
from annotate.app import label_view, make_context, on_submit
from annotate.service import LabelService
from annotate.users import Authenticator, add_user, load_users
from data import Workspace
from data.__main__ import main as data_main
from data.records import Completion, Prompt
from tests.test_data_gold_tasks import FULL

PASSWORD = "correct horse battery"


def test_unlabelled_imports_are_labelled_in_the_app_and_export_to_dpo(tmp_path, capsys):
    prefs = tmp_path / "two-models.jsonl"
    prefs.write_text(
        "".join(
            json.dumps(
                {"prompt": f"Question {i}?", "chosen": f"GOOD answer {i}", "rejected": f"weak answer {i}"}
            )
            + "\n"
            for i in range(2)
        )
    )
    cands = tmp_path / "cands.jsonl"
    cands.write_text(
        json.dumps(
            {
                "prompt": "Question 2?",
                "completions": [{"text": "GOOD answer 2", "model": "m1"}, "weak answer 2"],
            }
        )
        + "\n"
    )
    ws = tmp_path / "ws"
    assert data_main(["import", "-w", str(ws), str(prefs), "--unlabelled", "--source", "system-x"]) == 0
    assert data_main(["import", "-w", str(ws), str(cands)]) == 0
    users = tmp_path / "users.toml"
    add_user(users, "ann", PASSWORD, admin=True)
    ctx = make_context(LabelService(Workspace(ws), overlap=1), Authenticator(load_users(users)))

    shown = []
    view = label_view(ctx, "ann")  # an admin is handed items once the Label tab is open
    while view.item_id:
        shown.append(view.prompt)
        side = "left" if "GOOD" in view.left else "right"
        view = on_submit(ctx, "ann", view.item_id, side, 3, "")
    assert len(shown) == 3 and all("Question" in prompt for prompt in shown)
    assert "Wrote" in export_labels(ctx, "ann", "dpo")
    dpo = pd.read_parquet(ws / "exports" / "dpo.parquet")
    assert sorted(row[0]["content"] for row in dpo["chosen"]) == [f"GOOD answer {i}" for i in range(3)]
    assert sorted(row[0]["content"] for row in dpo["rejected"]) == [f"weak answer {i}" for i in range(3)]
    completions = Workspace(ws).frame("completions")
    assert set(completions["model"]) == {"system-x", "m1", "cands"}


def test_a_workspace_of_labelled_imports_says_how_to_label_them(tmp_path, capsys):
    from annotate.__main__ import main as annotate_main

    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(json.dumps({"prompt": "Q?", "chosen": "good", "rejected": "bad"}) + "\n")
    ws = tmp_path / "ws"
    assert data_main(["import", "-w", str(ws), str(prefs)]) == 0
    add_user(tmp_path / "users.toml", "ann", PASSWORD)
    capsys.readouterr()
    assert annotate_main(["-w", str(ws), "--users", str(tmp_path / "users.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {ws}: nothing to label for task pairwise: its 1 imported pairs came labelled by their file"
    )
    assert f"`python -m data import -w {ws} FILE --unlabelled`" in err and err.count("\n") == 1
    assert f"`python -m data import -w {ws} --remove FILE` withdraws the file's labels" in err


EMPTY_QUEUES = [  # (task, the rows imported, what the line says after "nothing to label for task T: ")
    ("kto", [{"prompt": "Q?", "completion": "fine", "label": True}],
     "its 1 imported answers came labelled by their file (a KTO label each); for people to label them, `python -m "
     "data import -w {ws} --remove FILE` withdraws the file's labels (kept as history), or sample new answers with "
     "`python -m generate`"),
    ("rate", [{"prompt": "Q?", "response": "4", "ratings": FULL}],
     "its 1 imported answers came labelled by their file (ratings each); for people to label them, `python -m "
     "data import -w {ws} --remove FILE`"),
    ("rank", [{"prompt": "Q?", "completions": ["a", "b", "c"], "ranking": "1 > 2 > 3"}],
     "its 1 rank items came labelled by their file (a ranking each); for people to label them, `python -m "
     "data import -w {ws} --remove FILE`"),
]  # fmt: skip


@pytest.mark.parametrize("task, rows, said", EMPTY_QUEUES)
def test_each_tasks_empty_queue_says_its_items_came_labelled_by_an_import(tmp_path, capsys, task, rows, said):
    """Every item came labelled by its import: the line said `run python -m generate first`, as for an empty
    workspace (only the pairwise task's mentioned imports). It also began by denying the items it then counted
    (`(no prompt with 3-6 answers in one round ...); its 1 rank items came labelled ...`): it names them alone."""
    from annotate.__main__ import main as annotate_main

    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ws = tmp_path / "ws"
    assert data_main(["import", "-w", str(ws), str(path)]) == 0
    add_user(tmp_path / "users.toml", "ann", PASSWORD)
    capsys.readouterr()
    assert annotate_main(["-w", str(ws), "--users", str(tmp_path / "users.toml"), "--task", task]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {ws}: nothing to label for task {task}: {said.format(ws=ws)}"), err
    assert err.count("\n") == 1 and "(no " not in err
    assert data_main(["import", "-w", str(ws), "--remove", str(path)]) == 0  # the advice works
    service = LabelService(Workspace(ws), task, overlap=1)
    assert len(service.items) == 1


def test_a_kto_queue_of_gold_answers_only_says_so(tmp_path, capsys):
    from annotate.__main__ import main as annotate_main

    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Q?"}], source="t")
    ws.append([prompt, Completion(prompt.id, "gold answer", "gold", "gold")])
    add_user(tmp_path / "users.toml", "ann", PASSWORD)
    assert annotate_main(["-w", str(ws.path), "--users", str(tmp_path / "users.toml"), "--task", "kto"]) == 2
    assert (
        "; its 1 answers are all gold answers or labellers' edits, which nobody labels"
        in capsys.readouterr().err
    )
