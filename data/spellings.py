"""One text, several spellings. A prompt or an answer that differs from a stored one, or from an earlier row's, only
by Unicode normalisation (NFC or NFD), line ends (CRLF, CR) or whitespace at the end of a line or of the text (one
`data.records.text_key`) is that text: an import and a gold file give the row the spelling that came first (the
stored one, else the first row's) before any id is computed. So the row's prompt and answers are the stored ones:
a gold row marks them, an import adds no near-copy beside them, and the rank guard sees no new answer. Nothing
stored changes, no stored id either (ids are of the texts as stored); a text met for the first time is stored as
the file gives it. A stored text met exactly is kept as it is, whatever other spelling is stored; of several stored
spellings (stored apart by an older version, or by a merge) the earliest stored is taken (`EARLIEST`: created_at,
then id), never the first in the table's part files, whose order a compaction changes (a file read again after
one would take the other spelling, and store its labels a second time)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

from data.import_formats import Example
from data.import_labellers import ANSWER_COLUMNS, LabelledPairs
from data.records import Message, messages_key, prompt_id, text_key
from data.schemas import SCHEMAS
from data.workspace import Workspace, WorkspaceError

T = TypeVar("T")
EARLIEST = [("created_at", "ascending"), ("id", "ascending")]  # which stored spelling comes first
TEXTS = ("gold", "chosen", "rejected", "completion")  # an Example's answer fields


class Spellings:
    """The first spelling of each prompt and of each answer of a prompt: the ``workspace``'s (read at the first
    row that needs them: the stored prompts of the rows' keys, then their answers; `EARLIEST` first), then
    those of the rows given to `example`, in their order; ``respelled`` counts the texts that took an earlier
    spelling. With ``nth`` (`data import --remove` looking for labels an import stored under a spelling that is
    no longer the first: `data.import_withdraw_spellings`) each text takes the nth stored spelling of its text
    instead (0 the earliest; the last where there are fewer), a stored text met exactly too; ``most`` is the most
    stored spellings a text met had."""

    def __init__(self, workspace: Workspace | None = None, nth: int | None = None):
        self.workspace = workspace
        self.nth = nth
        self.respelled = 0
        self.most = 1
        # the pairs of the labeller rows (`data.import_labellers`), shared by the files of an import as spellings are
        self.pairs = LabelledPairs(workspace, lambda id_: self._stored_prompts().holds(id_))
        self._stored: StoredPrompts | None = None  # every stored prompt, as an id and a digest of its key
        # key -> its spellings, the first first: the stored ones of each key whose `_digest` is in ``_looked_up``
        self._prompts: dict[tuple, list[list[Message]]] = {}
        self._looked_up: set[int] = set()
        # a stored prompt's answers (and gold) as stored, read (`expect`) and not yet spelled against
        self._texts: dict[str, list[str]] = {}
        # prompt id -> its stored answers, and each answer key's spellings, the first first
        self._answers: dict[str, tuple[set[str], dict[str, list[str]]]] = {}

    @classmethod
    def at(cls, path: str | Path) -> Spellings:
        """The spellings of the workspace at ``path``, none where there is none yet (a path that is not one is
        refused where the workspace is opened, after the files are checked, as before)."""
        try:
            return cls(Workspace.existing(path))
        except WorkspaceError:
            return cls()

    def expect(self, prompts: Iterable[list[Message]]) -> None:
        """Read the stored spellings of ``prompts`` (the prompts of the rows to come), then the stored answers of
        the stored prompts among them (as given or spelled otherwise), each in one read that holds no other
        prompt's texts: a file of a few rows into a large workspace reads a few prompts, not every stored text.
        ``prompts`` is not looked at where no prompt is stored. A row whose prompt was not expected has its
        stored spellings, then its answers, read when met (one read each)."""
        if not len(self._stored_prompts()):
            return
        keys, ids = set(), set()
        for messages in prompts:
            keys.add(messages_key(messages))
            ids.add(prompt_id(messages))  # as given, and each stored spelling (``nth`` may take any)
        self._look_up(keys)
        ids.update(prompt_id(kept) for key in keys for kept in self._prompts.get(key, ()))
        stored = {id_ for id_ in ids if self._stored.holds(id_)}
        self._read_texts(stored - self._texts.keys() - self._answers.keys())
        self.pairs.expect(stored)  # read at the first labeller row, for every row's prompt at once

    def example(self, example: Example) -> Example:
        """``example`` with its prompt's and answers' first spellings."""
        messages = self._prompt(example.messages)
        key = prompt_id(messages)

        def spell(text: str | None) -> str | None:
            return None if text is None else self._answer(key, text)

        candidates = example.candidates
        if candidates is not None:
            candidates = tuple(replace(c, text=spell(c.text)) for c in candidates)
        texts = {name: spell(getattr(example, name)) for name in TEXTS}
        return replace(example, messages=messages, candidates=candidates, **texts)

    def stored(self, prompt_id: str) -> bool:
        """Whether the workspace holds a prompt of id ``prompt_id`` (an import keeps its split: `data.import_splits`)."""
        return self._stored_prompts().holds(prompt_id)

    def _stored_prompts(self) -> StoredPrompts:
        if self._stored is None:
            self._stored = StoredPrompts(self.workspace)
        return self._stored

    def _look_up(self, keys: Iterable[tuple]) -> None:
        """The stored spellings of ``keys`` into ``_prompts``, `EARLIEST` first, in one read of the stored prompts
        whose key has the digest of one of them (the prompts of a digest met before are there already). A prompt
        of another key of the same digest (a collision) goes under its own key: a digest is looked up once, for
        every key that has it."""
        digests = {_digest(key) for key in keys} - self._looked_up
        named = self._stored_prompts().named(digests)
        self._looked_up |= digests
        if not named:
            return
        stored = self.workspace.read("prompts", ["messages", "created_at"], ("id", named)).sort_by(EARLIEST)
        for kept in stored.column("messages").to_pylist():
            key = messages_key(kept)
            # another key only where a compaction between the two reads made another row of an id its first
            if _digest(key) in digests:
                self._prompts.setdefault(key, []).append(kept)

    def _prompt(self, messages: list[Message]) -> list[Message]:
        key = messages_key(messages)
        if _digest(key) not in self._looked_up:
            self._look_up([key])
        spellings = self._prompts.setdefault(key, [messages])
        return self._pick(spellings, messages, self._stored_prompts().holds(prompt_id(messages)))

    def _answer(self, prompt: str, text: str) -> str:
        if prompt not in self._answers:
            if self._stored_prompts().holds(prompt) and prompt not in self._texts:
                self._read_texts({prompt})
            stored = self._texts.pop(prompt, [])
            spellings: dict[str, list[str]] = {}
            for kept in dict.fromkeys(stored):  # one text may be several answers (models)
                spellings.setdefault(text_key(kept), []).append(kept)
            self._answers[prompt] = (set(stored), spellings)
        exact, spellings = self._answers[prompt]
        return self._pick(spellings.setdefault(text_key(text), [text]), text, text in exact)

    def _pick(self, spellings: list[T], given: T, stored: bool) -> T:
        """Of a text's ``spellings``, the one the ``given`` one takes (``stored``: it is one of them, as given):
        itself where stored, else the first; the ``nth`` with ``nth``."""
        self.most = max(self.most, len(spellings))
        if stored and self.nth is None:
            return given
        kept = spellings[0 if self.nth is None else min(self.nth, len(spellings) - 1)]
        self.respelled += kept != given
        return kept

    def _read_texts(self, prompts: set[str]) -> None:
        """The answers (`EARLIEST` first) and gold answer of these stored ``prompts``, as stored, into ``_texts``;
        only their rows are read, never every stored text."""
        if not prompts:
            return
        for prompt in prompts:
            self._texts[prompt] = []
        # with the columns the import's pairs read them with: read once (`LabelledPairs.answers_read`)
        table = self.workspace.read("completions", ANSWER_COLUMNS, ("prompt_id", prompts))
        self.pairs.answers_read(prompts, table)
        table = table.sort_by(EARLIEST)
        for prompt, text in zip(*(table.column(c).to_pylist() for c in ("prompt_id", "text"))):
            self._texts[prompt].append(text)
        table = self.workspace.read("prompts", ["gold"], ("id", prompts))
        for prompt, gold in zip(*(table.column(c).to_pylist() for c in ("id", "gold"))):
            if gold is not None:
                self._texts[prompt].append(gold)


def _digest(value: object) -> int:
    """A 64-bit digest of a prompt's `messages_key` or of an id (Python's hash: this process's only). Two values
    may share one: a match is a candidate, checked on the value itself."""
    return hash(value)


def _digests(rows: pa.Table) -> pa.Table:
    """A batch of stored prompts as their ids and the digests of their keys and ids (`StoredPrompts`)."""
    ids = rows.column("id")
    keys = [_digest(messages_key(messages)) for messages in rows.column("messages").to_pylist()]
    return pa.table(
        {
            "id": ids,
            "key": pa.array(keys, pa.int64()),
            "id_digest": pa.array([_digest(id_) for id_ in ids.to_pylist()], pa.int64()),
        }
    )


class StoredPrompts:
    """Every stored prompt of a ``workspace`` (none without one) as its id and the `_digest` of its
    `messages_key` and of its id, some 50 bytes each: the messages are read a batch at a time to digest them and
    never held, so that an import into a large workspace holds the texts of the prompts its rows name only."""

    def __init__(self, workspace: Workspace | None):
        if workspace is None:
            table = _digests(SCHEMAS["prompts"].empty_table())
        else:
            table = workspace.read_each("prompts", ["messages"], _digests)
        self._ids = table.column("id").combine_chunks()
        self._keys = _Sorted(table.column("key").to_numpy())
        self._id_digests = _Sorted(table.column("id_digest").to_numpy())

    def __len__(self) -> int:
        return len(self._ids)

    def named(self, digests: Iterable[int]) -> list[str]:
        """The ids of the stored prompts whose key has one of these ``digests``."""
        return [self._ids[int(row)].as_py() for digest in digests for row in self._keys.rows(digest)]

    def matching(self, keys: Iterable[tuple]) -> list[str]:
        """The ids of the stored prompts whose key has the digest of one of these `messages_key`s ``keys`` (a
        digest may be another key's: check the messages)."""
        return self.named({_digest(key) for key in keys})

    def holds(self, id_: str) -> bool:
        """Whether a stored prompt has the id ``id_``."""
        return any(self._ids[int(row)].as_py() == id_ for row in self._id_digests.rows(_digest(id_)))


class _Sorted:
    """Digests sorted, each with its row, for the rows of one digest in O(log n)."""

    def __init__(self, digests: np.ndarray):
        self.rows_in_order = np.argsort(digests, kind="stable")
        self.digests = digests[self.rows_in_order]

    def rows(self, digest: int) -> np.ndarray:
        start = np.searchsorted(self.digests, digest, side="left")
        return self.rows_in_order[start : np.searchsorted(self.digests, digest, side="right")]
