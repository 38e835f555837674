"""`--min-posterior` (export and train, with `--aggregate dawid-skene`): verdicts less sure than the threshold stay
out, counted `below_min_posterior` once each (`unchecked`, with what it means, where the verdict is one labeller's
answer nobody checks, its posterior that labeller's trust); a threshold without a posterior to read, out of range, or for a format
or method that has no verdicts is a one-line error."""

from __future__ import annotations

import gzip
import json

import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.aggregate import verdicts_table
from data.errors import PrefloopError
from data.export import dpo_table
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from tests.test_train import build_workspace, options
from train.options import check_options
from train.pairs import add_agreement, kto_rows, preference_rows
from train.report import data_line, eval_line, verdicts_line


@pytest.fixture
def ws(tmp_path):
    """12 pairs: ann always a, bob a on odd pairs, cyd b on every third: verdicts of several sureness."""
    workspace = build_workspace(tmp_path / "ws", count=12, annotators=("ann",), kto=True)
    pairs = workspace.frame("pairs")
    labels = []
    for i, pair in enumerate(pairs["id"]):
        labels.append(Label(pair, "bob", "pairwise", "a" if i % 2 else "b", strength=2))
        labels.append(Label(pair, "cyd", "pairwise", "b" if i % 3 == 0 else "a", strength=2))
    workspace.append(labels)
    return workspace


def test_export_leaves_out_verdicts_below_the_posterior(ws, capsys):
    capsys.readouterr()
    verdicts = verdicts_table(ws.read("labels"), "pairwise", "dawid-skene")
    posterior = verdicts.column("posterior").to_pylist()
    threshold = sorted(posterior)[len(posterior) // 2]  # about half the verdicts are less sure than this
    sure = sum(
        p >= threshold for p, v in zip(posterior, verdicts.column("verdict").to_pylist()) if v in ("a", "b")
    )
    decided = sum(v in ("a", "b") for v in verdicts.column("verdict").to_pylist())
    assert 0 < sure < decided
    w = ["export", "-w", str(ws.path), "--format", "dpo", "--aggregate", "dawid-skene"]
    assert main([*w, "--min-posterior", str(threshold)]) == 0
    out = capsys.readouterr().out
    assert out.endswith(f": {sure} rows exported, left out: below_min_posterior {decided - sure}\n")
    rows, counts = preference_rows(ws, None, ("sampled",), aggregate="dawid-skene", min_posterior=threshold)
    assert len(rows) == sure and counts["below_min_posterior"] == decided - sure
    assert all(row["posterior"] >= threshold for row in rows)
    # one labeller, nobody checking her: posterior her trust, 0.8, counted unchecked (not below_min_posterior)
    kto, kto_counts = kto_rows(ws, None, aggregate="dawid-skene", min_posterior=0.9)
    assert (len(kto), dict(kto_counts)) == (
        0,
        {"unchecked": 24, "exported": 0, "desirable": 0, "undesirable": 0},
    )
    assert kto_counts.trust == {"unchecked": {"0.800": 24}}  # apart from the reasons: each row counted once


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--format", "dpo", "--min-posterior", "0.9"], "--min-posterior needs --aggregate dawid-skene"),
        (
            ["--format", "dpo", "--aggregate", "dawid-skene", "--min-posterior", "0"],
            "--min-posterior 0: must be in (0, 1]",
        ),
        (["--format", "dpo", "--aggregate", "dawid-skene", "--min-posterior", "nan"], "must be in (0, 1]"),
        # where it cannot apply that is said first (it said "needs --aggregate dawid-skene", which sft refuses)
        (
            ["--format", "sft", "--min-posterior", "0.9"],
            "--min-posterior applies to --format dpo and kto, not sft",
        ),
        (
            ["--format", "ratings", "--min-posterior", "0.9"],
            "--min-posterior applies to --format dpo and kto",
        ),
    ],
)
def test_export_refuses_a_threshold_it_cannot_apply(ws, argv, error, capsys):
    assert main(["export", "-w", str(ws.path), *argv]) == 2
    err = capsys.readouterr().err
    assert error in err and len(err.strip().splitlines()) == 1
    assert not list(ws.exports.iterdir())


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"min_posterior": 0.9}, "--min-posterior needs --aggregate dawid-skene"),
        ({"min_posterior": 1.5, "aggregate": "dawid-skene"}, "--min-posterior 1.5: must be in (0, 1]"),
        ({"min_posterior": 0.9, "aggregate": "dawid-skene", "method": "sft"}, "not sft"),
        ({"min_posterior": 0.9, "method": "sft"}, "applies to methods trained on verdicts, not sft"),
        ({"min_posterior": 0.9, "method": "kto", "kto_from": "helpfulness>=3"}, "not --kto-from"),
    ],
)
def test_train_refuses_a_threshold_it_cannot_apply(ws, tmp_path, extra, error):
    with pytest.raises(PrefloopError, match=error.replace("(", r"\(").replace(")", r"\)")):
        check_options(options(ws, "tiny", tmp_path / "out", **extra))


