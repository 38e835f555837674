"""The memory plan's estimate against the measured peak, per model shape.

    python benchmarks/bench_plan.py                                   # the three shapes below, one at a time
    python benchmarks/bench_plan.py --shapes qwen2.5-0.5b --batch-size 4 --max-length 512 --lora-r 0
    python benchmarks/bench_plan.py --build-only     # only build the folders (for bench_train.py --model)

For each shape: a model folder with that architecture and random weights (built once under --folder, SmolLM2's
tokenizer and chat template: its token ids fit every vocabulary here; memory does not depend on the weights'
values), a workspace of pairs whose chosen and rejected answers fill --max-length, then, as a user would,

    python -m train -w WS --model FOLDER --method dpo --max-steps 2 --batch-size B --max-length L [--lora-r R]

under GNU time. Prints the plan's line (what it chose and its estimate), the peak resident memory of the run and
the ratio estimate / measured (the plan's target: within ±25 %). CPU RSS here; on a GPU the plan budgets device
memory, which this script does not measure.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_memory import QWEN_05B

SHAPES = {
    "smollm2-135m": None,  # the provisioned model itself
    "qwen2.5-0.5b": ("qwen2", QWEN_05B),
    "gemma-3-270m": (
        "gemma3_text",
        dict(
            hidden_size=640,
            intermediate_size=2048,
            num_hidden_layers=18,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=256,
            vocab_size=262_144,
            sliding_window=512,
            max_position_embeddings=32_768,
            tie_word_embeddings=True,
        ),
    ),
}


def build_shape(name: str, root: Path) -> Path:
    """A folder holding a random-weight model of shape ``name`` (the provisioned folder for smollm2-135m)."""
    from data.provision import resolve_model

    if SHAPES[name] is None:
        return Path(resolve_model(name))
    folder = root / name
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m"))
    model_type, fields = SHAPES[name]
    ids = dict(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config = AutoConfig.for_model(model_type, **fields, **ids)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def long_pairs_file(path: Path, tokenizer_dir: Path, pairs: int, max_length: int) -> Path:
    """A LLaMA-Factory DPO file of ``pairs`` pairs whose prompt + answer fill about ``max_length`` tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "while",
        "seven",
        "bright",
        "stars",
        "shine",
    ]
    text, i = [], 0
    while len(tokenizer(" ".join(text))["input_ids"]) < max_length:
        text.append(f"{words[i % len(words)]}{i % 97}")
        i += 1
    answer = " ".join(text)
    rows = [
        {
            "conversations": [{"from": "human", "value": f"Question {n}: say something."}],
            "chosen": {"from": "gpt", "value": answer},
            "rejected": {"from": "gpt", "value": answer[::-1]},
        }
        for n in range(pairs)
    ]
    path.write_text(json.dumps(rows))
    return path


def measure(model: Path, args, tmp: Path) -> dict:
    from data import Workspace
    from data.imports import load_file, write_records

    ws = Workspace.init(tmp / "ws")
    pairs = long_pairs_file(tmp / "pairs.json", model, args.batch_size * 2, args.max_length)
    write_records(ws, *load_file(pairs))
    command = [
        "/usr/bin/time", "-v", sys.executable, "-m", "train", "-w", str(ws.path), "--model", str(model),
        "--method", "dpo", "--max-steps", "2", "--batch-size", str(args.batch_size),
        "--max-length", str(args.max_length), "--no-register", "--out", str(tmp / "run"),
    ]  # fmt: skip
    if args.lora_r is not None:
        command += ["--lora-r", str(args.lora_r)]
    if args.gradient_checkpointing:
        command.append("--gradient-checkpointing")
    done = subprocess.run(command, capture_output=True, text=True)
    log = done.stdout + done.stderr
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
    plan = re.search(r"memory plan: [^\n]*", log)
    estimate = re.search(r"about ([\d.]+) of", plan.group(0)) if plan else None
    if done.returncode:
        print(log[-3000:], file=sys.stderr)
    return {
        "status": done.returncode,
        "plan": plan.group(0) if plan else "(not printed)",
        "estimate_gib": float(estimate.group(1)) if estimate else float("nan"),
        "peak_gib": int(peak.group(1)) / 2**20 if peak else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated: {', '.join(SHAPES)}")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--lora-r", type=int, help="passed to python -m train (default: the plan chooses)")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="passed to python -m train")
    parser.add_argument(
        "--folder", type=Path, default=Path(tempfile.gettempdir()) / "prefloop-shapes", help="model folders"
    )
    parser.add_argument("--build-only", action="store_true", help="build the model folders, print them, stop")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.build_only:
        for name in args.shapes.split(","):
            print(build_shape(name, args.folder))
        return 0
    asked = (f" --lora-r {args.lora_r}" if args.lora_r is not None else "") + (
        " --gradient-checkpointing" if args.gradient_checkpointing else ""
    )
    print(
        f"python -m train --method dpo --max-steps 2 --batch-size {args.batch_size} --max-length "
        f"{args.max_length}{asked} (rows filling --max-length)"
    )
    print(f"{'shape':14} {'exit':>4} {'estimate GiB':>12} {'peak GiB':>9} {'est/peak':>8}  plan")
    failed = 0
    for name in args.shapes.split(","):
        model = build_shape(name, args.folder)
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(model, args, Path(tmp))
        failed |= r["status"]
        ratio = r["estimate_gib"] / r["peak_gib"]
        print(
            f"{name:14} {r['status']:4} {r['estimate_gib']:12.2f} {r['peak_gib']:9.2f} {ratio:8.2f}  {r['plan']}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
