"""Rank and rate gold from files (`python -m data gold -w WS FILE` with rows of a prompt, its answers and a ranking
or ratings): matched to the stored rank items and rated answers by content, whatever the file's name; new answers
added once; every refusal one line naming the file, the row and the field, with the workspace unchanged byte for
byte; the gold then measures the labellers as the admin tab's "make gold" does."""

from __future__ import annotations

import json

import pytest

import data.__main__ as data_main
from data.__main__ import main
from data.gold import rank_items, read_gold
from data.ranking import canonical, rank_item_id
from data.records import Completion, Label, Prompt
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL, STORED, build
from tests.test_data_import_errors import digest

LOW = {**FULL, "helpfulness": 0, "correctness": 1}
LOW_STORED = json.dumps(LOW, sort_keys=True, separators=(",", ":"))


def gold(ws, *args) -> int:
    return main(["gold", "-w", str(ws.path), *args])


def texts(i: int, ks) -> list[str]:
    return [f"answer {i}.{k}" for k in ks]


def test_rank_and_rate_gold_files_mark_the_stored_items_and_measure_their_labellers(tmp_path, capsys):
    """The rows list the answers in their own order and name no id; the gold shows where the admin tab's does.
    The summary counts the stored items of split train made gold (they leave the training data), as it does of
    pairs and completions: of rank and rate items it said nothing. A rerun (all gold already) counts none."""
    ws, items, answers = build(tmp_path / "ws")
    c = answers[0]
    ws.append(
        [
            Label(items[0], "ann", "rank", None, ranking=canonical([[c[2]], [c[0], c[3]], [c[1]]])),
            Label(c[0], "ann", "rate", None, ratings=STORED, rubric="helpsteer2"),
            Label(c[1], "ann", "rate", None, ratings=STORED, rubric="helpsteer2"),
        ]
    )
    rank_row = {"prompt": "Question 0?", "completions": texts(0, (3, 1, 2, 0)), "ranking": "3 > 1 = 4 > 2"}
    one = {"prompt": "Question 0?", "response": "answer 0.0", "ratings": FULL}
    listed = {"prompt": "Question 0?", "completions": texts(0, (1, 2)), "ratings": [LOW, FULL]}
    new = {"prompt": "Another?", "response": "a new answer", "ratings": FULL}
    path = write(tmp_path / "gold.jsonl", rank_row, one, listed, one, new)
    capsys.readouterr()
    assert gold(ws, str(path)) == 0
    assert capsys.readouterr().out.strip() == (
        "gold items: 5 (+5 marked, -0 removed); files: matched 0 stored pairs, 0 stored completions, 1 stored rank "
        "items, 3 stored rate items (4 of split train, gold now: gold never trains, export and train leave them "
        "out as gold); new: 1 gold items (1 in split test: train's held-out set counts them), 1 prompts, "
        "1 completions, 0 pairs; duplicate_rows 1"
    )
    ranking = canonical([[c[2]], [c[0], c[3]], [c[1]]])
    assert read_gold(ws, "rank").to_pylist() == [
        {"item_id": items[0], "ranking": ranking, "source": str(path)}
    ]
    new = next(r["id"] for r in ws.read("completions").to_pylist() if r["text"] == "a new answer")
    rated = {r["item_id"]: (r["ratings"], r["rubric"]) for r in read_gold(ws, "rate").to_pylist()}
    assert rated == {
        c[0]: (STORED, "helpsteer2"),
        c[1]: (LOW_STORED, "helpsteer2"),
        c[2]: (STORED, "helpsteer2"),
        new: (STORED, "helpsteer2"),
    }
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    tasks = json.loads(capsys.readouterr().out)["tasks"]
    ann = {
        task: next(r for r in tasks[task]["labellers"] if r["labeller"] == "ann") for task in ("rank", "rate")
    }
    assert ann["rank"]["gold"] == {"answered": 1, "all_tied": 0, "tau": 1.0, "ci95": None}
    assert (
        ann["rate"]["gold"]["answered"] == 2 and ann["rate"]["gold"]["within_one"] == 8
    )  # c1: 2 of 5 off by 3

    before = digest(ws.path)
    renamed = tmp_path / "renamed copy.jsonl"
    renamed.write_bytes(path.read_bytes())
    for again in (path, renamed):  # a rerun, or the same rows under another name: the same items, nothing new
        assert gold(ws, str(again)) == 0
        assert capsys.readouterr().out.strip() == (
            "gold items: 5 (+0 marked, 5 already gold with that answer, -0 removed); files: matched 0 stored "
            "pairs, 0 stored completions, 1 stored rank items, 4 stored rate items; new: 0 gold items, 0 prompts, "
            "0 completions, 0 pairs; duplicate_rows 1"
        )
        assert digest(ws.path) == before