@pytest.mark.parametrize(("given", "said"), [(1, "1"), (0.9, "0.9"), (0.123456789, "0.123456789")])
def test_the_threshold_is_quoted_back_in_one_short_form_in_the_train_report(given, said):
    """`:g` quoted 1.0 as 1 but cut 0.123456789 to 0.123457, a threshold nobody gave; a float is quoted in one
    short form: no ".0" on a whole number, every digit of any other."""
    line = verdicts_line({"verdicts": {"aggregate": "dawid-skene", "min_posterior": float(given)}})
    assert line == f"verdicts: dawid-skene, posterior at least {said}"


def test_train_quotes_a_threshold_of_0_as_given(ws, tmp_path):
    """`train --min-posterior 0` was refused as `--min-posterior 0.0`, a value not typed."""
    with pytest.raises(PrefloopError, match=r"^--min-posterior 0: must be in \(0, 1\]$"):
        check_options(options(ws, "tiny", tmp_path / "out", aggregate="dawid-skene", min_posterior=0.0))


def test_a_yaml_threshold_written_1e_minus_2_is_read_and_still_range_checked(ws, tmp_path):
    """PyYAML (YAML 1.1) reads `min_posterior: 1e-2` as the string '1e-2': it was "expected float"."""
    from train.__main__ import parse_train_options

    config = tmp_path / "run.yaml"
    argv = ["-w", str(ws.path), "--config", str(config)]
    config.write_text("aggregate: dawid-skene\nmin_posterior: 1e-2\n")
    read = parse_train_options(argv)
    assert read.min_posterior == 0.01
    check_options(read)
    config.write_text("aggregate: dawid-skene\nmin_posterior: 5e-1\n")
    assert parse_train_options(argv).min_posterior == 0.5
    config.write_text("aggregate: dawid-skene\nmin_posterior: 1e2\n")
    with pytest.raises(PrefloopError, match=r"--min-posterior 100: must be in \(0, 1\]"):
        check_options(parse_train_options(argv))


def test_a_degenerate_pair_is_counted_degenerate_whatever_its_posterior(tmp_path):
    """Every reason comes before `--min-posterior` (as in KTO): a pair whose two answers are one text is
    `degenerate`, also when its verdict is less sure than the threshold, so each row is counted once and by the
    reason that would keep it out anyway."""
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Say hi."}], "toy", None, "train")
    a, b = Completion(prompt.id, "hi", "m1", "import"), Completion(prompt.id, " hi ", "m2", "import")
    pair = Pair(prompt.id, a.id, b.id, kind="sampled")
    # a 2-1 vote: verdict a, short of certain (an a-b 1-1 vote is a split, counted before degenerate)
    votes = (("ann", "a"), ("bob", "a"), ("cyd", "b"))
    ws.append([prompt, a, b, pair, *(Label(pair.id, name, "pairwise", choice) for name, choice in votes)])
    counts = dpo_table(
        ws.read("prompts"),
        ws.read("completions"),
        ws.read("pairs"),
        ws.read("labels"),
        method="dawid-skene",
        min_posterior=1.0,
    )[1]
    assert dict(counts) == {"degenerate": 1, "exported": 0}


