"""Dirty real-world files through `python -m data import`: every bad input is one line naming file, row, field and
reason, exit 2, and the workspace byte-identical (every file hashed before and after); `--on-error skip` imports
the rest with exact counts by reason and a rejects file listing the rows."""

from __future__ import annotations

import csv
import hashlib
import json
import shlex

import pytest

from data.__main__ import main
from data.errors import PrefloopError
from data.gold_lock import GOLD_LOCK
from data.import_records import RecordError
from data.import_write import IMPORT_LOCK
from data.imports import import_file
from data.workspace import Workspace

GOOD = {"prompt": "q", "chosen": "yes", "rejected": "no"}


def jsonl(*records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def v1(role, text):
    return {"role": role, "content": [{"type": "text", "value": text}], "loss_weight": 0.0}


def digest(ws):
    """Every file and folder of the workspace and a hash of its bytes; but the import and gold locks' files while
    they are empty: an import takes the lock (`data.import_write.import_lock`) before it checks its rows against
    what is stored, so one refused leaves it, as a gold write leaves gold.lock (a merge of gold rows both), and
    nothing else."""
    return {
        str(p.relative_to(ws)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(ws.rglob("*"))
        if p not in (ws / IMPORT_LOCK, ws / GOLD_LOCK) or p.stat().st_size
    }


@pytest.fixture()
def ws(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl(GOOD))
    assert main(["import", "-w", str(tmp_path / "ws"), str(good)]) == 0
    return tmp_path / "ws"


def error_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.strip() and "rec/s" not in line]


BAD_INPUTS = [
    # (file name, content, extra flags, the line after "error: <file>")
    ("later.jsonl", jsonl(GOOD, {"instruction": "q", "output": "a"}), [],
     ", row 1: record does not fit format prompt (keys: instruction, output): it needs 'prompt'; it looks like alpaca"),
    ("deep.json", b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", [], ", row 0: JSON nested too deeply to read"),
    ("utf8.jsonl", jsonl(GOOD) + b'{"prompt": "q2", "chosen": "a\xff", "rejected": "b"}\n', [],
     ", row 1, field 'chosen': invalid text at character 1: byte 0xff is not UTF-8"),
    ("utf8.csv", b"prompt,chosen,rejected\nq,a,b\nq2,a,b\xfe\n", [],
     ", row 1, field 'rejected': invalid text at character 1: byte 0xfe is not UTF-8"),
    ("surrogate.json", b'[{"prompt": "q", "chosen": "a\\ud800", "rejected": "b"}]', [],
     ", row 0, field 'chosen': invalid text at character 1: lone surrogate U+D800"),
    # one object over several lines is one record, as on one line (test_one_object_is_one_record_on_any_lines); one
    # that is no record but holds records beside other keys says how to take them out (test_generate_prompts_shapes)
    ("object.json", json.dumps({"data": [GOOD], "meta": 1}, indent=2).encode(), [],
     ": one JSON object that is no record (keys: data, meta): \"data\" holds 1 record nested in it: import the list "
     "itself, e.g. jq '.[\"data\"]' {path} > records.json"),
    ("cut.json", b'[{"prompt": "a", "chosen": "b", "rejected": "c"},\n {"prompt": "d", "chosen": "e", "rej', [],
     ", row 1: the file ends inside this record (invalid JSON: unterminated string starting at line 2, column 33); "
     "the record before it is complete (--on-error skip imports them)"),
    ("broken.json", b'[{"prompt": "a", "chosen": "b", "rejected": "c"},\n {"prompt" "d"}]', [],
     ", row 1: invalid JSON: expecting ':' delimiter at line 2, column 12"),
    ("line.jsonl", jsonl(GOOD) + b'{"prompt": "x",}\n', [],
     ", row 1: invalid JSON: expecting property name enclosed in double quotes at line 2, column 16"),
    # records pretty-printed one after another (json.dump(record, indent=2) each): the line and column alone
    ("pretty.jsonl", (json.dumps(GOOD, indent=2) + "\n" + json.dumps(GOOD, indent=2)).encode(), [],
     ", row 0: invalid JSON: expecting property name enclosed in double quotes at line 1, column 2 (a record over "
     "several lines: JSON Lines hold one record a line; write each on one line, or the records as one JSON array)"),
    # one pretty-printed object past --max-record-bytes was "invalid JSON ... (a record over several lines ...)"
    ("big-object.json", json.dumps(GOOD | {"chosen": "y" * 80}, indent=2).encode(), ["--max-record-bytes", "100"],
     ", row 0: one record over lines 1 to 5, more than --max-record-bytes (100 bytes), or broken JSON: pass a larger "
     "--max-record-bytes to read it"),
    # `cat plain.jsonl bom.jsonl`: the second file's byte order mark mid-file was "invalid JSON: expecting value"
    ("joined.jsonl", jsonl(GOOD) + b"\xef\xbb\xbf" + jsonl(GOOD), [],
     ", row 1: line 2 starts with a byte order mark (files joined with cat?): strip it, e.g. "
     "sed -i 's/^\\xEF\\xBB\\xBF//' {path}"),
    ("scalars.json", b"[1, 2]", [], ", row 0: each record must be a JSON object, got int"),
    # a message list ending on the user's turn: its question was stored as the chosen answer
    ("user-last.jsonl",
     jsonl({"prompt": "q", "chosen": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "more?"}],
            "rejected": "b"}), [],
     ", row 0, field 'chosen': the message list ends on a user message, not the answer"),
    # one answer message of another role than the assistant's was stored as the answer, as such a list's last was
    ("user-answer.jsonl", jsonl({"prompt": "q", "chosen": {"role": "user", "content": "more?"}, "rejected": "b"}), [],
     ", row 0, field 'chosen': the answer is a user message, not the assistant's"),
    ("human-answer.jsonl",
     jsonl({"conversations": [{"from": "human", "value": "q"}], "chosen": {"from": "gpt", "value": "a"},
            "rejected": {"from": "human", "value": "b"}}), [],
     ", row 0, field 'rejected': the answer is a human message, not the assistant's"),
    ("tool-answer.jsonl", jsonl({"prompt": "q", "completion": [{"role": "tool", "content": "{}"}], "label": True}), [],
     ", row 0, field 'completion': unknown message role 'tool' for the answer (assistant, gpt or model)"),
    # an alpaca instruction or input that is no text was made text by str(): 5 was "5", {"a": 1} "{'a': 1}"
    ("alpaca-int.jsonl", jsonl({"instruction": "Add", "input": 5, "output": "x"}), [],
     ", row 0, field 'input': expected text, got int"),
    ("alpaca-object.jsonl", jsonl({"instruction": {"a": 1}, "output": "x"}), [],
     ", row 0, field 'instruction': expected text, got an object"),
    ("empty-chosen.jsonl", jsonl({"prompt": "q", "chosen": "", "rejected": "no"}), [],
     ", row 0, field 'chosen': the answer is empty"),
    ("empty-cell.csv", b"prompt,chosen,rejected\nq,a,b\nq2,a,\n", [], ", row 1, field 'rejected': the answer is empty"),
    ("empty-kto.jsonl", jsonl({"prompt": "q", "completion": " ", "label": True}), [],
     ", row 0, field 'completion': the answer is empty"),
    ("system-only.jsonl", jsonl({"messages": [{"role": "system", "content": "Be nice."}]}), [],
     ", row 0, field 'messages': no user message: the record has nothing to answer"),
    ("image.jsonl",
     jsonl({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}), [],
     ", row 0, field 'messages': content part of type 'image_url' is not text (--non-text drop leaves it out)"),
    ("one-candidate.jsonl", jsonl({"prompt": "q", "completions": ["only"]}), [],
     ", row 0, field 'completions': needs at least 2 completions to compare, got 1"),
    ("role.jsonl", jsonl({"conversations": [{"from": "tool", "value": "x"}]}), [],
     ", row 0, field 'conversations': unknown message role 'tool' (message 0)"),
    # no role key, or a null one, was "unknown message role None"
    ("no-role.jsonl", jsonl({"messages": [{"role": "user", "content": "q"}, {"content": "a"}]}), [],
     ", row 0, field 'messages': message 1 has no role (a 'role' or 'from' key: system, user or assistant)"),
    ("null-role.jsonl", jsonl({"conversations": [{"from": None, "value": "q"}]}), [],
     ", row 0, field 'conversations': message 0 has no role (a 'role' or 'from' key: system, user or assistant)"),
    # a role that is no text was a TypeError traceback (unhashable); a long value from the file is cut to one line
    ("role-object.jsonl", jsonl({"messages": [{"role": {"name": "user"}, "content": "x"}]}), [],
     ', row 0, field \'messages\': unknown message role {"name": "user"} (message 0)'),
    # a value is shown as the file spells it: "None is not an answer number" named no word of the file
    ("ranking-null.jsonl", jsonl({"prompt": "q", "completions": ["a", "b", "c"], "ranking": [1, None, 2]}), [],
     ", row 0, field 'ranking': null is not an answer number, or a list of tied ones"),
    ("ranking-bool.jsonl", jsonl({"prompt": "q", "completions": ["a", "b", "c"], "ranking": [[True], 2, 3]}), [],
     ", row 0, field 'ranking': [true] is not an answer number, or a list of tied ones"),
    ("role-long.jsonl", jsonl({"messages": [{"role": "r" * 5000, "content": "x"}]}), [],
     f", row 0, field 'messages': unknown message role '{'r' * 39}…' (message 0)"),
    ("part-long.jsonl", jsonl({"messages": [{"role": "user", "content": [{"type": "t" * 5000}]}]}), [],
     f", row 0, field 'messages': content part of type '{'t' * 39}…' is not text (--non-text drop leaves it out)"),
    ("label-long.jsonl", jsonl({"prompt": "q", "completion": "a", "label": "l" * 5000}), [],
     f", row 0, field 'label': label '{'l' * 39}…' is not true/false or desirable/undesirable"),
    ("ranking-number.jsonl", jsonl({"prompt": "q", "completions": ["a", "b", "c"], "ranking": int("9" * 4000)}), [],
     f", row 0, field 'ranking': expected text ('2 > 1 = 3') or a list of answer numbers, got {'9' * 39}…"),
    ("v1-mismatch.jsonl",
     jsonl({"chosen_messages": [v1("user", "a"), v1("assistant", "b")],
            "rejected_messages": [v1("user", "other"), v1("assistant", "c")]}), [],
     ", row 0, field 'rejected_messages': chosen and rejected conversations differ before their last answer"),
    ("v1.jsonl", jsonl({"chosen_messages": [v1("user", "a"), v1("assistant", "b")],
                        "rejected_messages": [v1("user", "a"), v1("assistant", "c")]}), ["--format", "prompt"],
     ", row 0: record does not fit format prompt (keys: chosen_messages, rejected_messages): it needs 'prompt'; "
     "it looks like pair"),
    ("prefs.jsonl", jsonl(GOOD), ["--format", "chat"],
     ", row 0: record does not fit format chat (keys: chosen, prompt, rejected): it needs 'conversations' or "
     "'messages'; it looks like prompt"),
    ("unknown.json", b'[{"question": "a"}]', [],
     ", row 0: unknown record format (keys: question); expected alpaca, chat, pair, openai or prompt"),
    # a new-user audit: the CSV's second `prompt` column was read as `prompt.1` (a column not read) ...
    ("twice.csv", b"prompt,chosen,prompt,rejected\nq,a,other,b\n", [],
     ": column 'prompt' appears twice (which to keep is a guess)"),
    # TRL's conversational rows saved with pandas' to_csv: each message list was imported as its text, the prompt
    # "[{'role': 'user', 'content': 'q'}]", exit 0
    ("messages-repr.csv",
     b"prompt,chosen,rejected\nq,a,b\n\"[{'role': 'user', 'content': 'q2'}]\",a,b\n", [],
     ", row 1, field 'prompt': the cell holds a list of messages written out as text (as pandas' to_csv writes one), "
     "which would be imported as that text: a CSV holds only text; give the file as JSON Lines or Parquet (pandas: "
     "df.to_json(path, orient='records', lines=True) or df.to_parquet(path))"),
    ("message-json.csv", b'prompt,chosen,rejected\nq,"{""role"": ""assistant"", ""content"": ""a""}",b\n', [],
     ", row 0, field 'chosen': the cell holds a message written out as text (as pandas' to_csv writes one), which "
     "would be imported as that text: a CSV holds only text; give the file as JSON Lines or Parquet (pandas: "
     "df.to_json(path, orient='records', lines=True) or df.to_parquet(path))"),
    # a spreadsheet's CSV where a comma is the decimal mark: "unknown record format (keys: prompt;chosen;rejected)"
    ("semicolons.csv", b"prompt;chosen;rejected\nq;a;b\n", [],
     ": the header is one column, 'prompt;chosen;rejected': its names look separated by semicolons, and a CSV file "
     "is read with commas between cells: save it comma-separated (or as JSON Lines or Parquet)"),
    # its names quoted (a spreadsheet's "quote all text cells"): "a quoted cell has text after its closing quote"
    ("quoted-tabs.csv", b'"prompt"\t"chosen"\t"rejected"\n"q"\t"a"\t"b"\n', [],
     ": the header's quoted names, 'prompt', 'chosen', 'rejected': its names look separated by tabs, and a CSV file "
     "is read with commas between cells: save it comma-separated (or as JSON Lines or Parquet)"),
    ("empty.csv", b"", [], ": no records"),  # was "cannot be read: No columns to parse from file"
    # a bad-input pass: pandas took a first row's extra cells for an index, and imported prompt 'b', chosen 'c',
    # rejected 'd' from "x,a,b,c,d" (a trailing comma on every row shifted each one so); a later row was a C error
    ("cells.csv", b"prompt,chosen,rejected\nx,a,b,c,d\n", [],
     ", row 0: 5 cells, but the header names 3 columns: which cell belongs to which column is a guess (quote a cell "
     "that holds a comma)"),
    ("quote.csv", b'prompt,chosen,rejected\nq,a,b\n"open,a,b\n', [],
     ", row 1: cannot be read at line 3: the file ends inside a quoted cell (a quote is never closed)"),
    ("after-quote.csv", b'prompt,chosen,rejected\nq,a,b\n"say" hi,a,b\n', [],
     ', row 1: cannot be read at line 3: a quoted cell has text after its closing quote (quote the whole cell and '
     'double the quotes inside it: """say"" hi")'),  # the csv module's "',' expected after '\"'"
    # ... 'got NoneType', 'keys: )' and 'expected a list of messages' for a prompt that may be text too
    ("null.jsonl", jsonl(GOOD) + b"null\n", [], ", row 1: each record must be a JSON object, got null"),
    ("no-keys.jsonl", b"{}\n", [],
     ", row 0: unknown record format (keys: none); expected alpaca, chat, pair, openai or prompt"),
    # a bad-input pass: a null prompt was listed among the keys, "keys: chosen, prompt, rejected", as if the row
    # were a prompt-format one refused for no reason shown
    ("null-prompt.jsonl", jsonl({"prompt": None, "chosen": "a", "rejected": "b"}), [],
     ", row 0: unknown record format (keys: chosen, rejected; null: prompt); expected alpaca, chat, pair, openai or "
     "prompt"),
    ("number-prompt.jsonl", jsonl({"prompt": 5, "chosen": "a", "rejected": "b"}), [],
     ", row 0, field 'prompt': expected text or a list of messages, got int"),
    # a bad-input pass: a list of texts was read as a message list, its last text the answer: "y", "x" lost
    ("texts.jsonl", jsonl({"prompt": "q", "chosen": ["x", "y"], "rejected": "b"}), [],
     ", row 0, field 'chosen': a list of 2 items that are not all messages: which is the answer is a guess (give "
     "its text, or a message list ending on it)"),
    # ... and so was a list of objects without a role (no messages either): "x" lost, "y" the answer
    ("objects.jsonl", jsonl({"prompt": "q", "chosen": [{"content": "x"}, {"content": "y"}], "rejected": "b"}), [],
     ", row 0, field 'chosen': a list of 2 items that are not all messages: which is the answer is a guess (give "
     "its text, or a message list ending on it)"),
    # ... and a preference or KTO label beside a `completions` list was a column not read: the label was lost
    ("label-beside.jsonl", jsonl({"prompt": "q", "completions": ["a", "b", "c"], "ranking": "1>2>3", "chosen": "a",
                                  "rejected": "b"}), [],
     ", row 0, field 'chosen': 'chosen' beside a 'completions' list: a row gives answers to compare (a ranking says "
     "which is better) or a preference or KTO label, not both"),
    ("kto-beside.jsonl", jsonl({"prompt": "q", "completions": ["a", "b"], "label": True}), [],
     ", row 0, field 'label': 'label' beside a 'completions' list: a row gives answers to compare (a ranking says "
     "which is better) or a preference or KTO label, not both"),
    ("nested-texts.jsonl", jsonl({"prompt": "q", "completions": [["a", "b"], "c", "d"], "ranking": "1>2>3"}), [],
     ", row 0, field 'completions[0]': a list of 2 items that are not all messages: which is the answer is a guess "
     "(give its text, or a message list ending on it)"),
    # a README walk: an answer or prompt of invisible characters only (a zero-width space, a BOM, a word joiner)
    # passed `str.strip` and was stored as text a labeller sees as empty
    ("zero-width.jsonl", jsonl(GOOD, {"prompt": "q2", "chosen": "\u200b", "rejected": "no"}), [],
     ", row 1, field 'chosen': the answer is empty"),
    ("zero-width-prompt.jsonl", jsonl({"prompt": " \ufeff\u2060", "chosen": "a", "rejected": "b"}), [],
     ", row 0, field 'prompt': the prompt's last message has no text"),
    ("zero-width-turn.jsonl",
     jsonl({"messages": [{"role": "user", "content": "\u200b"}, {"role": "assistant", "content": "a"},
                         {"role": "user", "content": "q"}], "chosen": "x", "rejected": "y"}), [],
     ", row 0, field 'messages': message 0 (user) has no text"),
    # a README walk: a candidate's model that is no text was named as the answer ('completions[0]': expected text),
    # and one holding a newline was stored as a model name, breaking every line that names it
    ("model-int.jsonl", jsonl({"prompt": "q", "completions": [{"text": "a", "model": 5}, "b"]}), [],
     ", row 0, field 'completions[0].model': expected text, got int"),
    ("model-newline.jsonl", jsonl({"prompt": "q", "completions": ["a", {"text": "b", "model": "x\ny"}]}), [],
     ", row 0, field 'completions[1].model': model name 'x\\ny' holds a control character ('\\n')"),
]  # fmt: skip


