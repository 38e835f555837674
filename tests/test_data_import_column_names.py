"""A column whose name is a near miss of one the import reads is refused in one line, nothing written: a labeller
file's ``labeler`` column imported as the `import` annotator's labels on new pairs, which would train, said only in
"columns not read: labeler". Columns that are only extra (an id, a source, a score) still import, named."""

from __future__ import annotations

import pytest

from data.__main__ import main
from data.import_column_names import near_miss
from data.imports import import_file
from data.schemas import SchemaError
from data.workspace import Workspace
from generate.prepare import read_prompts
from tests.test_data_gold_files import write
from tests.test_data_import_columns import summary

PAIR = {"prompt": "2 + 2?", "chosen": "4", "rejected": "5"}
KTO = {"prompt": "2 + 2?", "completion": "4", "label": True}
RANK = {"prompt": "Hi?", "completions": ["a", "b", "c"], "ranking": "2 > 3 > 1"}
RATE = {"prompt": "Hi?", "response": "4"}  # with its `ratings` misspelt: a gold answer
KNOWN = (
    "prompt",
    "chosen",
    "rejected",
    "label",
    "labeller",
    "annotator",
    "user_id",
    "ranking",
    "ratings",
    "gold",
)


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("labeler", "labeller"),
        ("annotater", "annotator"),
        ("Labeller", "labeller"),
        ("label_er", "labeller"),
        ("LABELLER", "labeller"),
        ("userId", "user_id"),
        ("labels", "label"),
        ("lable", "label"),  # two letters swapped: one edit
        ("Prompt", "prompt"),
        ("rankng", "ranking"),
        ("GOLD", "gold"),
    ],
)
def test_a_near_miss_names_the_known_column(name, known):
    assert near_miss(name, KNOWN) == known


@pytest.mark.parametrize(
    "name",
    [
        "source",
        "id",
        "meta",
        "score",
        "prompt_id",
        "response_0",
        "_split",
        "chosen_model",
        "label.responses",
        "goal",
        "labeller",
        "annotation",  # two edits from annotator: another column
        "annotated",
        "labeled",
    ],
)
def test_an_extra_column_or_the_known_one_itself_is_no_near_miss(name):
    """Farther off, a known name beside other words (`prompt_id`), a short name one letter off (`goal`: `gold`
    only in case), or the known column itself (unread in this row, read in another)."""
    assert near_miss(name, KNOWN) is None


