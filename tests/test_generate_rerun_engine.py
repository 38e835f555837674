"""A rerun with nothing left to sample loads no model (with vLLM, starting an engine takes tens of seconds): the job
is planned (what to sample, what to top up) before the engine loads, and says what it said before."""

from __future__ import annotations

from data import Workspace
from generate import __main__ as cli
from generate import bestofn
from generate.__main__ import main
from tests.test_generate_judge import ScriptedEngine, fair
from tests.test_generate_sampling import write_prompts
from tests.test_generate_spin_pairs import done_counts, rows


def count_loads(monkeypatch, module, engine=None) -> list[str]:
    """The models ``module``'s `make_engine` loads, in order (``engine``: returned instead of the real one)."""
    loads, make_engine = [], module.make_engine

    def recording(name, model, options):
        loads.append(model)
        return engine or make_engine(name, model, options)

    monkeypatch.setattr(module, "make_engine", recording)
    return loads


def test_a_rerun_with_nothing_left_loads_no_model(tmp_path, tiny_model_dir, monkeypatch, capsys):
    loads = count_loads(monkeypatch, cli)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "4"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 3)), "--limit", "2"]
    assert main(argv) == 0 and len(loads) == 1
    capsys.readouterr()
    for extra in ([], ["--spin"]):  # --spin pairs what the pairs job answered: sampled nothing
        assert main([*argv, *extra]) == 0
    out = capsys.readouterr().out
    assert len(loads) == 1
    assert (
        "nothing left to sample: each of the first 2 prompts of --split train already has completions" in out
    )
    assert "nothing sampled: each of the first 2 prompts of --split train already had answers" in out
    assert main([*argv, "--n", "3"]) == 0  # a top-up samples: it loads
    assert len(loads) == 2 and done_counts(capsys.readouterr().out)["topped_up"] == "2"


def test_a_best_worst_rerun_loads_no_sampler(tmp_path, tiny_model_dir, monkeypatch, capsys):
    loads = count_loads(monkeypatch, bestofn, ScriptedEngine(fair))
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--n", "3", "--pairs", "best-worst"]
    argv += ["--judge", "tiny-judge", "--prompts", str(write_prompts(tmp_path / "p.json", 2))]
    assert main(argv) == 0
    assert loads == [str(tiny_model_dir), "tiny-judge"]
    before = rows(Workspace(ws))
    capsys.readouterr()
    assert main(argv) == 0
    assert loads[2:] == [] and rows(Workspace(ws)) == before  # nor the judge: it has nothing to pair
    out = capsys.readouterr().out
    assert done_counts(out)["already_sampled"] == "2" and done_counts(out)["best_worst_already_paired"] == "2"
    assert (
        "nothing left to pair (2 prompts had their best-vs-worst pair already): the judge judge:tiny-judge was "
        in (out)
    )


def test_a_judge_with_nothing_to_judge_loads_no_model(label_ws, monkeypatch, capsys):
    loads = count_loads(monkeypatch, bestofn, ScriptedEngine(fair))
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    argv = ["-w", str(label_ws.path), "--judge", "tiny-judge", "--engine", "hf"]
    assert main(argv) == 0 and loads == ["tiny-judge"]
    capsys.readouterr()
    for extra in ([], ["--split", "test"]):  # judged already; no pairs at all
        assert main([*argv, *extra]) == 0
        assert capsys.readouterr().out.endswith(
            "labels written"
            + ("; already_judged 4" if not extra else "")
            + "\nnothing to judge: no model loaded\n"
        )
    assert loads == ["tiny-judge"]
