"""Rerun each documented model-quality recipe and compare its metrics with the documented figures.

    python benchmarks/reproduce.py dpo-proof                 # import + train, then compare (about 30 min on CPU)
    python benchmarks/reproduce.py spin-2iter                # the SPIN recipe (about 20 min on CPU)
    python benchmarks/reproduce.py all
    python benchmarks/reproduce.py dpo-proof --compare-only --workspace workspaces/proof   # a run already done

The documented values live in one place, `benchmarks/documented.json` (with the commands, the metrics file and a
tolerance and target per metric). Per metric it prints the documented value, the rerun's, whether the rerun
reproduces it (within the tolerance) and whether it meets the target. Exit status 0 when every target is met and
every value reproduced, 1 otherwise, 2 where a recipe's command fails or its metrics file does not read (one line
naming it). ``--workspace`` is one recipe's (each imports its own data), so it takes a recipe, not ``all``. ``--extra "FLAGS"`` appends flags to a recipe's last command (a smoke run on a
tiny model: ``--extra "--model /path/to/tiny --max-steps 1"``); such a run is not a reproduction.
"""

from __future__ import annotations

import argparse
import json
import operator
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = ROOT / "benchmarks" / "documented.json"
TESTS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def lookup(metrics: dict, path: str) -> float | None:
    """``steps.0.mean_change`` -> metrics["steps"][0]["mean_change"]; None where the file has no such value."""
    value: object = metrics
    for key in path.split("."):
        try:
            value = value[int(key)] if isinstance(value, list) else value[key]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    return value if isinstance(value, (int, float)) else None


def compare(metrics: dict, specs: list[dict]) -> list[dict]:
    """One row per documented metric: documented, rerun, reproduced (within tolerance), target met (or None)."""
    rows = []
    for spec in specs:
        rerun = lookup(metrics, spec["path"])
        reproduced = rerun is not None and abs(rerun - spec["documented"]) <= spec["tolerance"]
        target = spec.get("target")
        met = None if target is None else rerun is not None and TESTS[target[0]](rerun, target[1])
        rows.append({**spec, "rerun": rerun, "reproduced": reproduced, "met": met})
    return rows


def report_lines(name: str, rows: list[dict]) -> list[str]:
    width = max(len(r["name"]) for r in rows)
    lines = [f"{name}:\n  {'metric':<{width}}  {'documented':<10}  {'rerun':<9}  {'reproduced':<10}  target"]
    for r in rows:
        rerun = "missing" if r["rerun"] is None else f"{r['rerun']:.4g}"
        target = (
            "-"
            if r["met"] is None
            else f"{' '.join(map(str, r['target']))}: {'met' if r['met'] else 'NOT MET'}"
        )
        same = f"yes (±{r['tolerance']:g})" if r["reproduced"] else "no"
        lines.append(f"  {r['name']:<{width}}  {r['documented']:<10g}  {rerun:<9}  {same:<10}  {target}")
    return lines


class RecipeFailed(Exception):
    """A recipe's command exited non-zero (its own error line is above): exit status 2, not 1 (not reproduced)."""


def run_recipe(recipe: dict, workspace: Path, extra: str, python: str) -> None:
    commands = [c.format(workspace=workspace) for c in recipe["commands"]]
    for index, command in enumerate(commands):
        argv = shlex.split(command) + (shlex.split(extra) if index == len(commands) - 1 else [])
        if argv[0] == "python":
            argv[0] = python
        print("$ " + shlex.join(argv), flush=True)
        status = subprocess.run(argv, cwd=ROOT).returncode
        # check=True printed CalledProcessError's traceback, and exit status 1 read as "not reproduced"
        if status:
            raise RecipeFailed(f"`{shlex.join(argv)}` exited with status {status}; nothing compared")


def read_metrics(path: Path) -> dict:
    """The recipe's metrics file, else `RecipeFailed` naming it."""
    if not path.is_file():
        raise RecipeFailed(f"{path}: no metrics file (did the run finish?)")
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecipeFailed(f"{path}: does not read as JSON ({exc})") from exc
    if not isinstance(metrics, dict):
        raise RecipeFailed(f"{path}: not a JSON object of metrics")
    return metrics


def main(argv: list[str] | None = None) -> int:
    documented = json.loads(DOCUMENTED.read_text())
    recipes = [k for k in documented if not k.startswith("_")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=[*recipes, "all"])
    parser.add_argument(
        "--workspace", type=Path, help="workspace (default: a fresh temporary folder per recipe)"
    )
    parser.add_argument(
        "--compare-only", action="store_true", help="compare the metrics already in --workspace"
    )
    parser.add_argument(
        "--extra", default="", help="flags appended to the recipe's last command (smoke runs)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the recipe's commands")
    args = parser.parse_args(argv)
    if args.compare_only and not args.workspace:
        parser.error("--compare-only needs --workspace")
    # each recipe imports its own data: one workspace would mix them
    if args.recipe == "all" and args.workspace:
        parser.error("--workspace is one recipe's workspace: name the recipe, not all")
    ok = True
    for name in recipes if args.recipe == "all" else [args.recipe]:
        recipe = documented[name]
        workspace = args.workspace or Path(tempfile.mkdtemp(prefix=f"reproduce-{name}-")) / "ws"
        try:
            if not args.compare_only:
                run_recipe(recipe, workspace, args.extra, args.python)
            metrics = read_metrics(Path(recipe["metrics_file"].format(workspace=workspace)))
        except RecipeFailed as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 2
        rows = compare(metrics, recipe["metrics"])
        print("\n".join(report_lines(name, rows)))
        print(
            f"  documented on: {recipe['measured']}" + ("  [smoke run: --extra given]" if args.extra else "")
        )
        ok &= all(r["reproduced"] and r["met"] is not False for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
