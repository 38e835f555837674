"""Rubric ratings in `data`: rubric files and their errors, Krippendorff's alpha against his published worked
example, the ratings export (loads with `datasets`), KTO rows and pairs made from ratings, the schema's checks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from itertools import takewhile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data import Completion, Label, Prompt, Workspace
from data.__main__ import main as data_main
from data.import_log_lines import read_alike
from data.ratings import (
    alpha,
    kto_from_ratings,
    pairs_from_ratings,
    parse_rule,
    rating_agreement,
    rating_spread,
    ratings_table,
)
from data.rubric import DEFAULT_RUBRIC, RubricError, load_rubric, rubric_from_dict, rubric_key
from data.schemas import LABELS, SchemaError
from data.table_checks import conform

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
HELPSTEER2 = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def test_default_rubric_is_helpsteer2_five_aspects_0_to_4():
    rubric = load_rubric()
    assert DEFAULT_RUBRIC.name == "helpsteer2.yaml" and rubric.name == "helpsteer2"
    assert rubric.names == HELPSTEER2
    assert {(a.low, a.high) for a in rubric.aspects} == {(0, 4)}
    assert rubric.aspects[0].description == "Overall helpfulness of the response to the prompt."
    assert rubric.aspects[0].keys() == ("0", "1", "2", "3", "4")
    ratings = dict(zip(HELPSTEER2, (3, 4, 4, 1, 2)))
    assert rubric.encode(ratings) == (
        '{"coherence":4,"complexity":1,"correctness":4,"helpfulness":3,"verbosity":2}'
    )


def aspect(name="clarity", scale=(1, 5), description="How clear it is.", **extra):
    return {"name": name, "scale": list(scale), "description": description, **extra}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"aspects": [{"scale": [0, 4], "description": "x"}]}, r"field 'aspects\[0\].name': missing"),
        ({"aspects": [{"name": "a", "description": "x"}]}, r"field 'aspects\[0\].scale': missing"),
        ({"aspects": [aspect(description="")]}, r"field 'aspects\[0\].description': missing"),
        ({"aspects": [aspect(scale=(3, 3))]}, r"field 'aspects\[0\].scale': low 3 must be below high 3"),
        ({"aspects": [aspect(scale=(4, 0))]}, r"low 4 must be below high 0"),
        ({"aspects": [aspect(scale=(0, 10))]}, r"'aspects\[0\].scale': 11 values, at most 10"),
        ({"aspects": [aspect(scale=(0, 2.5))]}, r"'aspects\[0\].scale': .* two integers"),
        ({"aspects": [aspect(), aspect()]}, r"field 'aspects\[1\].name': duplicate aspect 'clarity'"),
        ({"aspects": [aspect(weight=2)]}, r"field 'aspects\[0\].weight': unknown key"),
        ({"aspects": [aspect()], "version": 2}, r"field 'version': unknown key"),
        ({"aspects": [aspect(name="Has Space")]}, r"'aspects\[0\].name': 'Has Space' must be lower-case"),
        ({"aspects": [aspect(name="prompt")]}, r"'aspects\[0\].name': 'prompt' must be .* not one of"),
        ({"aspects": [aspect(description="two\nlines")]}, r"'aspects\[0\].description': must be one line"),
        ({"aspects": []}, r"field 'aspects': empty \(a list of aspects"),
        ({"name": "r"}, r"field 'aspects': missing \(a list of aspects"),
        (
            {"aspects": {"clarity": {"scale": [1, 5]}}},
            r"field 'aspects': not a list \(a list of aspects",
        ),  # was "missing"
    ],
)
def test_bad_rubrics_name_the_file_and_field(values, message):
    with pytest.raises(RubricError, match=r"^my\.yaml, .*" + message):
        rubric_from_dict(values, "my.yaml")


def test_a_key_twice_in_a_rubric_or_config_file_is_one_line_naming_its_line(tmp_path, capsys):
    """PyYAML kept the last of a key given twice without a word: an aspect's second ``name`` renamed it (its ratings
    then refused as of no aspect), a config's second ``method`` trained another method. JSON's duplicate key is
    refused so already; a merge key's (``<<``) values stay overridable."""
    from train.__main__ import main as train_main

    path = tmp_path / "r.yaml"
    path.write_text(
        "aspects:\n  - name: clarity\n    name: tone\n    scale: [1, 5]\n    description: How clear.\n"
    )
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert str(caught.value) == (
        f"{path}, line 3, column 5: cannot read the rubric (key 'name' appears twice in one mapping: which to keep "
        "is a guess)"
    )
    config = tmp_path / "run.yaml"
    config.write_text("method: dpo\nbeta: 0.1\nmethod: kto\n")
    assert train_main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"error: {config}, line 3, column 1: cannot read config (key 'method' appears twice in one mapping: which "
        "to keep is a guess)\n"
    )
    assert not (tmp_path / "ws").exists()
    from data.import_records import strict_yaml

    merged = strict_yaml("base: &b\n  scale: [1, 5]\n  name: x\nclarity:\n  <<: *b\n  name: clarity\n")
    assert merged["clarity"] == {"scale": [1, 5], "name": "clarity"}