def test_a_blank_model_name_is_the_source_s(ws, tmp_path):
    """A candidate's blank `model` ("  ") is none, as "" is: its answer takes the source's name (it was stored as
    a model named "  ")."""
    import pyarrow.parquet as pq

    path = tmp_path / "blank-model.jsonl"
    path.write_bytes(
        jsonl({"prompt": "q9", "completions": [{"text": "a", "model": "  "}, {"text": "b", "model": ""}]})
    )
    assert main(["import", "-w", str(ws), str(path)]) == 0
    models = {row["text"]: row["model"] for row in pq.read_table(ws / "completions").to_pylist()}
    assert (models["a"], models["b"]) == ("blank-model", "blank-model")


@pytest.mark.parametrize(("name", "content", "extra", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_the_workspace_byte_identical(
    ws, tmp_path, capsys, name, content, extra, message
):
    path = tmp_path / name
    path.write_bytes(content)
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path), *extra]) == 2
    said = message.replace("{path}", str(path))  # a message naming the file again
    assert error_lines(capsys) == [f"error: {path}{said}"]
    assert digest(ws) == before


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (GOOD, 0),
        ({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}, 0),
        ({"data": [GOOD], "meta": 1}, 2),
        ({"data": [GOOD]}, 2),
        ({"prompt": "q", "chosen": "yes", "rejected": ""}, 2),
    ],
    ids=["record", "sharegpt", "no-record", "nested", "bad-row"],
)
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_one_object_is_one_record_on_any_lines(tmp_path, capsys, record, code, suffix):
    """A .json file of one object on one line imported (JSON Lines of one record), and the same object
    pretty-printed was refused ('holds a single JSON object'): the same content has one outcome now, the file's
    one record imported or refused in the same one line, naming the file."""
    said = []
    for name, text in (("line", json.dumps(record)), ("pretty", json.dumps(record, indent=2))):
        path = tmp_path / f"{name}{suffix}"
        path.write_text(text + "\n")
        status = main(["import", "-w", str(tmp_path / name), str(path)])
        out, err = capsys.readouterr()
        said.append((status, out.replace(str(path), "FILE"), err.replace(str(path), "FILE")))
    assert said[0] == said[1] and said[0][0] == code


