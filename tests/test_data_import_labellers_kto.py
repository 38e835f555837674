"""An import's labeller column on KTO rows (`data.import_labellers`): a row labelling one answer desirable or
undesirable and naming its labeller is that labeller's label of the answer of its prompt and text, which every
labeller's rows of that text share, as their preference rows share a pair: counted per labeller, measured by `stats
--labellers` (its kto task), kept off the answers its labeller labelled in the app, withdrawn by `--remove`."""

from __future__ import annotations

import json

from annotate.service import LabelService
from data.__main__ import main
from data.aggregate import current_labels
from data.records import Completion, Label
from data.workspace import Workspace
from tests.test_data_import_labellers import write

QUESTIONS = 6


def kto_rows(name: str | None, flipped: set[int] = frozenset(), column: str = "labeller") -> list[dict]:
    """One KTO row per question: its answer desirable where the question is even (but ``flipped``)."""
    out = []
    for i in range(QUESTIONS):
        row = {
            "prompt": f"Question {i}?",
            "completion": f"answer {i}",
            "label": (i % 2 == 0) != (i in flipped),
        }
        out.append(row | ({column: name} if name is not None else {}))
    return out


def kto_labels(ws) -> list[dict]:
    """The KTO labels stored, retractions left out."""
    table = Workspace.existing(ws).read("labels").to_pylist()
    return [r for r in table if r["task"] == "kto" and not r["retracted"]]


def in_force(ws) -> set[tuple]:
    """(answer, annotator, choice, id) of each annotator's KTO label in force on each answer."""
    current = current_labels(Workspace.existing(ws).read("labels"), "kto")
    return set(current[["item_id", "annotator", "choice", "id"]].itertuples(index=False, name=None))


