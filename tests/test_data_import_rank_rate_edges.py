"""Edges of rankings and ratings through `python -m data import` (and `data gold FILE`, which reads rows alike):
a ranking repeated in another order is counted as the repeat it is; an unrated row of a rated data set is skipped
and counted, never made a gold (SFT) answer; ratings and rankings in the forms data sets write them (UltraFeedback's
string ratings, a Parquet list<double> ranking) read as their integers."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL
from tests.test_data_import_rank_rate import imported


def test_a_ranking_repeated_in_another_order_is_a_duplicate_row(tmp_path, capsys):
    rows = [
        {"prompt": "Capital of France?", "completions": ["Rome.", "Paris.", "Lyon."], "ranking": "2 > 3 > 1"},
        {"prompt": "Capital of France?", "completions": ["Paris.", "Lyon.", "Rome."], "ranking": [1, 2, 3]},
        {"prompt": "Pick.", "completions": ["x", "y"], "ratings": [{**FULL, "helpfulness": 1}, FULL]},
        {"prompt": "Pick.", "completions": ["y", "x"], "ratings": [FULL, {**FULL, "helpfulness": 1}]},
    ]
    path = write(tmp_path / "ranked.jsonl", *rows)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    out = capsys.readouterr().out
    assert "duplicate_rows 2," in out and "records 4" in out
    assert len(imported(Workspace(tmp_path / "ws"))) == 3  # one ranking, two ratings


def test_an_unrated_row_of_a_rated_file_is_skipped_and_counted_not_made_gold(tmp_path, capsys):
    """HelpSteer2's shape with a row nobody rated (every aspect null): it was stored as the prompt's gold (SFT)
    answer without a word. It is skipped as `unrated`, whatever --on-error says, and listed with the rejects; a
    gold file refuses it; a file without aspect columns keeps its gold answers."""
    rows = [
        {"prompt": "Name a colour.", "response": "Blue.", **FULL},
        {"prompt": "Name a colour.", "response": "Rocks.", **dict.fromkeys(FULL)},
    ]
    for fmt in ("parquet", "jsonl"):  # a null cell, or the keys left out: alike
        path = tmp_path / f"helpsteer2.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(rows), path)
        else:
            write(path, rows[0], {"prompt": "Name a colour.", "response": "Rocks."})
        ws = tmp_path / f"ws-{fmt}"
        for on_error in ("fail", "skip"):
            assert main(["import", "-w", str(ws), "--on-error", on_error, str(path)]) == 0
            out = capsys.readouterr().out
            assert "records 2" in out and "; skipped 1 record(s) (unrated 1), listed in" in out, out
        workspace = Workspace(ws)
        assert [r["gold"] for r in workspace.read("prompts").to_pylist()] == [None]
        assert [r["text"] for r in workspace.read("completions").to_pylist()] == ["Blue."]
        for rejects in (ws / "imports").glob("*.rejects.jsonl"):  # one per import
            assert [json.loads(line)["reason"] for line in rejects.read_text().splitlines()] == ["unrated"]
        assert main(["gold", "-w", str(ws), str(path)]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}, row 1, field 'helpfulness': the row's aspect columns (helpfulness, correctness, "
            "coherence, complexity, verbosity) are empty, as other rows of the file give them: an answer nobody "
            "rated, nothing to make gold; leave the row out\n"
        )
    sft = write(tmp_path / "sft.jsonl", {"prompt": "Gold?", "response": "An SFT answer.", "verbosity": None})
    assert main(["import", "-w", str(tmp_path / "sft"), str(sft)]) == 0
    assert Workspace(tmp_path / "sft").read("prompts").column("gold").to_pylist() == ["An SFT answer."]
