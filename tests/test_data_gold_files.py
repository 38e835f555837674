"""Gold from files (`python -m data gold -w WS FILE`): a row marks the stored items of its prompt and answer texts,
whatever file or model they came from; only a row that matches nothing adds items, in the split the summary line
names; one file's rows are one question each (duplicates counted, conflicts refused); every refusal is one line
naming the file, the row and the field (found by a new-user audit)."""

from __future__ import annotations

import json

import pyarrow.compute as pc

from data.__main__ import main
from data.gold import read_gold
from data.records import Completion, Pair, Prompt
from data.workspace import Workspace

TABLES = ("prompts", "completions", "pairs", "gold")


def write(path, *rows: dict):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def gold(ws, *args) -> int:
    return main(["gold", "-w", str(ws.path), *args])


def counts(ws) -> dict[str, int]:
    return {name: ws.read(name).num_rows for name in TABLES}


def texts_of(ws, pair_ids) -> dict[str, tuple[str, str]]:
    text = dict(zip(*(ws.read("completions").column(c).to_pylist() for c in ("id", "text"))))
    pairs = ws.read("pairs").to_pylist()
    return {p["id"]: (text[p["completion_a"]], text[p["completion_b"]]) for p in pairs if p["id"] in pair_ids}


def test_a_gold_file_marks_the_stored_items_of_its_texts_whatever_its_name(tmp_path, capsys):
    """The audit: the sample imported, then a renamed copy of it given as gold made 300 new pairs (an import names
    completions by the file) and left the identical stored ones non-gold, training and never scored."""
    ws = Workspace.init(tmp_path / "ws")
    p1 = {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Rome."}
    kto = {"prompt": "2 + 2?", "completion": "4", "label": True}
    w = ["-w", str(ws.path)]
    assert main(["import", *w, str(write(tmp_path / "data.jsonl", p1, kto))]) == 0
    assert main(["import", *w, str(write(tmp_path / "copy.jsonl", p1))]) == 0  # the same texts, other ids
    swapped = write(tmp_path / "open.jsonl", {**p1, "chosen": "Rome.", "rejected": "Paris."})
    assert main(["import", *w, str(swapped), "--unlabelled"]) == 0  # a pair for labellers, sides swapped
    assert ws.read("pairs").num_rows == 3
    before = counts(ws)
    new = {"prompt": "Capital of Spain?", "chosen": "Madrid.", "rejected": "Lisbon."}
    renamed = write(tmp_path / "renamed.jsonl", p1, {**kto, "label": False}, new)
    capsys.readouterr()
    assert gold(ws, str(renamed)) == 0
    out = capsys.readouterr().out
    assert out.startswith("gold items: 5 (+5 marked, -0 removed); files: matched 3 stored pairs, 1 stored ")
    assert (
        "new: 1 gold items (1 in split test: train's held-out set counts them), 1 prompts, 2 completions"
        in out
    )
    after = counts(ws)
    assert {t: after[t] - before[t] for t in TABLES} == {
        "prompts": 1,
        "completions": 2,
        "pairs": 1,
        "gold": 5,
    }
    pairs = read_gold(ws)
    answers = dict(zip(pairs.column("item_id").to_pylist(), pairs.column("choice").to_pylist()))
    # each stored pair gets "Paris. wins" on its own sides: b on the swapped one
    assert sorted((texts, answers[i]) for i, texts in texts_of(ws, answers).items()) == [
        (("Madrid.", "Lisbon."), "a"),
        (("Paris.", "Rome."), "a"),
        (("Paris.", "Rome."), "a"),
        (("Rome.", "Paris."), "b"),
    ]
    completions = ws.read("completions")
    four = completions.filter(pc.equal(completions.column("text"), "4")).column("id").to_pylist()
    kto_gold = read_gold(ws, "kto")
    assert kto_gold.column("item_id").to_pylist() == four and kto_gold.column("choice").to_pylist() == [
        "undesirable"
    ]
    assert gold(ws, str(renamed)) == 0  # again: nothing new, every item already gold with that answer
    assert counts(ws) == after and "(+0 marked, 5 already gold with that answer" in capsys.readouterr().out


def test_new_gold_prompts_go_to_the_split_asked_and_the_summary_says_so(tmp_path, capsys):
    import datasets

    ws = Workspace.init(tmp_path / "ws")
    row = {"prompt": "Q1?", "chosen": "x", "rejected": "y"}
    assert gold(ws, "--split", "train", str(write(tmp_path / "g.jsonl", row))) == 0
    assert "new: 1 gold items (1 in split train), 1 prompts" in capsys.readouterr().out
    assert ws.read("prompts").column("split").to_pylist() == ["train"]
    rows = [
        {"prompt": "Q2?", "chosen": "x", "rejected": "y"},
        {"prompt": "Q3?", "chosen": "x", "rejected": "y"},
    ]
    folder = tmp_path / "dsdir"  # a datasets folder's rows keep their split's, whatever --split says
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows[:1]), "test": datasets.Dataset.from_list(rows[1:])}
    ).save_to_disk(folder)
    assert gold(ws, str(folder)) == 0
    assert "(1 in split test: train's held-out set counts them, 1 in split train)" in capsys.readouterr().out
    prompts = ws.read("prompts").to_pylist()
    assert sorted((p["messages"][0]["content"], p["split"]) for p in prompts) == [
        ("Q1?", "train"),
        ("Q2?", "train"),
        ("Q3?", "test"),
    ]
    assert gold(ws, "--split", "test") == 2
    assert capsys.readouterr().err.strip() == (
        "error: --split test goes with a gold FILE: the split of the new prompts its rows add"
    )


