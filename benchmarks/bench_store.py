"""The workspace at scale: a synthetic million-label workspace written through the real write path, then timed.

    python benchmarks/bench_store.py                  # 1,000,000 labels over 250,000 pairs from 50 labellers
    python benchmarks/bench_store.py --labels 20000   # a quick run

Building: prompts, completions and pairs go in as generation writes them (one batch per chunk of 10,000 pairs,
committed with a commit record, compacted by the writer). Every pair gets 4 labels from 4 different labellers. The
labels go through the labelling service's own write path (``LabelService._write_labels``) in the groups its group
commit forms when all labellers submit at once: one label of each labeller per group, one fsynced part per group,
with the service's background compactor merging parts as it does in the app ("labels/s written"). A 1M-label
workspace is therefore 20,000 group commits, as 50 labellers would make them, minus the labellers' thinking time.
A further ``labellers x (labels-each + 1)`` pairs stay open for the submit test.

Then, on that workspace, each in a fresh process, ``--repeat`` times (the median is the figure; every run is
printed): app start-up (``LabelService``), reading the labels table,
``python -m data stats``, ``export --format dpo`` and ``validate`` (wall time of the whole command); part files per
table and disk bytes per label; and submit latency with 50 labellers over HTTP at a labeller's pace
(``bench_annotate.py``'s server and clients, ``--think`` seconds between labels). One table, targets beside.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 10_000
CHOICES = ("a", "b", "a", "b", "a", "b", "tie", "both_bad")
TARGETS = {
    "app start-up s": 2.0,
    "stats s": 2.0,
    "export dpo s": 3.0,
    "validate s": 5.0,
    "submit p99 ms (server)": 50.0,
    "max parts per table": 64,
    "disk bytes per label": 200,
}


def hex_id(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def write_items(workspace, pairs: int, first: int = 0) -> None:
    """Prompts, completions and pairs ``first`` .. ``first + pairs - 1`` in generation-sized batches (each one
    commit, as `generate` writes)."""
    import pyarrow as pa

    from data.schemas import COMPLETIONS, PAIRS, PROMPTS

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for offset in range(first, first + pairs, CHUNK):
        rows = range(offset, min(first + pairs, offset + CHUNK))
        prompts, completions, pair_rows = [], [], []
        for i in rows:
            created = start + timedelta(seconds=i)
            pid = hex_id("prompt", i)
            text = f"Question {i}: explain why {i} is {'even' if i % 2 == 0 else 'odd'}, in two sentences."
            prompts.append(
                {"id": pid, "messages": [{"role": "user", "content": text}], "gold": None, "source": "bench"}
                | {"split": "train", "created_at": created}
            )
            sides = []
            for seed in (0, 1):
                answer = f"Answer {seed} to question {i}: " + ("because it divides by two. " * (3 + seed))
                cid = hex_id("completion", i, seed)
                sides.append(cid)
                completions.append(
                    {"id": cid, "prompt_id": pid, "text": answer, "model": "bench", "engine": "hf"}
                    | {"params": "{}", "seed": seed, "round": 0, "num_tokens": 40, "finish_reason": "stop"}
                    | {"created_at": created}
                )
            pair_rows.append(
                {
                    "id": hex_id("pair", i),
                    "prompt_id": pid,
                    "completion_a": sides[0],
                    "completion_b": sides[1],
                }
                | {"kind": "sampled", "round": 0, "created_at": created}
            )
        workspace.append_tables(
            {
                "prompts": pa.Table.from_pylist(prompts, schema=PROMPTS),
                "completions": pa.Table.from_pylist(completions, schema=COMPLETIONS),
                "pairs": pa.Table.from_pylist(pair_rows, schema=PAIRS),
            }
        )


def write_labels(workspace, labellers: int, labels: int) -> float:
    """``labels`` labels (4 per pair, from 4 different labellers) through the labelling service's write path, in
    the groups its group commit forms when every labeller submits at once (one label of each, one part and one
    fsync per group), with its background compactor running; returns labels per second."""
    from annotate.service import LabelService
    from data.records import Label

    service = LabelService(workspace, "pairwise", overlap=labellers)
    rng = random.Random(0)
    start = datetime(2026, 2, 1, tzinfo=timezone.utc)
    began = time.perf_counter()
    for offset in range(0, labels, labellers):
        group = []
        for n in range(offset, min(labels, offset + labellers)):
            pair, k = divmod(n, 4)
            choice = rng.choice(CHOICES)
            label = Label(
                hex_id("pair", pair),
                f"user{(pair * 4 + k) % labellers:02d}",  # 4 different labellers per pair
                "pairwise",
                choice,
                strength=rng.randint(1, 4) if choice in ("a", "b") else None,
                seconds=round(rng.uniform(3, 60), 1),
                left=rng.choice("ab"),
                created_at=start + timedelta(milliseconds=n),
            )
            group.append(label)
        service._write_labels(group)  # what one group commit writes (LabelService._append -> GroupCommit)
        service._compactor.poke()
    rate = labels / (time.perf_counter() - began)
    workspace.maybe_compact("labels")  # what the app's compactor thread finishes after the last write
    return rate


def top_up_open_pairs(path: Path, wanted: int) -> int:
    """A kept workspace measured again: add unlabelled pairs until ``wanted`` are open for the submit test (an
    earlier run labelled some); returns how many were added."""
    import pyarrow.compute as pc

    from data.workspace import Workspace

    workspace = Workspace(path)
    pairs = workspace.read("pairs", ["id"]).column("id")
    labelled = pc.is_in(pairs, value_set=pc.unique(workspace.read("labels", ["item_id"]).column("item_id")))
    missing = wanted - (len(pairs) - (pc.sum(labelled).as_py() or 0))
    if missing > 0:
        write_items(workspace, missing, first=len(pairs))
    return max(missing, 0)


def build(path: Path, labels: int, labellers: int, open_pairs: int) -> float:
    from data.workspace import Workspace

    workspace = Workspace.init(path)
    write_items(workspace, (labels + 3) // 4 + open_pairs)
    return write_labels(workspace, labellers, labels)


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=_env())
    if out.returncode not in (0, 1):  # validate exits 1 when it finds problems; that is still a timing
        raise RuntimeError(f"{' '.join(command)} failed: {out.stderr[-2000:]}")
    return time.perf_counter() - began


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


PROBE = """
import sys, time
from annotate.service import LabelService
from data.workspace import Workspace
began = time.perf_counter()  # imports are not counted: the same for every workspace size
ws = Workspace(sys.argv[1])
if sys.argv[2] == "read":
    ws.read("labels")
