"""Machine labellers in `generate`: verdict parsing, both orders (inconsistent -> tie), best-worst pairing, and end
to end with a scripted fake engine (the verdict text is controlled): `--judge`, `--pairs best-worst`, `--judge-iter`,
plus a reward model trained on the tiny model as the judge."""

from __future__ import annotations

import json
import re

import pytest

from data import Workspace
from data.__main__ import main as data_main
from data.annotators import judge_annotator
from generate import bestofn
from generate.__main__ import main
from generate.engines import Sample
from generate.isolate import StepFailed
from generate.judge import MT_BENCH_TEMPLATE, best_worst, combine, judge_messages, parse_verdict
from generate.loop import judge as loop_judge

ANSWER = re.compile(r"\[The Start of Assistant ([AB])'s Answer\]\n(.*?)\n\[The End", re.S)


def quality(text: str) -> int:
    return int(re.search(r"answer (\d+)", text).group(1))


class ScriptedEngine:
    """Answers sampling prompts with "answer k ..." (k = sample index) and judge prompts with ``verdict(a, b)``."""

    name = "hf"
    context_length = None  # every prompt fits

    def __init__(self, verdict):
        self.verdict = verdict
        self.judge_calls = 0

    def sample(self, prompts, n, params, first=0):
        out = []
        for messages in prompts:
            text = messages[-1]["content"]
            answers = dict(ANSWER.findall(text))
            if answers:
                self.judge_calls += 1
                out.append(
                    [Sample(f"Both are fine. {self.verdict(answers['A'], answers['B'])}", 7, "stop", 0)]
                )
            else:
                out.append(
                    [Sample(f"answer {i} to {text[:12]}", 4, "stop", i) for i in range(first, first + n)]
                )
        return out


def fair(a: str, b: str) -> str:  # prefers the higher-numbered answer, whatever the order
    return "[[A]]" if quality(a) > quality(b) else "[[B]]" if quality(b) > quality(a) else "[[C]]"


def biased(a: str, b: str) -> str:  # always the first shown: position bias, no preference
    return "I think [[B]] at first, but my final verdict: [[A]]"


def test_parse_verdict_takes_the_last_marker():
    assert parse_verdict("[[A]]") == "a" and parse_verdict("x [[C]]") == "tie"
    assert parse_verdict("first [[B]] then [[A]]") == "a"
    assert parse_verdict("A is better") is None


def test_both_orders_inconsistent_verdicts_become_ties():
    # backward verdicts are in the swapped order's terms: "b" there means completion a.
    assert combine("a", "b") == ("a", 1.0)
    assert combine("b", "a") == ("b", 1.0)
    assert combine("a", "a") == ("tie", 0.0)  # "A" both times: the first shown, whichever it was
    assert combine("tie", "tie") == ("tie", 1.0)
    assert combine("a", "tie") == ("tie", 0.0)
    assert combine(None, "a") == ("b", 0.5) and combine(None, None) == (None, None)


def test_best_worst_picks_the_right_samples():
    assert best_worst([0.1, 2.0, -1.0, 0.5]) == (1, 2)
    assert best_worst([3.0, 1.0, 3.0, 1.0]) == (0, 1)  # first on equal scores
    assert best_worst([1.0, 1.0]) is None and best_worst([4.0]) is None


def test_template_fills_placeholders_without_format():
    messages = judge_messages(MT_BENCH_TEMPLATE, [{"role": "user", "content": "Q {x}?"}], "one {}", "two")
    assert (
        "Q {x}?" in messages[0]["content"]
        and "one {}\n[The End of Assistant A's Answer]" in messages[0]["content"]
    )


def test_a_placeholder_inside_a_question_or_answer_is_its_text():
    """The template was filled a placeholder at a time, over the text already filled in: a question about templates
    holding "{answer_a}" had answer A spliced into it, and an answer A holding "{answer_b}" answer B, so the judge
    read another question and another answer than the pair's."""
    template = "Q: {question}\nA: {answer_a}\nB: {answer_b}"
    prompt = [{"role": "user", "content": "What does {answer_a} mean in a judge template?"}]
    messages = judge_messages(template, prompt, "It is replaced by {answer_b}, \\1 too", "no idea")
    assert messages[0]["content"] == (
        "Q: What does {answer_a} mean in a judge template?\nA: It is replaced by {answer_b}, \\1 too\nB: no idea"
    )