@pytest.mark.parametrize("indent", [None, 2], ids=["line", "pretty"])
def test_a_json_array_of_records_in_a_jsonl_file_is_read_as_in_a_json_file(tmp_path, capsys, indent):
    """A JSON array saved as .jsonl was refused, on one line as JSON Lines ('row 0: each record must be a JSON object,
    got array'), pretty-printed wrongly ('holds a single JSON list, not records'): JSON Lines start with an object,
    so a file starting with [ is a JSON array, whatever its suffix."""
    records = [GOOD, {"prompt": "another", "chosen": "yes", "rejected": "no"}]
    said = []
    for suffix in (".json", ".jsonl"):
        path = tmp_path / f"prefs{suffix}"
        path.write_text(json.dumps(records, indent=indent) + "\n")
        assert main(["import", "-w", str(tmp_path / suffix), str(path)]) == 0
        said.append(capsys.readouterr().out.replace(str(path), "FILE"))
    assert said[0] == said[1] and "new_labels 2, new_pairs 2, new_prompts 2, records 2" in said[1]


def test_a_jsonl_row_that_is_an_array_is_a_bad_row_even_the_first(ws, tmp_path, capsys):
    """A .jsonl whose first line is an array (a bad row) was read as one JSON array since .jsonl files starting with
    [ are: `invalid JSON: extra data after the closing ']' at line 2`, the whole file refused even with --on-error
    skip, where the bad row alone was left out."""
    path = tmp_path / "rows.jsonl"
    path.write_bytes(jsonl(["q", "a", "b"], {"prompt": "q2", "chosen": "a", "rejected": "b"}))
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [f"error: {path}, row 0: each record must be a JSON object, got array"]
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    assert (
        "new_pairs 1, new_prompts 1, records 2; skipped 1 record (not_an_object 1)" in capsys.readouterr().out
    )


