"""The text of an imported record's fields: a message's content (a string, or content parts whose text parts are
joined with newlines, as vLLM joins them), an answer (text, parts, a message object, or a message list ending on
it), each refused where Parquet could not store it; and `RecordContext`, where a record came from, for its errors."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from data.conversation import LONE_SURROGATE, blank
from data.errors import counted, names_shown, shown
from data.import_records import RecordError

ROLE_ALIASES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "system": "system",
}
# where a message or candidate object keeps its text (``response``: a raw UltraFeedback row's completions)
TEXT_KEYS = ("content", "value", "text", "completion", "response")
RATINGS = "ratings"  # an answer object's ratings: {aspect: value}
ANNOTATIONS = "annotations"  # UltraFeedback's instead: {aspect: {"Rating": "4", "Rationale": ...}}
RATING = "Rating"
TEXT_PART_TYPES = ("text", "input_text", "output_text")
NON_TEXT = ("fail", "drop")
_ITEM = re.compile(r"\[\d+\]")  # a list index in a field's name: ``completions[2]``


@dataclasses.dataclass
class RecordContext:
    """Where a record came from, for its errors; counts the non-text parts left out of it, and keeps the keys of the
    objects inside its fields that it did not read (`unread_keys`)."""

    source: str
    row: int
    non_text: str = "fail"
    dropped_parts: int = 0
    # keys of a message or answer object not read, by dotted name (`messages[].tool_calls`): `Reading.inside`
    unread: dict[str, object] = dataclasses.field(default_factory=dict)

    def error(self, message: str, field: str | None = None, reason: str = "invalid") -> RecordError:
        return RecordError(self.source, message, row=self.row, field=field, reason=reason)

    def unread_keys(self, where: str, value: object, read: Iterable[str]) -> None:
        """The keys of the object ``value`` at ``where`` (a field, ``completions[2]``) other than ``read`` as not
        read, by the field's name for every item of a list (``completions[].annotations``), so that an object's
        keys (UltraFeedback's ``annotations``, a message's ``tool_calls``) are named, not dropped unsaid. An empty
        value (``"tool_calls": []``) gives nothing to read."""
        if isinstance(value, dict):
            name = _ITEM.sub("[]", where)
            for key, item in value.items():
                if key not in read and item not in ("", [], {}):
                    self.unread.setdefault(f"{name}.{key}", item)


def annotation(note: object) -> object:
    """One aspect's UltraFeedback annotation: an object, which early releases give as a list of one
    (``[{"Rating": "4", ...}]``); any other value as it is."""
    return note[0] if isinstance(note, list) and len(note) == 1 and isinstance(note[0], dict) else note


def answer_ratings(item: object) -> tuple[object, str] | None:
    """An answer object's ratings and the key they are read from: its ``ratings``, else a raw UltraFeedback row's
    ``annotations``, each aspect's ``Rating`` (``{"honesty": {"Rating": "4", "Rationale": ...}}`` is ``{"honesty":
    "4"}``, as is a list of that one object, `annotation`; one without its Rating, null too, not rated; an aspect's
    value that is no object is checked as it is); None where it gives none (null, "", {})."""
    if not isinstance(item, dict):
        return None
    if item.get(RATINGS) not in (None, ""):
        return item[RATINGS], RATINGS
    notes = item.get(ANNOTATIONS)
    if not isinstance(notes, dict) or not notes:
        return None
    notes = {aspect: annotation(note) for aspect, note in notes.items()}
    ratings = {aspect: n.get(RATING) if isinstance(n, dict) else n for aspect, n in notes.items()}
    return ratings, ANNOTATIONS


def ratings_read(item: object, ctx: RecordContext, field: str) -> tuple[str, ...]:
    """The keys of answer object ``item`` (at ``field``) its ratings are read from (`answer_ratings`), naming the
    keys of an UltraFeedback annotation other than its ``Rating`` (``completions[].annotations.*.Rationale``) as
    not read. An aspect's list of annotations that is not one object (`annotation`) is a RecordError: which one
    rates the answer is a guess."""
    given = answer_ratings(item)
    if given is None or given[1] != ANNOTATIONS:
        return (RATINGS,)
    for aspect, note in item[ANNOTATIONS].items():
        if isinstance(note, list) and annotation(note) is note:
            held = counted(len(note), "annotation")
            # one value that is no object: it said "a list of 1 annotation: expected one object"
            if len(note) == 1:
                held = f"one value that is no object, {shown(note[0])}"
            message = f"{names_shown([aspect])} gives a list of {held}: expected one object"
            message += " (or a list of one, as early releases give it)"
            raise ctx.error(message, f"{field}.{ANNOTATIONS}", "bad_ratings")
        ctx.unread_keys(f"{field}.{ANNOTATIONS}.*", annotation(note), (RATING,))
    return RATINGS, ANNOTATIONS


def role_of(message: dict) -> tuple[object, str | None]:
    """A message's role as given (its ``role``, else ShareGPT's ``from``; None where it gives neither) and its kind,
    system, user or assistant (`ROLE_ALIASES`; None for a role of no known kind, an object's too: unhashable, no
    key of it)."""
    role = message.get("role", message.get("from"))
    return role, ROLE_ALIASES.get(role) if isinstance(role, str) else None


def given(message: dict, *keys: str) -> str:
    """The first of ``keys`` that ``message`` gives (the one its reader reads), else the first."""
    return next((key for key in keys if key in message), keys[0])


def kind_of(value: object) -> str:
    return {list: "a list", dict: "an object", type(None): "nothing"}.get(type(value), type(value).__name__)


def clean_text(value: object, ctx: RecordContext, field: str) -> str:
    """``value`` as text, refusing what Parquet could not store: an invalid UTF-8 byte or a lone surrogate."""
    if not isinstance(value, str):
        raise ctx.error(f"expected text, got {kind_of(value)}", field, "not_text")
    bad = LONE_SURROGATE.search(value)
    if bad:
        code = ord(bad.group())
        what = (
            f"byte 0x{code - 0xDC00:02x} is not UTF-8"
            if 0xDC80 <= code <= 0xDCFF
            else f"lone surrogate U+{code:04X}"
        )
        raise ctx.error(f"invalid text at character {bad.start()}: {what}", field, "invalid_text")
    nul = value.find("\x00")
    if nul >= 0:  # a NUL would end the text early in C tools and terminals downstream
        raise ctx.error(f"NUL character at character {nul}", field, "nul_character")
    return value


def is_parts(value: object) -> bool:
    return isinstance(value, list) and any(
        isinstance(p, dict) and "type" in p and "role" not in p for p in value
    )


def is_message(value: object) -> bool:
    """A chat message: an object with its role (``role``, or ShareGPT's ``from``); an object without one (``{"text":
    "x"}``) says no more than a text which answer it is."""
    return isinstance(value, dict) and ("role" in value or "from" in value)


def content_text(content: object, ctx: RecordContext, field: str) -> str:
    """A message's text from a string or a list of content parts."""
    if not isinstance(content, list):
        return clean_text(content, ctx, field)
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(clean_text(part, ctx, field))
            continue
        kind = part.get("type", "text") if isinstance(part, dict) else kind_of(part)
        if kind in TEXT_PART_TYPES:
            texts.append(clean_text(part.get("text", part.get("value")), ctx, field))
        elif ctx.non_text == "drop":
            ctx.dropped_parts += 1
        else:
            raise ctx.error(
                f"content part of type {shown(kind)} is not text (--non-text drop leaves it out)",
                field,
                "non_text",
            )
    return "\n".join(texts)


