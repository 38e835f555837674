"""A workspace an older version wrote may hold texts with a NUL character (answers sampled with one), which
`data import` refuses: every export writes each NUL as U+FFFD, counting the rows so written in its summary
(`nul_replaced`), so that `data import` reads the export back; the stored texts are left as they are."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace

RATING = json.dumps(dict.fromkeys(("helpfulness", "correctness", "coherence", "complexity", "verbosity"), 3))


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """Two prompts, one whose question, gold answer and answers hold a NUL, as an older version stored them; each
    with a labelled pair, a KTO label and a rating."""
    ws = Workspace.init(tmp_path_factory.mktemp("legacy") / "ws")
    records = []
    for nul in ("\x00", ""):
        prompt = Prompt([{"role": "user", "content": f"Why{nul}?"}], "t", gold=f"Gold{nul}.")
        a, b = (Completion(prompt.id, f"{text}{nul} answer", "m", "hf") for text in ("Good", "Bad"))
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair, Label(pair.id, "ann", "pairwise", "a")]
        records += [Label(a.id, "ann", "kto", "desirable")]
        records += [Label(a.id, "ann", "rate", None, ratings=RATING, rubric="helpsteer2")]
    ws.append(records)
    return ws.path


def texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [text for item in items for text in texts(item)]


@pytest.mark.parametrize(
    "flags",
    [["--format", "dpo"], ["--format", "kto"], ["--format", "sft"], ["--format", "ratings"]]
    + [["--format", "sft", "--sft-shape", "prompt-completion"]],
)
def test_an_export_of_stored_nul_texts_says_so_and_reads_back(legacy, tmp_path, capsys, flags):
    out = tmp_path / "export.parquet"
    assert main(["export", "-w", str(legacy), *flags, "--out", str(out)]) == 0
    said = "; nul_replaced 1: a NUL character in the stored text of 1 row (stored by an older version) written as "
    assert said in capsys.readouterr().out
    rows = pq.read_table(out).to_pylist()
    written = [text for row in rows for text in texts(row)]
    assert not any("\x00" in text for text in written)
    assert "Why\ufffd?" in written and ("Gold\ufffd." in written or "Good\ufffd answer" in written)
    assert main(["import", "-w", str(tmp_path / "again"), str(out)]) == 0
    again = Workspace(tmp_path / "again").read("prompts").column("messages").to_pylist()
    assert {messages[-1]["content"] for messages in again} == {"Why\ufffd?", "Why?"}
    # the workspace keeps what it stored
    assert "Why\x00?" in texts(Workspace(legacy).read("prompts").column("messages").to_pylist())


def test_an_export_without_nul_says_nothing_of_it(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": "Why?"}], "t", gold="Gold.")])
    out = tmp_path / "sft.parquet"
    assert main(["export", "-w", str(ws.path), "--format", "sft", "--out", str(out)]) == 0
    assert capsys.readouterr().out.endswith(": 1 row exported\n")
