"""Arena rounds on tiny offline models: every model answers the same prompts with the same seeds, pairs of kind
`arena` across models, never trained on or exported unless asked, judged by a machine labeller, and the
leaderboard of those votes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from annotate.__main__ import main as annotate_main
from annotate.service import LabelService
from data import Completion, Label, Pair, Prompt, Workspace
from data.__main__ import main as data_main
from data.annotators import judge_annotator
from generate import bestofn
from generate.__main__ import main
from generate.engines import Sample
from train.methods import PAIR_KINDS as TRAIN_KINDS
from train.pairs import preference_rows


class LongerWins:
    """A scripted judge engine: prefers the longer answer (MT-Bench's [[A]]/[[B]]/[[C]] verdicts)."""

    name = "hf"
    context_length = None  # every prompt fits

    def sample(self, prompts, n, params):
        answers = [dict(ANSWER.findall(m[-1]["content"])) for m in prompts]
        return [[Sample(verdict(a["A"], a["B"]), 3, "stop", 0)] for a in answers]


def verdict(a: str, b: str) -> str:
    return "[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]"


def perturbed_copy(source, path, seed):
    import torch
    from transformers import AutoModelForCausalLM

    shutil.copytree(source, path)
    model = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def three_models(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("arena-models")
    return [
        tiny_model_dir,
        perturbed_copy(tiny_model_dir, root / "m1", 1),
        perturbed_copy(tiny_model_dir, root / "m2", 2),
    ]


def runs(workspace: Workspace):
    """The arena runs' records (`ArenaRun`, written with the pairs), less those each chunk of answers was stored
    with (`generate.arena.answers_recorded`: no pair yet, nothing compared)."""
    arenas = workspace.frame("arenas")
    return arenas[(arenas["pairs"] > 0) | (arenas["identical"] > 0)]


ANSWER = re.compile(r"\[The Start of Assistant ([AB])'s Answer\]\n(.*?)\n\[The End", re.S)


def write_prompts(path, count):
    path.write_text(json.dumps([{"prompt": f"Say something about the number {i}."} for i in range(count)]))
    return path


def arena_args(ws, models, prompts, *extra, names=None):
    return [
        "-w", str(ws), "--model", str(models[0]), "--engine", "hf", "--prompts", str(prompts),
        "--arena", names or ",".join(str(m) for m in models), "--max-tokens", "6", "--chunk-size", "2",
        "--no-spin-isolate", *extra,
    ]  # fmt: skip


def test_every_model_answers_the_same_prompts_with_the_same_seeds(tmp_path, three_models, capsys):
    ws = tmp_path / "ws"
    argv = arena_args(ws, three_models, write_prompts(tmp_path / "p.json", 4), "--limit", "3")
    argv.remove("--no-spin-isolate")  # each model samples in its own process, as by default
    assert main(argv) == 0
    workspace = Workspace(ws)
    assert len(workspace.frame("models")) == 0  # folders are compared as they are, not registered
    completions = workspace.frame("completions")
    assert len(completions) == 9 and set(completions["model"]) == {str(m.resolve()) for m in three_models}
    # Same prompts, same seed per prompt for every model.
    seeds = completions.groupby("prompt_id")["seed"].nunique()
    assert len(seeds) == 3 and seeds.eq(1).all()
    assert completions.groupby("prompt_id")["model"].nunique().eq(3).all()
    pairs = workspace.frame("pairs")
    assert set(pairs["kind"]) == {"arena"}
    model_of = completions.set_index("id")["model"]
    text_of = completions.set_index("id")["text"]
    sides = list(zip(model_of[pairs["completion_a"]], model_of[pairs["completion_b"]]))
    assert all(a != b for a, b in sides)
    identical = sum(
        1
        for _, group in completions.groupby("prompt_id")
        for i, x in enumerate(group["text"].str.strip())
        for y in list(group["text"].str.strip())[i + 1 :]
        if x == y
    )
    assert (
        len(pairs) == 9 - identical and len(pairs) > 0
    )  # 3 model pairs x 3 prompts, identical ones left out
    assert all(
        text_of[a].strip() != text_of[b].strip() for a, b in zip(pairs["completion_a"], pairs["completion_b"])
    )
    out = capsys.readouterr().out
    # the prompts (`arena_prompts` said 9 for 3), those answered this run (`arena_prompts_answered` said 9 too: each
    # model's count summed, which is `arena_model_prompts_answered`)
    assert "arena_prompts 3," in out and "arena_prompts_answered 3," in out and "arena_pairs" in out
    assert "arena_model_prompts_answered 9," in out
    # A rerun samples nothing and adds no pair.
    assert main(arena_args(ws, three_models, write_prompts(tmp_path / "p.json", 4), "--limit", "3")) == 0
    assert len(Workspace(ws).frame("completions")) == 9 and len(Workspace(ws).frame("pairs")) == len(pairs)
    out = capsys.readouterr().out
    assert "arena_prompts 3," in out and "arena_prompts_answered" not in out


def test_a_rerun_says_which_models_had_answered_and_starts_none_of_them(
    tmp_path, three_models, monkeypatch, caplog
):
    """A rerun logged "model X answers 3 test prompts" for every model, and started each one's sampling process,
    when none had a prompt left to answer."""
    import logging

    from generate import arena

    argv = arena_args(
        tmp_path / "ws", three_models[:2], write_prompts(tmp_path / "p.json", 3), "--limit", "2"
    )
    assert main(argv) == 0
    monkeypatch.setattr(arena, "run_isolated", lambda *args, **kwargs: pytest.fail("a model was sampled"))
    with caplog.at_level(logging.INFO, logger="generate.arena"):
        assert main(argv) == 0
    said = [
        r.getMessage().split(" answered ", 1)[1] for r in caplog.records if " answered " in r.getMessage()
    ]
    assert said == ["0 of the 2 train prompts (2 answered before)"] * 2
    monkeypatch.undo()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="generate.arena"):
        assert main([*argv[:-2], "--limit", "3"]) == 0
    said = [
        r.getMessage().split(" answered ", 1)[1] for r in caplog.records if " answered " in r.getMessage()
    ]
    assert said == ["1 of the 3 train prompts (2 answered before)"] * 2


def test_arena_pairs_per_prompt_draws_k_pairs(tmp_path, three_models):
    ws = tmp_path / "ws"
    args = arena_args(ws, three_models, write_prompts(tmp_path / "p.json", 4), "--arena-pairs", "1")
    assert main(args) == 0
    pairs = Workspace(ws).frame("pairs")
    assert len(pairs) >= 1 and pairs.groupby("prompt_id").size().max() == 1


def test_a_model_on_no_arena_pair_is_named(tmp_path, three_models, caplog, capsys):
    """A model whose every answer was another model's text (the same weights, or a trained model that moved too
    little to change a sampled answer) is on no pair: the run said only `arena_pairs 0` beside `arena_identical`,
    which model that was went unsaid, and the leaderboard left it off without a word."""
    import logging

    copy = tmp_path / "copy"
    shutil.copytree(three_models[0], copy)  # the same weights: the same answer to every prompt
    prompts = write_prompts(tmp_path / "p.json", 3)
    with caplog.at_level(logging.WARNING, logger="generate.arena_pairing"):
        assert main(arena_args(tmp_path / "ws", [three_models[0], copy], prompts)) == 0
    assert "arena_identical 3" in capsys.readouterr().out
    said = [r.getMessage() for r in caplog.records if "no pair of this arena" in r.getMessage()]
    assert said == [
        f"arena: no pair of this arena holds an answer of {three_models[0].resolve()}, {copy.resolve()}: each was "
        "the same text as another model's (counted `identical`, never paired), so no vote compares it here (a "
        "model on no arena pair at all has no row on the leaderboard)"
    ]
    # the answer pairs left unpaired as one text, by which models: the run said only `arena_identical 3`
    alike = [r.getMessage() for r in caplog.records if "were the same text" in r.getMessage()]
    assert alike == [
        f"arena: 3 of the 3 answer pairs compared were the same text ({three_models[0].resolve()} and "
        f"{copy.resolve()} in 3 of their 3, on 3 prompts): not paired, so never shown to a labeller or a judge, "
        "never voted on and not counted as ties; `python -m data leaderboard` notes them under its table"
    ]
    caplog.clear()  # beside a third model, each of the two is on a pair with it: nothing to say
    with caplog.at_level(logging.WARNING, logger="generate.arena_pairing"):
        assert main(arena_args(tmp_path / "ws3", [three_models[0], copy, three_models[1]], prompts)) == 0
    assert not [r for r in caplog.records if "no pair of this arena" in r.getMessage()]


def test_an_arena_records_which_models_answered_alike_and_the_board_names_them(
    tmp_path, three_models, capsys
):
    """Of three models, two of the same weights answer every prompt alike: the run counted `arena_identical 3` and
    the board's note said "the arena's 3 models (...) gave the same text in 3 of the 9 answer pairs", not which
    two. The record holds the count per pair of models, and the note names the pair and its prompts."""
    copy = tmp_path / "copy"
    shutil.copytree(three_models[0], copy)  # the same weights: the same answer to every prompt
    models = [three_models[0], copy, three_models[1]]
    ws = tmp_path / "ws"
    assert main(arena_args(ws, models, write_prompts(tmp_path / "p.json", 3))) == 0
    workspace = Workspace(ws)
    [record] = runs(workspace).to_dict("records")
    alike = [dict(row) for row in record["identical_by_models"]]
    base, twin = (str(m.resolve()) for m in models[:2])
    assert alike[0] == {"a": base, "b": twin, "compared": 3, "identical": 3, "prompts": 3}
    assert sum(row["identical"] for row in alike) == record["identical"]
    pairs = workspace.frame("pairs")
    workspace.append([Label(pair, "ann", "pairwise", "a") for pair in pairs["id"]])
    capsys.readouterr()
    assert data_main(["leaderboard", "-w", str(ws), "--bootstrap", "40", "--json"]) == 0
    [found] = json.loads(capsys.readouterr().out)["identical_answers"]
    names = found["by_models"][0]["names"]
    assert data_main(["leaderboard", "-w", str(ws), "--bootstrap", "40"]) == 0
    [note] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("identical answers")]
    assert f"{names[0]} and {names[1]} gave the same text in 3 of their 3 answer pairs (on 3 prompts)" in note


