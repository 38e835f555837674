"""Sampling jobs on the tiny offline model: records, provenance, SPIN pairs, resume after SIGKILL, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from data import Workspace
from data.errors import PrefloopError
from data.export import to_dpo
from generate.__main__ import main
from generate.engines import EngineOptions, HFEngine, SamplingParams
from generate.sampling import sample_pairs
from generate.spin_pairs import sample_spin

PARAMS = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=8, seed=0)


def write_prompts(path, count, gold=True):
    rows = [
        {"prompt": f"Write about the sea, number {i}."} | ({"output": f"The sea {i}."} if gold else {})
        for i in range(count)
    ]
    path.write_text(json.dumps(rows))
    return path


@pytest.fixture(scope="module")
def hf_engine(tiny_model_dir):
    return HFEngine(str(tiny_model_dir), EngineOptions(batch_size=4))


def test_hf_engine_returns_n_samples_per_prompt(hf_engine):
    prompts = [[{"role": "user", "content": "Name a colour."}], [{"role": "user", "content": "Hello"}]]
    samples = hf_engine.sample(prompts, 3, PARAMS)
    assert [len(s) for s in samples] == [3, 3]
    for sample in (s for row in samples for s in row):
        assert 0 <= sample.num_tokens <= 8 and sample.finish_reason in ("stop", "length")


def test_sample_pairs_writes_completions_and_pairs_with_provenance(tmp_path, hf_engine):
    from data.imports import import_file

    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, write_prompts(tmp_path / "p.json", 5))
    counts = sample_pairs(ws, hf_engine, "tiny", 2, PARAMS, round=1, chunk_size=2)
    assert counts["prompts"] == 5 and counts["new_completions"] == 10
    completions = ws.frame("completions").set_index("id")
    assert set(completions["model"]) == {"tiny"} and set(completions["engine"]) == {"hf"}
    params = json.loads(completions["params"].iloc[0])
    assert set(completions["round"]) == {1} and params["max_tokens"] == 8 and params["dtype"] == "float32"
    for pair in ws.frame("pairs").itertuples():
        assert (
            completions.loc[pair.completion_a, "text"].strip()
            != completions.loc[pair.completion_b, "text"].strip()
        )
        assert pair.kind == "sampled" and pair.round == 1
    assert counts["new_pairs"] + counts["unpaired_prompts"] == 5
    assert (
        sample_pairs(ws, hf_engine, "tiny", 2, PARAMS, round=1)["prompts"] == 0
    )  # all done: nothing resampled


def test_spin_pairs_gold_against_generated(tmp_path, hf_engine):
    from data.imports import import_file

    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, write_prompts(tmp_path / "p.json", 3))
    counts = sample_spin(ws, hf_engine, "tiny", PARAMS, round=2)
    assert counts["new_pairs"] == 3
    frames = [ws.frame(n) for n in ("prompts", "completions", "pairs", "labels")]
    rows, _ = to_dpo(*frames)
    assert sorted(r["chosen"][0]["content"] for r in rows) == ["The sea 0.", "The sea 1.", "The sea 2."]
    assert set(frames[2]["kind"]) == {"spin"} and set(frames[3]["annotator"]) == {"spin"}


def first_prompts(ws, count: int) -> set[str]:
    """The first ``count`` prompts of split train, oldest first: a --limit job's fixed set."""
    prompts = Workspace(ws).frame("prompts").sort_values(["created_at", "id"], kind="stable")
    return set(prompts.loc[prompts["split"] == "train", "id"].head(count))


# `python -m generate` (with argv[2:]) whose engine, on its second call, creates the file argv[1] and stalls: each
# chunk is one call, so by then the first chunk is on disk and the rest of the job is still to do.
STALL_AT_SECOND_CHUNK = """
import runpy, sys, threading
from pathlib import Path
from generate.engines import HFEngine

sample, calls, stalled = HFEngine.sample, [], Path(sys.argv[1])

def stall_at_second_chunk(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        stalled.touch()
        threading.Event().wait()
    return sample(self, *args, **kwargs)

HFEngine.sample = stall_at_second_chunk
sys.argv = ["generate", *sys.argv[2:]]
runpy.run_module("generate", run_name="__main__", alter_sys=True)
"""


