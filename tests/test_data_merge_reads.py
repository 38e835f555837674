"""`python -m data merge` and what it reads: a prompt or answer spelled otherwise than one held is stored apart and
counted, and the merge's plan and its check afterwards read only the texts and columns they need (a large
workspace's texts are never held whole)."""

from __future__ import annotations

from data.__main__ import main
from data.merging import plan_merge
from data.records import Completion, Pair, Prompt, prompt_id
from data.schemas import SCHEMAS
from data.workspace import Workspace


def spelled_workspace(path, texts: list[str], hi: str) -> Workspace:
    """Prompt "Colour?" with the answers ``texts`` (model: the folder's name) and a prompt ``hi``."""
    ws = Workspace.init(path)
    colour, greeting = (Prompt([{"role": "user", "content": c}], "toy") for c in ("Colour?", hi))
    answers = [Completion(colour.id, text, path.name, "hf") for text in texts]
    ws.append([colour, greeting, *answers, Pair(colour.id, answers[0].id, answers[1].id, "sampled")])
    return ws


def test_a_merge_says_the_near_copies_it_stores_apart(tmp_path, capsys):
    """A prompt or answer spelled otherwise than one held (trailing spaces, CRLF, NFD) merged as another text,
    unsaid; it still is (respelling would change the ids of everything built on it), and the summary counts it.
    The same text from another model is no near-copy, nor is a second merge that adds nothing."""
    ws = spelled_workspace(tmp_path / "ws", ["Red", "Blue"], "Hi?")
    other = spelled_workspace(tmp_path / "other", ["Red \r\n", "Red", "Blue"], "Hi? ")
    third = spelled_workspace(tmp_path / "third", ["Blu\u0065\u0301", "Bleu"], "Hi?")  # NFD: "Blué", no copy
    fourth = spelled_workspace(tmp_path / "fourth", ["Red\t", "Bleu "], "Hi?")
    capsys.readouterr()
    assert main(["merge", "-w", str(ws.path), str(other.path), str(third.path), str(fourth.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = " (spelled otherwise than one here only by Unicode normalisation, line ends or trailing whitespace: a "
    said += "merge keeps each workspace's texts and ids)"
    assert lines == [
        f"{other.path}: prompts +1, completions +3, pairs +1",
        f"  stored apart: 1 near_copy_answers, 1 near_copy_prompts{said}",
        f"{third.path}: completions +2, pairs +1",
        f"{fourth.path}: completions +2, pairs +1",
        f"  stored apart: 2 near_copy_answers{said}",  # "Red\t" and "Bleu " (third's, merged before)
    ]
    texts = sorted(ws.read("completions").column("text").to_pylist())
    assert len(texts) == 9 and "Red \r\n" in texts and ws.read("prompts").num_rows == 3
    assert main(["merge", "-w", str(ws.path), str(other.path)]) == 0
    assert capsys.readouterr().out == f"{other.path}: nothing new\n"


def test_a_merge_reads_the_held_texts_that_may_be_near_copies_only(tmp_path, monkeypatch):
    """The near-copy count read every held prompt's messages and every held answer's text (most of a merge's
    peak into a workspace of 100,000 prompts): it holds the prompts as ids and digests of their keys, and reads
    the messages of those whose digest a new prompt's key has, and the answers of the prompts given new ones. With
    every digest the same (all are read, told apart by the text) the counts are the same."""
    ws = spelled_workspace(tmp_path / "ws", ["Red", "Blue"], "Hi?")
    ws.append([Prompt([{"role": "user", "content": f"Question {i}?"}], "toy") for i in range(5)])
    other = spelled_workspace(tmp_path / "other", ["Red \r\n", "Red", "Blue"], "Hi? ")
    reads, read = [], Workspace.read

    def recorded(self, name, columns=None, where=None, as_stored=False):
        if self.path == ws.path and {"messages", "text"} & set(columns or SCHEMAS[name].names):
            reads.append((name, where and (where[0], sorted(str(value) for value in where[1]))))
        return read(self, name, columns, where, as_stored)

    monkeypatch.setattr(Workspace, "read", recorded)
    (plan,) = plan_merge(ws, [other])
    assert plan.near_copies == {"near_copy_prompts": 1, "near_copy_answers": 1}
    hi, colour = (prompt_id([{"role": "user", "content": c}]) for c in ("Hi?", "Colour?"))
    assert reads == [("prompts", ("id", [hi])), ("completions", ("prompt_id", [colour]))]
    monkeypatch.setattr("data.spellings._digest", lambda value: 0)
    assert plan_merge(ws, [other])[0].near_copies == plan.near_copies


def test_the_check_after_a_merge_reads_the_references_only_and_still_warns_of_a_dangling_one(
    tmp_path, monkeypatch, capsys
):
    """The check for dangling references after a merge's write read every table whole (all the texts of a large
    workspace at once); it reads the ids and the columns that reference other rows only, and warns as before.
    `data validate` still reads every column of every row."""
    ws = spelled_workspace(tmp_path / "ws", ["Red", "Blue"], "Hi?")
    other = spelled_workspace(tmp_path / "other", ["Red", "Green"], "Hi?")
    orphan = Completion("no-such-prompt", "Lost.", "m", "hf")
    ws.append([orphan])
    reads, read = [], Workspace.read

    def recorded(self, name, columns=None, where=None, as_stored=False):
        if self.path == ws.path and where is None:
            reads.append((name, columns))
        return read(self, name, columns, where, as_stored)

    monkeypatch.setattr(Workspace, "read", recorded)
    capsys.readouterr()
    assert main(["merge", "-w", str(ws.path), str(other.path)]) == 0
    warning = f"warning: completion {orphan.id}: prompt_id no-such-prompt does not exist\n"
    assert capsys.readouterr().err == warning
    assert [read for read in reads if read[0] in ("prompts", "completions") and read[1] is None] == []
    assert main(["validate", "-w", str(ws.path)]) == 1
    assert ("completions", None) in reads and ("prompts", None) in reads


def test_a_merge_holds_this_workspaces_answers_of_the_prompts_merged_in_only(tmp_path, monkeypatch):
    """The merge's plan held every answer of this workspace as a frame (its rank checks: a large workspace's
    answers at once); it holds their ids, and reads for each workspace merged in this one's answers of the prompts
    that one answers: all the rank checks compare (the rank item tests in test_data_merge.py say they still refuse)."""
    ws = spelled_workspace(tmp_path / "ws", ["Red", "Blue"], "Hi?")
    ws.append([Prompt([{"role": "user", "content": f"Question {i}?"}], "toy") for i in range(3)])
    ws.append([Completion(prompt_id([{"role": "user", "content": "Question 1?"}]), "Yes.", "m", "hf")])
    other = spelled_workspace(tmp_path / "other", ["Red", "Green"], "Hi?")
    reads, read = [], Workspace.read

    def recorded(self, name, columns=None, where=None, as_stored=False):
        if self.path == ws.path and name == "completions":
            reads.append((columns, where and (where[0], sorted(str(value) for value in where[1]))))
        return read(self, name, columns, where, as_stored)

    monkeypatch.setattr(Workspace, "read", recorded)
    (plan,) = plan_merge(ws, [other])
    assert plan.counts() == {"completions": 2, "pairs": 1}
    colour = prompt_id([{"role": "user", "content": "Colour?"}])
    assert reads[:2] == [(["id"], None), (["id", "prompt_id", "engine", "round"], ("prompt_id", [colour]))]
    assert [columns for columns, where in reads[2:] if where is None] == []
