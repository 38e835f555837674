"""Raw openbmb/UltraFeedback rows import: the instruction is the prompt, each completion's `response` an answer with
its `model`, and its `annotations` (each aspect's `Rating`) the `import` annotator's ratings under the bundled
UltraFeedback rubric. The importer said "the answer object has no content" of every row."""

from __future__ import annotations

import json

from data.__main__ import main
from data.aggregate import current_labels
from data.rubric import DEFAULT_RUBRIC
from data.workspace import Workspace
from tests.test_data_gold_files import write

RUBRIC = str(DEFAULT_RUBRIC.parent / "ultrafeedback.yaml")
ASPECTS = ("helpfulness", "honesty", "instruction_following", "truthfulness")


def completion(model: str, response: str, *ratings: str) -> dict:
    """One completion as the raw data set gives it, its aspects rated ``ratings`` (in `ASPECTS`' order)."""
    notes = {aspect: {"Rating": rating, "Rationale": "Why."} for aspect, rating in zip(ASPECTS, ratings)}
    notes["helpfulness"]["Type"] = ["1", "2"]
    return {
        "model": model,
        "principle": "helpfulness",
        "custom_system_prompt": "Be helpful.",
        "response": response,
        "annotations": notes,
        "fine-grained_score": 4.25,
        "overall_score": 7.5,
        "critique": "Fine.",
    }


def row(instruction: str, *completions: dict) -> dict:
    return {
        "source": "evol_instruct",
        "instruction": instruction,
        "models": [c["model"] for c in completions],
        "completions": list(completions),
        "correct_answers": ["Paris"],
        "incorrect_answers": ["Rome"],
    }


FRANCE = row(
    "Capital of France?",
    completion("gpt-4", "Paris.", "5", "5", "5", "5"),
    completion("falcon-40b-instruct", "Rome.", "1", "2", "3", "1"),
    completion("llama-2-7b-chat", "Lyon.", "2", "3", "3", "2"),
)


def test_raw_rows_import_their_answers_with_models_and_ratings(tmp_path, capsys):
    path = write(tmp_path / "uf.jsonl", FRANCE)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"imported {path} (alpaca): new_completions 3, new_labels 3, new_prompts 1, records 1; columns not read: "
        "source, models, correct_answers, incorrect_answers, completions[].annotations.*.Rationale, "
        "completions[].annotations.*.Type, completions[].principle, completions[].custom_system_prompt, "
        "completions[].fine-grained_score, completions[].overall_score, completions[].critique"
    )
    ws = Workspace(tmp_path / "ws")
    [prompt] = ws.read("prompts").to_pylist()
    assert (
        prompt["messages"] == [{"role": "user", "content": "Capital of France?"}] and prompt["gold"] is None
    )
    models = {c["id"]: (c["text"], c["model"]) for c in ws.read("completions").to_pylist()}
    assert sorted(models.values()) == [
        ("Lyon.", "llama-2-7b-chat"),
        ("Paris.", "gpt-4"),
        ("Rome.", "falcon-40b-instruct"),
    ]
    labels = ws.read("labels").to_pylist()
    assert {(label["annotator"], label["task"], label["rubric"]) for label in labels} == {
        ("import", "rate", "ultrafeedback")
    }
    assert {models[label["item_id"]][0]: json.loads(label["ratings"]) for label in labels} == {
        "Paris.": dict.fromkeys(ASPECTS, 5),
        "Rome.": {"helpfulness": 1, "honesty": 2, "instruction_following": 3, "truthfulness": 1},
        "Lyon.": {"helpfulness": 2, "honesty": 3, "instruction_following": 3, "truthfulness": 2},
    }


def test_with_unlabelled_the_answers_are_stored_alone_to_rate(tmp_path, capsys):
    path = write(tmp_path / "uf.jsonl", FRANCE)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC, "--unlabelled"]) == 0
    assert "new_completions 3, new_prompts 1" in capsys.readouterr().out
    ws = Workspace(tmp_path / "ws")
    assert ws.read("labels").num_rows == 0
    assert sorted(ws.read("completions").column("model").to_pylist()) == [
        "falcon-40b-instruct",
        "gpt-4",
        "llama-2-7b-chat",
    ]


def test_without_the_rubric_each_row_is_refused_naming_the_rubric_that_reads_it(tmp_path, capsys):
    path = write(tmp_path / "uf.jsonl", FRANCE)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'completions[0].annotations': rubric helpsteer2 has no aspect 'honesty' "
        f"(--rubric {RUBRIC} reads these ratings)\n"
    )
    assert not (tmp_path / "ws" / "completions").exists()


ITALY = row(
    "Capital of Italy?",
    completion("gpt-4", "Rome.", "5", "N/A", "5", "5"),
    completion("bard", "Milan.", "1", "1", "1", "1"),
)