def test_an_array_nested_in_a_json_array_is_named_so_not_told_to_write_json_lines(ws, tmp_path, capsys):
    """A .json array holding an array of records was told "(JSON Lines hold one record a line: write them so)", which
    is no advice for a JSON array: the row is an array inside the file's array, its records to be items of it."""
    pair = {"prompt": "q", "chosen": "a", "rejected": "b"}
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([pair, [pair | {"prompt": "q2"}]]))
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [
        f"error: {path}, row 1: each record must be a JSON object, got an array of 1 object (an array inside the "
        "file's array: its records belong in the file's array, each an item)"
    ]
    assert digest(ws) == before


def test_a_json_array_followed_by_json_lines_says_so_naming_both_lines(ws, tmp_path, capsys):
    """Two files joined (`cat a.json b.jsonl`): a pretty-printed array then JSON Lines was refused as "extra data
    after the closing ']'", which said neither what the file holds nor what to do; the array on one line made one
    row of its records, "got array", and --on-error skip counted them one record."""
    records = [GOOD, {"prompt": "another", "chosen": "yes", "rejected": "no"}]
    later = {"prompt": "later", "chosen": "a", "rejected": "b"}
    path = tmp_path / "joined.jsonl"
    path.write_bytes(json.dumps(records, indent=2).encode() + b"\n" + jsonl(later, later))
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 2
    assert error_lines(capsys) == [
        f"error: {path}: invalid JSON: more records at line 13, column 1 after the JSON array that ends at line 12: "
        "a file holds one JSON array or JSON Lines (a record a line), not both; write the array's records a line "
        "each (jq -c '.[]') above the lines, or the lines into the array"
    ]
    assert digest(ws) == before
    path.write_bytes(json.dumps(records).encode() + b"\n" + jsonl(later))
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [
        f"error: {path}, row 0: each record must be a JSON object, got an array of 2 objects (JSON Lines hold one "
        "record a line: write them so)"
    ]
    assert digest(ws) == before


