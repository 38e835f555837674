"""DPO step time and peak memory: our trainer against the naive loop and stock TRL, side by side, same model,
rows, batch, length and precision.

    python benchmarks/bench_train.py                       # SmolLM2-135M, the sample DPO pairs, batch 4, 3 timed steps
    python benchmarks/bench_train.py --model PATH --steps 5 --batch-size 8 --max-length 512 --bf16
    python benchmarks/bench_train.py --sides naive,ours,trl-stock,trl-precompute --model PATH --batch-size 4 \
        --max-length 512 --ours-bf16 --bf16                # the anchor users would pick instead: stock TRL

Sides: ``naive`` is the textbook loop (seed 002): per step four separate forward passes (policy on chosen, policy
on rejected, reference on chosen, reference on rejected; the reference recomputed every step, both models in
memory), full-vocabulary log-softmax, sigmoid DPO loss, AdamW. ``ours`` is `python -m train --method dpo`'s
trainer: reference log-probs precomputed once (and cached in the workspace), chosen and rejected in one forward
pass, the chunked log-prob head (`train.head`), the elementwise work recomputed in the backward pass
(`train.recompute`); ``ours-keep`` is the same keeping every activation. ``trl`` is ours with TRL's loss and head. ``trl-stock`` is
``trl.DPOTrainer`` with its defaults (a reference model in memory, gradient checkpointing on) and
``trl-precompute`` the same with ``precompute_ref_log_probs=True``.

Each side runs in its own fresh process (so neither inherits the other's allocator state or peak memory); the
parent prints the median step time, the reference pass / trainer construction, the peak memory (CPU: peak RSS;
CUDA: peak allocated) and ours' ratios to the others, with their targets.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import device_name, run_sides


def device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def peak_memory_mib() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def sample_workspace(folder: Path):
    """A workspace in ``folder`` holding the sample DPO pairs, and their training rows (TRL's columns)."""
    from data import Workspace
    from data.imports import load_file, write_records
    from data.provision import sample_path
    from train.pairs import preference_rows

    ws = Workspace.init(folder / "ws")
    write_records(ws, *load_file(sample_path("dpo")))
    rows, _ = preference_rows(ws, "train", ("imported",))
    return ws, rows


def setup_threads(model) -> None:
    import torch

    if device() == "cpu":
        params = sum(p.numel() for p in model.parameters())
        torch.set_num_threads(1 if params < 50_000_000 else os.cpu_count())


def run_naive(args) -> dict:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    from train.evaluate import encode_batch, full_vocab_logps

    path, policy, tokenizer = load_model(args)
    reference = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device()).eval()
    policy.train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-6)
    with tempfile.TemporaryDirectory() as tmp:
        _, rows = sample_workspace(Path(tmp))

    def batch(side_rows, side):
        tensors = encode_batch(
            tokenizer, [r["prompt"] for r in side_rows], [r[side] for r in side_rows], args.max_length
        )
        return tuple(t.to(device()) for t in tensors)

    times = []
    autocast = torch.autocast(device(), dtype=torch.bfloat16, enabled=args.bf16)
    for step in range(args.steps + 1):  # step 0 warms up
        chunk = rows[step * args.batch_size : (step + 1) * args.batch_size]
        chosen, rejected = batch(chunk, "chosen"), batch(chunk, "rejected")
        start = time.perf_counter()
        with autocast:
            policy_chosen = full_vocab_logps(policy, *chosen)
            policy_rejected = full_vocab_logps(policy, *rejected)
            with torch.no_grad():
                ref_chosen = full_vocab_logps(reference, *chosen)
                ref_rejected = full_vocab_logps(reference, *rejected)
        margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
        loss = -F.logsigmoid(0.1 * margin).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device() == "cuda":
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - start)
    return {
        "side": "naive",
        "step_s": statistics.median(times),
        "ref_pass_s": 0.0,
        "peak_mib": peak_memory_mib(),
    }


def step_timer(times: list[float]):
    """A Trainer callback appending each optimiser step's wall time to ``times``."""
    import torch
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.start = time.perf_counter()

        def on_step_end(self, *_, **__):
            if device() == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self.start)

    return StepTimer()


def load_model(args):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from data.provision import resolve_model

    path = resolve_model(args.model)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device())
    setup_threads(model)
    return path, model, AutoTokenizer.from_pretrained(path)


