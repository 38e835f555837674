"""The typed config of `python -m generate` (flags, or `--config run.yaml` with flags overriding): `SampleOptions`,
what every sampling job reads (model, prompts, sampling, engine, machine labeller), and `GenerateOptions`, one
sampling or labelling job. The round drivers extend `SampleOptions` with their own (`generate.loop.options`); the
modes of a job and the options only each reads are in `generate.modes`."""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from data.annotators import RM_PREFIX
from data.chat_template import NAMED, resolve_chat_template, template_id
from data.cli import check_applies
from data.config import ConfigError
from data.errors import PrefloopError, number_shown
from data.lineage import is_reward_model_name
from data.provision import DEFAULT_MODEL, SAMPLES
from data.schemas import PAIR_KINDS
from generate.engines import ENGINES, EngineOptions, SamplingParams
from generate.vllm_check import check_engine

SPIN_LIMIT = (
    32  # train prompts per SPIN iteration unless --limit says otherwise: minutes, not hours, on a CPU
)
DTYPES = ("auto", "float32", "bfloat16", "float16")  # what both engines take (hf maps them to torch's)
SPIN_TEST_FRACTION = (
    0.1  # each prompt's chance of test as a round driver imports --prompts (no --test-fraction)
)
# samples per prompt (--n, --arena-n), a ceiling far past what preference data asks for: --n 10**12 was torch's
# allocation error once --prompts was imported (hf), or a loop building 10**12 requests (vLLM)
MAX_SAMPLES = 1024
SEEDS = 2**32  # --seed in [0, 2**32), as train's: a seed, never "random" (-1 was taken, as another seed)