# With --limit 12 of 16 prompts, a rerun finishes the first 12 (it sampled 12 prompts more, all of them new).
@pytest.mark.parametrize(("count", "limit"), [(12, []), (16, ["--limit", "12"])])
def test_killed_run_resumes_without_duplicates(tmp_path, tiny_model_dir, count, limit):
    prompts = write_prompts(tmp_path / "p.json", count)
    ws = tmp_path / "ws"
    args = [
        "-m",
        "generate",
        "-w",
        str(ws),
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--engine",
        "hf",
        "--chunk-size",
        "2",
        "--max-tokens",
        "8",
        *limit,
    ]
    # The same command, whose second chunk never finishes sampling: killed there, it has one chunk (2 prompts, 4
    # completions) written and 5 left, however fast or slow the machine (a kill after a count of part files found
    # a fast run finished).
    stalled = tmp_path / "stalled"
    command = [sys.executable, "-c", STALL_AT_SECOND_CHUNK, str(stalled), *args[2:]]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not stalled.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stalled.exists(), "the run never reached its second chunk"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = len(Workspace(ws).frame("completions"))
    assert partial == 4
    rerun = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    assert rerun.returncode == 0
    completions = Workspace(ws).frame("completions")
    assert len(completions) == 24 and completions.groupby("prompt_id").size().eq(2).all()
    assert set(completions["prompt_id"]) == first_prompts(ws, 12)
    # the rerun says what it kept as well as what it sampled (it said only the latter)
    done = dict(
        item.rsplit(" ", 1) for item in rerun.stdout.splitlines()[-1].removeprefix("done: ").split(", ")
    )
    assert int(done["already_sampled"]) == partial // 2 and int(done["prompts"]) == 12 - partial // 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prompts", "missing.json"], "missing.json: file not found"),
        (["--prompts", "{empty}"], "row 0, field 'prompt': the prompt's last message has no text"),
        (["--model", "{not_a_model}"], "not a model"),
        (["--n", "1"], "--n 1: pairs need at least 2 samples per prompt"),
        (["--shard", "5/4"], "--shard '5/4': expected I/K"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, tiny_model_dir, capsys, extra, message):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps([{"prompt": ""}]))
    values = {"empty": str(empty), "not_a_model": str(tmp_path)}
    extra = [e.format(**values) for e in extra]
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


def snapshot(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def no_loading(*args, **kwargs):
    raise AssertionError("a model was loaded")


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("none", [], "no prompts to sample from: import some with `python -m data import -w {ws} FILE`"),
        ("empty", [], "no prompts to sample from: import some"),
        ("empty", ["--spin"], "no prompts to sample from"),
        ("empty", ["--arena", "base,newest"], "no prompts to sample from"),
        (
            "train",
            ["--split", "test"],
            "no prompts of --split test to sample from (the workspace and --prompts",
        ),
        ("none", ["--prompts", "{train}", "--split", "test"], "no prompts of --split test"),
        ("train", ["--spin"], "no prompts with a gold answer in --split train, and --spin needs them"),
        ("train", ["--shard", "{other}"], "none of the 1 prompts of --split train falls in --shard {other}"),
    ],
)
def test_nothing_to_sample_is_one_line_and_creates_nothing(
    tmp_path, tiny_model_dir, monkeypatch, capsys, setup, extra, message
):
    from data.imports import import_file
    from generate import __main__ as cli
    from generate.shards import in_shard

    monkeypatch.setattr(cli, "make_engine", no_loading)
    ws = tmp_path / "ws"
    train = write_prompts(tmp_path / "p.json", 1, gold=False)
    other = ""
    if setup != "none":
        workspace = Workspace.init(ws)
        if setup == "train":
            import_file(workspace, train)
            (prompt,) = workspace.ids("prompts")
            other = next(f"{i}/2" for i in (1, 2) if not in_shard(prompt, (i, 2)))
    before = snapshot(ws) if ws.exists() else None
    extra = [e.format(train=train, other=other) for e in extra]
    assert main(["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {ws}: {message.format(ws=ws, other=other)}") and err.count("\n") == 1
    assert (snapshot(ws) if ws.exists() else None) == before


def test_bare_generate_without_prompts_creates_no_workspace(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from generate import __main__ as cli

    monkeypatch.setattr(cli, "make_engine", no_loading)
    monkeypatch.chdir(tmp_path)
    assert main(["--model", str(tiny_model_dir), "--engine", "hf"]) == 2  # -w's default: ./ws
    assert capsys.readouterr().err.startswith("error: ws: no prompts to sample from")
    assert list(tmp_path.iterdir()) == []


def test_a_rerun_with_every_prompt_sampled_succeeds_and_says_so(tmp_path, tiny_model_dir, capsys):
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 2))]
    assert main(argv) == 0
    assert "nothing left to sample" not in capsys.readouterr().out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "done: already_sampled 2, tokens 0" in out
    assert "nothing left to sample: every prompt of --split train already has completions" in out


