"""Gold items of the rank and rate tasks: stored in the gold table beside the choice tasks' (old workspaces still
read), marked and removed by `python -m data gold --rank-item/--rate-item`, refused in one line writing nothing."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from data.__main__ import main
from data.gold import read_gold
from data.ranking import rank_item_id
from data.records import Completion, Prompt
from data.schemas import GOLD, SchemaError
from data.table_checks import conform
from data.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
FULL = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
STORED = '{"coherence":4,"complexity":1,"correctness":4,"helpfulness":3,"verbosity":2}'


def build(path) -> tuple[Workspace, list[str], list[list[str]]]:
    """Two prompts with four answers each: two rank items, eight rate items (the answers)."""
    ws = Workspace.init(path)
    records, items, answers = [], [], []
    for i in range(2):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        made = [Completion(prompt.id, f"answer {i}.{k}", "toy", "hf", seed=k) for k in range(4)]
        records += [prompt, *made]
        items.append(rank_item_id(prompt.id, 0))
        answers.append([c.id for c in made])
    ws.append(records)
    return ws, items, answers


def gold(ws, *args) -> int:
    return main(["gold", "-w", str(ws.path), *args])


def test_a_workspace_whose_gold_table_predates_rank_and_rate_still_reads(tmp_path):
    ws, items, answers = build(tmp_path / "ws")
    columns = ("id", "item_id", "task", "choice", "source", "retracted", "created_at")
    old = pa.schema(
        [GOLD.field(n).with_nullable(False) for n in columns]
    )  # the table as it was first written
    row = {"id": "g0", "item_id": answers[0][0], "task": "kto", "choice": "desirable", "source": "cli",
           "retracted": False, "created_at": T0}  # fmt: skip
    ws.write_part("gold", pa.Table.from_pylist([row], schema=old))
    ranking = ">".join(reversed(answers[1]))
    assert gold(ws, "--rank-item", items[1], "--ranking", ranking, "--rate-item", answers[0][1], "--ratings",
                json.dumps(FULL)) == 0  # fmt: skip
    for _ in range(2):  # as written, then merged into one part with the new columns
        assert read_gold(ws, "kto").to_pylist() == [
            {"item_id": answers[0][0], "choice": "desirable", "source": "cli"}
        ]
        assert read_gold(ws, "rank").to_pylist() == [
            {"item_id": items[1], "ranking": ranking, "source": "cli"}
        ]
        assert read_gold(ws, "rate").to_pylist() == [
            {"item_id": answers[0][1], "ratings": STORED, "source": "cli", "rubric": "helpsteer2"}
        ]
        old_row = ws.read("gold").to_pylist()[0]
        assert (old_row["ranking"], old_row["ratings"], old_row["rubric"]) == (None, None, None)
        ws.compact()
    assert len(list((ws.path / "gold").glob("part-*.parquet"))) == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"ranking": None}, "row 0, field 'ranking': a rank gold item needs a ranking"),
        ({"ranking": "c2 > c1"}, "row 0, field 'ranking': ranking 'c2 > c1' is not in canonical form"),
        (
            {"task": "pairwise", "choice": "a"},
            "row 0, field 'ranking': only a rank gold item holds a ranking",
        ),
        (
            {"task": "rate", "ranking": None},
            "row 0, field 'ratings': a rate gold item needs ratings and no choice",
        ),
        ({"task": "sort"}, "row 0, field 'task': value 'sort' is not one of pairwise, kto, rank, rate"),
    ],
)
def test_gold_rows_hold_their_tasks_answer(change, error):
    row = {"id": "g1", "item_id": "i", "task": "rank", "choice": None, "source": "cli", "retracted": False,
           "ranking": "c1>c2", "ratings": None, "rubric": None, "created_at": T0}  # fmt: skip
    with pytest.raises(SchemaError, match=f"^gold part, {re.escape(error)}"):
        conform(pa.Table.from_pylist([{**row, **change}], schema=GOLD), "gold", "gold part")


def test_cli_marks_and_removes_rank_and_rate_gold(tmp_path, capsys):
    ws, items, answers = build(tmp_path / "ws")
    c = answers[0]
    rubric = tmp_path / "support.yaml"
    rubric.write_text("name: support\naspects:\n  - {name: accuracy, scale: [1, 5], description: True.}\n")
    typed = f"{c[2]} > {c[0]} = {c[3]} > {c[1]}"  # spaces and a tie in any order: stored canonical
    assert gold(ws, "--rank-item", items[0], "--ranking", typed) == 0
    canonical = f"{c[2]}>{min(c[0], c[3])}={max(c[0], c[3])}>{c[1]}"
    assert capsys.readouterr().out.splitlines() == [
        "gold items: 1 (+1 marked, -0 removed); --rank-item: 1 item of split train gold now (gold never trains: "
        "export and train leave them out as gold)"
    ]
    assert gold(ws) == 0  # nothing asked: the list
    out = capsys.readouterr().out.splitlines()
    # a listing changes nothing: its count alone (it ended "(+0 marked, -0 removed)", a change summary)
    assert out == [f"{items[0]}\trank\t{canonical}\tcli", "gold items: 1"]
    assert gold(ws, "--rate-item", c[1], "--ratings", '{"accuracy": 5}', "--rubric", str(rubric)) == 0
    assert read_gold(ws, "rate").to_pylist() == [
        {"item_id": c[1], "ratings": '{"accuracy":5}', "source": "cli", "rubric": "support"}
    ]
    assert "; --rate-item: 1 item of split train gold now" in capsys.readouterr().out
    assert gold(ws, "--rank-item", items[0], "--ranking", canonical) == 0
    assert "gold items: 2 (+0 marked, 1 already gold with that answer, -0 removed)" in capsys.readouterr().out
    assert gold(ws, "--remove", items[0], "--remove", c[1]) == 0
    assert capsys.readouterr().out.splitlines() == ["gold items: 0 (+0 marked, -2 removed)"]
    assert ws.read("gold").num_rows == 4  # two marks, two retractions repeating their answer
    retracted = [r for r in ws.read("gold").to_pylist() if r["retracted"]]
    assert sorted((r["task"], r["ranking"], r["ratings"], r["rubric"]) for r in retracted) == [
        ("rank", canonical, None, None),
        ("rate", None, '{"accuracy":5}', "support"),
    ]


def test_bad_rank_and_rate_gold_is_one_line_and_writes_nothing(tmp_path, capsys):
    ws, items, answers = build(tmp_path / "ws")
    c, other = answers[0], answers[1]
    whole = ">".join(c)
    assert (
        gold(ws, "--rank-item", items[1], "--ranking", ">".join(other)) == 0
    )  # gold already: stays as it is
    before = ws.read("gold").to_pylist()
    rate = json.dumps(FULL)
    deep_rubric = tmp_path / "deep.yaml"  # PyYAML and json recurse once a level: a RecursionError traceback
    deep_rubric.write_text("aspects: " + "[" * 5000 + "]" * 5000 + "\n")
    utf16_rubric = tmp_path / "utf16.yaml"
    utf16_rubric.write_bytes("name: r\n".encode("utf-16"))
    for args, error in (
        (  # where the id comes from: the app derives it, no file names it
            ["--rank-item", "nope", "--ranking", whole],
            f"--rank-item: rank item nope is not in {ws.path} (a rank item is one prompt's 3-6 answers of one round; "
            "its id is the rank labels' item_id",
        ),
        (
            ["--rank-item", items[0], "--ranking", ">".join(c[:3])],
            f"--rank-item: gold rank item {items[0]}, field 'ranking': {c[3]} not ranked: a gold ranking ranks each of "
            "the item's 4 answers",
        ),
        (
            ["--rank-item", items[0], "--ranking", f"{whole}>{other[0]}"],
            f"--rank-item: gold rank item {items[0]}, field 'ranking': {other[0]} is not an answer of this item (its "
            f"answers: {', '.join(c)})",
        ),
        (
            ["--rank-item", items[0], "--ranking", f"{c[0]}>{c[0]}"],
            f"--rank-item: gold rank item {items[0]}, field 'ranking': ranking '{c[0]}>{c[0]}': an answer is ranked twice "
            f"(its answers: {', '.join(c)})",
        ),
        (["--rank-item", items[0]], "--rank-item needs one --ranking each: 1 rank-item, 0 rankings"),
        (  # split at the commas, it was "1 rank-item, 4 rankings": no word of what a ranking is
            ["--rank-item", items[0], "--ranking", ",".join(c)],
            f"--rank-item: gold rank item {items[0]}, field 'ranking': ranking '{','.join(c)}': ids best first, '>' "
            "between ranks and '=' in a tie, not ',' (e.g. c3>c1=c4>c2)",
        ),
        (  # all tied: it would measure no ranker
            ["--rank-item", items[0], "--ranking", "=".join(c)],
            f"--rank-item: gold rank item {items[0]}, field 'ranking': every answer tied: a gold ranking puts at "
            "least one answer above another",
        ),
        (  # a key twice: the last value won, silently
            ["--rate-item", c[0], "--ratings", rate[:-1] + ', "helpfulness": 0}'],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': aspect 'helpfulness' is given twice",
        ),
        (  # more digits than Python reads as a number: a ValueError traceback
            [
                "--rate-item",
                c[0],
                "--ratings",
                json.dumps({**FULL, "verbosity": 0}).replace("0}", "9" * 5000 + "}"),
            ],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': aspect 'verbosity': an integer of 5000 digits, more "
            "than the 4300 Python reads as a number",
        ),
        (
            ["--rate-item", c[0], "--ratings", json.dumps({**FULL, "helpfulness": 5})],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': helpfulness 5 is not an integer in 0..4",
        ),
        (
            ["--rate-item", c[0], "--ratings", json.dumps({**FULL, "tone": 2})],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': rubric helpsteer2 has no aspect 'tone'",
        ),
        (
            ["--rate-item", c[0], "--ratings", '{"helpfulness": 3}'],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': rate every aspect: correctness, coherence, complexity, "
            "verbosity not rated yet",
        ),
        (
            ["--rate-item", c[0], "--ratings", "3"],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': ratings must be a JSON object of aspect: value",
        ),
        (
            ["--rate-item", c[0], "--ratings", "[" * 100_000 + "]" * 100_000],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': ratings are JSON nested too deeply to read",
        ),
        (
            ["--rate-item", c[0], "--ratings", rate, "--rubric", str(deep_rubric)],
            f"{deep_rubric}: cannot read the rubric (nested too deeply to read)",
        ),
        (  # a rubric saved in UTF-16 was a UnicodeDecodeError traceback
            ["--rate-item", c[0], "--ratings", rate, "--rubric", str(utf16_rubric)],
            f"{utf16_rubric}: not UTF-8 text (byte 0)",
        ),
        (["--rate-item", "nope", "--ratings", rate], f"--rate-item: rate item nope is not in {ws.path}"),
        (["--ratings", rate], "--rate-item needs one --ratings each: 0 rate-items, 1 ratings"),
        (["--rubric", "r.yaml"], "--rubric goes with --rate-item or a gold FILE's ratings (it checks them)"),
        # an id of invalid UTF-8 on the command line (surrogate-escaped) was a UnicodeEncodeError traceback
        (["--rate-item", "\udcff", "--ratings", rate], "--rate-item '\\udcff': not an id (not valid text)"),
        (
            ["--completion", "\udcff", "--answer", "desirable"],
            "--completion '\\udcff': not an id (not valid text)",
        ),
        # all or nothing: a good rank mark beside a bad rating writes neither
        (
            ["--rank-item", items[0], "--ranking", whole, "--rate-item", c[0], "--ratings", "{}"],
            f"--rate-item: gold rate item {c[0]}, field 'ratings': rate every aspect",
        ),
        (
            [
                "--rank-item",
                items[0],
                "--ranking",
                whole,
                "--rank-item",
                items[0],
                "--ranking",
                ">".join(reversed(c)),
            ],
            f"rank item {items[0]} is given two gold answers",
        ),
    ):
        assert gold(ws, *args) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {error}") and len(err.splitlines()) == 1, err
        assert ws.read("gold").to_pylist() == before, args
    assert gold(ws, "--rate-item", c[0]) == 2  # said "0 ratingss"
    assert capsys.readouterr().err == "error: --rate-item needs one --ratings each: 1 rate-item, 0 ratings\n"


def test_ratings_flag_reads_a_value_as_a_gold_file_does(tmp_path, capsys):
    """`--ratings '{"helpfulness": 3.0, ...}'` was "3.0 is not an integer" where a gold file's 3.0 is 3."""
    ws, _, answers = build(tmp_path / "ws")
    c = answers[0]
    for item, value in ((c[0], 3.0), (c[1], "3")):
        assert gold(ws, "--rate-item", item, "--ratings", json.dumps({**FULL, "helpfulness": value})) == 0
    stored = {r["item_id"]: r["ratings"] for r in read_gold(ws, "rate").to_pylist()}
    assert stored == {c[0]: STORED, c[1]: STORED}
    capsys.readouterr()
    assert gold(ws, "--rate-item", c[2], "--ratings", json.dumps({**FULL, "helpfulness": 3.5})) == 2
    assert capsys.readouterr().err == (
        f"error: --rate-item: gold rate item {c[2]}, field 'ratings': helpfulness 3.5 is not an integer in 0..4\n"
    )
    assert read_gold(ws, "rate").num_rows == 2


