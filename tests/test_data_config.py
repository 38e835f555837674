from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from data.config import ConfigError, add_options, build


@dataclass(frozen=True)
class Options:
    workspace: str = field(default="ws", metadata={"help": "workspace"})
    n: int = field(default=2, metadata={"help": "samples"})
    temperature: float = field(default=1.0, metadata={"help": "temperature"})
    eager: bool = field(default=False, metadata={"help": "eager mode"})
    seed: int | None = field(default=None, metadata={"help": "seed"})
    rounds: tuple[int, ...] = field(default=(), metadata={"help": "rounds"})


@dataclass(frozen=True)
class Outer:
    inner: Options = field(default_factory=Options, metadata={"help": "a nested section"})


def parse(argv):
    parser = argparse.ArgumentParser()
    add_options(parser, Options)
    return build(Options, parser.parse_args(argv))


def test_defaults_yaml_and_flags_override(tmp_path):
    assert parse([]) == Options()
    config = tmp_path / "run.yaml"
    config.write_text(
        "n: 4\ntemperature: 1\nspin-iter-free: null\n".replace("spin-iter-free: null\n", "seed: 7\n")
    )
    assert parse(["--config", str(config)]) == Options(n=4, temperature=1.0, seed=7)
    assert parse(["--config", str(config), "--n", "8", "--eager"]) == Options(
        n=8, temperature=1.0, seed=7, eager=True
    )


def test_unknown_key_and_wrong_type_are_errors(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("n: 4\nbogus: 1\n")
    with pytest.raises(ConfigError, match="unknown option\\(s\\) bogus"):
        parse(["--config", str(config)])
    config.write_text("n: four\n")
    with pytest.raises(ConfigError, match=f"^{config}, key n: expected int, got 'four'$"):
        parse(["--config", str(config)])
    config.write_text("n: true\n")  # as the file spells it, not Python's True
    with pytest.raises(ConfigError, match=f"^{config}, key n: expected int, got true$"):
        parse(["--config", str(config)])
    # YAML's infinity and a date, not JSON's Infinity (text to YAML) nor a date quoted as text
    for value in (".inf", "-.inf", ".nan", "2024-01-01", "[1, .inf, a b]"):
        config.write_text(f"n: {value}\n")
        with pytest.raises(ConfigError, match=f"^{config}, key n: expected int, got {re.escape(value)}$"):
            parse(["--config", str(config)])


def test_errors_name_the_nearest_known_option(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("temprature: 0.7\n")
    with pytest.raises(
        ConfigError, match="unknown option\\(s\\) temprature \\(did you mean temperature\\?\\)"
    ):
        parse(["--config", str(config)])
    from data.__main__ import main

    with pytest.raises(SystemExit):
        main(["export", "-w", str(tmp_path), "--format", "dpo", "--splt", "test"])
    assert "unrecognized arguments: --splt test (did you mean --split?)" in capsys.readouterr().err


@pytest.mark.parametrize("entry", ["python -m data", "prefloop data"])
@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["import", "-w", "ws", "x.jsonl", "--edits"],
            "--edits (--edits is an option of data export, not data import)",
        ),
        (
            ["export", "-w", "ws", "--format", "dpo", "--test-fraction", "0.1"],
            "--test-fraction 0.1 (--test-fraction is an option of data import, not data export)",
        ),
        (
            ["validate", "-w", "ws", "--json"],
            "--json (--json is an option of data stats and data leaderboard, not data validate)",
        ),
        (["import", "-w", "ws", "x.jsonl", "--bogus"], "--bogus (the options:"),  # no suggestion
        (["import", "-w", "ws", "--sourse", "s", "x.jsonl"], "--sourse (did you mean --source?)"),
        # a flag's prefix is not that flag: argparse read `gold --rate 0.1` as --rate-item and answered of it
        (["gold", "-w", "ws", "--rate", "0.1"], "--rate (did you mean --rate-item?)"),
        (["stats", "-w", "ws", "--label", "x"], "--label x (did you mean --labellers?)"),
        # the unknown flag, not the required one it was meant to be (it said: required: --format)
        (["export", "-w", "ws", "--form", "dpo"], "--form (did you mean --format?)"),
    ],
)
def test_a_subcommand_reports_its_own_unknown_flags(entry, argv, said, capsys):
    """One line by the subcommand; a suggestion among its own flags only, or the subcommand a flag belongs to."""
    from data.__main__ import main as data_main
    from prefloop.cli import main as prefloop_main

    with pytest.raises(SystemExit) as exit_:
        data_main(argv, prog=entry) if entry == "python -m data" else prefloop_main(["data", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{entry} {argv[0]}: error: unrecognized arguments: {said}")
    assert err.endswith(f" (the options: {entry} {argv[0]} --help)\n") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("entry", "runner"), [("python -m data", "python -m"), ("prefloop data", "prefloop")]
)
@pytest.mark.parametrize("command", ["gold", "import"])
def test_another_commands_flag_names_that_command(entry, runner, command, capsys):
    """`data gold --gold-rate 0.05` said only "unrecognized arguments": how often labellers meet gold is
    `annotate --gold-rate`, a command `data` cannot ask (it imports nothing of ours): `FLAGS_ELSEWHERE` says so."""
    from data.__main__ import main as data_main
    from prefloop.cli import main as prefloop_main

    argv = [command, "-w", "ws", "--gold-rate", "0.05"]
    with pytest.raises(SystemExit) as exit_:
        data_main(argv, prog=entry) if entry == "python -m data" else prefloop_main(["data", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err  # `gold` reads 0.05 as a file: its files are positional
    assert (
        err.startswith(f"{entry} {command}: error: unrecognized arguments: --gold-rate")
        and err.count("\n") == 1
    )
    assert err.endswith(
        f" (--gold-rate is an option of annotate, not data {command}: {runner} annotate --gold-rate ...) "
        f"(the options: {entry} {command} --help)\n"
    )


def test_each_flag_said_to_be_another_commands_is_that_commands():
    """`FLAGS_ELSEWHERE` names a flag of the command it names: a hint to a flag that is gone would send users astray."""
    import importlib

    from data.cli import FLAGS_ELSEWHERE, _flags

    for flag, command in FLAGS_ELSEWHERE.items():
        assert flag in _flags(importlib.import_module(f"{command}.__main__").build_parser())


def test_a_bare_double_dash_is_no_unknown_flag(capsys):
    """A bare ``--`` ends the flags (what follows is positional): a required option missing beside it is that
    option's error, not "unrecognized arguments: --", which named no flag to fix."""
    from data.__main__ import main as data_main

    with pytest.raises(SystemExit) as exit_:
        data_main(["export", "-w", "ws", "--"], prog="python -m data")
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "python -m data export: error: the following arguments are required: --format (the options: python -m data "
        "export --help)\n"
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["score", "-w", "ws", "--method", "dpo"],
            "python -m train score: error: unrecognized arguments: --method dpo (--method is an option of "
            "python -m train, not python -m train score)",
        ),
        (
            ["-w", "ws", "--limit", "5"],
            "python -m train: error: unrecognized arguments: --limit 5 (--limit is an option of python -m train "
            "score, not python -m train)",
        ),
        (
            ["score", "--lmit", "5"],
            "python -m train score: error: unrecognized arguments: --lmit 5 (did you mean --limit?)",
        ),
    ],
)
def test_train_and_train_score_name_each_others_flags(argv, said, capsys):
    """`train score --method dpo` suggested --model (the nearest of its own flags); --method is train's."""
    from train.__main__ import main as train_main

    with pytest.raises(SystemExit) as exit_:
        train_main(argv)
    assert exit_.value.code == 2 and said in capsys.readouterr().err


