"""`python -m generate`: sample from a model into a workspace.

    python -m generate -w ws --model smollm2-135m --prompts sft --limit 32 --n 2     # pairs for labellers
    python -m generate -w ws --model smollm2-135m --prompts sft --limit 64 --spin    # SPIN negatives
    python -m generate -w ws --config sample.yaml --temperature 0.8                  # YAML + overriding flags
    python -m generate -w ws-2 --prompts sft --shard 2/4 ...   # machine 2 of 4; then: python -m data merge -w ws ws-2

    python -m generate -w ws --model newest --n 2         # next human round: the newest model, at its round
    python -m generate -w ws --prompts sft --spin-iter 2  # SPIN: 2 iterations of sample -> train -> register

    python -m generate -w ws --judge smollm2-135m          # an LLM judge labels the unlabelled pairs (both orders)
    python -m generate -w ws --judge rm --split test --judge-labelled   # the newest reward model, measured
    python -m generate -w ws --n 4 --pairs best-worst --judge rm        # best vs worst of 4 samples (RLHFlow)
    python -m generate -w ws --judge-iter 2 --judge rm --n 4            # machine rounds: sample, judge, DPO

Reruns resume: only prompts without completions from this model in this round are sampled; `--spin-iter` reruns
continue from the last finished step (see generate/spin.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from data.chat_template import chat_template_for
from data.cli import options_parser, run_cli
from data.config import build
from data.errors import PrefloopError
from data.imports import load_file, write_records
from data.lineage import NEWEST, find_model, is_reward_model_name, newest_model
from data.provision import SAMPLES, resolve_model, sample_path
from data.workspace import MARKER, Workspace
from generate.engines import make_engine
from generate.judge import load_template
from generate.options import (
    SPIN_TEST_FRACTION,
    GenerateOptions,
    engine_options,
    model_label,
    sampling_params,
)
from generate.sampling import check_pair_params, parse_shard, sample_pairs, sample_spin
from generate.spin import run_spin
from train.options import check_options as check_train_options

log = logging.getLogger(__name__)


def build_parser(prog: str = "python -m generate") -> argparse.ArgumentParser:
    return options_parser(GenerateOptions, prog, __doc__)


def check_options(options: GenerateOptions) -> None:
    if options.spin_iter < 0 or (options.limit or 0) < 0 or options.spin_test_limit < 0:
        raise PrefloopError("--spin-iter, --limit and --spin-test-limit must be >= 0")
    if options.spin_iter and options.round is not None:
        raise PrefloopError(
            "--round does not apply to --spin-iter: iteration t samples at the start model's round + t"
        )
    if options.spin_iter and options.shard:
        raise PrefloopError(
            "--shard does not apply to --spin-iter (every iteration trains on all its prompts)"
        )
    if options.test_fraction is not None and not 0 <= options.test_fraction < 1:
        raise PrefloopError(f"--test-fraction {options.test_fraction}: must be in [0, 1)")
    loops = options.spin_iter or options.judge_iter
    if options.judge_iter < 0 or options.n < 1:
        raise PrefloopError("--judge-iter must be >= 0 and --n >= 1")
    if options.spin_iter and options.judge_iter:
        raise PrefloopError("--spin-iter and --judge-iter are two drivers: run one at a time")
    if options.judge_iter and (options.round is not None or options.shard):
        raise PrefloopError(
            "--round and --shard do not apply to --judge-iter (iteration t samples at round r0 + t)"
        )
    if (options.judge_iter or options.pairs == "best-worst") and not options.judge:
        raise PrefloopError("--pairs best-worst and --judge-iter need --judge (rm, rm:<id>, or a chat model)")
    if options.judge and options.spin:
        raise PrefloopError("--judge does not apply to --spin (SPIN's gold answer wins by construction)")
    if options.judge and not is_reward_model_name(options.judge):
        load_template(options.judge_template)  # a bad template file fails before any model loads
    if loops:  # the training options, before any sampling
        method = "spin" if options.spin_iter else "dpo"
        check_train_options(dataclasses.replace(options.train, method=method))


def sampling_round(options: GenerateOptions, workspace: Workspace, model_path: str) -> int:
    """--round, else the model's round in the manifest (the next labelling round of a trained model), else 0."""
    if options.round is not None:
        return options.round
    entry = find_model(workspace, Path(model_path).resolve())
    return entry.round if entry else 0


def _has_gold_prompts(path: Path) -> bool:
    if not (path / MARKER).is_file():
        return False
    prompts = Workspace(path).frame("prompts")
    return bool(((prompts["split"] == "train") & prompts["gold"].notna()).any())


