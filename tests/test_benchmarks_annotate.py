"""The labelling app's load test still speaks the app's API: its clients call the app's own endpoints with the
submit's inputs as the page sends them, so an input the app adds (the rank answers' key did) broke every submit of
`benchmarks/bench_annotate.py` (and `bench_store.py`, which reuses its clients) without any test failing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_load_test_runs_against_the_app_and_loses_nothing():
    command = [sys.executable, "benchmarks/bench_annotate.py", "--labellers", "2", "--labels-each", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [*command, "--think", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "4 acknowledged" in done.stdout and "lost 0, duplicated 0" in done.stdout