def ann_mostly_alone(tmp_path) -> tuple[Workspace, list[str]]:
    """ann labels 50 answers, 5 undesirable, alone; bob agrees with her on the last two, desirable. (The
    workspace, the answers' ids.)"""
    ws = build_workspace(tmp_path / "ws", count=25, annotators=())
    answers = ws.frame("completions")["id"].tolist()
    labels = [Label(c, "ann", "kto", "undesirable" if i < 5 else "desirable") for i, c in enumerate(answers)]
    ws.append(labels + [Label(c, "bob", "kto", "desirable") for c in answers[-2:]])
    return ws, answers


def test_a_labellers_rare_answer_nobody_checks_exports_and_trains_as_given(tmp_path, capsys):
    """ann labels 50 answers, 5 undesirable, alone; bob agrees with her on two desirable ones. Those two checked
    her desirable answers only, yet made her a labeller the fit could read: it read her 5 undesirable answers as
    misses (desirable at 0.96, past `--min-posterior 0.9`), and the KTO export and train held no undesirable row;
    with bob excluded (ann then checked by nobody) they held all 5. Now they are hers as given either way, and
    train counts them as the export does."""
    ws, answers = ann_mostly_alone(tmp_path)
    w = ["export", "-w", str(ws.path), "--format", "kto", "--aggregate", "dawid-skene"]
    for excluded in ([], ["--exclude-labeller", "bob"]):
        assert main([*w, *excluded]) == 0
        assert ": 50 rows exported (desirable 45, undesirable 5)" in capsys.readouterr().out
    rows, counts = kto_rows(ws, None, aggregate="dawid-skene")
    assert dict(counts) == {"exported": 50, "desirable": 45, "undesirable": 5}
    assert {r["completion_id"]: r["label"] for r in rows} == {c: i >= 5 for i, c in enumerate(answers)}


def test_answers_nobody_checks_are_not_sure(tmp_path, capsys):
    """An answer nobody checks had posterior 1: it passed every `--min-posterior` and trained at ε 0 under
    `--agreement`. Its posterior is now the labeller's trust: right on both items bob checks, (2 + 2) / (2 + 2.5),
    0.89, which `--min-posterior 0.85` keeps and 0.9 leaves out, counted; checked by nobody (bob excluded) the
    prior's 0.8, which 0.85 leaves out. Export and train count alike, and a lone labeller's pairs train at ε 0.2."""
    ws, _ = ann_mostly_alone(tmp_path)
    w = ["export", "-w", str(ws.path), "--format", "kto", "--aggregate", "dawid-skene", "--min-posterior"]
    assert main([*w, "0.85"]) == 0
    assert ": 50 rows exported (desirable 45, undesirable 5)" in capsys.readouterr().out
    assert main([*w, "0.9"]) == 0
    assert (
        ": 2 rows exported (desirable 2), left out: unchecked 48; unchecked: 48 rows"
        in capsys.readouterr().out
    )
    rows, counts = kto_rows(ws, None, aggregate="dawid-skene", min_posterior=0.9)
    assert dict(counts) == {
        "exported": 2,
        "desirable": 2,
        "undesirable": 0,
        "unchecked": 48,
    }
    assert counts.trust == {"unchecked": {"0.889": 48}}
    assert main([*w, "0.85", "--exclude-labeller", "bob"]) == 2
    assert "(left out: unchecked 50; unchecked: 50 rows are one labeller's" in capsys.readouterr().err
    lone = build_workspace(tmp_path / "lone", count=4)  # ann alone on every pair
    rows, _ = preference_rows(lone, None, ("sampled",), aggregate="dawid-skene")
    add_agreement(rows, "smoothing")
    assert [r["pair_epsilon"] for r in rows] == pytest.approx([0.2] * 4)


