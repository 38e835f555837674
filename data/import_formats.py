"""Record formats of imported files, recognised from their keys; each record becomes one ``Example``.

| format | keys |
|---|---|
| alpaca | instruction, input [, system, history] + output, or chosen + rejected, or completions |
| chat | conversations or messages [, system] + chosen + rejected, label (KTO), completions, or a last assistant turn (gold) |
| pair | chosen_messages + rejected_messages (LLaMA-Factory v1), or chosen + rejected whole conversations (TRL) |
| openai | input.messages + preferred_output + non_preferred_output (OpenAI's preference fine-tuning file) |
| prompt | prompt + chosen + rejected, completion + label (KTO), completions, or a gold completion/response/output/gold |

A preference row's ``strength`` (1-4, the column a `dpo` export writes: its verdict's mean strength) is its label's
(`data.import_rows.row_strength`).

Message content is a string or a list of content parts (`{"type": "text", "text"|"value": ...}`, the OpenAI / TRL /
LLaMA-Factory v1 form): text parts are joined with newlines, as vLLM joins them; any other part (an image, a tool
call) is an error, or is left out and counted with ``non_text="drop"``. Every check raises a ``RecordError`` naming
the file, row and field, with a short reason that `--on-error skip` counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from data.conversation import blank, turn_problem
from data.errors import CONTROL, names_shown, shown
from data.import_text import (
    RATINGS,
    RecordContext,
    answer,
    answer_ratings,
    clean_text,
    content_text,
    given,
    is_parts,
    kind_of,
    ratings_read,
    role_of,
)
from data.records import Message

if TYPE_CHECKING:  # the parsers read a row through it; import_columns imports this module (rank_rate_rows)
    from data.import_columns import Reading

GOLD_KEYS = ("completion", "response", "output", "gold")
LABEL_KEYS = ("label", "kto_tag")


@dataclass(frozen=True)
class Candidate:
    """One completion offered for labelling, and the model that wrote it when the file says."""

    text: str
    model: str | None = None


@dataclass(frozen=True)
class Example:
    """One input record, normalised: a prompt plus what the record says about answers to it."""

    messages: list[Message]
    gold: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    completion: str | None = None
    desirable: bool | None = None
    candidates: tuple[Candidate, ...] | None = None
    # a preference's, as its `strength` column gives it (an export's mean may be 2.5), set by the importer
    # (`import_rows.row_strength`)
    strength: float | None = None
    # the record's fields of ``chosen`` and ``rejected``, which an error on either names (an OpenAI record's
    # ``preferred_output``, a pair record's ``chosen_messages``)
    answer_fields: tuple[str, str] = ("chosen", "rejected")
    completion_field: str = "completion"  # a KTO row's field of ``completion`` (a chat row's: its messages)
    # the split the row names, set by the importer: a datasets folder's (`import_readers.SplitRow`), else its
    # `split` column's (`import_rows.row_split`)
    split: str | None = None

    @property
    def answered(self) -> bool:
        """Whether the record gives an answer of any kind (else it is a prompt alone)."""
        return any(v is not None for v in (self.gold, self.chosen, self.completion, self.candidates))


def turns(raw: object, ctx: RecordContext, field: str) -> list[Message]:
    """Chat messages from {role|from, content|value} objects, roles mapped to system/user/assistant."""
    if not isinstance(raw, list):
        raise ctx.error(f"expected a list of messages, got {kind_of(raw)}", field, "bad_messages")
    messages = []
    for index, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise ctx.error(f"message {index} must be an object, got {kind_of(turn)}", field, "bad_messages")
        role, kind = role_of(turn)
        if role is None:  # no key, or a null one: it said "unknown message role None"
            message = f"message {index} has no role (a 'role' or 'from' key: system, user or assistant)"
            raise ctx.error(message, field, "missing_role")
        if kind is None:
            raise ctx.error(f"unknown message role {shown(role)} (message {index})", field, "bad_role")
        content = turn.get("content", turn.get("value"))
        if content is None:
            raise ctx.error(f"message {index} has no content", field, "missing_field")
        messages.append({"role": kind, "content": content_text(content, ctx, field)})
        ctx.unread_keys(f"{field}[]", turn, (given(turn, "role", "from"), given(turn, "content", "value")))
    return messages


def check_prompt(messages: list[Message], ctx: RecordContext, field: str, start: int = 0) -> None:
    """A prompt asks something: it holds a user message, does not end on the assistant, ends on text, and keeps
    the turn rules of a conversation (`data.conversation`; ``start``: the file's index of its first message)."""
    if not any(m["role"] == "user" for m in messages):
        raise ctx.error("no user message: the record has nothing to answer", field, "no_user_message")
    if messages[-1]["role"] == "assistant":
        raise ctx.error("a prompt must not end with an assistant message", field, "ends_on_assistant")
    if blank(messages[-1]["content"]):
        raise ctx.error("the prompt's last message has no text", field, "empty_prompt")
    problem = turn_problem(messages, start)
    if problem is not None:
        raise ctx.error(problem[2], field, problem[1])


def _system(record: dict, ctx: RecordContext) -> list[Message]:
    system = record.get("system")
    return [{"role": "system", "content": content_text(system, ctx, "system")}] if system else []


def _desirable(value: object, ctx: RecordContext, field: str) -> bool:
    # 1.0 and 0.0 too: pandas writes a 0/1 column that held a null (an unlabelled row) as floats, in a CSV as in Parquet
    lookup = {"true": True, "1": True, "1.0": True, "desirable": True}
    lookup |= {"false": False, "0": False, "0.0": False, "undesirable": False}
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in lookup:
        return lookup[str(value).strip().lower()]
    raise ctx.error(f"label {shown(value)} is not true/false or desirable/undesirable", field, "bad_label")


def _candidates(value: object, ctx: RecordContext, rated: bool) -> tuple[Candidate, ...]:
    """A row's ``completions``: two or more to compare, or one where the row rates them (``rated``: its ratings
    list, else ratings in each answer's object): a rating needs no pair, as a row of one rated answer shows."""
    if not isinstance(value, list):
        raise ctx.error(
            f"expected a list of completions, got {kind_of(value)}", "completions", "bad_completions"
        )
    out = []
    for index, item in enumerate(value):
        field = f"completions[{index}]"
        text = answer(item, ctx, field, ("model", *ratings_read(item, ctx, field)))
        model = item.get("model") if isinstance(item, dict) else None
        out.append(Candidate(text, None if model is None else _model_name(model, ctx, f"{field}.model")))
    if len(out) < 2 and not (out and (rated or all(map(answer_ratings, value)))):
        raise ctx.error(
            f"needs at least 2 completions to compare, got {len(out)}", "completions", "too_few_completions"
        )
    return tuple(out)


def _model_name(value: object, ctx: RecordContext, field: str) -> str:
    """A candidate's ``model``: text, stored as its completions' model name; a blank one is none (the source's name
    is taken, as for ``""``), and one with a control character is refused (it would break every line naming it)."""
    name = clean_text(value, ctx, field)
    bad = CONTROL.search(name)
    if bad:
        raise ctx.error(
            f"model name {shown(name)} holds a control character ({bad.group()!r})", field, "bad_model"
        )
    return name.strip() and name


def _answers(
    record: Reading, messages: list[Message], ctx: RecordContext, gold: str | None, gold_field: str
) -> Example:
    """What the record says about answers: candidates, a preference, a KTO label, or a gold answer."""
    if "completions" in record:
        label = next((key for key in ("chosen", "rejected", *LABEL_KEYS) if key in record), None)
        if label is not None:
            message = (
                f"'{label}' beside a 'completions' list: a row gives answers to compare (a ranking says which is "
                "better) or a preference or KTO label, not both"
            )
            raise ctx.error(message, label, "label_beside_completions")
        candidates = _candidates(record["completions"], ctx, record.peek(RATINGS) not in (None, ""))
        if gold is not None and gold_field in GOLD_KEYS and gold not in (c.text for c in candidates):
            record.unread(gold_field)  # a gold answer beside the answers to compare makes nothing
        return Example(messages, candidates=candidates)
    if "chosen" in record or "rejected" in record:
        if gold is not None and gold_field in GOLD_KEYS:  # beside a preference it makes nothing
            record.unread(gold_field)
        chosen = answer(record.get("chosen"), ctx, "chosen")
        rejected = answer(record.get("rejected"), ctx, "rejected")
        return Example(messages, chosen=chosen, rejected=rejected)
    label_key = next((key for key in LABEL_KEYS if key in record), None)
    if label_key:
        field = gold_field if gold is not None else "completion"
        completion = answer(gold if gold is not None else record.get("completion"), ctx, field)
        desirable = _desirable(record[label_key], ctx, label_key)
        return Example(messages, completion=completion, desirable=desirable, completion_field=field)
    return Example(messages, gold=None if gold is None else answer(gold, ctx, gold_field))


def parse_alpaca(record: Reading, ctx: RecordContext) -> Example:
    messages = _system(record, ctx)
    history = record.get("history") or []
    for index, pair in enumerate(history if isinstance(history, list) else [history]):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ctx.error("each history entry must be a [question, answer] pair", "history", "bad_history")
        for role, text, what in (("user", pair[0], "question"), ("assistant", pair[1], "answer")):
            if isinstance(text, str) and blank(text):
                raise ctx.error(f"history entry {index} has an empty {what}", "history", "empty_turn")
            messages.append({"role": role, "content": clean_text(text, ctx, "history")})
    # text or nothing: `str()` made an instruction or input of 5 or {"a": 1} text, where a `system` of 5 was refused
    instruction = clean_text(record.get("instruction", ""), ctx, "instruction")
    extra = clean_text(record.get("input", ""), ctx, "input")
    messages.append({"role": "user", "content": f"{instruction}\n\n{extra}" if extra else instruction})
    check_prompt(messages, ctx, "instruction")
    return _answers(record, messages, ctx, record.get("output"), "output")


def parse_chat(record: Reading, ctx: RecordContext) -> Example:
    field = "conversations" if "conversations" in record else "messages"
    if record[field] == []:
        raise ctx.error("empty conversation", field, "empty_conversation")
    messages, start = turns(record[field], ctx, field), 0
    system = record.peek("system")  # looked at; read below only where the prompt keeps it
    if system and messages[0]["role"] != "system":
        messages, start = _system(record, ctx) + messages, -1
    elif system and system == messages[0]["content"]:
        record.get("system")  # read: the conversation's own system message says the same
    # else the conversation's own system message is the prompt's, and another ``system`` is named as not read
    gold = messages.pop()["content"] if messages[-1]["role"] == "assistant" else None
    if not messages:
        raise ctx.error("no user message: the conversation holds only an answer", field, "no_user_message")
    check_prompt(messages, ctx, field, start)
    if gold is not None:
        _check_last_turn(record, gold, ctx, field, len(messages) + start)
    example = _answers(record, messages, ctx, gold, field)
    answers = (example.chosen,) if example.chosen is not None else ()
    answers += tuple(c.text for c in example.candidates or ())
    if gold is not None and answers and gold not in answers:
        # A last assistant turn is the answer (UltraFeedback's ``messages`` end on the chosen one); any other
        # would be dropped without a word.
        raise ctx.error(
            f"message {len(messages) + start} (assistant) ends the conversation but is not among the answers "
            "(chosen / completions): a prompt ends on the user's turn",
            field,
            "ends_on_assistant",
        )
    return example


def _check_last_turn(record: Reading, turn: str, ctx: RecordContext, field: str, index: int) -> None:
    """A conversation ending on the assistant's ``turn`` (message ``index``) beside an answer field of the row's own
    (`GOLD_KEYS`: a KTO or rated completion, a gold response or output) answers with it: the field must say the
    same, or the turn was taken for the row's answer (labelled, rated or gold) and the field named unread. A field
    that is no answer's shape (a flag, a number: no text, parts or message) is no answer: named unread, as before.
    One that is, but does not read (an image part, a user's message), is refused with its own reason: passed over,
    the turn took its label or ratings."""
    for key in GOLD_KEYS:
        if not isinstance(record.peek(key), str | list | dict):
            continue
        text = answer(record.peek(key), ctx, key)
        if text.strip() != turn.strip():
            raise ctx.error(
                f"message {index} (assistant) ends the conversation but is not the row's '{key}': which is the "
                "answer is a guess (a prompt ends on the user's turn)",
                field,
                "ends_on_assistant",
            )
        record.get(key)  # the turn itself: read


def parse_prompt(record: Reading, ctx: RecordContext) -> Example:
    prompt = record["prompt"]
    if isinstance(prompt, str) or is_parts(prompt):
        messages = [{"role": "user", "content": content_text(prompt, ctx, "prompt")}]
    elif not isinstance(prompt, list):  # `turns` would say "a list of messages", as if text were refused
        raise ctx.error(
            f"expected text or a list of messages, got {kind_of(prompt)}", "prompt", "bad_messages"
        )
    else:
        messages = turns(prompt, ctx, "prompt")
    if not messages:
        raise ctx.error("empty prompt", "prompt", "empty_conversation")
    check_prompt(messages, ctx, "prompt")
    labelled = any(key in record for key in LABEL_KEYS)
    gold_key = None if labelled else next((k for k in GOLD_KEYS if record.get(k) is not None), None)
    return _answers(record, messages, ctx, record[gold_key] if gold_key else None, gold_key or "completion")


def parse_pair(record: Reading, ctx: RecordContext) -> Example:
    """Two whole conversations that share everything but the last answer."""
    keys = ("chosen_messages", "rejected_messages") if "chosen_messages" in record else ("chosen", "rejected")
    sides = []
    for key in keys:
        messages = turns(record[key], ctx, key)
        if not messages or messages[-1]["role"] != "assistant":
            raise ctx.error("the conversation must end with the assistant's answer", key, "no_answer")
        sides.append((messages[:-1], answer(messages[-1], ctx, key)))
    (prompt, chosen), (other_prompt, rejected) = sides
    if prompt != other_prompt:
        raise ctx.error(
            "chosen and rejected conversations differ before their last answer", keys[1], "mismatched_prompt"
        )
    if not prompt:
        raise ctx.error("no user message: the conversation holds only an answer", keys[0], "no_user_message")
    check_prompt(prompt, ctx, keys[0])
    return Example(prompt, chosen=chosen, rejected=rejected, answer_fields=keys)


def parse_openai(record: Reading, ctx: RecordContext) -> Example:
    """OpenAI's preference fine-tuning record: the conversation in ``input.messages``, the answers as one-message
    lists (``preferred_output``, ``non_preferred_output``); ``input``'s other keys (its ``tools``,
    ``parallel_tool_calls``) are no part of a prompt: named as not read (``input.tools``)."""
    field = "input.messages"
    record.unread_inside("input", ("messages",))
    if not record["input"].get("messages"):
        raise ctx.error("empty conversation", field, "empty_conversation")
    messages = turns(record["input"]["messages"], ctx, field)
    check_prompt(messages, ctx, field)
    chosen = answer(record.get("preferred_output"), ctx, "preferred_output")
    rejected = answer(record.get("non_preferred_output"), ctx, "non_preferred_output")
    fields = ("preferred_output", "non_preferred_output")
    return Example(messages, chosen=chosen, rejected=rejected, answer_fields=fields)


def _is_conversation(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(t, dict) and "role" in t for t in value)


# Detection order matters: the first format whose keys a record has is the file's format.
FITS = {
    "alpaca": lambda r: "instruction" in r,
    "chat": lambda r: "conversations" in r or "messages" in r,
    "pair": lambda r: (
        ("chosen_messages" in r and "rejected_messages" in r)
        or ("prompt" not in r and _is_conversation(r.get("chosen")) and _is_conversation(r.get("rejected")))
    ),
    "openai": lambda r: isinstance(r.get("input"), dict) and "preferred_output" in r,
    "prompt": lambda r: "prompt" in r,
}
# the keys FITS finds a format by: a file none fits whose key is a near miss of one (``Prompt``, ``promt``) is told
# which it meant (`data.import_column_names.format_hint`)
DETECTED = (
    "instruction",
    "conversations",
    "messages",
    "chosen_messages",
    "rejected_messages",
    "preferred_output",
    "prompt",
)
NEEDS = {
    "alpaca": "'instruction'",
    "chat": "'conversations' or 'messages'",
    "pair": "'chosen_messages' and 'rejected_messages', or whole chosen and rejected conversations",
    "openai": "'input' (with 'messages') and 'preferred_output'",
    "prompt": "'prompt'",
}
PARSERS = {
    "alpaca": parse_alpaca,
    "chat": parse_chat,
    "pair": parse_pair,
    "openai": parse_openai,
    "prompt": parse_prompt,
}
FORMATS = ("auto", *PARSERS)
# the top-level keys each format's parser reads (besides those every format's rows are read for: a labeller, split,
# strength, ranking, ratings): a column not read that is a near miss of one is refused (`data.import_column_names`)
_ANSWERS = ("chosen", "rejected", "completions", *LABEL_KEYS)  # what `_answers` reads
COLUMNS = {
    "alpaca": ("instruction", "input", "output", "system", "history", "completion", *_ANSWERS),
    "chat": ("conversations", "messages", "system", *_ANSWERS, *GOLD_KEYS),
    "pair": ("chosen_messages", "rejected_messages", "chosen", "rejected"),
    "openai": ("input", "preferred_output", "non_preferred_output"),
    "prompt": ("prompt", *_ANSWERS, *GOLD_KEYS),
}
# the columns the formats read (a prompt's or answer's text among them): only there is a string of messages written
# out imported as that text (`import_readers.read_records`); another column holding one is a column not read
TEXT_COLUMNS = frozenset(column for columns in COLUMNS.values() for column in columns)


def detect_format(record: dict) -> str | None:
    return next((name for name, fits in FITS.items() if fits(record)), None)


def parse_record(record: Reading, fmt: str, ctx: RecordContext) -> Example:
    """The record as an Example of format ``fmt``; a record that does not fit it is a one-line error."""
    if not FITS[fmt](record):
        keys = names_shown(sorted(record), 8)
        found = detect_format(record)
        hint = f"; it looks like {found}" if found else ""
        raise ctx.error(
            f"record does not fit format {fmt} (keys: {keys}): it needs {NEEDS[fmt]}{hint}",
            reason="wrong_format",
        )
    return PARSERS[fmt](record, ctx)
