"""What a sampled completion's text is, the same for every engine: no special token in it, and, for a base model
sampled with `--chat-template roles`, cut before the next turn's role line.

- Special tokens: ``skip_special_tokens`` drops only what the tokenizer's decoder counts as special; an added token
  flagged special but missing from that list (Gemma 3's ``<start_of_image>`` was left in an hf sample) is dropped
  too, by id before decoding (hf) or by its text after (vLLM, which detokenizes as it samples).
- Turn markers: a base model has no end-of-turn token of its own, so after its answer it writes ``User: ...`` and
  answers itself. Sampling stops at the marker (vLLM's ``stop``, transformers' ``stop_strings``), the text is cut
  before it (trailing blank lines dropped) and ``finish_reason`` is ``turn_marker``.
- Characters no stored text holds: a NUL (a model sampled at a high temperature writes one), which `data import`
  refuses in the exports that hold it, and a lone surrogate, which Parquet cannot store, are each replaced by U+FFFD
  (`data.conversation.storable`) before the answer is stored, the answers so changed counted in the job's summary by
  reason (``nul_replaced``, ``invalid_text_replaced``): `storable_samples`, for every job that stores samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from data.conversation import storable

if TYPE_CHECKING:
    from generate.engines import Sample

TURN_MARKER = "turn_marker"  # finish_reason of a completion that stopped at the next turn's marker


def special_token_ids(tokenizer) -> set[int]:
    """Every special token id of ``tokenizer``: its named special tokens and the added tokens flagged special."""
    ids = set(getattr(tokenizer, "all_special_ids", ()) or ())
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    ids.update(index for index, token in added.items() if getattr(token, "special", False))
    return ids


def special_token_texts(tokenizer) -> tuple[str, ...]:
    """The texts of ``special_token_ids``, longest first (so a token containing another is removed whole)."""
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    texts = set(getattr(tokenizer, "all_special_tokens", ()) or ())
    texts.update(getattr(t, "content", str(t)) for t in added.values() if getattr(t, "special", False))
    return tuple(sorted((t for t in texts if t), key=lambda t: (-len(t), t)))


def strip_special(text: str, specials: Sequence[str]) -> str:
    for special in specials:
        text = text.replace(special, "")
    return text


def cut_at_marker(text: str, markers: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first of ``markers`` (trailing whitespace dropped), and whether one was found."""
    found = [at for at in (text.find(m) for m in markers) if at >= 0]
    if not found:
        return text, False
    return text[: min(found)].rstrip(), True


def storable_samples(samples: list[Sample], counts: Counter) -> list[Sample]:
    """``samples`` with texts a workspace stores and `data import` reads back (`data.conversation.storable`), each
    answer changed counted in ``counts`` by reason."""
    out = []
    for sample in samples:
        text, reasons = storable(sample.text)
        counts.update(reasons)
        out.append(replace(sample, text=text) if reasons else sample)
    return out