def checked_and_not(tmp_path, test: int = 0) -> Workspace:
    """12 pairs: on the first 8 ann says a, bob a on odd ones, cyd b on every third (posteriors 0.62-0.99, each
    checked); the last 4 are dan's alone, whom nobody checks (posterior his trust, 0.8); the last ``test`` held
    out."""
    ws = build_workspace(tmp_path / "ws", count=12, annotators=(), test=test)
    pairs = ws.frame("pairs")["id"].tolist()
    labels = [Label(pair, "dan", "pairwise", "a") for pair in pairs[8:]]
    for i, pair in enumerate(pairs[:8]):
        votes = (("ann", "a"), ("bob", "a" if i % 2 else "b"), ("cyd", "b" if i % 3 == 0 else "a"))
        labels += [Label(pair, name, "pairwise", choice) for name, choice in votes]
    ws.append(labels)
    return ws


def unchecked_note(n: int, reasons: str = "unchecked", trust: str | None = "0.800") -> str:
    """The note on ``n`` rows left out ``reasons``, whose posterior, their labellers' trust, was ``trust`` (None:
    not known, as in the counts a run recorded before they were tallied)."""
    here = f"here {trust}; " if trust else ""
    return (
        f"{reasons}: {n} rows are one labeller's answer that no second labeller or gold checks, its posterior that "
        f"labeller's trust ({here}0.8 where nothing of theirs is checked), below --min-posterior 0.9: add "
        "gold (`python -m data gold`) or a second labeller on 3 or more of their items per answer they give, or "
        "lower --min-posterior"
    )


def sure_export(ws: Workspace) -> list[str]:
    """`data export` of the dpo rows whose Dawid–Skene posterior is at least 0.9."""
    return [
        "export",
        "-w",
        str(ws.path),
        "--format",
        "dpo",
        "--aggregate",
        "dawid-skene",
        "--min-posterior",
        "0.9",
    ]


def test_answers_nobody_checks_are_counted_apart_and_said_why(tmp_path, capsys):
    """All 9 verdicts below `--min-posterior 0.9` were counted below_min_posterior, dan's 4 among them, and nothing
    said why his were all 0.8 (a new user's first import: every pair is one labeller's). They are counted
    `unchecked` now, once each, export and train alike, with what that means and what to do; each row's `checked`
    says whose posterior is its labeller's trust."""
    ws = checked_and_not(tmp_path)
    w = sure_export(ws)
    assert main(w) == 0
    said = "3 rows exported, left out: below_min_posterior 5, unchecked 4; " + unchecked_note(4)
    assert capsys.readouterr().out.endswith(f": {said}\n")
    assert pq.read_table(ws.exports / "dpo.parquet").column("checked").to_pylist() == [True] * 3
    rows, counts = preference_rows(ws, None, ("sampled",), aggregate="dawid-skene", min_posterior=0.9)
    assert dict(counts) == {"exported": 3, "below_min_posterior": 5, "unchecked": 4}
    assert counts.trust == {"unchecked": {"0.800": 4}}  # how many had that trust: the note quotes it
    verdicts = {"aggregate": "dawid-skene", "min_posterior": 0.9}
    assert (
        data_line({"data_counts": counts, "data_trust": counts.trust, "verdicts": verdicts})
        == f"workspace: {said.replace('exported', 'taken', 1)}"
    )
    rows, _ = preference_rows(ws, None, ("sampled",), aggregate="dawid-skene")
    assert (
        sorted((r["checked"], round(r["posterior"], 3)) for r in rows if not r["checked"])
        == [(False, 0.8)] * 4
    )