def test_an_arena_that_pairs_nothing_records_why_and_the_leaderboard_and_arena_app_read_it(
    tmp_path, three_models, capsys
):
    """An arena whose every answer was another model's text wrote no pair and recorded nothing of it: the
    leaderboard guessed from the stored answers, and another job's answers to the same prompts in the same round,
    with the same settings and seeds, made it say "sample them with `python -m generate --arena`" of an arena
    that had run. The arena records what it found (`ArenaRun`), its summary counts the prompts left unpaired."""
    copy = tmp_path / "copy"
    shutil.copytree(three_models[0], copy)  # the same weights: the same answer to every prompt
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 3)
    assert main(arena_args(ws, [three_models[0], copy], prompts)) == 0
    assert "arena_identical 3, arena_identical_prompts 3," in capsys.readouterr().out
    workspace = Workspace(ws)
    [record] = runs(workspace).to_dict("records")
    assert (record["split"], record["round"], list(record["models"])) == (
        "train",
        0,
        [str(three_models[0].resolve()), str(copy.resolve())],
    )
    ids = set(workspace.frame("prompts")["id"])
    assert (record["prompts"], record["pairs"], record["identical"], set(record["identical_prompts"])) == (
        3, 0, 3, ids
    )  # fmt: skip
    # its 6 answers, on no pair, are evaluation data too: the kto app served them
    assert sorted(record["answers"]) == sorted(workspace.frame("completions")["id"])
    assert not LabelService(workspace, "kto").items
    # another model's pairs job, chunked as the arena was: its answers share the arena's round, settings and seeds
    other = ["-w", str(ws), "--model", str(three_models[1]), "--engine", "hf", "--n", "2"]
    assert main([*other, "--max-tokens", "6", "--chunk-size", "2"]) == 0
    answers = workspace.frame("completions")
    keys = answers[["prompt_id", "round", "params", "seed"]].astype(str).agg("|".join, axis=1)
    by_other = answers["model"] == str(three_models[1].resolve())
    assert set(keys[by_other]) == set(keys[~by_other])
    capsys.readouterr()
    assert data_main(["leaderboard", "-w", str(ws)]) == 2
    assert capsys.readouterr().err.startswith(
        "error: no arena pairs in this workspace: the arena was sampled (2 models answered 3 prompts) and every "
        "answer was the same text as the other models'"
    )
    # the arena app's refusal says the same: it said only "no arena pairs (`generate --arena`)"
    assert annotate_main(["-w", str(ws), "--task", "arena", "--demo-user"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {ws}: nothing to label for task arena: no arena pairs in this workspace: the arena was sampled (2 "
        "models answered 3 prompts) and every answer was the same text as the other models'"
    ), err
    assert len(err.splitlines()) == 1
    # a rerun finds the same: no second record
    records = len(workspace.frame("arenas"))
    assert main(arena_args(ws, [three_models[0], copy], prompts)) == 0
    assert len(runs(Workspace(ws))) == 1 and len(Workspace(ws).frame("arenas")) == records


def test_the_arenas_record_lists_no_answer_past_arena_n(tmp_path, three_models):
    """A pairs job's answers share the arena's round, settings and seeds: the arena reuses the first --arena-n of
    them and leaves the rest, another run's, unpaired. Its record listed them all, so the answers a labelling job
    left on no pair (--pairs-per-prompt 1 of --n 3), which the arena never compared, left the KTO app."""
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    job = ["-w", str(ws), "--model", str(three_models[0]), "--engine", "hf", "--prompts", str(prompts)]
    assert main([*job, "--n", "3", "--max-tokens", "6", "--chunk-size", "2"]) == 0
    workspace = Workspace(ws)
    served = set(LabelService(workspace, "kto").items)
    assert main(arena_args(ws, three_models[:2], prompts)) == 0
    [record] = runs(workspace).to_dict("records")
    pairs = workspace.frame("pairs").query("kind == 'arena'")
    compared = {*pairs["completion_a"], *pairs["completion_b"]}  # each model's first answer to each prompt
    # the job's first answers, ordinary before the arena ran, are listed apart: they stay the KTO app's items
    assert sorted([*record["answers"], *record["ordinary"]]) == sorted(compared)
    assert len(record["ordinary"]) == 2 and set(record["ordinary"]) <= served
    assert served <= set(LabelService(workspace, "kto").items)


def test_a_model_arena_pairs_drew_on_no_pair_is_named_as_such(tmp_path, three_models, caplog):
    """With --arena-pairs 1 on one prompt of three models, one model is on no pair as the draw left it out, not as
    its answers were another model's: the warning said "each was the same text as another model's" of it."""
    import logging

    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 1)
    with caplog.at_level(logging.WARNING, logger="generate.arena_pairing"):
        assert main(arena_args(ws, three_models, prompts, "--arena-pairs", "1")) == 0
    pairs, answers = Workspace(ws).frame("pairs"), Workspace(ws).frame("completions").set_index("id")
    on_pairs = set(answers.loc[[*pairs["completion_a"], *pairs["completion_b"]], "model"])
    [left_out] = [m.resolve() for m in three_models if str(m.resolve()) not in on_pairs]
    said = [r.getMessage() for r in caplog.records if "no pair of this arena" in r.getMessage()]
    assert said == [
        f"arena: no pair of this arena holds an answer of {left_out}: --arena-pairs 1 drew none of its model pairs "
        "on any prompt (that many per prompt), so no vote compares it here (a model on no arena pair at all has no "
        "row on the leaderboard)"
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--arena", "newest"], "error: --arena newest: one model; --arena needs two models or more\n"),
        (
            ["--arena", "a,b", "--arena-pairs", "-1"],
            "error: --arena-pairs -1: must be >= 0 (0: every pair of models)\n",
        ),
        (
            ["--arena", "a,b", "--arena-n", "0"],
            "error: --arena-n 0: must be in [1, 1024] (answers per prompt and model)\n",
        ),
        # as --n 10**12: torch's allocation error (hf), or a loop building 10**12 vLLM requests
        (
            ["--arena", "a,b", "--arena-n", str(10**12)],
            f"error: --arena-n {10**12}: must be in [1, 1024] (answers",
        ),
        (["--arena", "a,b", "--spin"], "error: --arena samples its own pairs (every pair of models per"),
        # it said "--pairs best-worst needs --judge", as if a judge would make it apply
        (
            ["--arena", "a,b", "--pairs", "best-worst"],
            "or --arena-pairs K drawn): --pairs best-worst does not apply to it\n",
        ),
        (["--kinds", "arena"], "--kinds applies to --judge, not sampling"),
    ],
)
def test_bad_arena_options_are_one_line_and_write_nothing(tmp_path, tiny_model_dir, capsys, extra, message):
    assert main(["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--engine", "hf", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("kind", ["arenaa", "edit"])
def test_a_kind_no_judge_votes_on_is_one_line(tmp_path, tiny_model_dir, capsys, kind):
    """A misspelt --kinds (or edit, whose verdict is its editor's) judged 0 pairs and exited 0."""
    ws = Workspace.init(tmp_path / "ws").path
    before = sorted(p.relative_to(ws) for p in ws.rglob("*"))
    assert main(["-w", str(ws), "--judge", str(tiny_model_dir), "--kinds", kind, "--engine", "hf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --kinds {kind}: not a pair kind a judge votes on") and err.count("\n") == 1
    assert sorted(p.relative_to(ws) for p in ws.rglob("*")) == before


def test_one_model_named_twice_is_refused(tmp_path, tiny_model_dir, capsys):
    prompts = write_prompts(tmp_path / "p.json", 2)
    argv = [
        "-w",
        str(tmp_path / "ws"),
        "--model",
        str(tiny_model_dir),
        "--engine",
        "hf",
        "--prompts",
        str(prompts),
    ]
    assert main([*argv, "--arena", f"base,{tiny_model_dir}"]) == 2
    assert "names fewer than two distinct models" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()  # nothing created, no base registered


def snapshot(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("names", "extra", "message"),
    [
        ("base,newest", [], "--arena base,newest: no model is newest yet: the manifest has no models"),
        ("newest,base", [], "--arena newest,base: no model is newest yet"),
        ("base,{model}", [], "names fewer than two distinct models"),
        ("base,{missing}", [], "--arena {missing}: not a model"),
        ("base,{other}", ["--judge", "rm"], "no reward model 'rm'"),
    ],
)
@pytest.mark.parametrize("exists", [False, True])
def test_a_refused_arena_creates_and_registers_nothing(
    tmp_path, three_models, capsys, monkeypatch, names, extra, message, exists
):
    from generate import arena

    monkeypatch.setattr(arena, "make_engine", lambda *args, **kwargs: pytest.fail("a model was loaded"))
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    values = {"model": three_models[0], "other": three_models[1], "missing": tmp_path / "nope"}
    if exists:  # prompts imported, an empty manifest
        assert data_main(["import", "-w", str(ws), str(prompts)]) == 0
        capsys.readouterr()
    before = snapshot(ws) if exists else None
    assert main([*arena_args(ws, three_models, prompts, *extra, names=names.format(**values))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message.format(**values) in err and err.count("\n") == 1
    assert (snapshot(ws) if ws.exists() else None) == before


def test_the_arena_samples_the_models_its_checks_resolved(tmp_path, three_models, monkeypatch):
    """`generate --arena` resolves its names once, before the workspace is touched: a model registered while the
    command runs (someone's training finishing) does not change which model `newest` names halfway through."""
    from data.records import ModelRecord
    from generate import prepare

    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    assert data_main(["import", "-w", str(ws), str(prompts)]) == 0
    workspace = Workspace(ws)
    base = ModelRecord(str(three_models[0].resolve()), "base")
    trained = ModelRecord(str(three_models[1].resolve()), "dpo", round=1, parent_id=base.id)
    workspace.append([base])
    workspace.append([trained])
    write_records = (
        prepare.write_records
    )  # the --prompts file's store (`import_prompts`), after the names resolved

    def trained_meanwhile(*args):
        newer = ModelRecord(str(three_models[2].resolve()), "dpo", round=2, parent_id=trained.id)
        workspace.append([newer])
        return write_records(*args)

    monkeypatch.setattr(prepare, "write_records", trained_meanwhile)
    assert main(arena_args(ws, three_models, prompts, names="base,newest")) == 0
    assert set(workspace.frame("completions")["model"]) == {base.path, trained.path}


def test_a_loop_refuses_a_bad_arena_name_before_it_trains(tmp_path, tiny_model_dir, capsys):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": f"q{i}", "output": "x"} for i in range(4)]))
    args = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts)]
    for names, message in [
        (f"base,{tmp_path / 'nope'}", "not a model"),
        ("base,base", "a model is named twice"),
    ]:
        assert main([*args, "--spin-iter", "1", "--no-spin-isolate", "--arena", names]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "ws").exists()


@pytest.fixture(scope="module")
def judged_arena(three_models, tmp_path_factory):
    """An arena of three models on 4 prompts, judged by a scripted judge that prefers the longer answer."""
    tmp = tmp_path_factory.mktemp("judged")
    ws = tmp / "ws"
    names = f"base,{three_models[1]},{three_models[2]}"  # base: --model, registered on the empty manifest
    assert main(arena_args(ws, three_models, write_prompts(tmp / "p.json", 4), names=names)) == 0
    engine = LongerWins()
    patch = pytest.MonkeyPatch()
    patch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    patch.setattr(bestofn, "judge_model", lambda options: options.judge)
    try:
        assert main(["-w", str(ws), "--judge", "scripted", "--kinds", "arena", "--engine", "hf"]) == 0
    finally:
        patch.undo()
    return ws


def test_a_judge_votes_on_arena_pairs_with_kinds_arena(judged_arena):
    workspace = Workspace(judged_arena)
    labels, pairs = workspace.frame("labels"), workspace.frame("pairs")
    assert set(labels["annotator"]) == {judge_annotator("scripted")}
    assert set(labels["item_id"]) == set(pairs["id"])


def test_arena_pairs_are_never_trained_on_unless_asked(judged_arena):
    workspace = Workspace(judged_arena)
    rows, _ = preference_rows(workspace, "train", TRAIN_KINDS, labels="all")
    assert rows == []  # train's default kinds leave the arena out
    rows, _ = preference_rows(workspace, "train", ("arena",), labels="all")
    decided = workspace.frame("labels")["choice"].isin(["a", "b"]).sum()
    assert len(rows) == decided > 0


def test_exports_leave_arena_pairs_out_by_default(judged_arena, capsys):
    assert data_main(["export", "-w", str(judged_arena), "--format", "dpo"]) == 2
    err = capsys.readouterr().err
    assert "nothing to export as dpo" in err and "kind_arena_not_asked" in err  # what was left out, and why
    assert data_main(["export", "-w", str(judged_arena), "--format", "dpo", "--kinds", "arena"]) == 0
    assert "wrote" in capsys.readouterr().out


def test_leaderboard_of_the_judges_votes(judged_arena, three_models, capsys):
    by = judge_annotator("scripted")
    argv = ["leaderboard", "-w", str(judged_arena), "--by", by, "--json", "--bootstrap", "50"]
    assert data_main(argv) == 0
    board = json.loads(capsys.readouterr().out)
    workspace = Workspace(judged_arena)
    paths = workspace.frame("models").set_index("id")["path"].to_dict()
    assert list(paths.values()) == [
        str(three_models[0].resolve())
    ]  # the base; the others are external folders
    paths |= {str(m.resolve()): str(m.resolve()) for m in three_models[1:]}
    # The manifest's base first (the reference), then the external folders by name.
    assert [paths[m["model"]] for m in board["models"]] == [str(m.resolve()) for m in three_models]
    assert board["models"][0]["strength"] == 0 and board["models"][0]["win_rate"] is None
    model_of = workspace.frame("completions").set_index("id")["model"]
    pairs = workspace.frame("pairs").set_index("id")
    votes = {path: 0 for path in paths.values()}
    for item in workspace.frame("labels")["item_id"]:
        for side in ("completion_a", "completion_b"):
            votes[model_of[pairs.at[item, side]]] += 1
    assert {paths[m["model"]]: m["votes"] for m in board["models"]} == votes
    assert (judged_arena / "leaderboard.png").stat().st_size > 0
    assert data_main(["leaderboard", "-w", str(judged_arena)]) == 2  # no people's votes yet
    assert "no votes by people on arena pairs yet" in capsys.readouterr().err


def test_a_judge_loop_with_arena_samples_the_arena_after_the_last_iteration(tmp_path, tiny_model_dir, capsys):
    from tests.test_generate_judge import ScriptedEngine

    def better(a: str, b: str) -> str:  # the loop's "answer k" samples by k, the arena's answers by length
        key = lambda t: (int(m.group(1)) if (m := re.search(r"answer (\d+)", t)) else 0, len(t))  # noqa: E731
        return "[[A]]" if key(a) > key(b) else "[[B]]" if key(b) > key(a) else "[[C]]"

    engine = ScriptedEngine(better)
    patch = pytest.MonkeyPatch()
    patch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    patch.setattr(bestofn, "judge_model", lambda options: options.judge)
    prompts = tmp_path / "p.json"
    prompts.write_text(
        json.dumps([{"prompt": f"Write about the sea, number {i}.", "output": "x"} for i in range(9)])
    )
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts), "--engine", "hf",
        "--test-fraction", "0.34", "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3", "--no-spin-isolate",
        "--train-max-steps", "1", "--train-batch-size", "2", "--train-learning-rate", "0.05",
        "--arena", "base,newest", "--max-tokens", "6",
    ]  # fmt: skip
    try:
        assert main(args) == 0
    finally:
        patch.undo()
    out = capsys.readouterr().out
    workspace = Workspace(tmp_path / "ws")
    models = workspace.frame("models").sort_values("round")
    arena = workspace.frame("pairs").query("kind == 'arena'")
    assert f"of {models['id'].iloc[0]} {models['id'].iloc[1]} at round 1" in out
    test_prompts = workspace.frame("prompts").query("split == 'test'")
    assert set(arena["prompt_id"]) <= set(test_prompts["id"])
    assert len(arena) == len(test_prompts) == 3  # a large step: the iterate answers differently from the base
    assert "arena leaderboard by judge:tiny-judge" in out and (tmp_path / "ws/leaderboard.png").is_file()
    labels = workspace.frame("labels")
    assert set(arena["id"]) <= set(labels.loc[labels["annotator"] == "judge:tiny-judge", "item_id"])


class Mute:
    """A judge engine whose answers never carry a verdict marker (as SmolLM2-135M's did under MT-Bench's prompt)."""

    name = "hf"
    context_length = None  # every prompt fits

    def sample(self, prompts, n, params):
        return [[Sample("Both answers are good.", 5, "stop", 0)] for _ in prompts]


def test_an_arena_judge_without_readable_verdicts_says_so(tmp_path, three_models, monkeypatch, capsys):
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: Mute())
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    ws = tmp_path / "ws"
    argv = arena_args(ws, three_models[:2], write_prompts(tmp_path / "p.json", 3), "--judge", "scripted")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "judge_unreadable 3" in out and "judged 0" in out  # 3 pairs, none with a verdict in either order
    assert len(Workspace(ws).frame("labels")) == 0