def test_a_gold_files_own_split_column_is_named_with_what_sets_its_split(tmp_path, capsys):
    """A tester: the note on an unread `_split` said "(--split or --test-fraction sets it)", but `data gold` has no
    --test-fraction; it says what is true for gold: --split, default test."""
    ws = Workspace.init(tmp_path / "ws")
    row = {"prompt": "Q?", "chosen": "x", "rejected": "y", "_split": "train"}
    assert gold(ws, str(write(tmp_path / "g.jsonl", row))) == 0
    said = "columns not read: _split (_split: a row's own split is not read (--split sets the new prompts' split, "
    assert capsys.readouterr().out.endswith(said + "default test))\n")
    assert ws.read("prompts").column("split").to_pylist() == ["test"]


def test_a_gold_files_labeller_column_is_named_with_why_gold_does_not_read_it(tmp_path, capsys):
    """A bad-input hunt: a gold file of preference rows naming their labeller said the column is not read because
    "a labeller is read with a preference or a KTO label only", of rows that are preferences; a gold file reads no
    row's labeller (its rows are gold answers), which the note now says."""
    ws = Workspace.init(tmp_path / "ws")
    row = {"prompt": "Q?", "chosen": "x", "rejected": "y", "labeller": "alice"}
    assert gold(ws, str(write(tmp_path / "g.jsonl", row))) == 0
    said = "columns not read: labeller (labeller: a gold file's rows are gold answers, no labeller's labels "
    assert capsys.readouterr().out.endswith(said + "(data import reads their labeller))\n")
    assert ws.read("labels").num_rows == 0


def test_a_gold_file_says_how_many_stored_train_items_it_takes_out_of_training(tmp_path, capsys):
    """A bad-input hunt: a gold file matching a labeller's imported training pairs made them gold, so export and
    train left them out, and the summary said only `matched 2 stored pairs`; `--from-split train` says what that
    costs, and a file now says it too (an item of split test, or already gold, leaves no training data)."""
    ws = Workspace.init(tmp_path / "ws")
    train = [{"prompt": f"Q{i}?", "chosen": "x", "rejected": "y"} for i in range(2)]
    test = {"prompt": "T?", "chosen": "x", "rejected": "y"}
    assert main(["import", "-w", str(ws.path), str(write(tmp_path / "train.jsonl", *train))]) == 0
    assert (
        main(["import", "-w", str(ws.path), "--split", "test", str(write(tmp_path / "t.jsonl", test))]) == 0
    )
    capsys.readouterr()
    given = str(write(tmp_path / "g.jsonl", *train, test))
    assert gold(ws, given) == 0
    said = (
        "files: matched 3 stored pairs, 0 stored completions (2 of split train, gold now: gold never trains, "
    )
    assert said + "export and train leave them out as gold); new: 0 gold items" in capsys.readouterr().out
    assert gold(ws, given) == 0  # all gold already: nothing more leaves the training data
    assert "files: matched 3 stored pairs, 0 stored completions; new" in capsys.readouterr().out