def answer(value: object, ctx: RecordContext, field: str, also_read: tuple[str, ...] = ()) -> str:
    """Answer text from a string, content parts, a message object, or a message list ending on the answer; the keys
    of an answer object other than its role, its text and ``also_read`` are named as not read (`unread_keys`)."""
    if value is None:
        raise ctx.error("no answer: the field is missing or null", field, "missing_field")
    where = field  # the object's place, for the keys of it not read
    if not is_parts(value) and isinstance(value, list):
        if not value:
            raise ctx.error("the answer is empty (an empty list)", field, "empty_answer")
        if len(value) > 1 and not all(map(is_message, value)):
            message = (
                f"a list of {len(value)} items that are not all messages: which is the answer is a guess (give its "
                "text, or a message list ending on it)"
            )
            raise ctx.error(message, field, "ambiguous_answer")
        value, where = value[-1], f"{field}[]"
        _check_answer_role(value, ctx, field, "the message list ends on a {role} message, not the answer")
    elif is_message(value):  # one message object: as the last of a list, the assistant's or nobody's answer
        _check_answer_role(value, ctx, field, "the answer is a {role} message, not the assistant's")
    if isinstance(value, dict):
        keys = names_shown(sorted(map(str, value)), 8)
        read = (given(value, "role", "from"), given(value, *TEXT_KEYS), *also_read)
        ctx.unread_keys(where, value, read)
        value = next((value[key] for key in TEXT_KEYS if key in value), None)
        if value is None:
            message = (
                f"the answer object has no content (keys: {keys}): its text is one of {', '.join(TEXT_KEYS)}"
            )
            raise ctx.error(message, field, "missing_field")
    text = content_text(value, ctx, field)
    if blank(text):
        raise ctx.error("the answer is empty", field, "empty_answer")
    return text


def _check_answer_role(message: object, ctx: RecordContext, field: str, wrong: str) -> None:
    """An answer given as a message is the assistant's (a role of `ROLE_ALIASES` that is assistant): a user or system
    message is ``wrong`` (``{role}`` filled in), a role of no known kind `bad_role`, as a prompt's turn is."""
    role, kind = role_of(message) if is_message(message) else (None, None)
    if role is None or kind == "assistant":
        return
    if kind in ("user", "system"):  # a user's turn holds no answer: its text was stored as the answer
        raise ctx.error(wrong.format(role=role), field, "no_answer")
    raise ctx.error(
        f"unknown message role {shown(role)} for the answer (assistant, gpt or model)", field, "bad_role"
    )