class FirstShown:
    """A judge engine that always prefers the answer shown first: pure position bias."""

    name = "hf"
    context_length = None  # every prompt fits

    def sample(self, prompts, n, params):
        return [[Sample("[[A]]", 3, "stop", 0)] for _ in prompts]


def test_a_judge_whose_two_orders_disagree_is_said_apart_from_its_ties(
    tmp_path, three_models, monkeypatch, capsys
):
    """Both orders contradicting each other give a tie (position bias, not a preference); the summaries said
    `tie N` (or only `judged N`) as if the judge had found the answers equal."""
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: FirstShown())
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    ws = tmp_path / "ws"
    argv = arena_args(ws, three_models[:2], write_prompts(tmp_path / "p.json", 3), "--judge", "biased")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "judged 3" in out and "judge_inconsistent 3" in out
    assert main(["-w", str(ws), "--judge", "other", "--kinds", "arena", "--engine", "hf"]) == 0
    assert "judged 3 pairs (a 0, b 0, tie 3 (inconsistent 3), unreadable 0)" in capsys.readouterr().out


def test_an_arena_rerun_says_how_many_pairs_the_judge_had_voted_on(
    tmp_path, three_models, monkeypatch, capsys
):
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: LongerWins())
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    argv = arena_args(
        tmp_path / "ws", three_models[:2], write_prompts(tmp_path / "p.json", 3), "--judge", "j"
    )

    def done() -> dict[str, str]:
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("done: "))
        return dict(item.rsplit(" ", 1) for item in line.removeprefix("done: ").split(", "))

    assert main(argv) == 0
    first = done()
    assert int(first["judged"]) == int(first["arena_pairs"]) > 0 and "already_judged" not in first
    assert main(argv) == 0  # it said 'judged 0' alone
    again = done()
    assert (again["judged"], again["already_judged"]) == ("0", first["arena_pairs"])


