"""A re-imported rating or KTO label that differs from one an import stored is refused, as a ranking is; the
ranking's refusal named the file to withdraw (`data import --remove ranks.jsonl`), theirs said `data import --remove
FILE`, FILE the file that imported it. Each import's log line now lists the answers it rated and KTO-labelled
(``rated_items``, ``kto_items``, beside ``ranked_items``), up to `MAX_LOGGED_ITEMS` each, and the refusal names the
latest file whose import stored the label and no `--remove` withdrew since (`data.import_write.imported_by`)."""

from __future__ import annotations

import json

from data import import_write
from tests.test_data_gold_files import write
from tests.test_data_import_kto_conflicts import BAD, GOOD, REMEDY
from tests.test_data_import_log import disk_full, log_lines
from tests.test_data_import_rank_rate import answer_id, import_, rating
from tests.test_data_import_remove import remove

PLACEHOLDER = "(`data import --remove FILE`, FILE the file that imported it)\n"
OTHER = {"prompt": "Other?", "completion": "x", "label": False}  # moves GOOD to row 1: another KTO label's id


def folders(tmp_path, *names: str) -> None:
    for name in names:  # one file name in each: one source, so one answer
        (tmp_path / name).mkdir()


def refusal(ws, path, capsys) -> str:
    """What `data import` of ``path`` (a label differing from a stored one) is refused with, after the remedy."""
    capsys.readouterr()
    assert import_(ws, path) == 2
    return capsys.readouterr().err.split(f"{REMEDY} ", 1)[1]


def test_a_differing_rating_names_the_file_that_rated_the_answer_until_it_is_withdrawn(tmp_path, capsys):
    ws, answer = tmp_path / "ws", answer_id("Say hi.", "Hello!", "rated")
    folders(tmp_path, "a", "b")
    first = write(
        tmp_path / "a" / "rated.jsonl", {"prompt": "Say hi.", "response": "Hello!", "ratings": rating(3)}
    )
    other = write(
        tmp_path / "b" / "rated.jsonl", {"prompt": "Say hi.", "response": "Hello!", "ratings": rating(0)}
    )
    assert import_(ws, first) == 0
    assert log_lines(ws)[0]["rated_items"] == [answer]
    assert refusal(ws, other, capsys) == f"(`data import --remove {first}`)\n"
    assert remove(ws, first) == 0
    assert import_write.imported_by(ws, "rate", [answer]) == {}  # withdrawn: the file claims it no more
    assert import_(ws, other) == 0
    assert import_write.imported_by(ws, "rate", [answer]) == {answer: str(other)}


def test_a_differing_kto_label_names_the_latest_file_until_a_withdrawal(tmp_path, capsys):
    """Two files holding one KTO label (at other rows: two labels, the later in force) both list the answer: the
    refusal names the later; its withdrawal withdraws the answer's KTO label, so no file claims it."""
    ws, answer = tmp_path / "ws", answer_id("Two plus two?", "4", "kto")
    folders(tmp_path, "a", "b", "c")
    first, second = (
        write(tmp_path / "a" / "kto.jsonl", GOOD),
        write(tmp_path / "b" / "kto.jsonl", OTHER, GOOD),
    )
    conflicting = write(tmp_path / "c" / "kto.jsonl", BAD)
    assert import_(ws, first, second) == 0
    assert [answer in line["kto_items"] for line in log_lines(ws)] == [True, True]
    assert refusal(ws, conflicting, capsys) == f"(`data import --remove {second}`)\n"
    assert remove(ws, second) == 0
    assert import_write.imported_by(ws, "kto", [answer]) == {}
    assert import_(ws, conflicting) == 0
    assert refusal(ws, first, capsys) == f"(`data import --remove {conflicting}`)\n"


def test_log_lines_without_the_items_give_the_placeholder(tmp_path, capsys):
    """A line logged before lines listed rated and KTO-labelled answers names no file, as one before
    ``ranked_items`` named no ranking's."""
    ws = tmp_path / "ws"
    folders(tmp_path, "a", "b", "c")
    rated = {"prompt": "Two plus two?", "response": "4", "ratings": rating(4)}
    assert import_(ws, write(tmp_path / "a" / "kto.jsonl", GOOD, rated)) == 0
    log = ws / "imports" / "log.jsonl"
    old = [{k: v for k, v in line.items() if k not in ("rated_items", "kto_items")} for line in log_lines(ws)]
    log.write_text("".join(json.dumps(line) + "\n" for line in old))
    assert refusal(ws, write(tmp_path / "b" / "kto.jsonl", BAD), capsys) == PLACEHOLDER
    rerated = write(tmp_path / "c" / "kto.jsonl", rated | {"ratings": rating(1)})  # one name: one answer
    assert refusal(ws, rerated, capsys) == PLACEHOLDER


def test_a_file_labelling_more_answers_than_the_log_lists_names_no_file(tmp_path, capsys, monkeypatch):
    """Past `MAX_LOGGED_ITEMS` a line lists none (its count instead): it may hold any answer, so the earlier file
    listing the answer is not named, a later one is."""
    monkeypatch.setattr(import_write, "MAX_LOGGED_ITEMS", 1)
    ws, answer = tmp_path / "ws", answer_id("Two plus two?", "4", "kto")
    folders(tmp_path, "a", "b", "c", "d")
    first, second = (
        write(tmp_path / "a" / "kto.jsonl", GOOD),
        write(tmp_path / "b" / "kto.jsonl", OTHER, GOOD),
    )
    assert import_(ws, first, second) == 0
    listed, unlisted = log_lines(ws)
    assert (listed["kto_items"], listed["items_not_logged"]) == ([answer], {})
    assert (unlisted["kto_items"], unlisted["items_not_logged"]) == (None, {"kto": 2})
    conflicting = write(tmp_path / "c" / "kto.jsonl", BAD)
    assert refusal(ws, conflicting, capsys) == PLACEHOLDER
    last = write(tmp_path / "d" / "kto.jsonl", GOOD)
    assert import_(ws, last) == 0
    assert refusal(ws, conflicting, capsys) == f"(`data import --remove {last}`)\n"


def test_an_unlogged_import_warns_that_refusals_of_its_labels_cannot_name_it(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(import_write, "append_line", disk_full)
    path = write(tmp_path / "kto.jsonl", GOOD, OTHER)
    assert import_(tmp_path / "ws", path) == 0
    assert (
        "refusals of a rating or KTO label that differs from one it stored, of its 2 answers, cannot name it "
        "(they say FILE)" in caplog.text
    )