@pytest.mark.parametrize(
    ("row", "column", "known"),
    [
        ({**PAIR, "labeler": "alice"}, "labeler", "labeller"),
        ({**KTO, "annotater": "bob"}, "annotater", "annotator"),
        ({**PAIR, "Labeller": "alice"}, "Labeller", "labeller"),
        ({**RANK, "rankng": "1 > 2 > 3"}, "rankng", "ranking"),
        ({**RATE, "ratngs": {"helpfulness": 4}}, "ratngs", "ratings"),
        ({**PAIR, "strenght": 3}, "strenght", "strength"),
        ({**PAIR, "Split": "test"}, "Split", "split"),
    ],
)
def test_data_import_refuses_a_near_miss_in_one_line_writing_nothing(tmp_path, capsys, row, column, known):
    path = write(tmp_path / "alice.jsonl", row)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {path}: column '{column}' is not read: did you mean '{known}'?")
    assert "rename or drop it" in err
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("args", [[], ["--on-error", "skip"]])
def test_a_misspelt_answer_column_is_named_before_the_row_it_leaves_without_one(tmp_path, capsys, args):
    """``rejectd`` for ``rejected``: the row lacks its answer, and the line says which column meant it, not
    "row 0, field 'rejected': no answer" (nor, with skip, every row skipped as missing it)."""
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,chosen,rejectd\n2 + 2?,4,5\n3 + 3?,6,7\n")
    assert main(["import", "-w", str(tmp_path / "ws"), *args, str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {path}: column 'rejectd' is not read: did you mean 'rejected'? (nothing written; where it is "
        "another column than 'rejected', rename or drop it)\n"
    )
    assert not (tmp_path / "ws").exists()


def test_a_row_missing_its_answer_beside_no_near_miss_is_the_row_refused(tmp_path, capsys):
    path = write(tmp_path / "pairs.jsonl", {"prompt": "2 + 2?", "chosen": "4", "rejectd": ""})
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    assert "row 0, field 'rejected': no answer" in capsys.readouterr().err


def test_extra_columns_still_import_named_as_not_read(tmp_path, capsys):
    row = {**PAIR, "labeller": "alice", "source": "s", "id": 3, "meta": "m", "score": 1, "response_0": "x"}
    path = write(tmp_path / "alice.jsonl", row)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert summary(capsys).endswith("columns not read: source, id, meta, score, response_0")


RENAMED = {"prompt": "Q?", "preferred": "a", "dispreferred": "b"}
GOLD_KEYS = "completion, response, output or gold"


@pytest.mark.parametrize(
    ("name", "row", "args", "fmt", "columns", "gold"),
    [
        ("renamed.jsonl", RENAMED, [], "prompt", "preferred, dispreferred", GOLD_KEYS),
        ("renamed.jsonl", RENAMED, ["--unlabelled"], "prompt", "preferred, dispreferred", GOLD_KEYS),
        # Dolly's columns read as alpaca rows: its responses are no alpaca answer
        ("dolly.jsonl", {"instruction": "Hi.", "response": "hi", "category": "qa"}, [], "alpaca", "response", "output"),
        ("chat.jsonl", {"messages": [{"role": "user", "content": "Hi."}], "response": "hi"}, [], "chat", "response",
         "the conversation's last assistant turn"),
        ("pku.csv", None, [], "prompt", "response_0, response_1", GOLD_KEYS),  # not its safer_response_id
    ],
)  # fmt: skip
def test_a_file_of_prompts_alone_beside_columns_named_as_answers_is_refused(
    tmp_path, capsys, name, row, args, fmt, columns, gold
):
    """Every row a prompt alone, the answers under names no format reads: it imported the prompts, exit 0, the
    answers said only among the columns not read. One line names them and the names the format reads."""
    path = tmp_path / name
    if row is None:
        path.write_text("prompt,response_0,response_1,safer_response_id\nQ?,a,b,0\n")
    else:
        write(path, row)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), *args]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}: no row gives an answer the import reads, yet columns not read are named as answers: "
        f"{columns}; rename them as the {fmt} format names answers (chosen + rejected, completion + label, "
        f"completions, or a gold answer: {gold}), or drop them to import the prompts alone (nothing written)\n"
    )
    assert not (tmp_path / "ws").exists()


def test_prompts_beside_other_columns_or_for_generate_import_named_as_not_read(tmp_path, capsys):
    """A file of prompts alone with columns that are no answers' (an id, a category, a `prompt_id`) imports; so does
    one beside answer columns for `generate --prompts`, which reads prompts alone."""
    path = write(tmp_path / "prompts.jsonl", {"prompt": "Q?", "id": 1, "category": "math", "prompt_id": "x"})
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert summary(capsys).endswith("columns not read: id, category, prompt_id")
    path = write(tmp_path / "renamed.jsonl", {"prompt": "Q?", "preferred": "a", "dispreferred": "b"})
    loaded = read_prompts(str(path), 0.0, tmp_path / "ws2")
    assert loaded.counts["records"] == 1 and loaded.unread == "columns not read: preferred, dispreferred"


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_columns_that_count_or_flag_answers_are_no_answers(tmp_path, capsys, suffix):
    """A column whose name ends on an answer word but that counts or flags answers (`num_responses`, Nectar's; a
    `has_answer` flag, a `max_output` bound) holds no answer: a file of prompts beside one was refused as if its
    answers were left out. It imports, the columns named as not read."""
    path = tmp_path / f"prompts.{suffix}"
    row = {"prompt": "Q?", "num_responses": 4, "n_completions": 2, "has_answer": False, "max_output": 256}
    if suffix == "csv":
        path.write_text(",".join(row) + "\n" + ",".join(map(str, row.values())) + "\n")
    else:
        write(path, row)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert summary(capsys).endswith("columns not read: num_responses, n_completions, has_answer, max_output")


