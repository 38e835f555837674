"""Nothing dropped silently, a run that fits, predictable cost: rows fitted into --max-length and counted, KTO
weights from the rows trained, the reference pass limited to --max-steps' rows, the memory plan, the intervals."""

from __future__ import annotations

import json
import math

import pytest

from data import Completion, Label, Pair, Prompt, Workspace
from data.intervals import student_t
from tests.test_train import TEXTS, build_workspace, options
from train.__main__ import main
from train.evaluate import (
    answer_metrics,
    kto_metrics,
    paired_change,
    preference_metrics,
    wilson_interval,
)
from train.fit import PROMPT_CUT_AWAY, PROMPT_FILLS, SIDES_ALIKE, fit_rows, shorten_prompt
from train.memory import GIB, Batch, MemoryPlanError, ModelShape, Setup, estimate_bytes, plan_memory
from train.report import summary_lines
from train.run import train

LONG = "the quick brown fox jumps over the lazy dog " * 40  # far beyond 96 tokens


def long_prompt_workspace(path, kto=False):
    """build_workspace's 8 short pairs plus 2 whose prompt alone is longer than 96 tokens."""
    ws = build_workspace(path, kto=kto)
    records = []
    for i in range(2):
        prompt = Prompt([{"role": "user", "content": f"{i} {LONG} Pick a colour."}], "toy", None, "train")
        a = Completion(prompt.id, TEXTS[0], model="toy", engine="import")
        b = Completion(prompt.id, TEXTS[1], model="toy", engine="import")
        pair = Pair(prompt.id, a.id, b.id, kind="sampled")
        records += [prompt, a, b, pair, Label(pair.id, "ann", "pairwise", "a", strength=2)]
        if kto:
            records += [Label(a.id, "ann", "kto", "desirable"), Label(b.id, "ann", "kto", "desirable")]
    ws.append(records)
    return ws


def test_shorten_prompt_keeps_the_end_and_the_template(tiny_tokenizer):
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "old turn " * 50},
        {"role": "assistant", "content": "old answer " * 50},
        {"role": "user", "content": LONG + " Which colour?"},
    ]
    short, length = shorten_prompt(tiny_tokenizer, messages, 60)
    assert length <= 60 and length == len(
        tiny_tokenizer.apply_chat_template(
            short, add_generation_prompt=True, tokenize=True, return_dict=False
        )
    )
    assert [m["role"] for m in short] == [
        "system",
        "user",
    ]  # earlier turns went first, the system message stays
    assert short[0]["content"] == "be brief"
    assert short[1]["content"].startswith("…") and short[1]["content"].endswith("Which colour?")


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_long_prompts_are_truncated_and_trained_and_counted(tmp_path, tiny_model_dir, method):
    ws = long_prompt_workspace(tmp_path / "ws", kto=method == "kto")
    # every row evaluated (--eval-limit 4 took the 4 short ones): the long ones are cut there too
    fitted = options(
        ws, tiny_model_dir, tmp_path / "out", method=method, max_length=96, max_steps=0, eval_limit=0
    )
    result = train(fitted)
    rows = result["metrics"]["rows"]
    total = 10 if method == "dpo" else 20  # KTO: both completions of every prompt
    assert rows == {"rows_in": total, "rows_trained": total, "rows_truncated": 2 if method == "dpo" else 4,
                    "rows_dropped": {}, "longest_tokens": 96}  # fmt: skip
    assert result["metrics"]["train_rows"] == total
    trained = json.loads(ws.frame("models").set_index("id").loc[result["id"], "data"])
    assert len(trained.get("pair_ids", trained.get("completion_ids"))) == total
    report = (tmp_path / "out" / "report.md").read_text()
    held = result["metrics"]["eval_rows"]  # the evaluation's rows are cut so too, and said so
    assert (
        held["truncated"] and f"evaluated {held['evaluated']}, {held['truncated']} truncated to fit" in report
    )
    assert (
        f"rows: {total} in, {total} trained, {rows['rows_truncated']} truncated to fit, 0 dropped" in report
    )