def test_the_loop_prints_the_board_as_data_leaderboard_does(tmp_path, monkeypatch, capsys):
    """The loop built its leaderboard text apart from `data leaderboard`'s (the table's lines, then its own side
    note and plot line), so the two could drift. It prints the board through the CLI's own rendering, under its
    header line: the same lines, side preference and exclusion notes included."""
    from data import __main__ as data_cli
    from data.selection import set_excluded
    from generate.loop import arena as loop_arena
    from generate.loop.__main__ import parse_options as loop_options
    from tests.test_annotate_arena import sided_arena

    workspace = sided_arena(tmp_path / "ws")
    workspace.append([Label(item, "carol", "pairwise", "a") for item in workspace.frame("pairs")["id"]])
    set_excluded(workspace.path, "carol", True)
    ran = {"arena_pairs": 40, "arena_models": "X Y", "arena_round": 0}
    monkeypatch.setattr(loop_arena, "run_arena", lambda *args, **kwargs: ran)
    options = loop_options(["-w", str(workspace.path), "--spin-iter", "1", "--arena", "base,newest"])
    lines = loop_arena.arena_leaderboard(options, workspace, [])  # run_arena stands in: no prompt answered
    assert data_main(["leaderboard", "-w", str(workspace.path), "--split", "test"]) == 0
    header = (
        "arena: 40 pairs of X Y at round 0, on split test: the loop's held-out prompts (it trains on split train); "
        f"the board below counts the votes by people on split test's arena pairs, as `python -m data leaderboard -w "
        f"{workspace.path} --split test` prints it"
    )
    assert lines == [header, *capsys.readouterr().out.splitlines()]
    assert "excluded labellers: carol (excluded.json)" in lines
    assert any(line.startswith("side preference in arena votes: lefty") for line in lines)
    assert loop_arena.board_text is data_cli.board_text  # one rendering, the CLI's


