"""`data import --on-error skip` leaves out a row whose ranking does not rank every answer its item would hold (it
stopped the import with one line, where every other bad row was skipped), counted and listed by reason
(``rank_item_size``); without ``--on-error skip`` it is still one line naming the file, row and field, and
`data import --remove` of the file reads the row as left out again."""

from __future__ import annotations

import json

from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_rank_rate import RANKED, imported

FOUR = {"prompt": "Capital of France?", "completions": ["Rome.", "Paris.", "Lyon.", "Nice."]}
PAIR = {"prompt": "2 + 2?", "chosen": "4", "rejected": "5"}


def test_skip_leaves_out_a_ranking_of_fewer_answers_than_its_item_holds_counted_by_reason(tmp_path, capsys):
    ws = tmp_path / "ws"
    # the item's fourth answer is stored (the same source): a ranking of three would leave it unranked for good
    assert main(["import", "-w", str(ws), "--unlabelled", str(write(tmp_path / "four.jsonl", FOUR))]) == 0
    # the item of row 2 would hold 7 answers, the file's own: past 6 it would leave the rank app
    planets = {"completions": ["Mars.", "Jupiter.", "Saturn."], "ranking": "2 > 3 > 1"}
    seven = [{"prompt": "Largest planet?", "completions": ["a", "b", "c", "d"]}, RANKED[1] | planets]
    path = write(tmp_path / "ranks.jsonl", RANKED[0], *seven, PAIR)
    source = ["--source", "four"]
    capsys.readouterr()
    assert main(["import", "-w", str(ws), *source, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, row 0, field 'ranking': its ranking's item")
    assert err.count("\n") == 1
    assert "would hold 4 answers" in err and "the others would never be ranked" in err

    assert main(["import", "-w", str(ws), *source, "--on-error", "skip", str(path)]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 records (rank_item_size 2)" in out and "new_labels 1" in out  # PAIR's preference
    (rejects,) = (ws / "imports").glob("*ranks.rejects.jsonl")
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["field"], r["reason"]) for r in listed] == [
        (0, "ranking", "rank_item_size"),
        (2, "ranking", "rank_item_size"),
    ]
    assert "would hold 7 answers" in listed[1]["error"]
    log = json.loads((ws / "imports" / "log.jsonl").read_text().splitlines()[-1])
    assert log["counts"]["skipped_rank_item_size"] == 2 and log["ranked_items"] == []
    assert [r["task"] for r in imported(Workspace(ws))] == ["pairwise"]

    assert main(["import", "-w", str(ws), *source, "--on-error", "skip", "--remove", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {path}: 1 (preferences 1); 2 rows skipped at import (rank_item_size), never stored\n"
    )
