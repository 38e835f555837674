"""Frozen in-memory records, one per workspace table, and the id rules.

Ids of imported and generated content are content hashes, so importing the same file twice or re-running an
interrupted job adds nothing twice. Labels are events (an edit or undo is a new label), so their ids are random.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

Message = dict[str, str]


def now() -> datetime:
    return datetime.now(timezone.utc)


def content_id(*parts: object) -> str:
    """A stable 16-hex-digit id of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def withdrawal_id(label_id: str) -> str:
    """The id of the retraction `data import --remove` stores for the label ``label_id``: a rerun stores none twice,
    and readers tell an import's withdrawal from its labeller's own undo by it (`data.annotators.withdrawn`)."""
    return content_id("import-remove", label_id)


def prompt_id(messages: list[Message]) -> str:
    return content_id("prompt", [(m["role"], m["content"]) for m in messages])


def text_key(text: str) -> str:
    """What two spellings of one text share: Unicode NFC, CRLF and CR line ends as LF, no whitespace at the end of a
    line or of the text. Two prompts or answers of one key are one text to an import and a gold file
    (`data.spellings`); never part of an id, so the ids of stored texts stay as they are."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def messages_key(messages: list[Message]) -> tuple[tuple[str, str], ...]:
    """`text_key` of a prompt: each message's role and key."""
    return tuple((m["role"], text_key(m["content"])) for m in messages)


def random_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Prompt:
    messages: list[Message]
    source: str
    gold: str | None = None
    split: str = "train"
    id: str = ""
    created_at: datetime = field(default_factory=now)

    def __post_init__(self):
        if not self.id:
            object.__setattr__(self, "id", prompt_id(self.messages))


def has_gold(gold: object) -> bool:
    """Whether a prompt's stored ``gold`` is a gold answer: text with more than whitespace in it. An import refuses
    a blank answer (``empty_answer``); one stored otherwise (through the Python API, or merged from such a
    workspace) is no gold answer to any reader: `generate --spin` and the round drivers sample no such prompt,
    `data export --format sft` and `train --method sft` count it ``no_gold``, `data stats` leaves it out of
    ``prompts_with_gold``."""
    return isinstance(gold, str) and bool(gold.strip())


@dataclass(frozen=True)
class Completion:
    prompt_id: str
    text: str
    model: str
    engine: str
    params: str = "{}"
    seed: int | None = None
    round: int = 0
    num_tokens: int | None = None
    finish_reason: str | None = None
    parent_id: str | None = None  # an edit: the completion it was edited from (not part of the id)
    id: str = ""
    created_at: datetime = field(default_factory=now)

    def __post_init__(self):
        if not self.id:
            key = (
                "completion",
                self.prompt_id,
                self.text,
                self.model,
                self.engine,
                self.params,
                self.seed,
                self.round,
            )
            object.__setattr__(self, "id", content_id(*key))


@dataclass(frozen=True)
class Pair:
    prompt_id: str
    completion_a: str
    completion_b: str
    kind: str
    round: int = 0
    id: str = ""
    created_at: datetime = field(default_factory=now)

    def __post_init__(self):
        if not self.id:
            object.__setattr__(
                self, "id", content_id("pair", self.completion_a, self.completion_b, self.kind)
            )


@dataclass(frozen=True)
class Label:
    item_id: str
    annotator: str
    task: str
    choice: str | None
    strength: int | None = None
    seconds: float | None = None
    note: str | None = None
    retracted: bool = False
    supersedes: str | None = None
    left: str | None = None  # pairwise: the completion ("a" or "b") the labeller saw on the left
    confidence: float | None = None  # machine verdicts: probability, or agreement of both orders (0-1)
    suggestion: str | None = None  # `annotate --suggest`: "shown" or "hidden" (the machine's pick held back)
    served_at: datetime | None = (
        None  # when the server handed the item to the labeller (created_at: the label)
    )
    active_seconds: float | None = None  # the browser's count of seconds with the labeller active on the item
    ranking: str | None = (
        None  # rank: completion ids best first ("c3>c1=c4>c2"); ``left`` then holds the shown order
    )
    ratings: str | None = None  # task rate: {aspect: value} as compact JSON, keys sorted (data.rubric)
    rubric: str | None = None  # task rate: the rubric's name
    id: str = field(default_factory=random_id)
    created_at: datetime = field(default_factory=now)