def test_the_loops_board_is_of_its_held_out_prompts_and_says_its_votes_by_split(
    tmp_path, monkeypatch, capsys
):
    """The loop's arena answers split test, but its board counted every split's votes: an earlier arena's on the
    train prompts the loop trains on moved its figures, and nothing said so. It is the board of split test, as
    `data leaderboard --split test` prints it, saying how many votes it counts and how many of split train it
    leaves out."""
    from generate.loop import arena as loop_arena
    from generate.loop.__main__ import parse_options as loop_options
    from tests.test_annotate_arena import sided_arena

    workspace = sided_arena(tmp_path / "ws", count=20)
    records: list[object] = []
    for i in range(6):  # an earlier arena on train prompts: Y loses every vote there
        prompt = Prompt([{"role": "user", "content": f"train question {i}"}], source="arena", split="train")
        x, y = (Completion(prompt.id, f"{m} answers train {i}", f"/models/{m}", "hf") for m in "XY")
        pair = Pair(prompt.id, x.id, y.id, "arena")
        records += [prompt, x, y, pair, Label(pair.id, "fair", "pairwise", "a")]
    workspace.append(records)
    ran = {"arena_pairs": 20, "arena_models": "X Y", "arena_round": 0}
    monkeypatch.setattr(loop_arena, "run_arena", lambda *args, **kwargs: ran)
    options = loop_options(["-w", str(workspace.path), "--spin-iter", "1", "--arena", "base,newest"])
    lines = loop_arena.arena_leaderboard(options, workspace, [])  # run_arena stands in: no prompt answered
    split_line = (
        "votes by split: 40 on split test (held-out prompts), counted on this board; 6 on split train (prompts a "
        "trained model may have been trained on) left out (`--split all` counts every split's)"
    )
    assert lines[1].startswith("arena leaderboard by people on split test (") and lines[2] == split_line
    y = next(line for line in lines if line.startswith("/models/Y"))
    assert y.split()[-1] == "40"  # the test votes alone: with the train ones it was 46
    assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40"]) == 0
    assert (
        "votes by split: 40 on split test (held-out prompts), 6 on split train (prompts a trained model may have "
        "been trained on), all counted on this board; `--split test` counts the held-out ones alone"
    ) in capsys.readouterr().out.splitlines()
    assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["votes_by_split"] == {"test": 40, "train": 6}


