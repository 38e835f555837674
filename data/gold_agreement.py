"""Gold items that are the same question must have the same answer (`data.gold.apply_gold` checks a call's marks with
these before writing): two gold pairs of one prompt and the same two answer texts (one the other's sides swapped),
or two gold completions of one prompt and the same text. Completions are keyed by their model, so one answer text
can be several completions (two imports of one data set under two names, a sampled answer a file repeats). Texts
are compared by `records.text_key`, prompts by `records.messages_key`: two spellings of one answer, or of one prompt,
that differ only by Unicode normalisation, line ends or trailing whitespace (stored before `data.spellings`, or
merged from two workspaces) are one answer, one prompt too."""

from __future__ import annotations

from data.errors import PrefloopError, quoted
from data.records import Completion, Pair, Prompt, messages_key, text_key
from data.workspace import Workspace


class GoldError(PrefloopError):
    """A gold configuration that cannot be used (a pair without an answer, an unknown pair, two gold items of the
    same question that disagree); `data.gold` raises it too."""


def said(verdict: tuple[str, ...]) -> str:
    """A pairwise verdict (`verdict`) or a KTO answer, short enough for one line."""
    return verdict[0] if verdict[0] != "over" else f"{quoted(verdict[1])} wins"


def verdict(sides: tuple[str, str], answer: str) -> tuple[str, ...]:
    """A pairwise answer in terms of the two answers' texts, whichever is shown as a: the winner, or the answer."""
    return ("over", sides[0] if answer == "a" else sides[1]) if answer in ("a", "b") else (answer,)


def replaces_gold(where: str, noun: str, item: str, source: str, theirs: str, mine: str) -> GoldError:
    """A gold file's row that disagrees with the gold answer of an item it matches: a file never replaces one
    (`--remove` it first, or give it on the command line)."""
    return GoldError(
        f"{where}: disagrees with {noun} {item}, already gold (from {source}) ({theirs}; this row: {mine}); "
        f"`data gold --remove {item}` first to replace it"
    )


def _beside_new(workspace: Workspace, rows: list[dict], new: set[str], records: list[object]) -> list[dict]:
    """The ``rows`` (id, prompt_id, ...) of the prompts where a ``new`` gold item stands beside another gold item:
    only there can two gold answers disagree (the rest were checked when they were marked), so only their texts are
    read, not the completions' text column on every mark. A prompt is its spelling (``prompt``, its
    `records.messages_key`): two spellings of one prompt (stored before `data.spellings`, or merged from two
    workspaces) are one prompt."""
    keys = _prompt_keys(workspace, {row["prompt_id"] for row in rows}, records)
    by_prompt: dict[tuple, list[dict]] = {}
    for row in rows:
        row["prompt"] = keys.get(row["prompt_id"], row["prompt_id"])
        by_prompt.setdefault(row["prompt"], []).append(row)
    return [
        row
        for group in by_prompt.values()
        if len(group) > 1 and any(r["id"] in new for r in group)
        for row in group
    ]


def _prompt_keys(workspace: Workspace, ids: set[str], records: list[object]) -> dict[str, tuple]:
    """Prompt id -> its `records.messages_key`, for ``ids`` stored or among ``records``."""
    stored = workspace.read("prompts", ["messages"], ("id", ids))
    messages = zip(stored.column("id").to_pylist(), stored.column("messages").to_pylist())
    added = ((r.id, r.messages) for r in records if isinstance(r, Prompt) and r.id in ids)
    return {id_: messages_key(kept) for id_, kept in (*messages, *added)}


def _gold_rows_of(
    workspace: Workspace, table: str, columns: list[str], gold: dict[str, str], records: list[object]
) -> list[dict]:
    """``columns`` of the ``gold`` items stored in ``table`` or among ``records`` of its kind."""
    stored = workspace.read(table, columns, ("id", set(gold)))
    kind = Pair if table == "pairs" else Completion
    added = [
        {c: getattr(r, c) for c in ("id", *columns)} for r in records if isinstance(r, kind) and r.id in gold
    ]
    return stored.select(["id", *columns]).to_pylist() + added


def _answer_texts(workspace: Workspace, ids: list[str], records: list[object]) -> dict[str, str]:
    """Completion id -> text, for ``ids`` stored or among ``records``."""
    stored = workspace.read("completions", ["text"], ("id", set(ids)))  # only these rows' texts are held
    texts = dict(zip(stored.column("id").to_pylist(), stored.column("text").to_pylist()))
    return texts | {r.id: r.text for r in records if isinstance(r, Completion)}


def _disagree(noun: str, first: tuple, second: tuple, who: dict[str, str], new: set[str], why: str) -> str:
    """One line for two gold items (id, said) that disagree, led by where the new one was given (a file's row and
    field, or a flag); the other is named by where it was given too, or as already gold (from its source)."""
    mine, other = (second, first) if second[0] in new else (first, second)
    named = f"given at {who[other[0]]}" if other[0] in new else f"already gold (from {who[other[0]]})"
    return f"{who[mine[0]]}: gold {noun} {mine[0]} ({mine[1]}) and {noun} {other[0]}, {named} ({other[1]}), {why}"


def check_pair_agreement(
    workspace: Workspace, gold: dict[str, str], who: dict[str, str], new: set[str], records: list[object]
) -> None:
    """Two gold pairs of the same prompt and the same two answer texts (one the other's sides swapped) must say the
    same: "x over y" on one and "y over x" on the other would mark every labeller wrong on one of them. ``gold``:
    every gold pair after the call -> its answer; ``who``: how a message names each (where a ``new`` one was given,
    a stored one's source)."""
    if len(gold) < 2:
        return
    columns = ["prompt_id", "completion_a", "completion_b"]
    rows = _beside_new(workspace, _gold_rows_of(workspace, "pairs", columns, gold, records), new, records)
    if not rows:
        return
    texts = _answer_texts(workspace, [row[side] for row in rows for side in columns[1:]], records)
    seen: dict[tuple, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}  # -> (id, said, the verdict's key)
    for row in rows:
        a, b = texts.get(row["completion_a"]), texts.get(row["completion_b"])
        if a is None or b is None:
            continue
        given, keys = verdict((a, b), gold[row["id"]]), (text_key(a), text_key(b))
        key = verdict(keys, gold[row["id"]])
        first = seen.setdefault((row["prompt"], frozenset(keys)), (row["id"], given, key))
        if first[2] != key:
            why = "compare the same two answers to one prompt but disagree; give one answer"
            message = _disagree("pair", (first[0], said(first[1])), (row["id"], said(given)), who, new, why)
            raise GoldError(message)


def check_kto_agreement(
    workspace: Workspace, gold: dict[str, str], who: dict[str, str], new: set[str], records: list[object]
) -> None:
    """Two gold completions of the same prompt and text must have the same gold answer (arguments as
    `check_pair_agreement`'s)."""
    if len(gold) < 2:
        return
    rows = _beside_new(
        workspace, _gold_rows_of(workspace, "completions", ["prompt_id"], gold, records), new, records
    )
    if not rows:
        return
    texts = _answer_texts(workspace, [row["id"] for row in rows], records)
    seen: dict[tuple, tuple[str, str]] = {}
    for row in rows:
        item, text = row["id"], texts.get(row["id"])
        first = seen.setdefault((row["prompt"], None if text is None else text_key(text)), (item, gold[item]))
        if first[1] != gold[item]:
            why = "are the same answer to one prompt; give one gold answer"
            raise GoldError(_disagree("completion", first, (item, gold[item]), who, new, why))