def test_the_held_out_line_says_what_unchecked_is_where_the_workspace_line_did_not(tmp_path):
    """dan labels only held-out pairs, alone: the training split has none nobody checks, and the report's held-out
    line counted `unchecked 4` with nothing said of it anywhere; said once, where the workspace line says it."""
    ws = checked_and_not(tmp_path, test=6)  # pairs 6 and 7 held out beside dan's
    sure = {"aggregate": "dawid-skene", "min_posterior": 0.9}
    _, counts = preference_rows(ws, "train", ("sampled",), **sure)
    _, eval_counts = preference_rows(ws, "test", ("sampled",), held_out=True, **sure)
    assert (counts.get("unchecked"), eval_counts["unchecked"], eval_counts["exported"]) == (None, 4, 1)
    held = {"held_out": 1, "evaluated": 1, "beyond_eval_limit": 0, "excluded": {}, "truncated": 0}
    metrics = {"data_counts": counts, "eval_counts": eval_counts, "verdicts": sure, "eval_rows": held}
    metrics |= {"data_trust": counts.trust, "eval_trust": eval_counts.trust}
    assert eval_line(metrics) == (
        "held-out rows: 1; test-split items left out: below_min_posterior 1, unchecked 4, evaluated 1, 0 truncated "
        f"to fit; {unchecked_note(4)}"
    )
    assert "unchecked" not in data_line(metrics)
    both = metrics | {
        "data_counts": counts | {"unchecked": 2},
        "data_trust": {},
        "eval_trust": {},
    }  # as recorded before the tally: no trust to quote
    assert unchecked_note(2, trust=None) in data_line(both)
    assert eval_line(both).endswith("0 truncated to fit")


def test_the_report_says_how_many_pairs_took_their_epsilon_from_trust(tmp_path):
    """`--agreement` gave dan's 4 pairs ε 0.2 (1 − his trust) with nothing said: on imported data every pair's ε."""
    rows, _ = preference_rows(checked_and_not(tmp_path), None, ("sampled",), aggregate="dawid-skene")
    summary = add_agreement(rows, "smoothing")
    assert (summary["from_trust"], summary["pairs"]) == (4, 12)
    line = verdicts_line({"verdicts": {"aggregate": "dawid-skene"}, "agreement": summary})
    assert line.endswith(
        "; ε of 4 of the 12 pairs from their labeller's trust, not a fit (ε 0.2 where nothing of theirs is "
        "checked): one labeller's answer that no second labeller or gold checks)"
    )
    # --agreement weight trains no ε (its weights are 1 − 2ε): the line said "ε 0.2" of its weights
    rows, _ = preference_rows(checked_and_not(tmp_path / "w"), None, ("sampled",), aggregate="dawid-skene")
    weights = verdicts_line(
        {"verdicts": {"aggregate": "dawid-skene"}, "agreement": add_agreement(rows, "weight")}
    )
    assert (
        "weights of 4 of the 12 pairs from their labeller's trust, not a fit (posterior 0.8 where" in weights
    )
    majority, _ = preference_rows(checked_and_not(tmp_path / "m"), None, ("sampled",))
    assert "from_trust" not in add_agreement(majority, "smoothing")


def test_train_says_why_it_left_out_every_row_nobody_checks(tmp_path, tiny_model_dir, capsys):
    """Train's errors of rows left out named below_min_posterior only: now unchecked, and what it means."""
    from train.__main__ import main as train_main

    lone = build_workspace(tmp_path / "lone", count=4)  # ann alone on every pair
    kto, _ = ann_mostly_alone(tmp_path / "kto")  # all ann's but 2 desirable answers bob checks
    sure = ["--aggregate", "dawid-skene", "--min-posterior", "0.9", "--model", str(tiny_model_dir)]
    assert train_main(["-w", str(lone.path), *sure, "--out", str(tmp_path / "a")]) == 2
    assert f"to train on in split train (unchecked 4; {unchecked_note(4)})" in capsys.readouterr().err
    assert train_main(["-w", str(kto.path), "--method", "kto", *sure, "--out", str(tmp_path / "b")]) == 2
    said = f"left out: unchecked 48; {unchecked_note(48, trust='0.889')}): KTO needs both"
    assert said in capsys.readouterr().err