# The fixture's pairs "answer i a" / "answer i b" are equally good: the fair judge calls a tie in both orders
# (confidence 1), the biased one picks the first shown in both (inconsistent: a tie, confidence 0).
@pytest.mark.parametrize(("verdict", "confidence"), [(fair, 1.0), (biased, 0.0)])
def test_judge_labels_pairs_resumably_and_shows_cost(label_ws, monkeypatch, capsys, verdict, confidence):
    engine = ScriptedEngine(verdict)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    args = ["-w", str(label_ws.path), "--judge", "tiny-judge", "--engine", "hf"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (
        "judge:tiny-judge: judged 4 pairs" in out
        and "cost per pair: 2.0 model calls, 14 generated tokens" in out
    )
    labels = Workspace(label_ws.path).frame("labels")
    assert set(labels["annotator"]) == {judge_annotator("tiny-judge")} and len(labels) == 4
    assert set(labels["confidence"]) == {confidence}
    assert set(labels["choice"]) == {"tie"}
    assert engine.judge_calls == 8
    assert main(args) == 0  # resumed: nothing left to judge
    assert engine.judge_calls == 8 and len(Workspace(label_ws.path).frame("labels")) == 4


def test_a_judge_templates_unknown_placeholder_is_warned_of_once(label_ws, tmp_path, monkeypatch, caplog):
    """The command's check before any model loads warned of `{reference}`, and the judge's load warned again."""
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: ScriptedEngine(fair))
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    template = tmp_path / "judge.txt"
    template.write_text(MT_BENCH_TEMPLATE + "\n{reference}")
    args = ["-w", str(label_ws.path), "--judge", "tiny-judge", "--engine", "hf"]
    args += ["--judge-template", str(template)]
    with caplog.at_level("WARNING", logger="generate.judge"):
        assert main(args) == 0
    assert caplog.text.count("{reference} filled by nothing") == 1
    assert len(Workspace(label_ws.path).frame("labels")) == 4  # the judge loaded and judged


def test_bad_judge_template_is_one_clear_error(label_ws, tmp_path, capsys):
    template = tmp_path / "judge.txt"
    template.write_text("Which is better? {answer_a} or {answer_b}")
    assert main(["-w", str(label_ws.path), "--judge", "x", "--judge-template", str(template)]) == 2
    assert "missing placeholder(s) {question}" in capsys.readouterr().err
    template.write_bytes("{question} {answer_a} {answer_b} Répondez".encode("latin-1"))  # was a traceback
    assert main(["-w", str(label_ws.path), "--judge", "x", "--judge-template", str(template)]) == 2
    assert capsys.readouterr().err == f"error: --judge-template {template}: not UTF-8 text (byte 34)\n"


def write_prompts(path, count=6):
    path.write_text(json.dumps([{"prompt": f"Write about the sea, number {i}."} for i in range(count)]))
    return path


def test_best_worst_pairs_from_a_scripted_judge(tmp_path, tiny_model_dir, monkeypatch, capsys):
    engine = ScriptedEngine(fair)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    ws = tmp_path / "ws"
    args = [
        "-w",
        str(ws),
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(write_prompts(tmp_path / "p.json", 3)),
    ]
    assert main([*args, "--n", "4", "--pairs", "best-worst", "--judge", "tiny-judge"]) == 0
    workspace = Workspace(ws)
    pairs, labels = workspace.frame("pairs"), workspace.frame("labels")
    text = workspace.frame("completions").set_index("id")["text"]
    assert len(pairs) == 3 and len(workspace.frame("completions")) == 12
    assert all(
        quality(text[a]) == 3 and quality(text[b]) == 0
        for a, b in zip(pairs["completion_a"], pairs["completion_b"])
    )
    assert set(labels["choice"]) == {"a"} and set(labels["annotator"]) == {"judge:tiny-judge"}
    assert engine.judge_calls == 3 * 6 * 2  # every pair of 4 samples, both orders
    # the cost was the done line's `judge_cost_per_prompt {'calls': 12.0, ...}`, a Python dict as written
    out = capsys.readouterr().out
    assert "judge_cost_per_prompt" not in out and "\ncost per prompt: 12.0 model calls, " in out


