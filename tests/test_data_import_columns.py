"""The columns an import does not read are named in its summary, never ignored without a word: a HelpSteer2 file
imported with another `--rubric` (its five aspect columns rated nothing, every row became a gold answer), a data
set's own extra columns, a second gold answer column, and a `_split` (a row's `split` column is read: an auditor's
`"split": "test"` row went to train, named only as a column not read)."""

from __future__ import annotations

import json

from data.__main__ import main
from data.errors import cut_name, names_shown
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL

RUBRIC = "name: mine\naspects:\n  - name: quality\n    scale: [1, 5]\n    description: Overall quality.\n"
ASPECTS = ", ".join(FULL)


def summary(capsys) -> str:
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("imported ")]
    return line


def test_helpsteer2_columns_under_another_rubric_are_named_with_the_rubric_they_belong_to(tmp_path, capsys):
    path = write(tmp_path / "helpsteer2.jsonl", {"prompt": "2 + 2?", "response": "4", **FULL, "id": 7})
    rubric = tmp_path / "mine.yaml"
    rubric.write_text(RUBRIC)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", str(rubric)]) == 0
    assert summary(capsys).endswith(
        f"; columns not read: {ASPECTS}, id ({ASPECTS}: aspects of rubric helpsteer2, not of mine (--rubric): "
        "imported without --rubric, they are its ratings)"
    )
    [entry] = [json.loads(line) for line in (tmp_path / "ws" / "imports" / "log.jsonl").open()]
    assert entry["columns_not_read"].startswith("columns not read: helpfulness,")

    assert main(["import", "-w", str(tmp_path / "right"), str(path)]) == 0  # the default rubric reads them
    assert summary(capsys).endswith("records 1; columns not read: id")


def test_a_rows_split_is_read_and_a_second_gold_column_named_not_read(tmp_path, capsys):
    """A row's `split` is its prompt's split (the rows without one take --split's), and a line says so; of two gold
    answer columns the first is read, the other named."""
    rows = [
        {"prompt": "Audit me?", "response": "yes", "split": "test"},
        {"prompt": "Two golds?", "response": "first", "output": "second"},
        {"prompt": "Plain?", "response": "plain", "notes": ""},  # an empty column gives nothing
    ]
    path = write(tmp_path / "rows.jsonl", *rows)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("records 3; columns not read: output")
    assert out.splitlines()[1] == (
        "split: the rows' column 'split' gave the split of 1 row (test 1); --split and --test-fraction set only the "
        "split of rows without one"
    )
    prompts = Workspace(tmp_path / "ws").read("prompts").to_pylist()
    assert {p["messages"][0]["content"]: p["split"] for p in prompts} == {
        "Audit me?": "test",
        "Two golds?": "train",
        "Plain?": "train",
    }
    assert {p["gold"] for p in prompts} == {"yes", "first", "plain"}


def test_every_column_read_says_nothing_more(tmp_path, capsys):
    rows = [
        {"instruction": "Say hi.", "input": "", "output": "Hi!", "system": "Be brief."},
        {"instruction": "Pick.", "chosen": "a", "rejected": "b", "history": [["Hi?", "Hello."]]},
    ]
    assert main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "alpaca.jsonl", *rows))]) == 0
    assert "columns not read" not in summary(capsys)


def test_a_gold_answer_beside_a_preference_is_named_not_read(tmp_path, capsys):
    """An `output` (alpaca) or `response` (prompt) beside chosen and rejected makes nothing, as beside a `completions`
    list, but was counted read: the summary said nothing of it."""
    alpaca = write(
        tmp_path / "alpaca.jsonl",
        {"instruction": "Q", "input": "", "chosen": "a", "rejected": "b", "output": "c"},
    )
    prompt = write(
        tmp_path / "prompt.jsonl", {"prompt": "Q2", "chosen": "a", "rejected": "b", "response": "c"}
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(alpaca), str(prompt)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.rsplit("; ", 1)[-1] for line in lines] == [
        "columns not read: output",
        "columns not read: response",
    ]
    assert [p["gold"] for p in Workspace(tmp_path / "ws").read("prompts").to_pylist()] == [None, None]


def test_a_long_or_multi_line_column_name_is_shown_cut_and_on_one_line(tmp_path, capsys):
    """A key of 5,000 characters was repeated whole in the summary (and in the error of a record of no format), and
    a key holding a newline broke the summary line in two: each name past 120 characters is cut, its control
    characters written as repr writes them, as any value from the file an error line repeats."""
    long = "x" * 5000
    path = write(tmp_path / "rows.jsonl", {"prompt": "q", "response": "a", long: 1, "two\nlines": 2})
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.endswith(f"records 1; columns not read: {'x' * 60}…{'x' * 59}, two\\nlines\n")

    odd = write(tmp_path / "odd.jsonl", {long: "q"})
    assert main(["import", "-w", str(tmp_path / "ws"), str(odd)]) == 2
    assert capsys.readouterr().err == (
        f"error: {odd}, row 0: unknown record format (keys: {'x' * 60}…{'x' * 59}); expected alpaca, chat, pair, "
        "openai or prompt\n"
    )


