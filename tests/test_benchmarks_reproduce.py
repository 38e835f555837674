"""benchmarks/reproduce.py: the documented figures live in benchmarks/documented.json (and agree with the docs),
the comparison is exact, and a smoke run of the DPO recipe on the tiny model goes end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import reproduce  # noqa: E402

DOCUMENTED = json.loads((ROOT / "benchmarks" / "documented.json").read_text())


def test_every_documented_recipe_exists_and_its_figures_are_in_results():
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    for name, recipe in DOCUMENTED.items():
        if name.startswith("_"):
            continue
        assert (ROOT / recipe["recipe"]).is_file()
        assert any(recipe["recipe"] in c for c in recipe["commands"])
        for metric in recipe["metrics"]:
            assert f"{abs(metric['documented']):g}" in results.replace("−", "-"), metric


def test_compare_reproduced_and_target():
    specs = [
        {"name": "acc", "path": "acc", "documented": 0.653, "tolerance": 0.014, "target": [">=", 0.65]},
        {"name": "low", "path": "ci.0", "documented": 0.54, "tolerance": 0.015, "target": [">", 0.5]},
        {"name": "n", "path": "steps.1.n", "documented": 72, "tolerance": 0},
    ]
    rows = reproduce.compare({"acc": 0.597, "ci": [0.48, 0.70], "steps": [{}, {"n": 72}]}, specs)
    assert [(r["rerun"], r["reproduced"], r["met"]) for r in rows] == [
        (0.597, False, False),
        (0.48, False, False),
        (72, True, None),
    ]
    assert reproduce.compare({}, specs[:1])[0]["rerun"] is None
    lines = reproduce.report_lines("dpo-proof", rows)
    assert ">= 0.65: NOT MET" in lines[1] and lines[3].split()[-1] == "-" and "rerun" in lines[0]


def test_smoke_run_of_the_dpo_recipe_on_the_tiny_model(tmp_path, tiny_model_dir):
    extra = f"--model {tiny_model_dir} --max-steps 1 --eval-limit 4 --max-length 64 --bf16 off"
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "reproduce.py"), "dpo-proof", "--workspace", str(tmp_path / "ws"),
         "--extra", extra],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr[-2000:]  # a smoke run reproduces nothing
    assert "implicit reward accuracy" in out.stdout and "[smoke run: --extra given]" in out.stdout
    assert "held-out pairs" in out.stdout and " 4 " in out.stdout.split("held-out pairs")[1].splitlines()[0]


@pytest.mark.parametrize("argv", [["dpo-proof", "--compare-only"]])
def test_compare_only_needs_a_workspace(argv):
    with pytest.raises(SystemExit):
        reproduce.main(argv)


def test_a_failing_recipe_command_is_one_line_and_exit_status_2(tmp_path, monkeypatch, capsys):
    """A recipe's command that failed raised CalledProcessError (a traceback) and exited 1, which reads as "ran,
    not reproduced"; now it is one line naming the command, exit status 2, and the commands after it do not run."""
    recipe = {
        "commands": ["python -c 'import sys; sys.exit(3)'", 'python -c \'open("{workspace}", "w")\''],
        "metrics_file": "{workspace}/metrics.json",
        "metrics": [],
        "measured": "-",
    }
    documented = tmp_path / "documented.json"
    documented.write_text(json.dumps({"failing": recipe}))
    monkeypatch.setattr(reproduce, "DOCUMENTED", documented)
    assert reproduce.main(["failing", "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: failing: `") and "exited with status 3; nothing compared" in err
    assert err.count("\n") == 1 and not (tmp_path / "ws").exists()


def test_an_unreadable_metrics_file_is_one_line(tmp_path, capsys):
    metrics = tmp_path / "ws" / "runs" / "dpo-proof" / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text("{not json")
    assert reproduce.main(["dpo-proof", "--compare-only", "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: dpo-proof: {metrics}: does not read as JSON") and err.count("\n") == 1


def test_all_recipes_in_one_workspace_are_refused(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        reproduce.main(["all", "--compare-only", "--workspace", str(tmp_path)])
    assert exit_.value.code == 2
