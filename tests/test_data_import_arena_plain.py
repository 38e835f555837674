"""A plain preference file (no labeller column), `--unlabelled`, or a `completions` list over the arena's answer texts
made new ordinary answers and `imported` pairs of the same texts (`new_completions 3, new_pairs 2`): the labelling,
KTO, rank and rate apps served the arena's answers, and exports trained on them. The arena's texts never become
ordinary pairs: a preference over an arena pair naming no labeller is refused by name (`arena_vote_unnamed`: the
leaderboard counts people's votes, and the import's annotator is none), answers to pair that arena pairs hold already
are counted (`arena_pair_exists`), not stored again, and a row over an arena answer and no arena pair is refused
(`arena_answer`), as a labeller's row is. A KTO row naming no labeller alike: a label on an arena answer is refused
(`arena_answer`), an answer to label that is the arena's counted (`arena_answer_exists`). `--remove` of a file whose
import left such a row out says to give `--on-error skip` again."""

from __future__ import annotations

import pytest

from data import Workspace
from data.__main__ import main as data_main
from data.selection import stored_arena_answers
from tests.test_data_import_arena_votes import arena_ws, vote_rows, write, ws  # noqa: F401
from tests.test_generate_arena import three_models  # noqa: F401

NEW = "an answer no model gave"


def plain_rows(workspace: Workspace) -> list[dict]:
    """Two arena pairs' rows naming no labeller, then one over an arena answer and a new text."""
    rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in vote_rows(workspace)[:2]]
    return [*rows, rows[0] | {"rejected": NEW}]


def arena_prompt(workspace: Workspace) -> tuple[str, list[str]]:
    """The first arena pair's prompt text, and the texts of the arena's answers to it, sorted."""
    pairs = workspace.frame("pairs").sort_values("id")
    prompt_id = pairs["prompt_id"].iloc[0]
    ids = set(pairs.query("prompt_id == @prompt_id")[["completion_a", "completion_b"]].to_numpy().ravel())
    text = workspace.frame("completions").set_index("id")["text"]
    answers = sorted(text[id_] for id_ in ids)
    assert len(answers) == 3  # m0, m1 and m2's, each two an arena pair
    prompt = workspace.frame("prompts").set_index("id")["messages"][prompt_id][-1]["content"]
    return prompt, answers


def held(workspace: Workspace) -> tuple[int, int, set]:
    return (
        len(workspace.frame("completions")),
        len(workspace.frame("pairs")),
        set(stored_arena_answers(workspace).to_pylist()),
    )


