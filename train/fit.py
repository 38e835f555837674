"""Fitting rows into ``--max-length`` before any trainer sees them, so that nothing is dropped silently.

TRL drops every row whose prompt alone reaches ``max_length`` (its KTO trainer always, its DPO trainer with the
default ``keep_start`` truncation) and its collators cut the end of longer sequences. We decide first, per row,
with the model's own chat template:

- ``--truncation prompt`` (default): keep the completions and the end of the prompt. Earlier turns go first, then
  the start of the oldest remaining message's text (marked with "…"; a system message's first where the last
  message would otherwise keep no word), until the prompt fits its budget: what the
  longest completion leaves of ``max_length``, but at least half of ``max_length`` (or all of it when shorter), so a
  very long completion is cut at its end instead of erasing the question. Every such row is trained and counted
  as truncated, but one whose last message (the turn the completions answer) keeps no word, "…" alone: it would
  teach an answer to no question, and is dropped and counted under that reason.
- ``--truncation drop``: prompts are left as they are; a row whose prompt alone fills ``max_length`` cannot be
  trained (no completion token would remain) and is dropped, counted under that reason.

In either mode a pair whose two sides, cut, are one token sequence (answers that differ only past ``max_length``)
is dropped and counted: it would train as no preference and be scored as a tie.

The same fitting applies to held-out rows, so evaluation scores what training sees; a held-out row that still
cannot be scored is left out of the metrics and counted.
"""

from __future__ import annotations

from collections import Counter

TRUNCATION_MODES = ("prompt", "drop")
ELLIPSIS = "…"
PROMPT_FILLS = "prompt fills --max-length"
TEMPLATE_FILLS = "chat template alone fills --max-length"
EMPTY_AFTER_TEMPLATE = "completion has no tokens"
SEQUENCE_OVER = "prompt + completion over --max-length (whole sequences only)"
SIDES_ALIKE = "chosen and rejected alike within --max-length"
PROMPT_CUT_AWAY = "prompt cut to no word by --max-length"


def _no_word_left(messages: list[dict]) -> bool:
    """The prompt's last message (what the completions answer) was cut to no word: "…" and at most punctuation."""
    content = messages[-1]["content"]
    return content.startswith(ELLIPSIS) and not any(ch.isalnum() for ch in content)


def _prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    return tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=False
    )


def _completion_length(tokenizer, prompt: list[dict], completion: list[dict], prompt_length: int) -> int:
    full = tokenizer.apply_chat_template(prompt + completion, tokenize=True, return_dict=False)
    return len(full) - prompt_length


def _cut_text(tokenizer, text: str, keep: int) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ELLIPSIS + tokenizer.decode(ids[len(ids) - max(keep, 0) :]) if keep < len(ids) else text


def shorten_prompt(tokenizer, messages: list[dict], budget: int) -> tuple[list[dict], int]:
    """The prompt cut from its start to at most ``budget`` tokens (as rendered by the chat template): earlier
    turns dropped (a leading system message kept), then the oldest remaining message's text cut from its start,
    then the system message's; but where that would leave the last message no word (a long system message before a
    short question), the system message's text is cut first. Returns (messages, their token count); the count can
    stay above ``budget`` only when the template's own tokens exceed it."""
    messages = [dict(m) for m in messages]
    length = len(_prompt_ids(tokenizer, messages))
    system = 1 if messages and messages[0]["role"] == "system" else 0
    while length > budget and len(messages) - system > 1:  # whole earlier turns first, never the last one
        del messages[system]
        length = len(_prompt_ids(tokenizer, messages))
    if not system:
        return _cut_texts(tokenizer, messages, (0,), length, budget)
    cut = _cut_texts(tokenizer, [dict(m) for m in messages], (system, 0), length, budget)
    if not _no_word_left(cut[0]):
        return cut
    return _cut_texts(tokenizer, messages, (0, system), length, budget)  # the question kept, where it fits


def _cut_texts(
    tokenizer, messages: list[dict], order: tuple[int, ...], length: int, budget: int
) -> tuple[list[dict], int]:
    """`shorten_prompt`'s cut of ``messages`` (``length`` tokens) to ``budget``: each message of ``order`` in turn
    cut from its start (in place), until the prompt fits."""
    marker = len(tokenizer(ELLIPSIS, add_special_tokens=False)["input_ids"])
    for index in order:
        for _ in range(4):  # re-rendering can merge tokens at the cut: a few passes settle it
            if length <= budget:
                return messages, length
            content = messages[index]["content"].removeprefix(ELLIPSIS)
            own = len(tokenizer(content, add_special_tokens=False)["input_ids"])
            cut = _cut_text(tokenizer, content, own - (length - budget) - marker)
            if cut == messages[index]["content"] or not own:
                break
            messages[index]["content"] = cut
            length = len(_prompt_ids(tokenizer, messages))
    return messages, length