else:
    LabelService(ws, "pairwise", overlap=1)
print(time.perf_counter() - began)
"""


def probe(path: Path, what: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), what], capture_output=True, text=True, cwd=ROOT, env=_env()
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def disk_figures(path: Path) -> tuple[dict[str, int], float]:
    from data.compaction import part_rows
    from data.schemas import SCHEMAS
    from data.store import part_files

    parts = {name: len(part_files(path / name)) for name in SCHEMAS}
    label_parts = part_files(path / "labels")
    size = sum(p.stat().st_size for p in label_parts)
    return parts, size / max(part_rows(path, "labels"), 1)


def submit_latency(path: Path, labellers: int, labels_each: int, think: float) -> dict:
    """bench_annotate's app server and HTTP labellers on this workspace: (client, handler, append) p50/p99 ms."""
    import bench_annotate as bench
    import timed_app

    from annotate.users import User, dump_users, hash_password

    hashed = hash_password(bench.PASSWORD)
    users = {f"user{i:02d}": User(f"user{i:02d}", hashed) for i in range(labellers)}
    (path / "users.toml").write_text(dump_users(users))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    timings = path.parent / "timings.json"
    child = subprocess.Popen(
        [sys.executable, bench.__file__, "--serve", str(path), str(port), str(timings), "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    if child.stdout.readline().strip() != "READY":
        raise RuntimeError("the app did not start")
    try:
        acked, client_ms, *_ = asyncio.run(
            bench.drive(f"http://127.0.0.1:{port}", labellers, labels_each, think)
        )
    finally:
        child.stdin.write("quit\n")
        child.stdin.flush()
        child.wait(timeout=120)
    server = json.loads(timings.read_text())
    pct = bench.percentile
    client_ms = [ms for _, ms in client_ms]  # bench_annotate keeps each submit's start beside its time
    return {
        "submits": len(acked),
        "client": (pct(client_ms, 50), pct(client_ms, 99)),
        "handler": (pct(server["handler_ms"], 50), pct(server["handler_ms"], 99)),
        "append": (pct(server["append_ms"], 50), pct(server["append_ms"], 99)),
        "slow": timed_app.slow_appends(server["spans"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000, help="labels to write (4 per pair)")
    parser.add_argument("--labellers", type=int, default=50)
    parser.add_argument("--labels-each", type=int, default=8, help="labels per labeller in the submit test")
    parser.add_argument("--think", type=float, default=5.0, help="mean seconds between a labeller's submits")
    parser.add_argument(
        "--no-submit", action="store_true", help="skip the submit-latency test (no app server)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="fresh-process runs per timing (median reported)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the workspace here and keep it, or re-measure the one there (default: temp)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))

    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-store-"))
    path = base / "ws"
    try:
        began = time.perf_counter()
        if args.keep and (path / "workspace.json").is_file():
            rate = float("nan")  # --keep of an existing workspace: measure it again without rebuilding
            if not args.no_submit:
                top_up_open_pairs(path, args.labellers * (args.labels_each + 1))
        else:
            rate = build(path, args.labels, args.labellers, args.labellers * (args.labels_each + 1))
        build_s = time.perf_counter() - began
        parts, bytes_per_label = disk_figures(path)
        python = sys.executable
        measured = {
            "app start-up s": lambda: probe(path, "service"),
            "read labels s": lambda: probe(path, "read"),
            "stats s": lambda: timed([python, "-m", "data", "stats", "-w", str(path)]),
            "export dpo s": lambda: timed(
                [python, "-m", "data", "export", "-w", str(path), "--format", "dpo"]
            ),
            "validate s": lambda: timed([python, "-m", "data", "validate", "-w", str(path)]),
        }
        runs = {name: [measure() for _ in range(args.repeat)] for name, measure in measured.items()}
        figures = {
            "labels/s written": rate,
            **{name: statistics.median(times) for name, times in runs.items()},
            "max parts per table": max(parts.values()),
            "disk bytes per label": bytes_per_label,
        }
        latency = None
        if not args.no_submit:
            latency = submit_latency(path, args.labellers, args.labels_each, args.think)
            figures["submit p50 ms (server)"], figures["submit p99 ms (server)"] = latency["handler"]
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)

    print(f"{args.labels} labels, {args.labellers} labellers; workspace built in {build_s:.0f} s")
    print(f"parts per table: {parts}")
    print(
        f"each timing: the median of {args.repeat} fresh processes; every run, in order (the first after a pause "
        "can find the page cache reclaimed): "
        + "; ".join(f"{name} {', '.join(f'{t:.2f}' for t in times)}" for name, times in runs.items())
    )
    if latency:
        print(
            f"submit ({latency['submits']} at --think {args.think:g}): client p50/p99 {latency['client'][0]:.1f}/"
            f"{latency['client'][1]:.1f} ms, handler {latency['handler'][0]:.1f}/{latency['handler'][1]:.1f} ms, "
            f"durable append {latency['append'][0]:.1f}/{latency['append'][1]:.1f} ms"
        )
        slow = latency["slow"]
        print(
            f"appends over 50 ms: {slow['slow']}, of them during a background compaction: "
            f"{slow['slow_during_compaction']}, during a full GC: {slow['slow_during_gc']} ({slow['full_gcs']} full "
            f"GCs); group disk writes p99 {slow['write_p99_ms']:.1f} ms, slowest under "
            f"a slow append {slow['slow_write_ms_max']:.1f} ms; compactions {slow['compactions']} "
            f"({', '.join(map(str, slow['compaction_ms'][:10]))} ms)"
        )
    print("| figure | measured | target |")
    print("|---|---|---|")
    for name, value in figures.items():
        target = TARGETS.get(name)
        mark = "" if target is None else (" ✓" if value <= target else " ✗")
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"| {name} | {shown}{mark} | {'' if target is None else f'≤ {target:g}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