def test_a_limit_is_a_fixed_set_a_rerun_finishes_and_a_larger_limit_extends(tmp_path, tiny_model_dir, capsys):
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 5))]
    assert main([*argv, "--limit", "2"]) == 0
    assert "done: " in capsys.readouterr().out
    assert main([*argv, "--limit", "2"]) == 0  # it sampled 2 new prompts
    out = capsys.readouterr().out
    assert "done: already_sampled 2, tokens 0" in out
    assert (
        "nothing left to sample: each of the first 2 prompts of --split train already has completions" in out
    )
    assert "a larger --limit samples more" in out
    assert set(Workspace(ws).frame("completions")["prompt_id"]) == first_prompts(ws, 2)
    assert main([*argv, "--limit", "3"]) == 0  # only the prompt --limit 3 adds
    done = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("done: "))
    counts = dict(item.rsplit(" ", 1) for item in done.removeprefix("done: ").split(", "))
    assert (counts["already_sampled"], counts["prompts"], counts["new_completions"]) == ("2", "1", "2")
    assert set(Workspace(ws).frame("completions")["prompt_id"]) == first_prompts(ws, 3)
    assert main([*argv, "--limit", "8"]) == 0  # all 5 sampled; a rerun with --limit past them names the 5
    assert main([*argv, "--limit", "8"]) == 0
    assert "nothing left to sample: each of the 5 prompts of --split train" in capsys.readouterr().out


def test_a_spin_limit_is_the_same_fixed_set_in_every_round(tmp_path, hf_engine):
    from data.imports import import_file

    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, write_prompts(tmp_path / "p.json", 4))
    first = sample_spin(ws, hf_engine, "tiny", PARAMS, limit=2)
    assert first["prompts"] == 2 and "already_sampled" not in first
    again = sample_spin(ws, hf_engine, "tiny", PARAMS, limit=2)  # it sampled the other 2
    assert again["prompts"] == 0 and again["already_sampled"] == 2
    assert (
        sample_spin(ws, hf_engine, "tiny", PARAMS, round=1, limit=2)["prompts"] == 2
    )  # a new round: same set
    completions = ws.frame("completions").query("engine != 'gold'")
    by_round = completions.groupby("round")["prompt_id"].agg(set)
    assert by_round[0] == by_round[1] == first_prompts(ws.path, 2)


def test_shards_are_disjoint_and_merge_into_the_whole_set(tmp_path, hf_engine, capsys):
    from data.__main__ import main as data_main
    from data.imports import import_file
    from generate.shards import parse_shard

    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "1-3", "x"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)
    shards = []
    for index in (1, 2, 3):  # three "machines", each with its own copy of the prompts
        ws = Workspace.init(tmp_path / f"ws-{index}")
        import_file(ws, write_prompts(tmp_path / "p.json", 9))
        sample_pairs(ws, hf_engine, "tiny", 2, PARAMS, shard=(index, 3))
        shards.append(ws)
    sampled = [set(ws.frame("completions")["prompt_id"]) for ws in shards]
    assert sum(map(len, sampled)) == 9 and set.union(*sampled) == shards[0].ids("prompts")
    assert data_main(["merge", "-w", str(shards[0].path), str(shards[1].path), str(shards[2].path)]) == 0
    merged = shards[0].frame("completions")
    assert (
        len(merged) == 18 and merged["id"].is_unique and set(merged["prompt_id"]) == shards[0].ids("prompts")
    )
    assert data_main(["merge", "-w", str(shards[0].path), str(shards[1].path)]) == 0  # idempotent
    assert len(shards[0].frame("completions")) == 18 and "nothing new" in capsys.readouterr().out
    # Every prompt now has completions: a rerun without a shard samples nothing.
    assert sample_pairs(shards[0], hf_engine, "tiny", 2, PARAMS)["prompts"] == 0


