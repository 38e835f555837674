"""`python -m data merge` of a prompt both workspaces hold (its id is its messages) with another gold answer or
split: the held row stays, as an import keeps a stored prompt's, and the merge says how many, as the import does."""

from __future__ import annotations

from data.__main__ import main
from data.workspace import Workspace
from tests.test_data_gold_files import write


def test_a_prompt_held_with_another_gold_answer_or_split_is_kept_and_said(tmp_path, capsys):
    """A prompt's id is its messages: the merged-in workspace's prompt of another gold answer (the SFT target) or
    split was left out, the summary said `nothing new`, and the gold answer was gone from the merge without a word."""
    for name, answer, split in (("one", "A1", "train"), ("two", "A2", "test"), ("three", "A1", "train")):
        path = write(tmp_path / f"{name}.jsonl", {"prompt": "Q", "response": answer})
        assert main(["import", "-w", str(tmp_path / name), str(path), "--split", split]) == 0
    capsys.readouterr()
    assert main(["merge", "-w", str(tmp_path / "one"), str(tmp_path / "two"), str(tmp_path / "three")]) == 0
    assert capsys.readouterr().err == (
        f"warning: {tmp_path / 'two'}: of its prompts held here, 1 keep their gold answer (or none) and 1 keep their "
        "split, not its: a prompt's id is its messages, and a held prompt is never rewritten\n"
    )  # nothing of three's: its prompt is the one held
    [prompt] = Workspace(tmp_path / "one").read("prompts").to_pylist()
    assert (prompt["gold"], prompt["split"]) == ("A1", "train")
