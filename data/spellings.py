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

from data.import_formats import Example
from data.records import Message, messages_key, prompt_id, text_key
from data.workspace import Workspace, WorkspaceError

T = TypeVar("T")
EARLIEST = [("created_at", "ascending"), ("id", "ascending")]  # which stored spelling comes first
TEXTS = ("gold", "chosen", "rejected", "completion")  # an Example's answer fields


class Spellings:
    """The first spelling of each prompt and of each answer of a prompt: the ``workspace``'s (read at the first
    row that needs them: its prompts, then the answers of the stored prompts the rows name; `EARLIEST` first), then
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
        self._prompts: dict[tuple, list[list[Message]]] | None = None  # key -> its spellings, the first first
        self._stored: set[str] = set()  # the stored prompts' ids
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
        """Read the stored answers of the stored prompts among ``prompts`` (as stored or spelled otherwise), the
        prompts of the rows to come, in one read that holds no other prompt's answers: a file of a few rows into a
        large workspace reads a few prompts' answers, not every stored text. ``prompts`` is not looked at where no
        prompt is stored. A row whose stored prompt was not expected has its answers read then (one read each)."""
        self._read_prompts()
        if not self._stored:
            return
        ids = set()
        for messages in prompts:
            ids.add(prompt_id(messages))  # as given, and each stored spelling (``nth`` may take any)
            ids.update(prompt_id(kept) for kept in self._prompts.get(messages_key(messages), ()))
        self._read_texts((ids & self._stored) - self._texts.keys() - self._answers.keys())

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

    def _read_prompts(self) -> None:
        if self._prompts is None:
            self._prompts = {}
            if self.workspace is not None:
                stored = self.workspace.read("prompts", ["messages", "created_at"]).sort_by(EARLIEST)
                for id_, kept in zip(stored.column("id").to_pylist(), stored.column("messages").to_pylist()):
                    self._prompts.setdefault(messages_key(kept), []).append(kept)
                    self._stored.add(id_)

    def _prompt(self, messages: list[Message]) -> list[Message]:
        self._read_prompts()
        spellings = self._prompts.setdefault(messages_key(messages), [messages])
        return self._pick(spellings, messages, prompt_id(messages) in self._stored)

    def _answer(self, prompt: str, text: str) -> str:
        if prompt not in self._answers:
            if prompt in self._stored and prompt not in self._texts:
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
        table = self.workspace.read(
            "completions", ["prompt_id", "text", "created_at"], ("prompt_id", prompts)
        )
        table = table.sort_by(EARLIEST)
        for prompt, text in zip(*(table.column(c).to_pylist() for c in ("prompt_id", "text"))):
            self._texts[prompt].append(text)
        table = self.workspace.read("prompts", ["gold"], ("id", prompts))
        for prompt, gold in zip(*(table.column(c).to_pylist() for c in ("id", "gold"))):
            if gold is not None:
                self._texts[prompt].append(gold)
