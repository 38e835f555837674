"""The labelling app as `bench_annotate.py` serves it in its child process (``--serve``), with timers around the
submit handler and the durable append, and spans of the group writes, compactions and full garbage collections
that a slow append is attributed to (`slow_appends`, which `bench_store.py` reports)."""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def slow_appends(spans: dict, slow_ms: float = 50.0) -> dict:
    """What the appends slower than ``slow_ms`` overlapped: a background compaction, and how long the disk write
    (Parquet, write, fsync) of their group took; the compactions' count and durations."""
    slow = [(a, b) for a, b in spans["append"] if 1000 * (b - a) > slow_ms]

    def overlaps(x, spans_of):
        return [s for s in spans_of if s[0] < x[1] and s[1] > x[0]]

    with_compaction = [x for x in slow if overlaps(x, spans["compact"])]
    with_gc = [x for x in slow if overlaps(x, spans.get("gc", []))]
    writes = [max((1000 * (e - s) for s, e in overlaps(x, spans["write"])), default=0.0) for x in slow]
    return {
        "slow": len(slow),
        "slow_during_compaction": len(with_compaction),
        "slow_during_gc": len(with_gc),
        "full_gcs": len(spans.get("gc", [])),
        "slow_write_ms_max": max(writes, default=0.0),
        "compactions": len(spans["compact"]),
        "compaction_ms": [round(1000 * (e - s)) for s, e in spans["compact"]],
        "write_p99_ms": percentile([1000 * (e - s) for s, e in spans["write"]], 99)
        if spans["write"]
        else 0.0,
    }


def serve(workspace: Path, port: int, timings_path: Path, guessing: bool = False) -> None:
    """Child process: the app with timers around the submit handler and the durable append."""
    import annotate.app as app_module
    from annotate.app import build_app, launch, make_context
    from annotate.service import LabelService
    from annotate.users import Authenticator, LoginLimits, load_users
    from data import Workspace

    handler_ms, append_ms = [], []
    spans = {
        "append": [],
        "write": [],
        "compact": [],
        "gc": [],
    }  # (start, end) perf_counter seconds, for attribution
    service = LabelService(Workspace(workspace), "pairwise", overlap=1)
    inner_append, inner_submit = service._append, app_module.on_submit
    inner_write, inner_compact = service._commits._write, service._compactor._compact

    def span(kind, inner):
        def timed(*args):
            start = time.perf_counter()
            try:
                return inner(*args)
            finally:
                spans[kind].append((start, time.perf_counter()))

        return timed

    collecting = {}

    def on_gc(phase, info):  # full (generation 2) collections: they stop every thread
        if info["generation"] == 2:
            if phase == "start":
                collecting["at"] = time.perf_counter()
            elif "at" in collecting:
                spans["gc"].append((collecting.pop("at"), time.perf_counter()))

    gc.callbacks.append(on_gc)
    service._commits._write = span("write", inner_write)  # the group's part: Parquet, write, fsync
    service._compactor._compact = span("compact", inner_compact)  # the background compactor's runs
    timed_inner_append = span("append", inner_append)

    def timed_append(label):
        start = time.perf_counter()
        try:
            return timed_inner_append(label)
        finally:
            append_ms.append(1000 * (time.perf_counter() - start))

    def timed_submit(*args):
        start = time.perf_counter()
        try:
            return inner_submit(*args)
        finally:
            handler_ms.append(1000 * (time.perf_counter() - start))

    service._append, app_module.on_submit = timed_append, timed_submit
    ctx = make_context(service, Authenticator(load_users(workspace / "users.toml")))
    app = build_app(ctx)
    # Under attack, no name or address is locked out: every guess costs a scrypt check, and the labellers still log in.
    limits = LoginLimits(10**6, 10**6, 1.0, 0.0) if guessing else None
    launch(app, ctx, port=port, block=False, limits=limits, quiet=True)
    print("READY", flush=True)
    sys.stdin.readline()  # the parent says when the run is over
    timings_path.write_text(json.dumps({"handler_ms": handler_ms, "append_ms": append_ms, "spans": spans}))
    app.close()