def test_a_column_named_with_a_newline_and_one_typed_with_backslash_n_are_told_apart(tmp_path, capsys):
    """A newline in a name is written \\n, and so was a typed backslash and n: the two columns read the same in the
    summary and in the error of a record of no format. A typed backslash is written doubled, as repr writes it."""
    path = write(tmp_path / "rows.jsonl", {"prompt": "q", "two\nlines": 1, "two\\nlines": 2})
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert capsys.readouterr().out.endswith("columns not read: two\\nlines, two\\\\nlines\n")

    odd = write(tmp_path / "odd.jsonl", {"two\nlines": "q", "two\\nlines": "q"})
    assert main(["import", "-w", str(tmp_path / "ws"), str(odd)]) == 2
    assert "(keys: two\\nlines, two\\\\nlines)" in capsys.readouterr().err


def test_long_column_names_are_shown_whole_or_by_start_and_end(tmp_path, capsys):
    """Names were cut to their first 40 characters: two columns differing past them read the same ("..._roun…"
    twice), and the user could not tell which column was meant. A name is whole up to 120 characters; past that
    its start and end are kept, where such names differ."""
    near = [f"metadata_annotator_agreement_score_round_{i}" for i in (1, 2)]
    far = [f"{'annotation_' * 15}v{i}" for i in (1, 2)]
    path = write(tmp_path / "rows.jsonl", {"prompt": "q", "response": "a"} | dict.fromkeys(near + far, 1))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    cut = [f"{name[:60]}…{name[-59:]}" for name in far]
    assert capsys.readouterr().out.endswith(f"columns not read: {', '.join(near + cut)}\n")
    assert cut[0] != cut[1]


def test_long_column_names_differing_only_in_their_middle_keep_where_they_differ(tmp_path, capsys):
    """Two names past 120 characters alike in their first 60 and last 59 read the same ("annotation_…_score"
    twice): each keeps its start and end, a third each, and the characters around where it differs between."""
    names = [f"{'annotation_' * 6}{model}{'_score' * 12}" for model in ("gpt-4", "llama-2")]
    path = write(tmp_path / "rows.jsonl", {"prompt": "q", "response": "a"} | dict.fromkeys(names, 1))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    start, end = names[0][:39], names[0][-39:]  # the same in both
    middle = ["otation_annotation_gpt-4_score_score_sc", "otation_annotation_llama-2_score_score_"]
    cut = [f"{start}…{around}…{end}" for around in middle]
    assert capsys.readouterr().out.endswith(f"columns not read: {', '.join(cut)}\n")


def test_long_column_names_differing_only_in_a_repeat_count_say_their_lengths(tmp_path, capsys):
    """Two names past 120 characters differing only in how often a character repeats (`a` × 200 + `1` and one `a`
    more) read the same wherever they were cut: each says its length too."""
    names = ["a" * 200 + "1", "a" * 201 + "1"]
    path = write(tmp_path / "rows.jsonl", {"prompt": "q", "response": "a"} | dict.fromkeys(names, 1))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    cut = f"{'a' * 39}…{'a' * 39}…{'a' * 38}1"
    assert capsys.readouterr().out.endswith(
        f"columns not read: {cut} (201 characters), {cut} (202 characters)\n"
    )


def test_long_names_alike_even_with_their_lengths_are_shown_whole():
    """Two names of one length, each cut around where it differs from the name most like it, can still read the
    same (a `c` at 126 in one, at 72 in the other, `a` all around): they are shown whole, the third name cut."""
    plain, one, two = ("a" * n for n in (169, 196, 196))
    one, two = one[:126] + "c" + one[127:], two[:72] + "c" + two[73:125] + "c" + two[126:]
    assert names_shown([plain, one, two]) == f"{cut_name(plain, 126)}, {one}, {two}"


def test_keys_of_openais_input_other_than_its_messages_are_named_not_read(tmp_path, capsys):
    """OpenAI's preference file keeps its tools beside the conversation (``input.tools``): they are no part of a
    prompt, and were dropped without a word, where a top-level column is named. They are named by their dotted
    names; a null one gives nothing, and a file whose input holds its messages alone says nothing more."""
    answers = {
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}],
    }
    messages = [{"role": "user", "content": "Weather?"}]
    tools = [{"type": "function", "function": {"name": "forecast", "parameters": {}}}]
    rows = [
        {
            "input": {"messages": messages, "tools": tools, "parallel_tool_calls": False, "id": None},
            **answers,
        },
        {"input": {"messages": messages, "metadata": {"team": "x"}}, **answers},
    ]
    assert main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "openai.jsonl", *rows))]) == 0
    assert summary(capsys).endswith(
        "; columns not read: input.tools, input.parallel_tool_calls, input.metadata"
    )
    [entry] = [json.loads(line) for line in (tmp_path / "ws" / "imports" / "log.jsonl").open()]
    assert (
        entry["columns_not_read"]
        == "columns not read: input.tools, input.parallel_tool_calls, input.metadata"
    )
    plain = write(tmp_path / "plain.jsonl", {"input": {"messages": messages}, **answers})
    assert main(["import", "-w", str(tmp_path / "ws2"), str(plain)]) == 0
    assert "columns not read" not in summary(capsys)
