"""What a merge stores as texts apart though they are one text to an import (`data.spellings`): a prompt, or an
answer of one prompt, that differs from one this workspace holds only by Unicode normalisation, line ends or
whitespace at the end of a line or of the text (`records.text_key`).

A merge does not give them the held spelling, as an import does: an import spells a row before any id is made, but
a merged-in row's id is already made, and so are the ids built on it. Respelling a prompt changes its id, so the
ids of its completions, their pairs, the labels and gold rows of those (``item_id``, a ranking's and ``left``'s
completion ids), its rank items, scores, edits (``parent_id``, ``params``), and the other workspace would no longer
hold the rows it merged (a second merge, or one back, would see them as new). A respelled answer would stay a
completion of its own anyway (its id holds its model, engine and seed). So a merge keeps each workspace's texts and
ids, and counts these near-copies (`NearCopies.count`), which the CLI says, so that nobody takes them for a bug.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from data.records import messages_key, text_key
from data.spellings import StoredPrompts
from data.workspace import Workspace

PROMPTS, ANSWERS = "near_copy_prompts", "near_copy_answers"  # the counts' names


class NearCopies:
    """The near-copies each merged-in workspace's new rows hold of what this ``workspace`` holds with the plans
    before, reading of this workspace's texts only those that may be near-copies: its prompts as ids and digests of
    their keys (`data.spellings.StoredPrompts`, at the first plan adding a prompt), then the messages of those whose
    digest a new prompt's key has; the answers of the prompts a plan adds answers to (their prompt and text columns).
    """

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._stored: StoredPrompts | None = (
            None  # this workspace's prompts, as ids and digests of their keys
        )
        self._added: set[tuple] = set()  # the `messages_key`s of the prompts the plans before add
        self._answers: list[pa.Table] = []  # the (prompt_id, text) tables of the answers the plans before add

    def count(self, added: dict[str, pa.Table]) -> Counter:
        """``added``'s (one plan's new rows, table -> rows) near-copies of held texts, by kind; then they are held."""
        counts = Counter()
        prompts, completions = added["prompts"], added["completions"]
        if prompts.num_rows:
            keys = [messages_key(messages) for messages in prompts.column("messages").to_pylist()]
            held = self._held_prompts(keys)
            counts[PROMPTS] = sum(key in held for key in keys)
            self._added.update(keys)
        if completions.num_rows:
            counts[ANSWERS] = self._near_answers(completions.select(["prompt_id", "text"]))
        return +counts

    def _held_prompts(self, keys: list[tuple]) -> set[tuple]:
        """Those of ``keys`` a held prompt has: one of this workspace's (those whose key has the digest of one of
        ``keys`` are read, in one read, and a digest match checked on the messages), or one a plan before adds."""
        if self._stored is None:
            self._stored = StoredPrompts(self.workspace)
        named = self._stored.matching(keys)
        stored = self.workspace.read("prompts", ["messages"], ("id", named)) if named else None
        held = (
            {messages_key(messages) for messages in stored.column("messages").to_pylist()} if named else set()
        )
        return held | (self._added & set(keys))

    def _near_answers(self, new: pa.Table) -> int:
        """How many of ``new`` answers' texts differ from a held answer of their prompt only by spelling (another
        completion of the very same text is no near-copy: one text can be several completions). This workspace's
        answers of their prompts only are read (an answer's id holds its prompt's: `data.rank_guard.item_sizes`)."""
        prompts = pc.unique(new.column("prompt_id"))
        stored = self.workspace.read("completions", ["prompt_id", "text"], ("prompt_id", prompts))
        spellings: dict[tuple[str, str], set[str]] = {}
        for table in (stored.select(["prompt_id", "text"]), *self._answers):
            table = table.filter(pc.is_in(table.column("prompt_id"), value_set=prompts))
            for prompt, text in zip(*(table.column(c).to_pylist() for c in ("prompt_id", "text"))):
                spellings.setdefault((prompt, text_key(text)), set()).add(text)
        near = 0
        for prompt, text in zip(*(new.column(c).to_pylist() for c in ("prompt_id", "text"))):
            held = spellings.get((prompt, text_key(text)), set())
            near += bool(held) and text not in held
        self._answers.append(new)
        return near
