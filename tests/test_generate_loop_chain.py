"""The SPIN chain's files: each run's held_out.json and WS/runs/<name>-chain.json are strict JSON where a diverged
iterate's log-probs are NaN (null), and a null log-probability is a prompt that cannot be compared: left out and
counted, never a crash (the chain, its report lines and benchmarks/plot_spin_chain.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from data.errors import PrefloopError
from data.files import NotAFileError
from generate.loop.chain import gold_chain, write_gold_chain, write_samples
from generate.loop.report import chain_lines
from tests.test_train_fit import strict
from train.evaluate import read_held_out, write_held_out

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import plot_spin_chain  # noqa: E402


class Pairs:
    """A workspace of held-out pairs p1..p4 on prompts q1..q4 (all `gold_chain` reads of it)."""

    def frame(self, name: str) -> pd.DataFrame:
        assert name == "pairs"
        return pd.DataFrame(
            {"id": [f"p{i}" for i in range(1, 5)], "prompt_id": [f"q{i}" for i in range(1, 5)]}
        )


def run(folder: Path, before: list[float], after: list[float]) -> dict:
    rows = [{"pair_id": f"p{i}"} for i in range(1, len(before) + 1)]
    write_held_out(folder, rows, {"chosen": before, "rejected": before}, {"chosen": after, "rejected": after})
    return {"path": str(folder)}


def test_held_out_json_writes_a_diverged_log_prob_as_null_and_reads_it_as_none(tmp_path):
    run(tmp_path, [-10.0, -11.0], [math.nan, -math.inf])
    held = strict((tmp_path / "held_out.json").read_text())
    assert held["after"]["chosen"] == [None, None] and held["before"]["chosen"] == [-10.0, -11.0]
    assert read_held_out(tmp_path)["after"]["chosen"] == [None, None]
    # a file written before NaN became null reads the same
    (tmp_path / "held_out.json").write_text(
        json.dumps({"ids": ["p1"], "before": {"chosen": [math.nan]}, "after": {}})
    )
    assert read_held_out(tmp_path)["before"]["chosen"] == [None]


def test_a_symlink_at_held_out_json_is_refused_naming_it_not_read(tmp_path):
    """A run folder (often under the workspace's runs/) is read as every workspace file is: a symlink planted at
    held_out.json was followed, and its target's numbers went into the chain."""
    run(tmp_path / "elsewhere", [-10.0], [-9.0])
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "held_out.json").symlink_to(tmp_path / "elsewhere/held_out.json")
    with pytest.raises(NotAFileError, match=f"{folder / 'held_out.json'}: a symlink or special file"):
        read_held_out(folder)
    assert read_held_out(tmp_path / "none") is None


def test_a_held_out_json_cut_short_is_one_line_naming_it(tmp_path):
    (tmp_path / "held_out.json").write_text('{"before": {"chosen": [-1.0')
    with pytest.raises(PrefloopError, match=f"{tmp_path / 'held_out.json'}: not held-out numbers"):
        read_held_out(tmp_path)


def test_a_held_out_json_nested_deeper_than_its_walk_is_one_line_naming_it(tmp_path):
    """Nested a few hundred deep, the parser reads it and `finite`, which walks it once more a frame or two a level,
    ran out of stack: a RecursionError traceback past the depth guard, which is a line as any deeper file's."""
    depth = sys.getrecursionlimit() * 3 // 5  # under the parser's reach, past the walk's
    (tmp_path / "held_out.json").write_text('{"before": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(
        PrefloopError, match=r"held_out.json: not held-out numbers \(TooDeep: nested too deeply"
    ):
        read_held_out(tmp_path)


def test_a_null_log_prob_is_a_prompt_left_out_of_the_chain_and_counted(tmp_path):
    first = run(tmp_path / "iter1", [-10.0, -12.0, -11.0, -9.0], [-9.0, math.nan, -10.0, -8.0])
    second = run(tmp_path / "iter2", [-9.5, -11.0, -10.5, -8.0], [-9.0, -10.0, math.nan, -7.0])
    chain = gold_chain(Pairs(), [first, second])
    assert [(s["rows"], s["not_comparable"]) for s in chain["steps"]] == [(3, 1), (3, 1)]
    assert chain["steps"][0]["mean_change"] == 1.0
    assert (chain["overall"]["rows"], chain["overall"]["not_comparable"]) == (2, 2)  # q1 and q4 went through
    assert chain["overall"]["mean_change"] == (1.5 + 2.0) / 2
    assert chain_lines(chain)[1].endswith("(1 not comparable: null log-likelihood)")
    path = tmp_path / "chain.json"
    write_gold_chain(path, chain)
    assert strict(path.read_text()) == chain
    assert plot_spin_chain.main([str(path), str(tmp_path / "chain.png")]) == 0