def test_rubric_file_errors_are_one_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("aspects: [\n")
    with pytest.raises(RubricError, match=r"r.yaml, line 2, column 1: cannot read the rubric \(expected"):
        load_rubric(path)
    with pytest.raises(RubricError, match=r"nothing.yaml: cannot read the rubric"):
        load_rubric(tmp_path / "nothing.yaml")
    path.write_text(
        "aspects:\n  - name: clarity\n    scale: [1, 10]\n    description: How clear.\n"
        "  - name: tone\n    scale: [-2, 2]\n    description: How polite.\n"
    )
    rubric = load_rubric(path)
    assert rubric.name == "r"  # the file's stem
    assert rubric.aspects[0].keys() == tuple("1234567890")  # 10 values: the 10th is key 0
    assert rubric.aspects[1].keys() == ("1", "2", "3", "4", "5") and rubric.aspects[1].values == (
        -2,
        -1,
        0,
        1,
        2,
    )
    with pytest.raises(RubricError, match="rate every aspect: tone not rated yet"):
        rubric.check({"clarity": 3})
    with pytest.raises(
        RubricError, match="^rate every aspect: tone not rated yet; clarity is NaN, which counts as"
    ):
        rubric.check({"clarity": float("nan")})  # NaN counts as null, but it was said "not rated yet"
    with pytest.raises(RubricError, match=r"tone 3 is not an integer in -2..2"):
        rubric.check({"clarity": 3, "tone": 3})
    with pytest.raises(RubricError, match="has no aspect 'speed'"):
        rubric.check({"clarity": 3, "tone": 0, "speed": 1})
    with pytest.raises(RubricError, match="not an integer"):
        rubric.check({"clarity": True, "tone": 0})


@pytest.mark.parametrize("char", ["\n", "\t", "\x1b"])
def test_a_rubric_name_holding_a_control_character_is_refused(tmp_path, char):
    """Without ``name:``, the file's name is the rubric's, stored with every rating and shown in lines: a control
    character in it is refused as in an imported file's name (`data.imports.check_source_name`); ``name:`` too."""
    body = "aspects:\n  - name: clarity\n    scale: [1, 5]\n    description: How clear.\n"
    path = tmp_path / f"my{char}rubric.yaml"
    path.write_text(body)
    escaped = repr(char)[1:-1]
    with pytest.raises(RubricError) as refused:
        load_rubric(path)
    assert str(refused.value) == (
        f"{tmp_path}/my{escaped}rubric.yaml: the file's name holds a control character ({char!r}), and it would be "
        "the rubric's name, stored with every rating; rename the file or give name: in the rubric"
    )
    path.write_text(f"name: mine\n{body}")
    assert load_rubric(path).name == "mine"  # named in the file: the file's name is not used
    with pytest.raises(RubricError, match=r"field 'name': must be one line of text \(no control character\)"):
        rubric_from_dict({"name": f"a{char}b", "aspects": [aspect()]}, "my.yaml")


# Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), section C: 4 observers, 12 units, missing
# values (None); he reports nominal .743, ordinal .815, interval .849.
OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_alpha_matches_krippendorff_published_example():
    units = [[v for v in unit if v is not None] for unit in zip(*OBSERVERS)]
    assert round(alpha(units, "nominal"), 3) == 0.743
    assert round(alpha(units, "ordinal"), 3) == 0.815
    assert round(alpha(units, "interval"), 3) == 0.849
    assert alpha([[1, 1], [1, 1, 1]], "interval") is None  # one value only: undefined
    assert alpha([[3]], "ordinal") is None  # nothing pairable
    assert alpha([[0, 4], [4, 0]], "interval") == pytest.approx(1 - 3 * 32 / 64)  # total disagreement: -0.5