def run(options: GenerateOptions) -> dict:
    """Sample into the workspace as the options say (or run the SPIN driver); returns the counts or summary."""
    # Every check comes before the workspace is touched: bad input writes nothing.
    check_options(options)
    newest = options.model == NEWEST
    model = newest_model(Workspace(options.workspace)).path if newest else options.model
    model_path = resolve_model(model)
    chat_template_for(
        model_path, options.chat_template
    )  # a base model without --chat-template: one line, now
    shard = parse_shard(options.shard) if options.shard else None
    params = sampling_params(options)
    if not options.spin and not options.spin_iter:
        check_pair_params(options.n, params)
    loaded = None
    prompts = options.prompts
    loops = options.spin_iter or options.judge_iter
    if options.judge and not loops and options.pairs != "best-worst":  # judge the pairs already there
        from generate.bestofn import judge_workspace

        return judge_workspace(options, Workspace(options.workspace))
    if loops and not prompts and not _has_gold_prompts(options.workspace):
        prompts = "sft"  # SPIN needs SFT data: the sample set, unless the workspace already holds some
    if prompts:
        path = sample_path(prompts) if prompts in SAMPLES else Path(prompts)
        default_fraction = SPIN_TEST_FRACTION if loops else 0.0
        fraction = options.test_fraction if options.test_fraction is not None else default_fraction
        loaded = load_file(path, test_fraction=fraction)
    workspace = Workspace.open_or_init(options.workspace)
    if loaded:
        write_records(workspace, *loaded)
    if options.spin_iter:
        return run_spin(options, workspace)
    if options.judge_iter:
        from generate.bestofn import run_judge_loop

        return run_judge_loop(options, workspace)
    round = sampling_round(options, workspace, model_path)
    common = dict(split=options.split, limit=options.limit or 0, chunk_size=options.chunk_size, shard=shard)
    if options.pairs == "best-worst":
        from generate.bestofn import sample_best_worst

        return sample_best_worst(options, workspace, model_path, model_label(model), round, **common)
    common["round"] = round
    engine = make_engine(options.engine, model_path, engine_options(options))
    label = model_label(model)
    log.info("sampling from %s at round %d", label, round)
    if options.spin:
        return dict(sample_spin(workspace, engine, label, params, **common))
    return dict(
        sample_pairs(
            workspace, engine, label, options.n, params, pairs_per_prompt=options.pairs_per_prompt, **common
        )
    )


def _number(value: object, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def spin_report(summary: dict) -> list[str]:
    """A round driver's summary as lines: one per iteration, with the held-out log-likelihood of the chosen
    answers (SPIN: the gold ones) and the reward margin."""
    start, prompts = summary["start"], summary["prompts"]
    chosen = "gold" if summary["kind"] == "spin" else "chosen"
    lines = [
        f"{summary['kind'].upper()} on {summary['workspace']} from {start['model']} (model {start['id']}, round {start['round']}): "
        f"{prompts['train']} train prompts, {prompts['test']} held-out prompts per iteration",
        f"iter round model    train pairs eval pairs  {chosen} logp before -> after  margin  accuracy"
        f"  prefers {chosen} before -> after  sample s  train s",
    ]
    for it in summary["iterations"]:
        eval_pairs = f"{it['eval_pairs']} {it['eval_split']}" if it["eval_pairs"] is not None else "-"
        lines.append(
            f"{it['iteration']:<4} {it['round']:<5} {it['model'][:8]} {it['train_pairs']!s:<11} {eval_pairs:<11} "
            f"{_number(it['gold_logp_before'], 1):>16} -> {_number(it['gold_logp_after'], 1):<6} "
            f"{_number(it['reward_margin']):>7} {_number(it['reward_accuracy']):>9} "
            f"{_number(it['prefers_gold_before']):>20} -> {_number(it['prefers_gold_after']):<6} "
            f"{_number(it['sample_seconds'], 0):>8} {_number(it['train_seconds'], 0):>8}"
            + ("  (done before)" if it["resumed"] else "")
        )
    if "final_sample_seconds" in summary:
        lines.append(
            f"held-out answers of the last iterate sampled in {summary['final_sample_seconds']:.0f} s"
        )
    lines += [f"samples: {path}" for path in summary.get("samples", [])]
    return lines + chain_lines(summary.get("gold_chain"))


def chain_lines(chain: dict | None) -> list[str]:
    """The gold log-likelihood of every iterate on the same held-out prompts: each step's change and base -> last,
    with 95 % intervals (bootstrap for the mean change, Wilson for the share of prompts that rose)."""
    if not chain:
        return []

    def line(title: str, c: dict) -> str:
        if not c["rows"]:
            return f"{title}: no held-out prompt in common"
        low, high = c["mean_change_ci95"]
        share_low, share_high = c["rose_share_ci95"]
        return (
            f"{title}: {c['mean_before']:.1f} -> {c['mean_after']:.1f}, change {c['mean_change']:+.2f} "
            f"(95 % CI {low:+.2f} to {high:+.2f}); rose on {c['rose']}/{c['rows']} prompts "
            f"(95 % CI {share_low:.2f}-{share_high:.2f})"
        )

    lines = [f"{chain['metric']}, the same held-out prompts through the chain:"]
    lines += [line(f"  iteration {step['iteration']}", step) for step in chain["steps"]]
    return lines + [line("  base -> last", chain["overall"])]


def judge_report(result: dict) -> list[str]:
    """What a judging job did and what it cost per pair."""
    counts, cost = result["counts"], result["cost_per_pair"]
    verdicts = ", ".join(f"{k} {counts.get(k, 0)}" for k in ("a", "b", "tie", "unreadable"))
    return [
        f"{result['annotator']}: judged {counts.get('pairs', 0)} pairs ({verdicts}); "
        f"{counts.get('labels_written', 0)} labels written",
        f"cost per pair: {cost['calls']:.1f} model calls, {cost['tokens']:.0f} generated tokens, "
        f"{cost['seconds']:.2f} s",
    ]


def _main(argv: list[str] | None, prog: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in ("transformers", "httpx", "urllib3", "filelock"):  # their INFO lines bury our summary
        logging.getLogger(name).setLevel(logging.WARNING)
    options = build(GenerateOptions, build_parser(prog).parse_args(argv))
    if options.verbose:
        logging.getLogger("transformers").setLevel(logging.INFO)
    counts = run(options)
    if options.spin_iter or options.judge_iter:
        print("\n".join(spin_report(counts)))
    elif options.judge and "cost_per_pair" in counts:
        print("\n".join(judge_report(counts)))
    else:
        print("done: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m generate") -> int:
    return run_cli(lambda args: _main(args, prog), argv)


if __name__ == "__main__":
    sys.exit(main())
