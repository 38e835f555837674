"""What the side-by-side benchmarks share: one fresh child process per side, and the machine's name."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys


def run_sides(script: str, sides: list[str]) -> dict[str, dict] | None:
    """Run ``script`` once per side with this process's arguments plus ``--only SIDE`` (each in a fresh process,
    so no side inherits another's threads, allocator or memory); the JSON line each prints, by side. None (after
    printing the child's error) if a side fails."""
    results = {}
    for side in sides:
        out = subprocess.run(
            [sys.executable, script, *sys.argv[1:], "--only", side], capture_output=True, text=True
        )
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return None
        results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"
