"""`generate --prompts FILE` stores the file as `data import` does, in the import's turn (WS/import.lock): checked
against what is stored, and checked again there where another import stored rows since it was read."""

from __future__ import annotations

import json
import unicodedata

from data.imports import import_file
from data.workspace import Workspace
from generate.__main__ import main
from tests.test_data_import_concurrent import run_meanwhile


def test_a_prompts_file_read_while_an_import_writes_takes_the_spelling_that_one_stored(
    tmp_path, monkeypatch, tiny_model_dir, capsys
):
    """A --prompts file of a prompt spelled otherwise (NFD) than a file imported meanwhile (NFC): it was read, its
    spellings with it, before the import's write, and stored under the lock for its write alone, so both spellings
    were stored: two prompts for one, each sampled. Checked again under the lock, it takes the stored spelling."""
    ws = Workspace.init(tmp_path / "ws")
    nfc, nfd = tmp_path / "nfc.jsonl", tmp_path / "nfd.jsonl"
    for path, form in ((nfc, "NFC"), (nfd, "NFD")):
        row = {"prompt": unicodedata.normalize(form, "Café?"), "chosen": "yes", "rejected": "no"}
        path.write_text(json.dumps(row) + "\n")
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    done = run_meanwhile(monkeypatch, ws, lambda: main([*argv, "--prompts", str(nfd)]))
    assert import_file(ws, nfc)["new_prompts"] == 1
    done["thread"].join()
    assert done["result"] == 0
    assert ws.read("prompts").num_rows == 1
    assert f"--prompts {nfd}: prompts_already_stored 1; respelled 1" in capsys.readouterr().out