def test_an_empty_list_value_is_an_error_not_a_silent_no_op(tmp_path, capsys):
    """`--exclude-labeller ""` excluded nobody and said nothing (a new-user audit)."""
    from data.__main__ import main as data_main

    assert data_main(["stats", "-w", str(tmp_path), "--exclude-labeller", ""]) == 2
    assert capsys.readouterr().err == (
        "error: --exclude-labeller: '' names nothing; give a value or leave the option out\n"
    )


@dataclass(frozen=True)
class PathOptions:
    out: Path | None = field(default=None, metadata={"help": "output file"})


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["export", "-w", "WS", "--format", "dpo", "--out", ""], "--out"),  # echoed `--out .`
        (["stats", "-w", ""], "--workspace"),  # read the current folder as the workspace
        (
            ["import", "-w", "WS", "F", "--rubric", " "],
            "--rubric",
        ),  # "cannot read the rubric (Is a directory)"
    ],
)
def test_an_empty_path_is_an_error_not_the_current_folder(tmp_path, capsys, argv, flag):
    """A README walk: `export --out ''` was Path(''), the current folder, said `--out .`; an empty path names
    nothing, as an empty list value does, by flag or in a config file."""
    from data.__main__ import main as data_main

    given = [arg.replace("WS", str(tmp_path / "ws")).replace("F", str(tmp_path / "f.jsonl")) for arg in argv]
    assert data_main(given) == 2
    value = argv[argv.index(flag if flag != "--workspace" else "-w") + 1]
    assert capsys.readouterr().err == (
        f"error: {flag}: {value!r} names nothing; give a value or leave the option out\n"
    )
    assert not (tmp_path / "ws").exists()
    config = tmp_path / "run.yaml"
    config.write_text("out: ''\n")
    parser = argparse.ArgumentParser()
    add_options(parser, PathOptions)
    with pytest.raises(ConfigError, match=f"^{config}, key out: '' names nothing"):
        build(PathOptions, parser.parse_args(["--config", str(config)]))
    assert build(PathOptions, parser.parse_args(["--out", "x.parquet"])) == PathOptions(Path("x.parquet"))


@pytest.mark.parametrize("command", ["train", "annotate", "generate", "loop"])
@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_config_names_nothing_not_the_current_folder(tmp_path, monkeypatch, capsys, command, value):
    """`--config ''` was Path(''), the current folder, read as a config file: "cannot read config (Is a directory:
    '.')"; it is refused as every other empty path option is, and a `.yaml` in the current folder is not read."""
    from annotate.__main__ import main as annotate_main
    from generate.__main__ import main as generate_main
    from train.__main__ import main as train_main

    main = {"annotate": annotate_main, "train": train_main, "generate": generate_main, "loop": generate_main}
    monkeypatch.chdir(tmp_path)
    ws = str(tmp_path / "ws")
    loop = ["--spin-iter", "1"] if command == "loop" else []  # the round driver's own parser
    assert main[command](["-w", ws, *loop, "--config", value]) == 2
    said = f"error: --config: {value!r} names nothing; give a value or leave the option out\n"
    assert capsys.readouterr().err == said
    assert not (tmp_path / "ws").exists()