def test_a_lone_rankers_pairs_are_counted_rank_unchecked_and_said_why(tmp_path, capsys):
    """The pairs of one labeller's ranking are one labeller's answers nobody checks: counted rank_unchecked, and
    the export says what that means as it does for pairs, naming the counts it explains (it said `unchecked: 4
    rows` beside `rank_unchecked 3, unchecked 1`)."""
    from data.ranking import canonical_ranking, rank_item_id

    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Rank us"}], "t")
    answers = [Completion(prompt.id, f"answer {i}", "m", "hf", seed=i) for i in range(3)]
    ranking = canonical_ranking(">".join(a.id for a in answers))
    ws.append([prompt, *answers, Label(rank_item_id(prompt.id, 0), "ann", "rank", None, ranking=ranking)])
    pair = Pair(prompt.id, answers[0].id, answers[1].id, kind="sampled")  # bob's alone
    w = sure_export(ws)
    assert main(w) == 2
    said = "(left out: rank_unchecked 3; " + unchecked_note(3, "rank_unchecked") + ")"
    assert said in capsys.readouterr().err
    ws.append([pair, Label(pair.id, "bob", "pairwise", "a")])
    assert main([*w, "--kinds", "sampled", "rank"]) == 2
    said = (
        "(left out: rank_unchecked 3, unchecked 1; "
        + unchecked_note(4, "unchecked 1 and rank_unchecked 3")
        + ")"
    )
    assert said in capsys.readouterr().err


def test_train_says_the_test_split_was_all_left_out_not_that_there_is_none(tmp_path, tiny_model_dir, capsys):
    """dan alone labels the 4 held-out pairs, all below --min-posterior 0.9: train reported on its training rows
    as "training (no test split: not held-out)", and why the test split's pairs were left out was thrown away."""
    from train.__main__ import main as train_main

    ws = checked_and_not(tmp_path, test=4)
    sure = ["--aggregate", "dawid-skene", "--min-posterior", "0.9", "--max-steps", "1", "--batch-size", "2"]
    assert (
        train_main(["-w", str(ws.path), *sure, "--model", str(tiny_model_dir), "--out", str(tmp_path / "o")])
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "evaluation rows (training): 3 (the workspace's test split has 4 items, all left out: unchecked 4; so "
        f"training rows are used for the report, not held-out), evaluated 3, 0 truncated to fit; {unchecked_note(4)}"
    ) in out
    assert "training (test split all left out: not held-out) pairs: 3" in out
    (entry,) = ws.frame("models").query("method == 'dpo'").to_dict("records")  # what `data stats` reads
    assert json.loads(entry["metrics"])["eval_counts"]["unchecked"] == 4


def dan_and_eve(tmp_path, test: int = 0) -> Workspace:
    """16 pairs: ann, bob and cyd on the first 8 (as `checked_and_not`), dan a on 2 of them and b alone on 4 (his b
    checked on none: his 4 stay out of the fit at his trust, from the 2 that check him), eve alone on the last 4
    (checked on nothing: 0.8); the last ``test`` held out."""
    ws = build_workspace(tmp_path / "ws", count=16, annotators=(), test=test)
    pairs = ws.frame("pairs")["id"].tolist()
    labels = [Label(pair, "dan", "pairwise", "b") for pair in pairs[8:12]]
    labels += [Label(pair, "dan", "pairwise", "a") for pair in pairs[:2]]
    labels += [Label(pair, "eve", "pairwise", "a") for pair in pairs[12:]]
    for i, pair in enumerate(pairs[:8]):
        votes = (("ann", "a"), ("bob", "a" if i % 2 else "b"), ("cyd", "b" if i % 3 == 0 else "a"))
        labels += [Label(pair, name, "pairwise", choice) for name, choice in votes]
    ws.append(labels)
    return ws


