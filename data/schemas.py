"""The data contract: one explicit pyarrow schema per workspace table, the values its columns may hold (label
choices, pair kinds, roles, splits), and the error that names a row breaking it.

A table is a set of Parquet part files; every row has a unique ``id``. Every read and write checks its rows against
this contract (`data.table_checks.conform`).
"""

from __future__ import annotations

import pyarrow as pa

from data.errors import PrefloopError

TIMESTAMP = pa.timestamp("us", tz="UTC")
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)

PAIR_KINDS = ("sampled", "spin", "imported", "arena", "edit")  # edit: a labeller's edit vs its original
TASKS = ("pairwise", "kto", "rank", "rate")  # rank: a `ranking` (data.ranking); rate: `ratings` (data.rubric)
CHOICES = {"pairwise": ("a", "b", "tie", "both_bad"), "kto": ("desirable", "undesirable")}
ROLES = ("system", "user", "assistant")
SPLITS = ("train", "test")

PROMPTS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("messages", MESSAGES, nullable=False),
        pa.field("gold", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

COMPLETIONS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("prompt_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("engine", pa.string(), nullable=False),
        pa.field("params", pa.string(), nullable=False),
        pa.field("seed", pa.int64()),
        pa.field("round", pa.int64(), nullable=False),
        pa.field("num_tokens", pa.int64()),
        pa.field("finish_reason", pa.string()),
        pa.field("parent_id", pa.string()),  # an edit (engine "human"): the completion it was edited from
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

PAIRS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("prompt_id", pa.string(), nullable=False),
        pa.field("completion_a", pa.string(), nullable=False),
        pa.field("completion_b", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("round", pa.int64(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

LABELS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("annotator", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("choice", pa.string()),
        pa.field("strength", pa.int64()),
        pa.field("seconds", pa.float64()),
        pa.field("note", pa.string()),
        pa.field("retracted", pa.bool_(), nullable=False),
        pa.field("supersedes", pa.string()),
        pa.field("left", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("suggestion", pa.string()),
        # Pace: when the server handed the item out (created_at is when the label arrived), and the seconds the
        # browser saw the labeller active on it (tab visible, a key or pointer event in the last 60 s).
        pa.field("served_at", TIMESTAMP),
        pa.field("active_seconds", pa.float64()),
        # rank: the completion ids best first, '>' between ranks, '=' in a tie (data.ranking); `left` holds the
        # ids in the order shown, comma-separated.
        pa.field("ranking", pa.string()),
        # Task rate: {aspect: value} as compact JSON, keys sorted, and the rubric's name (data.rubric).
        pa.field("ratings", pa.string()),
        pa.field("rubric", pa.string()),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

MODELS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("parent_id", pa.string()),
        pa.field("round", pa.int64(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("data", pa.string(), nullable=False),
        pa.field("metrics", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

# Reference log-probabilities cached by `train`, so the next run with the same reference skips the reference pass.
REFLOGPS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("pair_id", pa.string()),
        pa.field("reference", pa.string(), nullable=False),
        pa.field("chosen_logps", pa.float64(), nullable=False),
        pa.field("rejected_logps", pa.float64(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

# Pair scores of a model: how sure the model is about a pair (`python -m train score`); orders the labelling queue.
SCORES = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("pair_id", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("reference_id", pa.string()),
        pa.field("logp_a", pa.float64(), nullable=False),
        pa.field("logp_b", pa.float64(), nullable=False),
        pa.field("reference_logp_a", pa.float64()),
        pa.field("reference_logp_b", pa.float64()),
        pa.field("margin", pa.float64(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        # what rendered both passes (`data.chat_template.template_id` of the scoring tokenizer's template): a
        # rescore with another template is a new row that replaces the old for `--order uncertainty`; null in a
        # score written before it was recorded (an unknown rendering, which `train score` scores again)
        pa.field("chat_template", pa.string()),
    ]
)

# Gold items: items with a known answer, mixed into labellers' queues to measure each labeller (`python -m data gold`).
# Rows are events like labels: an item's current gold is its latest row, and a retracted latest row means none. The
# answer is held as a label holds it: a choice (pairwise, kto), a ranking (rank), ratings and their rubric (rate).
GOLD = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("choice", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("retracted", pa.bool_(), nullable=False),
        pa.field("ranking", pa.string()),
        pa.field("ratings", pa.string()),
        pa.field("rubric", pa.string()),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

# One row per `generate --arena` run (`data.records.ArenaRun`): the models it compared and what their answers made,
# so a workspace with no arena pair says why (`data.arena_runs.no_arena_why`) from what the arena recorded; and one
# with each chunk of answers the run stores, listing them (no pair made yet).
ARENAS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("round", pa.int64(), nullable=False),
        pa.field("models", pa.list_(pa.string()), nullable=False),
        pa.field("prompts", pa.int64(), nullable=False),
        pa.field("pairs", pa.int64(), nullable=False),
        pa.field("identical", pa.int64(), nullable=False),
        pa.field("identical_prompts", pa.list_(pa.string()), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        # per pair of its models with answers of one text: a note of "the arena's 3 models gave the same text in 9
        # answer pairs" named no pair (`data.arena_runs.IdenticalTally`); null in a run recorded before it
        pa.field(
            "identical_by_models",
            pa.list_(
                pa.struct(
                    [
                        ("a", pa.string()),
                        ("b", pa.string()),
                        ("compared", pa.int64()),
                        ("identical", pa.int64()),
                        ("prompts", pa.int64()),
                    ]
                )
            ),
        ),
        # the ids of every answer its models gave to its prompts, paired or not (one another model's text is on no
        # pair): evaluation data (`data.selection.arena_answers`); null in a run recorded before it
        pa.field("answers", pa.list_(pa.string())),
        # the answers it compared that were ordinary before it ran (not the arena's: their labels stay training
        # data, `data.selection.arena_answers`); null in a run recorded before it
        pa.field("ordinary", pa.list_(pa.string())),
    ]
)

# Nullable columns added after format 1 was first written: parts from before them read as all-null.
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "labels": (
        "left",
        "confidence",
        "suggestion",
        "served_at",
        "active_seconds",
        "ranking",
        "ratings",
        "rubric",
    ),
    "completions": ("parent_id",),
    "gold": ("ranking", "ratings", "rubric"),  # rank and rate gold answers; older parts hold choices
    "arenas": ("identical_by_models", "answers", "ordinary"),
    "scores": ("chat_template",),
}
SIDES = ("a", "b")
SUGGESTIONS = ("shown", "hidden")  # labels.suggestion: the machine's pick was on screen, or held back

# Write order matters: a reader must never see a row whose parent row is not yet on disk.
SCHEMAS: dict[str, pa.Schema] = {
    "prompts": PROMPTS,
    "completions": COMPLETIONS,
    "pairs": PAIRS,
    "labels": LABELS,
    "models": MODELS,
    "reflogps": REFLOGPS,
    "scores": SCORES,
    "gold": GOLD,
    "arenas": ARENAS,
}


class SchemaError(PrefloopError):
    """A workspace file or an input record breaks the data contract; the message names file, row and field."""

    def __init__(self, source: str, message: str, row: int | None = None, field: str | None = None):
        where = source
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")
        self.source, self.row, self.field, self.detail = source, row, field, message