def test_a_split_flag_for_datasets_folders_alone_is_refused(tmp_path, capsys):
    """A README walk: `gold FOLDER --split train` on a datasets folder of splits did nothing (its rows keep their
    split's) without a word; as `data import`, it is refused in one line, and taken beside a file that reads it."""
    import datasets

    ws = Workspace.init(tmp_path / "ws")
    folder = tmp_path / "dsdir"
    row = {"prompt": "Folder?", "chosen": "x", "rejected": "y"}
    datasets.DatasetDict({"test": datasets.Dataset.from_list([row])}).save_to_disk(folder)
    capsys.readouterr()  # datasets' progress bars
    before = counts(ws)
    assert gold(ws, str(folder), "--split", "train") == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --split does not go with {folder}: a datasets folder's rows keep their split's (test where a word "
        "of its name is test, testing, validation, valid, val, eval, evaluation, dev, held-out; else train); leave "
        "it out"
    )
    assert counts(ws) == before
    other = write(tmp_path / "g.jsonl", {"prompt": "File?", "chosen": "x", "rejected": "y"})
    assert gold(ws, str(folder), str(other), "--split", "train") == 0
    splits = {p["messages"][0]["content"]: p["split"] for p in ws.read("prompts").to_pylist()}
    assert splits == {"Folder?": "test", "File?": "train"}


def test_identical_gold_rows_are_one_gold_item(tmp_path, capsys):
    """Two identical rows made two gold pairs: a labeller could meet the same gold question twice."""
    ws = Workspace.init(tmp_path / "ws")
    row = {"prompt": "d1?", "chosen": "x", "rejected": "y"}
    assert gold(ws, str(write(tmp_path / "d.jsonl", row, row))) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("gold items: 1 (+1 marked") and out.endswith("; duplicate_rows 1")
    assert ws.read("pairs").num_rows == 1