def test_the_unchecked_note_quotes_the_trust_the_rows_left_out_got(tmp_path, capsys):
    """dan's 4 lone pairs were left out at his trust, 0.87998, and the note said only "0.8 where nothing of theirs is
    checked": it quotes the trust they got, the one `stats --labellers` shows (0.880, to 3 decimals, would read as if
    a --min-posterior 0.88 kept them: `data.intervals.trust_text`), and the range beside eve's 0.8."""
    ws = dan_and_eve(tmp_path)
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    trust = {r["labeller"]: r["trust"] for r in json.loads(capsys.readouterr().out)["labellers"]}
    assert (trust["dan"], trust["eve"]) == (0.87998, 0.8)
    assert main([*sure_export(ws), "--exclude-labeller", "eve"]) == 0
    said = "left out: below_min_posterior 2, excluded_only 4, unchecked 4; " + unchecked_note(
        4, trust="0.87998"
    )
    assert capsys.readouterr().out.endswith(f", {said}; excluded labellers: eve (--exclude-labeller)\n")
    assert main(sure_export(ws)) == 0
    said = "below_min_posterior 2, unchecked 8; " + unchecked_note(8, trust="0.800–0.87998")
    assert f"left out: {said}\n" in capsys.readouterr().out
    sure = {"aggregate": "dawid-skene", "min_posterior": 0.9}
    _, counts = preference_rows(ws, None, ("sampled",), **sure)
    assert data_line({"data_counts": counts, "data_trust": counts.trust, "verdicts": sure}).endswith(said)


def test_the_held_out_line_quotes_the_trust_of_its_own_rows(tmp_path):
    """dan's and eve's pairs held out, beside none of the training split's: the held-out line quotes theirs."""
    ws = dan_and_eve(tmp_path, test=8)
    sure = {"aggregate": "dawid-skene", "min_posterior": 0.9}
    _, counts = preference_rows(ws, "train", ("sampled",), **sure)
    _, eval_counts = preference_rows(ws, "test", ("sampled",), held_out=True, **sure)
    metrics = {
        "data_counts": counts,
        "eval_counts": eval_counts,
        "verdicts": sure,
        "eval_trust": eval_counts.trust,
    }
    metrics["eval_rows"] = {
        "held_out": 0,
        "evaluated": 0,
        "beyond_eval_limit": 0,
        "excluded": {},
        "truncated": 0,
    }
    assert "unchecked" not in data_line(metrics)
    assert eval_line(metrics).endswith(
        f"unchecked 8, evaluated 0, 0 truncated to fit; {unchecked_note(8, trust='0.800–0.87998')}"
    )


# Per answer, the KTO labels of ann, bob, cyd and dan (d desirable, u undesirable, - none): dan's 3 lone undesirable
# answers (he gave undesirable on 2 checked ones) stay out of the fit at his trust, 0.89981 (stats shows 0.900)
JUST_BELOW = "dddd dddd ddud uddu dddd dudd duud ddd- dddd dudd udud uuu- ---u ---u ---u"


