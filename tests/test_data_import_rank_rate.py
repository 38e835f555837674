"""Rankings and ratings through `python -m data import`: HelpSteer2's aspect columns, ratings objects and ranked rows
become labels of the import annotator, stored as the rank and rate apps store a labeller's, so the ratings export,
`--kto-from`, `--rm-from-ratings` and the DPO export's rank pairs read them (they were read as gold answers, their
ratings and rankings dropped without a word). A rerun adds nothing; a row whose ranking or ratings the import cannot
use, or that would relabel an item, is one line naming file, row and field, and the workspace stays as it was."""

from __future__ import annotations

import json
import shlex

import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.annotators import IMPORT
from data.gold import read_gold
from data.ranking import canonical, rank_item_id
from data.records import Completion, prompt_id
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_import_errors import digest
from train.pairs import rating_kto_rows, rating_preference_rows


def rating(helpfulness: int, correctness: int = 4) -> dict:
    return {
        "helpfulness": helpfulness,
        "correctness": correctness,
        "coherence": 4,
        "complexity": 1,
        "verbosity": 2,
    }


def stored(ratings: dict) -> str:
    return json.dumps(ratings, sort_keys=True, separators=(",", ":"))


def answer_id(prompt: str, text: str, model: str) -> str:
    """The id an import gives ``text`` answering ``prompt`` in a file named ``model``."""
    return Completion(prompt_id([{"role": "user", "content": prompt}]), text, model, "import").id


def item_of(prompt: str) -> str:
    return rank_item_id(prompt_id([{"role": "user", "content": prompt}]), 0)


HELPSTEER = [  # HelpSteer2's rows: a prompt, a response and one column per aspect, two responses per prompt
    {"prompt": "Name a colour.", "response": "Blue.", **rating(4)},
    {"prompt": "Name a colour.", "response": "Rocks.", **rating(0, 0)},
    {"prompt": "Two plus two?", "response": "4", **rating(4)},
    {"prompt": "Two plus two?", "response": "5", **rating(1, 0)},
]
RATED = [  # the gold file's forms: a ratings list for completions, a ratings object for one answer
    {"prompt": "Capital of Peru?", "completions": ["Lima.", "Cusco."], "ratings": [rating(4), rating(1, 1)]},
    {"prompt": "Say hi.", "response": "Hello!", "ratings": rating(3)},
    {"prompt": "Pick one.", "completions": ["x", "y"]},  # candidates: answers nobody rated yet
    {"prompt": "Unrated?", "response": "An answer."},  # in a file that rates: an answer nobody rated, no gold
]
RANKED = [
    {"prompt": "Capital of France?", "completions": ["Rome.", "Paris.", "Lyon."], "ranking": "2 > 3 > 1"},
    {
        "prompt": "Largest planet?",
        "completions": ["Mars.", "Jupiter.", "Saturn.", "Venus."],
        "ranking": [2, 3, [1, 4]],
    },
]


def imported(ws: Workspace) -> list[dict]:
    return [r for r in ws.read("labels").to_pylist() if r["annotator"] == IMPORT]


def tables(ws: Workspace) -> dict[str, int]:
    return {name: ws.read(name).num_rows for name in ("prompts", "completions", "pairs", "labels")}


def import_(ws, *args) -> int:
    return main(["import", "-w", str(ws), *map(str, args)])