def test_opposite_kto_gold_rows_are_refused_naming_both(tmp_path, capsys):
    """Two rows of one KTO question with opposite labels in one file were accepted (the last won); in one file as in
    two they are refused, naming both rows."""
    ws = Workspace.init(tmp_path / "ws")
    yes, no = ({"prompt": "q?", "completion": "c", "label": label} for label in (True, False))
    k = write(tmp_path / "k.jsonl", yes, no)
    k1, k2 = write(tmp_path / "k1.jsonl", yes), write(tmp_path / "k2.jsonl", no)
    before = counts(ws)
    for args, error in (
        (
            [str(k)],
            f"{k}, row 1, field 'label': this row (undesirable) and row 0 (desirable) are the same answer to one "
            "prompt; give one gold answer",
        ),
        (
            [str(k1), str(k2)],
            f"{k2}, row 0, field 'label': this row (undesirable) and {k1}, row 0 (desirable) are the same answer",
        ),
    ):
        assert gold(ws, *args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {error}") and len(err.splitlines()) == 1, err
        assert counts(ws) == before


def test_gold_file_refusals_name_the_file_row_and_field(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    forward = write(tmp_path / "forward.jsonl", {"prompt": "p1", "chosen": "x", "rejected": "y"})
    assert gold(ws, str(forward)) == 0
    pair = ws.read("pairs").to_pylist()[0]
    swapped = Pair(pair["prompt_id"], pair["completion_b"], pair["completion_a"], "imported")
    prompt = Prompt([{"role": "user", "content": "k?"}], "toy")
    same = [Completion(prompt.id, "c", model, "hf") for model in ("m1", "m2")]  # one answer, two models
    ws.append([swapped, prompt, *same])
    assert gold(ws, "--completion", same[0].id, "--answer", "desirable") == 0
    backward = write(tmp_path / "backward.jsonl", {"prompt": "p1", "chosen": "y", "rejected": "x"})
    cands = write(tmp_path / "cands.jsonl", {"prompt": "s?", "completions": ["a", "b"]})
    degenerate = write(tmp_path / "same.jsonl", {"prompt": "s?", "chosen": "a", "rejected": "a "})
    before = counts(ws)
    capsys.readouterr()
    for args, error in (
        (
            [str(backward)],
            f"{backward}, row 0, field 'chosen': disagrees with pair {pair['id']}, already gold (from {forward}) "
            f"('x' wins; this row: 'y' wins); `data gold --remove {pair['id']}` first to replace it",
        ),
        (
            ["--pair", swapped.id, "--answer", "a"],
            f"--pair: gold pair {swapped.id} ('y' wins) and pair {pair['id']}, already gold (from {forward}) "
            "('x' wins), compare the same two answers to one prompt but disagree; give one answer",
        ),
        (
            ["--completion", same[1].id, "--answer", "undesirable"],
            f"--completion: gold completion {same[1].id} (undesirable) and completion {same[0].id}, already gold "
            "(from --completion) (desirable), are the same answer to one prompt; give one gold answer",
        ),
        (
            [str(cands)],
            f"{cands}, row 0, field 'completions': 2 answers to choose from, but the row has no answer "
            "(chosen/rejected), KTO label, ranking or ratings to make gold",
        ),
        (
            [str(degenerate)],
            f"{degenerate}, row 0, field 'rejected': the same answer as 'chosen' (spaces aside): a gold pair "
            "compares two different answers",
        ),
    ):
        assert gold(ws, *args) == 2, args
        assert capsys.readouterr().err == f"error: {error}\n"
        assert counts(ws) == before, args


def test_a_gold_pair_of_stored_answers_is_made_of_them_not_of_copies(tmp_path, capsys):
    """Candidates imported (four answers, one pair made of them), then a gold row comparing two of them that no
    stored pair compares: it added copies of both answers, which the KTO app then served twice and the rank item
    held twice (an audit). Now the new gold pair is made of the stored answers."""
    ws = Workspace.init(tmp_path / "ws")
    cands = write(
        tmp_path / "cands.jsonl", {"prompt": "C question?", "completions": ["c0", "c1", "c2", "c3"]}
    )
    assert main(["import", "-w", str(ws.path), str(cands), "--pairs-per-prompt", "1"]) == 0
    stored = {t: i for i, t in zip(*(ws.read("completions").column(c).to_pylist() for c in ("id", "text")))}
    pairs_before = {p["id"]: {p["completion_a"], p["completion_b"]} for p in ws.read("pairs").to_pylist()}
    assert {stored["c0"], stored["c3"]} not in pairs_before.values()
    before = counts(ws)
    capsys.readouterr()
    assert (
        gold(
            ws, str(write(tmp_path / "g.jsonl", {"prompt": "C question?", "chosen": "c3", "rejected": "c0"}))
        )
        == 0
    )
    assert (
        "new: 1 gold items (1 in split test" not in capsys.readouterr().out
    )  # the prompt is stored: its split
    after = counts(ws)
    assert after["completions"] == before["completions"] and after["pairs"] == before["pairs"] + 1
    made = read_gold(ws).column("item_id").to_pylist()
    assert texts_of(ws, made) == {made[0]: ("c3", "c0")} and read_gold(ws).column("choice").to_pylist() == [
        "a"
    ]


def test_a_new_text_given_in_two_files_of_one_call_is_one_answer_and_a_rerun_adds_nothing(tmp_path, capsys):
    """A KTO row and a preference row (two files, one call) on one new answer text stored it twice, and running
    the same files again marked one more gold item (an audit)."""
    ws = Workspace.init(tmp_path / "ws")
    cands = write(
        tmp_path / "cands.jsonl", {"prompt": "C question?", "completions": ["c0", "c1", "c2", "c3"]}
    )
    assert main(["import", "-w", str(ws.path), str(cands), "--pairs-per-prompt", "1"]) == 0
    kto = write(tmp_path / "kto.jsonl", {"prompt": "C question?", "completion": "brand new", "label": True})
    prefs = write(
        tmp_path / "prefs.jsonl", {"prompt": "C question?", "chosen": "brand new", "rejected": "c2"}
    )
    for files in ((kto, prefs), (prefs, kto)):
        before = counts(ws)
        assert gold(ws, *map(str, files)) == 0
        texts = ws.read("completions").column("text").to_pylist()
        assert texts.count("brand new") == 1 and counts(ws)["completions"] == before["completions"] + (
            files[0] is kto
        )
        again = counts(ws)
        assert gold(ws, *map(str, files)) == 0 and counts(ws) == again  # a rerun adds nothing
    assert read_gold(ws, "kto").num_rows == 1 and read_gold(ws).num_rows == 1


def test_a_gold_file_names_its_first_bad_row_whichever_check_finds_it(tmp_path, capsys):
    """A row with nothing to make gold was checked after the importer had read every row, so a later row's
    importer error (an empty answer) was named first; each row is checked as it is read."""
    ws = Workspace.init(tmp_path / "ws")
    rows = (
        {"prompt": "Q?", "chosen": "A.", "rejected": "B."},
        {"prompt": "Alone?"},
        {"prompt": "P?", "chosen": "", "rejected": "b"},
    )
    assert gold(ws, str(path := write(tmp_path / "gold.jsonl", *rows))) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 1: nothing to make gold: no preference (chosen/rejected), KTO label, ranking or "
        "ratings\n"
    )
    assert counts(ws) == dict.fromkeys(TABLES, 0)


def test_a_cut_off_gold_file_names_no_option_data_gold_lacks(tmp_path, capsys):
    """The reader's hint "(--on-error skip imports them)" was said by `data gold` too, which takes no --on-error."""
    ws = Workspace.init(tmp_path / "ws")
    cut = tmp_path / "cut.json"
    cut.write_text('[{"prompt": "a", "chosen": "b", "rejected": "c"},\n {"prompt": "d", "chosen": "e", "rej')
    assert gold(ws, str(cut)) == 2
    assert capsys.readouterr().err == (
        f"error: {cut}, row 1: the file ends inside this record (invalid JSON: unterminated string starting at line "
        "2, column 33); the record before it is complete\n"
    )
    assert main(["import", "-w", str(ws.path), str(cut)]) == 2  # data import takes it: the hint stays
    assert capsys.readouterr().err.endswith(
        "the record before it is complete (--on-error skip imports them)\n"
    )


def test_a_cut_off_file_given_to_remove_is_not_said_to_be_imported(tmp_path, capsys):
    """`data import --remove` of a cut-off file said "(--on-error skip imports them)", where --remove imports
    nothing: with --on-error skip it reads the complete records, as an import with it did, and withdraws theirs."""
    ws = Workspace.init(tmp_path / "ws")
    cut = tmp_path / "cut.json"
    cut.write_text('[{"prompt": "a", "chosen": "b", "rejected": "c"},\n {"prompt": "d", "chosen": "e", "rej')
    assert main(["import", "-w", str(ws.path), "--on-error", "skip", str(cut)]) == 0
    capsys.readouterr()
    assert main(["import", "-w", str(ws.path), "--remove", str(cut)]) == 2
    assert capsys.readouterr().err.endswith(
        "the record before it is complete (--on-error skip reads them, as an import with it did)\n"
    )
    assert main(["import", "-w", str(ws.path), "--on-error", "skip", "--remove", str(cut)]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {cut}: 1 (preferences 1); 1 row skipped at import (truncated), never stored\n"
    )


def test_a_gold_file_whose_name_holds_a_control_character_is_refused_before_any_file_is_read(
    tmp_path, capsys
):
    """`data import` refused such a name (its answers' source) while `data gold FILE` stored it: the answers its
    rows added took it as their model name, and the gold listing's line of each of its items broke in two."""
    ws = Workspace.init(tmp_path / "ws")
    good = write(tmp_path / "good.jsonl", {"prompt": "Q?", "chosen": "yes", "rejected": "no"})
    odd = write(tmp_path / "go\nld.jsonl", {"prompt": "R?", "chosen": "yes", "rejected": "no"})
    assert gold(ws, str(good), str(odd)) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path}/go\\nld.jsonl: the file's name holds a control character ('\\n'), and it would be the "
        "source of its gold answers and the model name of the answers its rows add, breaking the lines that name "
        "them; rename the file\n"
    )
    assert counts(ws) == dict.fromkeys(TABLES, 0)  # the good file's rows too: nothing written


