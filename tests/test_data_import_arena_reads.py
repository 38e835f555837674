"""An import's stored answers are read once: `data.spellings.Spellings` reads its prompts' answers for their
spellings and hands them to the import's pairs (`LabelledPairs.answers_read`), which a plain import into a workspace
with an arena read a second time for the arena's check. Its pairs are read after those answers, so the answers of a
pair stored between the two reads are read then (`Workspace.read`: children before parents). The arena's records
are read once too: they were read for whether there are any, then again for the arena's answers."""

from __future__ import annotations

from data import Completion, Pair, Workspace
from data.__main__ import main as data_main
from data.import_labellers import LabelledPairs
from tests.test_data_import_arena_plain import plain_rows
from tests.test_data_import_arena_votes import arena_ws, write, ws  # noqa: F401
from tests.test_generate_arena import three_models  # noqa: F401


def test_a_plain_import_reads_its_prompts_answers_once(ws, tmp_path, capsys, monkeypatch):  # noqa: F811
    reads = []
    read = Workspace.read

    def counted(self, name, columns=None, where=None, as_stored=False):
        reads.append((name, "text" in (columns or ["text"]), where and where[0]))
        return read(self, name, columns, where, as_stored)

    monkeypatch.setattr(Workspace, "read", counted)
    plain = write(tmp_path / "plain.jsonl", plain_rows(Workspace(ws)))
    assert data_main(["import", "-w", str(ws), "--unlabelled", str(plain), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "arena_pair_exists 2" in out and "records 3" in out and "skipped 1 record (arena_answer 1)" in out
    assert reads.count(("completions", True, "prompt_id")) == 1  # their texts: the spellings' read alone
    # the arena's records: whether there are any, and its answers, in one read (they were read twice)
    assert [name for name, *_ in reads].count("arenas") == 1


def test_the_answers_of_a_pair_stored_after_they_were_read_are_read(ws, tmp_path, capsys, monkeypatch):  # noqa: F811
    workspace = Workspace(ws)
    first = workspace.frame("pairs").sort_values("id").iloc[0]
    text = workspace.frame("completions").set_index("id")["text"]
    prompt = workspace.frame("prompts").set_index("id")["messages"][first.prompt_id][-1]["content"]
    late = Completion(first.prompt_id, "an answer stored since", "m9", "hf")
    given = LabelledPairs.answers_read

    def then_stored(
        self, *args
    ):  # an arena's pair, and its answer, stored once the spellings read the answers
        given(self, *args)
        workspace.append([late, Pair(first.prompt_id, *sorted((first.completion_a, late.id)), kind="arena")])

    monkeypatch.setattr(LabelledPairs, "answers_read", then_stored)
    path = write(
        tmp_path / "late.jsonl", [{"prompt": prompt, "completions": [text[first.completion_a], late.text]}]
    )
    assert data_main(["import", "-w", str(ws), str(path)]) == 0
    assert (
        "arena_pair_exists 1" in capsys.readouterr().out
    )  # that arena pair's: no new answer of the arena's text
