"""The iterate folders of a round driver's chain (`generate.loop.spin`): iteration t trains into
WS/runs/<name>-iter<t>, and `<kind>.json` there (spin.json, judge.json) claims the folder for its chain, naming the
reference it trains from and its round, before training starts. A killed run's folder is taken up again; another
chain's is never overwritten; and only a registered model whose folder is claimed so is the chain's iterate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from data.errors import PrefloopError
from data.files import atomic_write
from data.workspace import Workspace

if TYPE_CHECKING:
    from generate.loop.options import LoopOptions
    from generate.loop.spin import Iterate, Loop


def write_json(path: Path, value: dict) -> None:
    text = json.dumps(value, indent=2, default=str) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def iterate_folder(options: LoopOptions, workspace: Workspace, loop: Loop, iteration: int) -> Path:
    return workspace.path / "runs" / f"{loop.name(options)}-iter{iteration}"


def _marker(folder: str | Path, loop: Loop) -> dict | None:
    marker = Path(folder) / f"{loop.kind}.json"
    return json.loads(marker.read_text()) if marker.is_file() else None


def chain_of(folder: str | Path, loop: Loop) -> tuple:
    """(reference id, round) of the chain that claimed ``folder``; (None, None) for a folder no chain claimed."""
    theirs = _marker(folder, loop) or {}
    return theirs.get("reference_id"), theirs.get("round")


def check_claim(folder: Path, reference: Iterate, round: int, loop: Loop) -> bool:
    """Whether ``folder`` is this iteration's already (a killed run's), or refuse it: a folder of another chain is
    never overwritten. A ``reference`` without an id (not trained or registered yet) has no folder yet."""
    flag = f"--{loop.kind}-name NAME"
    if (theirs := _marker(folder, loop)) is not None:
        if (theirs.get("reference_id"), theirs.get("round")) != (reference.id, round):
            raise PrefloopError(
                f"{folder}: holds round {theirs.get('round')} of another {loop.kind.upper()} chain (reference "
                f"{theirs.get('reference')}); pass {flag} to put this chain's iterates elsewhere"
            )
        return True
    if folder.exists() and any(folder.iterdir()):
        raise PrefloopError(f"{folder}: not empty and not a {loop.kind} iterate folder; pass {flag}")
    return False


def claim(folder: Path, reference: Iterate, round: int, loop: Loop) -> None:
    """Make ``folder`` this iteration's (`check_claim`)."""
    if check_claim(folder, reference, round, loop):
        return  # ours, from a killed run: training continues from its checkpoint
    folder.mkdir(parents=True, exist_ok=True)
    write_json(
        folder / f"{loop.kind}.json",
        {"reference_id": reference.id, "reference": reference.path, "round": round},
    )