def test_json_lines_of_conversations_are_told_a_conversation_is_one_record(ws, tmp_path, capsys):
    """A line holding a conversation's messages as a bare list was told "an array of 2 objects (JSON Lines hold one
    record a line: write them so)", as if each message were a record (in a .json, "write the array's records a line
    each (jq -c '.[]')"): the lines are one record each already, each to be an object of its messages."""
    conversation = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    hint = 'a conversation is one record, an object: {"messages": [...]}'
    before = digest(ws)
    for suffix, said in [
        (".jsonl", f", row 0: each record must be a JSON object, got an array of 2 messages ({hint})"),
        (
            ".json",
            f": invalid JSON: extra data after the closing ']' at line 2, column 1 (the array holds messages: {hint})",
        ),
    ]:
        path = tmp_path / f"conversations{suffix}"
        path.write_bytes(jsonl(conversation, conversation))
        assert main(["import", "-w", str(ws), str(path)]) == 2
        assert error_lines(capsys) == [f"error: {path}{said}"]
    assert digest(ws) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--test-fraction", "5"], "error: --test-fraction 5: must be in [0, 1)"),  # typed 5, not 5.0
        (["--test-fraction", "-0.1"], "error: --test-fraction -0.1: must be in [0, 1)"),
        (["-w", "{file}"], "error: {file}: is a file, not a workspace directory"),
        # a bound past 2**63 was an OverflowError traceback (the reads' and the csv module's C integers)
        (
            ["--max-record-bytes", str(2**64)],
            f"error: --max-record-bytes: {2**64} is out of range (at most {2**63 - 1})",
        ),
        (["--max-record-bytes", "0"], f"error: --max-record-bytes 0: must be in 1..{2**40}"),
        # --test-fraction draws each prompt's split: --split beside it went unread, without a word
        (
            ["--split", "test", "--test-fraction", "0.1"],
            "error: --split test does not go with --test-fraction 0.1 (the fraction puts each prompt in train or "
            "test); leave one out",
        ),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(ws, tmp_path, capsys, args, message):
    good = tmp_path / "good.jsonl"
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    args = [a.format(file=a_file) for a in args]
    before = digest(tmp_path)
    assert main(["import", "-w", str(ws), *args, str(good)]) == 2
    assert error_lines(capsys) == [message.format(file=a_file)]
    assert digest(tmp_path) == before


def test_a_csv_row_with_more_cells_than_columns_is_skipped_by_its_row(ws, tmp_path, capsys):
    path = tmp_path / "cells.csv"
    path.write_bytes(b"prompt,chosen,rejected\nq2,yes,no\nq3,a,b,c\n")
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    assert "new_pairs 1" in capsys.readouterr().out
    rejects = next((ws / "imports").glob("*-cells.rejects.jsonl"))
    assert [(r["row"], r["reason"]) for r in map(json.loads, rejects.read_text().splitlines())] == [
        (1, "extra_cells")
    ]


def test_a_csv_row_missing_a_cell_says_so_naming_line_and_cell(ws, tmp_path, capsys):
    """A row that ends before the header's last named column is a bad row naming the line and the cell: it read as
    null, and the refusal said "the field is null" of a cell the user left out (a missing `label` made a KTO row a
    gold answer, with no refusal at all). A column whose header cell is empty may go without its cell."""
    kto = tmp_path / "kto.csv"
    kto.write_bytes(b"prompt,completion,label\nq,a,true\nq2,a2\n")
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(kto)]) == 2
    assert error_lines(capsys) == [
        f"error: {kto}, row 1, field 'label': line 3: the 'label' cell is missing: 2 cells, but the header names 3 "
        "columns (an empty cell still takes its comma)"
    ]
    assert digest(ws) == before
    path = tmp_path / "cells.csv"
    path.write_bytes(b'prompt,chosen,rejected,\nq2,yes,no\nq3,"a\nb"\n\nq4\n')
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [
        f"error: {path}, row 1, field 'rejected': line 4: the 'rejected' cell is missing: 2 cells, but the header "
        "names 4 columns (an empty cell still takes its comma)"
    ]
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    assert "new_pairs 1" in capsys.readouterr().out
    rejects = next((ws / "imports").glob("*-cells.rejects.jsonl"))
    assert [(r["row"], r["reason"]) for r in map(json.loads, rejects.read_text().splitlines())] == [
        (1, "missing_cells"),
        (2, "missing_cells"),
    ]
    assert (
        "the 'chosen' cell is missing (and 1 more): 1 cell, but" in rejects.read_text()
    )  # q4: not "1 cells"