def test_alpha_nominal_equals_the_app_existing_alpha():
    from data.choice_agreement import krippendorff_alpha

    units = [[v for v in unit if v is not None] for unit in zip(*OBSERVERS)]
    assert alpha(units, "nominal") == pytest.approx(krippendorff_alpha([[str(v) for v in u] for u in units]))


def rated_workspace(path, ratings: dict[str, list[dict]], test: int = 0) -> Workspace:
    """Two prompts with two answers each (answers "p0 a0", ...); ``ratings``: labeller -> one dict per answer
    (in that order, None: not rated) of aspect values; the last ``test`` prompts are held out."""
    ws = Workspace.init(path)
    records, answers = [], []
    for p in range(2):
        split = "test" if p >= 2 - test else "train"
        prompt = Prompt([{"role": "user", "content": f"question {p}"}], "t", split=split)
        records.append(prompt)
        for a in range(2):
            created = START + timedelta(seconds=2 * p + a)
            answers.append(Completion(prompt.id, f"p{p} a{a}", "m", "hf", seed=a, created_at=created))
    records += answers
    for name, per_answer in ratings.items():
        for answer, values in zip(answers, per_answer):
            if values is not None:
                text = json.dumps(values, sort_keys=True, separators=(",", ":"))
                records.append(Label(answer.id, name, "rate", None, ratings=text, rubric="r"))
    ws.append(records)
    return ws


def test_ratings_table_means_counts_and_agreement(tmp_path):
    ws = rated_workspace(
        tmp_path / "ws",
        {
            "ann": [{"help": 4, "tone": 1}, {"help": 1, "tone": 2}, {"help": 3, "tone": 3}, None],
            "bob": [{"help": 2, "tone": 1}, {"help": 1, "tone": 2}, None, None],
        },
    )
    table, counts = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"))
    assert counts == {"exported": 3, "unlabelled": 1}  # the fourth answer nobody rated
    # every prompt is in split train: a test export says why it has nothing (it said only "exported 0"), and a
    # gold answer is counted once, as gold, only in its own split
    _, held_out = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"), "test")
    assert held_out == {"other_split": 4, "exported": 0}
    first = ws.frame("completions")["id"].iloc[0]
    _, counts = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"), gold=[first])
    assert counts == {"gold": 1, "exported": 2, "unlabelled": 1}
    rows = table.to_pylist()
    assert [r["completion"][0]["content"] for r in rows] == ["p0 a0", "p0 a1", "p1 a0"]
    assert [(r["help"], r["tone"], r["raters"]) for r in rows] == [
        (3.0, 1.0, 2),
        (1.0, 2.0, 2),
        (3.0, 3.0, 1),
    ]
    assert rows[0]["prompt"] == [{"role": "user", "content": "question 0"}] and rows[0]["rubric"] == "r"
    agreement = rating_agreement(ws.frame("labels"))
    # help's pairable units (4, 2) and (1, 1): o(2,4) = o(4,2) = 1, o(1,1) = 2; n = 4, n_1 = 2, n_2 = n_4 = 1.
    # Σ o δ² = 2·4 = 8; Σ n_c n_k δ² = 2·(2·1·1 + 2·1·9 + 1·1·4) = 48; α = 1 − 3·8/48 = 0.5
    assert agreement["help"]["items"] == 2
    assert agreement["help"]["interval"] == pytest.approx(1 - 3 * 8 / 48)
    assert agreement["tone"]["interval"] == 1.0
    # an undo takes bob's rating of answer 0 out: one rater left there
    labels = ws.frame("labels")
    bob = labels[(labels["annotator"] == "bob")].iloc[0]
    ws.append([Label(bob["item_id"], "bob", "rate", None, retracted=True, supersedes=bob["id"])])
    table, _ = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"))
    assert table.to_pylist()[0]["help"] == 4.0 and table.to_pylist()[0]["raters"] == 1