def test_a_value_error_names_the_flag_or_the_file_and_key_it_came_from(tmp_path):
    """`option exclude_labeller: ...` named the dataclass field, neither the flag typed nor the YAML key."""
    config = tmp_path / "run.yaml"
    config.write_text("rounds: ''\n")
    with pytest.raises(ConfigError, match=f"^{config}, key rounds: '' names nothing"):
        parse(["--config", str(config)])
    with pytest.raises(ConfigError, match="^--rounds: '' names nothing"):  # the flag overrides the file
        parse(["--config", str(config), "--rounds", ""])
    with pytest.raises(ConfigError, match=r"^--rounds: expected a list of int, got \['one'\]$"):
        parse(["--rounds", "one"])
    config.write_text("inner:\n  temperature: hot\n")
    parser = argparse.ArgumentParser()
    add_options(parser, Outer)
    with pytest.raises(ConfigError, match=f"^{config}, key inner.temperature: expected float, got 'hot'$"):
        build(Outer, parser.parse_args(["--config", str(config)]))


def test_an_integer_past_64_bits_in_a_list_is_out_of_range(tmp_path):
    """`--rounds 99999999999999999999` was taken (a search for that round), and the file's
    `rounds: [99999999999999999999]` read "expected a list of int", which it is: each says it is out of range, as
    `--round` does."""
    big = "9" * 20
    config = tmp_path / "run.yaml"
    config.write_text(f"rounds: [1, {big}]\n")
    with pytest.raises(
        ConfigError, match=rf"^{config}, key rounds: {big} is out of range \(at most {2**63 - 1}\)$"
    ):
        parse(["--config", str(config)])
    with pytest.raises(ConfigError, match=rf"^--rounds: {big} is out of range \(at most {2**63 - 1}\)$"):
        parse(["--rounds", f"1,{big}"])
    assert parse(["--rounds", "1", "-2"]).rounds == (1, -2)


@pytest.mark.parametrize(
    ("text", "value"), [("1e-2", 0.01), ("5E3", 5000.0), ("-1e-2", -0.01), ("1e+2", 100.0)]
)
def test_a_yaml_float_without_a_dot_is_a_float(tmp_path, text, value):
    """PyYAML (YAML 1.1) reads `temperature: 1e-2` as the string '1e-2'."""
    config = tmp_path / "run.yaml"
    config.write_text(f"temperature: {text}\n")
    assert parse(["--config", str(config)]).temperature == value


@pytest.mark.parametrize(
    ("text", "option", "value"),
    [('"4"', "n", 4), ("'-3'", "seed", -3), ('"0.7"', "temperature", 0.7), ("'2'", "temperature", 2.0)],
)
def test_a_yaml_number_in_quotes_is_read_as_its_flag_reads_it(tmp_path, text, option, value):
    """`temperature: "0.7"` was taken and `n: "4"` refused (expected int, got '4'): a number as text is read as
    the flag's text is, for an int as for a float."""
    config = tmp_path / "run.yaml"
    config.write_text(f"{option}: {text}\n")
    assert getattr(parse(["--config", str(config)]), option) == value


@pytest.mark.parametrize("text", ["'4.5'", "'1e3'", "'four'", "'true'", "'4 samples'"])
def test_a_yaml_text_that_is_no_integer_is_refused_for_an_int(tmp_path, text):
    config = tmp_path / "run.yaml"
    config.write_text(f"n: {text}\n")
    with pytest.raises(ConfigError, match=f"^{config}, key n: expected int, got {text}$"):
        parse(["--config", str(config)])


def test_a_yaml_integer_in_quotes_past_64_bits_is_out_of_range(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"n: '{2**63}'\n")
    with pytest.raises(ConfigError, match=f"^{config}, key n: {2**63} is out of range"):
        parse(["--config", str(config)])


@pytest.mark.parametrize("text", ["nan", "inf", "-infinity"])
def test_a_yaml_nan_or_infinity_in_quotes_is_refused_as_its_flag_is(tmp_path, capsys, text):
    """`temperature: "inf"` said `expected float, got 'inf'` where `--temperature inf` (and `temperature: .inf`)
    gave the option's range: the text is read as the flag reads it, and the same check refuses it."""
    from generate.__main__ import main as generate

    config = tmp_path / "run.yaml"
    config.write_text(f'temperature: "{text}"\n')
    assert generate(["-w", str(tmp_path / "ws"), "--model", "m", "--config", str(config)]) == 2
    from_file = capsys.readouterr().err
    assert generate(["-w", str(tmp_path / "ws"), "--model", "m", f"--temperature={text}"]) == 2
    from_flag = capsys.readouterr().err
    assert from_flag.endswith(": must be a finite number >= 0\n")
    assert from_file.removeprefix(f"error: {config}, key temperature") == from_flag.removeprefix(
        "error: --temperature"
    )


