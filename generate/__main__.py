"""`python -m generate`: sample from a model into a workspace.

    python -m generate -w ws --model smollm2-135m --prompts sft --limit 32 --n 2     # pairs for labellers
    python -m generate -w ws --model smollm2-135m --prompts sft --limit 64 --spin    # SPIN negatives
    python -m generate -w ws --config sample.yaml --temperature 0.8                  # YAML + overriding flags
    python -m generate -w ws-2 --prompts sft --shard 2/4 ...   # machine 2 of 4; then: python -m data merge -w ws ws-2

Reruns resume: only prompts without completions from this model in this round are sampled.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from data.config import ConfigError, add_options, build
from data.imports import load_file, write_records
from data.provision import DEFAULT_MODEL, EMBEDDED, SAMPLES, ProvisionError, resolve_model, sample_path
from data.schemas import SchemaError
from data.workspace import Workspace, WorkspaceError
from generate.engines import ENGINES, EngineOptions, SamplingParams, make_engine
from generate.sampling import check_pair_params, parse_shard, sample_pairs, sample_spin


@dataclass(frozen=True)
class GenerateOptions:
    workspace: Path = field(default=Path("ws"), metadata={"help": "workspace directory (created if missing)"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "model short name or folder"})
    prompts: str | None = field(
        default=None,
        metadata={"help": f"import prompts first: a file, or a sample set ({', '.join(SAMPLES)})"},
    )
    split: str = field(
        default="train", metadata={"help": "sample prompts of this split", "choices": ("train", "test")}
    )
    limit: int = field(default=0, metadata={"help": "sample at most this many pending prompts (0: all)"})
    shard: str | None = field(
        default=None,
        metadata={"help": "I/K: sample only the I-th of K disjoint prompt shards (one per machine)"},
    )
    round: int = field(default=0, metadata={"help": "round / iteration recorded on every row"})
    spin: bool = field(
        default=False, metadata={"help": "SPIN negatives: one sample per gold prompt, gold chosen"}
    )
    n: int = field(default=2, metadata={"help": "samples per prompt (pairs)"})
    pairs_per_prompt: int = field(
        default=1, metadata={"help": "pairs kept per prompt among the n samples (0: all)"}
    )
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    max_tokens: int = field(default=128, metadata={"help": "new tokens per sample"})
    seed: int = field(default=0, metadata={"help": "base seed; samples are seeded per prompt and index"})
    engine: str = field(
        default="auto", metadata={"help": "vllm, hf, or auto (vLLM if it imports)", "choices": ENGINES}
    )
    chunk_size: int = field(default=32, metadata={"help": "prompts per durable write (and per HF batch)"})
    dtype: str = field(default="auto", metadata={"help": "model dtype: auto, float32, bfloat16, float16"})
    max_model_len: int | None = field(default=None, metadata={"help": "vLLM max model length"})
    enforce_eager: bool = field(
        default=True, metadata={"help": "vLLM eager mode (no graph capture: faster start)"}
    )
    tensor_parallel_size: int = field(default=1, metadata={"help": "vLLM tensor parallel GPUs"})
    data_parallel_size: int = field(default=1, metadata={"help": "vLLM data parallel replicas"})
    gpu_memory_utilization: float = field(default=0.85, metadata={"help": "vLLM GPU memory fraction"})
    cpu_kv_cache_gib: int = field(default=2, metadata={"help": "vLLM KV cache on CPU (GiB)"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generate",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument(
        "-w", dest="workspace", type=Path, default=argparse.SUPPRESS, help="same as --workspace"
    )
    add_options(parser, GenerateOptions)
    return parser


def model_label(model: str) -> str:
    """What completions record as their model: the short name, or an absolute folder."""
    return model if model in EMBEDDED or not Path(model).exists() else str(Path(model).resolve())


def run(options: GenerateOptions) -> dict:
    """Sample into the workspace as the options say; returns the counts."""
    # Every check comes before the workspace is touched: bad input writes nothing.
    model_path = resolve_model(options.model)
    shard = parse_shard(options.shard) if options.shard else None
    params = SamplingParams(options.temperature, options.top_p, options.max_tokens, options.seed)
    if not options.spin:
        check_pair_params(options.n, params)
    loaded = None
    if options.prompts:
        path = sample_path(options.prompts) if options.prompts in SAMPLES else Path(options.prompts)
        loaded = load_file(path)
    workspace = Workspace.open_or_init(options.workspace)
    if loaded:
        write_records(workspace, *loaded)
    engine_options = EngineOptions(
        dtype=options.dtype,
        max_model_len=options.max_model_len,
        enforce_eager=options.enforce_eager,
        tensor_parallel_size=options.tensor_parallel_size,
        data_parallel_size=options.data_parallel_size,
        gpu_memory_utilization=options.gpu_memory_utilization,
        cpu_kv_cache_gib=options.cpu_kv_cache_gib,
        batch_size=options.chunk_size,
    )
    common = dict(
        round=options.round,
        split=options.split,
        limit=options.limit,
        chunk_size=options.chunk_size,
        shard=shard,
    )
    engine = make_engine(options.engine, model_path, engine_options)
    label = model_label(options.model)
    if options.spin:
        return dict(sample_spin(workspace, engine, label, params, **common))
    return dict(
        sample_pairs(
            workspace, engine, label, options.n, params, pairs_per_prompt=options.pairs_per_prompt, **common
        )
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        options = build(GenerateOptions, build_parser().parse_args(argv))
        counts = run(options)
    except (SchemaError, WorkspaceError, ProvisionError, ConfigError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("done: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
