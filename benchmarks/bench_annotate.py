"""Load test of the labelling app: many labellers at once over HTTP on loopback, then a check that nothing was lost.

    python benchmarks/bench_annotate.py --labellers 50 --labels-each 20
    python benchmarks/bench_annotate.py --labellers 4 --labels-each 50 --think 0.05 --guessers 4   # under attack
    python benchmarks/bench_annotate.py --labellers 8 --labels-each 60 --think 0.1 --burst 150    # a guessing burst

The app runs in a child process (as `python -m annotate` would); each labeller logs in through Gradio's /login,
then loads its item and submits labels through the app's own endpoints (/gradio_api/call/load and /submit), one
request at a time, all labellers concurrently. Reported: submit latency p50/p99 measured by the clients (request to
the result event) and inside the server (the whole submit handler, and the durable append alone), and
lost/duplicated labels found by comparing every acknowledged label with the DPO Parquet exported afterwards.
With ``--guessers N``, N more clients post wrong passwords to /login, flat out, while the labellers work; the server
runs with lock-outs high enough that every guess pays a full scrypt check (the worst case for the labellers), and
the report adds how many guesses were checked and refused. With ``--burst N``, N wrong passwords arrive at once
(the app's default throttling) from a process of their own, as an attacker's would (its client-side work does not
run on the event loop that times the labellers' submits; it does share this machine's cores with the server and
the labellers), and the report adds the labellers' submit p99 over the submits that overlapped it.
The app's side, the child process and its timers, is `timed_app.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timed_app import percentile, serve  # noqa: E402  (the app's side: its timers, in the child process)

PASSWORD = "bench-password"


def build_workspace(path: Path, items: int):
    from data import Completion, Pair, Prompt, Workspace

    workspace = Workspace.init(path)
    records = []
    for i in range(items):
        prompt = Prompt([{"role": "user", "content": f"Question {i}: what is {i} + {i}?"}], source="bench")
        a = Completion(prompt.id, f"{2 * i}, because {i} + {i} = {2 * i}.", "bench", "hf", seed=0)
        b = Completion(prompt.id, f"It is {2 * i + 1}.", "bench", "hf", seed=1)
        records += [prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")]
    workspace.append(records)
    return workspace


async def call(client, name: str, data: list) -> tuple[list, float]:
    start = time.monotonic()
    response = await client.post(f"/gradio_api/call/{name}", json={"data": data})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    async with client.stream("GET", f"/gradio_api/call/{name}/{event_id}") as stream:
        event = None
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"{name}: {line}")
                return json.loads(line[5:]), 1000 * (time.monotonic() - start)
    raise RuntimeError(f"{name}: the stream ended without a result")


class StartLine:
    """Every labeller logs in and loads its first item, then all start labelling together."""

    def __init__(self, count: int):
        self.count, self.ready, self.all_ready, self.go = count, 0, asyncio.Event(), asyncio.Event()

    async def arrive(self) -> None:
        self.ready += 1
        if self.ready == self.count:
            self.all_ready.set()
        await self.go.wait()


async def labeller(
    url: str, name: str, labels_each: int, think: float, acked: list, client_ms: list, start: StartLine
):
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post("/login", data={"username": name, "password": PASSWORD})
        response.raise_for_status()
        view, _ = await call(client, "load", [])
        await start.arrive()
        for n in range(labels_each):
            await asyncio.sleep(
                think * (0.5 + (zlib.crc32(f"{name}{n}".encode()) % 1000) / 1000)
            )  # reading time, jittered
            item = view[0]
            if not item:
                break
            view, ms = await call(
                client, "submit", [item, "left" if n % 2 else "right", 2, "", None, None, ""]
            )
            if "Saved to disk" not in json.dumps(view):
                raise RuntimeError(f"{name}: submit of {item} not acknowledged")
            acked.append((name, item))
            client_ms.append((time.monotonic() - ms / 1000, ms))


async def guesser(url: str, name: str, done: asyncio.Event, outcomes: list) -> None:
    """Wrong passwords for one labeller's name as fast as the server answers, until the labellers are done."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        n = 0
        while not done.is_set() and n < 100_000:
            response = await client.post("/login", data={"username": name, "password": f"guess-{n}"})
            outcomes.append(response.status_code)
            n += 1


async def burst(url: str, requests: int, names: int, after: float) -> dict:
    """``requests`` wrong passwords at once (over ``names`` user names that exist nowhere), ``after`` seconds from
    now; returns the burst's window (time.monotonic, comparable across processes) and its status codes."""
    import httpx

    limits = httpx.Limits(max_connections=requests)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.sleep(after)

        async def one(i: int) -> int:
            form = {"username": f"guessed{i % names}", "password": f"guess-{i}"}
            return (await client.post("/login", data=form)).status_code

        began = time.monotonic()
        outcomes = await asyncio.gather(*(one(i) for i in range(requests)))
        return {"window": [began, time.monotonic()], "outcomes": outcomes}


def burst_client(url: str, requests: int, names: int, after: float) -> None:
    """The burst from a process of its own, as an attacker's would be: its client-side work (150 connections at
    once) runs on its own event loop, not on the one that times the labellers' submits. Prints READY once httpx is
    imported, waits for a line on stdin (the labelling started), then bursts and prints the result as JSON."""
    import httpx  # noqa: F401  (imported before READY: the import is not part of the burst)

    print("READY", flush=True)
    sys.stdin.readline()
    print(json.dumps(asyncio.run(burst(url, requests, names, after))), flush=True)


