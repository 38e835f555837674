"""The `prefloop` console script: subcommands, the same help as `python -m`, immune to a local `train.py`."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from data.__main__ import SUBCOMMANDS as DATA_COMMANDS
from prefloop.cli import COMMANDS, main, usage

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("data", "generate", "annotate", "train", "loop"):
        assert f"  {name} " in out
    data_line = next(line for line in out.splitlines() if line.startswith("  data "))
    assert data_line.split(": ", 1)[1] == ", ".join(DATA_COMMANDS)  # gold and leaderboard were left out
    assert main([]) == 2  # as `python -m data`: usage and one error line on stderr, nothing on stdout
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(usage()) and err.endswith("\nprefloop: error: no command given\n")
    assert main(["sample"]) == 2
    assert "unknown command 'sample'" in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_subcommand_help_is_the_python_m_help_under_its_own_name(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: prefloop {command} ")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_the_whole_first_paragraph_before_the_options(command, capsys):
    module = importlib.import_module(COMMANDS[command][0])
    with pytest.raises(SystemExit):
        module.main(["--help"])
    first = module.__doc__.strip("\n").split("\n\n")[0]
    assert (
        capsys.readouterr().out.split("\n\n")[1] == first
    )  # train's was cut at "or on", its end after the options


@pytest.mark.parametrize("argv", [["generate"], ["loop"], ["train"], ["train", "score"], ["annotate"]])
def test_help_shows_the_default_workspace(argv, capsys):
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # as wrapped at any width
    assert re.search(r"--workspace WS workspace[^(]*\(default: ws\)", out)


def _prefloop_command(tmp_path: Path) -> list[str]:
    """The installed console script (`make test` installs the package), else an equivalent script kept outside
    the working folder, which is what a console script is."""
    installed = Path(sys.executable).with_name("prefloop")
    if installed.exists():
        return [str(installed)]
    script = tmp_path / "bin" / "prefloop"
    script.parent.mkdir()
    script.write_text("import sys\nfrom prefloop.cli import main\nsys.exit(main())\n")
    return [sys.executable, str(script)]


def test_prefloop_train_help_from_a_folder_holding_train_py(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text("raise SystemExit('the local train.py ran')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [*_prefloop_command(tmp_path), "train", "--help"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: prefloop train ")
    assert "--dpop-lambda" in done.stdout


README_COMMAND = re.compile(
    r"(?:python -m|prefloop) (data|generate\.loop|generate|annotate|train|loop)( [a-z][a-z-]*)?"
)
SUBCOMMANDS = {"data": set(DATA_COMMANDS), "annotate": {"add-user", "hash-password"}, "train": {"score"}}


def readme_commands() -> list[tuple[str, ...]]:
    """Every (package, subcommand) the README runs with `python -m` or `prefloop`."""
    found = set()
    for package, word in README_COMMAND.findall((ROOT / "README.md").read_text()):
        package = {"loop": "generate.loop"}.get(package, package)
        word = word.strip()
        found.add((package, word) if word in SUBCOMMANDS.get(package, ()) else (package,))
    return sorted(found)


def test_readme_documents_every_entry_point():
    packages = {c[0] for c in readme_commands()}
    assert {"data", "generate", "annotate", "train", "generate.loop"} <= packages
    assert ("data", "import") in readme_commands() and ("train", "score") in readme_commands()


@pytest.mark.parametrize("command", readme_commands(), ids=" ".join)
def test_every_command_in_the_readme_has_a_working_help(command, capsys):
    module = importlib.import_module(f"{command[0]}.__main__")
    with pytest.raises(SystemExit) as exit_:
        module.main([*command[1:], "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m ")


def test_readme_names_exactly_the_commands_that_take_config(capsys):
    """It said every command took `--config file.yaml`; data's subcommands and annotate's user commands do not."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    takers = readme.split("`--config file.yaml` (flags override it): ", 1)[1].split(";", 1)[0]
    named = set(re.findall(r"`([a-z -]+)`", takers))
    commands = [command for command in COMMANDS if command != "data"]  # data takes a subcommand
    commands += [f"{command} {sub}" for command, subs in SUBCOMMANDS.items() for sub in sorted(subs)]
    takes = set()
    for command in commands:
        with pytest.raises(SystemExit):
            main([*command.split(), "--help"])
        if "--config" in capsys.readouterr().out:
            takes.add(command)
    assert named == takes