def test_a_spreadsheets_empty_trailing_cells_are_no_extra_cells(ws, tmp_path, capsys):
    """A spreadsheet saves a row with empty cells past the header's columns (`q,a,b,,`): nothing there is a guess,
    so the row imports; the csv reader that replaced pandas refused each such row as one of extra cells."""
    path = tmp_path / "sheet.csv"
    path.write_bytes(b"prompt,chosen,rejected\r\nq2,yes,no,,\r\nq3,a,b, \r\n")
    assert main(["import", "-w", str(ws), str(path)]) == 0
    assert "new_pairs 2, new_prompts 2, records 2" in capsys.readouterr().out
    # its header's own empty trailing cells are columns named by place (pandas' "Unnamed: 3"), not a name twice
    path.write_bytes(b"prompt,chosen,rejected,,\r\nq4,yes,no,,\r\nq5,a,b,,\r\n")
    assert main(["import", "-w", str(ws), str(path)]) == 0
    assert "new_pairs 2, new_prompts 2, records 2" in capsys.readouterr().out


def test_an_answer_written_as_json_with_a_role_or_from_key_is_text_not_messages(ws, tmp_path, capsys):
    """A structured-output answer, a JSON object with a `from` key (a route) or a `role` key (a user object), was
    refused as `a message written out as text`: a message holds its text too (`content`, or ShareGPT's `value`)."""
    path = tmp_path / "json-answers.csv"
    route, user = '{"from": "Boston", "to": "Chicago"}', '[{"name": "Ann", "role": "admin"}]'
    rows = [["Route as JSON?", route, "Boston to Chicago"], ["Users as JSON?", user, "Ann"]]
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([["prompt", "chosen", "rejected"], *rows])
    assert main(["import", "-w", str(ws), str(path)]) == 0
    assert "new_pairs 2, new_prompts 2, records 2" in capsys.readouterr().out
    texts = set(Workspace(ws).read("completions").column("text").to_pylist())
    assert {route, user} <= texts


def test_a_csv_line_of_spaces_is_no_row_as_a_blank_line_is_not(ws, tmp_path, capsys):
    """The csv reader that replaced pandas read a line holding only spaces (a trailing one left by an editor) as a
    row whose prompt is spaces and whose answers are null: the import failed on it, where pandas, and the JSON Lines
    reader, pass such a line over; one before the header made every row one of extra cells."""
    path = tmp_path / "spaces.csv"
    path.write_bytes(b" \nprompt,chosen,rejected\nq2,yes,no\n  \t\n\nq3,a,b\n   \n")
    assert main(["import", "-w", str(ws), str(path)]) == 0
    assert "new_pairs 2, new_prompts 2, records 2" in capsys.readouterr().out


def sharegpt_slice():
    """A ShareGPT-dump-shaped file: 12 clean conversations and the 8 kinds of dirt met in the public dump."""

    def turn(who, text):
        return {"from": who, "value": text}

    clean = [
        {"id": f"c{i}", "conversations": [turn("human", f"question {i}"), turn("gpt", f"answer {i}")]}
        for i in range(12)
    ]
    dirty = {
        2: {"id": "d0", "conversations": []},
        5: {"id": "d1", "conversations": []},
        7: {"id": "d2", "conversations": []},
        9: {"id": "d3", "conversations": [turn("gpt", "an answer to nothing")]},
        11: {"id": "d4", "conversations": [turn("gpt", "one"), turn("gpt", "two")]},
        13: {"id": "d5", "conversations": [turn("system", "sys"), turn("gpt", "hello")]},
        15: {"id": "d6", "conversations": [turn("human", "question?"), turn("gpt", "")]},
        17: {"id": "d7", "conversations": [turn("human", "x"), turn("observation", "y")]},
    }
    rows, clean_rows = [], iter(clean)
    for row in range(20):
        rows.append(dirty[row] if row in dirty else next(clean_rows))
    return rows


