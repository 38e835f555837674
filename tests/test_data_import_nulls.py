"""Mixed files: preference, KTO, candidate, ranking, rating and gold rows side by side. A Parquet file or a datasets
folder holds every column in every row (null where a row has none) and a JSON file may write ``null``: a null key is
one the row does not have, so each format makes the same workspace as JSON Lines with the keys left out, by
`data import` and `data gold FILE` alike (a rating row failed with "field 'chosen': no answer"). A row left with no
answer once its null fields are out is refused, naming the first and the fields expected: in Parquet it cannot be
told from a preference whose answers are missing."""

from __future__ import annotations

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.import_records import without_nulls
from data.workspace import Workspace
from tests.test_data_gold_tasks import FULL
from tests.test_data_import_errors import digest

MIXED = [
    {"prompt": "Prefer?", "chosen": "good", "rejected": "bad"},
    {"prompt": "Desirable?", "completion": "fine", "label": True},
    {"prompt": "Rank?", "completions": ["x", "y", "z"], "ranking": "2 > 1 > 3"},
    {"prompt": "Rate?", "response": "rated", "ratings": FULL},
    {"prompt": "Rate again?", "output": "also rated", "ratings": {**FULL, "helpfulness": 0}},
]  # a Parquet column holds one type: one answer's ratings object, not a list of them beside it
GOLD_ONLY = [  # rows an import takes but a gold file does not: candidates to label, and one answer without ratings
    # (in a file that rates, an answer nobody rated: skipped, counted `unrated`, in every format alike)
    {"prompt": "Label these?", "completions": ["c1", "c2", "c3"]},
    {"prompt": "Gold answer?", "completion": "the answer"},
]
KEYS = sorted({key for row in MIXED + GOLD_ONLY for key in row})


def _full(rows: list[dict]) -> list[dict]:
    """Every key in every row, null where the row has none, as pyarrow and datasets write a mixed file."""
    return [{key: row.get(key) for key in KEYS} for row in rows]


def write_as(fmt: str, folder, rows: list[dict]):
    """``rows`` in ``fmt``, named ``mixed`` (an import's model is the file's name) in a folder of their own."""
    folder.mkdir()
    if fmt == "jsonl":
        path = folder / "mixed.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif fmt == "json-nulls":
        path = folder / "mixed.json"
        path.write_text(json.dumps(_full(rows)))
    elif fmt == "parquet":
        path = folder / "mixed.parquet"
        pq.write_table(pa.Table.from_pylist(_full(rows)), path)
        assert pq.read_table(path).to_pylist()[0]["label"] is None  # the nulls this test is about
    else:
        path = folder / "mixed"
        datasets.Dataset.from_list(_full(rows)).save_to_disk(str(path))
    return path


FORMATS = ("jsonl", "json-nulls", "parquet", "datasets")


def snapshot(ws: Workspace) -> dict[str, list]:
    """Every table's rows, sorted, without their write times and the path a gold file's source names."""
    tables = {}
    for name in ("prompts", "completions", "pairs", "labels", "gold"):
        rows = ws.read(name).to_pylist()
        for row in rows:
            row.pop("created_at", None)
            if name == "gold":
                del row["source"], row["id"]  # both name the file's path
        tables[name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))
    return tables


@pytest.mark.parametrize("command", ["import", "gold"])
def test_mixed_rows_make_the_same_workspace_in_every_format(tmp_path, capsys, command):
    rows = MIXED + (GOLD_ONLY if command == "import" else [])
    made = {}
    for fmt in FORMATS:
        path = write_as(fmt, tmp_path / fmt, rows)
        ws = Workspace.init(tmp_path / f"ws-{fmt}")
        assert main([command, "-w", str(ws.path), str(path)]) == 0, capsys.readouterr().err
        made[fmt] = snapshot(ws)
    reference = made.pop("jsonl")
    assert len(reference["prompts"]) == len(rows) - (command == "import")  # the unrated answer's prompt
    if command == "gold":
        assert sorted(row["task"] for row in reference["gold"]) == ["kto", "pairwise", "rank", "rate", "rate"]
    for fmt, tables in made.items():
        assert tables == reference, fmt


@pytest.mark.parametrize("command", ["import", "gold"])
def test_a_row_with_only_null_answers_is_one_line_naming_the_fields_expected(tmp_path, capsys, command):
    ws = Workspace.init(tmp_path / "ws")
    path = write_as("parquet", tmp_path / "p", [MIXED[0], {"prompt": "Nothing?"}])
    before = digest(ws.path)
    assert main([command, "-w", str(ws.path), str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 1, field 'chosen': no answer: the field is null, and the row has no other (chosen and "
        "rejected, completion and label, completions, or a gold completion, response or output)\n"
    )
    assert digest(ws.path) == before
    alone = write_as("jsonl", tmp_path / "j", [{"prompt": "Nothing?"}])  # no answer field: a prompt to sample
    assert main(["import", "-w", str(ws.path), str(alone)]) == 0


def test_nulls_are_left_out_at_every_depth_and_a_nan_is_one(tmp_path, capsys):
    assert without_nulls({"a": float("nan"), "b": [None, {"c": None, "d": 0.0}], "e": ""}) == {
        "b": [None, {"d": 0.0}],
        "e": "",
    }
    # ShareGPT and OpenAI messages in one Parquet column: each message struct holds role, content, from and value
    rows = [
        {"messages": [{"role": "user", "content": "Hi?"}], "chosen": "a", "rejected": "b"},
        {"messages": [{"from": "human", "value": "Yo?"}], "chosen": "c", "rejected": "d"},
    ]
    path = tmp_path / "chats.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    ws = Workspace.init(tmp_path / "ws")
    assert main(["import", "-w", str(ws.path), str(path)]) == 0, capsys.readouterr().err
    assert sorted(row["messages"][0]["content"] for row in ws.read("prompts").to_pylist()) == ["Hi?", "Yo?"]