def test_kto_from_ratings_thresholds_and_counts(tmp_path):
    ws = rated_workspace(
        tmp_path / "ws",
        {
            "ann": [{"help": 4}, {"help": 1}, {"help": 4}, {"tone": 2}],
            "bob": [{"help": 3}, {"help": 2}, {"help": 2}, None],
        },
    )
    table, _ = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"))
    rows, counts = kto_from_ratings(table, "help>=3", ws.frame("labels"))
    # p0 a0 (4, 3) desirable; p0 a1 (1, 2) undesirable; p1 a0 (4, 2) one on each side: ambiguous; p1 a1 unrated
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == [("p0 a0", True), ("p0 a1", False)]
    assert counts == {"desirable": 1, "undesirable": 1, "ambiguous": 1, "unrated": 1, "exported": 2}
    rows, counts = kto_from_ratings(table, "help < 2", ws.frame("labels"))
    assert [r["label"] for r in rows] == [False, False] and counts["ambiguous"] == 1  # 1 < 2, 2 is not
    assert parse_rule("verbosity<=1.5") == ("verbosity", "<=", 1.5)
    with pytest.raises(ValueError, match=r"--kto-from 'help=3': expected ASPECT>=VALUE"):
        parse_rule("help=3")
    with pytest.raises(ValueError, match=r"--kto-from: no aspect 'speed' .* \(aspects: help, tone\)"):
        kto_from_ratings(table, "speed>=3", ws.frame("labels"))


def test_pairs_from_ratings_higher_wins_equal_gives_none(tmp_path):
    ws = rated_workspace(
        tmp_path / "ws",
        {
            "ann": [{"help": 4}, {"help": 1}, {"help": 2}, {"help": 2}],
            "bob": [{"help": 4}, {"help": 2}, None, None],
        },
    )
    table, _ = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"))
    rows, counts = pairs_from_ratings(table, "help")
    assert counts == {"equal": 1, "pairs": 1}  # p1: 2 vs 2, no pair
    (row,) = rows
    assert row["chosen"][0]["content"] == "p0 a0" and row["rejected"][0]["content"] == "p0 a1"
    assert row["strength"] == 2.5 and row["votes"] == 2 and row["kind"] == "rating"  # gap 4 - 1.5


def test_schema_refuses_a_rating_without_ratings_or_a_choice_with_them():
    row = {f.name: None for f in LABELS}
    row.update(id="l1", item_id="c1", annotator="ann", task="rate", retracted=False, created_at=START)
    with pytest.raises(SchemaError, match=r"row 0, field 'ratings': a rate label needs ratings"):
        conform(pa.Table.from_pylist([row], schema=LABELS), "labels", "x.parquet")
    skip = dict(row, retracted=True)
    assert conform(pa.Table.from_pylist([skip], schema=LABELS), "labels", "x.parquet").num_rows == 1
    kto = dict(row, task="kto", choice="desirable", ratings='{"a":1}')
    with pytest.raises(SchemaError, match=r"field 'ratings': only rate labels carry ratings"):
        conform(pa.Table.from_pylist([kto], schema=LABELS), "labels", "x.parquet")


def test_export_ratings_cli_loads_with_datasets(tmp_path, capsys):
    ws = rated_workspace(
        tmp_path / "ws",
        {"ann": [{"help": 4}, {"help": 1}, None, {"help": 3}], "bob": [{"help": 2}, None, None, None]},
    )
    assert data_main(["export", "-w", str(ws.path), "--format", "ratings"]) == 0
    assert "3 rows exported" in capsys.readouterr().out
    import datasets

    dataset = datasets.load_dataset("parquet", data_files=str(ws.path / "exports" / "ratings.parquet"))[
        "train"
    ]
    assert dataset.column_names == [
        "prompt", "completion", "completion_id", "prompt_id", "round", "help", "raters", "rubric", "split"
    ]  # fmt: skip
    assert dataset["help"] == [3.0, 1.0, 3.0] and dataset["raters"] == [2, 1, 1]
    assert dataset[0]["completion"] == [{"role": "assistant", "content": "p0 a0"}]
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rate_items"]["rated"] == 3 and stats["rate_items"]["ratings"] == 4
    assert stats["rate_items"]["alpha_per_aspect"]["help"]["items"] == 1
    assert data_main(["stats", "-w", str(ws.path)]) == 0
    text = capsys.readouterr().out  # one unit, (4, 2): no agreement beyond chance, α = 0 on both levels
    assert (
        "\nrate_items (people's and imported labels): 3 answers rated, 4 ratings; Krippendorff's α per aspect:\n"
        in text
    )
    assert "  help: 0.000 / 0.000 (interval / ordinal; 1 answer with ≥2 ratings)" in text
    # the labels line counts pairwise and KTO labels only: a bare "none" read as if the ratings were not stored
    assert "\nlabels: none pairwise or kto\n" in text
    assert data_main(["validate", "-w", str(ws.path)]) == 0 and ": OK" in capsys.readouterr().out
    empty = Workspace.init(tmp_path / "empty")
    assert data_main(["export", "-w", str(empty.path), "--format", "ratings"]) == 2
    assert "nothing to export as ratings" in capsys.readouterr().err
    assert data_main(["stats", "-w", str(empty.path)]) == 0  # no label at all: not "none pairwise or kto"
    assert "\nlabels: none\n" in capsys.readouterr().out