def test_each_sdpo_step_counts_its_own_rows(tmp_path, tiny_model_dir, capsys):
    """10 rows (2 with long prompts, truncated) in 2 steps of 5; --max-steps 1 of 2 rows is per step, so each step
    trains 2 of its 5 rows and leaves 3; the run counts 10 in, 4 trained, 6 beyond --max-steps."""
    ws = long_prompt_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--out", str(out), "--method", "sdpo"]
    assert (
        main([*argv, "--max-length", "96", "--max-steps", "1", "--batch-size", "2", "--eval-limit", "4"]) == 0
    )
    assert "rows: 10 in, 4 trained, 2 truncated to fit, 0 dropped, 6 not reached by --max-steps" in (
        capsys.readouterr().out
    )
    run = json.loads((out / "sdpo.json").read_text())
    assert run["rows"]["rows_trained"] == run["train_rows"] == 4 and run["rows"]["rows_beyond_max_steps"] == 6
    models = ws.frame("models").set_index("id")
    truncated = 0
    for k, step in enumerate(run["sdpo_steps"], 1):
        rows = json.loads((out / f"step-{k}" / "metrics.json").read_text())["rows"]
        assert step["rows"] == rows and step["pairs"] == 2
        assert (rows["rows_in"], rows["rows_trained"], rows["rows_beyond_max_steps"]) == (5, 2, 3)
        assert len(json.loads(models.loc[step["id"], "data"])["pair_ids"]) == 2  # the rows it trained
        assert json.loads(models.loc[step["id"], "metrics"])["reference_cache"]["computed"] == 2
        truncated += rows["rows_truncated"]
        assert "rows: 5 in, 2 trained" in (out / f"step-{k}" / "report.md").read_text()
    assert truncated == 2
    assert run["reference_cache"] == {"hits": 0, "computed": 4}  # the run's: both steps', not the last one's


def test_rows_that_cannot_be_trained_are_counted_by_reason(tmp_path, tiny_model_dir):
    ws = long_prompt_workspace(tmp_path / "ws")
    result = train(
        options(ws, tiny_model_dir, tmp_path / "out", max_length=96, max_steps=0, truncation="drop")
    )
    assert result["metrics"]["rows"]["rows_dropped"] == {PROMPT_FILLS: 2}
    assert result["metrics"]["rows"]["rows_trained"] == result["metrics"]["train_rows"] == 8
    assert f"2 dropped ({PROMPT_FILLS}: 2)" in (tmp_path / "out" / "report.md").read_text()


def test_kto_weights_come_from_the_rows_trained(tmp_path, tiny_model_dir):
    """8 short prompts (desirable a, undesirable b) + 2 long ones (both desirable): dropping the long ones in
    drop mode leaves 8/8, so weights 1/1; TRL would have balanced 12/8 and then dropped 4 desirable rows."""
    ws = long_prompt_workspace(tmp_path / "ws", kto=True)
    opts = options(
        ws, tiny_model_dir, tmp_path / "out", method="kto", max_length=96, max_steps=1, truncation="drop"
    )
    result = train(opts)
    assert result["metrics"]["rows"]["rows_dropped"] == {PROMPT_FILLS: 4}
    config = json.loads((tmp_path / "out" / "train_config.json").read_text())
    assert config["truncation"] == "drop"
    from train.methods import Build, build_kto, get_method
    from train.pairs import kto_rows

    rows, _ = kto_rows(ws, "train")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    fitted, counts = fit_rows(tokenizer, rows, ("completion",), 96, "drop")
    assert counts["rows_trained"] == 16 and sum(r["label"] for r in fitted) == 8
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    trainer = build_kto(opts, Build(model, tokenizer, fitted, tmp_path / "k", False, ws), get_method("kto"))
    assert (trainer.args.desirable_weight, trainer.args.undesirable_weight) == (1.0, 1.0)
    assert len(trainer.train_dataset) == 16  # TRL dropped nothing more


def test_max_steps_computes_reference_log_probs_for_its_rows_only(tmp_path, tiny_model_dir):
    ws = build_workspace(tmp_path / "ws", count=20)
    result = train(options(ws, tiny_model_dir, tmp_path / "out", max_steps=2, batch_size=3))
    metrics = result["metrics"]
    assert metrics["reference_cache"] == {"hits": 0, "computed": 6} and len(ws.frame("reflogps")) == 6
    assert metrics["rows"]["rows_trained"] == 6 and metrics["rows"]["rows_beyond_max_steps"] == 14
    assert metrics["steps"] == 2