def test_helpsteer2_columns_and_ratings_objects_import_as_ratings_that_export_and_train(tmp_path, capsys):
    parquet = tmp_path / "helpsteer2.parquet"
    pq.write_table(pa.Table.from_pylist(HELPSTEER), parquet)
    jsonl = write(tmp_path / "rated.jsonl", *RATED)
    assert import_(tmp_path / "ws", parquet, jsonl) == 0, capsys.readouterr().err
    ws = Workspace(tmp_path / "ws")
    expected = {answer_id(r["prompt"], r["response"], "helpsteer2"): rating_of(r) for r in HELPSTEER}
    expected[answer_id("Capital of Peru?", "Lima.", "rated")] = stored(rating(4))
    expected[answer_id("Capital of Peru?", "Cusco.", "rated")] = stored(rating(1, 1))
    expected[answer_id("Say hi.", "Hello!", "rated")] = stored(rating(3))
    labels = imported(ws)
    assert {r["item_id"]: r["ratings"] for r in labels} == expected
    assert {(r["task"], r["rubric"], r["choice"]) for r in labels} == {("rate", "helpsteer2", None)}
    gold = {r["messages"][0]["content"]: r["gold"] for r in ws.read("prompts").to_pylist()}
    assert (
        gold == dict.fromkeys(gold) and "Unrated?" not in gold
    )  # a rated answer is no gold; an unrated one: skipped

    capsys.readouterr()
    assert main(["export", "-w", str(ws.path), "--format", "ratings"]) == 0
    summary = capsys.readouterr().out
    # every answer once: 7 rated, x and y not yet
    assert summary.endswith(": 7 rows exported, left out: unlabelled 2\n")
    assert ws.read("completions").num_rows == 7 + 2
    rows = pq.read_table(ws.exports / "ratings.parquet").to_pylist()
    assert {r["completion_id"]: stored({a: int(r[a]) for a in rating(0)}) for r in rows} == expected
    assert {(r["raters"], r["rubric"]) for r in rows} == {(1, "helpsteer2")}
    # --labels chooses them as it chooses imported preferences: with people's, not with the judges'
    assert main(["export", "-w", str(ws.path), "--format", "ratings", "--labels", "human"]) == 0
    assert main(["export", "-w", str(ws.path), "--format", "ratings", "--labels", "machine"]) == 2
    assert "(left out: unlabelled 9)" in capsys.readouterr().err

    _, counts = rating_kto_rows(ws, "train", "helpfulness>=3")  # train --kto-from
    assert (counts["desirable"], counts["undesirable"]) == (4, 3)
    pairs, counts = rating_preference_rows(ws, "train", "helpfulness")  # train --rm-from-ratings
    assert counts["pairs"] == 3 and {p["chosen"][0]["content"] for p in pairs} == {"Blue.", "4", "Lima."}

    before = digest(ws.path)
    assert import_(ws.path, parquet, jsonl) == 0  # a rerun adds nothing
    assert "new_" not in capsys.readouterr().out
    assert not_imports(digest(ws.path)) == not_imports(before)


def rating_of(row: dict) -> str:
    return stored({aspect: row[aspect] for aspect in rating(0)})


def not_imports(files: dict) -> dict:
    return {k: v for k, v in files.items() if not k.startswith("imports")}


