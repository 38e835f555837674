"""Temp files that a killed writer leaves in a train run's folder (`data.files`' ``.tmp-h<host>-<pid>-...``: a kill
while ``log_history.json`` or the report was written) are removed by the next run there, by their writer's pid, as
the workspace's are; a live writer's temp file stays."""

from __future__ import annotations

import subprocess
import sys

from data.temp_writers import host_tag, writer_tag
from tests.test_train import build_workspace, options
from tests.test_train_out_folder import argv, killed_at, models
from train.__main__ import main


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_resume_removes_the_temp_file_a_kill_left_while_log_history_json_was_written(
    tmp_path, tiny_model_dir, monkeypatch
):
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.write_report", options(ws, tiny_model_dir, out, save_steps=1))
    # what a SIGKILL in the middle of writing log_history.json leaves (a Python error removes it as it unwinds)
    stale = out / f".tmp-h{host_tag()}-{dead_pid()}-{'0' * 32}.log_history.json"
    stale.write_text('[{"loss": 0.69')
    live = out / f".tmp-{writer_tag()}-{'1' * 32}.report.md"  # a writer still at work: not ours to remove
    live.write_text("# being written")
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 0
    assert len(models(ws, "dpo")) == 1 and (out / "log_history.json").is_file()
    assert not stale.exists() and live.exists()  # the dead one stayed, hidden, after the resume
