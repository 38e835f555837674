"""`--shard I/K`: machine I of K samples the prompts of the I-th of K disjoint shards (`python -m data merge` joins
their workspaces afterwards)."""

from __future__ import annotations

import re

from data.errors import PrefloopError


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/K"`` (1 <= I <= K) -> (I, K): this machine samples the I-th of K disjoint prompt shards."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise PrefloopError(f"--shard {text!r}: expected I/K with 1 <= I <= K, e.g. 1/4")
    return int(match[1]), int(match[2])


def in_shard(prompt_id: str, shard: tuple[int, int]) -> bool:
    """Shards split by the prompt's content-hash id, so every machine agrees without coordination."""
    index, count = shard
    return int(prompt_id, 16) % count == index - 1