def test_the_trust_quoted_of_rows_below_the_floor_never_reads_the_floor(tmp_path, capsys):
    """dan's lone answers were left out below --min-posterior 0.9 at his trust 0.8998, and the note said "here
    0.900", as if the floor had left out rows at it: the trust quoted has the decimals that keep it below."""
    ws = build_workspace(tmp_path / "ws", count=15, annotators=())
    answers = ws.frame("completions")["id"].tolist()
    choice = {"d": "desirable", "u": "undesirable"}
    ws.append(
        [
            Label(answer, name, "kto", choice[c])
            for answer, labels in zip(answers, JUST_BELOW.split())
            for name, c in zip(("ann", "bob", "cyd", "dan"), labels)
            if c != "-"
        ]
    )
    sure = ["--aggregate", "dawid-skene", "--min-posterior", "0.9"]
    assert main(["export", "-w", str(ws.path), "--format", "kto", *sure]) == 0
    out = capsys.readouterr().out
    assert "unchecked 3, unlabelled 15; unchecked: 3 rows are one labeller's answer" in out
    assert "(here 0.8998; 0.8 where nothing of theirs is checked), below --min-posterior 0.9" in out
    rows, counts = kto_rows(ws, None, aggregate="dawid-skene", min_posterior=0.9)
    assert counts.trust == {"unchecked": {"0.8998": 3}}
    # at any floor, as `stats --labellers` shows it (it said 0.900 below 0.95: test_data_trust_quotes.py)
    _, lower = kto_rows(ws, None, aggregate="dawid-skene", min_posterior=0.95)
    assert lower.trust == {"unchecked": {"0.8998": 3}}


def test_a_runs_counts_are_its_rows_once_by_reason_and_a_resume_still_quotes_their_trust(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The trust tally sat among the counts (``"unchecked at trust 0.880": 4``): metrics.json's `data_counts`, the
    saved selection and `stats --json` counted dan's 4 pairs twice, where they are every pair once, by reason. The
    trusts are kept apart (`data_trust`, `eval_trust`), and a resume, reading the selection the run started with,
    still quotes them; a selection recorded before them reads as before, quoting none."""
    from tests.test_train_out_folder import argv, killed_at
    from train.__main__ import main as train_main
    from train.out_folder import SELECTION_FILE, read_selection

    ws, out = dan_and_eve(tmp_path, test=4), tmp_path / "out"  # eve's 4 pairs held out, dan's 4 trained
    sure = {"aggregate": "dawid-skene", "min_posterior": 0.9}
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1, **sure))
    capsys.readouterr()
    assert train_main(argv(ws, tiny_model_dir, out, "--aggregate", "dawid-skene", "--min-posterior", "0.9",
                           "--resume")) == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_counts"] == {
        "exported": 6,
        "below_min_posterior": 2,
        "unchecked": 4,
        "other_split": 4,
    }
    assert metrics["eval_counts"] == {"exported": 0, "unchecked": 4, "other_split": 12}
    assert (metrics["data_trust"], metrics["eval_trust"]) == (
        {"unchecked": {"0.87998": 4}},
        {"unchecked": {"0.800": 4}},
    )
    said = (
        f"left out: below_min_posterior 2, other_split 4, unchecked 4; {unchecked_note(4, trust='0.87998')}"
    )
    # the held-out line quoted no trust where the workspace line said what unchecked is: it quotes its own rows'
    held = "all left out: unchecked 4; so training rows are used for the report, not held-out), evaluated 4 "
    held += "(--eval-limit left out 2), 0 truncated to fit; unchecked: 4 rows at their labeller's trust (here 0.800; "
    held += "what that is: the workspace line)"
    shown = capsys.readouterr().out
    assert said in shown and said in (out / "report.md").read_text()
    assert held in shown and held in (out / "report.md").read_text()
    (entry,) = ws.frame("models").query("method == 'dpo'").to_dict("records")  # what `stats --json` gives
    assert json.loads(entry["metrics"])["data_counts"] == metrics["data_counts"]
    record = json.loads(gzip.decompress((out / SELECTION_FILE).read_bytes()))
    for key in ("trust", "eval_trust"):  # as recorded before the tally
        del record[key]
    (out / SELECTION_FILE).write_bytes(gzip.compress(json.dumps(record).encode()))
    old = read_selection(out)
    assert (old["trust"], old["counts"]) == ({}, metrics["data_counts"])
    line = data_line({"data_counts": old["counts"], "data_trust": old["trust"], "verdicts": sure})
    assert line.endswith(f"unchecked 4; {unchecked_note(4, trust=None)}")
