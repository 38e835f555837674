"""Which options each generate mode and each round driver reads: another mode's option is one line; the documented
`python -m generate --spin-iter N` form (flag or YAML) runs the loop driver."""

from __future__ import annotations

import pytest

from data.config import ConfigError
from generate.__main__ import main, runs_a_loop
from generate.loop.__main__ import parse_options as parse_loop


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--spin", "--pairs-per-prompt", "2"], "--pairs-per-prompt applies to sampling, not --spin"),
        (["--judge-labelled"], "--judge-labelled applies to --judge, not sampling"),
        (["--spin", "--n", "4"], "--n applies to sampling, --pairs best-worst, not --spin"),
        (["--spin-iter", "1", "--round", "2"], "--round does not apply to --spin-iter: iteration t samples"),
        (
            ["--judge-iter", "1", "--judge", "rm", "--spin-name", "x"],
            "--spin-name applies to --spin-iter, not",
        ),
        (["--spin-iter", "1", "--pairs", "best-worst"], "--pairs does not apply to --spin-iter (a single"),
    ],
)
def test_an_option_of_another_mode_is_one_line(tmp_path, capsys, argv, message):
    assert main(["-w", str(tmp_path / "ws"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


def test_loop_train_options_are_checked_against_the_drivers_method(tmp_path):
    with pytest.raises(ConfigError, match="--train-dpop-lambda applies to --method dpop, not spin"):
        parse_loop(["--spin-iter", "1", "--train-dpop-lambda", "3"])
    config = tmp_path / "loop.yaml"
    config.write_text("judge_iter: 1\njudge: rm\ntrain:\n  simpo_gamma: 1\n")
    with pytest.raises(ConfigError, match="--train-simpo-gamma applies to --method simpo, not dpo"):
        parse_loop(["--config", str(config)])
    options = parse_loop(
        ["--spin-iter", "2", "--train-beta", "0.2", "--spin-name", "a"]
    )  # defaults never count
    assert (options.spin_iter, options.train.beta, options.spin_name, options.judge_name) == (
        2,
        0.2,
        "a",
        "judge",
    )


def test_a_loop_is_recognised_by_flag_or_yaml(tmp_path):
    config = tmp_path / "spin.yaml"
    config.write_text("spin_iter: 2\n")
    assert runs_a_loop(["--spin-iter", "2"]) and runs_a_loop(["--judge-iter=1"])
    assert runs_a_loop(["--config", str(config)]) and not runs_a_loop(["--n", "2"])
