"""`python -m data merge` of a prompt both workspaces hold (its id is its messages) with another gold answer or
split: the held row stays, as an import keeps a stored prompt's, and the merge says how many, as the import does.
The labels of a prompt the merged-in workspace holds in test and this one in train are left out (`stored_train`):
they would train here on what it held out."""

from __future__ import annotations

from data.__main__ import main
from data.ranking import rank_item_id
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_errors import digest


def PREFERENCE(prompt: str, chosen: str, rejected: str) -> dict:
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


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


def imported(tmp_path, name: str, split: str, *files: list[dict]) -> Workspace:
    """A workspace of one import of ``files`` (rows each), every row's prompt in ``split``."""
    paths = [write(tmp_path / f"{name}-{i}.jsonl", *rows) for i, rows in enumerate(files)]
    assert main(["import", "-w", str(tmp_path / name), *map(str, paths), "--split", split]) == 0
    return Workspace(tmp_path / name)


def import_labels(ws: Workspace) -> list[tuple[str, str]]:
    """(prompt text, task) of each label, by the prompt its item is of (a pair, or round 0 of the prompt's answers)."""
    prompts = {p["id"]: p["messages"][-1]["content"] for p in ws.read("prompts").to_pylist()}
    items = {p["id"]: p["prompt_id"] for p in ws.read("pairs").to_pylist()}
    items |= {
        rank_item_id(c["prompt_id"], c["round"]): c["prompt_id"] for c in ws.read("completions").to_pylist()
    }
    return sorted(
        (prompts[items[label["item_id"]]], label["task"]) for label in ws.read("labels").to_pylist()
    )


def test_labels_of_a_prompt_held_out_there_and_trained_here_are_left_out_and_said(tmp_path, capsys):
    """A prompt held here keeps its split: the labels of a workspace holding it in test merged into train here, so
    an export or a run here trained on what that workspace held out (as an import's row naming test for a prompt
    stored in train would have: `data.import_splits`). They are left out, counted and named, with `fail` too, and
    all else merges; merging again adds nothing."""
    one = imported(
        tmp_path,
        "one",
        "train",
        [PREFERENCE("Q", "good", "bad"), PREFERENCE("R", "yes", "no")],
        [{"prompt": "T"}],
    )
    ranked = {"prompt": "T", "completions": ["x", "y", "z"], "ranking": "1 > 2 > 3"}
    two = imported(
        tmp_path, "two", "test", [PREFERENCE("Q", "great", "awful"), PREFERENCE("S", "hi", "ho")], [ranked]
    )
    capsys.readouterr()
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0
    out, err = capsys.readouterr()
    # its new prompt (S), answers, pairs and S's label merge; Q's and T's labels do not
    added, said = out.split("\n", 1)
    assert added == f"{two.path}: prompts +1, completions +7, pairs +2, labels +1, imports/log.jsonl +2"
    assert said.startswith(f"  left out (it stays in {two.path}): 2 stored_train\n")
    assert "import's ranking of rank item " in out and "import's pairwise label of item " in out
    assert ": its prompt 'Q' is test there, train here\n" in out and ": its prompt 'T' is test there" in out
    assert err.endswith(
        f"warning: {two.path}: 2 labels on 2 prompts it holds in the test split and this workspace in train left out "
        f"(stored_train); the first prompt: 'Q'. Stored here, they would train on what {two.path} holds out; and a "
        "held prompt never moves to test: a run here may have trained on its rows, which held-out figures would then "
        "count\n"
    )
    assert import_labels(one) == [("Q", "pairwise"), ("R", "pairwise"), ("S", "pairwise")]  # Q's: one's alone
    splits = {p["messages"][-1]["content"]: p["split"] for p in one.read("prompts").to_pylist()}
    assert splits == {"Q": "train", "R": "train", "S": "test", "T": "train"}
    before = digest(one.path)
    assert main(["merge", "-w", str(one.path), str(two.path)]) == 0  # again: nothing new, the same said
    again, err_again = capsys.readouterr()
    assert again == f"{two.path}: nothing new\n{said}"
    assert err_again == err and digest(one.path) == before


def test_labels_of_a_prompt_trained_there_and_held_out_here_merge_and_are_counted(tmp_path, capsys):
    """The other way round: a workspace holding a prompt in train merged into one holding it in test: its labels
    merge into the test split (nothing trains on them that did there), and the merge counts them."""
    one = imported(tmp_path, "one", "train", [PREFERENCE("Q", "good", "bad"), PREFERENCE("R", "yes", "no")])
    two = imported(tmp_path, "two", "test", [PREFERENCE("Q", "great", "awful")])
    capsys.readouterr()
    assert main(["merge", "-w", str(two.path), str(one.path)]) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        "  held out: 1 label on prompts it holds in train and this workspace in test (stored_test): merged, they are "
        "held out here\n"
    )
    assert import_labels(two) == [("Q", "pairwise"), ("Q", "pairwise"), ("R", "pairwise")]


def test_a_label_conflict_over_a_prompt_held_out_there_is_no_conflict(tmp_path, capsys):
    """A label that never merges cannot hide one held here: the merge (``fail``) goes ahead, leaving it out; and a
    workspace merged before holding the prompt in train is as good as this one."""
    for name, split, choice in (("one", "train", "a"), ("two", "test", "b")):
        ws = Workspace.init(tmp_path / name)
        prompt = Prompt([{"role": "user", "content": "Q?"}], "toy", split=split)
        a, b = (Completion(prompt.id, text, "toy", "hf") for text in ("one", "two"))
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        ws.append([prompt, a, b, pair, Label(pair.id, "ann", "pairwise", choice)])
    Workspace.init(tmp_path / "ws")
    paths = [str(tmp_path / name) for name in ("ws", "one", "two")]
    assert main(["merge", "-w", *paths]) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        f"{paths[2]}: nothing new\n  left out (it stays in {paths[2]}): 1 stored_train\n"
        f"    ann's pairwise label of item {pair.id}: its prompt 'Q?' is test there, train here\n"
    )
    assert Workspace(paths[0]).read("labels").column("choice").to_pylist() == ["a"]
