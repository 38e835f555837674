from __future__ import annotations

import re
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.records import Label, to_row
from data.schemas import LABELS, SchemaError
from data.table_checks import conform
from data.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def labels_table(**overrides) -> pa.Table:
    row = to_row(Label("pair1", "ann", "pairwise", "a", id="l1", created_at=T0)) | overrides
    return pa.Table.from_pylist([to_row(Label("pair0", "ann", "pairwise", "b", id="l0", created_at=T0)), row])


def test_conform_returns_exact_schema():
    table = conform(labels_table(), "labels", "x.parquet")
    assert table.schema.equals(LABELS)
    assert table.column("choice").to_pylist() == ["b", "a"]


def test_bad_choice_names_file_row_and_field():
    with pytest.raises(SchemaError) as err:
        conform(labels_table(choice="maybe"), "labels", "labels/part-1.parquet")
    assert str(err.value) == (
        "labels/part-1.parquet, row 1, field 'choice': pairwise choice 'maybe' is not one of a, b, tie, both_bad"
    )


def test_kto_choice_must_be_desirable_or_undesirable():
    with pytest.raises(SchemaError, match="row 1, field 'choice'"):
        conform(labels_table(task="kto", choice="a"), "labels", "f")


def test_retracted_label_needs_no_choice():
    assert conform(labels_table(choice=None, retracted=True), "labels", "f").num_rows == 2


def test_missing_column_and_null_and_strength_are_reported():
    table = labels_table().drop_columns(["annotator"])
    with pytest.raises(SchemaError, match="field 'annotator': missing column"):
        conform(table, "labels", "f")
    with pytest.raises(SchemaError, match="row 1, field 'annotator': must not be empty"):
        conform(labels_table(annotator=None), "labels", "f")
    with pytest.raises(SchemaError, match="row 1, field 'strength': strength 7 is not in 1..4"):
        conform(labels_table(strength=7), "labels", "f")


@pytest.mark.parametrize(
    ("value", "said"), [(-5.0, "seconds -5.0 is negative"), (float("nan"), "seconds nan is not a number")]
)
def test_label_seconds_that_are_no_time_are_named(value, said):
    """A label's NaN seconds (a hand-written or damaged part file: `data validate`, `stats`, `merge` read it) was
    said to be "nan is negative"."""
    with pytest.raises(SchemaError) as err:
        conform(labels_table(seconds=value), "labels", "f")
    assert str(err.value) == f"f, row 1, field 'seconds': {said}"


@pytest.mark.parametrize("name", ["", "  ", "\t"])
def test_a_blank_annotator_is_refused_like_a_null_one(name):
    """A label by "" was stored (by the Python API) and read: a labeller shown as ": 6 labels" whom neither
    --exclude-labeller nor excluded.json can name (both refuse a blank name)."""
    with pytest.raises(SchemaError, match="row 1, field 'annotator': annotator must name who labelled"):
        conform(labels_table(annotator=name), "labels", "f", written=True)
    assert conform(labels_table(annotator=name), "labels", "f").num_rows == 2  # stored before: still read
    inside = labels_table(annotator="cyd lee")  # spaces inside a name are its own
    assert conform(inside, "labels", "f", written=True).num_rows == 2


@pytest.mark.parametrize("name", [" cyd ", "cyd ", "\tcyd"])
def test_an_annotator_with_spaces_around_it_is_refused_on_write_not_on_read(tmp_path, name):
    """The name " cyd " was stored (by the Python API), yet --exclude-labeller and excluded.json both drop the
    spaces around a name: nothing could exclude that labeller. New rows are refused; a part an older version wrote
    so still reads (refused, the whole workspace could not be read: no stats, export or training)."""
    said = f"row 1, field 'annotator': annotator {name!r} has spaces around it (no --exclude-labeller or excluded.json"
    with pytest.raises(SchemaError, match=re.escape(said)):
        conform(labels_table(annotator=name), "labels", "f", written=True)
    ws = Workspace.init(tmp_path / "ws")
    with pytest.raises(SchemaError, match=re.escape(said)):
        ws.append([Label("pair0", "ann", "pairwise", "b"), Label("pair1", name, "pairwise", "a")])
    assert ws.read("labels").num_rows == 0
    older = ws.path / "labels" / "part-0.parquet"  # as an older version wrote it
    pq.write_table(labels_table(annotator=name), older)
    assert ws.read("labels").column("annotator").to_pylist()[1] == name


def test_unknown_column_is_an_error():
    with pytest.raises(SchemaError, match="unknown column"):
        conform(labels_table().append_column("extra", pa.array([1, 2])), "labels", "f")


def test_prompt_messages_are_checked():
    row = {
        "id": "p",
        "messages": [{"role": "robot", "content": "hi"}],
        "gold": None,
        "source": "s",
        "split": "train",
        "created_at": T0,
    }
    with pytest.raises(SchemaError, match="row 0, field 'messages': message role 'robot'"):
        conform(pa.Table.from_pylist([row]), "prompts", "f")
    row["messages"] = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    with pytest.raises(SchemaError, match="must not end with an assistant message"):
        conform(pa.Table.from_pylist([row]), "prompts", "f")


def test_pair_needs_two_different_completions():
    row = {
        "id": "p",
        "prompt_id": "q",
        "completion_a": "c",
        "completion_b": "c",
        "kind": "sampled",
        "round": 0,
        "created_at": T0,
    }
    with pytest.raises(SchemaError, match="row 0, field 'completion_b'"):
        conform(pa.Table.from_pylist([row]), "pairs", "f")
    row.update(completion_b="d", kind="other")
    with pytest.raises(
        SchemaError, match="field 'kind': value 'other' is not one of sampled, spin, imported"
    ):
        conform(pa.Table.from_pylist([row]), "pairs", "f")