def shorten_completion(tokenizer, prompt: list[dict], completion: list[dict], room: int) -> list[dict]:
    """The completion's text cut at its end to at most ``room`` tokens after the prompt (as rendered)."""
    prompt_length = len(_prompt_ids(tokenizer, prompt))
    message = dict(completion[-1])
    for _ in range(4):
        over = _completion_length(tokenizer, prompt, [message], prompt_length) - room
        if over <= 0:
            break
        ids = tokenizer(message["content"], add_special_tokens=False)["input_ids"]
        if not ids:
            break
        message["content"] = tokenizer.decode(ids[: max(len(ids) - over - 1, 0)])
    return [*completion[:-1], message]


def _sides_alike(tokenizer, row: dict, keys: tuple[str, ...], max_length: int) -> bool:
    """Whether a cut pair's two sides are one token sequence within ``max_length``: the answers differ only past
    the cut (the collator keeps a sequence's start; the reward trainer takes the cut answers whole), so the pair
    would train as no preference and be scored as a tie."""
    first, second = (
        tokenizer.apply_chat_template(row["prompt"] + row[key], tokenize=True, return_dict=False)[:max_length]
        for key in keys
    )
    return first == second


def fit_rows(
    tokenizer,
    rows: list[dict],
    completion_keys: tuple[str, ...],
    max_length: int,
    mode: str = "prompt",
    whole: bool = False,
) -> tuple[list[dict], dict]:
    """The rows that will be trained (prompts shortened where ``mode`` is ``prompt``), and their accounting:
    ``rows_in``, ``rows_trained``, ``rows_truncated`` (prompt shortened or a completion cut at its end) and
    ``rows_dropped`` {reason: count}, ``longest_tokens`` (the longest trained row, at most ``max_length``: what the
    memory plan budgets a sequence at). ``whole``: the trainer drops sequences over ``max_length`` instead of cutting
    them (TRL's reward trainer), so completions are cut at their end here, to fit whole."""
    if mode not in TRUNCATION_MODES:
        raise ValueError(f"truncation mode {mode!r}: expected one of {', '.join(TRUNCATION_MODES)}")
    kept, truncated, dropped, longest = [], 0, Counter(), 0
    for row in rows:
        prompt_length = len(_prompt_ids(tokenizer, row["prompt"]))
        lengths = [
            _completion_length(tokenizer, row["prompt"], row[k], prompt_length) for k in completion_keys
        ]
        if min(lengths) <= 0:
            dropped[EMPTY_AFTER_TEMPLATE] += 1
            continue
        if prompt_length + max(lengths) <= max_length:
            kept.append(row)
            longest = max(longest, prompt_length + max(lengths))
            continue
        longest = max_length  # a kept row longer than max_length is cut to it
        if mode == "drop":
            if prompt_length >= max_length or whole:
                dropped[PROMPT_FILLS if prompt_length >= max_length else SEQUENCE_OVER] += 1
                continue
            row = {**row, "truncated": True}  # trainable: the collator cuts the completion's end
        else:
            budget = max(max_length - max(lengths), min(prompt_length, max_length // 2))
            prompt, prompt_length = shorten_prompt(tokenizer, row["prompt"], budget)
            if prompt_length >= max_length or _no_word_left(prompt):
                dropped[TEMPLATE_FILLS if prompt_length >= max_length else PROMPT_CUT_AWAY] += 1
                continue
            row = {**row, "prompt": prompt, "truncated": True}
            if whole:
                for key in completion_keys:
                    row[key] = shorten_completion(tokenizer, prompt, row[key], max_length - prompt_length)
        if len(completion_keys) == 2 and _sides_alike(tokenizer, row, completion_keys, max_length):
            dropped[SIDES_ALIKE] += 1
            continue
        kept.append(row)
        truncated += 1
    counts = {
        "rows_in": len(rows),
        "rows_trained": len(kept),
        "rows_truncated": truncated,
        "rows_dropped": dict(sorted(dropped.items())),
        "longest_tokens": longest if kept else 0,
    }
    return kept, counts