def test_rows_that_match_nothing_add_their_prompt_and_answers_once(tmp_path, capsys):
    ws, _, _ = build(tmp_path / "ws")
    rank_row = {"prompt": "New?", "completions": ["x", "y", "z"], "ranking": [2, [1, 3]]}
    kto = {"prompt": "New?", "completion": "y", "label": True}  # the same answer, given by a KTO row
    rate = {
        "prompt": "New?",
        "completion": "z",
        "ratings": json.dumps(FULL),
    }  # a CSV cell's JSON text as well
    path = write(tmp_path / "new.jsonl", rate, rank_row, kto)
    assert gold(ws, "--split", "train", str(path)) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("new: 3 gold items (3 in split train), 1 prompts, 3 completions, 0 pairs")
    )
    prompt = Prompt([{"role": "user", "content": "New?"}], "toy")
    stored = [r for r in ws.read("completions").to_pylist() if r["prompt_id"] == prompt.id]
    assert sorted(r["text"] for r in stored) == ["x", "y", "z"]  # each text once
    ids = {r["text"]: r["id"] for r in stored}
    item = rank_item_id(prompt.id, 0)
    assert rank_items(ws)[item] and read_gold(ws, "rank").to_pylist() == [
        {"item_id": item, "ranking": canonical([[ids["y"]], [ids["x"], ids["z"]]]), "source": str(path)}
    ]
    assert read_gold(ws, "rate").column("item_id").to_pylist() == [ids["z"]]
    row = next(r for r in ws.read("prompts").to_pylist() if r["id"] == prompt.id)
    assert (row["split"], row["gold"]) == ("train", None)  # a rated answer is no SFT gold answer


def test_answers_of_one_text_tie_in_the_gold_ranking(tmp_path, capsys):
    ws, _, _ = build(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Twice?"}], "toy")
    made = [
        Completion(prompt.id, text, model, "hf")
        for text, model in (("p", "m1"), ("p", "m2"), ("q", "m1"), ("r", "m1"))
    ]
    ws.append([prompt, *made])
    path = write(
        tmp_path / "t.jsonl", {"prompt": "Twice?", "completions": ["q", "p", "r"], "ranking": "2 > 1 > 3"}
    )
    assert gold(ws, str(path)) == 0
    p1, p2, q, r = (m.id for m in made)
    assert read_gold(ws, "rank").column("ranking").to_pylist() == [canonical([[p1, p2], [q], [r]])]


def test_a_file_ratings_follow_the_rubric_given(tmp_path, capsys):
    ws, _, answers = build(tmp_path / "ws")
    rubric = tmp_path / "support.yaml"
    rubric.write_text("name: support\naspects:\n  - {name: accuracy, scale: [1, 5], description: True.}\n")
    path = write(
        tmp_path / "r.jsonl", {"prompt": "Question 1?", "output": "answer 1.2", "ratings": {"accuracy": 5}}
    )
    assert gold(ws, str(path)) == 2
    assert "rubric helpsteer2 has no aspect 'accuracy'" in capsys.readouterr().err
    assert gold(ws, "--rubric", str(rubric), str(path)) == 0
    # one gold answer: any rater who gives its ratings to everything scores on it (data.gold_balance)
    assert capsys.readouterr().err.startswith(
        "warning: 1 of 1 rate gold values are within ±1 of accuracy 5: "
    )
    assert read_gold(ws, "rate").to_pylist() == [
        {"item_id": answers[1][2], "ratings": '{"accuracy":5}', "source": str(path), "rubric": "support"}
    ]
    preference = write(tmp_path / "p.jsonl", {"prompt": "Q?", "chosen": "a", "rejected": "b"})
    assert gold(ws, "--rubric", str(rubric), str(preference)) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --rubric goes with --rate-item or a gold FILE's ratings (it checks them)"
    )