def test_vllm_weight_cast_lines_are_counted_not_printed(monkeypatch):
    """A float32 folder served in bfloat16 makes vLLM log one line per weight; we count them and print one."""
    import logging

    from generate.vllm_check import NOISY_VLLM_LOGGERS, quiet_vllm

    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "WARNING")
    counter = quiet_vllm(verbose=False)
    logger = logging.getLogger(NOISY_VLLM_LOGGERS[0])
    records: list = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        logger.warning(
            "Attempted to load weight %s with dtype %s into parameter with dtype %s", "w", "f32", "bf16"
        )
        logger.warning("something else")
    finally:
        logger.removeHandler(handler)
        for name in NOISY_VLLM_LOGGERS:
            logging.getLogger(name).removeFilter(counter)
    assert counter.casts == 1 and [r.getMessage() for r in records] == ["something else"]
    assert quiet_vllm(verbose=True) is None


def test_prompts_columns_not_read_are_named(tmp_path, tiny_model_dir, capsys):
    """`--prompts FILE` goes through the importer's checks: the columns it did not read are named, as `data
    import` names them, not dropped unsaid; and the prompts it stored (`new_prompts`), of which a first run said
    nothing."""
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": "Say hi.", "id": 1}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    assert main([*argv, "--prompts", str(prompts)]) == 0
    assert f"--prompts {prompts}: new_prompts 1; columns not read: id" in capsys.readouterr().out.splitlines()
    # and their gold answers, as `data import` counts them (said nowhere: a SPIN file's were stored unsaid)
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([{"prompt": "Say bye.", "output": "bye"}, {"prompt": "Say yes."}]))
    assert main([*argv, "--prompts", str(gold)]) == 0
    assert f"--prompts {gold}: new_prompts 2; new_gold_answers 1" in capsys.readouterr().out.splitlines()


def test_prompts_test_fraction_says_the_test_split_it_drew(tmp_path, tiny_model_dir, capsys):
    """`--prompts FILE --test-fraction F` says how many of the new prompts went to test, as `data import` says it
    (each prompt's chance, not an exact share); it said nothing, so 0.5 of 10 prompts read as 5 held out. A rerun
    stores no new prompt, and says no split."""
    prompts = write_prompts(tmp_path / "p.json", 10)
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    argv += ["--prompts", str(prompts), "--test-fraction", "0.5"]
    assert main(argv) == 0
    test = Workspace(tmp_path / "ws").read("prompts").column("split").to_pylist().count("test")
    assert 0 < test < 10
    assert (
        f"test split: {test} of 10 new prompts ({test / 10:.1%}): --test-fraction 0.5 gives each prompt that "
        "chance of test, drawn from a hash of its messages (a prompt gets the same split in every import), not an "
        "exact share"
    ) in capsys.readouterr().out.splitlines()
    assert main(argv) == 0
    assert "test split:" not in capsys.readouterr().out


def test_a_repeated_prompts_row_is_counted_not_dropped_silently(tmp_path, tiny_model_dir, capsys):
    """A --prompts file holding a row twice sampled one prompt and said nothing of the other row; `data import`
    counts it (`duplicate_rows`), and so does the job."""
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": "Thé?"}, {"prompt": "Thé?"}, {"prompt": "Café?"}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    assert main([*argv, "--prompts", str(prompts)]) == 0
    assert f"--prompts {prompts}: new_prompts 2; duplicate_rows 1" in capsys.readouterr().out.splitlines()
    assert Workspace(tmp_path / "ws").read("prompts").num_rows == 2