def run_ours(args, trl_head: bool = False, keep_all: bool = False) -> dict:
    from train import methods
    from train.methods import Build, build_trainer
    from train.options import TrainOptions

    if keep_all:  # "ours-keep": every activation kept, none recomputed (train.recompute off)
        methods.recompute_elementwise = lambda model: {"norms": 0, "mlps": 0}

    times: list[float] = []
    path, model, tokenizer = load_model(args)
    with tempfile.TemporaryDirectory() as tmp:
        ws, rows = sample_workspace(Path(tmp))
        rows = rows[: args.batch_size * (args.steps + 1)]
        options = TrainOptions(
            workspace=ws.path,
            model=str(path),
            method="dpo",
            # "trl": the same trainer with DPO's sigmoid loss written as TRL's own (two halves of it), which
            # TRL computes on its own head instead of our chunked one: isolates what the chunked head buys.
            loss_type=("sigmoid", "sigmoid") if trl_head else ("sigmoid",),
            loss_weights=(0.5, 0.5) if trl_head else None,
            batch_size=args.batch_size,
            max_length=args.max_length,
            max_steps=args.steps + 1,
            learning_rate=1e-6,
            bf16="on" if args.bf16 or args.ours_bf16 else "off",
            gradient_checkpointing=args.gradient_checkpointing,
            save_steps=10_000,
        )
        start = time.perf_counter()
        trainer = build_trainer(
            options, Build(model, tokenizer, rows, Path(tmp) / "out", args.bf16 or args.ours_bf16, ws)
        )
        ref_pass = time.perf_counter() - start
        trainer.add_callback(step_timer(times))
        trainer.args.save_strategy = "no"
        trainer.train()
    return {
        "side": "trl" if trl_head else "ours-keep" if keep_all else "ours",
        "step_s": statistics.median(times[1:]),
        "ref_pass_s": ref_pass,
        "peak_mib": peak_memory_mib(),
    }


def run_trl_stock(args, precompute: bool) -> dict:
    """What a user would pick instead: trl.DPOTrainer with its defaults (a reference copy in memory, gradient
    checkpointing as TRL sets it), optionally with ``precompute_ref_log_probs``; the same rows, batch, length and
    precision as ours."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    times: list[float] = []
    _, model, tokenizer = load_model(args)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    with tempfile.TemporaryDirectory() as tmp:
        _, rows = sample_workspace(Path(tmp))
        rows = rows[: args.batch_size * (args.steps + 1)]
        dataset = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows])
        config = DPOConfig(
            output_dir=str(Path(tmp) / "out"),
            per_device_train_batch_size=args.batch_size,
            max_length=args.max_length,
            max_steps=args.steps + 1,
            learning_rate=1e-6,
            bf16=args.bf16 or args.ours_bf16,
            use_cpu=device() == "cpu",
            precompute_ref_log_probs=precompute,
            report_to=[],
            save_strategy="no",
            logging_steps=1,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        start = time.perf_counter()
        trainer = DPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
        ref_pass = time.perf_counter() - start
        trainer.add_callback(step_timer(times))
        trainer.train()
    return {
        "side": "trl-precompute" if precompute else "trl-stock",
        "step_s": statistics.median(times[1:]),
        "ref_pass_s": ref_pass,
        "peak_mib": peak_memory_mib(),
    }


SIDES = {
    "naive": run_naive,
    "ours": run_ours,
    "ours-keep": lambda args: run_ours(args, keep_all=True),
    "trl": lambda args: run_ours(args, trl_head=True),
    "trl-stock": lambda args: run_trl_stock(args, precompute=False),
    "trl-precompute": lambda args: run_trl_stock(args, precompute=True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up step)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on both sides")
    parser.add_argument(
        "--ours-bf16",
        action="store_true",
        help="bf16 autocast on our side only (fp32 master weights), against the textbook fp32 naive loop",
    )
    parser.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="ours with gradient checkpointing (trl-stock has it on: TRL's default)",
    )
    parser.add_argument(
        "--sides",
        default="naive,ours",
        help="comma-separated: naive, ours, ours-keep (ours keeping every activation: no elementwise recompute), "
        "trl (ours with TRL's log-prob head), trl-stock (trl.DPOTrainer with "
        "its defaults), trl-precompute (the same with precompute_ref_log_probs)",
    )
    parser.add_argument("--only", choices=tuple(SIDES), help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.only:
        print(json.dumps(SIDES[args.only](args)))
        return 0
    results = run_sides(__file__, args.sides.split(","))
    if results is None:
        return 1
    print(
        f"model {args.model}, DPO, batch {args.batch_size} pairs, max length {args.max_length}, "
        f"{'bf16 autocast' if args.bf16 else 'ours bf16 autocast, naive fp32' if args.ours_bf16 else 'fp32'}, "
        f"{args.steps} timed steps, ours {'with' if args.gradient_checkpointing else 'without'} gradient "
        f"checkpointing, on {device_name()}"
    )
    print(f"{'side':14} {'step s':>8} {'ref pass s':>11} {'peak MiB':>9}")
    for r in results.values():
        print(f"{r['side']:14} {r['step_s']:8.2f} {r['ref_pass_s']:11.2f} {r['peak_mib']:9.0f}")
    print_ratios(results)
    return 0


def print_ratios(results: dict) -> None:
    """Ours against each other side present: step time and peak memory, with the targets."""
    if "ours" not in results:
        return
    ours = results["ours"]
    targets = {"naive": ("<= 0.55x", ""), "trl-stock": ("<= 0.8x", "<= 1.1x")}
    for side, r in results.items():
        if side == "ours":
            continue
        step, memory = targets.get(side, ("", ""))
        print(
            f"ours / {side}: step {ours['step_s'] / r['step_s']:.2f}x{f' (target {step})' if step else ''}, "
            f"peak memory {ours['peak_mib'] / r['peak_mib']:.2f}x{f' (target {memory})' if memory else ''}"
        )


if __name__ == "__main__":
    sys.exit(main())