def test_remove_withdraws_file_gold_and_a_rerun_marks_it_again(tmp_path, capsys):
    ws, items, _ = build(tmp_path / "ws")
    path = write(
        tmp_path / "g.jsonl",
        {"prompt": "Question 1?", "completions": texts(1, range(4)), "ranking": "1>2>3>4"},
    )
    assert gold(ws, str(path)) == 0
    assert gold(ws, "--remove", items[1], str(path)) == 2
    assert f"--remove {items[1]}: the same call makes it gold" in capsys.readouterr().err
    assert gold(ws, "--remove", items[1]) == 0 and read_gold(ws, "rank").num_rows == 0
    assert gold(ws, str(path)) == 0 and read_gold(ws, "rank").column("item_id").to_pylist() == [items[1]]


RANK = {"prompt": "Question 0?", "completions": texts(0, range(4)), "ranking": "1 > 2 > 3 > 4"}
RATE = {"prompt": "Question 0?", "response": "answer 0.0", "ratings": FULL}
NEW = {"prompt": "Brand new?", "completions": ["x", "y", "z"]}


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        (
            [{**RANK, "ranking": "1 > 2 > 3"}],
            "row 0, field 'ranking': rank all 4 answers (not ranked yet: 4)",
        ),
        (
            [{**RANK, "ranking": "1 > 2 > 3 > 5"}],
            "row 0, field 'ranking': ranking '1 > 2 > 3 > 5': use the answer numbers 1-4",
        ),
        (  # echoed as typed: it said '4321', which no one typed
            [{**RANK, "ranking": "4 3 2 1"}],
            "row 0, field 'ranking': ranking '4 3 2 1': use the answer numbers 1-4, '>' and '='",
        ),
        (
            [{**RANK, "ranking": [1, 2, 2, 3]}],
            "row 0, field 'ranking': ranking '1 > 2 > 2 > 3': an answer is ranked twice",
        ),
        (
            [{**RANK, "ranking": [1, "2", 3, 4]}],
            "row 0, field 'ranking': '2' is not an answer number, or a list of tied",
        ),
        (
            [{**NEW, "ranking": "1 = 2 = 3"}],
            "row 0, field 'ranking': every answer tied: a gold ranking puts at least",
        ),
        (
            [{**RANK, "ratings": [FULL] * 4}],
            "row 0, field 'ratings': a row gives a ranking or ratings of its answers",
        ),
        (
            [{**RATE, "ratings": None, "ranking": "1"}],
            "row 0, field 'ranking': a ranking ranks the row's answers: "
            "give them as a 'completions' list of 3-6",
        ),
        (
            [{**NEW, "completions": ["x", "y"], "ranking": "1 > 2"}],
            "row 0, field 'completions': 2 answers: a rank item is 3-6 answers of one prompt",
        ),
        (
            [{**NEW, "completions": ["x", "y", " x"], "ranking": "1>2>3"}],
            "row 0, field 'completions[2]': the same answer as completions[0] (spaces aside)",
        ),
        (
            [{**RANK, "completions": texts(0, range(3)), "ranking": "1>2>3"}],
            "row 0, field 'completions': no rank "
            "item of this prompt has these answers, and its round 0 is rank item",
        ),
        (
            [
                {**NEW, "completions": ["x", "y"], "ratings": [FULL] * 2},
                {**NEW, "completions": ["y", "z", "w"], "ranking": "1>2>3"},
            ],
            "row 1, "
            "field 'completions': the prompt's answer 'x' (round 0) is not among this row's: a rank item is every "
            "answer of one prompt and round",
        ),
        (  # an answer another row adds changes the stored rank item: the row ranks it no more
            [{**RATE, "response": "added"}, RANK],
            "row 1, field 'completions': no rank item of this prompt has these answers, and its round 0 is rank "
            "item",
        ),
        (
            [RANK, {**RANK, "completions": texts(0, (3, 2, 1, 0))}],
            "row 1, field 'ranking': this row (1 > 2 > 3 > 4) "
            "and row 0 (4 > 3 > 2 > 1) rank the same answers to one prompt (numbered as in this row) but disagree",
        ),
        (
            [{**RATE, "ratings": {**FULL, "verbosity": 7}}],
            "row 0, field 'ratings': verbosity 7 is not an integer in 0..4",
        ),
        (
            [{**RATE, "ratings": {**FULL, "tone": 2}}],
            "row 0, field 'ratings': rubric helpsteer2 has no aspect 'tone'",
        ),
        ([{**RATE, "ratings": {"helpfulness": 3}}], "row 0, field 'ratings': rate every aspect: correctness"),
        (  # a JSON value that is no object: it reached json's decoder, a TypeError traceback
            [{**RATE, "ratings": [3, 4, 4, 1, 2]}],
            "row 0, field 'ratings': ratings must be a JSON object of aspect: value",
        ),
        ([{**RATE, "ratings": 3}], "row 0, field 'ratings': ratings must be a JSON object of aspect: value"),
        (
            [{**NEW, "ratings": [FULL, 3, FULL]}],
            "row 0, field 'ratings[1]': ratings must be a JSON object of aspect: value",
        ),
        (
            [{**NEW, "ratings": [FULL, FULL, {**FULL, "coherence": -1}]}],
            "row 0, field 'ratings[2]': coherence -1 is not an integer in 0..4",
        ),
        (
            [{**NEW, "ratings": [FULL, FULL]}],
            "row 0, field 'ratings': one ratings object per answer of 'completions' (3), in their order",
        ),
        (
            [{"prompt": "Q?", "chosen": "a", "rejected": "b", "ratings": FULL}],
            "row 0, field 'ratings': ratings rate the row's answers",
        ),
        (
            [RATE, {**RATE, "ratings": LOW}],
            "row 1, field 'ratings': this row ("
            + LOW_STORED
            + ") and row 0 ("
            + STORED
            + ") rate the same answer to one prompt but disagree; give one rating",
        ),
        (
            [{"prompt": "Q?", "completions": ["a", "b"]}],
            "row 0, field 'completions': 2 answers to choose from, but "
            "the row has no answer (chosen/rejected), KTO label, ranking or ratings to make gold",
        ),
    ],
)
def test_a_refused_row_is_one_line_naming_file_row_and_field_and_writes_nothing(
    tmp_path, capsys, rows, error
):
    ws, _, _ = build(tmp_path / "ws")
    good = {
        "prompt": "Fine?",
        "completions": ["f1", "f2", "f3"],
        "ranking": "3 > 1 > 2",
    }  # not written either
    path = write(tmp_path / "gold.jsonl", *rows, good)
    before = digest(ws.path)
    assert gold(ws, str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, {error}") and len(err.splitlines()) == 1, err
    assert digest(ws.path) == before


def test_a_row_that_disagrees_with_gold_already_given_is_refused_and_writes_nothing(tmp_path, capsys):
    ws, items, answers = build(tmp_path / "ws")
    c = answers[0]
    assert (
        gold(ws, "--rank-item", items[0], "--ranking", ">".join(c), "--rate-item", c[0], "--ratings", STORED)
        == 0
    )
    one = write(tmp_path / "one.jsonl", RANK)  # agrees: nothing to write
    assert gold(ws, str(one)) == 0 and "+0 marked, 1 already gold" in capsys.readouterr().out
    before = digest(ws.path)
    backward = write(tmp_path / "backward.jsonl", {**RANK, "ranking": "4 > 3 > 2 > 1"})
    lower = write(tmp_path / "lower.jsonl", {**RATE, "ratings": LOW}, RATE)
    other = write(tmp_path / "other.jsonl", {**RATE, "ratings": LOW})
    for args, error in (
        (
            [backward],
            f"{backward}, row 0, field 'ranking': disagrees with rank item {items[0]}, already gold (from "
            f"--rank-item) (1 > 2 > 3 > 4; this row: 4 > 3 > 2 > 1); `data gold --remove {items[0]}` first to "
            "replace it",
        ),
        (
            [lower],
            f"{lower}, row 1, field 'ratings': this row ({STORED}) and row 0 ({LOW_STORED}) rate the same answer",
        ),
        (
            [one, other],
            f"{other}, row 0, field 'ratings': disagrees with rate item {c[0]}, already gold (from --rate-item) "
            f"({STORED}; this row: {LOW_STORED}); `data gold --remove {c[0]}` first",
        ),
    ):
        assert gold(ws, *map(str, args)) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {error}") and len(err.splitlines()) == 1, err
        assert digest(ws.path) == before


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({**RATE, "response": "a fifth answer"}, "ratings"),
        ({"prompt": "Question 0?", "completion": "a fifth answer", "label": False}, "label"),
        ({"prompt": "Question 0?", "chosen": "answer 0.1", "rejected": "a fifth answer"}, "chosen"),
    ],
)
def test_a_new_answer_never_changes_a_gold_rank_item(tmp_path, capsys, row, field):
    """A rated, KTO or preference row's answer that matched nothing joined its prompt's round 0 even where that
    was a gold rank item: its gold ranking then left an answer out (rerunning the rank file was refused), and a
    seventh answer dissolved the gold item with nothing said (the rank app served nothing of it). Refused in one
    line, as a ranking row that would change a rank item is; an answer stored already is still marked, and a
    --remove of the rank item in the same call lets the answer join it."""
    ws, items, _ = build(tmp_path / "ws")
    ranked = write(tmp_path / "ranked.jsonl", RANK)
    assert gold(ws, str(ranked)) == 0
    before = digest(ws.path)
    new = write(tmp_path / "new.jsonl", RATE, row)
    assert gold(ws, str(new)) == 2
    assert capsys.readouterr().err == (
        f"error: {new}, row 1, field '{field}': its answer 'a fifth answer' is not stored, and adding it would "
        f"change rank item {items[0]} (round 0 of its prompt), gold from {ranked}: a gold ranking ranks every "
        f"answer of its item; give one of the item's answers (the text exactly), or `data gold --remove "
        f"{items[0]}` first\n"
    )
    assert digest(ws.path) == before
    assert gold(ws, str(write(tmp_path / "stored.jsonl", RATE))) == 0  # a stored answer: marked
    assert gold(ws, str(ranked)) == 0 and "+0 marked, 1 already gold" in capsys.readouterr().out
    assert gold(ws, "--remove", items[0], str(new)) == 0


