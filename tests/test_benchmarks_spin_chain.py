"""benchmarks/plot_spin_chain.py draws the chain `generate --spin-iter` writes (WS/runs/<name>-chain.json), whatever
its size: a change over one held-out prompt has no interval (null), which it drew as a bar and failed on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import plot_spin_chain  # noqa: E402

from train.evaluate import paired_change  # noqa: E402


def chain_file(path: Path, before: list[list[float]], after: list[list[float]]) -> Path:
    steps = [{"iteration": n, **paired_change(b, a)} for n, (b, a) in enumerate(zip(before, after), start=1)]
    path.write_text(
        json.dumps({"metric": "log p", "steps": steps, "overall": paired_change(before[0], after[-1])})
    )
    return path


def test_a_chain_of_one_held_out_prompt_is_plotted_without_intervals(tmp_path, capsys):
    chain = chain_file(tmp_path / "chain.json", [[-10.0], [-9.0]], [[-9.0], [-8.5]])
    assert json.loads(chain.read_text())["steps"][0]["mean_change_ci95"] is None
    assert plot_spin_chain.main([str(chain), str(tmp_path / "chain.png")]) == 0
    assert (tmp_path / "chain.png").stat().st_size > 0
    many = chain_file(tmp_path / "many.json", [[-10.0, -12.0, -11.0]], [[-9.0, -11.5, -11.2]])
    assert plot_spin_chain.main([str(many), str(tmp_path / "many.png")]) == 0


def test_a_chain_with_no_prompt_in_common_is_one_line(tmp_path, capsys):
    chain = chain_file(tmp_path / "chain.json", [[]], [[]])
    assert plot_spin_chain.main([str(chain), str(tmp_path / "chain.png")]) == 1
    assert capsys.readouterr().err.endswith(
        "an iteration has no held-out prompt in common: nothing to plot\n"
    )
    assert not (tmp_path / "chain.png").exists()