def test_short_runs_have_no_warmup_step_at_learning_rate_zero(tmp_path, tiny_model_dir):
    ws = build_workspace(tmp_path / "ws")
    train(options(ws, tiny_model_dir, tmp_path / "out", max_steps=3, batch_size=2, warmup_ratio=0.1))
    history = json.loads((tmp_path / "out" / "log_history.json").read_text())
    assert history[0]["learning_rate"] == pytest.approx(1e-3)


QWEN_05B = ModelShape(params=494_032_768, layers=24, hidden=896, vocab=151_936, intermediate=4864, heads=14)
SMOLLM_135M = ModelShape(params=134_515_008, layers=30, hidden=576, vocab=49_152, intermediate=1536, heads=9)
ASKED = Setup(0, False, Batch(4, 1, 512))


def test_memory_plan_estimate_by_hand():
    # weights 16 + 2 (bf16 copies) per parameter; activations 2·4·512 tokens × 24 layers × (12·896 + 6·4864 +
    # 4·14 heads·512); the chunked head: 3 chunks + the head's fp32 gradient; 0.5 GiB overhead.
    activations = 4096 * 24 * (12 * 896 + 6 * 4864 + 4 * 14 * 512)
    expected = 18 * 494_032_768 + activations + 3 * 2**27 + 151_936 * 896 * 4 + GIB // 2
    assert estimate_bytes(QWEN_05B, ASKED, bf16=True) == expected
    # TRL's head holds the batch's fp32 logits three times instead
    trl_head = estimate_bytes(QWEN_05B, ASKED, bf16=True, chunked_head=False)
    assert trl_head - expected == 4096 * 151_936 * 12 - 3 * 2**27 - 151_936 * 896 * 4


def test_memory_plan_falls_back_in_order_and_keeps_the_effective_batch():
    def plan(gib, **kwargs):
        return plan_memory(QWEN_05B, gib * GIB, ASKED, lora_fixed=False, bf16=True, **kwargs)

    assert plan(22).setup == ASKED and plan(22).reason == "as asked"
    assert plan(13).setup == Setup(0, True, Batch(4, 1, 512))  # gradient checkpointing first
    assert plan(11.6).setup == Setup(0, True, Batch(1, 4, 512))  # then a smaller micro-batch
    assert (
        plan(11.6)
        .line()
        .startswith(
            "memory plan: full fine-tuning with gradient checkpointing, micro-batch 1 x 4 accumulation steps "
            "(effective 4), about"
        )
    )
    lora = plan(11)
    assert lora.setup.lora_r == 16 and "--lora-r 0 forces full fine-tuning" in lora.reason
    with pytest.raises(MemoryPlanError, match="nothing fits in 85% of 4.0 GiB; the smallest plan, LoRA r=16"):
        plan(4)
    forced = plan_memory(QWEN_05B, 13 * GIB, Setup(0, False, ASKED.batch), lora_fixed=True, bf16=True)
    with pytest.raises(MemoryPlanError):  # --lora-r 0 on too small a machine: stop, not OOM later
        plan_memory(QWEN_05B, 11 * GIB, Setup(0, False, ASKED.batch), lora_fixed=True, bf16=True)
    assert forced.setup.lora_r == 0 and forced.setup.checkpointing
    small = plan_memory(SMOLLM_135M, 22 * GIB, ASKED, lora_fixed=False)
    assert small.setup == ASKED


