"""Held-out evaluation time: the 72 held-out pairs of the DPO proof workspace scored as `python -m train` scores
them before and after training (`train.evaluate.evaluate_rows`, the chunked head), against the full-vocabulary path.

    python benchmarks/bench_eval.py                                   # SmolLM2-135M, 512 tokens, both heads
    python benchmarks/bench_eval.py --model /tmp/prefloop-shapes/qwen2.5-0.5b --heads chunked

The workspace is the proof recipe's (the demo DPO pairs imported with --test-fraction 0.25: 228 train / 72
held-out). Each head runs in its own fresh process; the parent prints wall seconds (model load excluded) and peak
memory, and checks that both heads give the same log-probs (within 1e-5 of each sequence's log-prob: fp32 sums of hundreds
of tokens differ in their last digits with the matmul's blocking).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_train import peak_memory_mib
from common import device_name, run_sides


def held_out_rows(folder: Path) -> list[dict]:
    from data import Workspace
    from data.imports import load_file, write_records
    from data.provision import sample_path
    from train.pairs import preference_rows

    ws = Workspace.init(folder / "ws")
    write_records(ws, *load_file(sample_path("dpo"), test_fraction=0.25))
    rows, _ = preference_rows(ws, "test", ("imported",))
    return rows


def run_head(args, head: str) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import train.evaluate as evaluate
    from data.provision import resolve_model
    from train.once import _set_threads
    from train.options import TrainOptions

    path = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    _set_threads(TrainOptions(), sum(p.numel() for p in model.parameters()))
    if head == "full":  # the textbook path: every position's fp32 logits
        evaluate.completion_logps = lambda m, ids, mask: evaluate.full_vocab_logps(
            m, ids["input_ids"], ids["attention_mask"], mask
        )
    with tempfile.TemporaryDirectory() as tmp:
        rows = held_out_rows(Path(tmp))
    start = time.perf_counter()
    scores = evaluate.evaluate_rows("pairs", model, tokenizer, rows, args.batch_size, args.max_length)
    seconds = time.perf_counter() - start
    return {"side": head, "pairs": len(rows), "seconds": seconds, "peak_mib": peak_memory_mib(), **scores}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument(
        "--batch-size", type=int, default=4, help="sequences per forward (train: --batch-size)"
    )
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--heads", default="chunked,full", help="comma-separated: chunked, full")
    parser.add_argument("--only", choices=("chunked", "full"), help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_head(args, args.only)))
        return 0
    results = run_sides(__file__, args.heads.split(","))
    if results is None:
        return 1
    first = next(iter(results.values()))
    print(
        f"model {args.model}, {first['pairs']} held-out pairs (chosen and rejected), batch {args.batch_size}, "
        f"max length {args.max_length}, on {device_name()}"
    )
    print(f"{'head':8} {'seconds':>8} {'peak MiB':>9}")
    for r in results.values():
        print(f"{r['side']:8} {r['seconds']:8.1f} {r['peak_mib']:9.0f}")
    if "chunked" in results:
        print(
            f"chunked head: {results['chunked']['seconds']:.1f} s for {first['pairs']} pairs (target <= 90 s)"
        )
    if len(results) == 2:
        a, b = results["chunked"], results["full"]
        pairs = [(x, y) for k in ("chosen", "rejected") for x, y in zip(a[k], b[k])]
        gap = max(abs(x - y) for x, y in pairs)
        relative = max(abs(x - y) / max(1.0, abs(y)) for x, y in pairs)
        # fp32 sums of hundreds of per-token log-probs differ in the last digits with the matmul's blocking
        print(
            f"largest difference between the heads: {gap:.2e} per sequence, {relative:.1e} relative (<= 1e-5)"
        )
        return 0 if relative <= 1e-5 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
