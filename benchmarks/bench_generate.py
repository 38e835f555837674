"""vLLM vs transformers sampling throughput, side by side in one run.

    python benchmarks/bench_generate.py                      # SmolLM2-135M, 32 sample prompts x n=2 x 128 tokens
    python benchmarks/bench_generate.py --prompts 64 --max-tokens 256 --model PATH

Each engine runs in its own fresh process (so neither inherits the other's threads or memory), on the same
prompts with the same sampling parameters; the parent prints load time, generated tokens/s and the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import device_name, run_sides


def measure(
    engine_name: str, model: str, prompts: int, n: int, max_tokens: int, dtype: str, enforce_eager: bool
) -> dict:
    from data.imports import load_file
    from data.provision import resolve_model, sample_path
    from generate.engines import EngineOptions, SamplingParams, make_engine

    records, _ = load_file(sample_path("sft"))
    messages = [r.messages for r in records if type(r).__name__ == "Prompt"][:prompts]
    engine = make_engine(
        engine_name,
        resolve_model(model),
        EngineOptions(batch_size=prompts, dtype=dtype, enforce_eager=enforce_eager),
    )
    params = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    engine.sample(messages[:2], 1, SamplingParams(max_tokens=4))  # warm-up: first-call allocations
    start = time.perf_counter()
    samples = engine.sample(messages, n, params)
    seconds = time.perf_counter() - start
    tokens = sum(s.num_tokens for row in samples for s in row)
    return {
        "engine": engine_name,
        "load_s": engine.load_seconds,
        "gen_s": seconds,
        "tokens": tokens,
        "tok_per_s": tokens / seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--dtype", default="auto", help="both engines: auto, float32, bfloat16")
    parser.add_argument(
        "--enforce-eager", action=argparse.BooleanOptionalAction, default=True, help="vLLM eager mode"
    )
    parser.add_argument("--only", choices=("vllm", "hf"), help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    config = [args.model, args.prompts, args.n, args.max_tokens, args.dtype, args.enforce_eager]
    if args.only:
        print(json.dumps(measure(args.only, *config)))
        return 0
    results = run_sides(__file__, ["vllm", "hf"])
    if results is None:
        return 1
    print(
        f"model {args.model}, {args.prompts} prompts x n={args.n} x {args.max_tokens} max tokens, "
        f"dtype {args.dtype}, vLLM eager {args.enforce_eager}, on {device_name()}"
    )
    print(f"{'engine':8} {'load s':>8} {'gen s':>8} {'tokens':>8} {'tok/s':>8}")
    for r in results.values():
        print(f"{r['engine']:8} {r['load_s']:8.1f} {r['gen_s']:8.1f} {r['tokens']:8d} {r['tok_per_s']:8.1f}")
    ratio = results["vllm"]["tok_per_s"] / results["hf"]["tok_per_s"]
    print(f"throughput ratio vLLM / transformers: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