def kto_figures(ws, capsys) -> dict[str, dict]:
    """Each labeller's `stats --labellers --json` KTO figures, by name."""
    capsys.readouterr()
    assert main(["stats", "-w", str(ws), "--labellers", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    return {row["labeller"]: row for row in report["tasks"]["kto"]["labellers"]}


def answers(ws) -> dict[str, str]:
    """Each stored answer's id by its text (one answer per text here)."""
    table = Workspace.existing(ws).read("completions")
    by_text = dict(zip(table.column("text").to_pylist(), table.column("id").to_pylist()))
    assert len(by_text) == table.num_rows
    return by_text


def unlabelled(tmp_path, capsys):
    """A workspace holding the questions' answers, stored unlabelled for the KTO app."""
    ws = tmp_path / "ws"
    cands = write(tmp_path / "cands.jsonl", kto_rows(None))
    assert main(["import", "-w", str(ws), str(cands), "--unlabelled"]) == 0
    capsys.readouterr()
    return ws


def test_labellers_kto_files_label_the_stored_answers_and_stats_measures_them(tmp_path, capsys):
    ws = unlabelled(tmp_path, capsys)
    stored = answers(ws)
    alice = write(tmp_path / "alice.jsonl", kto_rows("alice"))
    bob = write(tmp_path / "bob.jsonl", kto_rows("bob", {0, 1}, column="user_id"))
    assert main(["import", "-w", str(ws), str(alice), str(bob)]) == 0
    out = capsys.readouterr().out
    assert "labels by labeller: alice 6" in out and "labels by labeller: bob 6" in out
    assert "columns not read" not in out and "new_completions" not in out
    assert answers(ws) == stored  # the stored answers, none again
    labels = kto_labels(ws)
    assert {r["annotator"] for r in labels} == {"alice", "bob"}
    assert {r["item_id"] for r in labels} == set(stored.values())  # both labelled every answer: votes overlap
    by = {(r["item_id"], r["annotator"]): r["choice"] for r in labels}
    assert by[stored["answer 0"], "alice"] == "desirable" and by[stored["answer 0"], "bob"] == "undesirable"
    assert sum(by[item, "alice"] != by[item, "bob"] for item in stored.values()) == 2
    report = kto_figures(ws, capsys)
    assert report["alice"]["labels"] == report["bob"]["labels"] == QUESTIONS
    assert report["alice"]["loo_compared"] == QUESTIONS and report["alice"]["loo_agreement"] == round(
        4 / 6, 3
    )
    assert report["alice"]["ds_accuracy"] is not None and report["bob"]["desirable_rate"] == 0.5
    assert main(["import", "-w", str(ws), str(bob), str(alice)]) == 0  # again: adds nothing
    out = capsys.readouterr().out
    assert "new_labels" not in out and "labels by labeller" not in out
    assert len(kto_labels(ws)) == 2 * QUESTIONS


def test_labellers_kto_rows_and_preference_rows_of_one_text_share_its_new_answer(tmp_path, capsys):
    ws = tmp_path / "ws"
    team = write(tmp_path / "team.jsonl", kto_rows("alice") + kto_rows("bob", {2}))
    carol = write(tmp_path / "carol.jsonl", kto_rows("carol", {3}))
    pref = {"prompt": "Question 0?", "chosen": "answer 0", "rejected": "worse 0", "labeller": "dan"}
    dan = write(tmp_path / "dan.jsonl", [pref])
    assert main(["import", "-w", str(ws), str(team), str(carol), str(dan)]) == 0
    out = capsys.readouterr().out
    assert "labels by labeller: alice 6, bob 6" in out and "duplicate_rows" not in out
    team_line, carol_line, dan_line = out.splitlines()  # each new answer counted once, by the file storing it
    assert f"new_completions {QUESTIONS}," in team_line and "new_completions" not in carol_line
    assert "new_completions 1," in dan_line and "new_pairs 1," in dan_line
    stored = answers(ws)
    assert len(stored) == QUESTIONS + 1  # the six answers, once each, and dan's other answer
    (pair,) = Workspace.existing(ws).read("pairs").to_pylist()
    assert {pair["completion_a"], pair["completion_b"]} == {stored["answer 0"], stored["worse 0"]}
    assert len(kto_labels(ws)) == 3 * QUESTIONS
    assert {r["item_id"] for r in kto_labels(ws)} == {stored[f"answer {i}"] for i in range(QUESTIONS)}


def test_a_labellers_kto_rows_differing_on_one_answer_are_refused_the_same_one_twice_is_one_label(
    tmp_path, capsys
):
    ws = tmp_path / "ws"
    twice = write(tmp_path / "twice.jsonl", kto_rows("alice") + kto_rows("alice")[:1])
    assert main(["import", "-w", str(ws), str(twice)]) == 0
    out = capsys.readouterr().out
    assert "labels by labeller: alice 6" in out and "duplicate_rows 1" in out
    assert len(kto_labels(ws)) == QUESTIONS
    differ = write(tmp_path / "differ.jsonl", kto_rows("bob") + kto_rows("bob", {0})[:1])
    assert main(["import", "-w", str(ws), str(differ)]) == 2
    err = capsys.readouterr().err
    assert (
        f"differ.jsonl, row {QUESTIONS}, field 'labeller': bob labels this answer otherwise at row 0: a labeller "
        "holds one label per answer" in err
    )
    assert len(kto_labels(ws)) == QUESTIONS  # nothing written
    assert main(["import", "-w", str(ws), str(differ), "--on-error", "skip"]) == 0
    assert "skipped 1 record (conflicting_labeller_rows 1)" in capsys.readouterr().out


def test_remove_withdraws_a_labellers_kto_labels_and_importing_again_puts_them_back(tmp_path, capsys):
    ws = tmp_path / "ws"
    alice = write(tmp_path / "alice.jsonl", kto_rows("alice"))
    bob = write(tmp_path / "bob.jsonl", kto_rows("bob", {1}))
    assert main(["import", "-w", str(ws), str(alice), str(bob)]) == 0
    assert main(["import", "-w", str(ws), "--remove", str(bob)]) == 0
    assert f"withdrew the labels of {bob}: {QUESTIONS} (KTO labels {QUESTIONS})" in capsys.readouterr().out
    report = kto_figures(ws, capsys)
    assert report["bob"]["labels"] == 0 and report["alice"]["labels"] == QUESTIONS
    assert main(["import", "-w", str(ws), str(bob)]) == 0
    assert f"restored_labels {QUESTIONS}" in capsys.readouterr().out
    assert kto_figures(ws, capsys)["bob"]["labels"] == QUESTIONS


def label_in_app(ws, user: str, only: set[int]) -> None:
    """``user`` labels, in the KTO app (`annotate.service.LabelService`), the answers of the questions ``only``
    holds, as `kto_rows` labels them; the others are skipped."""
    service = LabelService(Workspace(ws), overlap=2, task="kto")
    while (shown := service.show(user)) is not None:
        number = int(shown.item.texts[0].split()[1])
        if number in only:
            service.submit(user, shown.item.id, "desirable" if number % 2 == 0 else "undesirable")
        else:
            service.skip(user, shown.item.id)


def test_a_labellers_kto_rows_over_their_app_labels_are_not_stored_and_remove_leaves_those(tmp_path, capsys):
    ws = unlabelled(tmp_path, capsys)
    label_in_app(ws, "alice", {0, 1, 2})
    app = in_force(ws)
    assert len(app) == 3
    alice = write(tmp_path / "alice.jsonl", kto_rows("alice", {0, 3}))  # 0 against the app's label
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    out, err = capsys.readouterr()
    assert "labelled_in_app 3" in out and "new_labels 3" in out  # 3, 4 and 5: no app label, stored
    assert "labels by labeller: alice 3" in out
    assert "3 labels of labeller rows not stored (labelled_in_app)" in err
    after = in_force(ws)
    assert app < after and len(after) == QUESTIONS  # the app's three, as they were
    assert kto_figures(ws, capsys)["alice"]["labels"] == QUESTIONS
    assert main(["import", "-w", str(ws), "--remove", str(alice)]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {alice}: 3 (KTO labels 3); 3 rows skipped at import (labelled_in_app), never "
        "stored\n"
    )
    assert in_force(ws) == app


def test_a_labellers_kto_row_finds_their_own_of_several_stored_answers_of_its_text(tmp_path, capsys):
    """Two models gave one text: two answers the KTO app serves. The row is on the one its labeller labelled in
    the app (their app label kept), not on the earliest."""
    ws = tmp_path / "ws"
    same = [{"text": "answer 0", "model": model} for model in ("m1", "m2")]
    cands = write(tmp_path / "cands.jsonl", [{"prompt": "Question 0?", "completions": same}])
    assert main(["import", "-w", str(ws), str(cands)]) == 0
    workspace = Workspace.existing(ws)
    models = dict(zip(*(workspace.read("completions").column(c).to_pylist() for c in ("model", "id"))))
    workspace.append([Label(models["m2"], "alice", "kto", "desirable")])  # an app label: its id is random
    app = in_force(ws)
    capsys.readouterr()
    alice = write(tmp_path / "alice.jsonl", kto_rows("alice", {0})[:1])
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    assert "labelled_in_app 1" in capsys.readouterr().out
    assert in_force(ws) == app  # nothing on m1's answer, m2's app label as it was


def test_an_imported_kto_label_refused_names_its_file_not_a_labellers_file_over_the_answer(tmp_path, capsys):
    """The import log lists the answers a file gave the `import` annotator's KTO label, which a refusal of another
    label on them names as the file to withdraw; a labeller's label over the answer is no such label."""
    ws = tmp_path / "ws"
    plain = write(tmp_path / "plain.jsonl", kto_rows(None))
    assert main(["import", "-w", str(ws), str(plain)]) == 0
    alice = write(tmp_path / "alice.jsonl", kto_rows("alice", {0}))
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    assert {r["item_id"] for r in kto_labels(ws) if r["annotator"] == "alice"} == set(answers(ws).values())
    other = write(tmp_path / "other.jsonl", kto_rows(None, {0})[:1])
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(other), "--source", "plain"]) == 2
    err = capsys.readouterr().err
    assert "already holds an imported KTO label (desirable)" in err
    assert f"`data import --remove {plain}`" in err and "alice.jsonl" not in err


def test_a_labellers_kto_row_over_an_edits_text_labels_an_answer_the_kto_app_serves(tmp_path, capsys):
    """An edit (an answer of engine `human`) is no KTO item: a row of its text labels a new answer of the file."""
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(write(tmp_path / "q.jsonl", [{"prompt": "Question 0?"}]))]) == 0
    workspace = Workspace.existing(ws)
    (prompt,) = workspace.read("prompts").column("id").to_pylist()
    edit = Completion(prompt, "answer 0", "human:bob", "human")
    workspace.append([edit])
    alice = write(tmp_path / "alice.jsonl", kto_rows("alice")[:1])
    assert main(["import", "-w", str(ws), str(alice)]) == 0
    assert "new_completions 1" in capsys.readouterr().out
    (label,) = kto_labels(ws)
    made = Workspace.existing(ws).read("completions").to_pylist()
    assert label["item_id"] != edit.id and {r["engine"] for r in made if r["id"] == label["item_id"]} == {
        "import"
    }