def test_a_plain_preference_over_the_arenas_answers_is_refused_by_name(ws, tmp_path, capsys):  # noqa: F811
    workspace = Workspace(ws)
    before = held(workspace)
    other = {"prompt": "a prompt of no arena", "chosen": "yes", "rejected": "no"}
    plain = write(tmp_path / "plain.jsonl", [*plain_rows(workspace), other])
    assert data_main(["import", "-w", str(ws), str(plain)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert "plain.jsonl, row 0, field 'chosen': the chosen and rejected answers are an arena pair's" in err
    assert "names no labeller" in err and err.endswith("(--on-error skip leaves them out)")
    assert held(workspace) == before  # nothing written
    assert data_main(["import", "-w", str(ws), str(plain), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert (
        "records 4" in out and "new_pairs 1" in out and "new_completions 2" in out
    )  # the other prompt's row
    assert "skipped 3 records (arena_answer 1, arena_vote_unnamed 2)" in out  # every row once, by reason
    completions, pairs, arena = held(workspace)
    assert (completions, pairs, arena) == (before[0] + 2, before[1] + 1, before[2])
    texts = set(workspace.frame("completions").query("engine == 'import'")["text"])
    assert texts == {"yes", "no"}  # no arena text made an ordinary answer
    assert len(workspace.frame("labels")) == 1  # the other prompt's row's label alone


def test_unlabelled_rows_over_the_arenas_pairs_are_counted_not_stored_again(ws, tmp_path, capsys):  # noqa: F811
    workspace = Workspace(ws)
    before = held(workspace)
    plain = write(tmp_path / "plain.jsonl", plain_rows(workspace))
    assert data_main(["import", "-w", str(ws), "--unlabelled", str(plain)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert "plain.jsonl, row 2, field 'chosen': the chosen answer is one the arena gave to this prompt" in err
    assert "pairing it for labelling would make it an ordinary answer" in err
    assert held(workspace) == before
    assert data_main(["import", "-w", str(ws), "--unlabelled", str(plain), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "arena_pair_exists 2" in out and "records 3" in out and "skipped 1 record (arena_answer 1)" in out
    assert "new_" not in out and "nothing new" not in out
    assert held(workspace) == before  # no answer or pair stored again, every arena answer still the arena's


def test_a_completions_list_of_the_arenas_answers_is_counted_or_refused(ws, tmp_path, capsys):  # noqa: F811
    workspace = Workspace(ws)
    before = held(workspace)
    prompt, answers = arena_prompt(workspace)
    rows = [{"prompt": prompt, "completions": answers}, {"prompt": prompt, "completions": [answers[0], NEW]}]
    rows.append({"prompt": prompt, "completions": answers[:1] * 2})  # one arena answer, twice: none to pair
    cands = write(tmp_path / "cands.jsonl", rows)
    assert data_main(["import", "-w", str(ws), str(cands)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert "cands.jsonl, row 1, field 'completions': one of the answers is one the arena gave" in err
    assert data_main(["import", "-w", str(ws), str(cands), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "arena_pair_exists 1" in out and "skipped 1 record (arena_answer 1)" in out
    assert "arena_answer_exists 1" in out and "records 3" in out
    assert held(workspace) == before


@pytest.mark.parametrize("labeller", ["bob", None])
def test_remove_of_a_file_whose_import_left_an_arena_row_out_counts_it(
    ws,  # noqa: F811
    tmp_path,
    capsys,
    labeller,
):
    """--remove reads a labeller's file as its import did: the row the import left out (--on-error skip) is refused
    again without the flag, which the refusal names; with it, counted and passed over. A plain file's rows it reads
    as an import before 2026-12-07 stored them (below): those the import left out, its log lists, counted so."""
    workspace = Workspace(ws)
    rows = vote_rows(workspace, labeller or "x")[:3]
    if labeller is None:  # a plain file: three rows over an arena answer and a new text, one of no arena
        rows = [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": NEW} for r in rows]
        rows.append({"prompt": "a prompt of no arena", "chosen": "yes", "rejected": "no"})
    rows[1]["rejected"] = NEW
    path = write(tmp_path / "rows.jsonl", rows)
    assert data_main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    skipped = 1 if labeller else 3
    assert (
        f"skipped {skipped} record{'s' * (skipped > 1)} (arena_answer {skipped})" in capsys.readouterr().out
    )
    if labeller:
        assert data_main(["import", "-w", str(ws), "--remove", str(path)]) == 2
        [err] = capsys.readouterr().err.splitlines()
        assert "rows.jsonl, row 1, field 'chosen': the chosen answer is one the arena gave" in err
        assert err.endswith("(--on-error skip leaves them out, as an import with it did)")
    flags = ["--on-error", "skip"] if labeller else []
    assert data_main(["import", "-w", str(ws), "--remove", str(path), *flags]) == 0
    out = capsys.readouterr().out
    assert f"withdrew the labels of {path}: {len(rows) - skipped} (preferences {len(rows) - skipped})" in out
    assert f"{skipped} row{'s' * (skipped > 1)} skipped at import (arena_answer), never stored" in out


def test_remove_withdraws_what_an_import_before_the_arena_check_stored(ws, tmp_path, capsys):  # noqa: F811
    """Leftover of the review above: an import before 2026-12-07 stored a plain file's rows over the arena's texts
    as new answers and `imported` pairs (a KTO row's: a new answer), each with the import's label. `--remove` of
    that file refused those rows (`arena_vote_unnamed`, `arena_answer`) and, with `--on-error skip`, counted them
    "never stored", so their labels, which exports train on, could not be withdrawn. It reads them as that import
    did: withdrawn."""
    from data import Completion, Label, Pair
    from data.annotators import IMPORT
    from data.records import content_id

    workspace = Workspace(ws)
    prompts = workspace.frame("prompts")
    prompt_id = {messages[-1]["content"]: id_ for id_, messages in zip(prompts["id"], prompts["messages"])}
    preferences, kto = plain_rows(workspace), kto_rows(workspace, True)[:3]
    stored = []  # as that import stored them (`data.import_rows.to_records` without the arena's check)
    for row, r in enumerate(preferences):
        a, b = (
            Completion(prompt_id[r["prompt"]], r[side], "plain", "import") for side in ("chosen", "rejected")
        )
        pair = Pair(
            a.prompt_id, a.id, b.id, kind="imported", id=content_id("import-pair", "plain", row, a.id, b.id)
        )
        stored += [
            a,
            b,
            pair,
            Label(pair.id, IMPORT, "pairwise", "a", id=content_id("import-label", pair.id)),
        ]
    for row, r in enumerate(kto):
        answer = Completion(prompt_id[r["prompt"]], r["completion"], "kto", "import")
        label_id = content_id("import-label", "kto", row, answer.id, "desirable")
        stored += [answer, Label(answer.id, IMPORT, "kto", "desirable", id=label_id)]
    workspace.append(stored)
    plain, labelled = write(tmp_path / "plain.jsonl", preferences), write(tmp_path / "kto.jsonl", kto)
    assert data_main(["import", "-w", str(ws), "--remove", str(plain), "--remove", str(labelled)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"withdrew the labels of {plain}: 3 (preferences 3)",
        f"withdrew the labels of {labelled}: 3 (KTO labels 3)",
    ]
    assert workspace.frame("labels")["retracted"].sum() == 6
    assert data_main(["export", "-w", str(ws), "--format", "kto"]) == 2  # nothing left to train on


def test_an_arena_pair_over_an_answer_it_reused_is_still_its_pair(ws, tmp_path, capsys):  # noqa: F811
    """A review: where the arena reused a sampled answer (an ordinary one) beside its own, a plain row over that
    arena pair was refused `arena_answer`, saying its answers are no arena pair, and an `--unlabelled` one too, where
    a labeller's row is a vote on it. They are that pair's: refused `arena_vote_unnamed`, counted
    `arena_pair_exists`."""
    from data import Completion, Pair

    workspace = Workspace(ws)
    first = workspace.frame("pairs").sort_values("id").iloc[0]
    plain = write(tmp_path / "plain.jsonl", plain_rows(workspace)[:1])  # over the first pair: before another
    sampled = Completion(first.prompt_id, "a sampled answer", "m9", "hf")  # its pair makes side a ordinary
    workspace.append(
        [sampled, Pair(first.prompt_id, *sorted((first.completion_a, sampled.id)), kind="sampled")]
    )
    assert first.completion_a not in set(stored_arena_answers(workspace).to_pylist())
    before = held(workspace)
    assert data_main(["import", "-w", str(ws), str(plain)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert "row 0, field 'chosen': the chosen and rejected answers are an arena pair's" in err
    assert data_main(["import", "-w", str(ws), "--unlabelled", str(plain)]) == 0
    assert "arena_pair_exists 1" in capsys.readouterr().out
    assert held(workspace) == before


def kto_rows(workspace: Workspace, label: bool | None) -> list[dict]:
    """KTO rows naming no labeller on three of the arena's answers (``label``: None, a null one), then one of no
    arena."""
    prompt = workspace.frame("prompts").set_index("id")["messages"]
    answers = workspace.frame("completions").sort_values("id").head(3).itertuples()
    rows = [{"prompt": prompt[r.prompt_id][-1]["content"], "completion": r.text} for r in answers]
    rows.append({"prompt": "a prompt of no arena", "completion": "yes"})
    return [row | {"label": label} for row in rows]


def test_plain_kto_rows_on_the_arenas_answers_make_no_ordinary_answer(ws, tmp_path, capsys):  # noqa: F811
    """Leftover of the review above: a KTO row naming no labeller on an arena answer made a new ordinary answer of
    its text, and its label trained (`new_completions 1, new_labels 1`, a `kto` export's row); `--unlabelled` or a
    null label made the answer for the KTO app's labellers. A label is refused, `arena_answer`, as a preference over
    an arena answer is; answers to label are counted, `arena_answer_exists`, as answers to pair are."""
    workspace = Workspace(ws)
    before, rows = (
        held(workspace),
        kto_rows(workspace, True),
    )  # before an answer of the other prompt is stored
    labelled = write(tmp_path / "kto.jsonl", rows)
    assert data_main(["import", "-w", str(ws), str(labelled)]) == 2
    [err] = capsys.readouterr().err.splitlines()
    assert "kto.jsonl, row 0, field 'completion': the answer is one the arena gave to this prompt" in err
    assert "no export or train reads" in err and err.endswith("(--on-error skip leaves them out)")
    assert held(workspace) == before  # nothing written
    user = {"role": "user", "content": rows[0]["prompt"]}
    said = {"role": "assistant", "content": rows[0]["completion"]}
    chat = write(tmp_path / "chat.jsonl", [{"messages": [user, said], "label": True}])
    assert data_main(["import", "-w", str(ws), str(chat)]) == 2
    assert "chat.jsonl, row 0, field 'messages': the answer is one the arena gave" in capsys.readouterr().err
    assert data_main(["import", "-w", str(ws), str(labelled), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert (
        "new_completions 1" in out and "new_labels 1" in out and "skipped 3 records (arena_answer 3)" in out
    )
    assert data_main(["export", "-w", str(ws), "--format", "kto"]) == 0
    assert "1 row exported (desirable 1)" in capsys.readouterr().out  # the other prompt's row alone
    before = held(workspace)
    unlabelled = write(tmp_path / "cands.jsonl", [row | {"label": None} for row in rows])
    for args in ([str(labelled), "--unlabelled"], [str(unlabelled), "--source", "kto"]):  # the other row held
        assert data_main(["import", "-w", str(ws), *args]) == 0
        out = capsys.readouterr().out
        assert "arena_answer_exists 3" in out and "records 4" in out and "skipped" not in out
        assert held(workspace) == before  # every arena answer still the arena's, no answer made of its text
    texts = set(workspace.frame("completions").query("engine == 'import'")["text"])
    assert texts == {"yes"}


def test_rankings_and_ratings_of_the_arenas_answers_make_no_ordinary_answer(
    ws,  # noqa: F811
    tmp_path,
    capsys,
    monkeypatch,
):
    """A review: a ratings row on an arena answer made a new ordinary answer of its text, served by the rate app,
    its rating trained on (`new_completions 1, new_labels 1`), as a KTO row naming no labeller did. Refused,
    `arena_answer`, a ranking's too; with `--unlabelled` such answers are counted, `arena_answer_exists`. `--remove`
    of a file an import before stored withdraws its labels, as of a plain preference file."""
    from collections import Counter

    from data import import_rows

    workspace = Workspace(ws)
    before = held(workspace)
    prompt, answers = arena_prompt(workspace)
    aspects = {"helpfulness": 4, "correctness": 4, "coherence": 4, "complexity": 0, "verbosity": 1}
    rows = [
        {"prompt": prompt, "response": answers[0], **aspects},
        {"prompt": prompt, "completions": answers, "ranking": "1 > 2 > 3"},
    ]
    for row, field in zip(rows, ("helpfulness", "ranking")):  # the field of its label
        path = write(tmp_path / "rows.jsonl", [row])
        assert data_main(["import", "-w", str(ws), str(path)]) == 2
        [err] = capsys.readouterr().err.splitlines()
        assert f"rows.jsonl, row 0, field '{field}': an answer it r" in err and "one the arena gave" in err
        assert data_main(["import", "-w", str(ws), str(path), "--unlabelled"]) == 0
        assert "arena_answer_exists 1" in capsys.readouterr().out
        assert held(workspace) == before
    mixed = [{"prompt": prompt, "completions": [*answers[:2], NEW], "ranking": "1 > 2 > 3"}]
    assert (
        data_main(["import", "-w", str(ws), str(write(tmp_path / "mixed.jsonl", mixed)), "--unlabelled"]) == 2
    )
    err = (
        capsys.readouterr().err
    )  # answers to rank beside the arena's: its answers would join theirs, no label
    assert "field 'ranking': an answer it ranks is one the arena gave" in err and "no export" not in err
    # an import before the check
    monkeypatch.setattr(import_rows, "_arena_questions", lambda *args: Counter())
    rated = write(tmp_path / "rated.jsonl", rows[:1])
    assert data_main(["import", "-w", str(ws), str(rated)]) == 0
    assert "new_completions 1" in capsys.readouterr().out
    monkeypatch.undo()
    assert data_main(["import", "-w", str(ws), "--remove", str(rated)]) == 0
    assert f"withdrew the labels of {rated}: 1 (ratings 1)" in capsys.readouterr().out


def test_an_arena_pair_without_an_arena_record_is_found(tmp_path, capsys):
    """An arena's pairs stored before its runs were recorded (no `arenas` record): a plain import reads no stored
    answer for the arena's check where the workspace holds no arena (`LabelledPairs.is_arena`), but finds these by
    the kinds of its prompts' pairs."""
    from data import Completion, Pair, Prompt

    workspace = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Which?"}], "p", split="test")
    a, b = (Completion(prompt.id, text, model, "hf") for text, model in (("one", "m0"), ("two", "m1")))
    workspace.append([prompt, a, b, Pair(prompt.id, *sorted((a.id, b.id)), kind="arena")])
    assert len(workspace.frame("arenas")) == 0
    path = write(tmp_path / "plain.jsonl", [{"prompt": "Which?", "chosen": "one", "rejected": "two"}])
    assert data_main(["import", "-w", str(workspace.path), str(path)]) == 2
    assert "arena pair's" in capsys.readouterr().err


def reused_arena(tmp_path) -> Workspace:
    """A prompt "Which?" whose arena pairs are (one, two), (two, three), and (one, reused) and (two, reused) over
    "reused", an ordinary answer (on a sampled pair with "four") the arena reused."""
    from data import Completion, Pair, Prompt

    workspace = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Which?"}], "p", split="test")
    texts = ["one", "two", "three", "four", "reused"]
    answers = {text: Completion(prompt.id, text, f"m{i}", "hf") for i, text in enumerate(texts)}

    def pair(a: str, b: str, kind: str = "arena") -> Pair:
        return Pair(prompt.id, *sorted((answers[a].id, answers[b].id)), kind=kind)

    arena = [pair("one", "two"), pair("two", "three"), pair("one", "reused"), pair("two", "reused")]
    workspace.append([prompt, *answers.values(), *arena, pair("reused", "four", "sampled")])
    assert set(stored_arena_answers(workspace).to_pylist()) == {
        answers[t].id for t in ("one", "two", "three")
    }
    return workspace


def test_answers_the_arena_holds_are_counted_alike_as_a_list_a_preference_or_a_ranking(tmp_path, capsys):
    """A review: an `--unlabelled` 'completions' list (or preference) of answers each the arena's, but not every two
    an arena pair, was refused `arena_answer`, where a ranking of the same answers was counted `arena_answer_exists`;
    and a ranking over arena pairs, one of whose answers the arena reused (an ordinary one), was refused where the
    same list was counted `arena_pair_exists`. One rule counts them alike; a new text beside them is refused."""
    workspace = reused_arena(tmp_path)
    before = held(workspace)
    each, paired, new = ["one", "two", "three"], ["one", "two", "reused"], ["one", "three", NEW]
    for name, row, said in [
        ("list", {"completions": each}, "arena_answer_exists 1"),  # (one, three): no arena pair
        ("preference", {"chosen": "one", "rejected": "three"}, "arena_answer_exists 1"),
        ("ranking", {"completions": each, "ranking": "1 > 2 > 3"}, "arena_answer_exists 1"),
        ("list", {"completions": paired}, "arena_pair_exists 1"),
        ("ranking", {"completions": paired, "ranking": "1 > 2 > 3"}, "arena_pair_exists 1"),
        ("list", {"completions": new}, "error"),
        ("ranking", {"completions": new, "ranking": "1 > 2 > 3"}, "error"),
    ]:
        path = write(tmp_path / f"{name}.jsonl", [{"prompt": "Which?", **row}])
        code = data_main(["import", "-w", str(workspace.path), "--unlabelled", str(path)])
        out, err = capsys.readouterr()
        if said == "error":
            assert code == 2 and "one the arena gave to this prompt" in err, (name, row)
        else:
            assert code == 0 and said in out and "records 1" in out, (name, row, out, err)
        assert held(workspace) == before


def test_a_ranking_or_ratings_beside_an_answer_the_arena_reused_is_counted_only_without_labels(
    tmp_path, capsys
):
    """Counting a row over arena pairs with an answer the arena reused loses nothing only where the row holds no
    label: `--unlabelled` stores answers alone, and that ordinary answer is stored and served already. A ranking or
    ratings row's labels of it (the import's, which no export or train reads beside the arena's answers) are
    refused, `arena_answer`, never counted `arena_pair_exists`; `--unlabelled` ratings are counted as a ranking is."""
    workspace = reused_arena(tmp_path)
    before = held(workspace)
    rating = {"helpfulness": 4, "correctness": 4, "coherence": 4, "complexity": 0, "verbosity": 1}
    texts = ["one", "two", "reused"]
    for name, row in [("ranking", {"ranking": "1 > 2 > 3"}), ("ratings", {"ratings": [rating] * 3})]:
        path = write(tmp_path / f"{name}.jsonl", [{"prompt": "Which?", "completions": texts, **row}])
        assert data_main(["import", "-w", str(workspace.path), str(path)]) == 2, name
        err = capsys.readouterr().err
        assert "one the arena gave to this prompt" in err and "read by no export or train" in err, name
        assert data_main(["import", "-w", str(workspace.path), "--unlabelled", str(path)]) == 0, name
        assert "arena_pair_exists 1" in capsys.readouterr().out, name
        assert held(workspace) == before