def test_a_pair_records_refusals_name_its_own_fields(tmp_path, capsys):
    """A gold file of pair records (`chosen_messages`, `rejected_messages`) was refused naming fields 'chosen' and
    'rejected', which it has not: its refusals name its own fields, as an import's do."""
    ws = Workspace.init(tmp_path / "ws")

    def side(answer: str) -> list[dict]:
        return [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": answer}]

    def row(chosen: str, rejected: str) -> dict:
        return {"chosen_messages": side(chosen), "rejected_messages": side(rejected)}

    conflict = write(tmp_path / "conflict.jsonl", row("A", "B"), row("B", "A"))
    degenerate = write(tmp_path / "same.jsonl", row("A", "A "))
    for path, error in (
        (
            conflict,
            f"{conflict}, row 1, field 'chosen_messages': this row ('B' wins) and row 0 ('A' wins) compare the same "
            "two answers to one prompt but disagree; give one answer",
        ),
        (
            degenerate,
            f"{degenerate}, row 0, field 'rejected_messages': the same answer as 'chosen_messages' (spaces aside): "
            "a gold pair compares two different answers",
        ),
    ):
        assert gold(ws, str(path)) == 2
        assert capsys.readouterr().err == f"error: {error}\n"
    assert counts(ws)["gold"] == 0