def test_rank_rows_import_as_rankings_that_give_the_dpo_export_its_rank_pairs(tmp_path, capsys):
    path = write(tmp_path / "ranked.jsonl", *RANKED)
    assert import_(tmp_path / "ws", path) == 0, capsys.readouterr().err
    ws = Workspace(tmp_path / "ws")
    ids = {r["text"]: r["id"] for r in ws.read("completions").to_pylist()}
    labels = sorted(imported(ws), key=lambda r: r["item_id"] != item_of("Capital of France?"))
    assert [(r["item_id"], r["task"], r["ranking"], r["left"]) for r in labels] == [
        (
            item_of("Capital of France?"),
            "rank",
            canonical([[ids["Paris."]], [ids["Lyon."]], [ids["Rome."]]]),
            ",".join(ids[t] for t in RANKED[0]["completions"]),
        ),
        (
            item_of("Largest planet?"),
            "rank",
            canonical([[ids["Jupiter."]], [ids["Saturn."]], [ids["Mars."], ids["Venus."]]]),
            ",".join(ids[t] for t in RANKED[1]["completions"]),
        ),
    ]
    assert ws.read("pairs").num_rows == 0  # ranked answers are no pairs for pairwise labellers
    capsys.readouterr()
    assert main(["export", "-w", str(ws.path), "--format", "dpo"]) == 0
    # Mars = Venus: no pair
    assert capsys.readouterr().out.endswith(": 8 rows exported, left out: rank_tie 1\n")
    rows = pq.read_table(ws.exports / "dpo.parquet").to_pylist()
    assert {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows} == {
        ("Paris.", "Lyon."), ("Paris.", "Rome."), ("Lyon.", "Rome."), ("Jupiter.", "Saturn."),
        ("Jupiter.", "Mars."), ("Jupiter.", "Venus."), ("Saturn.", "Mars."), ("Saturn.", "Venus."),
    }  # fmt: skip
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--labels", "machine"]) == 2
    assert "(left out: rank_unlabelled 2)" in capsys.readouterr().err
    assert main(["stats", "-w", str(ws.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rank_items"]["rankings"] == 2

    before = digest(ws.path)
    assert import_(ws.path, path) == 0  # a rerun adds nothing
    assert "new_" not in capsys.readouterr().out
    assert not_imports(digest(ws.path)) == not_imports(before)


def test_unlabelled_keeps_the_answers_and_skip_leaves_a_conflicting_row_out(tmp_path, capsys):
    path = write(
        tmp_path / "rows.jsonl",
        *RANKED,
        *RATED,
        {"prompt": "Say hi.", "response": "Hello!", "ratings": rating(0)},
    )
    assert import_(tmp_path / "bare", path, "--unlabelled") == 0, capsys.readouterr().err
    bare = Workspace(tmp_path / "bare")
    assert imported(bare) == [] and bare.read("completions").num_rows == 7 + 6  # the unrated one too
    assert import_(tmp_path / "ws", path, "--on-error", "skip") == 0
    assert "skipped 2 records (conflicting_rating 1, unrated 1)" in capsys.readouterr().out
    [unrated, reject] = [
        json.loads(line) for f in (tmp_path / "ws" / "imports").glob("*.rejects.jsonl") for line in f.open()
    ]
    assert (unrated["row"], unrated["reason"]) == (len(RANKED) + len(RATED) - 1, "unrated")
    assert (reject["row"], reject["field"], reject["reason"]) == (
        len(RANKED) + len(RATED),
        "ratings",
        "conflicting_rating",
    )
    assert len(imported(Workspace(tmp_path / "ws"))) == 2 + 3  # the first row's rating is kept


STORED_ROWS = [RANKED[0], RATED[1]]  # imported first, into every workspace of the refusals
NEW = {"prompt": "New?", "response": "new"}
REFUSED = [
    # (file name, rows, the line after "error: <file>"; {item}: the stored rank item, {hello}: the stored answer,
    # {stored}: the file that imported them, as given)
    ("ranking.jsonl", [NEW | {"ranking": "1"}],
     ", row 0, field 'ranking': a ranking ranks the row's answers: give them as a 'completions' list of 3-6"),
    ("preference.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "b", "ratings": rating(4)}],
     ", row 0, field 'ratings': ratings rate the row's answers: give one (completion, response or output) or a "
     "'completions' list, and no preference or KTO label"),
    ("columns.jsonl", [NEW | {"helpfulness": 4, "correctness": 3}],
     ", row 0, field 'coherence': column 'helpfulness' is an aspect of rubric helpsteer2, but the row has no "
     "'coherence': ratings as columns give every aspect (helpfulness, correctness, coherence, complexity, "
     "verbosity; --rubric FILE for another rubric), or none: if 'helpfulness' is not a rating, rename the column "
     "or leave it out"),
    ("scale.jsonl", [NEW | {"ratings": rating(7)}],
     ", row 0, field 'ratings': helpfulness 7 is not an integer in 0..4"),
    ("count.jsonl", [{"prompt": "q", "completions": ["a", "b"], "ratings": [rating(4)]}],
     ", row 0, field 'ratings': one ratings object per answer of 'completions' (2), in their order"),
    ("listed.jsonl", [{"prompt": "q", "completions": ["a", "b"], **rating(4)}],
     ", row 0, field 'helpfulness': aspect columns rate the row's one answer: a 'completions' row gives a "
     "'ratings' list"),
    ("twice.jsonl", [NEW | {"ratings": rating(4)}, NEW | {"ratings": rating(3)}],
     ", row 1, field 'ratings': this row rates the answer 'new' " + stored(rating(3)) + ", row 0 "
     + stored(rating(4)) + ": an answer holds one imported rating; leave one row out"),
    ("two-rankings.jsonl",
     [{"prompt": "q", "completions": ["a", "b", "c"], "ranking": "1>2>3"},
      {"prompt": "q", "completions": ["d", "e", "f"], "ranking": "1>2>3"}],
     ", row 1, field 'ranking': row 0 ranks other answers of this prompt: the answers of a prompt's round 0 (rank "
     "item {q}) hold one imported ranking; rank them all in one row, or leave one out"),
    ("seven.jsonl",
     [{"prompt": "q", "completions": ["a", "b", "c", "d"]},
      {"prompt": "q", "completions": ["e", "f", "g"], "ranking": "1>2>3"}],
     ", row 1, field 'ranking': its ranking's item (round 0 of its prompt, rank item {q}) would hold 7 answers, "
     "those stored and this import's: a rank item is 3-6 answers, so the ranking would leave the rank app; rank "
     "every answer of the prompt in one row, or leave the others out"),
    ("five.jsonl",  # answers the ranking leaves out would never be ranked: the app serves no imported-ranked item
     [{"prompt": "q", "completions": ["a", "b"]},
      {"prompt": "q", "completions": ["e", "f", "g"], "ranking": "1>2>3"}],
     ", row 1, field 'ranking': its ranking's item (round 0 of its prompt, rank item {q}) would hold 5 answers, "
     "those stored and this import's, and the ranking ranks 3: the rank app serves no item an import ranked, so "
     "the others would never be ranked; rank every answer of the prompt in one row, or leave the others out"),
    ("other/stored.jsonl", [RATED[1] | {"ratings": rating(0)}],
     ", row 0, field 'ratings': answer {hello} already holds an imported rating (" + stored(rating(3))
     + "), and this row's differs: an import never replaces one; leave the row out, or withdraw the stored one "
     "first (`data import --remove {stored}`)"),  # the import log names the file that rated it
    ("other/stored.jsonl", [RANKED[0] | {"ranking": "1 > 2 > 3"}],  # the import log names the file that ranked it
     ", row 0, field 'ranking': rank item {item} already holds an imported ranking, and this row's differs: an "
     "import never replaces one; leave the row out, or withdraw the stored one first (`data import --remove "
     "{stored}`)"),
]  # fmt: skip


@pytest.mark.parametrize("name, rows, message", REFUSED)
def test_rows_the_import_cannot_label_are_one_line_and_write_nothing(tmp_path, capsys, name, rows, message):
    stored_file = write(tmp_path / "stored.jsonl", *STORED_ROWS)
    assert import_(tmp_path / "ws", stored_file) == 0
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    write(path, *rows)
    before = digest(tmp_path / "ws")
    capsys.readouterr()
    assert import_(tmp_path / "ws", path) == 2
    ids = {
        "{item}": item_of("Capital of France?"),
        "{hello}": answer_id("Say hi.", "Hello!", "stored"),
        "{q}": item_of("q"),
        "{stored}": shlex.quote(str(stored_file)),
    }
    for name, value in ids.items():
        message = message.replace(name, value)
    assert capsys.readouterr().err == f"error: {path}{message}\n"
    assert digest(tmp_path / "ws") == before


def test_a_conflicting_ranking_keeps_the_placeholder_where_the_import_log_names_no_file(tmp_path, capsys):
    """A log line written before lines named their rank items (`ranked_items`) names no file to withdraw."""
    assert import_(tmp_path / "ws", write(tmp_path / "stored.jsonl", *STORED_ROWS)) == 0
    log = tmp_path / "ws" / "imports" / "log.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    log.write_text(
        "".join(json.dumps({k: v for k, v in e.items() if k != "ranked_items"}) + "\n" for e in lines)
    )
    capsys.readouterr()
    assert import_(tmp_path / "ws", write(tmp_path / "r4.jsonl", RANKED[0] | {"ranking": "1 > 2 > 3"})) == 2
    assert capsys.readouterr().err.endswith(
        "withdraw the stored one first (`data import --remove FILE`, FILE the file that imported it)\n"
    )


def test_two_files_of_one_import_that_rate_an_answer_differently_are_refused(tmp_path, capsys):
    assert import_(tmp_path / "ws", write(tmp_path / "stored.jsonl", *STORED_ROWS)) == 0
    for folder in ("a", "b"):  # one file name: one model, so one answer
        (tmp_path / folder).mkdir()
    first = write(tmp_path / "a" / "rated.jsonl", NEW | {"ratings": rating(4)})
    second = write(
        tmp_path / "b" / "rated.jsonl", {"prompt": "Other?", "response": "x"}, NEW | {"ratings": rating(2)}
    )
    before = digest(tmp_path / "ws")
    capsys.readouterr()
    assert import_(tmp_path / "ws", first, second) == 2
    assert capsys.readouterr().err == (
        f"error: {second}, row 1, field 'ratings': this row rates the answer 'new' {stored(rating(2))}, {first}, row 0 "
        f"{stored(rating(4))}: an answer holds one imported rating; leave one row out\n"
    )
    assert digest(tmp_path / "ws") == before


def test_a_gold_file_reads_aspect_columns_and_answers_own_ratings_as_an_import_does(tmp_path, capsys):
    """One reading of ratings rows for both commands: HelpSteer2's columns, and a ratings object in each answer."""
    rows = [HELPSTEER[0], {"prompt": "Capital of Peru?", "completions": [
        {"text": "Lima.", "ratings": rating(4)}, {"text": "Cusco.", "ratings": rating(1, 1)}]}]  # fmt: skip
    path = write(tmp_path / "gold.jsonl", *rows)
    ws = Workspace.init(tmp_path / "ws")
    assert main(["gold", "-w", str(ws.path), str(path)]) == 0, capsys.readouterr().err
    assert sorted(r["ratings"] for r in read_gold(ws, "rate").to_pylist()) == sorted(
        [rating_of(HELPSTEER[0]), stored(rating(4)), stored(rating(1, 1))]
    )
    assert import_(tmp_path / "imported", path) == 0
    assert sorted(r["ratings"] for r in imported(Workspace(tmp_path / "imported"))) == sorted(
        [rating_of(HELPSTEER[0]), stored(rating(4)), stored(rating(1, 1))]
    )


def test_helpsteer2_as_csv_rates_as_its_parquet_does(tmp_path, capsys):
    """A CSV cell holds text: an aspect column's "4" is the rating 4 (and "four" is refused, naming the cell)."""
    path = tmp_path / "helpsteer2.csv"
    pa.csv.write_csv(pa.Table.from_pylist(HELPSTEER), path)
    assert import_(tmp_path / "ws", path) == 0, capsys.readouterr().err
    assert sorted(r["ratings"] for r in imported(Workspace(tmp_path / "ws"))) == sorted(
        map(rating_of, HELPSTEER)
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace('"Blue.",4,', '"Blue.",four,'))
    assert import_(tmp_path / "ws", bad) == 2
    assert capsys.readouterr().err == (
        f"error: {bad}, row 0, field 'helpfulness': helpfulness 'four' is not an integer in 0..4\n"
    )


def test_a_column_named_like_an_aspect_beside_answers_it_cannot_rate_is_an_ordinary_column(tmp_path, capsys):
    """A preference, KTO, candidates or prompt row with a column that happens to share an aspect's name (a
    `complexity` tag, a `verbosity` level) imports as it did before rows could carry ratings: aspect columns rate
    one answer, so on these rows some of them are no ratings (all of them stay refused, as ratings beside a
    preference are). A one-answer row with some stays refused: HelpSteer2's row with a null aspect."""
    rows = [
        {"prompt": "q1", "chosen": "a", "rejected": "b", "complexity": "high"},
        {"prompt": "q2", "completion": "c", "label": True, "verbosity": 3},
        {"prompt": "q3", "completions": ["d", "e"], "helpfulness": "n/a"},
        {"prompt": "q4", "complexity": 2},
    ]
    path = write(tmp_path / "tagged.jsonl", *rows)
    assert import_(tmp_path / "ws", path) == 0, capsys.readouterr().err
    ws = Workspace(tmp_path / "ws")
    assert sorted(r["task"] for r in imported(ws)) == ["kto", "pairwise"]
    assert tables(ws) == {"prompts": 4, "completions": 5, "pairs": 2, "labels": 2}
    gold_file = write(tmp_path / "gold.jsonl", *rows[:2])  # a gold file reads its rows as an import does
    assert main(["gold", "-w", str(tmp_path / "ws"), str(gold_file)]) == 0, capsys.readouterr().err
    assert (read_gold(ws).num_rows, read_gold(ws, "kto").num_rows) == (1, 1)


def test_a_csv_written_from_a_float_column_rates_as_its_parquet_does(tmp_path, capsys):
    """pandas writes an integer column that held a null as floats, in Parquet (3.0, read as 3) and in CSV ("3.0"):
    the CSV's cell is the rating 3 too, and "3.5" is still refused."""
    frame = pa.Table.from_pylist(HELPSTEER).to_pandas()
    frame[list(rating(0))] = frame[list(rating(0))].astype(float)
    path = tmp_path / "helpsteer2.csv"
    frame.to_csv(path, index=False)
    assert import_(tmp_path / "ws", path) == 0, capsys.readouterr().err
    assert sorted(r["ratings"] for r in imported(Workspace(tmp_path / "ws"))) == sorted(
        map(rating_of, HELPSTEER)
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace("Blue.,4.0,", "Blue.,3.5,"))
    assert import_(tmp_path / "ws", bad) == 2
    assert capsys.readouterr().err == (
        f"error: {bad}, row 0, field 'helpfulness': helpfulness '3.5' is not an integer in 0..4\n"
    )


def labeller_not_read(column: str) -> str:
    return (
        f"(column '{column}' is not read: a labeller is read with a preference or a KTO label only; rankings and "
        "ratings import as the import annotator's, one per item)"
    )


def test_two_labellers_ranking_or_rating_one_item_are_told_the_labeller_column_is_not_read(tmp_path, capsys):
    """Two labellers' rankings (ratings) of one item are the import annotator's two labels of it: the refusal says
    the labeller column is not read on such rows (it read as a conflict with no word of why)."""
    rank = RANKED[0]
    ranked = write(tmp_path / "ranked.jsonl", rank | {"labeller": "alice"}, rank | {"ranking": "1 > 2 > 3"})
    rated = write(
        tmp_path / "rated.jsonl",
        NEW | {"ratings": rating(4)},
        NEW | {"ratings": rating(2), "annotator": "bob"},
    )
    for path, field, column in ((ranked, "ranking", "labeller"), (rated, "ratings", "annotator")):
        capsys.readouterr()
        assert import_(tmp_path / "ws", path) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}, row 1, field '{field}': ") and " one imported " in err
        assert err.endswith(f" out {labeller_not_read(column)}\n")
    # one file after another: the stored label is refused so too
    for folder in ("a", "b"):  # one file name: one model, so one answer
        (tmp_path / folder).mkdir()
    alice = write(tmp_path / "a" / "rated.jsonl", NEW | {"ratings": rating(4), "labeller": "alice"})
    bob = write(tmp_path / "b" / "rated.jsonl", NEW | {"ratings": rating(2), "labeller": "bob"})
    assert import_(tmp_path / "ws2", alice) == 0
    capsys.readouterr()
    assert import_(tmp_path / "ws2", bob) == 2
    assert capsys.readouterr().err.endswith(
        f"`data import --remove {alice}`) {labeller_not_read('labeller')}\n"
    )
    # a row naming nobody says nothing of it
    plain = write(tmp_path / "plain.jsonl", NEW | {"ratings": rating(4)}, NEW | {"ratings": rating(2)})
    assert import_(tmp_path / "ws3", plain) == 2
    assert capsys.readouterr().err.endswith("leave one row out\n")


@pytest.mark.parametrize("cell", ["", "   ", "\t "])
def test_a_labeller_cell_of_spaces_names_nobody_on_a_ranking_or_ratings_row_as_an_empty_one_does(
    tmp_path, capsys, cell
):
    """A labeller cell of only spaces (a spreadsheet's) read as naming someone: a conflict's refusal said the
    column is not read, and the summary named it among the columns not read. It names nobody, as an empty cell."""
    conflict = write(
        tmp_path / "conflict.jsonl",
        NEW | {"ratings": rating(4), "labeller": cell},
        NEW | {"ratings": rating(2)},
    )
    assert import_(tmp_path / "ws", conflict) == 2
    assert capsys.readouterr().err.endswith("leave one row out\n")
    rated = write(tmp_path / "rated.jsonl", NEW | {"ratings": rating(4), "labeller": cell})
    assert import_(tmp_path / "ws", rated) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"imported {rated} ") and "columns not read" not in out
