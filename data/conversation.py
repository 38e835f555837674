"""The turn rules of a multi-turn prompt, checked when a conversation is imported.

A prompt is a conversation that the labelled answers continue: an optional system message first, then user and
assistant turns taking turns, starting and ending with the user (LLaMA-Factory's and TRL's conversational form;
a chat template that alternates roles would refuse anything else at training time). Every turn has text.

What no text a workspace stores now holds, whoever wrote it (`storable`): a NUL or a lone surrogate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from data.records import Message

LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # half a UTF-16 pair: no UTF-8 text, Parquet cannot store it
REPLACEMENT = "\ufffd"  # U+FFFD, Unicode's mark for a character that could not be kept


def storable(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with each NUL (which `data import` refuses, `data.import_text.clean_text`: C tools and terminals
    downstream end the text there) and each lone surrogate (which Parquet cannot store) replaced by U+FFFD, and
    what it held, by reason: ``nul_replaced``, ``invalid_text_replaced``; a model's answer so changed is stored
    and read back, not refused or dropped."""
    reasons = []
    if "\x00" in text:
        text, reasons = text.replace("\x00", REPLACEMENT), ["nul_replaced"]
    if LONE_SURROGATE.search(text):
        text = LONE_SURROGATE.sub(REPLACEMENT, text)
        reasons.append("invalid_text_replaced")
    return text, tuple(reasons)


def blank(text: str) -> bool:
    """Whether ``text`` shows nothing: whitespace and invisible format characters only (a zero-width space U+200B,
    a word joiner, a BOM: Unicode's category Cf), which ``str.strip`` keeps, so "\u200b" read as an answer."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


def turn_problem(messages: Sequence[Message], start: int = 0) -> tuple[int, str, str] | None:
    """The first turn of ``messages`` that breaks the rules, as (index, reason, message), or None.

    ``start`` is the index the first message had in the file (-1 when a record's separate ``system`` field was put
    in front of its conversation), so the message names the turn as the file numbers it."""
    previous = None
    for index, message in enumerate(messages):
        role, shown = message["role"], index + start
        if blank(message["content"]):
            return index, "empty_turn", f"message {shown} ({role}) has no text"
        if role == "system":
            if index:
                return index, "bad_role_order", f"message {shown}: a system message may only come first"
            continue
        if previous is None and role != "user":
            return index, "bad_role_order", f"message {shown}: the conversation must start with a user turn"
        if role == previous:
            return (
                index,
                "bad_role_order",
                f"message {shown}: two {role} turns in a row (user and assistant turns alternate)",
            )
        previous = role
    return None
