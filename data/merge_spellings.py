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
from data.workspace import Workspace

PROMPTS, ANSWERS = "near_copy_prompts", "near_copy_answers"  # the counts' names


class NearCopies:
    """The near-copies each merged-in workspace's new rows hold of what this ``workspace`` holds with the plans
    before: read lazily (the prompts' messages at the first plan adding a prompt; the answers of the prompts a plan
    adds answers to, from the completions' prompt and text columns)."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._prompts: set[tuple] | None = None  # the held prompts' `messages_key`s
        # the held answers, (prompt_id, text) tables: this workspace's, then each plan's added ones
        self._completions: list[pa.Table] | None = None

    def count(self, added: dict[str, pa.Table]) -> Counter:
        """``added``'s (one plan's new rows, table -> rows) near-copies of held texts, by kind; then they are held."""
        counts = Counter()
        prompts, completions = added["prompts"], added["completions"]
        if prompts.num_rows:
            held = self._held_prompts()
            keys = [messages_key(messages) for messages in prompts.column("messages").to_pylist()]
            counts[PROMPTS] = sum(key in held for key in keys)
            held.update(keys)
        if completions.num_rows:
            counts[ANSWERS] = self._near_answers(completions.select(["prompt_id", "text"]))
        return +counts

    def _held_prompts(self) -> set[tuple]:
        if self._prompts is None:
            stored = self.workspace.read("prompts", ["messages"]).column("messages").to_pylist()
            self._prompts = {messages_key(messages) for messages in stored}
        return self._prompts

    def _near_answers(self, new: pa.Table) -> int:
        """How many of ``new`` answers' texts differ from a held answer of their prompt only by spelling (another
        completion of the very same text is no near-copy: one text can be several completions)."""
        if self._completions is None:
            self._completions = [
                self.workspace.read("completions", ["prompt_id", "text"]).select(["prompt_id", "text"])
            ]
        prompts = pc.unique(new.column("prompt_id"))
        spellings: dict[tuple[str, str], set[str]] = {}
        for table in self._completions:
            table = table.filter(pc.is_in(table.column("prompt_id"), value_set=prompts))
            for prompt, text in zip(*(table.column(c).to_pylist() for c in ("prompt_id", "text"))):
                spellings.setdefault((prompt, text_key(text)), set()).add(text)
        near = 0
        for prompt, text in zip(*(new.column(c).to_pylist() for c in ("prompt_id", "text"))):
            held = spellings.get((prompt, text_key(text)), set())
            near += bool(held) and text not in held
        self._completions.append(new)
        return near