async def burst_process(url: str, requests: int, names: int, after: float):
    """Start the burst's own process; returns it once it is ready to fire."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--burst-client",
        url,
        str(requests),
        str(names),
        str(after),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    if (await child.stdout.readline()).decode().strip() != "READY":
        raise RuntimeError("the burst's process did not start")
    return child


async def drive(url: str, labellers: int, labels_each: int, think: float, guessers: int = 0, burst_of=None):
    acked, client_ms, start, outcomes, window = [], [], StartLine(labellers), [], []
    tasks = [
        asyncio.create_task(labeller(url, f"user{i:02d}", labels_each, think, acked, client_ms, start))
        for i in range(labellers)
    ]
    await asyncio.wait([asyncio.create_task(start.all_ready.wait()), *tasks], return_when="FIRST_COMPLETED")
    done = asyncio.Event()
    guessing = [asyncio.create_task(guesser(url, f"user{i:02d}", done, outcomes)) for i in range(guessers)]
    burster = await burst_process(url, *burst_of) if burst_of else None
    began = time.monotonic()
    start.go.set()
    if burster:
        burster.stdin.write(b"go\n")
        await burster.stdin.drain()
    await asyncio.gather(*tasks)
    seconds = time.monotonic() - began
    done.set()
    await asyncio.gather(*guessing)
    if burster:
        result = json.loads((await burster.communicate())[0])
        window.append(tuple(result["window"]))
        outcomes += result["outcomes"]
    return acked, client_ms, seconds, outcomes, window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labellers", type=int, default=50)
    parser.add_argument("--labels-each", type=int, default=20)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a labeller reads before each label (0: flat out)",
    )
    parser.add_argument(
        "--guessers", type=int, default=0, help="clients posting wrong passwords meanwhile (a login attack)"
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=0,
        help="wrong passwords sent at once, --burst-after s into the labelling (the app's default lock-outs)",
    )
    parser.add_argument("--burst-names", type=int, default=1, help="user names the burst guesses")
    parser.add_argument("--burst-after", type=float, default=2.0, help="seconds before the burst starts")
    parser.add_argument(
        "--serve", nargs=4, metavar=("WS", "PORT", "TIMINGS", "GUESS"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--burst-client", nargs=4, metavar=("URL", "REQUESTS", "NAMES", "AFTER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.burst_client:
        url, requests, names, after = args.burst_client
        burst_client(url, int(requests), int(names), float(after))
        return 0
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), Path(args.serve[2]), args.serve[3] == "1")
        return 0

    from annotate.users import User, dump_users, hash_password
    from data.export import to_dpo

    tmp = Path(tempfile.mkdtemp(prefix="bench-annotate-"))
    items = args.labellers * (args.labels_each + 1)  # each labeller also holds the item after its last label
    workspace = build_workspace(tmp / "ws", items)
    hashed = hash_password(PASSWORD)  # one hash for all: the bench measures labelling, not scrypt
    users = {f"user{i:02d}": User(f"user{i:02d}", hashed) for i in range(args.labellers)}
    (tmp / "ws" / "users.toml").write_text(dump_users(users))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    timings = tmp / "timings.json"
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(tmp / "ws"),
            str(port),
            str(timings),
            str(int(args.guessers > 0)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout.readline().strip() == "READY"
    try:
        burst_of = (args.burst, args.burst_names, args.burst_after) if args.burst else None
        url = f"http://127.0.0.1:{port}"
        acked, client_ms, seconds, guesses, window = asyncio.run(
            drive(url, args.labellers, args.labels_each, args.think, args.guessers, burst_of)
        )
    finally:
        child.stdin.write("quit\n")
        child.stdin.flush()
        child.wait(timeout=60)
    server = json.loads(timings.read_text())

    frames = [workspace.frame(name) for name in ("prompts", "completions", "pairs", "labels")]
    rows, _ = to_dpo(*frames)
    exported = [row["pair_id"] for row in rows]
    acked_items = [item for _, item in acked]
    lost = len(set(acked_items) - set(exported))
    duplicated = len(acked_items) - len(set(acked_items)) + sum(row["votes"] > 1 for row in rows)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}"
    )
    print(
        f"think {args.think:g} s, {args.labellers} labellers x {args.labels_each} labels: {len(acked)} acknowledged in {seconds:.1f} s "
        f"({len(acked) / seconds:.0f} labels/s)"
    )
    during = [ms for at, ms in client_ms if window and at < window[0][1] and at + ms / 1000 > window[0][0]]
    client_ms = [ms for _, ms in client_ms]
    for name, values in (
        ("client submit (HTTP round trip)", client_ms),
        ("server submit handler", server["handler_ms"]),
        ("server durable append (fsync)", server["append_ms"]),
    ):
        print(
            f"{name}: p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms, "
            f"mean {statistics.fmean(values):.1f} ms (n={len(values)})"
        )
    if window:
        began, ended = window[0]
        print(
            f"burst of {args.burst} wrong passwords over {args.burst_names} name(s): answered in "
            f"{ended - began:.2f} s, {guesses.count(400)} checked, {guesses.count(429)} refused; other labellers' "
            f"submits during it: p99 {percentile(during, 99) if during else float('nan'):.1f} ms (n={len(during)})"
        )
    if args.guessers:
        print(
            f"{args.guessers} guessers: {len(guesses)} wrong passwords ({guesses.count(400)} checked, "
            f"{guesses.count(429)} refused), none accepted: {200 not in guesses}"
        )
    print(f"labels on disk {len(frames[3])}, DPO rows {len(rows)}: lost {lost}, duplicated {duplicated}")
    return 1 if lost or duplicated else 0


if __name__ == "__main__":
    sys.exit(main())