def test_a_run_the_plan_cannot_fit_stops_before_anything_is_written(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setattr("train.run.available_memory", lambda: 256 * 2**20)
    ws = build_workspace(tmp_path / "ws")
    with pytest.raises(MemoryPlanError, match="nothing fits in 85% of 0.2 GiB; the smallest plan, LoRA r=16"):
        train(options(ws, tiny_model_dir, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_wilson_interval_and_the_report_print_it():
    low, high = wilson_interval(15, 20)  # p = 0.75, n = 20: 0.5313 .. 0.8881 (textbook value)
    assert (round(low, 4), round(high, 4)) == (0.5313, 0.8881)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 0) is None
    n = 20
    metrics = preference_metrics([0.0] * n, [1.0] * n, [1.0] * 15 + [-1.0] * 5, [0.0] * n, 0.1)
    metrics.update(eval_split="test")
    lines = "\n".join(summary_lines("dpo", metrics))
    assert "implicit reward accuracy 0.750 (95 % CI 0.531-0.888)" in lines  # 3 decimals, as the share
    assert (
        "trained model in 15/20 (95 % CI 0.531-0.888)" in lines
        and "original model preferred chosen in 0/20" in lines
    )


def test_no_held_out_rows_give_shares_without_intervals_and_the_report_says_so():
    """Shares of no rows have no interval: None (null in metrics.json), as the figures of `data.intervals` under
    too few values, where they read [NaN, NaN]; the report says nothing could be scored."""
    pairs = preference_metrics([], [], [], [], 0.1)
    kto = kto_metrics([], [], [], 0.1)
    sft = answer_metrics([], [])
    intervals = {key: value for m in (pairs, kto, sft) for key, value in m.items() if key.endswith("_ci95")}
    assert len(intervals) == 6 and set(map(json.dumps, intervals.values())) == {"null"}
    for method, metrics in (("dpo", pairs), ("kto", kto), ("sft", sft)):
        lines = summary_lines(method, metrics | {"eval_split": "test"})
        assert lines == ["held-out (test): nothing could be scored"]


def strict(text: str) -> dict:
    """``text`` read as strict JSON: NaN and Infinity (Python's json writes and reads them) refused."""

    def refuse(name: str):
        raise ValueError(f"{name} is no JSON")

    return json.loads(text, parse_constant=refuse)


def test_figures_of_no_rows_are_null_in_metrics_json_and_the_report_prints_them_as_dashes():
    """A mean or share of no rows was NaN, which json.dumps writes as bare NaN (no strict JSON): null now, as the
    intervals were, for the reward margin, the log-probs, a KTO side without completions and a reward model's
    accuracy; the report prints "-" for them; a diverged loss (inf, nan) is null in the files too."""
    from data.files import strict_json
    from data.lineage import lineage_lines
    from train.reward import reward_metrics

    empty = {"chosen": [], "rejected": []}
    rm = reward_metrics(empty, empty, [])
    figures = {
        **preference_metrics([], [], [], [], 0.1),
        **kto_metrics([], [], [], 0.1),
        **answer_metrics([], []),
        **rm,
    }
    counts = {
        "pairs",
        "completions",
        "answers",
        "eval_pairs",
        "rm_accuracy_by_strength",
        "rm_accuracy_before",
    }
    assert {key: value for key, value in figures.items() if key not in counts} == dict.fromkeys(
        set(figures) - counts
    )
    assert strict(strict_json(figures)) == figures
    assert paired_change([], [])["mean_change"] is None
    one_sided = kto_metrics([-1.0, -2.0], [-0.5, -2.5], [True, True], 0.1)  # no undesirable completion
    assert one_sided["undesirable_reward"] is None and one_sided["reward_separation"] is None
    lines = summary_lines("kto", one_sided | {"eval_split": "test"})
    assert lines[-1] == (
        "reward desirable 0.000, undesirable -, separation -, sign accuracy 0.500 (95 % CI 0.095-0.905)"
    )
    # 3 decimals as every figure (README), one that rounds to zero 0.000: it printed `undesirable -0.0000`
    tiny = {"desirable_reward": 0.0001, "undesirable_reward": -0.00002, "reward_separation": 0.00012}
    lines = summary_lines("kto", one_sided | tiny | {"eval_split": "test", "completions": 2})
    assert lines[-1] == (
        "reward desirable 0.000, undesirable 0.000, separation 0.000, sign accuracy 0.500 (95 % CI 0.095-0.905)"
    )
    lines = summary_lines("kto", one_sided | {"desirable_reward": 0.01234, "undesirable_reward": -0.4567})
    assert lines[-1].startswith("reward desirable 0.012, undesirable -0.457, separation -, ")
    lines = summary_lines("rm", rm | {"eval_split": "test"})
    assert lines[1] == "reward model accuracy - (untrained head: -), mean margin -"
    diverged = {"final_loss": math.nan, "steps": [{"loss": math.inf}], "pairs": 2}
    assert strict(strict_json(diverged, indent=2)) == {
        "final_loss": None,
        "steps": [{"loss": None}],
        "pairs": 2,
    }
    model = {"id": "m" * 8, "parent": None, "round": 1, "method": "dpo", "path": "p", "trained_on": 0}
    shown = lineage_lines([model | {"data": {"kinds": ["sampled"]}, "metrics": {"reward_margin": None}}])
    assert shown[1] == "           held-out: margin -"


def test_paired_change_gives_the_mean_change_its_interval_and_the_share_that_rose():
    before = [-10.0, -20.0, -30.0, -40.0]
    change = paired_change(before, [-9.0, -18.0, -30.0, -41.0])  # deltas +1, +2, 0, -1
    assert change["rows"] == 4 and change["mean_change"] == pytest.approx(0.5)
    assert change["mean_before"] == -25.0 and change["rose"] == 2 and change["rose_share"] == 0.5
    low, high = change["mean_change_ci95"]  # resampled means of {+1, +2, 0, -1} lie in [-1, 2]: t's is wider
    spread = student_t(3) * math.sqrt((3 * 5 / 3 + 6 / 4) / 4 / 4)  # s² = 5/3 pooled with the mean square 6/4
    assert low == pytest.approx(0.5 - spread) and high == pytest.approx(0.5 + spread)
    assert low < -1.0 and high > 2.0
    assert change["rose_share_ci95"] == pytest.approx(list(wilson_interval(2, 4)))
    assert paired_change([], [])["rows"] == 0 and paired_change([], [])["mean_change_ci95"] is None


def test_paired_change_of_one_row_has_no_interval():
    """The bootstrap of one row gave an interval of that row's own value ([3, 3]): one row has none (None, as
    `mean_interval`), and two rows have one again, Student's t at one degree of freedom (12.71), not the two rows'
    own range."""
    one = paired_change([-10.0], [-7.0])
    assert one["mean_change"] == 3.0 and one["mean_change_ci95"] is None and one["rose_share_ci95"][0] < 0.25
    low, high = paired_change([-10.0, -20.0], [-7.0, -19.0])["mean_change_ci95"]  # changes +3, +1
    spread = student_t(1) * math.sqrt((2.0 + 5.0) / 2 / 2)  # s² = 2 pooled with the mean square 5, over n = 2
    assert low == pytest.approx(2.0 - spread) and high == pytest.approx(2.0 + spread)


def test_rows_that_all_changed_alike_do_not_read_a_certain_change():
    """Four rows that each rose by exactly 1 gave the bootstrap no spread: +1 to +1, a certainty four rows cannot
    give. The t interval with one row's worth of the mean square pooled in reads 1 ± t(3)·√(1/4)/√4; over 64 such
    rows it is narrow again, and rows that did not move at all (the same weights twice) keep [0, 0]."""
    before = [-10.0, -20.0, -30.0, -40.0]
    low, high = paired_change(before, [b + 1.0 for b in before])["mean_change_ci95"]
    assert low == pytest.approx(1.0 - student_t(3) / 4) and high == pytest.approx(1.0 + student_t(3) / 4)
    assert 0.2 < low < 0.21 and 1.79 < high < 1.8
    many = [-float(k) for k in range(64)]
    low, high = paired_change(many, [b + 1.0 for b in many], resamples=1000)["mean_change_ci95"]
    assert high - low == pytest.approx(2 * student_t(63) / 64)
    assert paired_change(before, before)["mean_change_ci95"] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("df", "exact"),
    [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (10, 2.2281), (30, 2.0423), (100, 1.9840)],
)
def test_student_t_gives_the_two_sided_95_percent_quantile(df, exact):
    assert student_t(df) == pytest.approx(exact, rel=2e-3)


def test_one_held_out_row_prints_its_change_without_an_interval():
    from generate.loop.report import chain_lines

    metrics = {"steps": 2, "eval_split": "test"} | answer_metrics([-10.0], [-7.0])
    assert "change +3.00\n" in "\n".join(summary_lines("sft", metrics)) + "\n"
    one = paired_change([-10.0], [-7.0])
    chain = {"metric": "held-out log p(gold answer)", "steps": [{"iteration": 1, **one}], "overall": one}
    assert (
        chain_lines(chain)[1]
        == "  iteration 1: -10.0 -> -7.0, change +3.00; rose on 1/1 prompts (95 % CI 0.207-1.000)"
    )


@pytest.mark.parametrize(("mode", "whole"), [("prompt", False), ("drop", False), ("prompt", True)])
def test_a_pair_whose_answers_differ_only_past_max_length_is_dropped_and_counted(tiny_tokenizer, mode, whole):
    """Cut to 64 tokens, answers that differ only at their ends are one sequence: no preference to train (the
    reward model's whole sequences too), a tie to score. Answers that differ within the cut train, cut."""

    def row(prompt, first, second):
        answers = {"chosen": first, "rejected": second}
        return {"prompt": [{"role": "user", "content": prompt}]} | {
            side: [{"role": "assistant", "content": text}] for side, text in answers.items()
        }

    rows = [
        row("How?", LONG + "Serve warm.", LONG + "Throw away."),
        row("Which?", "Red. " + LONG, "Blue. " + LONG),
    ]
    kept, counts = fit_rows(tiny_tokenizer, rows, ("chosen", "rejected"), 64, mode, whole)
    assert (
        counts["rows_dropped"] == {SIDES_ALIKE: 1} and counts["rows_trained"] == counts["rows_truncated"] == 1
    )
    assert kept[0]["prompt"][0]["content"].endswith("Which?")


@pytest.mark.parametrize("whole", [False, True])
def test_a_prompt_cut_to_no_word_is_dropped_and_counted(tiny_tokenizer, whole):
    """A short --max-length left a long prompt's question as "…" alone, and the row trained (counted truncated):
    an answer to no question teaches nothing. Such a row is dropped under its reason; a prompt that fits trains."""

    def row(prompt, first, second):
        answers = {"chosen": first, "rejected": second}
        return {"prompt": [{"role": "user", "content": prompt}]} | {
            side: [{"role": "assistant", "content": text}] for side, text in answers.items()
        }

    rows = [
        row("Pick a colour.", "red", "blue"),
        row(LONG + " Pick a colour.", "red: the sea is wide and blue", "blue: the sea is wide and blue"),
    ]
    kept, counts = fit_rows(tiny_tokenizer, rows, ("chosen", "rejected"), 26, "prompt", whole)
    assert counts["rows_dropped"] == {PROMPT_CUT_AWAY: 1} and counts["rows_trained"] == 1
    assert kept[0]["prompt"][0]["content"] == "Pick a colour."


@pytest.mark.parametrize("whole", [False, True])
def test_a_long_system_message_gives_way_before_the_question_is_cut_to_no_word(tiny_tokenizer, whole):
    """The question was cut before the system message: a long system message before a short question left it "…"
    alone (then cut the system message all the same), and the row was dropped as cut to no word, though cutting
    the system message alone fits it. Now the system message is cut first there, and the row trains."""
    question = "What is the capital of France?"
    rows = [
        {
            "prompt": [{"role": "system", "content": LONG}, {"role": "user", "content": question}],
            "chosen": [{"role": "assistant", "content": "Paris."}],
            "rejected": [{"role": "assistant", "content": "Rome."}],
        }
    ]
    kept, counts = fit_rows(tiny_tokenizer, rows, ("chosen", "rejected"), 96, "prompt", whole)
    assert counts["rows_dropped"] == {} and counts["rows_trained"] == counts["rows_truncated"] == 1
    system, user = kept[0]["prompt"]
    assert user["content"] == question and system["content"].startswith("…") and len(system["content"]) > 1


def test_a_max_length_that_leaves_no_prompt_is_one_line_naming_the_reason(tmp_path, tiny_model_dir, capsys):
    ws = build_workspace(tmp_path / "ws")
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--out", str(tmp_path / "out")]
    assert main([*argv, "--max-length", "16"]) == 2
    assert capsys.readouterr().err == (
        f"error: --max-length 16: none of the 8 rows can be trained ({PROMPT_CUT_AWAY}: 8); raise --max-length\n"
    )
    assert not (tmp_path / "out").exists()


def test_held_out_rows_that_cannot_be_scored_are_excluded_and_counted(tmp_path, tiny_model_dir):
    ws = Workspace(long_prompt_workspace(tmp_path / "ws").path)
    prompt = Prompt([{"role": "user", "content": LONG}], "toy", None, "test")
    a = Completion(prompt.id, TEXTS[0], model="toy", engine="import")
    b = Completion(prompt.id, TEXTS[1], model="toy", engine="import")
    pair = Pair(prompt.id, a.id, b.id, kind="sampled")
    ws.append([prompt, a, b, pair, Label(pair.id, "ann", "pairwise", "a")])
    result = train(options(ws, tiny_model_dir, tmp_path / "out", max_length=96, truncation="drop"))
    assert result["metrics"]["eval_rows"]["excluded"] == {PROMPT_FILLS: 1}
    assert result["metrics"]["eval_split"] == "test" and result["metrics"]["pairs"] == 0
    written = strict((tmp_path / "out/metrics.json").read_text())  # NaN figures were no strict JSON
    assert written["reward_accuracy_ci95"] is None and written["reward_accuracy"] is None
    assert written["reward_margin"] is None and written["chosen_logp"] is None
    assert "- held-out (test): nothing could be scored" in (tmp_path / "out/report.md").read_text()


def test_a_base_model_needs_a_chat_template_and_trains_with_one(tmp_path, tiny_base_model_dir, capsys):
    from train.__main__ import main

    ws = build_workspace(tmp_path / "ws")
    argv = ["-w", str(ws.path), "--model", str(tiny_base_model_dir), "--max-steps", "1", "--batch-size", "2"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert str(tiny_base_model_dir) in err and "--chat-template" in err and not (tmp_path / "a").exists()
    assert main([*argv, "--out", str(tmp_path / "b"), "--chat-template", "plain"]) == 0
    assert (
        "chat_template" in (tmp_path / "b" / "tokenizer_config.json").read_text()
        or (tmp_path / "b" / "chat_template.jinja").exists()
    )


def test_bf16_autocast_keeps_the_learning_curve_of_fp32(tmp_path, tiny_model_dir):
    """The same 12 steps on the flipped toy set in fp32 and with bf16 autocast (fp32 master weights): the loss
    curves agree within bf16's noise and both learn. (Whether `--bf16 auto` turns it on for CPUs is decided by
    `train.once.use_bf16`; the real-model curves are compared in benchmarks/RESULTS.md.)"""
    curves = {}
    for mode in ("off", "on"):
        ws = build_workspace(tmp_path / f"ws-{mode}")
        out = tmp_path / mode
        train(options(ws, tiny_model_dir, out, bf16=mode, max_steps=12, batch_size=4, learning_rate=5e-4))
        history = json.loads((out / "log_history.json").read_text())
        curves[mode] = [h["loss"] for h in history if "loss" in h]
    assert len(curves["on"]) == len(curves["off"]) == 12
    assert max(abs(a - b) for a, b in zip(curves["on"], curves["off"])) < 0.05
    assert curves["on"][-1] < curves["on"][0] - 0.1 and curves["off"][-1] < curves["off"][0] - 0.1


def test_scoring_a_row_too_long_cuts_the_prompt_start_and_keeps_the_completion(tiny_tokenizer):
    from train.evaluate import encode_batch

    prompt = [{"role": "user", "content": LONG}]
    answers = [[{"role": "assistant", "content": text}] for text in TEXTS[:2]]
    full, full_attention, full_completion = encode_batch(tiny_tokenizer, [prompt] * 2, answers)
    ids, attention, completion = encode_batch(tiny_tokenizer, [prompt] * 2, answers, max_length=48)
    for row in range(2):
        length = int(full_attention[row].sum())
        assert length > 48 and int(attention[row].sum()) == 48
        assert ids[row].tolist() == full[row][length - 48 : length].tolist()  # the last 48 tokens
        scored = ids[row][completion[row].bool()].tolist()
        assert scored == full[row][full_completion[row].bool()].tolist()  # the whole completion is scored
    assert ids[0].tolist() != ids[1].tolist()  # so two answers to one long prompt never score the same


def test_strict_json_writes_numpy_numbers_and_their_nan_as_null():
    """held_out.json and the chain go through strict_json: a numpy float32 log-prob (not a Python float) failed the
    write, and its NaN must be null like a Python one's."""
    import numpy as np

    from data.files import strict_json

    values = [np.float32(-1.5), np.float32("nan"), np.float64("inf"), np.int64(3), True, 2, 0.5]
    assert json.loads(strict_json({"v": values})) == {"v": [-1.5, None, None, 3, True, 2, 0.5]}
