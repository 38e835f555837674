"""Edges of rankings and ratings through `python -m data import` (and `data gold FILE`, which reads rows alike):
a ranking repeated in another order is counted as the repeat it is; an unrated row of a rated data set is skipped
and counted, never made a gold (SFT) answer; ratings and rankings in the forms data sets write them (UltraFeedback's
string ratings, a Parquet list<double> ranking) read as their integers."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.gold import rank_items
from data.ranking import RankingError, canonical, screen_ranking
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL
from tests.test_data_import_rank_rate import RANKED, imported, item_of, stored


def test_a_ranking_repeated_in_another_order_is_a_duplicate_row(tmp_path, capsys):
    rows = [
        {"prompt": "Capital of France?", "completions": ["Rome.", "Paris.", "Lyon."], "ranking": "2 > 3 > 1"},
        {"prompt": "Capital of France?", "completions": ["Paris.", "Lyon.", "Rome."], "ranking": [1, 2, 3]},
        {"prompt": "Pick.", "completions": ["x", "y"], "ratings": [{**FULL, "helpfulness": 1}, FULL]},
        {"prompt": "Pick.", "completions": ["y", "x"], "ratings": [FULL, {**FULL, "helpfulness": 1}]},
    ]
    path = write(tmp_path / "ranked.jsonl", *rows)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    out = capsys.readouterr().out
    assert "duplicate_rows 2," in out and "records 4" in out
    assert len(imported(Workspace(tmp_path / "ws"))) == 3  # one ranking, two ratings


def test_an_unrated_row_of_a_rated_file_is_skipped_and_counted_not_made_gold(tmp_path, capsys):
    """HelpSteer2's shape with a row nobody rated (every aspect null): it was stored as the prompt's gold (SFT)
    answer without a word. It is skipped as `unrated`, whatever --on-error says, and listed with the rejects; a
    gold file refuses it; a file without aspect columns keeps its gold answers."""
    rows = [
        {"prompt": "Name a colour.", "response": "Blue.", **FULL},
        {"prompt": "Name a colour.", "response": "Rocks.", **dict.fromkeys(FULL)},
    ]
    for fmt in ("parquet", "jsonl"):  # a null cell, or the keys left out: alike
        path = tmp_path / f"helpsteer2.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(rows), path)
        else:
            write(path, rows[0], {"prompt": "Name a colour.", "response": "Rocks."})
        ws = tmp_path / f"ws-{fmt}"
        for on_error in ("fail", "skip"):
            assert main(["import", "-w", str(ws), "--on-error", on_error, str(path)]) == 0
            out = capsys.readouterr().out
            assert "records 2" in out and "; skipped 1 record (unrated 1), listed in" in out, out
        workspace = Workspace(ws)
        assert [r["gold"] for r in workspace.read("prompts").to_pylist()] == [None]
        assert [r["text"] for r in workspace.read("completions").to_pylist()] == ["Blue."]
        for rejects in (ws / "imports").glob("*.rejects.jsonl"):  # one per import
            assert [json.loads(line)["reason"] for line in rejects.read_text().splitlines()] == ["unrated"]
        assert main(["gold", "-w", str(ws), str(path)]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}, row 1, field 'helpfulness': the row's aspect columns (helpfulness, correctness, "
            "coherence, complexity, verbosity) are empty, as other rows of the file give them: an answer nobody "
            "rated, nothing to make gold; leave the row out\n"
        )
    sft = write(tmp_path / "sft.jsonl", {"prompt": "Gold?", "response": "An SFT answer.", "verbosity": None})
    assert main(["import", "-w", str(tmp_path / "sft"), str(sft)]) == 0
    assert Workspace(tmp_path / "sft").read("prompts").column("gold").to_pylist() == ["An SFT answer."]


def test_ratings_and_rankings_in_the_types_data_sets_write_them_read_as_their_integers(tmp_path, capsys):
    """UltraFeedback writes ratings as text ("3"), accepted in columns and refused in a ratings object; a Parquet
    ranking column of floats (list<double>, [1.0, 2.0, 3.0]) was refused as "1.0 is not an answer number"."""
    texts = {aspect: str(value) for aspect, value in FULL.items()}
    rows = [
        {"prompt": "Say hi.", "response": "Hello!", "ratings": texts},
        {"prompt": "Pick.", "completions": ["x", "y"], "ratings": [texts, {**FULL, "helpfulness": 2.0}]},
    ]
    path = write(tmp_path / "text.jsonl", *rows)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0, capsys.readouterr().err
    ratings = sorted(r["ratings"] for r in imported(Workspace(tmp_path / "ws")))
    assert ratings == sorted([stored(FULL)] * 2 + [stored({**FULL, "helpfulness": 2})])
    bad = write(
        tmp_path / "bad.jsonl",
        {"prompt": "Say hi.", "response": "Hey", "ratings": {**FULL, "coherence": "3.5"}},
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(bad)]) == 2
    assert capsys.readouterr().err == (
        f"error: {bad}, row 0, field 'ratings': coherence '3.5' is not an integer in 0..4\n"
    )

    ranked = tmp_path / "ranked.parquet"
    table = pa.table({"prompt": ["Capital of France?"], "completions": [["Rome.", "Paris.", "Lyon."]]})
    pq.write_table(
        table.append_column("ranking", pa.array([[2.0, 3.0, 1.0]], pa.list_(pa.float64()))), ranked
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(ranked)]) == 0, capsys.readouterr().err
    (label,) = [r for r in imported(Workspace(tmp_path / "ws")) if r["task"] == "rank"]
    ids = {r["text"]: r["id"] for r in Workspace(tmp_path / "ws").read("completions").to_pylist()}
    assert label["ranking"] == canonical([[ids["Paris."]], [ids["Lyon."]], [ids["Rome."]]])
    pq.write_table(
        table.append_column("ranking", pa.array([[2.5, 3.0, 1.0]])), half := tmp_path / "half.parquet"
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(half)]) == 2
    assert "field 'ranking': 2.5 is not an answer number" in capsys.readouterr().err


def test_an_answer_object_without_content_names_the_keys_it_gives_and_those_read(tmp_path, capsys):
    path = write(
        tmp_path / "objects.jsonl", {"prompt": "Q?", "completions": [{"answer": "a"}, {"answer": "b"}]}
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'completions[0]': the answer object has no content (keys: answer): its "
        "text is one of content, value, text, completion, response\n"
    )


def test_with_unlabelled_an_unrated_row_of_a_rated_file_is_its_answer_as_a_rated_one_is(tmp_path, capsys):
    """`--unlabelled` stores a rated row's answer alone, for people to rate; a row nobody rated is such an answer
    too: it was skipped as `unrated`, the answers most in need of a rating left out."""
    rows = [
        {"prompt": "Name a colour.", "response": "Blue.", **FULL},
        {"prompt": "Name a colour.", "response": "Rocks.", **dict.fromkeys(FULL)},
    ]
    path = tmp_path / "helpsteer2.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert main(["import", "-w", str(tmp_path / "ws"), "--unlabelled", str(path)]) == 0
    out = capsys.readouterr().out
    assert "new_completions 2," in out and "skipped" not in out, out
    workspace = Workspace(tmp_path / "ws")
    assert sorted(workspace.read("completions").column("text").to_pylist()) == ["Blue.", "Rocks."]
    assert workspace.read("prompts").column("gold").to_pylist() == [None]
    assert workspace.read("labels").num_rows == 0


RATED_OBJECTS = [
    {"prompt": "Say hi.", "response": "Hello!", "ratings": FULL}
]  # a file that rates with objects


def test_a_row_without_ratings_in_a_file_of_ratings_objects_is_unrated(tmp_path, capsys):
    """`"ratings": null` or `""` beside rows whose ratings objects are valid was stored as the prompt's gold (SFT)
    answer without a word ({} was refused): it is an answer nobody rated, as in a file of aspect columns."""
    for value in (None, ""):
        path = write(
            tmp_path / "rated.jsonl", *RATED_OBJECTS, {"prompt": "2 + 2?", "response": "4", "ratings": value}
        )
        ws = tmp_path / f"ws-{value!r}"
        assert main(["import", "-w", str(ws), str(path)]) == 0
        assert "; skipped 1 record (unrated 1), listed in" in capsys.readouterr().out
        assert Workspace(ws).read("prompts").column("gold").to_pylist() == [None]
        assert main(["import", "-w", str(tmp_path / f"bare-{value!r}"), "--unlabelled", str(path)]) == 0
        texts = Workspace(tmp_path / f"bare-{value!r}").read("completions").column("text").to_pylist()
        assert sorted(texts) == ["4", "Hello!"]
        assert main(["gold", "-w", str(ws), str(path)]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}, row 1, field 'ratings': the row gives no ratings, as other rows of the file do: an "
            "answer nobody rated, nothing to make gold; leave the row out\n"
        )


def test_only_valid_ratings_make_a_file_one_that_rates(tmp_path, capsys):
    """One row with every aspect column but a bad value made every unrated row of the file `unrated`: with
    --on-error skip the whole file was refused ("all 2 skipped"). The bad row is skipped; the gold answer stays."""
    rows = [
        {"prompt": "q", "response": "a", **FULL, "coherence": "x"},
        {"prompt": "Gold?", "response": "gold"},
    ]
    path = write(tmp_path / "bad.jsonl", *rows)
    assert main(["import", "-w", str(tmp_path / "ws"), "--on-error", "skip", str(path)]) == 0
    assert "skipped 1 record (bad_ratings 1)" in capsys.readouterr().out
    assert Workspace(tmp_path / "ws").read("prompts").column("gold").to_pylist() == ["gold"]


def test_a_bad_aspect_column_is_named_not_the_first(tmp_path, capsys):
    path = write(tmp_path / "cols.jsonl", {"prompt": "q", "response": "a", **FULL, "coherence": "x"})
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'coherence': coherence 'x' is not an integer in 0..4\n"
    )


def test_a_rated_answer_stored_under_another_source_says_which_and_that_source_rates_it(tmp_path, capsys):
    """An answer's id is its prompt, text and source (the file's name): "Paris." ranked by `ranked.jsonl` and rated
    by `ratings.jsonl` was refused as "its answer 'Paris.' is not stored", though it is."""
    ranked = write(
        tmp_path / "ranked.jsonl",
        {"prompt": "Capital of France?", "completions": ["Rome.", "Paris.", "Lyon."], "ranking": "2 > 3 > 1"},
    )
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(ranked)]) == 0
    ratings = write(
        tmp_path / "ratings.jsonl", {"prompt": "Capital of France?", "response": "Paris.", "ratings": FULL}
    )
    capsys.readouterr()
    assert main(["import", "-w", str(ws), str(ratings)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {ratings}, row 0: its answer 'Paris.' is stored under source ranked, not this import's 'ratings' "
        "(the file's name, or --source): as a new answer it would "
    ), err
    assert "import the file with --source ranked to label the stored answer, or leave the row out" in err
    assert main(["import", "-w", str(ws), str(ratings), "--source", "ranked"]) == 0  # the advice works
    paris = [r for r in Workspace(ws).read("completions").to_pylist() if r["text"] == "Paris."]
    assert len(paris) == 1
    assert [r["item_id"] for r in imported(Workspace(ws)) if r["task"] == "rate"] == [paris[0]["id"]]


@pytest.mark.parametrize("value", ["", None, "left out"])
def test_an_empty_ranking_is_no_ranking_its_answers_are_candidates(tmp_path, capsys, value):
    """`"ranking": ""` (a CSV's empty cell) reads as a missing ranking, as `"ratings": ""` reads as missing ratings:
    the row's answers are candidates, an unranked rank item for the app's labellers (README: rank imports), not an
    error and not a ranking."""
    unranked = {"prompt": "Largest planet?", "completions": ["Mars.", "Jupiter.", "Saturn."]}
    row = unranked if value == "left out" else {**unranked, "ranking": value}
    path = write(tmp_path / "ranked.jsonl", RANKED[0], row)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 0
    # the ranked row's one label; the other row's answers a candidate pair (--pairs-per-prompt 1)
    assert "new_labels 1, new_pairs 1," in capsys.readouterr().out
    ws = Workspace(tmp_path / "ws")
    assert [r["item_id"] for r in imported(ws)] == [item_of("Capital of France?")]
    assert set(rank_items(ws)) == {item_of("Capital of France?"), item_of("Largest planet?")}


def test_ratings_and_ranking_numbers_are_ascii_digits_and_a_long_one_is_echoed_cut(tmp_path, capsys):
    """int() reads "٣" and a fullwidth "３" as 3: an import stored them as ratings and rankings. A ranking number
    1e300 was echoed in all its 301 digits; 5,000 digits (a rating or a ranking) ended in a ValueError traceback
    (int() refuses them). Each is one line naming the file, row and field, its value cut to one line's worth."""
    big = "1" * 5000
    cases = [
        ({"ratings": {**FULL, "helpfulness": "٣"}}, "'ratings': helpfulness '٣' is not an integer in 0..4"),
        ({**FULL, "helpfulness": "３"}, "'helpfulness': helpfulness '３' is not an integer in 0..4"),
        (
            {"ratings": {**FULL, "helpfulness": big}},
            f"'ratings': helpfulness '{'1' * 39}…' is not an integer",
        ),
        (
            {"completions": ["a", "b", "c"], "ranking": "٢ > 1 > 3"},
            "'ranking': ranking '٢ > 1 > 3': use the answer",
        ),
        (
            {"completions": ["a", "b", "c"], "ranking": [1e300, 1, 2]},
            "'ranking': ranking '1000000000000000052",
        ),
        ({"completions": ["a", "b", "c"], "ranking": f"{big} > 1 > 2"}, f"'ranking': ranking '{'1' * 39}…':"),
    ]
    for n, (given, said) in enumerate(cases):
        path = write(tmp_path / f"case{n}.jsonl", {"prompt": "Q?", "response": "R", **given})
        assert main(["init", "-w", str(tmp_path / f"ws{n}")]) == 0
        for command in ("import", "gold"):
            assert main([command, "-w", str(tmp_path / f"ws{n}"), str(path)]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: {path}, row 0, field {said}"), err
            assert len(err) - len(str(path)) < 160, err  # the value cut short, however long the tests' folder
    with pytest.raises(RankingError, match="use the answer numbers 1-3"):
        screen_ranking("３>1>2", ["x1", "x2", "x3"])  # the rank app reads what a labeller types alike


@pytest.mark.parametrize("command", ["import", "gold"])
def test_a_rating_of_json_nan_is_said_to_count_as_not_rated(tmp_path, capsys, command):
    """A JSON NaN counts as null, but the line said "helpfulness not rated yet", as if no value had been given."""
    nan = {**FULL, "helpfulness": float("nan")}
    rows = [
        ({"prompt": "3 + 3?", "response": "6", "ratings": nan}, "ratings"),
        ({"prompt": "Hi?", "completions": ["Hey.", "Go."], "ratings": [FULL, nan]}, "ratings[1]"),
        (
            {
                "prompt": "Hi?",
                "completions": [{"text": "Hey.", "ratings": nan}, {"text": "Go.", "ratings": FULL}],
            },
            "completions[0].ratings",
        ),
    ]
    ws = tmp_path / "ws"
    assert main(["init", "-w", str(ws)]) == 0
    for i, (one, field) in enumerate(rows):
        path = write(tmp_path / f"nan{i}.jsonl", one)  # json.dumps writes the float as NaN
        assert main([command, "-w", str(ws), str(path)]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}, row 0, field '{field}': rate every aspect: helpfulness is NaN, which counts as not rated\n"
        )