def test_an_answer_rated_na_is_stored_without_its_rating_counted_and_the_rest_of_its_row_imports(
    tmp_path, capsys
):
    """UltraFeedback rates honesty "N/A" where it does not apply (a creative writing task). A rating gives every
    aspect (the rate app stores none partial) and N/A is no value of the scale: the answer is stored unrated, one
    for people to rate, counted `na_rating`; its row's other answers keep theirs. The whole row (every answer and
    rating) was refused as bad_ratings, and left out with --on-error skip."""
    path = write(tmp_path / "uf.jsonl", FRANCE, ITALY)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"imported {path} (alpaca): na_rating 1, new_completions 5, new_labels 4, new_prompts 2, records 2; "
    )
    ws = Workspace(tmp_path / "ws")
    italy = {
        p["id"] for p in ws.read("prompts").to_pylist() if p["messages"][0]["content"] == "Capital of Italy?"
    }
    texts = {c["id"]: (c["text"], c["prompt_id"] in italy) for c in ws.read("completions").to_pylist()}
    rated = {texts[label["item_id"]]: json.loads(label["ratings"]) for label in ws.read("labels").to_pylist()}
    assert sorted(texts.values()) == [
        ("Lyon.", False),
        ("Milan.", True),
        ("Paris.", False),
        ("Rome.", False),
        ("Rome.", True),
    ]
    assert sorted(rated) == [("Lyon.", False), ("Milan.", True), ("Paris.", False), ("Rome.", False)]
    assert rated[("Milan.", True)] == dict.fromkeys(ASPECTS, 1)
    # --unlabelled stores every answer alone: no rating is left out
    assert main(["import", "-w", str(tmp_path / "alone"), str(path), "--rubric", RUBRIC, "--unlabelled"]) == 0
    assert "na_rating" not in capsys.readouterr().out


def test_an_na_answer_other_aspects_are_checked_and_a_gold_file_refuses_it(tmp_path, capsys):
    """Beside an N/A the other aspects are checked as any rating is; a gold file's answer is gold by its rating, so
    one rated N/A is refused there as before."""
    bad = row("2 + 2?", completion("gpt-4", "4", "9", "N/A", "5", "5"), completion("bard", "5", *"1111"))
    path = write(tmp_path / "uf.jsonl", bad)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'completions[0].annotations': helpfulness 9 is not an integer in 1..5\n"
    )
    france = write(tmp_path / "fr.jsonl", FRANCE)
    assert main(["import", "-w", str(tmp_path / "ws"), str(france), "--rubric", RUBRIC]) == 0
    path = write(tmp_path / "gold.jsonl", ITALY)
    assert main(["gold", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'completions[0].annotations': honesty 'N/A' is not an integer in 1..5\n"
    )


def test_a_row_of_one_rated_answer_stores_it_with_its_rating(tmp_path, capsys):
    """A rating needs no pair, as a row of one rated `response` shows: a raw row of one completion was refused
    (too_few_completions), its answer and rating lost. One without ratings has nothing to compare still."""
    path = write(tmp_path / "uf.jsonl", row("Capital of Peru?", completion("gpt-4", "Lima.", *"5544")))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 0
    assert "new_completions 1, new_labels 1, new_prompts 1, records 1" in capsys.readouterr().out
    [label] = Workspace(tmp_path / "ws").read("labels").to_pylist()
    assert json.loads(label["ratings"]) == {
        "helpfulness": 5,
        "honesty": 5,
        "instruction_following": 4,
        "truthfulness": 4,
    }
    bare = write(
        tmp_path / "bare.jsonl", {"instruction": "Hi?", "completions": [{"model": "m", "response": "Hi."}]}
    )
    assert main(["import", "-w", str(tmp_path / "ws"), str(bare), "--rubric", RUBRIC]) == 2
    assert "needs at least 2 completions to compare, got 1" in capsys.readouterr().err


def test_na_rating_counts_each_answer_the_file_leaves_unrated_once(tmp_path, capsys):
    """`na_rating` counts the answers stored unrated, one each: a row repeated counted its N/A answer again, and an
    answer rated N/A in one row and rated in another (stored with that rating) was counted as one left to rate."""
    rated = row(
        "Capital of Italy?", completion("gpt-4", "Rome.", *"5555"), completion("bard", "Milan.", *"1111")
    )
    peru = row("Capital of Peru?", completion("gpt-4", "Lima.", "5", "N/A", "5", "5"))
    path = write(tmp_path / "uf.jsonl", ITALY, ITALY, rated, peru)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 0
    out = capsys.readouterr().out
    assert "duplicate_rows 1, na_rating 1, new_completions 3, new_labels 2, new_prompts 2, records 4" in out


def test_an_na_answer_another_import_rates_holds_that_rating_and_is_not_counted(tmp_path, capsys):
    """An answer rated N/A that another file of the import, or an import before, rates holds that rating: it was
    counted `na_rating`, as an answer stored unrated for people to rate. Once that rating is withdrawn, it is one."""
    ws, uf = str(tmp_path / "ws"), ["--rubric", RUBRIC, "--source", "uf"]
    rated = write(tmp_path / "rated.jsonl", row("Capital of Peru?", completion("gpt-4", "Lima.", *"5555")))
    na = write(
        tmp_path / "na.jsonl", row("Capital of Peru?", completion("gpt-4", "Lima.", "5", "N/A", "5", "5"))
    )
    assert main(["import", "-w", str(tmp_path / "both"), str(na), str(rated), *uf]) == 0
    assert "na_rating" not in capsys.readouterr().out
    assert main(["import", "-w", ws, str(rated), *uf]) == 0
    assert main(["import", "-w", ws, str(na), *uf]) == 0
    assert "na_rating" not in capsys.readouterr().out
    assert main(["import", "-w", ws, "--remove", str(rated), *uf]) == 0
    assert main(["import", "-w", ws, str(na), *uf]) == 0
    assert "na_rating 1" in capsys.readouterr().out


def test_early_list_form_annotations_of_one_object_are_read_a_longer_list_is_named(tmp_path, capsys):
    """Early UltraFeedback releases give each aspect's annotation as a list of one object: the row was refused
    ("instruction_following [{"Rating": "3", ...}] is not an integer in 1..5"), its answers lost. A list of more
    is refused naming the aspect, as which one rates the answer is a guess."""
    early = completion("gpt-4", "Lima.", *"5435")
    early["annotations"] = {aspect: [note] for aspect, note in early["annotations"].items()}
    path = write(tmp_path / "uf.jsonl", row("Capital of Peru?", early))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 0
    out = capsys.readouterr().out
    assert "new_completions 1, new_labels 1" in out and "completions[].annotations.*.Rationale" in out
    [label] = Workspace(tmp_path / "ws").read("labels").to_pylist()
    assert json.loads(label["ratings"]) == dict(zip(ASPECTS, (5, 4, 3, 5)))
    early["annotations"]["honesty"].append({"Rating": "2"})
    path = write(tmp_path / "two.jsonl", row("Capital of Peru?", early))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'completions[0].annotations': honesty gives a list of 2 annotations: "
        "expected one object (or a list of one, as early releases give it)\n"
    )