def test_a_chain_step_of_only_null_log_probs_is_counted_and_not_plotted(tmp_path, capsys):
    first = run(tmp_path / "iter1", [-10.0, -12.0], [math.nan, math.nan])
    chain = gold_chain(Pairs(), [first])
    assert (chain["steps"][0]["rows"], chain["steps"][0]["not_comparable"]) == (0, 2)
    assert (
        chain_lines(chain)[1]
        == "  iteration 1: no held-out prompt in common (2 not comparable: null log-likelihood)"
    )
    path = tmp_path / "chain.json"
    write_gold_chain(path, chain)
    assert plot_spin_chain.main([str(path), str(tmp_path / "chain.png")]) == 1
    assert "no held-out prompt in common: nothing to plot" in capsys.readouterr().err
    # a step whose figures are null (NaN in an older file) is none to draw either: one line, no crash
    old = json.loads(path.read_text())
    old["steps"][0] |= {"rows": 2, "mean_before": -11.0, "mean_change": math.nan}
    path.write_text(json.dumps(old))
    assert plot_spin_chain.main([str(path), str(tmp_path / "chain.png")]) == 1
    assert not (tmp_path / "chain.png").exists()


class PromptsIn:
    """A workspace with ``runs`` and one prompt, q1, as `write_samples` reads it."""

    def __init__(self, runs: Path):
        self.runs = runs

    def frame(self, name: str) -> pd.DataFrame:
        assert name == "prompts"
        return pd.DataFrame(
            {"id": ["q1"], "messages": [[{"role": "user", "content": "Hi?"}]], "gold": ["Hi."]}
        )


def test_samples_md_is_refused_where_the_iterates_folder_was_swapped_for_a_link(tmp_path, monkeypatch):
    """The iterate's folder is checked when the loop claims it; samples.md is written at the chain's end, after the
    final sampling: a link swapped in for the folder (or for WS/runs above it) meanwhile had samples.md written (or
    one there replaced) wherever it pointed (a symlink audit)."""
    from generate.loop.spin import Iterate

    monkeypatch.setattr("generate.loop.chain._answers", lambda workspace, label, round: {"q1": label})
    runs, outside = tmp_path / "runs", tmp_path / "outside"
    outside.mkdir()
    (outside / "samples.md").write_text("not the chain's\n")
    base, first = Iterate("b", str(runs / "base"), "base", 0), Iterate("i", str(runs / "x-iter1"), "iter1", 1)
    runs.mkdir()
    (runs / "x-iter1").mkdir()
    assert write_samples(PromptsIn(runs), first, base, ["q1"]) == runs / "x-iter1" / "samples.md"
    assert "**this iterate (round 2 sample)**" in (runs / "x-iter1" / "samples.md").read_text()
    (runs / "x-iter1" / "samples.md").rename(tmp_path / "kept.md")
    (runs / "x-iter1").rmdir()
    (runs / "x-iter1").symlink_to(outside, target_is_directory=True)
    with pytest.raises(NotAFileError, match=f"^{runs / 'x-iter1'}: a symlink"):
        write_samples(PromptsIn(runs), first, base, ["q1"])
    assert (outside / "samples.md").read_text() == "not the chain's\n" and len(list(outside.iterdir())) == 1
    # and WS/runs above it (the folder moved along with it): the whole path in the workspace is looked at
    (runs / "x-iter1").unlink()
    (runs / "x-iter1").mkdir()
    runs.rename(tmp_path / "runs-moved")
    runs.symlink_to(tmp_path / "runs-moved", target_is_directory=True)
    with pytest.raises(NotAFileError, match=f"^{runs}: a symlink"):
        write_samples(PromptsIn(runs), first, base, ["q1"])
    assert not any((tmp_path / "runs-moved" / "x-iter1").iterdir())


def test_samples_md_is_refused_where_a_folder_of_the_chains_name_was_swapped_for_a_link(
    tmp_path, monkeypatch
):
    """`--spin-name a/b/x`: samples.md went through WS/runs/a/b opened by its path, so WS/runs/a swapped for a link
    (the chain's folders moved along) had it written wherever the link pointed. Every folder below WS/runs is
    opened in the one above now: refused in one line naming the link."""
    from generate.loop.spin import Iterate

    monkeypatch.setattr("generate.loop.chain._answers", lambda workspace, label, round: {"q1": label})
    runs, moved = tmp_path / "runs", tmp_path / "moved"
    (runs / "a/b/x-iter1").mkdir(parents=True)
    base, first = (
        Iterate("b", str(runs / "base"), "base", 0),
        Iterate("i", str(runs / "a/b/x-iter1"), "iter1", 1),
    )
    (runs / "a").rename(moved)
    (runs / "a").symlink_to(moved, target_is_directory=True)
    with pytest.raises(NotAFileError, match=f"^{runs / 'a'}: a symlink"):
        write_samples(PromptsIn(runs), first, base, ["q1"])
    assert not any((moved / "b/x-iter1").iterdir())