@dataclass(frozen=True)
class SampleOptions:
    workspace: Path = field(
        default=Path("ws"),
        metadata={"metavar": "WS", "help": "workspace directory, created if missing (default: ws)"},
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata={
            "path": True,
            "metavar": "M",
            "help": "model short name, folder (runs/x: here, else the workspace's), hub id (org/model), or "
            "newest (the newest model in the workspace manifest)",
        },
    )
    chat_template: str | None = field(
        default=None,
        metadata={
            "path": True,
            "metavar": "TEMPLATE",
            "help": f"chat template for a model without one (a base model): {', '.join(NAMED)}, or a Jinja file; "
            "default: the model's own",
        },
    )
    prompts: str | None = field(
        default=None,
        metadata={
            "path": True,
            "metavar": "FILE",
            "help": f"import prompts first: a file, or a sample set ({', '.join(SAMPLES)}); with --spin-iter "
            "and no SFT prompts in the workspace: sft",
        },
    )
    test_fraction: float | None = field(
        default=None,
        metadata={
            "help": "hold out about this fraction of the imported --prompts as split test, in [0, 1): each "
            f"prompt's chance, drawn from a hash of its messages (default: 0.0, or {SPIN_TEST_FRACTION} with "
            "--spin-iter or --judge-iter)"
        },
    )
    limit: int | None = field(
        default=None,
        metadata={
            "help": "the first N prompts of --split (round drivers: of train; --judge: pairs to judge), oldest "
            "first, a fixed set: a rerun samples (judges) only those not done yet, a larger --limit the next ones "
            f"(0 or left out: all; {SPIN_LIMIT} with --spin-iter or --judge-iter)"
        },
    )
    n: int = field(default=2, metadata={"help": f"samples per prompt (pairs), at most {MAX_SAMPLES}"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    max_tokens: int = field(default=128, metadata={"help": "new tokens per sample"})
    seed: int = field(
        default=0,
        metadata={
            "help": f"base seed in [0, {SEEDS - 1}]; samples are seeded per prompt and index (always: never random)"
        },
    )
    engine: str = field(
        default="auto", metadata={"help": "vllm, hf, or auto (vLLM if it imports)", "choices": ENGINES}
    )
    chunk_size: int = field(default=32, metadata={"help": "prompts per durable write (and per HF batch)"})
    dtype: str = field(default="auto", metadata={"help": "model dtype", "choices": DTYPES})
    max_model_len: int | None = field(default=None, metadata={"help": "vLLM max model length"})
    enforce_eager: bool = field(
        default=True, metadata={"help": "vLLM eager mode (no graph capture: faster start)"}
    )
    tensor_parallel_size: int = field(default=1, metadata={"help": "vLLM tensor parallel GPUs"})
    data_parallel_size: int = field(
        default=1,
        metadata={
            "help": "vLLM data parallel replicas: only 1, the default (vLLM's offline engine takes no more in one "
            "process; for replicas, one --shard per GPU)"
        },
    )
    distributed_executor_backend: str | None = field(
        default=None,
        metadata={
            "help": "vLLM's workers across GPUs: mp (this machine) or ray (a Ray cluster, more GPUs than this "
            "machine has); default: vLLM's choice (mp)",
            "choices": ("mp", "ray"),
        },
    )
    gpu_memory_utilization: float = field(default=0.85, metadata={"help": "vLLM GPU memory fraction"})
    verbose: bool = field(
        default=False,
        metadata={"help": "show vLLM's and transformers' own INFO logs (default: warnings only)"},
    )
    cpu_kv_cache_gib: int | None = field(
        default=None,
        metadata={
            "help": "vLLM KV cache on CPU (GiB), over VLLM_CPU_KVCACHE_SPACE; default: that variable where set, "
            "else 2"
        },
    )
    # Arena rounds (generate.arena): model versions answer the same prompts, paired head to head.
    arena: tuple[str, ...] | None = field(
        default=None,
        metadata={
            "help": "models to compare: base, newest, a manifest id, a short name, folder (runs/x: here, else the "
            "workspace's) or hub id (e.g. base,newest,runs/dpo-1; a folder whose name holds a comma as a value "
            "of its own: --arena base 'runs/a,b'); "
            "after --spin-iter/--judge-iter: sampled on the loop's held-out prompts, then the leaderboard",
            "folders": True,
        },
    )
    arena_pairs: int = field(
        default=0,
        metadata={"metavar": "K", "help": "arena: random model pairs per prompt (0: every pair of models)"},
    )
    arena_n: int = field(
        default=1, metadata={"help": f"arena: answers per prompt and model, at most {MAX_SAMPLES}"}
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
            "path": True,
            "metavar": "J",
            "help": "machine labeller: rm (newest reward model), rm:<model id>, rm:FOLDER (a reward model outside "
            "the manifest), or a chat model (short name, folder or hub id) judging with MT-Bench's pairwise prompt; "
            "alone: label the workspace's pairs people have not labelled",
        },
    )
    judge_template: Path | None = field(
        default=None,
        metadata={
            "metavar": "FILE",
            "help": "chat-model judge: prompt file with {question}, {answer_a}, {answer_b} (default: MT-Bench's)",
        },
    )
    judge_max_tokens: int = field(
        default=512, metadata={"help": "chat-model judge: new tokens per verdict (greedy)"}
    )
    judge_max_length: int = field(
        default=1024,
        metadata={
            "help": "reward-model judge: tokens per prompt+completion (a longer pair is not scored: too_long)"
        },
    )


@dataclass(frozen=True)
class GenerateOptions(SampleOptions):
    split: str | None = field(
        default=None,
        metadata={
            "help": "sample prompts of this split (default: train; --arena: test where the workspace holds test "
            "prompts, else train)",
            "choices": ("train", "test"),
        },
    )
    shard: str | None = field(
        default=None,
        metadata={
            "metavar": "I/K",
            "help": "sample only the I-th of K disjoint prompt shards (one per machine)",
        },
    )
    round: int | None = field(
        default=None,
        metadata={
            "metavar": "N",
            "help": "round recorded on every row (default: the model's round in the manifest, else 0)",
        },
    )
    spin: bool = field(
        default=False, metadata={"help": "SPIN negatives: one sample per gold prompt, gold chosen"}
    )
    pairs_per_prompt: int = field(
        default=1, metadata={"help": "pairs kept per prompt among the n samples (0: all)"}
    )
    pairs: str = field(
        default="random",
        metadata={
            "help": "how n samples become pairs: random (--pairs-per-prompt drawn) or best-worst (the best- and "
            "worst-scored by --judge, labelled by it)",
            "choices": ("random", "best-worst"),
        },
    )
    judge_labelled: bool = field(
        default=False,
        metadata={"help": "judge: also pairs people labelled already (to measure the judge against them)"},
    )
    kinds: tuple[str, ...] | None = field(
        default=None,
        metadata={
            "help": "--judge alone: judge pairs of these kinds (e.g. arena; default: the labelling pairs)"
        },
    )


def arena_names(names: Iterable[str]) -> str:
    """``names`` as --arena's values on a command line: each a value of its own (a folder's name may hold a comma,
    which a value of several names is split at), quoted as the shell needs; one holding a comma is quoted anyway,
    so that it reads as one folder (`--arena base 'runs/a,b'`), not as a list."""
    quoted = [(shlex.quote(n), n) for n in names]
    return " ".join(f"'{n}'" if q == n and "," in n else q for q, n in quoted)


def check_arena(options: SampleOptions) -> None:
    """The arena's counts, each refused by its own flag (one line said all three, whichever was wrong)."""
    if len(options.arena) < 2:
        raise PrefloopError(
            f"--arena {arena_names(options.arena)}: one model; --arena needs two models or more"
        )
    if options.arena_pairs < 0:
        raise PrefloopError(f"--arena-pairs {options.arena_pairs}: must be >= 0 (0: every pair of models)")
    if not 1 <= options.arena_n <= MAX_SAMPLES:
        raise PrefloopError(
            f"--arena-n {options.arena_n}: must be in [1, {MAX_SAMPLES}] (answers per prompt and model)"
        )


def check_sample_options(options: SampleOptions) -> None:
    """The sampling values every job reads, refused before anything loads or is written: out of range, they reached
    the engine (a traceback once --prompts was imported) or were taken as something else (--top-p 1.5 as 1)."""
    bounds = [
        ("n", 1 <= options.n <= MAX_SAMPLES, f"must be in [1, {MAX_SAMPLES}] (samples per prompt)"),
        (
            "seed",
            0 <= options.seed < SEEDS,
            f"must be in [0, {SEEDS - 1}] (sampling is always seeded, never random)",
        ),
        ("chunk_size", options.chunk_size >= 1, "must be >= 1"),
        ("max_tokens", options.max_tokens >= 1, "must be >= 1"),
        # inf passed `>= 0` and sampled every token uniformly at random
        ("temperature", 0 <= options.temperature < math.inf, "must be a finite number >= 0"),
        ("top_p", 0 < options.top_p <= 1, "must be in (0, 1]"),
        ("judge_max_tokens", options.judge_max_tokens >= 1, "must be >= 1"),
        ("judge_max_length", options.judge_max_length >= 1, "must be >= 1"),
        # vLLM's own: out of range they were its traceback once the workspace was written (or, data parallel,
        # taken as 1)
        ("tensor_parallel_size", options.tensor_parallel_size >= 1, "must be >= 1"),
        ("data_parallel_size", options.data_parallel_size >= 1, "must be >= 1"),
        ("gpu_memory_utilization", 0 < options.gpu_memory_utilization <= 1, "must be in (0, 1]"),
        (
            "cpu_kv_cache_gib",
            options.cpu_kv_cache_gib is None or options.cpu_kv_cache_gib >= 1,
            "must be >= 1",
        ),
        ("max_model_len", options.max_model_len is None or options.max_model_len >= 1, "must be >= 1"),
    ]
    if isinstance(options, GenerateOptions):
        bounds += [
            ("pairs_per_prompt", options.pairs_per_prompt >= 0, "must be >= 0 (0: every pair)"),
            ("round", options.round is None or options.round >= 0, "must be >= 0"),
        ]
    for name, ok, rule in bounds:
        if not ok:
            raise PrefloopError(f"--{name.replace('_', '-')} {number_shown(getattr(options, name))}: {rule}")
    if isinstance(options, GenerateOptions):
        check_judged_kinds(options.kinds or ())
    if options.judge is not None and not options.judge.strip():  # it read as no judge: another job ran
        raise PrefloopError(
            f"--judge {options.judge!r}: names no judge (rm, rm:<id>, rm:FOLDER or a chat model)"
        )
    if options.judge and options.judge.startswith(RM_PREFIX) and not options.judge[len(RM_PREFIX) :].strip():
        # it said "no reward model 'rm:' in the manifest", as if one were missing
        raise PrefloopError(
            f"--judge {options.judge!r}: rm: needs a reward model's id or folder after it (rm:<model id>, "
            "rm:FOLDER), or give rm alone for the newest reward model"
        )
    if options.data_parallel_size > 1:  # vLLM's ValueError traceback, once --prompts was imported
        raise PrefloopError(
            f"--data-parallel-size {options.data_parallel_size}: vLLM's offline engine runs one replica per process "
            "(it refuses LLM(data_parallel_size > 1)); for replicas, sample one --shard I/K per GPU "
            "(CUDA_VISIBLE_DEVICES), each into a workspace of its own, then `python -m data merge`"
        )
    check_engine(options.engine, options.verbose)  # last: it imports vLLM, which takes seconds


def check_judged_kinds(kinds: Iterable[str]) -> None:
    """``--kinds`` names pair kinds a judge votes on: a misspelt one (or ``edit``, whose verdict is its editor's)
    judged nothing and exited 0."""
    judged = [kind for kind in PAIR_KINDS if kind != "edit"]
    unknown = [kind for kind in kinds if kind not in judged]
    if unknown:
        raise PrefloopError(
            f"--kinds {' '.join(unknown)}: not a pair kind a judge votes on (expected some of {', '.join(judged)}; "
            "an edit pair's verdict is its editor's)"
        )


def sampling_params(options: SampleOptions) -> SamplingParams:
    """The parameters a job samples with and records with each answer (its chat template's id among them: answers
    of another template are another job's)."""
    template = template_id(resolve_chat_template(options.chat_template))
    return SamplingParams(options.temperature, options.top_p, options.max_tokens, options.seed, template)


# The options only vLLM reads: set for `--engine hf` (by flag or YAML), one line says so rather than nothing
VLLM_ONLY = (
    "max_model_len",
    "enforce_eager",
    "tensor_parallel_size",
    "data_parallel_size",
    "distributed_executor_backend",
    "gpu_memory_utilization",
    "cpu_kv_cache_gib",
)


# The judge options only one kind of machine labeller reads: True, a reward model's; False, a chat model's
JUDGE_KIND_ONLY = {"judge_template": False, "judge_max_tokens": False, "judge_max_length": True}


def check_sample_applies(explicit: set[str], options: SampleOptions) -> None:
    """Refuse an option set (``explicit``: by flag or YAML) that the chosen engine or judge does not read: a vLLM
    option for ``--engine hf`` (``auto`` takes them: vLLM where it imports), and a judge option of the other kind
    of ``--judge`` (a reward model asks no question: --judge-template, --judge-max-tokens; a chat model's context is
    its own: --judge-max-length)."""
    check_applies(explicit, options.engine, dict.fromkeys(VLLM_ONLY, ("vllm", "auto")), "--engine")
    if not options.judge:
        return
    reward_model = is_reward_model_name(options.judge)
    for name in sorted(explicit):
        if JUDGE_KIND_ONLY.get(name, reward_model) != reward_model:
            reads = "a chat model" if reward_model else "a reward model (--judge rm, rm:<id> or rm:FOLDER)"
            raise ConfigError(f"--{name.replace('_', '-')} applies to {reads}, not --judge {options.judge}")


def engine_options(options: SampleOptions) -> EngineOptions:
    return EngineOptions(
        dtype=options.dtype,
        max_model_len=options.max_model_len,
        enforce_eager=options.enforce_eager,
        tensor_parallel_size=options.tensor_parallel_size,
        distributed_executor_backend=options.distributed_executor_backend,
        gpu_memory_utilization=options.gpu_memory_utilization,
        cpu_kv_cache_gib=options.cpu_kv_cache_gib,
        batch_size=options.chunk_size,
        chat_template=resolve_chat_template(options.chat_template),
        verbose=options.verbose,
    )