def test_a_judge_that_is_one_of_the_arenas_models_is_warned_of(judged_arena, three_models, tmp_path, caplog):
    """An LLM judge favours its own answers: judging arena pairs with one of its own answers on a side is said in
    one warning line naming it and counting those pairs (a judge outside the arena is not warned of)."""
    ws = tmp_path / "ws"
    shutil.copytree(judged_arena, ws)
    workspace = Workspace(ws)
    model_of = workspace.frame("completions").set_index("id")["model"]
    pairs = workspace.frame("pairs")
    own = str(three_models[1].resolve())
    expected = int(
        (
            (model_of[pairs["completion_a"]].to_numpy() == own)
            | (model_of[pairs["completion_b"]].to_numpy() == own)
        ).sum()
    )
    assert expected > 0
    engine = LongerWins()
    patch = pytest.MonkeyPatch()
    patch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    patch.setattr(bestofn, "judge_model", lambda options: options.judge)
    try:
        for judge in (str(three_models[1]), "scripted-2"):
            caplog.clear()
            assert main(["-w", str(ws), "--judge", judge, "--kinds", "arena", "--engine", "hf"]) == 0
            warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
            assert warned == (
                [
                    f"--judge {judge} is one of the arena's models: it judges {expected} pairs with its own answer "
                    "on one side (an LLM judge favours its own answers)"
                ]
                if judge != "scripted-2"
                else []
            )
    finally:
        patch.undo()