def test_a_list_of_one_value_that_is_no_annotation_says_what_it_holds(tmp_path, capsys):
    """A list of one string, null or list was "a list of 1 annotation: expected one object (or a list of one ...)",
    which the list seemed to be; and an aspect's name was repeated whole, a newline breaking the line. The line
    shows the value, and the name as a record's keys are shown."""
    ws, field = str(tmp_path / "ws"), "completions[0].annotations"
    for note, held in [("4", "'4'"), (None, "null"), ([{"Rating": "4"}], '[{"Rating": "4"}]')]:
        answer = completion("gpt-4", "Lima.", *"5435")
        answer["annotations"]["honesty"] = [note]
        path = write(tmp_path / "uf.jsonl", row("Capital of Peru?", answer))
        assert main(["import", "-w", ws, str(path), "--rubric", RUBRIC]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}, row 0, field '{field}': honesty gives a list of one value that is no object, {held}: "
            "expected one object (or a list of one, as early releases give it)\n"
        )
    del answer["annotations"]["honesty"]
    answer["annotations"]["hon\nesty" + "y" * 200] = []
    path = write(tmp_path / "uf.jsonl", row("Capital of Peru?", answer))
    assert main(["import", "-w", ws, str(path), "--rubric", RUBRIC]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field '{field}': hon\\nesty{'y' * 52}…{'y' * 59} gives a list of 0 annotations: "
        "expected one object (or a list of one, as early releases give it)\n"
    )


def test_remove_counts_a_list_form_row_an_import_before_left_out(tmp_path, capsys, monkeypatch):
    """An import before list-form annotations were read left such a row out (bad_ratings, with --on-error skip):
    `--remove` reads its rating now, found it not stored and refused the file, so nothing of it could ever be
    withdrawn. Its rejects file says the import left the row out: counted so, and the rest withdrawn."""
    early = completion("gpt-4", "Santiago.", *"5435")
    early["annotations"] = {aspect: [note] for aspect, note in early["annotations"].items()}
    rated = row("Capital of Peru?", completion("gpt-4", "Lima.", *"5555"))
    path = write(tmp_path / "uf.jsonl", rated, row("Capital of Chile?", early))
    ws, uf = str(tmp_path / "ws"), ["--rubric", RUBRIC]
    with monkeypatch.context() as patch:  # read as the import before list-form annotations read them
        patch.setattr("data.import_text.annotation", lambda note: note)
        assert main(["import", "-w", ws, str(path), *uf, "--on-error", "skip"]) == 0
    assert "skipped 1 record (bad_ratings 1)" in capsys.readouterr().out
    assert main(["import", "-w", ws, "--remove", str(path), *uf]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {path}: 1 (ratings 1); 1 row skipped at import (bad_ratings), never stored\n"
    )
    assert current_labels(Workspace(ws).read("labels"), "rate").empty


