"""An arena stopped between storing its answers and writing its pairs and record: its answers are the arena's from
the write that stores them (each chunk's answers with a record of the arena listing them, in one batch), so no kto,
rate or rank app serves them and no export or `train` reads another task's label on them, before a rerun pairs
them. They were ordinary answers until the rerun: a stopped arena fed its evaluation answers to training apps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotate.service import LabelService
from data import Completion, Label, Pair, Prompt, Workspace
from data.ranking import rank_item_id
from generate import arena
from generate.__main__ import main
from generate.engines import Sample
from tests.test_generate_arena import arena_args, write_prompts
from train.pairs import kto_rows


class Scripted:
    """An engine whose answers name its model's folder and the sample index: each model answers apart."""

    name = "hf"
    context_length = None  # every prompt fits

    def __init__(self, path):
        self.model = Path(path).name

    def sample(self, prompts, n, params, first=0):
        return [
            [
                Sample(f"{self.model} on {m[-1]['content']} ({i})", 3, "stop", i)
                for i in range(first, first + n)
            ]
            for m in prompts
        ]


class Killed(BaseException):
    """The kill: nothing the job does catches it."""


def stop(*args, **kwargs):
    raise Killed  # once every model has answered: before the pairs and the record are written


@pytest.fixture()
def stopped(tmp_path, tiny_model_dir, monkeypatch):
    """A workspace whose arena (two models, two prompts, 2 answers each) was killed once its models had answered,
    beside a prompt of four sampled answers (ordinary: the apps' items)."""
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    monkeypatch.setattr(arena, "make_engine", lambda engine, path, options: Scripted(path))
    argv = arena_args(tmp_path / "ws", [tiny_model_dir, other], write_prompts(tmp_path / "p.json", 2))
    argv += ["--arena-n", "2", "--chunk-size", "1", "--limit", "2"]  # each chunk: a record of its answers
    with monkeypatch.context() as patch:
        patch.setattr(arena, "arena_pairs", stop)
        with pytest.raises(Killed):
            main(argv)
    ws = Workspace(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Sampled?"}], "t")
    sampled = [Completion(prompt.id, f"answer {k}", "m", "hf", seed=k) for k in range(4)]
    ws.append([prompt, *sampled, Pair(prompt.id, sampled[0].id, sampled[1].id, "sampled")])
    return ws, argv, {c.id for c in sampled}, prompt.id


@pytest.mark.parametrize("task", ["kto", "rate", "rank"])
def test_a_stopped_arenas_answers_reach_no_training_app(stopped, task):
    ws, _, sampled, prompt = stopped
    answers = ws.frame("completions").query("model != 'm'")
    assert len(answers) == 8 and not len(ws.frame("pairs").query("kind == 'arena'"))
    records = ws.frame("arenas")  # each chunk's: 2 models, 2 chunks of one prompt's 2 answers
    assert len(records) == 4 and records["pairs"].eq(0).all()
    assert sorted(i for listed in records["answers"] for i in listed) == sorted(answers["id"])
    items = set(LabelService(ws, task, overlap=1).items)
    assert items == ({rank_item_id(prompt, 0)} if task == "rank" else sampled)


def test_a_stopped_arenas_answers_export_no_label_and_a_rerun_pairs_them(stopped, capsys):
    ws, argv, _, _ = stopped
    answers = ws.frame("completions").query("model != 'm'")
    ws.append([Label(answers["id"].iloc[0], "import", "kto", "desirable")])
    rows, counts = kto_rows(ws, "train")
    assert rows == [] and counts["arena_only"] == 1
    capsys.readouterr()
    assert main(argv) == 0  # the rerun samples nothing and pairs them
    out = capsys.readouterr().out
    assert "arena_prompts_answered" not in out and "arena_new_pairs 4" in out
    assert len(ws.frame("completions")) == 12
    assert set(LabelService(ws, "kto", overlap=1).items).isdisjoint(answers["id"])


@pytest.mark.parametrize("task", ["kto", "rank"])
def test_a_running_app_never_serves_a_chunk_committed_while_it_reloads(tmp_path, monkeypatch, task):
    """A reload read the arena's records before the answers: a chunk of answers stored with its record between the
    two reads gave the app the answers without the record, which it served until its next reload."""
    from annotate.loading import Loading
    from data.records import ArenaRun

    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Sampled?"}], "t")
    sampled = [Completion(prompt.id, f"answer {k}", "m", "hf", seed=k) for k in range(4)]
    ws.append([prompt, *sampled, Pair(prompt.id, sampled[0].id, sampled[1].id, "sampled")])
    service = LabelService(ws, task, overlap=1)
    held = Prompt([{"role": "user", "content": "Held out?"}], "t", split="test")
    chunk = [Completion(held.id, f"{m} says so", m, "hf", seed=0) for m in ("m_a", "m_b", "m_c")]
    ws.append([held])
    record = ArenaRun("test", 0, ["m_a", "m_b", "m_c"], 1, 0, answers=[c.id for c in chunk])
    read_new = Loading._read_new

    def committed_midway(self, name):  # the arena's chunk commits as the reload reaches the answers
        if name == "completions" and not len(ws.frame("arenas")):
            ws.append([*chunk, record])
        return read_new(self, name)

    monkeypatch.setattr(Loading, "_read_new", committed_midway)
    service.reload()
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.skip("ann", shown.item.id)
    assert set(served) == ({rank_item_id(prompt.id, 0)} if task == "rank" else {c.id for c in sampled})


def test_an_interrupt_stops_the_isolated_step_with_it():
    """SIGINT to the job alone (`kill -INT PID` of a background `generate --arena`, whose models sample in a
    process of their own) raised KeyboardInterrupt only once that process had ended, a model's whole sampling
    later: the stop seemed ignored. The step's process is ended with it."""
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from generate.isolate import run_isolated

    threading.Timer(3, os.kill, (os.getpid(), signal.SIGINT)).start()  # once the step's process is sampling
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_isolated(time.sleep, 30, what="arena sampling")
    assert time.monotonic() - start < 15 and not multiprocessing.active_children()


def ignores_sigterm(ready: str, seconds: float) -> None:
    """A step whose library ignores SIGTERM (installs a handler of its own), once it says it has."""
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Path(ready).touch()
    time.sleep(seconds)


def test_an_interrupt_ends_a_step_that_ignores_sigterm(tmp_path):
    """The interrupted job terminated the step's process (SIGTERM) and then waited for the pool: a step that
    ignores SIGTERM held the job until it ended (here 60 s), as before. It is killed after a grace period."""
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from generate.isolate import run_isolated

    ready = tmp_path / "ready"

    def interrupt():
        while not ready.exists():
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_isolated(ignores_sigterm, str(ready), 60, what="arena sampling")
    assert time.monotonic() - start < 45 and not multiprocessing.active_children()