def test_best_worst_pairs_only_the_prompts_of_its_set(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """`--pairs best-worst` paired every prompt the model answered in the round without a best-vs-worst pair, its
    --limit, --split and --shard aside: after a --limit 3 job killed before its judge, a --limit 1 job paired and
    counted all 3 (`best_worst_pairs 3`; a --split train job likewise the answers a --split test job left)."""
    engine = ScriptedEngine(fair)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    args = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--n", "2", "--pairs", "best-worst"]
    args += ["--judge", "tiny-judge", "--prompts", str(write_prompts(tmp_path / "p.json", 3))]

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(bestofn, "pair_best_worst", killed)
        assert main([*args, "--limit", "3"]) == 130
    capsys.readouterr()
    assert main([*args, "--limit", "1"]) == 0
    assert "best_worst_pairs 1," in capsys.readouterr().out
    pairs = Workspace(tmp_path / "ws").frame("pairs")
    first = Workspace(tmp_path / "ws").frame("prompts").sort_values(["created_at", "id"])["id"].iloc[0]
    assert list(pairs["prompt_id"]) == [first]
    assert main([*args, "--limit", "3"]) == 0  # the rest of its set, the first one kept
    assert "best_worst_already_paired 1, best_worst_pairs 2," in capsys.readouterr().out


def test_judge_round_driver_trains_on_machine_labels_and_resumes(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    engine = ScriptedEngine(fair)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(loop_judge, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(write_prompts(tmp_path / "p.json")),
        "--test-fraction", "0.34", "--judge-iter", "1", "--judge", "tiny-judge", "--n", "3", "--no-spin-isolate",
        "--train-max-steps", "2", "--train-batch-size", "2", "--train-learning-rate", "1e-3",
    ]  # fmt: skip
    assert main(args) == 0
    assert "JUDGE on" in capsys.readouterr().out
    ws = Workspace(tmp_path / "ws")
    models = ws.frame("models").sort_values("round").set_index("round")
    assert list(models["method"]) == ["base", "dpo"] and models.loc[1, "parent_id"] == models.loc[0, "id"]
    data, metrics = json.loads(models.loc[1, "data"]), json.loads(models.loc[1, "metrics"])
    assert data["rounds"] == [1] and len(data["pair_ids"]) == 4  # the 4 train prompts' best-worst pairs
    assert (
        metrics["labels"]["machine_rows"] == 4 and metrics["eval_split"] == "test" and metrics["pairs"] == 2
    )
    assert (tmp_path / "ws/runs/judge-iter1/judge.json").is_file()
    before = {name: len(ws.frame(name)) for name in ("completions", "pairs", "labels", "models")}
    assert main(args) == 0  # done: nothing sampled, judged or trained again
    assert before == {name: len(ws.frame(name)) for name in ("completions", "pairs", "labels", "models")}


def test_a_judge_loop_iteration_with_no_pair_to_train_says_what_the_judge_made_of_it(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """A judge that paired none of an iteration's prompts (here: no verdict it could read; on a small model, every
    comparison longer than its context) left training with no rows, and the loop stopped on train's line alone
    ("no labelled pairs ... (the workspace has none)"), its sampling step's counts never said. A rerun, which asks
    the judge again about the same prompts, said `best_worst_no_spread 8` of 4 prompts: its counts were added to the
    first run's (in the claim, judge.json)."""
    engine = ScriptedEngine(lambda a, b: "I cannot tell.")
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(loop_judge, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(write_prompts(tmp_path / "p.json")),
        "--test-fraction", "0.34", "--judge-iter", "1", "--judge", "tiny-judge", "--n", "2", "--no-spin-isolate",
    ]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no labelled pairs of kind sampled in round 1 " in err
    assert err.endswith(
        "; iteration 1 (round 1): the judge paired none of its 4 train prompts (best_worst_no_spread 4)\n"
    )
    # the rerun asks the judge again about the same 4 prompts: counted once, not added to the first run's
    assert main(args) == 2
    assert capsys.readouterr().err.endswith("its 4 train prompts (best_worst_no_spread 4)\n")


def test_a_judge_loop_training_that_fails_for_another_reason_is_not_said_to_lack_pairs(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The judge's counts were added to any refusal of the iteration's training where this run's judge made no
    pair: a training process that died (killed, out of memory) was said to follow "the judge paired none of its
    train prompts", though the prompts a rerun asks the judge again are only the ones left unpaired (no spread),
    the others paired by the run before. Only train's "no rows to train on" gets them."""
    engine = ScriptedEngine(lambda a, b: "I cannot tell.")
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(loop_judge, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)

    def died(*args, **kwargs):
        raise StepFailed("the training process died (killed, or out of memory?)")

    monkeypatch.setattr("train.run.train", died)
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(write_prompts(tmp_path / "p.json")),
        "--test-fraction", "0.34", "--judge-iter", "1", "--judge", "tiny-judge", "--n", "2", "--no-spin-isolate",
    ]  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == "error: the training process died (killed, or out of memory?)\n"


def test_the_judge_loop_checks_its_judge_once_not_once_an_iteration(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """The driver checks a chat-model judge's folder (`judge_model`: config, parts, heads) before anything is
    written; each iteration's step loads it from that folder, not checking it again (it did, on every load)."""
    engine = ScriptedEngine(fair)
    monkeypatch.setattr(bestofn, "make_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr(loop_judge, "make_engine", lambda *args, **kwargs: engine)
    checked = []
    monkeypatch.setattr(
        bestofn, "judge_model", lambda options: checked.append(options.judge) or options.judge
    )
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(write_prompts(tmp_path / "p.json")),
        "--test-fraction", "0.34", "--judge-iter", "2", "--judge", "tiny-judge", "--n", "3", "--no-spin-isolate",
        "--train-max-steps", "1", "--train-batch-size", "2",
    ]  # fmt: skip
    assert main(args) == 0
    assert engine.judge_calls > 0  # the judge was loaded and asked
    assert checked == ["tiny-judge"]


def test_a_reward_model_judges_pairs_and_stats_measure_it(tmp_path, tiny_model_dir, capsys):
    from tests.test_train import build_workspace, options
    from train.run import train

    ws = build_workspace(tmp_path / "ws", count=6, test=2)
    model = train(options(ws, tiny_model_dir, tmp_path / "rm", method="rm"))
    args = ["-w", str(ws.path), "--judge", "rm", "--judge-labelled", "--split", "test"]
    assert main(args) == 0
    assert f"rm:{model['id']}: judged 2 pairs" in capsys.readouterr().out
    labels = ws.frame("labels")
    machine = labels[labels["annotator"] == f"rm:{model['id']}"]
    assert len(machine) == 2 and machine["confidence"].between(0.5, 1).all()
    assert data_main(["stats", "-w", str(ws.path)]) == 0
    out = capsys.readouterr().out
    assert f"rm:{model['id']}  round 0: 2 pairs" in out and "correct by human strength 2:" in out
    # Best of 3 samples of the tiny model, scored by the reward model.
    known = set(ws.frame("pairs")["id"])
    assert main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--engine", "hf", "--n", "3", "--max-tokens", "6",
                 "--pairs", "best-worst", "--judge", f"rm:{model['id']}", "--limit", "2"]) == 0  # fmt: skip
    pairs = ws.frame("pairs")
    best_worst_pairs = pairs[~pairs["id"].isin(known)]
    assert 1 <= len(best_worst_pairs) <= 2
    assert set(ws.frame("labels").set_index("item_id").loc[best_worst_pairs["id"], "choice"]) == {"a"}


def test_a_reward_model_whose_folder_a_later_run_emptied_is_one_line(tmp_path, tiny_model_dir, capsys):
    """The manifest's reward model outlives its folder: a later run into it (--overwrite, killed before its save)
    leaves no model there, and `--judge rm` was the tokenizer's traceback as the judge loaded."""
    from tests.test_train import build_workspace, options
    from train.run import train

    ws = build_workspace(tmp_path / "ws", count=6, test=2)
    model = train(options(ws, tiny_model_dir, tmp_path / "rm", method="rm"))
    capsys.readouterr()  # the training's progress
    args = ["-w", str(ws.path), "--judge", "rm", "--judge-labelled", "--split", "test"]
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "rm" / name).unlink()
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"error: --judge rm (the manifest's reward model {model['id']}): rm:{tmp_path / 'rm'}: no tokenizer (none "
        "of tokenizer.json, tokenizer_config.json, tokenizer.model, vocab.json): not a whole model; its folder was "
        "moved, removed or reused by a later run (train it again, or name another: rm:<id>)\n"
    )
    (tmp_path / "rm" / "config.json").unlink()
    assert main(args) == 2
    assert (
        "rm:{}: not a reward model (no config.json there)".format(tmp_path / "rm") in capsys.readouterr().err
    )
    assert ws.frame("labels")["annotator"].str.startswith("rm:").sum() == 0