@dataclass(frozen=True)
class ModelRecord:
    """One entry of the manifest: a model, the model it was trained from, and what trained it."""

    path: str
    method: str
    round: int = 0
    parent_id: str | None = None
    data: str = "{}"
    metrics: str = "{}"
    id: str = field(default_factory=random_id)
    created_at: datetime = field(default_factory=now)


@dataclass(frozen=True)
class Score:
    """A model's view of one pair: summed log-probs of both sides under the model and its reference (parent).

    ``margin`` = (log π(a) − log π_ref(a)) − (log π(b) − log π_ref(b)), DPO's implicit reward margin divided by β;
    without a reference, log π(a) − log π(b). Near 0: the model cannot tell the two apart. ``chat_template``: what
    rendered the pair for both passes (None: written before it was recorded, an unknown rendering).
    """

    pair_id: str
    model_id: str
    logp_a: float
    logp_b: float
    margin: float
    reference_id: str | None = None
    reference_logp_a: float | None = None
    reference_logp_b: float | None = None
    chat_template: str | None = None  # `data.chat_template.template_id` of what rendered both passes
    id: str = ""
    created_at: datetime = field(default_factory=now)

    def __post_init__(self):
        if not self.id:
            # the template hashed where recorded: a rescore with another is a new score (a score without one,
            # as an older version wrote it, keeps its id)
            rendered = [self.chat_template] if self.chat_template is not None else []
            object.__setattr__(self, "id", content_id("score", self.pair_id, self.model_id, *rendered))


@dataclass(frozen=True)
class ArenaRun:
    """What one `generate --arena` run found: the ``models`` (manifest ids, or folders) it compared on the first
    ``prompts`` prompts of ``split`` in ``round``, the arena pairs their answers make (``pairs``, stored before or by
    this run), the model pairs left unpaired as their two answers were one text (``identical``), and the prompts
    where every answer compared was another model's text, so no pair (``identical_prompts``), and per pair of
    models with such answers, which and how many (``identical_by_models``: `data.arena_runs.IdenticalTally`). A
    content id: a rerun that finds the same adds nothing (one that finds what a run recorded before
    ``identical_by_models`` was, and some identical answers, records it anew: the note then names the pairs). The
    run also writes one with each chunk of answers it stores, listing them (``answers``; ``pairs`` and ``identical``
    0: `generate.arena.answers_recorded`), so they are evaluation data from the write that stores them. Answers it
    compared that were ordinary ones before it ran (a pairs job's, stored earlier, that no arena had listed) are
    ``ordinary``, not ``answers``: its pairs of them are its own, but labels on them stay training data."""

    split: str
    round: int
    models: list[str]
    prompts: int
    pairs: int
    identical: int = 0
    identical_prompts: list[str] = field(default_factory=list)
    identical_by_models: list[dict] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    ordinary: list[str] = field(default_factory=list)
    id: str = ""
    created_at: datetime = field(default_factory=now)

    def __post_init__(self):
        if not self.id:
            key = (self.split, self.round, self.models, self.prompts, self.pairs, self.identical)
            # hashed only where some pair answered alike: a run with none keeps the id it had before the field;
            # the answers likewise (where given), so a rerun of a run recorded before them records them anew
            later = [self.identical_by_models] if self.identical_by_models else []
            later += [self.answers] if self.answers else []
            later += [{"ordinary": self.ordinary}] if self.ordinary else []
            object.__setattr__(self, "id", content_id("arena", *key, self.identical_prompts, *later))


TABLE_OF = {
    Prompt: "prompts",
    Completion: "completions",
    Pair: "pairs",
    Label: "labels",
    ModelRecord: "models",
    Score: "scores",
    ArenaRun: "arenas",
}


def to_row(record: object) -> dict:
    return dataclasses.asdict(record)
