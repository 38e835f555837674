"""Every import format into a workspace, idempotence, and errors that name the file, row and field."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from data import import_formats, import_write
from data.__main__ import main
from data.export import to_dpo, to_kto, to_sft
from data.imports import import_file, load_file
from data.schemas import SchemaError
from data.workspace import Workspace


def write_json(path, records):
    path.write_text(json.dumps(records))
    return path


def exports(ws):
    frames = {name: ws.frame(name) for name in ("prompts", "completions", "pairs", "labels")}
    dpo, _ = to_dpo(*frames.values())
    kto, _ = to_kto(frames["prompts"], frames["completions"], frames["labels"])
    sft, _ = to_sft(frames["prompts"])
    return dpo, kto, sft


def test_alpaca_with_input_system_and_history(workspace, tmp_path):
    record = {
        "instruction": "Add.",
        "input": "2+2",
        "output": "4",
        "system": "Be terse.",
        "history": [["hi", "hello"]],
    }
    import_file(workspace, write_json(tmp_path / "a.json", [record]))
    _, _, sft = exports(workspace)
    assert sft[0]["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "Add.\n\n2+2"},
        {"role": "assistant", "content": "4"},
    ]


def test_llamafactory_sharegpt_preference(workspace, tmp_path):
    record = {
        "conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q"}],
        "chosen": {"from": "gpt", "value": "good"},
        "rejected": {"from": "gpt", "value": "bad"},
    }
    counts = import_file(workspace, write_json(tmp_path / "dpo.json", [record, record]))
    dpo, _, _ = exports(workspace)
    # Duplicate rows of a data set stay two pairs (they share prompt and completions).
    assert counts["new_pairs"] == 2 and counts["new_completions"] == 2 and counts["new_prompts"] == 1
    assert [(r["prompt"], r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in dpo] == [
        ([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}], "good", "bad")
    ] * 2


def test_kto_messages_with_label_and_trl_prompt_completion_label(workspace, tmp_path):
    lf = {
        "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
        "label": False,
    }
    trl_rows = pd.DataFrame([{"prompt": "Q2", "completion": "A2", "label": "true"}])
    trl_rows.to_csv(tmp_path / "kto.csv", index=False)
    import_file(workspace, write_json(tmp_path / "lf.json", [lf]))
    import_file(workspace, tmp_path / "kto.csv")
    _, kto, _ = exports(workspace)
    assert sorted((r["prompt"][0]["content"], r["completion"][0]["content"], r["label"]) for r in kto) == [
        ("Q", "A", False),
        ("Q2", "A2", True),
    ]


def test_trl_preference_jsonl_parquet_and_datasets_folder(workspace, tmp_path):
    import datasets

    rows = [
        {"prompt": "P1", "chosen": "c1", "rejected": "r1"},
        {
            "prompt": [{"role": "user", "content": "P2"}],
            "chosen": [{"role": "assistant", "content": "c2"}],
            "rejected": [{"role": "assistant", "content": "r2"}],
        },
    ]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows[:1]) + "\n")
    pd.DataFrame([{"prompt": "P3", "chosen": "c3", "rejected": "r3"}]).to_parquet(tmp_path / "p.parquet")
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(rows[1:]),
            "test": datasets.Dataset.from_list(
                [rows[1] | {"chosen": [{"role": "assistant", "content": "c4"}]}]
            ),
        }
    ).save_to_disk(tmp_path / "dsdir")
    for name in ("p.jsonl", "p.parquet", "dsdir"):
        import_file(workspace, tmp_path / name)
    dpo, _, _ = exports(workspace)
    assert sorted(r["chosen"][0]["content"] for r in dpo) == ["c1", "c2", "c3", "c4"]
    splits = dict(zip(workspace.frame("prompts")["id"], workspace.frame("prompts")["split"]))
    assert sorted(splits.values()) == ["test", "train", "train"]  # P2 is in both splits: test wins


def test_reimport_adds_nothing_and_degenerate_pairs_are_counted(workspace, tmp_path):
    path = write_json(
        tmp_path / "p.json",
        [
            {"prompt": "P", "chosen": "same", "rejected": "same "},
            {"prompt": "P", "chosen": "x", "rejected": "y"},
        ],
    )
    first = import_file(workspace, path)
    assert first["degenerate"] == 1 and first["new_pairs"] == 1
    second = import_file(workspace, path)
    assert not any(key.startswith("new_") for key in second)


def test_test_fraction_says_how_many_new_prompts_went_to_test(tmp_path, capsys):
    """`--test-fraction 0.1` put 20 of 295 prompts in test (6.8 %), which only `stats` showed: the import now says
    it, of the prompts it stored (one already stored keeps its split), and the import log counts it."""
    ws, prefs = tmp_path / "ws", tmp_path / "p.json"
    write_json(prefs, [{"prompt": "q0", "chosen": "yes", "rejected": "no"}])
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    write_json(prefs, [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(40)])
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(prefs), "--test-fraction", "0.3"]) == 0
    summary, split = capsys.readouterr().out.splitlines()
    prompts = Workspace(ws).frame("prompts")
    test = int((prompts["split"] == "test").sum())
    assert 0 < test < 39 and "new_test_prompts" not in summary and "new_prompts 39," in summary
    assert split == (
        f"test split: {test} of 39 new prompts ({test / 39:.1%}): --test-fraction 0.3 gives each prompt that chance "
        "of test, drawn from a hash of its messages (a prompt gets the same split in every import), not an exact share"
    )
    logged = json.loads((ws / "imports" / "log.jsonl").read_text().splitlines()[-1])
    assert logged["counts"]["new_test_prompts"] == test
    assert main(["import", "-w", str(ws), str(prefs), "--test-fraction", "0.3"]) == 0  # nothing new: no line
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_the_summary_counts_the_gold_answers_it_stored(tmp_path, capsys):
    """An alpaca row's `output` is a gold answer, stored in its prompt's row: the line said `new_completions 2,
    new_labels 1, new_pairs 1, new_prompts 2, records 2` (the pair's answers) and nothing of it; only `export
    --format sft` or `stats` showed it. A rerun stores none: a stored prompt keeps its gold."""
    ws, path = tmp_path / "ws", tmp_path / "llamafactory.json"
    write_json(
        path,
        [
            {"instruction": "Say hi.", "input": "", "output": "hi"},
            {"instruction": "Pick.", "chosen": "a", "rejected": "b"},
        ],
    )
    assert main(["import", "-w", str(ws), str(path)]) == 0
    assert capsys.readouterr().out == (
        f"imported {path} (alpaca): new_completions 2, new_gold_answers 1, new_labels 1, new_pairs 1, new_prompts 2, "
        "records 2\n"
    )
    logged = json.loads((ws / "imports" / "log.jsonl").read_text().splitlines()[-1])
    assert logged["counts"]["new_gold_answers"] == 1
    assert main(["import", "-w", str(ws), str(path)]) == 0
    assert "new_gold_answers" not in capsys.readouterr().out


def test_a_reimport_says_the_stored_prompts_keep_their_split_and_gold(tmp_path, capsys):
    """Re-importing with another --split (or --test-fraction) printed "duplicate_rows 5, records 300", exit 0, and
    every prompt stayed in its split; a gold answer for a prompt stored without one was dropped without a word.
    (A row naming test for a prompt stored in train is left out: tests/test_data_import_splits.py.)"""
    ws, prefs, sft = tmp_path / "ws", tmp_path / "p.json", tmp_path / "s.json"
    write_json(prefs, [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(3)])
    write_json(sft, [{"instruction": "q0", "output": "gold"}, {"instruction": "q9", "output": "new"}])
    assert main(["import", "-w", str(ws), str(prefs), "--split", "test"]) == 0
    capsys.readouterr()
    # the same options: nothing to say
    assert main(["import", "-w", str(ws), str(prefs), "--split", "test"]) == 0
    io = capsys.readouterr()
    assert "prompts_already_stored 3," in io.out and "stored_" not in io.out and io.err == ""
    assert main(["import", "-w", str(ws), str(prefs), "--split", "train"]) == 0
    io = capsys.readouterr()
    assert "prompts_already_stored 3, records 3, stored_split_kept 3" in io.out
    assert io.err == (
        f"warning: {prefs}: 3 of the 3 prompts already stored keep their split, not the one this import gives them "
        "(--split, --test-fraction or the rows' own): a prompt's split is set when it is first stored, and nothing "
        "moves it\n"
    )
    assert set(Workspace(ws).frame("prompts")["split"]) == {"test"}  # ids and splits are stable
    assert main(["import", "-w", str(ws), str(sft)]) == 0
    io = capsys.readouterr()
    assert "new_prompts 1, prompts_already_stored 1, records 2, stored_gold_kept 1" in io.out
    assert f"warning: {sft}: 1 of the 1 prompts already stored keep their stored gold answer" in io.err


def test_a_reimport_asking_no_split_says_nothing_of_the_stored_splits(tmp_path, capsys):
    """README's workflow, `import cands.jsonl --unlabelled --test-fraction 0.2` then `import alice.jsonl`, warned
    that the prompts stored in test "keep their split, not the one this import gives them", though alice's import
    asked for none. Only an import asking for a split (--split, --test-fraction, rows naming theirs) says so; the
    import log counts them all the same."""
    ws, prefs = tmp_path / "ws", tmp_path / "p.json"
    write_json(prefs, [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(3)])
    assert main(["import", "-w", str(ws), str(prefs), "--split", "test"]) == 0
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    io = capsys.readouterr()
    assert io.err == "" and "stored_split_kept" not in io.out and "nothing new" in io.out
    logged = json.loads((ws / "imports" / "log.jsonl").read_text().splitlines()[-1])
    assert logged["counts"]["stored_split_kept"] == 3
    write_json(
        prefs, [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no", "split": "train"} for i in range(3)]
    )
    for asked in (["--split", "train"], ["--test-fraction", "0.5"], []):  # the last: the rows name theirs
        assert main(["import", "-w", str(ws), str(prefs), *asked]) == 0
        assert "3 of the 3 prompts already stored keep their split" in capsys.readouterr().err


def test_importing_a_file_again_says_it_stored_nothing_new(tmp_path, capsys):
    """A rerun printed `already_stored 3, records 3`, a count of prompts only: where the rows' pairs and labels went
    was a guess. It says nothing new was stored; not where a row is new, or was left out."""
    ws, prefs = tmp_path / "ws", tmp_path / "p.json"
    rows = [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(3)]
    write_json(prefs, rows)
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert "nothing new" not in capsys.readouterr().out
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert capsys.readouterr().out == (
        f"imported {prefs} (prompt): prompts_already_stored 3, records 3; nothing new: the workspace holds every row already\n"
    )
    write_json(prefs, [*rows, {"prompt": "q0", "chosen": "yes", "rejected": ""}])  # a row left out
    assert main(["import", "-w", str(ws), str(prefs), "--on-error", "skip"]) == 0
    assert "nothing new" not in capsys.readouterr().out
    # rows the workspace holds otherwise, or never stored: said so beside "nothing new" (stored_gold_kept 1,
    # degenerate 1), which said the workspace held every row
    sft = write_json(tmp_path / "sft.json", [{"prompt": "q0", "completion": "another gold answer"}])
    assert main(["import", "-w", str(ws), str(sft)]) == 0
    assert "stored_gold_kept 1" in (out := capsys.readouterr().out) and "nothing new" not in out
    write_json(prefs, [{"prompt": "q0", "chosen": "same", "rejected": "same"}])
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert "degenerate 1" in (out := capsys.readouterr().out) and "nothing new" not in out
    write_json(prefs, [*rows, {"prompt": "q3", "chosen": "yes", "rejected": "no"}])  # a new row
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert "nothing new" not in capsys.readouterr().out


def test_test_fraction_is_deterministic_by_prompt(tmp_path):
    path = write_json(tmp_path / "p.json", [{"prompt": f"question {i}", "output": "a"} for i in range(200)])
    splits = [p.split for p in load_file(path, test_fraction=0.25)[0]]
    assert splits == [p.split for p in load_file(path, test_fraction=0.25)[0]]
    assert 25 <= splits.count("test") <= 75


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"prompt": "a", "chosen": "b", "rejected": "c"}, ', "row 1: the file ends inside this record"),
        ('{"prompt": "a"}\n{"prompt": \n', "row 1: invalid JSON: expecting value at line 2, column 12"),
        ('[{"question": "a"}]', "row 0: unknown record format (keys: question)"),
        (
            '[{"prompt": "a"}, {"prompt": [{"role": "bot", "content": "x"}]}]',
            "row 1, field 'prompt': unknown message role 'bot'",
        ),
        ('[{"prompt": "a", "completion": "b", "label": "meh"}]', "row 0, field 'label'"),
        ('[{"prompt": "a", "chosen": 3, "rejected": "c"}]', "row 0, field 'chosen': expected text, got int"),
        (
            '[{"prompt": "q"}, {"prompt": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}]',
            "row 1, field 'prompt': a prompt must not end with an assistant message",
        ),
        ("[]", "no records"),
        (
            '[{"prompt": "q"}, {"prompt": "  "}]',
            "row 1, field 'prompt': the prompt's last message has no text",
        ),
    ],
)
def test_bad_input_names_file_row_field(tmp_path, content, message):
    path = tmp_path / ("bad.jsonl" if "\n" in content else "bad.json")
    path.write_text(content)
    with pytest.raises(SchemaError) as err:
        load_file(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


@pytest.mark.parametrize(
    "row",
    [
        {"prompt": "P", "completion": "C", "label": True},
        {"prompt": "P", "chosen": "c", "rejected": "r"},
        {"prompt": "P", "completions": ["x", "y", "z"], "ranking": [2, 3, 1]},
    ],
    ids=["kto", "preference", "rank"],
)
def test_a_datasets_folders_row_repeated_in_another_split_is_a_duplicate_row(tmp_path, capsys, row):
    """A row in train and again in test: one label (KTO, rank) or its own pair again (preference), as a row repeated in
    one file; was counted nowhere (the split its folder gives a row made it another row), so nothing said the test
    row was left as it was. Its prompt is test: test wins (`data.import_splits`)."""
    import datasets

    other = {key: value + "2" if isinstance(value, str) else value for key, value in row.items()}
    folder = tmp_path / "dsdir"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list([row, other]), "test": datasets.Dataset.from_list([row])}
    ).save_to_disk(folder)
    ws = tmp_path / "ws"
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(folder)]) == 0
    assert "duplicate_rows 1" in capsys.readouterr().out
    logged = json.loads((ws / "imports" / "log.jsonl").read_text().splitlines()[-1])
    assert logged["counts"]["duplicate_rows"] == 1  # the import log counts it too
    prompts = Workspace(ws).frame("prompts")
    assert sorted(zip(prompts["split"], (m[-1]["content"] for m in prompts["messages"]))) == [
        ("test", row["prompt"]),
        ("train", other["prompt"]),
    ]


def test_an_import_writes_reading_the_stored_rows_of_its_own_ids_only(tmp_path, monkeypatch, capsys):
    """The write read every stored prompt's split and gold (`stored_prompts`) and every stored id of each table it
    wrote (to leave out the rows already stored): 10-18 MiB of an import into a workspace of 100,000 prompts. Each
    read of these tables now names the rows it reads, never more than the import's own (2 prompts, 4 answers, 2
    pairs); what is written and said is as before."""
    ws, prefs = tmp_path / "ws", tmp_path / "p.json"
    write_json(prefs, [{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(6)])
    assert main(["import", "-w", str(ws), str(prefs), "--split", "test"]) == 0
    write_json(prefs, [{"prompt": f"q{i}", "chosen": "yes", "rejected": "new"} for i in (0, 9)])
    reads, read = [], Workspace.read

    def recorded(self, name, columns=None, where=None, as_stored=False):
        reads.append((name, where and len(list(where[1]))))
        return read(self, name, columns, where, as_stored)

    monkeypatch.setattr(Workspace, "read", recorded)
    monkeypatch.setattr(
        "data.imports.check_rank_items", lambda *args: None
    )  # its reads: test_data_rank_guard
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    said = "new_completions 3, new_labels 2, new_pairs 2, new_prompts 1, prompts_already_stored 1, records 2"
    assert said in capsys.readouterr().out
    most = {"prompts": 2, "completions": 4, "pairs": 2}  # (labels: the import history reads them whole)
    assert {name for name, _ in reads} >= set(most)
    assert all(n is not None and 0 < n <= most[name] for name, n in reads if name in most), reads


def test_a_preview_of_an_import_reads_as_the_workspace_reads_once_it_is_written(tmp_path):
    """`ImportPreview` takes `Workspace.read`'s ``as_stored`` and spells a labeller's names as the workspace will
    (one spelling, the earliest stored, over the stored labels and the import's), and its `read_each` gives what
    ``each`` makes of the import's rows too, not of the stored rows only."""
    from data.imports import ImportPreview
    from data.records import Label, Prompt
    from data.spellings import StoredPrompts

    workspace = Workspace.init(tmp_path / "ws")
    workspace.append(
        [Label("item1", "Zoë", "pairwise", "a"), Prompt([{"role": "user", "content": "a?"}], "t")]
    )
    records = [Label("item2", "Zoe\u0308", "pairwise", "b"), Prompt([{"role": "user", "content": "b?"}], "t")]
    preview = ImportPreview(workspace.path, workspace, records)

    def seen(ws: Workspace) -> tuple:
        digests = ws.read_each("prompts", ["messages"], lambda rows: rows.select(["id"]))
        return (
            ws.read("labels", ["annotator"]).column("annotator").to_pylist(),
            ws.read("labels", ["annotator"], as_stored=True).column("annotator").to_pylist(),
            ws.read("labels", ["annotator"], ("item_id", ["item2"])).column("annotator").to_pylist(),
            sorted(digests.column("id").to_pylist()),
        )

    before = seen(preview)
    assert before[:3] == (["Zoë", "Zoë"], ["Zoë", "Zoe\u0308"], ["Zoe\u0308"]) and len(before[3]) == 2
    assert len(StoredPrompts(preview)) == 2
    new = ImportPreview(tmp_path / "new", None, records)
    assert seen(new) == (["Zoe\u0308"], ["Zoe\u0308"], ["Zoe\u0308"], [records[1].id])
    workspace.append(records)
    assert seen(workspace) == before


def test_a_datasets_folders_held_out_split_is_test_whatever_its_suffix(tmp_path):
    """UltraFeedback's `test_prefs` (and `eval-2`, `validation`) is a held-out split: its rows were stored in train,
    without a word, where only the names test, validation, valid and eval were read as test."""
    import datasets

    names = ("train_prefs", "test_prefs", "validation", "eval-2", "train_sft", "pretest", "dev", "devil")
    names += ("testing", "evaluation", "val", "held_out", "heldout", "withheld")
    folder = tmp_path / "dsdir"
    datasets.DatasetDict(
        {
            name: datasets.Dataset.from_list([{"prompt": name, "chosen": "yes", "rejected": "no"}])
            for name in names
        }
    ).save_to_disk(folder)
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(folder)]) == 0
    prompts = Workspace(ws).frame("prompts")
    splits = {m[0]["content"]: split for m, split in zip(prompts["messages"], prompts["split"])}
    assert splits == {
        "train_prefs": "train",
        "test_prefs": "test",
        "validation": "test",
        "eval-2": "test",
        "train_sft": "train",
        "pretest": "train",
        "dev": "test",  # GLUE's held-out name
        "devil": "train",
        "testing": "test",
        "evaluation": "test",
        "val": "test",
        "held_out": "test",
        "heldout": "test",
        "withheld": "train",
    }


def test_a_copy_of_an_imported_file_under_another_name_says_its_answers_are_stored_again(tmp_path, capsys):
    """A renamed copy is the same file to the import log (`same_file`) but another source (an answer's id holds
    it): its rows doubled every pair and label of the file, exit 0 and not a word."""
    ws, prefs = tmp_path / "ws", tmp_path / "prefs.json"
    write_json(prefs, [{"prompt": "q", "chosen": "yes", "rejected": "no"}])
    copy = tmp_path / "copy.json"
    copy.write_bytes(prefs.read_bytes())
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    # the same source: nothing new, nothing to say
    assert main(["import", "-w", str(ws), str(prefs), "--source", "prefs"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["import", "-w", str(ws), str(copy)]) == 0
    assert capsys.readouterr().err == (
        f"warning: {copy}: the same content as {prefs}, imported before as source prefs: its 2 new answers are "
        f"stored again as source copy, with their own pairs and labels (`data import --remove {copy}` withdraws "
        "the labels)\n"
    )
    assert main(["import", "-w", str(ws), str(copy)]) == 0  # a rerun stores nothing: nothing to say
    assert capsys.readouterr().err == ""
    # --unlabelled stores no label: none to withdraw
    assert main(["import", "-w", str(ws), str(prefs), "--source", "third", "--unlabelled"]) == 0
    assert capsys.readouterr().err == (
        f"warning: {prefs}: the same content as {prefs}, imported before as source prefs: its 2 new answers are "
        "stored again as source third, with their own pairs\n"
    )


def test_rows_with_one_preference_reversed_are_stored_counted_and_named(tmp_path, capsys):
    """Row 1 prefers, of one prompt's two answers, the one row 0 rejected: both were stored without a word. Both
    stay labels (the data set holds them), counted opposite_rows in the summary and the import log, and one
    warning line names the file and both rows. Another prompt or another answer reverses nothing, and with
    --unlabelled (no preference stored) nothing is counted."""
    ws, prefs = tmp_path / "ws", tmp_path / "p.jsonl"
    rows = [
        {"prompt": "q", "chosen": "X", "rejected": "Y"},
        {"prompt": "q", "chosen": "Y\r\n", "rejected": "X"},  # spelled otherwise: the same answer
        {"prompt": "r", "chosen": "Y", "rejected": "X"},
        {"prompt": "q", "chosen": "Z", "rejected": "X"},
    ]
    prefs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    out, err = capsys.readouterr()
    assert "opposite_rows 1, " in out
    assert err.splitlines() == [
        f"warning: {prefs}: rows 0 and 1 give opposite preferences on the same prompt and answers (chosen and "
        "rejected swapped; opposite_rows 1): both are stored, each its own pair and label, as the file gives "
        "them, so an export and train take both"
    ]
    logged = json.loads((ws / "imports" / "log.jsonl").read_text().splitlines()[-1])
    assert logged["counts"]["opposite_rows"] == 1
    assert [(o["row"], o["opposite_row"]) for o in logged["opposite_rows"]] == [(1, 0)]
    assert len(Workspace(ws).frame("labels")) == 4  # both kept
    assert main(["import", "-w", str(tmp_path / "ws2"), str(prefs), "--unlabelled"]) == 0
    out, err = capsys.readouterr()
    assert "opposite_rows" not in out + err


def test_many_reversed_rows_are_one_warning_naming_the_first_few(tmp_path, capsys):
    prefs = tmp_path / "p.json"
    write_json(
        prefs,
        [{"prompt": f"q{i // 2}", "chosen": "XY"[i % 2], "rejected": "YX"[i % 2]} for i in range(10)],
    )
    capsys.readouterr()
    assert main(["import", "-w", str(tmp_path / "ws"), str(prefs)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {prefs}: rows 0 and 1, 2 and 3, 4 and 5 and 2 more give opposite preferences on the same prompt "
        "and answers (chosen and rejected swapped; opposite_rows 5): both are stored, each its own pair and label, "
        "as the file gives them, so an export and train take both"
    ]


def test_the_log_lists_gold_conflicts_and_opposite_rows_up_to_its_cap_and_counts_them_all(
    tmp_path, capsys, monkeypatch
):
    """The import log listed every gold conflict (a huge file's grew the log, which every reader reads whole, by
    megabytes); it lists them up to `MAX_LOGGED_ITEMS`, the first ones, as it does opposite rows, and the counts
    say how many there were."""
    monkeypatch.setattr(import_write, "MAX_LOGGED_ITEMS", 2)
    ws, path = tmp_path / "ws", tmp_path / "rows.jsonl"
    gold = [{"prompt": "q", "output": f"answer {i}"} for i in range(4)]  # rows 1-3 differ from row 0's gold
    prefs = [{"prompt": "r", "chosen": "XY"[i % 2], "rejected": "YX"[i % 2]} for i in range(4)]  # 3 reversals
    path.write_text("".join(json.dumps(row) + "\n" for row in gold + prefs))
    assert main(["import", "-w", str(ws), str(path)]) == 0
    capsys.readouterr()
    logged = json.loads((ws / "imports" / "log.jsonl").read_text())
    assert logged["counts"]["gold_conflicts"] == 3 and logged["counts"]["opposite_rows"] == 3
    assert [(c["row"], c["first_row"]) for c in logged["gold_conflicts"]] == [(1, 0), (2, 0)]
    assert [(o["row"], o["opposite_row"]) for o in logged["opposite_rows"]] == [(5, 4), (6, 5)]


def test_a_warning_of_a_file_with_a_newline_in_its_name_is_one_line(tmp_path, capsys):
    """The summary line escaped a newline in the file's name; the warning lines beside it (opposite rows, prompts
    kept as stored, a copy) printed it, breaking the warning in two."""
    prefs = tmp_path / "p\nq.jsonl"
    rows = [{"prompt": "q", "chosen": "X", "rejected": "Y"}, {"prompt": "q", "chosen": "Y", "rejected": "X"}]
    prefs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    capsys.readouterr()
    # --source: the name is no source (`data.imports.check_source_name`), but the lines name the file
    assert main(["import", "-w", str(tmp_path / "ws"), "--source", "pq", str(prefs)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and err.splitlines() == [
        f"warning: {tmp_path}/p\\nq.jsonl: rows 0 and 1 give opposite preferences on the same prompt and answers "
        "(chosen and rejected swapped; opposite_rows 1): both are stored, each its own pair and label, as the file "
        "gives them, so an export and train take both"
    ]


def test_each_row_is_parsed_once_where_the_workspace_holds_prompts(tmp_path, monkeypatch):
    """Where the workspace holds prompts, the rows' prompts are read first (to read the stored spellings of those
    prompts only); each row was parsed then and again when checked."""
    ws = Workspace.init(tmp_path / "ws")
    rows = [{"prompt": f"Q{i}?", "chosen": "a", "rejected": "b"} for i in range(3)]
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    import_file(ws, path)  # the workspace holds the file's prompts
    parsed = []
    parse_prompt = import_formats.PARSERS["prompt"]
    monkeypatch.setitem(
        import_formats.PARSERS, "prompt", lambda r, ctx: parsed.append(ctx.row) or parse_prompt(r, ctx)
    )
    import_file(ws, path, source="again")
    assert parsed == [0, 1, 2]