def test_best_worst_with_a_missing_reward_model_is_refused_before_sampling(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    from generate import __main__ as cli

    for module in (cli, bestofn):
        monkeypatch.setattr(module, "make_engine", lambda *a, **k: pytest.fail("a model was loaded"))
    ws = Workspace.init(tmp_path / "ws")
    prompts = str(write_prompts(tmp_path / "p.json"))
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--prompts", prompts, "--engine", "hf"]
    assert main([*args, "--n", "4", "--pairs", "best-worst", "--judge", "rm"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {ws.path}: no reward model 'rm' in the manifest")
    assert ws.ids("prompts") == set() and ws.ids("completions") == set()  # not even the prompts
    # rm:FOLDER of a folder that is not there: said, beside the advice
    missing = tmp_path / "runs" / "rm-typo"
    assert main([*args, "--n", "4", "--pairs", "best-worst", "--judge", f"rm:{missing}"]) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path}: no reward model 'rm:{missing}' in the manifest, and {missing} is no folder (train one: "
        "`python -m train --method rm`; another workspace's: rm:FOLDER)\n"
    )
    missing.mkdir(
        parents=True
    )  # a folder, but no model's: said as rm:FOLDER's other refusals (it named the file)
    assert main([*args, "--n", "4", "--pairs", "best-worst", "--judge", f"rm:{missing}"]) == 2
    assert capsys.readouterr().err == f"error: rm:{missing}: not a reward model (no config.json there)\n"
    (missing / "config.json").write_text("{bad")
    assert main([*args, "--n", "4", "--pairs", "best-worst", "--judge", f"rm:{missing}"]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: rm:{missing}: not a reward model (its config.json does not read: Expecting property name"
    )
    assert ws.ids("prompts") == set()


def test_a_judge_that_is_not_a_model_is_refused_before_the_judge_loop_writes_anything(
    tmp_path, tiny_model_dir, capsys
):
    # Isolation on (the default): the loop's first step sampled in a fresh process, the workspace created and the
    # prompts imported, before the step found the judge is not a model. The driver checks it first now.
    args = [
        "-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(write_prompts(tmp_path / "p.json")),
        "--test-fraction", "0.34", "--judge-iter", "1", "--judge", str(tmp_path / "no-judge"), "--n", "2",
        "--engine", "hf", "--max-tokens", "4", "--train-max-steps", "1",
    ]  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"error: --judge {tmp_path / 'no-judge'}: not a model (expected a folder with config.json, or one of: "
        "smollm2-135m); nothing written\n"
    )
    assert not (tmp_path / "ws").exists()


def test_a_reward_model_judge_is_named_as_an_arena_model_is(tmp_path, reward_model_dir, capsys, monkeypatch):
    """`--arena runs/x` reads the workspace's run `WS/runs/x` and a manifest id by its first 8 digits, while
    `--judge rm:runs/x` was "no reward model ... and runs/x is no folder" from anywhere but inside the workspace,
    and `rm:` took only a whole id. A name that is none of these is one line saying where it was looked for."""
    import shutil

    from data.records import ModelRecord
    from tests.test_train import build_workspace

    ws = build_workspace(tmp_path / "ws", count=4, test=2)
    run = ws.path / "runs" / "rm-1"
    shutil.copytree(reward_model_dir, run)
    model = ModelRecord(str(run.resolve()), "rm")
    ws.append([model])
    monkeypatch.chdir(tmp_path)  # no ./runs here
    args = ["-w", str(ws.path), "--judge-labelled", "--split", "test", "--judge"]
    assert main([*args, "rm:runs/rm-1"]) == 0
    assert f"rm:{model.id}: judged 2 pairs" in capsys.readouterr().out
    assert main([*args, f"rm:{model.id[:8]}"]) == 0  # the id's start, as the leaderboard prints it
    assert f"rm:{model.id}: judged 0 pairs" in capsys.readouterr().out  # the same judge: voted already
    assert main([*args, "rm:runs/rm-typo"]) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path}: no reward model 'rm:runs/rm-typo' in the manifest, and runs/rm-typo is no folder here "
        "or in the workspace (train one: `python -m train --method rm`; another workspace's: rm:FOLDER)\n"
    )