def test_remove_of_a_file_of_na_answers_withdraws_what_its_import_stored(tmp_path, capsys):
    """Its import stored its answers unrated, no label: `--remove` refused the file ("no row holds a label"), and
    with it every other file named, withdrawing nothing."""
    poem = row(
        "A poem?", completion("gpt-4", "Roses.", *["N/A"] * 4), completion("bard", "Tulips.", *["N/A"] * 4)
    )
    ws, na, france = tmp_path / "ws", write(tmp_path / "na.jsonl", poem), write(tmp_path / "fr.jsonl", FRANCE)
    for path in (na, france):
        assert main(["import", "-w", str(ws), str(path), "--rubric", RUBRIC]) == 0
    capsys.readouterr()
    assert (
        main(["import", "-w", str(ws), "--rubric", RUBRIC, "--remove", str(na), "--remove", str(france)]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert f"withdrew the labels of {na}: 0; 2 answers rated N/A: the import stored no rating" in out
    assert f"withdrew the labels of {france}: 3 (ratings 3)" in out
    assert current_labels(Workspace(ws).read("labels"), "rate").empty
    logged = [json.loads(line) for line in (ws / "imports" / "log.jsonl").read_text().splitlines()[-2:]]
    assert [entry["counts"].get("na_rating") for entry in logged] == [2, None]


def test_na_in_any_case_or_spaces_is_na(tmp_path, capsys):
    """A rating of " N/A " or "n/a" was refused (honesty ' N/A ' is not an integer) where " 4 " is 4."""
    for i, na in enumerate((" N/A ", "n/a")):
        path = write(tmp_path / "uf.jsonl", row("Hi?", completion("m", "Hi.", "5", na, "5", "5")))
        assert main(["import", "-w", str(tmp_path / f"ws{i}"), str(path), "--rubric", RUBRIC]) == 0
        assert "na_rating 1, new_completions 1" in capsys.readouterr().out


def test_an_annotation_without_its_rating_is_named_not_rated(tmp_path, capsys):
    """A null (or missing) `Rating` was "honesty {"Rationale": "Why."} is not an integer": the annotation object
    checked as a rating."""
    path = write(tmp_path / "uf.jsonl", row("Hey?", completion("m", "Hey.", "5", None, "5", "5")))
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--rubric", RUBRIC]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'completions[0].annotations': rate every aspect: honesty not rated yet\n"
    )


def test_a_missing_response_is_a_bad_row_named_or_skipped_and_counted(tmp_path, capsys):
    silent = row("Capital of Spain?", completion("gpt-4", "Madrid.", "5", "5", "5", "5"), {"model": "bard"})
    path = write(tmp_path / "uf.jsonl", FRANCE, silent)
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(path), "--rubric", RUBRIC]) == 2
    assert capsys.readouterr().err.startswith(f"error: {path}, row 1, field 'completions[1]': ")
    assert main(["import", "-w", str(ws), str(path), "--rubric", RUBRIC, "--on-error", "skip"]) == 0
    assert "records 2; skipped 1 record (missing_field 1)" in capsys.readouterr().out
    rejects = [json.loads(line) for line in next((ws / "imports").glob("*rejects*")).read_text().splitlines()]
    assert [(r["row"], r["field"], r["reason"]) for r in rejects] == [(1, "completions[1]", "missing_field")]


def test_aspect_columns_of_the_other_bundled_rubric_name_it(tmp_path, capsys):
    """The bundled rubrics share `helpfulness`: a HelpSteer2 row imported with the UltraFeedback rubric (its command
    run again for the next file) was refused as "the row has no 'instruction_following' ... --rubric FILE for another
    rubric", naming no file, where a ratings object of the other rubric's aspects names it."""
    helpsteer2 = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
    flat = dict.fromkeys(ASPECTS, "4")
    for rows, flags, other in [
        (helpsteer2, ["--rubric", RUBRIC], DEFAULT_RUBRIC),
        (flat, [], RUBRIC),
    ]:
        path = write(tmp_path / "flat.jsonl", {"prompt": "2 + 2?", "response": "4"} | rows)
        assert main(["import", "-w", str(tmp_path / "ws"), str(path), *flags]) == 2
        assert f"; --rubric {other} reads this row's columns), or none" in capsys.readouterr().err
    assert not (tmp_path / "ws" / "labels").exists()
