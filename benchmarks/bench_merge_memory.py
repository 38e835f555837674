"""Peak memory of `python -m data merge` at scale (memory only, nothing timed): does holding every new row until the
merge's one write matter at a million labels?

    python benchmarks/bench_merge_memory.py                    # two workspaces of 1,000,000 labels each
    python benchmarks/bench_merge_memory.py --labels 100000    # a quick run

Builds two workspaces of disjoint content (as two shards would be), shaped as `bench_store.py` shapes one: per pair a
prompt and 2 answers, 4 labels from 4 of 50 labellers; each table written as one part. Then merges, each in a fresh
process: one into a copy of the other ("1 into 1"), and both into an empty workspace ("2 into empty"). Prints per
case the process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss) before the merge and at its end,
the peak once planned (before the write), Arrow's pool peak, and the bytes and rows of new rows the plans held.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 50_000  # pairs per write while building


def hex_id(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def _rows(tag: str, i: int, rng: random.Random) -> tuple[dict, list[dict], dict, list[dict]]:
    created = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i)
    prompt_id = hex_id(tag, "prompt", i)
    text = f"Question {tag}{i}: explain why {i} is {'even' if i % 2 == 0 else 'odd'}, in two sentences."
    prompt = {"id": prompt_id, "messages": [{"role": "user", "content": text}], "gold": None}
    prompt |= {"source": "bench", "split": "train", "created_at": created}
    answers = [
        {"id": hex_id(tag, "completion", i, seed), "prompt_id": prompt_id, "model": "bench", "engine": "hf"}
        | {"text": f"Answer {seed} to question {i}: " + "because it divides by two. " * (3 + seed)}
        | {
            "params": "{}",
            "seed": seed,
            "round": 0,
            "num_tokens": 40,
            "finish_reason": "stop",
            "created_at": created,
        }
        for seed in (0, 1)
    ]
    pair = {"id": hex_id(tag, "pair", i), "prompt_id": prompt_id, "completion_a": answers[0]["id"]}
    pair |= {"completion_b": answers[1]["id"], "kind": "sampled", "round": 0, "created_at": created}
    labels = []
    for k in range(4):
        choice = rng.choice(("a", "b", "tie", "both_bad"))
        labels.append(
            {
                "id": hex_id(tag, "label", i, k),
                "item_id": pair["id"],
                "annotator": f"user{(i * 4 + k) % 50:02d}",
            }
            | {
                "task": "pairwise",
                "choice": choice,
                "strength": rng.randint(1, 4) if choice in "ab" else None,
            }
            | {
                "seconds": 12.5,
                "retracted": False,
                "left": "a",
                "created_at": created + timedelta(milliseconds=k),
            }
        )
    return prompt, answers, pair, labels


def build(path: Path, labels: int, tag: str) -> None:
    import pyarrow as pa

    from data.schemas import SCHEMAS
    from data.workspace import Workspace

    workspace, rng, pairs = Workspace.init(path), random.Random(0), labels // 4
    for offset in range(0, pairs, CHUNK):
        rows: dict[str, list[dict]] = {"prompts": [], "completions": [], "pairs": [], "labels": []}
        for i in range(offset, min(pairs, offset + CHUNK)):
            prompt, answers, pair, pair_labels = _rows(tag, i, rng)
            rows["prompts"].append(prompt)
            rows["completions"] += answers
            rows["pairs"].append(pair)
            rows["labels"] += pair_labels
        tables = {name: pa.Table.from_pylist(r, schema=SCHEMAS[name]) for name, r in rows.items()}
        workspace.append_tables(tables, compact=False)
    workspace.compact()


PROBE = """
import json, sys
import pyarrow as pa
from data import merging
from data.workspace import Workspace

def peak_kib():
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])

figures = {"before_merge_kib": peak_kib()}
plan_merge = merging.plan_merge

def planned(*args, **kwargs):
    plans = plan_merge(*args, **kwargs)
    figures["new_rows_bytes"] = sum(t.nbytes for plan in plans for t in plan.added.values())
    figures["new_rows"] = sum(t.num_rows for plan in plans for t in plan.added.values())
    figures["planned_kib"] = peak_kib()
    return plans

merging.plan_merge = planned
merging.merge_workspaces(Workspace(sys.argv[1]), [Workspace(path) for path in sys.argv[2:]])
figures |= {"peak_kib": peak_kib(), "arrow_pool_peak_bytes": pa.default_memory_pool().max_memory()}
print(json.dumps(figures))
"""


def measure(target: Path, others: list[Path]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(target), *map(str, others)], capture_output=True, text=True, env=env
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000, help="labels per workspace")
    parser.add_argument(
        "--folder", type=Path, help="where the workspaces are built (kept); default: a temp folder"
    )
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-merge-"))
    one, two = folder / f"one-{args.labels}", folder / f"two-{args.labels}"
    for path, tag in ((one, "A"), (two, "B")):
        if not path.exists():
            build(path, args.labels, tag)
    from data.workspace import Workspace

    for case, others in (("1 into 1", [two]), ("2 into empty", [one, two])):
        target = folder / "target"
        shutil.rmtree(target, ignore_errors=True)
        if case == "1 into 1":
            shutil.copytree(one, target)
        else:
            Workspace.init(target)
        figures = measure(target, others)
        shown = {
            k.removesuffix("_kib"): f"{v / 1024:.0f} MiB" for k, v in figures.items() if k.endswith("kib")
        }
        shown |= {
            k.removesuffix("_bytes"): f"{v / 2**20:.0f} MiB"
            for k, v in figures.items()
            if k.endswith("bytes")
        }
        print(
            f"{args.labels} labels per workspace, {case}: {shown}, new rows {figures['new_rows']}", flush=True
        )
        shutil.rmtree(target)
    if args.folder is None:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