def test_a_reward_model_judge_named_by_a_hub_id_is_one_line_saying_rm_takes_none(
    tmp_path, capsys, monkeypatch
):
    """`--judge rm:org/model` said "no reward model ... and org/model is no folder here or in the workspace (train
    one ...)": nothing said that rm: takes no hub id (a chat judge and --arena do). A name whose first part is no
    folder reads as a hub id and is said to be one; `rm:runs/rm-typo`, with WS/runs there, stays a mistyped run."""
    from tests.test_train import build_workspace

    ws = build_workspace(tmp_path / "ws", count=4, test=2)
    monkeypatch.chdir(tmp_path)
    args = ["-w", str(ws.path), "--judge-labelled", "--split", "test", "--judge"]
    hub = "OpenAssistant/reward-model-deberta-v3-large-v2"
    assert main([*args, f"rm:{hub}"]) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path}: no reward model 'rm:{hub}' in the manifest, and {hub} is no folder here or in the "
        f"workspace; {hub} reads as a hub id, which rm: does not take (a reward model is the manifest's or a local "
        "folder): download it to a folder and give rm:FOLDER\n"
    )
    (ws.path / "runs").mkdir()
    assert main([*args, "rm:runs/rm-typo"]) == 2
    assert "reads as a hub id" not in capsys.readouterr().err
    assert ws.frame("labels")["annotator"].str.startswith("rm:").sum() == 0