def test_a_near_miss_of_a_column_this_reader_does_not_read_is_only_named(tmp_path, capsys):
    """`data gold` reads no labeller nor split (its new prompts go to --split): near misses of those are extra
    columns there; `--unlabelled` reads no labeller either."""
    ws = Workspace.init(tmp_path / "ws")
    path = write(tmp_path / "gold.jsonl", {**PAIR, "labeler": "x", "Split": "test"})
    assert main(["gold", "-w", str(ws.path), str(path)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"; {path}: columns not read: labeler, Split")
    path = write(tmp_path / "pairs.jsonl", {**PAIR, "labeler": "x"})
    assert main(["import", "-w", str(tmp_path / "ws2"), str(path), "--unlabelled"]) == 0
    assert summary(capsys).endswith("columns not read: labeler")


def test_data_gold_refuses_a_near_miss_writing_nothing(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    before = sorted(p.relative_to(ws.path) for p in ws.path.rglob("*"))
    path = write(tmp_path / "gold.jsonl", {**PAIR, "Chosen": "4"})
    assert main(["gold", "-w", str(ws.path), str(path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: {path}: column 'Chosen' is not read: did you mean 'chosen'?"
    )
    assert sorted(p.relative_to(ws.path) for p in ws.path.rglob("*")) == before


def test_generate_prompts_refuses_a_near_miss(tmp_path):
    path = write(tmp_path / "prompts.jsonl", {"prompt": "Say hi.", "respones": "hi"})
    with pytest.raises(SchemaError, match="column 'respones' is not read: did you mean 'response'"):
        read_prompts(str(path), 0.0, tmp_path / "ws")


def test_remove_reads_a_file_an_import_before_the_check_stored(tmp_path, capsys):
    """`--remove` reads a file as its import did: one stored before near misses were refused is withdrawn."""
    ws = Workspace.init(tmp_path / "ws")
    path = write(tmp_path / "alice.jsonl", {**PAIR, "labeler": "alice"})
    assert import_file(ws, path, near_misses=False)["new_labels"] == 1
    assert main(["import", "-w", str(ws.path), "--remove", str(path)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 1 (preferences 1)\n"


@pytest.mark.parametrize(
    ("row", "extra"),
    [
        ({**PAIR, "rating": [8.0, 3.0]}, "rating"),  # distilabel's orca pairs: the judge's two scores
        ({**PAIR, "labels": ["helpful"]}, "labels"),
        ({**PAIR, "responses": ["4", "5"]}, "responses"),
        ({**PAIR, "outputs": ["4", "5"]}, "outputs"),
        ({**KTO, "rating": 4}, "rating"),
    ],
)
def test_a_near_miss_of_a_column_the_row_would_not_read_imports_named(tmp_path, capsys, row, extra):
    """A row holding a preference reads no ratings, KTO label or gold answer (nor a KTO row ratings): spelt right they
    would be refused or not read there, so a near miss of one is another column, named not read."""
    path = write(tmp_path / "pairs.jsonl", row)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    assert summary(capsys).endswith(f"columns not read: {extra}")


@pytest.mark.parametrize(
    ("rows", "column", "known"),
    [
        (
            [{"prompt": "2 + 2?", "completion": "4", "labels": True}],
            "labels",
            "label",
        ),  # its label misspelt: gold
        # beside a preference an extra column, on the row of one answer its ratings misspelt: refused
        ([{**PAIR, "rating": 3}, {**RATE, "rating": {"helpfulness": 4}}], "rating", "ratings"),
    ],
)
def test_a_near_miss_is_refused_where_a_row_would_read_it(tmp_path, capsys, rows, column, known):
    path = write(tmp_path / "mixed.jsonl", *rows)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: {path}: column '{column}' is not read: did you mean '{known}'?"
    )
    assert not (tmp_path / "ws").exists()


EXPECTED = "expected alpaca, chat, pair, openai or prompt"


@pytest.mark.parametrize(
    ("row", "hint"),
    [
        ({"Prompt": "Hi?", "chosen": "a", "rejected": "b"}, ": did you mean 'prompt', not 'Prompt'?"),
        ({"promt": "Hi?", "chosen": "a", "rejected": "b"}, ": did you mean 'prompt', not 'promt'?"),
        ({"instrution": "Hi?", "output": "a"}, ": did you mean 'instruction', not 'instrution'?"),
        ({"Messages": [{"role": "user", "content": "Hi?"}]}, ": did you mean 'messages', not 'Messages'?"),
        ({"question": "Hi?", "chosen": "a", "rejected": "b"}, ""),  # no near miss: no guess
        ({"prompt_id": 3, "chosen": "a", "rejected": "b"}, ""),  # a known name beside other words
    ],
)
def test_a_record_of_no_format_whose_key_is_a_near_miss_of_one_a_format_is_found_by_names_it(
    tmp_path, capsys, row, hint
):
    """A file whose only prompt key is misspelt was "unknown record format" with no word of the key it meant."""
    path = write(tmp_path / "prefs.jsonl", row)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    keys = ", ".join(sorted(row))
    assert capsys.readouterr().err == (
        f"error: {path}, row 0: unknown record format (keys: {keys}); {EXPECTED}{hint}\n"
    )
    assert not (tmp_path / "ws").exists()