def test_dirty_sharegpt_slice_fails_whole_or_skips_with_counts_and_rejects(ws, tmp_path, capsys):
    path = tmp_path / "sharegpt.json"
    path.write_text(json.dumps(sharegpt_slice()))
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [f"error: {path}, row 2, field 'conversations': empty conversation"]
    assert digest(ws) == before
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    rejects = next((ws / "imports").glob("*-sharegpt.rejects.jsonl"))
    assert (
        "skipped 8 records (bad_role 1, empty_answer 1, empty_conversation 3, no_user_message 3), "
        f"listed in {rejects}" in out
    )
    assert "new_prompts 12" in out and "new_completions" not in out
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["field"], r["reason"]) for r in listed] == [
        (2, "conversations", "empty_conversation"),
        (5, "conversations", "empty_conversation"),
        (7, "conversations", "empty_conversation"),
        (9, "conversations", "no_user_message"),
        (11, "conversations", "no_user_message"),
        (13, "conversations", "no_user_message"),
        (15, "conversations", "empty_answer"),
        (17, "conversations", "bad_role"),
    ]
    log = [json.loads(line) for line in (ws / "imports" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["rejects"] == rejects.name and log[-1]["counts"]["skipped"] == 8


def test_truncated_array_imports_its_complete_records_only_with_skip(ws, tmp_path, capsys):
    records = [{"prompt": f"p{i}", "chosen": "yes", "rejected": "no"} for i in range(5)]
    text = json.dumps(records, indent=1)
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"p3"') + 2])  # cut inside row 3's prompt
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert "row 3: the file ends inside this record" in error_lines(capsys)[0]
    assert digest(ws) == before
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "new_pairs 3" in out and "records 4" in out and "skipped 1 record (truncated 1)" in out
    assert "the file was cut off: only its complete records were imported" in out
    rejects = next((ws / "imports").glob("*-cut.rejects.jsonl"))
    assert [json.loads(line)["row"] for line in rejects.read_text().splitlines()] == [3]


def test_a_file_of_nothing_but_bad_records_is_refused_even_with_skip(ws, tmp_path, capsys):
    path = tmp_path / "all-bad.jsonl"
    path.write_bytes(jsonl({"prompt": "q", "chosen": "", "rejected": "x"}) * 2)
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 2
    assert error_lines(capsys) == [
        f"error: {path}: no importable records: all 2 skipped (empty_answer 2); the first, row 0, field 'chosen': "
        "the answer is empty"
    ]
    assert digest(ws) == before


def test_a_file_of_no_readable_record_with_skip_counts_its_rows_by_reason(ws, tmp_path, capsys):
    """A pretty-printed JSON Lines file with --on-error skip: every line is unreadable, so no row tells the format.
    It said row 0's error alone, as without skip; it counts every row left out by reason, as any file of nothing
    but bad rows does, and writes nothing."""
    path = tmp_path / "pretty.jsonl"
    record = {"prompt": "q", "chosen": "a", "rejected": "b"}
    path.write_text(json.dumps(record, indent=2) + "\n" + json.dumps(record, indent=2) + "\n")
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 2
    (line,) = error_lines(capsys)
    assert line.startswith(
        f"error: {path}: no importable records: all 10 skipped (invalid_json 10); the first, row 0: invalid JSON: "
    )
    assert digest(ws) == before


def test_record_errors_carry_a_reason():
    err = RecordError("f.json", "the answer is empty", row=3, field="chosen", reason="empty_answer")
    assert str(err) == "f.json, row 3, field 'chosen': the answer is empty" and err.reason == "empty_answer"


def test_records_nested_under_one_key_and_a_folder_of_files_say_what_to_pass(tmp_path, capsys):
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"data": [{"prompt": "Hi?", "chosen": "a", "rejected": "b"}] * 2}))
    assert main(["import", "-w", str(tmp_path / "ws"), str(nested)]) == 2
    assert capsys.readouterr().err == (
        f'error: {nested}: the records are nested under one key "data" (2 records): import the list itself, '
        f"e.g. jq '.[\"data\"]' {nested} > records.json\n"
    )
    folder = tmp_path / "loose"
    folder.mkdir()
    for name in ("b.jsonl", "a.json", "notes.txt"):
        (folder / name).write_text("{}\n")
    assert main(["import", "-w", str(tmp_path / "ws"), str(folder)]) == 2
    assert capsys.readouterr().err == (
        f"error: {folder}: a folder of 2 data files, not a dataset saved with save_to_disk: pass the files "
        f"themselves ({folder / 'a.json'} {folder / 'b.jsonl'})\n"
    )
    assert not (tmp_path / "ws").exists()


def test_a_parquet_column_named_twice_is_one_line(ws, tmp_path, capsys):
    """Arrow's 'Multiple matches for FieldRef.Name(chosen) in prompt: string\\nchosen: ...' schema dump."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "twice.parquet"
    names = ["prompt", "chosen", "rejected", "chosen"]
    pq.write_table(pa.Table.from_arrays([pa.array([v]) for v in ("q", "a", "b", "c")], names=names), path)
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path)]) == 2
    assert error_lines(capsys) == [f"error: {path}: column 'chosen' appears twice (which to keep is a guess)"]
    assert digest(ws) == before


def test_a_file_of_a_format_not_read_says_which_are(ws, tmp_path, capsys):
    """A .tsv was read as JSON Lines and refused as `row 0: invalid JSON`; a .txt holding JSON Lines still imports."""
    tsv = tmp_path / "prefs.tsv"
    tsv.write_text("prompt\tchosen\trejected\nhi\tyes\tno\n")
    assert main(["import", "-w", str(ws), str(tsv)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tsv}: not a format this reads: a .tsv file is read as JSON or JSON Lines")
    assert err.endswith("import JSON, JSON Lines, CSV (.csv) or Parquet (.parquet)\n")
    text = tmp_path / "prefs.txt"
    text.write_text(json.dumps({"prompt": "hi", "chosen": "yes", "rejected": "no"}) + "\n")
    assert main(["import", "-w", str(ws), str(text)]) == 0


def test_pairs_per_prompt_no_row_can_use_is_said(ws, tmp_path, capsys):
    """`--pairs-per-prompt 0` on chosen/rejected rows (two answers: one pair either way) changed nothing, silently."""
    two = tmp_path / "two.jsonl"
    two.write_text(json.dumps({"prompt": "hi", "chosen": "yes", "rejected": "no"}) + "\n")
    assert main(["import", "-w", str(ws), str(two), "--unlabelled", "--pairs-per-prompt", "0"]) == 0
    said = "; --pairs-per-prompt 0 not used: no row gives more than two answers to pair"
    assert said in capsys.readouterr().out
    three = tmp_path / "three.jsonl"
    three.write_text(json.dumps({"prompt": "hi", "completions": ["a", "b", "c"]}) + "\n")
    assert main(["import", "-w", str(ws), str(three), "--pairs-per-prompt", "0"]) == 0
    assert "not used" not in capsys.readouterr().out


def test_the_summary_names_a_file_with_a_newline_in_its_name_on_one_line(ws, tmp_path, capsys):
    """Errors escaped a control character in a file's name; the summary line printed it, and broke in two."""
    odd = tmp_path / "x\ny.jsonl"
    odd.write_text(json.dumps({"prompt": "hi", "chosen": "yes", "rejected": "no"}) + "\n")
    assert main(["import", "-w", str(ws), "--source", "xy", str(odd)]) == 0  # the name is no source
    out = capsys.readouterr().out
    assert out.startswith(f"imported {tmp_path}/x\\ny.jsonl (prompt): ") and out.count("\n") == 1