def test_the_start_of_two_reward_model_ids_is_one_line_naming_the_judge(tmp_path, capsys, monkeypatch):
    """`--judge rm:ID` takes the start of an id; the start of two said "error: abcdef12: the start of model ids
    ...", naming neither the judge nor the workspace. A policy's id is no reward model's."""
    from data.records import ModelRecord
    from tests.test_train import build_workspace

    ws = build_workspace(tmp_path / "ws", count=4, test=2)
    ids = ["abcdef1200000001", "abcdef1200000002"]
    ws.append([ModelRecord(str(tmp_path / i), "rm", id=i) for i in ids])
    ws.append([ModelRecord(str(tmp_path / "p"), "dpo", id="12345678aaaaaaaa")])
    monkeypatch.chdir(tmp_path)
    args = ["-w", str(ws.path), "--judge-labelled", "--split", "test", "--judge"]
    assert main([*args, "rm:abcdef12"]) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path}: rm:abcdef12: the start of model ids {', '.join(ids)}; give more of one\n"
    )
    assert main([*args, "rm:12345678"]) == 2
    assert "no reward model 'rm:12345678' in the manifest" in capsys.readouterr().err


def test_a_judge_templates_unknown_placeholder_is_said(tmp_path, caplog):
    """`{reference}` (a bad-input hunt) went to the judge as written, nothing said: a warning names it; JSON in
    the template (`{"verdict": "A"}`), a LaTeX argument (`\\boxed{answer}`) and a shell variable (`${HOME}`) are no
    placeholders (they were warned of)."""
    from generate.judge import load_template

    template = tmp_path / "judge.txt"
    template.write_text(
        '{question}\n{answer_a}\n{answer_b}\nReply as {"verdict": "A"}; the answer in \\boxed{answer}, ${HOME}.\n'
    )
    with caplog.at_level("WARNING", logger="generate.judge"):
        load_template(template)
    assert "filled by nothing" not in caplog.text
    template.write_text("{question} {reference}\n{answer_a}\n{answer_b}\n")
    with caplog.at_level("WARNING", logger="generate.judge"):
        assert "{reference}" in load_template(template)
    assert f"--judge-template {template}: {{reference}} filled by nothing" in caplog.text