def test_prompts_into_a_workspace_with_prompts_says_the_job_samples_them_too(
    tmp_path, tiny_model_dir, capsys
):
    """`--prompts FILE` is imported, then the job samples its split, the workspace's earlier prompts with the
    file's: the run said `new_prompts 2` and then `prompts 5`, as if the file held 5. It says which are which."""
    from data.__main__ import main as data_main

    ws, mine = tmp_path / "ws", tmp_path / "my_prompts.jsonl"
    assert data_main(["import", "-w", str(ws), str(write_prompts(tmp_path / "old.json", 3, gold=False))]) == 0
    mine.write_text("\n".join(json.dumps({"prompt": f"Say {i}."}) for i in range(2)))
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    capsys.readouterr()
    assert main([*argv, "--prompts", str(mine)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        f"--prompts {mine}: new_prompts 2",
        f"--prompts {mine}: the job samples 5 prompts of split train: 2 from the file, 3 other prompts of the "
        "workspace (a job samples every prompt of its split this model has not answered in the round, not the "
        "file's alone)",
    ]
    assert "prompts 5" in out[2]
    # every prompt answered: a file of new prompts alone is the job's whole set, which needs no word
    mine.write_text(json.dumps({"prompt": "Say more."}))
    assert main([*argv, "--prompts", str(mine)]) == 0
    assert not [line for line in capsys.readouterr().out.splitlines() if "the job samples" in line]


def test_prompts_of_the_file_in_a_split_the_job_does_not_sample_are_counted(tmp_path, tiny_model_dir, capsys):
    """`--prompts FILE --test-fraction F` put some of the file's prompts in split test, and a prompt stored before
    keeps its split: the job samples split train, and those were passed over without a word. The job's line counts
    them by split, as the workspace stores them."""
    from data.__main__ import main as data_main

    ws, mine = tmp_path / "ws", tmp_path / "mine.jsonl"
    old = tmp_path / "old.json"
    old.write_text(json.dumps([{"prompt": "Tell me about 1."}]))
    assert data_main(["import", "-w", str(ws), "--split", "test", str(old)]) == 0
    mine.write_text("\n".join(json.dumps({"prompt": f"Tell me about {i}."}) for i in range(7)))
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    capsys.readouterr()
    assert main([*argv, "--prompts", str(mine), "--test-fraction", "0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    workspace = Workspace(ws)
    prompts = workspace.frame("prompts")
    test = int((prompts["split"] == "test").sum())  # the one stored, and those the fraction drew (0 and 6)
    assert test == 3
    assert workspace.frame("completions")["prompt_id"].nunique() == 7 - test  # the train prompts alone
    assert (
        f"--prompts {mine}: {test} prompts of the file not sampled: {test} in split test, which the job does not "
        "sample"
    ) in out


def test_a_prompts_import_writes_its_import_log_line_as_data_import_does(tmp_path, tiny_model_dir, capsys):
    """`--prompts FILE` stored its rows and wrote no line in WS/imports/log.jsonl, so the log's readers (`data
    merge` carrying it, `data import`'s copy warning, the rank guard naming a file) never saw that import."""
    from data.__main__ import main as data_main
    from data.import_write import file_digest

    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": "Thé?"}, {"prompt": "Thé?"}, {"prompt": "Café?"}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    assert main([*argv, "--prompts", str(prompts)]) == 0
    (line,) = [json.loads(x) for x in (tmp_path / "ws" / "imports" / "log.jsonl").read_text().splitlines()]
    assert (line["file"], line["path"], line["sha256"]) == (
        str(prompts.resolve()),
        str(prompts),
        file_digest(prompts),
    )
    assert (line["source"], line["format"], line["rejects"]) == ("p", "prompt", None)
    assert (line["counts"]["new_prompts"], line["counts"]["duplicate_rows"]) == (2, 1)
    assert line["options"]["split_column"] is False
    capsys.readouterr()
    assert data_main(["init", "-w", str(tmp_path / "other")]) == 0
    assert data_main(["merge", "-w", str(tmp_path / "other"), str(tmp_path / "ws")]) == 0
    assert "imports/log.jsonl +1" in capsys.readouterr().out


def test_prompts_spelled_otherwise_than_stored_ones_sample_the_stored_prompt(
    tmp_path, tiny_model_dir, capsys
):
    """A --prompts row whose prompt and gold answer differ from the stored ones only by NFD, CRLF and trailing
    spaces made a second, near-copy prompt to sample; it is the stored one (`data.spellings`), said as
    `data import` says it."""
    from data.__main__ import main as data_main

    ws = tmp_path / "ws"
    stored = tmp_path / "stored.json"
    stored.write_text(json.dumps([{"prompt": "Café au lait?", "output": "Oui."}]))
    assert data_main(["import", "-w", str(ws), str(stored)]) == 0
    prompts = tmp_path / "p.json"
    respelled = "Cafe\u0301 au lait? \r\n"
    prompts.write_text(json.dumps([{"prompt": respelled, "output": "Oui.\t"}, {"prompt": "Thé?"}]))
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "2"]
    capsys.readouterr()
    assert main([*argv, "--prompts", str(prompts)]) == 0
    assert (
        f"--prompts {prompts}: new_prompts 1; prompts_already_stored 1; respelled 2"
        in capsys.readouterr().out.splitlines()
    )
    messages = Workspace(ws).read("prompts").column("messages").to_pylist()
    assert sorted(m[0]["content"] for m in messages) == ["Café au lait?", "Thé?"]
    assert Workspace(ws).read("prompts").column("gold").to_pylist() == ["Oui.", None]


def test_a_blank_gold_answer_is_no_gold_to_any_reader(tmp_path):
    """A gold answer of whitespace alone (an import refuses one; the API or a merge can store it) is none to
    generate --spin, the round drivers, the loop's choice of prompts, export/train sft and stats alike."""
    from data.export_sft import to_sft
    from data.records import Prompt
    from data.stats import workspace_stats
    from generate.job_plan import job_prompts, prompt_ids
    from generate.loop.__main__ import loop_prompts
    from generate.loop.options import LoopOptions
    from generate.prepare import check_prompts
    from train.pairs import sft_rows

    def prompt(text, gold):
        return Prompt([{"role": "user", "content": text}], source="t", gold=gold)

    blank = [prompt("Blank?", " \n\t"), prompt("Empty?", ""), prompt("None?", None)]
    ws = Workspace.init(tmp_path / "ws")
    ws.append(blank)
    with pytest.raises(PrefloopError, match="no prompts with a gold answer in --split train"):
        check_prompts(ws, ws.path, None, "train", gold=True)
    assert loop_prompts(LoopOptions(spin_iter=1), ws) == "sft"  # no gold yet: the loop imports the sample set
    assert workspace_stats(ws)["prompts_with_gold"] == 0
    answered = prompt("Answered?", "Yes.")
    ws.append([answered])
    assert [p.id for p in job_prompts(ws, "tiny", 0, "train", gold=True)[0]] == [answered.id]
    assert prompt_ids(ws, "train", gold=True) == [answered.id]
    assert workspace_stats(ws)["prompts_with_gold"] == 1
    assert to_sft(ws.frame("prompts"))[1] == {"exported": 1, "no_gold": 3}
    rows, counts = sft_rows(ws, "train", ("gold",))
    assert [r["prompt_id"] for r in rows] == [answered.id] and counts == {"gold_answers": 1, "no_gold": 3}


def test_vllm_import_time_info_lines_are_not_printed_by_default(monkeypatch):
    """`import vllm` logs INFO lines (Triton's absence) before vLLM configures its own logging, so they reached our
    root handler: `generate` printed them although `--verbose` is off (warnings only)."""
    import logging

    from generate.vllm_check import quiet_vllm

    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "WARNING")
    root, vllm = logging.getLogger(), logging.getLogger("vllm")
    levels = root.level, vllm.level
    root.setLevel(logging.INFO)  # as `generate` sets it (generate.prepare.quiet_logs)
    try:
        quiet_vllm(verbose=False)
        assert not logging.getLogger("vllm.triton_utils.importing").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(levels[0])
        vllm.setLevel(levels[1])
