"""Every shipped recipe (configs/recipes/*.yaml) parses into its entry point's options and passes its checks, and
the README shows how to run it, so a recipe never rots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "configs" / "recipes").glob("*.yaml"))
COMMAND = re.compile(r"^# python -m (train|generate) --config (configs/recipes/\S+\.yaml)$")


def test_there_are_recipes():
    assert {p.stem for p in RECIPES} >= {"dpo-demo", "kto-demo", "spin-2iter", "odpo-strength"}


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_parses_and_is_documented(path):
    from data.config import build

    match = COMMAND.match(path.read_text().splitlines()[0])
    assert match, f"{path.name}: first line must be '# python -m train|generate --config {path}'"
    entry, relative = match.groups()
    assert relative == str(path.relative_to(ROOT))
    if entry == "train":
        from train.__main__ import build_parser
        from train.options import TrainOptions, check_options

        options = build(TrainOptions, build_parser().parse_args(["--config", str(path)]))
        check_options(options)
    else:
        from generate import __main__ as generate_cli
        from generate.loop import __main__ as loop_cli

        argv = ["--config", str(path)]
        cli = loop_cli if generate_cli.runs_a_loop(argv) else generate_cli
        cli.check_options(cli.parse_options(argv))  # the nested train: section included
    assert f"--config {relative}" in (ROOT / "README.md").read_text(), f"README does not show {relative}"