@pytest.mark.parametrize("text", ["warm", "'1e-2 degrees'"])
def test_a_yaml_string_that_is_no_number_is_still_refused(tmp_path, text):
    config = tmp_path / "run.yaml"
    config.write_text(f"temperature: {text}\n")
    with pytest.raises(ConfigError, match=f"^{config}, key temperature: expected float, got '"):
        parse(["--config", str(config)])


def test_a_config_nested_too_deeply_is_one_line_naming_the_file(tmp_path, capsys):
    """PyYAML recurses once a level: `[[[...]]]` 5,000 deep was a RecursionError traceback."""
    config = tmp_path / "deep.yaml"
    config.write_text("exclude_labeller: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=f"^{config}: cannot read config \\(nested too deeply to read\\)$"):
        parse(["--config", str(config)])
    from train.__main__ import main as train_main

    assert train_main(["-w", str(tmp_path), "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"error: {config}: cannot read config (nested too deeply to read)\n"


def test_a_config_that_is_not_utf8_is_one_line_naming_the_file(tmp_path, capsys):
    """A config saved in UTF-16 (or any other encoding) was a UnicodeDecodeError traceback."""
    config = tmp_path / "utf16.yaml"
    config.write_bytes("seed: 1\n".encode("utf-16"))
    with pytest.raises(ConfigError, match=f"^{config}: cannot read config \\(not UTF-8 text: byte 0\\)$"):
        parse(["--config", str(config)])


LONG = "9" * 5000  # PyYAML reads an integer with int(): more than 4300 digits is a ValueError traceback


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (f"seed: {LONG}\n", ", key seed"),
        (f"temperature: -{LONG}\n", ", key temperature"),
        (f"rounds: [1, {LONG}]\n", ", key rounds[1]"),
        (f"inner:\n  seed: +{LONG}\n", ", key inner.seed"),
        (f"? {LONG}\n: 1\n", ""),  # a key (YAML's long form): named by the mapping that holds it, the file
    ],
)
def test_a_config_integer_too_long_to_read_is_one_line_naming_the_file_and_key(tmp_path, capsys, text, key):
    config = tmp_path / "long.yaml"
    config.write_text(text)
    said = f"{config}{key}: an integer of 5000 digits, more than the 4300 Python reads as a number"
    with pytest.raises(ConfigError) as refused:
        parser = argparse.ArgumentParser()
        add_options(parser, Outer)
        build(Outer, parser.parse_args(["--config", str(config)]))
    assert str(refused.value) == said
    from train.__main__ import main as train_main

    assert train_main(["-w", str(tmp_path), "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"error: {said}\n"


@dataclass(frozen=True)
class Chosen:
    split: str = field(default="train", metadata={"help": "split", "choices": ("train", "test")})
    kinds: tuple[str, ...] = field(default=(), metadata={"help": "kinds", "choices": ("sampled", "arena")})


def test_a_yaml_value_outside_the_choices_is_one_line_naming_the_file_and_key(tmp_path, capsys):
    """argparse checks a flag's choices, but a YAML value was taken as it was: `pairs: bogus` in generate's
    --config sampled random pairs, `split: bogus` was reported as 'no prompts of --split bogus' (a new-user audit)."""
    config = tmp_path / "run.yaml"
    parser = argparse.ArgumentParser()
    add_options(parser, Chosen)
    config.write_text("split: bogus\n")
    with pytest.raises(ConfigError, match=f"^{config}, key split: 'bogus' is not one of train, test$"):
        build(Chosen, parser.parse_args(["--config", str(config)]))
    config.write_text("kinds: [sampled, bogus]\n")
    with pytest.raises(ConfigError, match=f"^{config}, key kinds: 'bogus' is not one of sampled, arena$"):
        build(Chosen, parser.parse_args(["--config", str(config)]))
    config.write_text("split: test\nkinds: sampled,arena\n")
    assert build(Chosen, parser.parse_args(["--config", str(config)])) == Chosen("test", ("sampled", "arena"))
    from generate.__main__ import main as generate_main

    config.write_text("pairs: bogus\n")
    assert generate_main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    assert (
        capsys.readouterr().err == f"error: {config}, key pairs: 'bogus' is not one of random, best-worst\n"
    )
    assert not (tmp_path / "ws").exists()


@dataclass(frozen=True)
class Arena:
    arena: tuple[str, ...] | None = field(default=None, metadata={"help": "models", "folders": True})


def test_a_folders_list_too_long_to_be_one_file_name_is_split_at_its_commas(tmp_path):
    """`--arena id1,...,id16` (16 manifest ids, 271 characters with no slash) was asked of the file system as one
    folder name, which raised "File name too long" as a traceback instead of splitting it."""
    ids = [f"{n:016x}" for n in range(16)]
    parser = argparse.ArgumentParser()
    add_options(parser, Arena)
    assert build(Arena, parser.parse_args(["--arena", ",".join(ids)])).arena == tuple(ids)
    folder = tmp_path / "runs" / "a,b"
    folder.mkdir(parents=True)  # a folder whose name holds a comma is still one value
    assert build(Arena, parser.parse_args(["--arena", "base", str(folder)])).arena == ("base", str(folder))


@pytest.mark.parametrize(
    ("command", "text", "said"),
    [
        ("annotate", "gold_rate: 0.7\n", "key gold_rate 0.7: must be in [0, 0.5]"),
        ("train", "beta: -1\n", "key beta -1: must be > 0"),
        ("train", "method: dpo\ndpop_lambda: 3\n", "key dpop_lambda applies to --method dpop, not dpo"),
        ("loop", "spin_iter: 1\ntrain:\n  beta: -1\n", "key train.beta -1: must be > 0"),
    ],
)
def test_a_range_error_names_the_file_and_key_the_value_came_from(tmp_path, capsys, command, text, said):
    """A check after the options are built (a range, a method's own options) named the flag though the value was
    in --config's file (a labelling walk-through: `gold_rate: 0.7` said `--gold-rate 0.7`); a flag given over the
    file is named as the flag, and the loop names its train section's flags as `--train-*`."""
    from annotate.__main__ import main as annotate_main
    from generate.loop.__main__ import main as loop_main
    from train.__main__ import main as train_main

    main = {"annotate": annotate_main, "train": train_main, "loop": loop_main}[command]
    config = tmp_path / "run.yaml"
    config.write_text(text)
    ws = str(tmp_path / "ws")
    assert main(["-w", ws, "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"error: {config}, {said}\n"
    flag = {"annotate": "--gold-rate", "train": "--beta", "loop": "--train-beta"}[command]
    if "dpop" not in text:
        assert main(["-w", ws, "--config", str(config), flag, "-2"]) == 2
        assert capsys.readouterr().err.startswith(f"error: {flag} -2")
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    "command, text, said",
    [
        ("generate", "max-new-tokens: 8\n", "unknown option(s) max-new-tokens (did you mean max-tokens?)"),
        ("generate", "max_new_tokens: 8\n", "unknown option(s) max_new_tokens (did you mean max_tokens?)"),
        (
            "train",
            "min-posterior-x: 1\n",
            "min-posterior-x (did you mean min-posterior?); known: aggregate, agreement, batch-size, ",
        ),
        ("generate", "max-tokens: abc\n", "key max-tokens: expected int"),
        ("generate", "max-tokens:\n", "key max-tokens: null names nothing"),
        ("annotate", "gold-rate: 0.7\n", "key gold-rate 0.7: must be"),
        ("generate", "spin-test-limit: 3\n", ": spin-test-limit is an option of --spin-iter N"),
        ("loop", "spin-iter: abc\n", "key spin-iter abc: must be a whole number"),
        ("loop", "spin-iter: 1\ntrain:\n  learning-rate: -1\n", "key train.learning-rate -1: must be"),
        ("loop", "spin-iter: 1\ntrain:\n  lerning-rate: 1\n", "lerning-rate (did you mean learning-rate?)"),
    ],
)
def test_a_dashed_key_of_a_config_file_is_named_as_written(tmp_path, capsys, command, text, said):
    """A file takes `max-new-tokens:` as `max_new_tokens:`, and every line about it named the underscored key,
    one its user never wrote, to look for in the file. The key is named as the file writes it, and an unknown
    key's suggestion and the known options are spelled as it is (`max-tokens`, not `max_tokens`)."""
    from annotate.__main__ import main as annotate_main
    from generate.__main__ import main as generate_main
    from generate.loop.__main__ import main as loop_main
    from train.__main__ import main as train_main

    mains = {"generate": generate_main, "annotate": annotate_main, "loop": loop_main, "train": train_main}
    main = mains[command]
    config = tmp_path / "run.yaml"
    config.write_text(text)
    assert main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {config}") and said in err, err
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    "command, text, said",
    [
        ("generate", "max-tokens: 8\nmax_tokens: 16\n", ": keys max-tokens and max_tokens both set option max_tokens"),
        ("generate", "spin-name: a\nspin_name: b\n", ": keys spin-name and spin_name both set option spin_name"),
        ("annotate", "gold_rate: 0.1\ngold-rate: 7\n", ": keys gold_rate and gold-rate both set option gold_rate"),
        ("loop", "spin-iter: 1\ntrain:\n  beta: 0.1\n  learning-rate: 1.0e-5\n  learning_rate: -1\n",
         ": train: keys learning-rate and learning_rate both set option learning_rate"),
    ],
)  # fmt: skip
def test_a_config_file_setting_one_option_by_two_keys_is_refused_naming_both(
    tmp_path, capsys, command, text, said
):
    """A file read `max-tokens: 8` and `max_tokens: 16` as one option: the later key won, without a word, and a
    user changing the one they saw first changed nothing. Both keys are named, and nothing runs."""
    from annotate.__main__ import main as annotate_main
    from generate.__main__ import main as generate_main
    from generate.loop.__main__ import main as loop_main

    main = {"generate": generate_main, "annotate": annotate_main, "loop": loop_main}[command]
    config = tmp_path / "run.yaml"
    config.write_text(text)
    assert main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {config}") and said in err and err.count("\n") == 1, err
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    "command, text, flags, said",
    [
        ("train", "lora-r: 0\nlora-alpha: 32\n", [],
         "{config}, key lora-alpha applies to LoRA adapters, and {config}, key lora-r 0 trains every weight"),
        ("train", "lora-r: 0\n", ["--lora-alpha", "16"],
         "--lora-alpha applies to LoRA adapters, and {config}, key lora-r 0 trains every weight"),
        ("loop", "spin-iter: 1\ntrain:\n  lora-r: 0\n  lora-alpha: 32\n", [],
         "{config}, key train.lora-alpha applies to LoRA adapters, and {config}, key train.lora-r 0 trains every"),
    ],
)  # fmt: skip
def test_every_option_a_line_names_as_wrong_is_named_where_it_was_given(
    tmp_path, capsys, command, text, flags, said
):
    """`lora-r: 0` and `lora-alpha: 32` in a file were refused as "run.yaml, key lora-alpha applies to LoRA adapters,
    and --lora-r 0 trains every weight": a flag its user never gave, to look for on a command line. Each option the
    line names as wrong is named as the file's key where the file set it, as a flag where a flag did."""
    from generate.loop.__main__ import main as loop_main
    from train.__main__ import main as train_main

    main = {"train": train_main, "loop": loop_main}[command]
    config = tmp_path / "run.yaml"
    config.write_text(text)
    assert main(["-w", str(tmp_path / "ws"), "--config", str(config), *flags]) == 2
    assert capsys.readouterr().err.startswith("error: " + said.format(config=config))
    assert not (tmp_path / "ws").exists()


def test_a_yaml_syntax_error_is_one_line_naming_the_line_and_column(tmp_path, capsys):
    """PyYAML's message is several lines quoting the file: written on one line it was a wall of `\\n`s."""
    from train.__main__ import main as train_main

    config = tmp_path / "run.yaml"
    config.write_text("beta: [1, 2\nmethod: dpo\n")
    assert train_main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    said = f"error: {config}, line 2, column 7: cannot read config (expected ',' or ']', but got ':')\n"
    assert capsys.readouterr().err == said


def test_a_loop_range_error_names_its_own_flag_not_a_file_key_beside_it(tmp_path, capsys):
    """`--limit and --spin-test-limit must be >= 0, --n >= 1` was one line for three flags: with `limit: 5` in the
    file and `--spin-test-limit -1` given, it said `run.yaml, key limit and --spin-test-limit must be ...`."""
    from generate.loop.__main__ import main as loop_main

    config = tmp_path / "run.yaml"
    config.write_text("limit: 5\n")
    argv = ["-w", str(tmp_path / "ws"), "--config", str(config), "--spin-iter", "1"]
    assert loop_main([*argv, "--spin-test-limit", "-1"]) == 2
    assert capsys.readouterr().err == "error: --spin-test-limit -1: must be >= 0\n"
    config.write_text("limit: -5\n")
    assert loop_main(argv) == 2
    assert capsys.readouterr().err == f"error: {config}, key limit -5: must be >= 0\n"
    assert not (tmp_path / "ws").exists()


def test_an_empty_nested_section_is_no_options(tmp_path):
    """`train:` with nothing under it (YAML null) was refused as "option train must be a mapping"; a section that
    is not a mapping still is."""
    from generate.loop.__main__ import parse_options
    from train.options import TrainOptions

    config = tmp_path / "run.yaml"
    config.write_text("spin_iter: 1\ntrain:\n")
    argv = ["-w", str(tmp_path / "ws"), "--config", str(config)]
    assert parse_options(argv).train == TrainOptions()
    assert parse_options([*argv, "--train.beta", "0.3"]).train == TrainOptions(beta=0.3)
    parser = argparse.ArgumentParser()
    add_options(parser, Outer)
    config.write_text("inner:\n")
    assert build(Outer, parser.parse_args(["--config", str(config)])) == Outer()
    config.write_text("inner: 3\n")
    with pytest.raises(ConfigError, match=f"^{config}: option inner must be a mapping of option: value$"):
        build(Outer, parser.parse_args(["--config", str(config)]))


def test_an_empty_name_between_commas_is_an_error_not_passed_over(tmp_path, capsys):
    """`--arena 'm1,,m2'` ran two models and `--exclude-labeller 'a,,b'` excluded two, saying nothing (a bad-input
    hunt): a name deleted and its comma left is refused, by flag or in a config file."""
    from data.__main__ import main as data_main
    from data.config_values import coerce_list

    with pytest.raises(ConfigError, match=r"^--arena: 'm1,,m2' has an empty name between its commas"):
        coerce_list("--arena", "m1,,m2", str)
    with pytest.raises(ConfigError, match=r"^--arena: 'm1,' has an empty name"):
        coerce_list("--arena", "m1,", str)
    assert coerce_list("--arena", "m1, m2", str) == ("m1", "m2")
    assert data_main(["import", "-w", str(tmp_path / "ws"), "--sample", "dpo"]) == 0
    capsys.readouterr()
    assert data_main(["stats", "-w", str(tmp_path / "ws"), "--exclude-labeller", "import,,bob"]) == 2
    assert capsys.readouterr().err == (
        "error: --exclude-labeller: 'import,,bob' has an empty name between its commas; give each name once\n"
    )


def test_a_file_whose_name_holds_a_comma_is_one_file(tmp_path, capsys):
    """`data import 'prefs,v2.jsonl'` read `prefs` and `v2.jsonl` (`prefs: file not found`), and `prefs,.jsonl`
    is refused as an empty name between commas: a path list keeps a value naming an existing file whole."""
    from data.__main__ import main as data_main

    for name in ("prefs,v2.jsonl", "prefs,.jsonl"):
        (tmp_path / name).write_text('{"prompt": "hi", "chosen": "a", "rejected": "b"}\n')
        assert data_main(["import", "-w", str(tmp_path / name.replace(",", "_")), str(tmp_path / name)]) == 0
        assert f"imported {tmp_path / name} " in capsys.readouterr().out


@pytest.mark.parametrize("key", ["n", "workspace", "rounds", "eager"])
def test_a_yaml_null_for_an_option_that_takes_no_none_is_one_line_naming_the_key(tmp_path, key):
    """`n:` with nothing after it (YAML null) was taken as the value None: `annotate`'s `overlap: null` was a
    TypeError traceback, `generate`'s `temperature: null` and `train score`'s `model: null` too."""
    config = tmp_path / "run.yaml"
    config.write_text(f"{key}:\n")
    with pytest.raises(ConfigError, match=f"^{config}, key {key}: null names nothing; give a value or leave"):
        parse(["--config", str(config)])


def test_a_yaml_null_is_none_where_the_option_takes_none_and_is_refused_in_a_nested_section(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("seed: null\n")
    assert parse(["--config", str(config)]).seed is None
    config.write_text("inner:\n  n: null\n")
    parser = argparse.ArgumentParser()
    add_options(parser, Outer)
    with pytest.raises(ConfigError, match=f"^{config}: inner, key n: null names nothing"):
        build(Outer, parser.parse_args(["--config", str(config)]))


def test_a_yaml_null_in_a_list_is_one_line_naming_the_key(tmp_path):
    """`rounds: [1, null]` kept the None: train's range check was a TypeError traceback, `kinds: [null]` too."""
    config = tmp_path / "run.yaml"
    config.write_text("rounds: [1, null]\n")
    with pytest.raises(
        ConfigError, match=f"^{config}, key rounds: a null in the list names nothing; give values"
    ):
        parse(["--config", str(config)])


def test_annotate_with_a_null_in_its_config_is_one_line_not_a_traceback(tmp_path, capsys):
    from annotate.__main__ import main as annotate_main

    config = tmp_path / "run.yaml"
    config.write_text("overlap: null\n")
    assert annotate_main(["--config", str(config), "-w", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {config}, key overlap: null names nothing; give a value or leave the option out\n"
    )


def test_a_negative_limit_of_generate_names_its_value_as_the_loop_does(tmp_path, capsys):
    """`generate --limit -1` said `--limit must be >= 0`, and `limit: -1` in its YAML `run.yaml, key limit must be
    >= 0`, without the value, where the loop and every other range check say `--limit -1: must be >= 0`."""
    from generate.__main__ import main as generate_main

    assert generate_main(["-w", str(tmp_path / "ws"), "--limit", "-1"]) == 2
    assert capsys.readouterr().err == "error: --limit -1: must be >= 0\n"
    config = tmp_path / "run.yaml"
    config.write_text("limit: -5\n")
    assert generate_main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"error: {config}, key limit -5: must be >= 0\n"
    assert not (tmp_path / "ws").exists()


def test_the_help_says_each_number_and_text_default():
    """The flags' defaults stay unset for the YAML file to fill, so argparse showed none: `--help` said nothing of
    `generate --max-tokens`' 128 or `train --learning-rate`'s 5e-06, and README lists neither. A switch, a list, an
    unset default and a help that says its own default say nothing more."""
    from generate.__main__ import build_parser as generate_parser
    from train.__main__ import build_parser as train_parser

    parser = argparse.ArgumentParser()
    add_options(parser, Options)
    said = " ".join(parser.format_help().split())
    assert said.endswith(
        "--workspace WORKSPACE workspace (default: ws) --n N samples (default: 2) --temperature X temperature "
        "(default: 1.0) --eager, --no-eager eager mode --seed N seed --rounds VALUE [VALUE ...] rounds"
    )
    sampling = " ".join(generate_parser().format_help().split())
    assert "--max-tokens N new tokens per sample (default: 128)" in sampling
    # a help that says its default says it once
    assert "--split {train,test} sample prompts of this split (default: train; --arena:" in sampling
    training = " ".join(train_parser().format_help().split())
    assert "--learning-rate X peak learning rate (default: 5e-06)" in training
    assert "--beta X β: strength of the KL anchor to the reference (default: 0.1)" in training


@dataclass(frozen=True)
class GivenOptions:
    method: str = field(default="dpo", metadata={"help": "training method", "required": True})
    name: str = field(default="x", metadata={"help": "labeller name", "positional": True})


def test_the_help_says_no_default_of_a_value_that_must_be_given():
    """A required flag or a positional's default is never used: "--method M training method (default: dpo)" told a
    user they could leave out what the command refuses without."""
    parser = argparse.ArgumentParser()
    add_options(parser, GivenOptions)
    said = " ".join(parser.format_help().split())
    assert "positional arguments: name labeller name options:" in said
    assert said.endswith("--method METHOD training method")


def test_the_help_says_a_value_one_of_several_must_give_is_required_not_its_default(capsys):
    """`prefloop loop` refuses to run without --spin-iter or --judge-iter, while --help said "(default: 0)" of
    both, as if it ran without either."""
    from prefloop.cli import main

    with pytest.raises(SystemExit):
        main(["loop", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    required = "(required: one of --spin-iter, --judge-iter) --"  # and the next flag: nothing more said
    assert f"register it; at most 100) {required}judge-iter N" in shown
    assert f"-> register (at most 100) {required}spin-test-limit N" in shown


@pytest.mark.parametrize(
    "argv, said",
    [
        # "(default: 1)" after "replicas: 1" said the one value twice
        (
            ["generate"],
            "only 1, the default (vLLM's offline engine takes no more in one process; for replicas, one ",
        ),
        (["loop"], "--shard per GPU) --distributed-executor-backend"),
        # generate's "(default: 0, or 0.1 ...)" (tests/test_generate_options.py) beside this: one spelling
        (
            ["data", "import"],
            "drawn from a hash of its messages (a row's 'split' column wins) (default: 0.0)",
        ),
    ],
)
def test_the_help_says_each_default_once_in_one_spelling(argv, said, capsys):
    from prefloop.cli import main

    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    assert said in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "argv, said",
    [
        # "(default: detect)" named no value --format takes: its default is auto
        (
            ["data", "import"],
            "--format {auto,alpaca,chat,pair,openai,prompt} record format (auto: detected) (default: auto)",
        ),
        # the bytes alone, "(1..1099511627776) (default: 67108864)", said the sizes README gives in MiB
        (
            ["data", "import"],
            "a longer CSV cell refuses the file (1 byte to 1 TiB; default: 67108864, 64 MiB) --rubric FILE",
        ),
        # "torch's default" hid the option's own default, 0, which the help then never said
        (["train", "score"], "--threads N CPU threads (0: as many as torch takes) (default: 0)"),
    ],
)
def test_the_help_names_a_default_as_a_value_of_its_flag(argv, said, capsys):
    from prefloop.cli import main

    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert said in shown


@pytest.mark.parametrize("command", ["train", "annotate", "generate", "loop"])
@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_w_names_nothing_not_the_current_folder(tmp_path, monkeypatch, capsys, command, value):
    """A README walk: `generate -w ''` (the short form; `--workspace ''` was refused) was Path(''), the current
    folder: "error: .: directory is not empty and not a workspace", or a new workspace made in an empty one."""
    from annotate.__main__ import main as annotate_main
    from generate.__main__ import main as generate_main
    from train.__main__ import main as train_main

    main = {"annotate": annotate_main, "train": train_main, "generate": generate_main, "loop": generate_main}
    monkeypatch.chdir(tmp_path)
    loop = ["--spin-iter", "1"] if command == "loop" else []
    assert main[command](["-w", value, *loop]) == 2
    said = f"error: --workspace: {value!r} names nothing; give a value or leave the option out\n"
    assert capsys.readouterr().err == said
    assert not list(tmp_path.iterdir())


@pytest.fixture()
def fifo(tmp_path):
    """A FIFO that a writer opens each time a reader has, writing nothing: a read that waited on it (as `--config` and
    `--rubric` read it before) ends, empty, where it would wait for a writer forever."""
    import os
    import threading

    path = tmp_path / "named.yaml"
    os.mkfifo(path)
    done = threading.Event()

    def write_nothing():
        while not done.is_set():
            with open(path, "wb"):
                pass

    writer = threading.Thread(target=write_nothing, daemon=True)
    writer.start()
    yield path
    done.set()
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # frees the writer waiting for a reader
    writer.join()
    os.close(reader)


def test_a_fifo_as_config_or_rubric_is_one_line_not_a_wait(tmp_path, capsys, fifo):
    """A FIFO (or /dev/zero) named by `--config`, `--rubric` or `--judge-template` was opened and read: with no writer the command
    waited forever; imports refuse one unread, and so do these now."""
    from data.__main__ import main as data_main
    from train.__main__ import main as train_main

    said = "not a regular file (a FIFO, device or socket)"
    assert train_main(["-w", str(tmp_path / "ws"), "--config", str(fifo)]) == 2
    # the reason alone, as the rubric's line says it: "([Errno 22] not a regular file ...: 'PATH')" named it twice
    assert capsys.readouterr().err == f"error: {fifo}: cannot read config ({said})\n"
    assert data_main(["init", "-w", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert data_main(["stats", "-w", str(tmp_path / "ws"), "--labellers", "--rubric", str(fifo)]) == 2
    assert capsys.readouterr().err == f"error: {fifo}: cannot read the rubric ({said})\n"
    from generate.__main__ import main as generate_main

    assert generate_main(["-w", str(tmp_path / "ws"), "--judge", "x", "--judge-template", str(fifo)]) == 2
    assert capsys.readouterr().err == f"error: --judge-template {fifo}: cannot read it ({said})\n"