def test_the_arena_finds_what_each_model_has_left_once(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """The prompts each model has left to answer (`arena_completions` of the round) are found once on the workspace
    it samples, by its plan, not again by each model's sampling. The sampling
    parameters (they read the chat template) are made once by the job and once by the arena's run: each plan made
    its own, and the run another after its plan."""
    from generate import __main__ as cli
    from generate import arena
    from tests.test_generate_rank_guard import Counting

    made, sampling_params = [], arena.sampling_params
    for module in (cli, arena):
        monkeypatch.setattr(
            module, "sampling_params", lambda options, m=module: made.append(m) or sampling_params(options)
        )

    engine = Counting()
    monkeypatch.setattr(arena, "make_engine", lambda *args, **kwargs: engine)
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    reads, arena_completions = [], arena.arena_completions
    monkeypatch.setattr(
        arena,
        "arena_completions",
        lambda ws, label, *a: reads.append(label) or arena_completions(ws, label, *a),
    )
    argv = arena_args(tmp_path / "ws", [tiny_model_dir, other], write_prompts(tmp_path / "p.json", 3))
    assert main(argv) == 0
    assert engine.asked == 6  # each model answered the 3 prompts
    models = [str(Path(m).resolve()) for m in (tiny_model_dir, other)]
    # what is left on the workspace written (the plan the sampling follows), each model's chunk checked again under
    # the import lock before its write (`generate.arena.answered_since`: 3 prompts, 2 chunks), then the answers the
    # pairs are made of; no rank check reads it before anything is written (the arena's answers join no rank item)
    assert reads == [*models, *(m for m in models for _ in range(2)), *models]
    assert made == [cli, arena]


@pytest.mark.parametrize("limit", [0, 2])
def test_an_arena_with_prompts_says_when_it_compares_other_prompts_than_the_files(
    tmp_path, three_models, capsys, limit
):
    """`--arena ... --prompts FILE` imported the file, then compared the models on the workspace's test prompts, none
    of them the file's (imported as train), without the line a plain `--prompts` job prints of that. Without
    --limit the line said "the first --limit prompts" of an arena that compared all of them. The line's counts are
    the prompts the arena answered, recounted from the workspace's completions."""
    from data.__main__ import main as data_main

    ws, old, mine = tmp_path / "ws", write_prompts(tmp_path / "old.json", 3), tmp_path / "mine.json"
    assert data_main(["import", "-w", str(ws), "--split", "test", str(old)]) == 0
    mine.write_text(json.dumps([{"prompt": "Say a new thing."}]))
    capsys.readouterr()
    assert main(arena_args(ws, three_models[:2], mine, *["--limit", str(limit)] * bool(limit))) == 0
    workspace = Workspace(ws)
    answered = set(workspace.frame("completions")["prompt_id"])
    prompts = workspace.frame("prompts")
    files = set(
        prompts[prompts["split"] == "train"]["id"]
    )  # the file's one prompt; the others were imported first
    assert len(files) == 1 and len(answered) == (limit or 3)
    how = (
        "on the first --limit prompts of its split, oldest first" if limit else "on every prompt of its split"
    )
    how += "" if limit else " (no --limit)"
    assert (
        f"--prompts {mine}: the job samples {len(answered)} prompts of split test: {len(answered & files)} from the "
        f"file, {len(answered - files)} other prompts of the workspace (an arena compares its models {how}, not the "
        "file's alone); 1 prompt of the file not sampled: 1 in split train, which the job does not sample"
    ) in capsys.readouterr().out.splitlines()
