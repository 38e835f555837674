"""The checks every read and write of a workspace table runs (`conform`): its columns and types against its schema
(`data.schemas`), then the values: domains (label choices, pair kinds, splits), a prompt's messages, a label's or
gold item's answer (choice, ranking or ratings: its task's and no other). Checked on whole columns (Arrow compute);
the first bad row is reported with its path, row and field, never silently loaded.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data.errors import shown
from data.ranking import RankingError, canonical_ranking
from data.schemas import (
    ADDED_COLUMNS,
    CHOICES,
    PAIR_KINDS,
    ROLES,
    SCHEMAS,
    SIDES,
    SPLITS,
    SUGGESTIONS,
    TASKS,
    SchemaError,
)


def conform(
    table: pa.Table, name: str, source: str, columns: list[str] | None = None, written: bool = False
) -> pa.Table:
    """Check ``table`` against the schema of table ``name`` and return it cast to exactly that schema (or to the
    schema's ``columns``, for a read of some columns: then only those are checked). ``written``: rows about to be
    written, which also hold to what only new rows must (an annotator name that can be excluded); a stored part
    that an older version wrote without it still reads.

    Raises SchemaError naming ``source``, the first offending row and field.
    """
    schema = SCHEMAS[name] if columns is None else pa.schema([SCHEMAS[name].field(c) for c in columns])
    for added in ADDED_COLUMNS.get(name, ()):
        if added in schema.names and added not in table.column_names:
            table = table.append_column(added, pa.nulls(table.num_rows, schema.field(added).type))
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise SchemaError(
            source, f"missing column(s) {', '.join(missing)} for table '{name}'", field=missing[0]
        )
    extra = [c for c in table.column_names if c not in schema.names]
    if extra:
        raise SchemaError(source, f"unknown column(s) {', '.join(extra)} for table '{name}'", field=extra[0])
    columns = []
    for field in schema:
        column = table.column(field.name)
        if not column.type.equals(field.type):
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaError(
                    source, f"type {column.type} cannot be read as {field.type}", field=field.name
                ) from exc
        if not field.nullable and column.null_count:
            row = _first_bad(pc.is_valid(column))
            raise SchemaError(source, "must not be empty (null)", row=row, field=field.name)
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=schema)
    _check_values(table, name, source, written)
    return table


def _first_bad(ok: pa.ChunkedArray | pa.Array) -> int | None:
    """The index of the first row where ``ok`` is false or null, or None when every row is fine."""
    ok = pc.fill_null(ok, False)
    if pc.all(ok).as_py() is not False:
        return None
    return pc.index(ok, False).as_py()


def _check_domain(table: pa.Table, field: str, allowed, source: str, nullable: bool = False) -> None:
    column = table.column(field)
    ok = pc.is_in(column, value_set=pa.array(list(allowed), column.type))
    row = _first_bad(pc.or_kleene(pc.is_null(column), ok) if nullable else ok)
    if row is not None:
        raise SchemaError(
            source,
            f"value {column[row].as_py()!r} is not one of {', '.join(map(str, allowed))}",
            row=row,
            field=field,
        )


def _check_values(table: pa.Table, name: str, source: str, written: bool = False) -> None:
    has = set(table.column_names)
    if "id" in has:
        row = _first_bad(pc.greater(pc.utf8_length(table.column("id")), 0))
        if row is not None:
            raise SchemaError(source, "id must be a non-empty string", row=row, field="id")
    if name == "prompts":
        if "split" in has:
            _check_domain(table, "split", SPLITS, source)
        if "messages" in has:
            _check_prompts(table.column("messages"), source)
    elif name == "pairs":
        if "kind" in has:
            _check_domain(table, "kind", PAIR_KINDS, source)
        if {"completion_a", "completion_b"} <= has:
            row = _first_bad(pc.not_equal(table.column("completion_a"), table.column("completion_b")))
            if row is not None:
                raise SchemaError(
                    source, "a pair needs two different completions", row=row, field="completion_b"
                )
    elif name in ("labels", "gold"):  # a gold answer is held as a label holds it
        _check_labels(table, source, has, "label" if name == "labels" else "gold item", written)


def _check_prompts(messages: pa.ChunkedArray, source: str) -> None:
    """``check_messages`` on every row, screened on whole columns: Python looks only at rows that fail the screen."""
    messages = messages.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(messages), 0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(messages)
    roles, contents = flat.field("role"), flat.field("content")
    bad = lengths == 0
    wrong = ~pc.fill_null(pc.is_in(roles, value_set=pa.array(ROLES)), False).to_numpy(zero_copy_only=False)
    wrong |= pc.is_null(contents).to_numpy(zero_copy_only=False)
    if wrong.any():
        bad[np.unique(pc.list_parent_indices(messages).to_numpy()[wrong])] = True
    ends = np.cumsum(lengths) - 1
    filled = np.flatnonzero(lengths > 0)
    last = ends[filled]
    last_role = roles.take(pa.array(last)).to_numpy(zero_copy_only=False)
    last_text = pc.utf8_length(pc.utf8_trim_whitespace(contents.take(pa.array(last))))
    bad[filled] |= (last_role == "assistant") | (
        pc.fill_null(last_text, 0).to_numpy(zero_copy_only=False) == 0
    )
    for row in np.flatnonzero(bad):
        check_messages(messages[int(row)].as_py(), source, int(row))


def check_messages(messages: list | None, source: str, row: int | None, field: str = "messages") -> None:
    """A prompt is a non-empty list of {role, content} messages with known roles, not ending on the assistant."""
    if not messages:
        raise SchemaError(source, "a prompt needs at least one message", row=row, field=field)
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            role = message.get("role") if isinstance(message, dict) else message
            raise SchemaError(source, f"message role {role!r} is not one of {', '.join(ROLES)}", row, field)
        if not isinstance(message.get("content"), str):
            raise SchemaError(source, "message content must be text", row=row, field=field)
    if messages[-1]["role"] == "assistant":
        raise SchemaError(source, "a prompt must not end with an assistant message", row=row, field=field)
    if not messages[-1]["content"].strip():
        raise SchemaError(source, "the prompt's last message has no text", row=row, field=field)


def _check_range(table: pa.Table, field: str, low: float, high: float, shown: str, source: str) -> None:
    """A nullable numeric column whose values lie in [low, high] (``shown`` is how the message writes the range)."""
    column = table.column(field)
    in_range = pc.and_(pc.greater_equal(column, low), pc.less_equal(column, high))
    row = _first_bad(pc.or_kleene(pc.is_null(column), in_range))
    if row is not None:
        raise SchemaError(source, f"{field} {column[row].as_py()} is not in {shown}", row=row, field=field)


def _check_choices(table: pa.Table, exempt: pa.ChunkedArray, source: str) -> None:
    """Each row's choice is one of its task's choices, except where ``exempt`` is true (a retracted label)."""
    task, choice = table.column("task"), table.column("choice")
    allowed = [f"{t}/{c}" for t, cs in CHOICES.items() for c in cs]
    ok = pc.is_in(pc.binary_join_element_wise(task, choice, "/"), value_set=pa.array(allowed))
    row = _first_bad(pc.or_kleene(pc.fill_null(exempt, False), pc.fill_null(ok, False)))
    if row is not None:
        allowed = ", ".join(CHOICES[task[row].as_py()])
        message = f"{task[row].as_py()} choice {choice[row].as_py()!r} is not one of {allowed}"
        raise SchemaError(source, message, row, "choice")


def _check_ratings(table: pa.Table, rated: pa.ChunkedArray, source: str, noun: str = "label") -> None:
    """A rating that is not retracted carries ratings and no choice; other labels carry no ratings."""
    ratings, retracted = table.column("ratings"), table.column("retracted")
    needs = pc.and_(rated, pc.invert(retracted))
    row = _first_bad(
        pc.or_(pc.invert(needs), pc.and_(pc.is_valid(ratings), pc.is_null(table.column("choice"))))
    )
    if row is not None:
        raise SchemaError(source, f"a rate {noun} needs ratings and no choice", row=row, field="ratings")
    row = _first_bad(pc.or_(rated, pc.is_null(ratings)))
    if row is not None:
        raise SchemaError(source, f"only rate {noun}s carry ratings", row=row, field="ratings")


def _check_labels(
    table: pa.Table, source: str, has: set[str], noun: str = "label", written: bool = False
) -> None:
    if "task" in has:
        _check_domain(table, "task", TASKS, source)
    if (
        written and "annotator" in has
    ):  # stored: read as it is (refused, the workspace could not be read at all)
        _check_annotators(table.column("annotator"), source)
    unchosen = (
        pc.invert(pc.is_in(table.column("task"), value_set=pa.array(list(CHOICES))))
        if "task" in has
        else None
    )
    if {"task", "choice", "retracted"} <= has:  # a rank label has no choice: its ranking says it
        _check_choices(table, pc.or_(table.column("retracted"), unchosen), source)
    if {"task", "retracted", "ranking"} <= has:
        _check_rankings(table, source, noun)
    if {"task", "choice", "retracted", "ratings"} <= has:  # a rating has no choice either: its ratings say it
        _check_ratings(table, pc.equal(table.column("task"), "rate"), source, noun)
    if "left" in has:
        left = table.column("left")
        ranked = unchosen if unchosen is not None else pa.repeat(pa.scalar(False), table.num_rows)
        ok = pc.or_kleene(pc.or_kleene(pc.is_null(left), pc.is_in(left, value_set=pa.array(SIDES))), ranked)
        row = _first_bad(ok)
        if row is not None:
            raise SchemaError(
                source, f"value {left[row].as_py()!r} is not one of a, b", row=row, field="left"
            )
    if "strength" in has:
        _check_range(table, "strength", 1, 4, "1..4", source)
    if "suggestion" in has:
        _check_domain(table, "suggestion", SUGGESTIONS, source, nullable=True)
    if "confidence" in has:
        _check_range(table, "confidence", 0, 1, "[0, 1]", source)
    for field in ("seconds", "active_seconds"):
        if field in has:
            seconds = table.column(field)
            row = _first_bad(pc.or_kleene(pc.is_null(seconds), pc.greater_equal(seconds, 0)))
            if row is not None:
                value = seconds[row].as_py()
                what = "is negative" if value < 0 else "is not a number"  # NaN: it said "nan is negative"
                raise SchemaError(source, f"{field} {value} {what}", row=row, field=field)


def _check_annotators(annotators: pa.ChunkedArray, source: str) -> None:
    """A name --exclude-labeller and excluded.json can give: not blank (a blank name is nobody's), no spaces around
    it (both drop them, so " cyd " could never be excluded)."""
    trimmed = pc.utf8_trim_whitespace(annotators)
    row = _first_bad(pc.greater(pc.utf8_length(trimmed), 0))
    if row is not None:
        raise SchemaError(
            source, "annotator must name who labelled (not empty or blank)", row=row, field="annotator"
        )
    row = _first_bad(pc.equal(trimmed, annotators))
    if row is not None:
        message = (
            f"annotator {shown(annotators[row].as_py())} has spaces around it (no --exclude-labeller or "
            "excluded.json entry can name it: both drop them)"
        )
        raise SchemaError(source, message, row=row, field="annotator")


def _check_rankings(table: pa.Table, source: str, noun: str = "label") -> None:
    """A current rank label holds a canonical ranking (data.ranking); no other label holds one."""
    ranking, rank = table.column("ranking"), pc.equal(table.column("task"), "rank")
    row = _first_bad(pc.or_kleene(pc.is_null(ranking), rank))
    if row is not None:
        raise SchemaError(source, f"only a rank {noun} holds a ranking", row=row, field="ranking")
    needs = pc.and_(rank, pc.invert(table.column("retracted")))
    for row in pc.indices_nonzero(pc.fill_null(needs, False).combine_chunks()).to_pylist():
        value = ranking[row].as_py()
        try:
            if value is None:
                raise RankingError(f"a rank {noun} needs a ranking")
            if canonical_ranking(value) != value:
                raise RankingError(
                    f"ranking {value!r} is not in canonical form (ids sorted in a tie, no spaces)"
                )
        except RankingError as exc:
            raise SchemaError(source, str(exc), row=row, field="ranking") from None