def test_stats_lists_the_aspects_in_the_rubrics_order(tmp_path, capsys):
    """`data stats`' rate lines listed the aspects alphabetically (a stored rating's keys are sorted), where the
    rate app lists them in its rubric's order: they follow `--rubric`'s (default HelpSteer2's), the aspects it
    lacks after, sorted. A `--rubric` that orders nothing (no ratings stored) is said, as `data import` says its."""
    helpsteer = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
    ws = rated_workspace(tmp_path / "ws", {"ann": [helpsteer | {"zest": 1, "ease": 2}], "bob": [helpsteer]})

    def listed(*flags: str) -> list[str]:
        assert data_main(["stats", "-w", str(ws.path), *flags]) == 0
        lines = capsys.readouterr().out.splitlines()
        start = next(k for k, line in enumerate(lines) if line.startswith("rate_items ")) + 1
        return [
            line.split(":")[0].strip() for line in takewhile(lambda ln: ln.startswith("  "), lines[start:])
        ]

    assert listed() == ["helpfulness", "correctness", "coherence", "complexity", "verbosity", "ease", "zest"]
    rubric = tmp_path / "mine.yaml"
    rubric.write_text(
        "name: mine\naspects:\n"
        + "".join(
            f"  - {{name: {a}, scale: [0, 4], description: {a}.}}\n" for a in ("zest", "verbosity", "ease")
        )
    )
    order = ["zest", "verbosity", "ease", "coherence", "complexity", "correctness", "helpfulness"]
    assert listed("--rubric", str(rubric)) == order
    assert data_main(["stats", "-w", str(ws.path), "--rubric", str(rubric), "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["rate_items"]["alpha_per_aspect"]) == order
    empty = Workspace.init(tmp_path / "empty")
    assert data_main(["stats", "-w", str(empty.path), "--rubric", str(rubric)]) == 0
    assert (
        capsys.readouterr().err == f"warning: --rubric {rubric} not used: this workspace holds no ratings\n"
    )


def test_the_ratings_export_and_the_widest_aspect_follow_the_rubrics_order(tmp_path, capsys):
    """The export's aspect columns, and of aspects whose ratings differ as much the one named widest (the admin
    tab's furthest-apart answers), were in sorted order (a stored rating's keys are sorted), where the rate app and
    `data stats` list them in the rubric's: they follow `export --rubric` (default HelpSteer2's), the aspects it
    lacks after, sorted; the widest the first in the order given. `--rubric` goes with --format ratings only."""
    helpsteer = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
    differing = helpsteer | {"helpfulness": 1, "verbosity": 0, "zest": 1}  # 2 apart, as zest
    ws = rated_workspace(tmp_path / "ws", {"ann": [helpsteer | {"zest": 3}], "bob": [differing]})
    out = tmp_path / "ratings.parquet"

    def columns(*flags: str) -> list[str]:
        export = ["export", "-w", str(ws.path), "--format", "ratings", "--out", str(out), *flags]
        assert data_main(export) == 0
        names = pq.read_schema(out).names
        return names[names.index("round") + 1 : names.index("raters")]

    assert columns() == ["helpfulness", "correctness", "coherence", "complexity", "verbosity", "zest"]
    rubric = tmp_path / "mine.yaml"
    rubric.write_text(
        "name: mine\naspects:\n"
        + "".join(f"  - {{name: {a}, scale: [0, 4], description: {a}.}}\n" for a in ("zest", "verbosity"))
    )
    order = ["zest", "verbosity", "coherence", "complexity", "correctness", "helpfulness"]
    assert columns("--rubric", str(rubric)) == order
    labels = ws.frame("labels")
    assert rating_spread(labels)["widest"].tolist() == ["helpfulness"]  # before verbosity, HelpSteer2's order
    assert rating_spread(labels, order)[["widest", "range"]].values.tolist() == [["zest", 2.0]]
    assert rating_spread(labels, ["verbosity", "helpfulness"])["widest"].tolist() == ["verbosity"]
    capsys.readouterr()
    assert data_main(["export", "-w", str(ws.path), "--format", "kto", "--rubric", str(rubric)]) == 2
    assert capsys.readouterr().err == (
        "error: --rubric applies to --format ratings (the order of its aspect columns), not kto\n"
    )


def test_a_rubrics_key_is_what_its_ratings_are_stored_as_and_never_an_error(tmp_path):
    """The import log compares rubrics by `rubric_key` (`data.import_options.logged_options`): HelpSteer2's copied
    with other descriptions is the default; another name is another rubric. The log line is written after the rows
    are stored, so a rubric gone since the import read it is None, not an error saying that nothing was stored."""
    assert rubric_key() == (
        "helpsteer2: helpfulness 0..4, correctness 0..4, coherence 0..4, complexity 0..4, verbosity 0..4"
    )
    copy = tmp_path / "copy.yaml"
    copy.write_text(DEFAULT_RUBRIC.read_text().replace("Overall helpfulness", "How helpful"))
    assert rubric_key(copy) == rubric_key()
    copy.write_text(DEFAULT_RUBRIC.read_text().replace("name: helpsteer2", "name: mine"))
    assert rubric_key(copy).startswith("mine: helpfulness 0..4")
    assert rubric_key(tmp_path / "gone.yaml") is None  # which a line records as unknown: alike to any rubric
    line = {"options": {"rubric_aspects": None, "non_text": "fail"}}
    assert read_alike(line, {"rubric_aspects": rubric_key(), "non_text": "fail"})
    assert not read_alike(line, {"rubric_aspects": rubric_key(), "non_text": "drop"})


def test_a_rubric_integer_too_long_to_read_names_the_file_and_field(tmp_path):
    """PyYAML reads an integer with int(): a scale bound of 5,000 digits was a ValueError traceback."""
    path = tmp_path / "r.yaml"
    path.write_text(
        f"aspects:\n  - name: clarity\n    scale: [1, {'9' * 5000}]\n    description: How clear.\n"
    )
    with pytest.raises(RubricError) as refused:
        load_rubric(path)
    assert str(refused.value) == (
        f"{path}, field 'aspects[0].scale[1]': an integer of 5000 digits, more than the 4300 Python reads as a number"
    )


def test_an_aspect_named_as_a_column_of_the_export_is_refused(tmp_path):
    """An aspect is a column of the ratings export, beside its own: one named `split` (the export's last column,
    which `data import` reads as the row's split) would be written twice."""
    path = tmp_path / "r.yaml"
    path.write_text("name: r\naspects:\n  - name: split\n    scale: [1, 3]\n    description: Which half.\n")
    with pytest.raises(
        RubricError, match=r"field 'aspects\[0\]\.name': 'split' must be lower-case .* raters, "
    ):
        load_rubric(path)


def test_ratings_of_an_aspect_named_split_stored_before_it_was_refused_keep_their_column(tmp_path, caplog):
    """A rubric could name an aspect `split` before the ratings table wrote each row's split under that name: the
    prompts' splits overwrote its column of means without a word (an export, `--kto-from 'split>=2'`, read "train"
    as its ratings). The aspect keeps its column, the split is not written, and a warning says so, for a table of no
    rows too (its columns are the same)."""
    import logging

    ws = rated_workspace(
        tmp_path / "ws", {"ann": [{"help": 4, "split": 1}, {"help": 1, "split": 2}, None, None]}
    )
    with caplog.at_level(logging.WARNING, logger="data.ratings"):
        table, _ = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"))
        empty, _ = ratings_table(ws.frame("prompts"), ws.frame("completions"), ws.frame("labels"), "test")
    assert table.column_names == empty.column_names == [
        "prompt", "completion", "completion_id", "prompt_id", "round", "help", "split", "raters", "rubric"
    ]  # fmt: skip
    assert table.column("split").to_pylist() == [1.0, 2.0] and empty.num_rows == 0
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and all(
        message.startswith(
            "the stored ratings have an aspect named 'split' (a rubric could name one before it became the ratings "
            "table's column of each row's split): its column holds that aspect's means, and the rows' split is not "
            "written"
        )
        for message in warned
    )
