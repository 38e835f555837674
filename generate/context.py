"""A model's context and what a prompt takes of it: an engine (`generate.engines`) gives its ``context_length`` and
``prompt_lengths``, and callers send only the prompts that fit (`fitting`), counting the others ``too_long``: vLLM
refuses a whole call for one longer prompt, and transformers generates garbage past its trained positions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from data.errors import PrefloopError, cut_name
from data.records import Message

if TYPE_CHECKING:  # engines imports this module
    from generate.engines import Engine

TOO_LONG = "too_long"  # the count of prompts (judge: pairs) not sent: longer than the model's context


def fitting(engine: Engine, prompts: list[list[Message]]) -> list[bool]:
    """Whether each prompt leaves room in the engine's context for at least one generated token, as vLLM requires
    (more is not required: generation stops at the context, finish reason ``length``, in both engines). Each prompt
    is tokenized once; an engine whose context is not known takes every prompt."""
    if engine.context_length is None:
        return [True] * len(prompts)
    return [tokens < engine.context_length for tokens in engine.prompt_lengths(prompts)]


def chat_texts(tokenizer, prompts: list[list[Message]], chat_template: str | None) -> list[str]:
    """The prompts rendered as the engines send them: the chat template (``None``: the model's) with the
    generation prompt, to be tokenized without added special tokens (the template holds its own)."""
    return [
        tokenizer.apply_chat_template(
            m, add_generation_prompt=True, tokenize=False, chat_template=chat_template
        )
        for m in prompts
    ]


def chat_lengths(tokenizer, prompts: list[list[Message]], chat_template: str | None) -> list[int]:
    texts = chat_texts(tokenizer, prompts, chat_template)
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


# transformers' model_max_length when a tokenizer names none (int(1e30)); any such huge value says nothing
UNSET_MODEL_MAX_LENGTH = 10**9


CONTEXT_KEYS = ("max_position_embeddings", "n_positions")  # n_positions: GPT-2's name


def positive_context(get: Callable[[str], object]) -> tuple[str, int] | None:
    """The first of `CONTEXT_KEYS` whose value (``get(key)``) is a positive whole number, with that value; None where
    none is (a negative, zero or absent one says no context: the engine's own limit stays)."""
    for key in CONTEXT_KEYS:
        value = get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return key, value
    return None


def check_max_tokens(
    max_tokens: int,
    folder: Path,
    named: str,
    max_model_len: int | None = None,
    config: dict | None = None,
    *,
    flag: str = "--max-tokens",
    shared_with: str = "the prompt",
) -> None:
    """Refuse, in one line before any model loads or anything is written, a cap on new tokens (``flag``:
    --max-tokens, or --judge-max-tokens for a chat-model judge) that fills the whole context the model in ``folder``
    (``named``: ``--model M``, ``--judge J``) gives a prompt and its answer together (`model_context`): ``shared_with``
    (a prompt; a judge's question and both answers) takes one token or more of it, so no answer can reach the cap,
    and every answer that ran on stopped at the context instead, counted as made."""
    found = model_context(folder, named, max_model_len, config)
    if found and max_tokens >= found[0]:
        raise PrefloopError(
            f"{flag} {max_tokens}: must be less than {named}'s context of {found[0]} tokens ({found[1]}), "
            f"which {shared_with} shares"
        )


def model_context(
    folder: Path, named: str, max_model_len: int | None = None, config: dict | None = None
) -> tuple[int, str] | None:
    """The context the model in ``folder`` (``named``: ``--model M``) gives a prompt and its answer together, and
    where it was read: ``max_model_len`` (--max-model-len, vLLM's: what it runs the model with) where set, else as
    its config.json says (its text model's, for a multimodal one). None for a config that names no positive context
    (the engine's own limit stays); one whose context is no whole number (a string, true) is refused here, not as
    transformers' traceback once the workspace was made. ``config``: the config.json the caller's model check
    parsed (`data.provision.model_config`), else it is read here."""
    path = folder / "config.json"
    if config is None:
        config = json.loads(path.read_text(encoding="utf-8"))
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    for key in CONTEXT_KEYS:
        value = text.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise PrefloopError(
                f"{named}: {key} in {path} is {cut_name(json.dumps(value))}, not a whole number of tokens"
            )
    if max_model_len is not None:
        return max_model_len, "--max-model-len"
    if _scaled(text.get("rope_scaling")):
        return None  # vLLM runs a scaled rope past max_position_embeddings (yarn: by its factor): its own limit stays
    key, context = positive_context(text.get) or (None, None)
    return (context, f"{key} in {path}") if context else None


def _scaled(rope_scaling: object) -> bool:
    """Whether a config's ``rope_scaling`` stretches the context past its ``max_position_embeddings`` (a factor
    above 1), which vLLM reads where transformers does not: then the config's figure is no limit to check."""
    factor = rope_scaling.get("factor") if isinstance(rope_scaling, dict) else None
    return isinstance(factor, int | float) and not isinstance(factor, bool) and factor > 1


def hf_context_length(config, tokenizer) -> int | None:
    """The model's context: its config's ``max_position_embeddings`` (``n_positions``: GPT-2's name), else the
    tokenizer's ``model_max_length`` when it names one; None when neither does."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    found = positive_context(lambda key: getattr(text_config, key, None))
    if found:
        return found[1]
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < UNSET_MODEL_MAX_LENGTH else None