def _help(command: tuple[str, ...], capsys) -> str:
    module = importlib.import_module(f"{command[0]}.__main__")
    with pytest.raises(SystemExit):
        module.main([*command[1:], "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", readme_commands(), ids=" ".join)
def test_no_help_shows_value_where_the_readme_names_the_flags_value(command, capsys):
    """`data gold --help` showed `--remove VALUE` (and `--pair VALUE`, `--exclude-labeller VALUE` elsewhere), where
    the README says `--remove ITEM`, `--pair PAIR_ID`, `--exclude-labeller NAME`: a list flag's placeholder is
    the README's word for its value (`metavar`)."""
    named = set(
        re.findall(r"(--[a-z][a-z0-9-]+) (?!VALUE\b)[A-Z][A-Z0-9_]*\b", (ROOT / "README.md").read_text())
    )
    vague = set(re.findall(r"(?<![\w.-])(--[a-z][a-z0-9-]+) VALUE\b", _help(command, capsys)))
    assert not vague & named


def _readme_values() -> dict[str, set[str]]:
    """Each flag the README writes with a value, e.g. `--rubric FILE`, and the names it gives that value."""
    named: dict[str, set[str]] = {}
    for flag, value in re.findall(
        r"(--[a-z][a-z0-9-]+) ([A-Z][A-Z0-9_]*(?:/[A-Z]+)?)\b", (ROOT / "README.md").read_text()
    ):
        named.setdefault(flag, set()).add(value)
    return named


@pytest.mark.parametrize("command", readme_commands(), ids=" ".join)
def test_the_help_names_a_flags_value_as_the_readme_does_where_it_has_one_name(command, capsys):
    """`--help` showed `--rubric RUBRIC`, `--prompts PROMPTS`, `--round ROUND`, `-w WORKSPACE` where the README
    writes `--rubric FILE`, `--prompts FILE`, `--round N`, `-w WS`. A flag the README gives several names
    (`--judge J` and `--judge MODEL`) is left to the flag's own placeholder."""
    help_text = _help(command, capsys)
    mismatched = {
        (flag, shown)
        for flag, values in _readme_values().items()
        if len(values) == 1
        for shown in re.findall(rf"(?<![\w.-]){flag} ([A-Z][A-Z0-9_]*(?:/[A-Z]+)?)\b", help_text)
        if shown not in values
    }
    assert not mismatched


@pytest.mark.parametrize(
    "command, shown",
    [
        (("data", "gold"), "--remove ITEM an item (pair, completion, rank item) no longer gold"),
        (("data", "gold"), "--pair PAIR_ID a pair id to make gold"),
        (("data", "gold"), "--completion ID a completion id"),
        (("data", "gold"), "--rank-item ID a rank item id"),
        (("data", "gold"), "--rate-item ID a completion id"),
        (("data", "export"), "--exclude-labeller NAME [NAME ...]"),
        (("data", "stats"), "--exclude-labeller NAME [NAME ...]"),
        (("train",), "--exclude-labeller NAME [NAME ...]"),
        (("generate.loop",), "--train.exclude-labeller NAME [NAME ...]"),
    ],
)
def test_the_help_names_each_flags_value_as_the_readme_does(command, shown, capsys):
    assert shown in _help(command, capsys)


def _every_command() -> list[tuple[str, ...]]:
    """Every entry point and subcommand, whether or not the README runs it."""
    modules = [module.removesuffix(".__main__") for module, _ in COMMANDS.values()]
    subcommands = [(package, sub) for package, subs in SUBCOMMANDS.items() for sub in sorted(subs)]
    return sorted({(module,) for module in modules if module != "data"} | set(subcommands))


@pytest.mark.parametrize("command", _every_command(), ids=" ".join)
def test_no_help_names_a_value_by_its_flag_shouted(command, capsys):
    """`data leaderboard --help` showed `--bootstrap BOOTSTRAP` and `--seed SEED` (and train `--warmup-ratio
    WARMUP_RATIO`, the loop `--train.beta TRAIN.BETA`, ...): a number's value is N or X, a text's or a path's the
    word its field gives (FILE, DIR, NAME, M)."""
    shouted = {
        (flag, shown)
        for flag, shown in re.findall(
            r"(?<![\w.-])(--[a-z][a-z0-9.-]*) ([A-Z][A-Z0-9_.]*)\b", _help(command, capsys)
        )
        if shown == flag[2:].replace("-", "_").upper() and len(shown) > 1  # `--n N` is the word it is
    }
    assert not sorted(shouted)