def test_a_rank_item_that_grew_past_six_answers_says_so(tmp_path, capsys):
    """Its id is in the labels and the least agreed table, yet a 7th answer took it out of the rank app: the error
    said the item "is not in" the workspace, as for a mistyped id."""
    ws, items, answers = build(tmp_path / "ws")
    prompt_id = next(r["prompt_id"] for r in ws.read("completions").to_pylist() if r["id"] == answers[0][0])
    ws.append([Completion(prompt_id, f"answer 0.{k}", "toy", "hf", seed=k) for k in range(4, 7)])
    before = ws.read("gold").num_rows
    assert gold(ws, "--rank-item", items[0], "--ranking", ">".join(answers[0])) == 2
    assert capsys.readouterr().err == (
        f"error: --rank-item: rank item {items[0]} holds 7 answers (more than 6; a rank item is 3-6), so it cannot "
        "be gold or ranked\n"
    )
    assert ws.read("gold").num_rows == before


def test_gold_rankings_and_ratings_never_train_and_measure_their_labellers(tmp_path, capsys):
    from data.records import Label
    from train.pairs import preference_rows, rating_kto_rows, rating_preference_rows

    ws, items, answers = build(tmp_path / "ws")
    c = answers[0]
    worse = json.dumps({**FULL, "helpfulness": 1}, sort_keys=True, separators=(",", ":"))
    best = json.dumps({**FULL, "helpfulness": 4}, sort_keys=True, separators=(",", ":"))
    labels = [Label(item, who, "rank", None, ranking=">".join(ids)) for who in ("ann", "bob")
              for item, ids in zip(items, answers)]  # fmt: skip
    labels += [Label(i, "ann", "rate", None, ratings=r, rubric="helpsteer2") for i, r in
               ((c[0], STORED), (c[1], worse), (c[2], best))]  # fmt: skip
    ws.append(labels)
    assert gold(ws, "--rank-item", items[1], "--ranking", ">".join(answers[1])) == 0
    assert gold(ws, "--rate-item", c[2], "--ratings", best) == 0
    capsys.readouterr()
    w = ["-w", str(ws.path)]
    assert main(["export", *w, "--format", "dpo", "--out", str(tmp_path / "dpo.parquet")]) == 0
    # item 0's 4·3/2 pairs only; ann's and bob's rankings of the gold item 1 left out (the item counted once)
    assert capsys.readouterr().out.strip().endswith(": 6 rows exported, left out: rank_gold 1")
    rows, counts = preference_rows(ws, None, ("rank",))
    assert len(rows) == 6 and counts["rank_gold"] == 1
    assert {x for r in rows for x in (r["chosen"][0]["content"], r["rejected"][0]["content"])} == {
        f"answer 0.{k}" for k in range(4)
    }
    assert main(["export", *w, "--format", "ratings", "--out", str(tmp_path / "ratings.parquet")]) == 0
    assert (
        capsys.readouterr().out.strip().endswith(": 2 rows exported, left out: gold 1, unlabelled 5")
    )  # the answers nobody rated
    kto, counts = rating_kto_rows(ws, None, "helpfulness>=3")
    assert counts == {"desirable": 1, "undesirable": 1, "exported": 2, "gold": 1, "unlabelled": 5}
    assert sorted(r["completion_id"] for r in kto) == sorted(c[:2])
    pairs, counts = rating_preference_rows(ws, None, "helpfulness")
    assert counts == {"pairs": 1, "gold": 1, "unlabelled": 5} and len(pairs) == 1  # c0 over c1; c2 is gold
    assert main(["stats", *w, "--labellers", "--json"]) == 0
    tasks = json.loads(capsys.readouterr().out)["tasks"]
    ann = {
        task: next(r for r in tasks[task]["labellers"] if r["labeller"] == "ann") for task in ("rank", "rate")
    }
    assert ann["rank"]["gold"] == {"answered": 1, "all_tied": 0, "tau": 1.0, "ci95": None}
    assert ann["rate"]["gold"] == {
        "answered": 1,
        "values": 5,
        "mean_abs_difference": 0.0,
        "within_one": 5,
        "within_one_share": 1.0,
        "ci95": [0.207, 1.0],  # over the 1 gold answer rated, not its 5 values
    }
    assert main(["stats", *w, "--labellers"]) == 0
    text = capsys.readouterr().out
    assert "  ann: 2 labels, gold τ-b 1.000 - (1 ranking), τ-b with others" in text
    assert (
        "  ann: 3 labels, gold within ±1 5/5 [0.207, 1.000] (1 answer), |difference| 0.000, mean |difference| from"
        in text
    )


def test_kto_gold_of_the_same_answer_must_agree_and_removal_counts_each_task(tmp_path, capsys):
    """One answer in two KTO files is two completions (an import names them by the file): opposite gold answers
    for them marked every labeller wrong on one; a completion gold for KTO and for rating counts as two removed."""
    ws = Workspace.init(tmp_path / "ws")
    k1, k2 = tmp_path / "k1.jsonl", tmp_path / "k2.jsonl"
    k1.write_text(json.dumps({"prompt": "What is 2+2?", "completion": "4", "label": True}) + "\n")
    k2.write_text(json.dumps({"prompt": "What is 2+2?", "completion": "4", "label": False}) + "\n")
    assert gold(ws, str(k1), str(k2)) == 2
    assert "are the same answer to one prompt; give one gold answer" in capsys.readouterr().err
    assert read_gold(ws, "kto").num_rows == 0
    assert gold(ws, str(k1)) == 0 and gold(ws, str(k2)) == 2
    completion = read_gold(ws, "kto").column("item_id")[0].as_py()
    capsys.readouterr()
    assert gold(ws, "--rate-item", completion, "--ratings", json.dumps(FULL)) == 0
    assert gold(ws, "--remove", completion) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "gold items: 0 (+0 marked, -2 removed)"