def test_a_file_whose_name_holds_a_newline_is_refused_as_the_source_of_its_answers(
    ws, tmp_path, capsys, monkeypatch
):
    """Without --source a file's name is its answers' source: a newline in it was stored as a model name (which a
    `--source` or a row's `model` may not hold), breaking the lines that name it. Refused before anything is read
    or written, the other files of the call too; `--remove` of a file an import before this stored still reads
    it, and its line is one line."""
    odd = tmp_path / "x\ny.jsonl"
    odd.write_text(json.dumps({"prompt": "hi", "chosen": "yes", "rejected": "no"}) + "\n")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"prompt": "hey", "chosen": "yes", "rejected": "no"}) + "\n")
    before = digest(ws)
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(other), str(odd)]) == 2
    assert error_lines(capsys) == [
        f"error: {tmp_path}/x\\ny.jsonl: the file's name holds a control character ('\\n'), and it would be the "
        "source (model name) of its answers, breaking every line that names them; rename the file or give "
        "--source NAME"
    ]
    assert digest(ws) == before
    with pytest.raises(PrefloopError, match="control character"):
        import_file(Workspace(ws), odd)
    assert digest(ws) == before

    monkeypatch.setattr("data.__main__.check_source_name", lambda *_: None)  # an import before the check
    assert main(["import", "-w", str(ws), str(odd)]) == 0
    monkeypatch.undo()
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(odd.read_bytes())
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(copy)]) == 0
    (warning,) = capsys.readouterr().err.splitlines()  # it names the earlier import's source, "x\ny"
    assert warning.startswith(
        f"warning: {copy}: the same content as {tmp_path}/x\\ny.jsonl, imported before as source x\\ny: "
    )
    assert main(["import", "-w", str(ws), "--remove", str(odd)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {tmp_path}/x\\ny.jsonl: 1 (preferences 1)\n"


@pytest.mark.parametrize(
    ("source", "extra", "message"),
    [
        ("", [], "--source: '' names nothing; give a value or leave the option out"),
        ("  ", [], "--source: '  ' names nothing; give a value or leave the option out"),
        ("a\nb", [], "--source 'a\\nb': holds a control character ('\\n')"),
        ("", ["--remove"], "--source: '' names nothing; give a value or leave the option out"),
    ],
    ids=["empty", "blank", "newline", "empty-remove"],
)
def test_a_source_without_a_name_or_with_a_newline_is_refused(ws, tmp_path, capsys, source, extra, message):
    """A README walk: `--source ''` was taken as no --source (the file's name) without a word, and `--source
    $'a\\nb'` stored a model name holding a newline (its copy warning came out as two lines)."""
    path = tmp_path / "good.jsonl"
    before = digest(ws)
    assert main(["import", "-w", str(ws), "--source", source, *extra, str(path)]) == 2
    assert error_lines(capsys) == [f"error: {message}"]
    assert digest(ws) == before


@pytest.mark.parametrize(
    ("name", "mark", "codec", "text"),
    [
        ("prefs.jsonl", b"\xff\xfe", "utf-16-le", jsonl(GOOD).decode()),  # as PowerShell's `>` writes
        ("prefs.csv", b"\xfe\xff", "utf-16-be", "prompt,chosen,rejected\nq,yes,no\n"),
        ("prefs.json", b"\xff\xfe\x00\x00", "utf-32-le", json.dumps([GOOD])),
    ],
)
def test_a_file_in_utf16_or_utf32_is_named_so(ws, tmp_path, capsys, name, mark, codec, text):
    """It was "row 0: invalid JSON: expecting value at line 1, column 1", or for a CSV an unknown record format
    of NUL-spaced column names: nothing said the file was in another encoding."""
    path = tmp_path / name
    path.write_bytes(mark + text.encode(codec))
    before = digest(ws)
    assert main(["import", "-w", str(ws), str(path)]) == 2
    wide = codec[:6].upper()
    assert error_lines(capsys) == [
        f"error: {path}: the file is {wide} (it starts with a {wide} byte order mark), not UTF-8: save it as UTF-8"
    ]
    assert digest(ws) == before


def test_the_commands_an_error_suggests_quote_a_name_with_spaces(tmp_path, capsys):
    """A folder of loose files, or records nested under one key, named its files for the command line unquoted: a
    name with spaces pasted back was two names."""
    folder = tmp_path / "my data"
    folder.mkdir()
    (folder / "prefs v2.jsonl").write_text("{}\n")
    assert main(["import", "-w", str(tmp_path / "ws"), str(folder)]) == 2
    assert capsys.readouterr().err.endswith(f"pass the files themselves ('{folder / 'prefs v2.jsonl'}')\n")
    nested = folder / "nested file.json"
    nested.write_text(json.dumps({"data": [{"prompt": "Hi?", "chosen": "a", "rejected": "b"}] * 2}))
    assert main(["import", "-w", str(tmp_path / "ws"), str(nested)]) == 2
    assert capsys.readouterr().err.endswith(f"e.g. jq '.[\"data\"]' '{nested}' > records.json\n")


@pytest.mark.parametrize("wrapped", [False, True], ids=["one-key", "beside-others"])
def test_the_jq_command_an_error_suggests_quotes_a_key_with_a_quote(tmp_path, capsys, wrapped):
    """Records nested under a key with an apostrophe or a double quote in it were suggested as
    `jq '.["user's rows"]' FILE`: pasted back, the shell's quote stayed open (and a `"` ended jq's string). The
    line named the key "user's "rows"", its quotes unescaped: it is quoted as JSON writes it."""
    key, rows = 'user\'s "rows"', [{"prompt": "Hi?", "chosen": "a", "rejected": "b"}] * 2
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({key: rows, "version": 1} if wrapped else {key: rows}))
    assert main(["import", "-w", str(tmp_path / "ws"), str(nested)]) == 2
    err = capsys.readouterr().err
    said = " holds 2 records nested in it" if wrapped else " (2 records): import"
    assert f'"user\'s \\"rows\\""{said}' in err, err
    command = shlex.split(err.split("e.g. ")[1])
    assert command[:3] == ["jq", '.["user\'s \\"rows\\""]', str(nested)]
