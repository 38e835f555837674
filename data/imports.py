"""Imports: read a file (JSON, JSONL, Parquet, CSV, or a `datasets` folder saved to disk), recognise its record
format, and turn each record into workspace records. Every record is checked before anything is written, so a bad
file writes nothing; ids are content-derived, so importing a file twice adds nothing twice.

Recognised record formats (auto-detected from the first record's keys):
- alpaca (LLaMA-Factory): instruction, input, output [, system, history] [, chosen, rejected]
- chat (ShareGPT / LLaMA-Factory / TRL conversational): conversations | messages [, system],
  plus chosen + rejected (preference) or label (KTO); otherwise the last assistant turn is the gold answer
- prompt (TRL standard): prompt, plus chosen + rejected (preference), completion + label (KTO),
  or completion | response | output | gold (SFT gold answer)
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

from data.annotators import IMPORT
from data.records import Completion, Label, Message, Pair, Prompt, content_id
from data.schemas import SchemaError, check_messages
from data.workspace import Workspace

ROLE_ALIASES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}
GOLD_KEYS = ("completion", "response", "output", "gold")
TEST_SPLIT_NAMES = ("test", "validation", "valid", "eval")


@dataclass(frozen=True)
class Example:
    """One input record, normalised: a prompt plus what the record says about answers to it."""

    messages: list[Message]
    gold: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    completion: str | None = None
    desirable: bool | None = None
    split: str | None = None


def read_records(path: Path) -> list[dict]:
    """The records of a data file or a `datasets.save_to_disk` folder, as plain dicts."""
    if not path.exists():
        raise SchemaError(str(path), "file not found")
    if path.is_dir():
        return _read_dataset_dir(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path).to_pylist()
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=object, keep_default_na=False)
            return frame.to_dict("records")
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(str(path), f"cannot be read: {exc}") from exc
    if suffix == ".json" and text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(str(path), f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SchemaError(str(path), f"invalid JSON on line {number}: {exc.msg}") from exc
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise SchemaError(str(path), "each record must be a JSON object", row=bad)
    return records


def _read_dataset_dir(path: Path) -> list[dict]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise SchemaError(str(path), f"not a dataset saved with save_to_disk ({exc})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        records = []
        for name, split in loaded.items():
            hint = "test" if name in TEST_SPLIT_NAMES else "train"
            records += [dict(r, _split=hint) for r in split.to_list()]
        return records
    return loaded.to_list()


def detect_format(record: dict, source: str) -> str:
    if "instruction" in record:
        return "alpaca"
    if "conversations" in record or "messages" in record:
        return "chat"
    if "prompt" in record:
        return "prompt"
    raise SchemaError(
        source,
        f"unknown record format (keys: {', '.join(sorted(record))}); expected alpaca, chat or prompt",
        row=0,
    )


def _text(value: object, source: str, row: int, field: str) -> str:
    """Answer text from a string, a {from|role, value|content} turn, or a message list ending on the answer."""
    if isinstance(value, list) and value:
        value = value[-1]
    if isinstance(value, dict):
        value = value.get("content", value.get("value"))
    if not isinstance(value, str):
        raise SchemaError(source, f"expected answer text, got {type(value).__name__}", row=row, field=field)
    return value


def _turns(raw: object, source: str, row: int, field: str) -> list[Message]:
    if not isinstance(raw, list):
        raise SchemaError(source, "expected a list of messages", row=row, field=field)
    turns = []
    for turn in raw:
        if not isinstance(turn, dict):
            raise SchemaError(source, "each message must be an object", row=row, field=field)
        role = turn.get("role", turn.get("from"))
        if role not in ROLE_ALIASES:
            raise SchemaError(source, f"unknown message role {role!r}", row=row, field=field)
        turns.append({"role": ROLE_ALIASES[role], "content": _text(turn, source, row, field)})
    return turns


def _desirable(value: object, source: str, row: int) -> bool:
    lookup = {"true": True, "1": True, "desirable": True, "false": False, "0": False, "undesirable": False}
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in lookup:
        return lookup[str(value).strip().lower()]
    raise SchemaError(
        source, f"label {value!r} is not true/false or desirable/undesirable", row=row, field="label"
    )


def _answers(record: dict, messages: list[Message], source: str, row: int, gold: str | None) -> Example:
    split = record.get("_split")
    if "chosen" in record or "rejected" in record:
        chosen = _text(record.get("chosen"), source, row, "chosen")
        rejected = _text(record.get("rejected"), source, row, "rejected")
        return Example(messages, chosen=chosen, rejected=rejected, split=split)
    if "label" in record:
        completion = gold if gold is not None else _text(record.get("completion"), source, row, "completion")
        return Example(
            messages, completion=completion, desirable=_desirable(record["label"], source, row), split=split
        )
    return Example(messages, gold=gold, split=split)


def parse_alpaca(record: dict, source: str, row: int) -> Example:
    messages: list[Message] = []
    if record.get("system"):
        messages.append({"role": "system", "content": str(record["system"])})
    for pair in record.get("history") or []:
        messages += [
            {"role": "user", "content": str(pair[0])},
            {"role": "assistant", "content": str(pair[1])},
        ]
    instruction = str(record.get("instruction") or "")
    extra = str(record.get("input") or "")
    messages.append({"role": "user", "content": f"{instruction}\n\n{extra}" if extra else instruction})
    gold = record.get("output")
    return _answers(record, messages, source, row, gold if isinstance(gold, str) else None)


def parse_chat(record: dict, source: str, row: int) -> Example:
    field = "conversations" if "conversations" in record else "messages"
    turns = _turns(record[field], source, row, field)
    if record.get("system") and not (turns and turns[0]["role"] == "system"):
        turns.insert(0, {"role": "system", "content": str(record["system"])})
    gold = None
    if turns and turns[-1]["role"] == "assistant":
        gold = turns.pop()["content"]
    return _answers(record, turns, source, row, gold)


def parse_prompt(record: dict, source: str, row: int) -> Example:
    prompt = record["prompt"]
    messages = (
        [{"role": "user", "content": prompt}]
        if isinstance(prompt, str)
        else _turns(prompt, source, row, "prompt")
    )
    gold_key = next((k for k in GOLD_KEYS if record.get(k) not in (None, "")), None)
    gold = _text(record[gold_key], source, row, gold_key) if gold_key and "label" not in record else None
    return _answers(record, messages, source, row, gold)


PARSERS = {"alpaca": parse_alpaca, "chat": parse_chat, "prompt": parse_prompt}
FORMATS = ("auto", *PARSERS)


def _split_for(messages: list[Message], hint: str | None, split: str, test_fraction: float) -> str:
    if hint:
        return hint
    if test_fraction > 0:
        # Hash of the prompt, not the row: the same prompt lands in the same split in every file and every rerun.
        return "test" if int(content_id("split", messages), 16) % 10_000 < test_fraction * 10_000 else "train"
    return split


def to_records(example: Example, source: str, row: int, split: str) -> tuple[list[object], str | None]:
    """Workspace records for one example; the second value names why it was dropped (or None)."""
    prompt = Prompt(messages=example.messages, gold=example.gold, source=source, split=split)
    records: list[object] = [prompt]
    answer = {"model": source, "engine": "import", "round": 0}
    if example.chosen is not None:
        if example.chosen.strip() == example.rejected.strip():
            return records, "degenerate"
        a = Completion(prompt_id=prompt.id, text=example.chosen, **answer)
        b = Completion(prompt_id=prompt.id, text=example.rejected, **answer)
        # Keyed by file row, so duplicate rows in a data set stay separate pairs, as the set intends.
        pair = Pair(
            prompt.id, a.id, b.id, kind="imported", id=content_id("import-pair", source, row, a.id, b.id)
        )
        label = Label(pair.id, IMPORT, "pairwise", "a", id=content_id("import-label", pair.id))
        records += [a, b, pair, label]
    elif example.completion is not None:
        completion = Completion(prompt_id=prompt.id, text=example.completion, **answer)
        choice = "desirable" if example.desirable else "undesirable"
        records += [
            completion,
            Label(
                completion.id,
                IMPORT,
                "kto",
                choice,
                id=content_id("import-label", source, row, completion.id, choice),
            ),
        ]
    return records, None


def load_file(
    path: str | Path,
    fmt: str = "auto",
    source: str | None = None,
    split: str = "train",
    test_fraction: float = 0.0,
) -> tuple[list[object], Counter]:
    """Read and check every record of ``path``; returns workspace records and counts. Writes nothing."""
    path = Path(path)
    name = str(path)
    records = read_records(path)
    if not records:
        raise SchemaError(name, "no records")
    fmt = detect_format(records[0], name) if fmt == "auto" else fmt
    parse = PARSERS[fmt]
    source = source or path.stem
    counts: Counter = Counter(records=len(records))
    batch: list[object] = []
    for row, record in enumerate(tqdm(records, desc=f"reading {path.name}", unit="rec", disable=None)):
        example = parse(record, name, row)
        check_messages(example.messages, name, row)
        split_name = _split_for(example.messages, example.split, split, test_fraction)
        out, dropped = to_records(example, source, row, split_name)
        if dropped:
            counts[dropped] += 1
        batch += out
    return batch, counts


def write_records(workspace: Workspace, batch: list[object], counts: Counter) -> Counter:
    written = workspace.append(batch, skip_existing=True)
    return counts + Counter({f"new_{table}": n for table, n in written.items()})


def import_file(workspace: Workspace, path: str | Path, **options) -> Counter:
    """Import every record of ``path`` (see load_file for options); returns counts read, written, dropped."""
    return write_records(workspace, *load_file(path, **options))
