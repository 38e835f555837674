"""The one typed config of `python -m generate` (flags, or `--config run.yaml` with flags overriding), shared by a
single sampling job and the `--spin-iter` driver, whose training options are `train`'s own `TrainOptions`, nested:
`train:` in the YAML, `--train.learning-rate` (or `--train-learning-rate`) on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data.chat_template import NAMED, resolve_chat_template
from data.provision import DEFAULT_MODEL, EMBEDDED, SAMPLES
from generate.engines import ENGINES, EngineOptions, SamplingParams
from train.options import TrainOptions

SPIN_LIMIT = (
    32  # train prompts per SPIN iteration unless --limit says otherwise: minutes, not hours, on a CPU
)
# TrainOptions fields the SPIN driver sets itself for each iteration (not options of `train:`).
SPIN_OWNED = (
    "workspace",
    "model",
    "method",
    "out",
    "kinds",
    "rounds",
    "round",
    "resume",
    "overwrite",
    "register",
)
SPIN_TEST_FRACTION = 0.1  # prompts held out when --spin-iter imports --prompts without --test-fraction


@dataclass(frozen=True)
class GenerateOptions:
    workspace: Path = field(default=Path("ws"), metadata={"help": "workspace directory (created if missing)"})
    model: str = field(
        default=DEFAULT_MODEL,
        metadata={"help": "model short name, folder, or newest (the newest model in the workspace manifest)"},
    )
    chat_template: str | None = field(
        default=None,
        metadata={
            "help": f"chat template for a model without one (a base model): {', '.join(NAMED)}, or a Jinja file; "
            "default: the model's own"
        },
    )
    prompts: str | None = field(
        default=None,
        metadata={
            "help": f"import prompts first: a file, or a sample set ({', '.join(SAMPLES)}); with --spin-iter "
            "and no SFT prompts in the workspace: sft"
        },
    )
    test_fraction: float | None = field(
        default=None,
        metadata={
            "help": "hold out this fraction of the imported --prompts as split test "
            f"(default: 0, or {SPIN_TEST_FRACTION} with --spin-iter)"
        },
    )
    split: str = field(
        default="train", metadata={"help": "sample prompts of this split", "choices": ("train", "test")}
    )
    limit: int | None = field(
        default=None,
        metadata={
            "help": f"sample at most this many pending prompts (default: all; {SPIN_LIMIT} with --spin-iter)"
        },
    )
    shard: str | None = field(
        default=None,
        metadata={"help": "I/K: sample only the I-th of K disjoint prompt shards (one per machine)"},
    )
    round: int | None = field(
        default=None,
        metadata={"help": "round recorded on every row (default: the model's round in the manifest, else 0)"},
    )
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
    verbose: bool = field(
        default=False,
        metadata={"help": "show vLLM's and transformers' own INFO logs (default: warnings only)"},
    )
    cpu_kv_cache_gib: int = field(default=2, metadata={"help": "vLLM KV cache on CPU (GiB)"})
    # The SPIN driver: --spin-iter N runs N iterations of sample -> train -> register.
    spin_iter: int = field(
        default=0,
        metadata={
            "help": "SPIN: run N iterations (sample with the current iterate, train the next, register it)"
        },
    )
    spin_test_limit: int = field(
        default=16,
        metadata={
            "help": "SPIN and judge loops: held-out (test) prompts sampled and evaluated per iteration"
        },
    )
    spin_mix_previous: bool = field(
        default=False, metadata={"help": "SPIN: iteration t also trains on iteration t-1's pairs"}
    )
    spin_name: str = field(
        default="spin", metadata={"help": "SPIN: iterates go to WS/runs/<name>-iter<t> (one name per chain)"}
    )
    spin_samples: int = field(
        default=4, metadata={"help": "SPIN: held-out prompts compared in each iterate's samples.md"}
    )
    spin_isolate: bool = field(
        default=True,
        metadata={
            "help": "SPIN and judge loops, arena: run each sampling and training step (the arena: each model's "
            "sampling) in a fresh process (frees vLLM's memory)"
        },
    )
    # Machine labellers (generate.judge, generate.bestofn).
    judge: str | None = field(
        default=None,
        metadata={
            "help": "machine labeller: rm (newest reward model), rm:<model id>, or a chat model (short name or "
            "folder) judging with MT-Bench's pairwise prompt; alone: label the workspace's unlabelled pairs"
        },
    )
    judge_template: Path | None = field(
        default=None,
        metadata={"help": "judge prompt file with {question}, {answer_a}, {answer_b} (default: MT-Bench's)"},
    )
    judge_max_tokens: int = field(default=512, metadata={"help": "judge: new tokens per verdict (greedy)"})
    judge_max_length: int = field(
        default=1024, metadata={"help": "reward-model judge: tokens per prompt+completion (truncated beyond)"}
    )
    judge_labelled: bool = field(
        default=False,
        metadata={"help": "judge: also pairs people labelled already (to measure the judge against them)"},
    )
    pairs: str = field(
        default="random",
        metadata={
            "help": "how n samples become pairs: random (--pairs-per-prompt drawn) or best-worst (the best- and "
            "worst-scored by --judge, labelled by it)",
            "choices": ("random", "best-worst"),
        },
    )
    judge_iter: int = field(
        default=0,
        metadata={
            "help": "machine rounds: N iterations of sample --n -> best-worst pairs by --judge -> DPO -> register"
        },
    )
    judge_name: str = field(
        default="judge",
        metadata={"help": "judge loop: iterates go to WS/runs/<name>-iter<t> (one per chain)"},
    )
    # Arena rounds (generate.arena): model versions answer the same prompts, paired head to head.
    arena: tuple[str, ...] | None = field(
        default=None,
        metadata={
            "help": "models to compare: base, newest, a manifest id, a short name or folder (e.g. base,newest); "
            "after --spin-iter/--judge-iter: sampled on the loop's held-out prompts, then the leaderboard"
        },
    )
    arena_pairs: int = field(
        default=0, metadata={"help": "arena: random model pairs per prompt (0: every pair of models)"}
    )
    arena_n: int = field(default=1, metadata={"help": "arena: answers per prompt and model"})
    kinds: tuple[str, ...] | None = field(
        default=None,
        metadata={
            "help": "--judge alone: judge pairs of these kinds (e.g. arena; default: the labelling pairs)"
        },
    )
    train: TrainOptions = field(
        default_factory=TrainOptions,
        metadata={
            "help": "training options of --spin-iter / --judge-iter (YAML: a `train:` mapping; flags: "
            "--train.NAME or --train-NAME)",
            "owned": SPIN_OWNED,
        },
    )


def sampling_params(options: GenerateOptions) -> SamplingParams:
    return SamplingParams(options.temperature, options.top_p, options.max_tokens, options.seed)


def engine_options(options: GenerateOptions) -> EngineOptions:
    return EngineOptions(
        dtype=options.dtype,
        max_model_len=options.max_model_len,
        enforce_eager=options.enforce_eager,
        tensor_parallel_size=options.tensor_parallel_size,
        data_parallel_size=options.data_parallel_size,
        gpu_memory_utilization=options.gpu_memory_utilization,
        cpu_kv_cache_gib=options.cpu_kv_cache_gib,
        batch_size=options.chunk_size,
        chat_template=resolve_chat_template(options.chat_template),
        verbose=options.verbose,
    )


def model_label(model: str) -> str:
    """What completions record as their model: the short name, or an absolute folder."""
    return model if model in EMBEDDED or not Path(model).exists() else str(Path(model).resolve())
