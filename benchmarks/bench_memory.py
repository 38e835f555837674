"""Peak memory of the SPIN loop on a 0.5B model with default settings: does it fit the 24 GB machine?

    python benchmarks/bench_memory.py                  # Qwen2.5-0.5B architecture, random weights
    python benchmarks/bench_memory.py --model PATH     # a real model folder instead

Builds (once, in --folder) a model with Qwen2.5-0.5B's architecture (24 layers, hidden 896, vocabulary 151,936,
494M parameters) and random weights, with SmolLM2's tokenizer and chat template (its token ids fit the larger
vocabulary; memory does not depend on the weights' values). Then runs, as a user would,

    python -m generate -w WS --model FOLDER --spin-iter 1 --limit 8 --train-max-steps 2

with every other option at its default, and prints the wall time, the exit status, the memory plan the training
chose and the peak resident memory of the largest process (GNU time's "Maximum resident set size": the sampling and
the training each run in a process of their own).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QWEN_05B = dict(
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    vocab_size=151_936,
    max_position_embeddings=32_768,
    rope_theta=1_000_000.0,
    tie_word_embeddings=True,
)


def build_model(folder: Path) -> Path:
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from data.provision import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m"))
    config = Qwen2Config(
        **QWEN_05B,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model folder (default: build the 0.5B stand-in)")
    parser.add_argument(
        "--folder", type=Path, default=Path(tempfile.gettempdir()) / "prefloop-qwen05b-random"
    )
    args = parser.parse_args()
    model = args.model or build_model(args.folder)
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "/usr/bin/time", "-v", sys.executable, "-m", "generate", "-w", str(Path(tmp) / "ws"),
            "--model", str(model), "--spin-iter", "1", "--limit", "8", "--train-max-steps", "2",
        ]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
    log = done.stdout + done.stderr
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
    plan = re.search(r"memory plan: [^\n]*", log)
    print(f"model {model} ({'random weights, Qwen2.5-0.5B architecture' if not args.model else 'as given'})")
    print("command: python -m generate -w WS --model MODEL --spin-iter 1 --limit 8 --train-max-steps 2")
    print(f"exit status {done.returncode}, wall {wall:.0f} s")
    print(plan.group(0) if plan else "memory plan: (not printed)")
    print(f"peak RSS of the largest process: {int(peak.group(1)) / 2**20:.1f} GiB" if peak else "peak RSS: ?")
    if done.returncode:
        print(log[-3000:])
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