def test_an_item_that_changed_after_the_file_was_read_is_refused_naming_its_row(
    tmp_path, capsys, monkeypatch
):
    """Another process adds answers to the rank item a row matched between the file's reading and the write (a
    sampling job, which takes no import lock: an import waits for the gold file's turn, and one before it has the
    file read again): the item has left the rank app, and the refusal named only the file, not the row that asked
    for it."""
    ws, items, answers = build(tmp_path / "ws")
    prompt = ws.read("completions", ["prompt_id"], ("id", answers[0][:1])).column("prompt_id")[0].as_py()
    writing = data_main.apply_gold

    def after_a_sampling(*args, **kwargs):
        ws.append([Completion(prompt, f"late {k}", "other", "import") for k in range(3)])
        return writing(*args, **kwargs)

    monkeypatch.setattr(data_main, "apply_gold", after_a_sampling)
    rate = {"prompt": "Question 1?", "response": "answer 1.0", "ratings": FULL}
    rank = {"prompt": "Question 0?", "completions": texts(0, range(4)), "ranking": "1 > 2 > 3 > 4"}
    path = write(tmp_path / "gold.jsonl", rate, rank)
    assert gold(ws, str(path)) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 1, field 'ranking': rank item {items[0]} holds 7 answers (more than 6; a rank item is "
        "3-6), so it cannot be gold or ranked\n"
    )
    assert read_gold(ws, "rate").num_rows == read_gold(ws, "rank").num_rows == 0
