"""The rank guard's refusal of an answer to an item an import ranked names the file whose import did
(`data.import_write.ranked_by`): each import's log line lists the rank items its file ranked (``ranked_items``),
and the latest such line whose labels no later `--remove` of its file withdrew names the file, as it was given.
Where no line names it (a workspace logged before lines said, or merged without its log) the refusal says FILE."""

from __future__ import annotations

import json

from data.__main__ import main
from data.gold import rank_items
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_errors import digest
from tests.test_data_rank_guard import ADVICE, NEW

FOURTH = {"prompt": "Q?", "completion": "a fourth", "label": True}


def refusal_advice(ws, kto, capsys) -> str:
    """The way out that `data import` of ``kto`` (an answer joining the imported-ranked item) is refused with,
    having written nothing."""
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(kto)]) == 2
    assert digest(ws) == before
    return capsys.readouterr().err.rsplit("leave the row out, or ", 1)[1]


def test_the_refusal_names_the_file_whose_import_ranked_the_item_in_force(tmp_path, monkeypatch, capsys):
    """Named as given (relative here, not the resolved path the log also keeps); once withdrawn, the file whose
    import ranked the item next is named, not the first."""
    monkeypatch.chdir(tmp_path)
    ws = tmp_path / "ws"
    write(tmp_path / "ranks.jsonl", {"prompt": "Q?", "completions": NEW, "ranking": "2 > 1 > 3"})
    write(tmp_path / "other.jsonl", {"prompt": "Q?", "completions": NEW, "ranking": "3 > 1 > 2"})
    kto = write(tmp_path / "kto.jsonl", FOURTH)
    assert main(["import", "-w", str(ws), "ranks.jsonl"]) == 0
    (item,) = rank_items(Workspace(ws))
    (entry,) = [json.loads(line) for line in (ws / "imports" / "log.jsonl").read_text().splitlines()]
    assert (entry["path"], entry["ranked_items"]) == ("ranks.jsonl", [item])
    assert refusal_advice(ws, kto, capsys) == "`data import --remove ranks.jsonl` first\n"

    assert main(["import", "-w", str(ws), "--remove", "ranks.jsonl"]) == 0
    other = ["--source", "ranks", "other.jsonl"]  # the same answers (an answer's id is its source's too)
    assert main(["import", "-w", str(ws), *other]) == 0  # the item ranked again, by another file
    assert refusal_advice(ws, kto, capsys) == "`data import --remove other.jsonl` first\n"
    assert main(["import", "-w", str(ws), "--source", "ranks", "--remove", "other.jsonl"]) == 0
    assert main(["import", "-w", str(ws), "ranks.jsonl"]) == 0  # the first again: its labels put back
    assert refusal_advice(ws, kto, capsys) == "`data import --remove ranks.jsonl` first\n"
    assert main(["import", "-w", str(ws), "--remove", "ranks.jsonl"]) == 0  # the advice, followed
    assert main(["import", "-w", str(ws), str(kto)]) == 0 and len(rank_items(Workspace(ws))[item]) == 4


def test_where_no_log_line_names_the_file_the_refusal_says_file(tmp_path, capsys):
    """A log line written before lines listed their ranked items (the field taken out here), or no log at all
    (merged by a version that carried none): the refusal gives FILE, as it did; the line stays readable."""
    ws, merged = tmp_path / "ws", tmp_path / "merged"
    ranks = write(tmp_path / "ranks.jsonl", {"prompt": "Q?", "completions": NEW, "ranking": "2 > 1 > 3"})
    kto = write(tmp_path / "kto.jsonl", FOURTH)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    log = ws / "imports" / "log.jsonl"
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry.pop("ranked_items")  # a line written now lists them
    assert main(["init", "-w", str(merged)]) == 0
    assert main(["merge", "-w", str(merged), str(ws)]) == 0
    (merged / "imports" / "log.jsonl").unlink()
    log.write_text(json.dumps(entry) + "\n")
    for workspace in (ws, merged):
        assert refusal_advice(workspace, kto, capsys) == f"{ADVICE} first\n"
    assert main(["import", "-w", str(ws), "--remove", str(ranks)]) == 0  # the older line read as before
    assert main(["import", "-w", str(ws), str(kto)]) == 0


def test_a_ranking_only_a_previewed_import_stores_offers_no_withdrawal(tmp_path):
    """The checks a command runs before it imports read an `ImportPreview`: a ranking only the file not yet imported
    stores cannot be withdrawn, so no refusal offers `data import --remove` for it, nor `data gold --remove` alone
    for a gold item it also ranks (the generate command used to cut the advice out of its error text afterwards,
    and the round drivers, reading the same preview, kept it). A ranking a stored import made still offers it."""
    from data.imports import ImportOptions, ImportPreview, check_file
    from data.rank_guard import kept_items

    ranks = write(tmp_path / "ranks.jsonl", {"prompt": "Q?", "completions": NEW, "ranking": "2 > 1 > 3"})
    loaded = check_file(ranks, ImportOptions())
    preview = ImportPreview(tmp_path / "new", None, loaded.records)
    (item,) = rank_items(preview)
    key = {(preview.read("prompts").column("id")[0].as_py(), 0): 1}
    (kept,) = kept_items(preview, key, {})
    assert kept.imported and kept.pending and kept.remove_advice() == ""
    (gold,) = kept_items(preview, key, {item: "gold.jsonl"})
    assert gold.remove_advice() == ""
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    again = ImportPreview(ws, Workspace(ws), loaded.records)
    (stored,) = kept_items(again, key, {})
    assert not stored.pending and stored.remove_advice() == f", or `data import --remove {ranks}` first"
