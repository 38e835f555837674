"""`~` in a path no shell expanded (a --config file's value, `--out=~/x`) is the home folder, read once where the
options are parsed (`data.config`): every check and the writer see one path, never a folder named `~` here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from data.__main__ import main as data_main
from data.config_values import ConfigError
from data.provision import in_workspace
from generate.__main__ import main as generate_main
from tests.test_train import build_workspace, options
from train.__main__ import parse_train_options
from train.out_checks import check_out_folder
from train.out_folder import run_config


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty home folder, and a current folder beside it that holds nothing of it."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    return tmp_path / "home"


def _prefs(path: Path) -> Path:
    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(3)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_export_out_and_workspace_given_as_flag_equals_tilde_are_under_home(home):
    """The shell leaves `--out=~/x` as typed: `check_out_folder` looked under home, the writer wrote ./~/exports."""
    assert data_main(["import", "--workspace=~/ws", str(_prefs(home / "prefs.jsonl"))]) == 0
    assert data_main(["export", "--workspace=~/ws", "--format", "dpo", "--out=~/exports/x.parquet"]) == 0
    assert (home / "ws" / "workspace.json").is_file()
    assert (home / "exports" / "x.parquet").is_file()
    assert list(Path.cwd().iterdir()) == []


def test_a_config_files_paths_are_under_home(home, tiny_model_dir, capsys):
    """A workspace, prompt file and model folder a --config file names from home (the config itself given as
    `--config=~/run.yaml`): the workspace is made under home, its prompts read and sampled by that model."""
    (home / "tiny").symlink_to(tiny_model_dir)
    (home / "prompts.jsonl").write_text(json.dumps({"prompt": "Say hi"}) + "\n")
    config = "workspace: ~/ws\nprompts: ~/prompts.jsonl\nmodel: ~/tiny\nengine: hf\nn: 2\nmax_tokens: 2\n"
    (home / "run.yaml").write_text(config)
    assert generate_main(["--config=~/run.yaml"]) == 0, capsys.readouterr().err
    assert (home / "ws" / "workspace.json").is_file()
    assert list(Path.cwd().iterdir()) == []


def test_train_out_from_a_config_file_is_under_home_for_every_check(home, tmp_path):
    (tmp_path / "run.yaml").write_text(
        "workspace: ~/ws\nout: ~/runs/a\nmodel: ~/m\nchat_template: ~/t.jinja\n"
    )
    options = parse_train_options(["--config", str(tmp_path / "run.yaml")])
    assert (options.workspace, options.out) == (home / "ws", home / "runs" / "a")
    assert (options.model, options.chat_template) == (str(home / "m"), str(home / "t.jinja"))


def test_only_a_leading_tilde_of_a_path_is_read_and_names_stay_as_typed(home, tmp_path):
    (tmp_path / "run.yaml").write_text("out: runs/~/a\nmodel: smollm2-135m\nexclude_labeller: ~bob\n")
    options = parse_train_options(["--config", str(tmp_path / "run.yaml")])
    assert (options.out, options.model, options.exclude_labeller) == (
        Path("runs/~/a"),
        "smollm2-135m",
        ("~bob",),
    )


def test_a_run_that_recorded_a_tilde_model_resumes_with_its_home_folder(home):
    """A run started before `~` was read at parsing (`--model=~/m`: recorded as typed) resumes given the model as
    parsing reads it now, the home folder's: it was refused as "started with --model ~/m, not HOME/m"."""
    ws = build_workspace(home / "ws")
    out = home / "runs" / "dpo-1"
    out.mkdir(parents=True)
    started = options(ws, "~/m", out)
    (out / "train_config.json").write_text(json.dumps(run_config(started)))
    check_out_folder(out, dataclasses.replace(started, model=str(home / "m"), resume=True))


NO_USER = "~no-such-user-of-prefloop"


def test_a_tilde_that_names_no_home_stays_as_typed_as_a_shell_leaves_it(home, capsys):
    """`~user` of no user (or `~` with no HOME and no user entry) is kept as typed, as the shell keeps it: Path's
    expanduser raised RuntimeError, a traceback for `-w`, `--config`, `--out` and `--model`."""
    assert data_main(["stats", f"--workspace={NO_USER}/ws"]) != 0
    assert f"{NO_USER}/ws: not a workspace" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=f"^{NO_USER}/run.yaml: cannot read config"):
        parse_train_options([f"--config={NO_USER}/run.yaml"])
    assert in_workspace(f"{NO_USER}/m", home) == f"{NO_USER}/m"
    assert data_main(["import", "--workspace=~/ws", str(_prefs(home / "prefs.jsonl"))]) == 0
    assert data_main(["export", "--workspace=~/ws", "--format", "dpo", f"--out={NO_USER}/x.parquet"]) == 0
    assert (Path.cwd() / NO_USER / "x.parquet").is_file()
