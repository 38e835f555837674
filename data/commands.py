"""The options of each `python -m data` subcommand (one dataclass each, flags built from their fields by
`data.cli`), and the table of subcommands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data.aggregate import AGGREGATIONS, MAJORITY
from data.export import FORMATS as EXPORT_FORMATS
from data.export_sft import SFT_SHAPES
from data.import_options import ON_ERROR
from data.import_readers import MAX_RECORD_BYTES, RECORD_BYTES_BOUND
from data.imports import FORMATS as IMPORT_FORMATS
from data.leaderboard import ALL_SPLITS, ARENA, PEOPLE
from data.merging import ON_CONFLICT
from data.provision import EMBEDDED, SAMPLES
from data.rank_pairs import RANK_KIND
from data.ranking import RANK_PAIRS
from data.schemas import PAIR_KINDS, SPLITS
from data.selection import LABEL_SOURCES

# Arena pairs are evaluation data: out unless asked; rank: the pairs rankings expand into (data.rank_pairs).
EXPORT_KINDS = (*(k for k in PAIR_KINDS if k != ARENA), RANK_KIND)
WORKSPACE = field(metadata={"help": "workspace directory", "short": "-w", "metavar": "WS", "required": True})
AGGREGATE = field(
    default=MAJORITY,
    metadata={
        "help": "how labels become a verdict: majority vote, or dawid-skene (weighs each labeller by their "
        "estimated confusion matrix; exports carry its posterior)",
        "choices": AGGREGATIONS,
    },
)
RANK_PAIRS_OPTION = field(
    default="all",
    metadata={
        "help": "the pairs a ranking of k answers expands into: all k(k-1)/2, adjacent ranks only, or none "
        "(rankings left out: kind_rank_not_asked); the rank gap is each pair's strength",
        "choices": RANK_PAIRS,
    },
)
MIN_POSTERIOR = field(
    default=None,
    metadata={
        "metavar": "P",
        "help": "with --aggregate dawid-skene: leave out verdicts whose posterior is below this (in (0, 1]): fewer "
        "rows, fewer of them wrong",
    },
)
EXCLUDE_LABELLER = field(
    default=(),
    metadata={
        "help": "leave these labellers' labels out of every verdict (they stay stored): names one after the other "
        "(ann bob), joined with commas (ann,bob; spaces around a name are dropped) or the flag repeated; names "
        "match in any Unicode normalisation",
        "metavar": "NAME",
        "names": True,  # a stored name with a comma (a judge's folder) is one name: data.exclusion.flag_names
    },
)


@dataclass(frozen=True)
class ProvisionOptions:
    model: tuple[str, ...] = field(
        default=(), metadata={"help": "model short name(s)", "choices": sorted(EMBEDDED), "repeat": True}
    )
    no_samples: bool = field(default=False, metadata={"help": "skip the sample data", "switch": True})


@dataclass(frozen=True)
class WorkspaceOptions:
    workspace: Path = WORKSPACE


@dataclass(frozen=True)
class ImportCommand:
    workspace: Path = WORKSPACE
    files: tuple[Path, ...] = field(
        default=(), metadata={"help": "JSON, JSONL, Parquet, CSV or a datasets folder", "positional": True}
    )
    sample: tuple[str, ...] = field(
        default=(), metadata={"help": "a provisioned sample set", "choices": sorted(SAMPLES), "repeat": True}
    )
    format: str = field(
        default="auto", metadata={"help": "record format (auto: detected)", "choices": IMPORT_FORMATS}
    )
    source: str | None = field(
        default=None,
        metadata={"metavar": "NAME", "help": "source name recorded on every row (default: the file name)"},
    )
    split: str | None = field(  # None: not asked, so a stored prompt's split kept is no news (`split_news`)
        default=None,
        metadata={
            "help": "split for rows that name none (default: train; a row's 'split' column wins; not with "
            "--test-fraction)",
            "choices": SPLITS,
        },
    )
    test_fraction: float = field(
        default=0.0,
        metadata={
            "help": "hold out about this fraction of prompts as test, in [0, 1): each prompt's chance, drawn from "
            "a hash of its messages (a row's 'split' column wins)"
        },
    )
    on_error: str = field(
        default="fail",
        metadata={
            "help": "a bad record stops the import (fail), or is left out, counted and listed in WS/imports/ "
            "(skip)",
            "choices": ON_ERROR,
        },
    )
    unlabelled: bool = field(
        default=False,
        metadata={
            "help": "store no preference/label: chosen and rejected become a pair for labellers (KTO rows: "
            "items)",
            "switch": True,
        },
    )
    pairs_per_prompt: int = field(
        default=1,
        metadata={
            "help": "pairs made among a prompt's candidate completions (0: every pair), as for sampled "
            "completions"
        },
    )
    non_text: str = field(
        default="fail",
        metadata={
            "help": "a non-text content part (image, tool call) is an error (fail) or left out and counted "
            "(drop)",
            "choices": ("fail", "drop"),
        },
    )
    max_record_bytes: int = field(
        default=MAX_RECORD_BYTES,
        metadata={
            "help": "a longer JSON record or JSON Lines line is refused (or skipped with --on-error skip) unread, "
            f"a longer CSV cell refuses the file (1 byte to {RECORD_BYTES_BOUND >> 40} TiB; default: "
            f"{MAX_RECORD_BYTES}, {MAX_RECORD_BYTES >> 20} MiB)"
        },
    )
    rubric: Path | None = field(
        default=None,
        metadata={
            "metavar": "FILE",
            "help": "the rubric YAML that rows' ratings (a ratings object, or a column per aspect) are checked "
            "against (as annotate --task rate --rubric); default: configs/rubrics/helpsteer2.yaml",
        },
    )
    remove: tuple[Path, ...] = field(
        default=(),
        metadata={
            "help": "withdraw the labels an import of this file stored (preferences, KTO labels, rankings, "
            "ratings; kept in the log, no longer in force: their items go to labellers again), the file read as "
            "it was imported (the same --source, --format, --rubric, --max-record-bytes, --non-text, --on-error); "
            "the flag once per file",
            "repeat": True,
            "metavar": "FILE",
        },
    )


@dataclass(frozen=True)
class ExportCommand:
    workspace: Path = WORKSPACE
    format: str = field(default="dpo", metadata={"choices": EXPORT_FORMATS, "required": True})
    out: Path | None = field(
        default=None,
        metadata={"metavar": "FILE", "help": "output file (default: WS/exports/<format>[-<split>].parquet)"},
    )
    split: str | None = field(
        default=None, metadata={"help": "only prompts of this split (default: all)", "choices": SPLITS}
    )
    labels: str = field(
        default="auto",
        metadata={
            "help": "whose labels decide (as train --labels): auto = people's where a pair has one, else "
            "judges' and reward models'; human; machine; all",
            "choices": LABEL_SOURCES,
        },
    )
    aggregate: str = AGGREGATE
    min_posterior: float | None = MIN_POSTERIOR
    exclude_labeller: tuple[str, ...] = EXCLUDE_LABELLER
    kinds: tuple[str, ...] = field(
        default=EXPORT_KINDS,
        metadata={
            "help": f"dpo: pair kinds exported (default: {' '.join(EXPORT_KINDS)}; arena pairs are evaluation "
            "data)",
            "choices": (*PAIR_KINDS, RANK_KIND),
        },
    )
    edits: bool = field(
        default=False,
        metadata={
            "help": "sft: the labellers' edits (prompt + edited answer; undone edits and gold items' answers "
            "left out) instead of the prompts' gold answers",
            "switch": True,
        },
    )
    sft_shape: str = field(
        default=SFT_SHAPES[0],
        metadata={
            "help": "sft: the rows' columns: messages (the prompt's messages, then the answer: stock TRL "
            "SFTTrainer's loss covers every token) or prompt-completion (prompt, completion: its loss on the answer "
            "alone, as train --method sft)",
            "choices": SFT_SHAPES,
        },
    )
    rank_pairs: str = RANK_PAIRS_OPTION
    rubric: Path | None = field(
        default=None,
        metadata={
            "metavar": "FILE",
            "help": "ratings: the rubric YAML whose order the aspect columns follow, as annotate --task rate "
            "--rubric shows them; aspects it lacks come after, sorted; default: configs/rubrics/helpsteer2.yaml",
        },
    )


@dataclass(frozen=True)
class LeaderboardCommand:
    workspace: Path = WORKSPACE
    by: str = field(
        default=PEOPLE,
        metadata={
            "metavar": "WHO",
            "help": "whose votes: people (default), judge:NAME or rm:ID (a machine labeller)",
        },
    )
    json: bool = field(default=False, metadata={"help": "print JSON", "switch": True})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples of the prompts (40..10000)"})
    seed: int = field(default=0, metadata={"help": "bootstrap seed"})
    exclude_labeller: tuple[str, ...] = EXCLUDE_LABELLER
    split: str = field(
        default=ALL_SPLITS,
        metadata={
            "help": "only the votes on arena pairs of this split's prompts (default: all; `generate --arena` answers "
            "test where the workspace holds test prompts)",
            "choices": (*SPLITS, ALL_SPLITS),
        },
    )


@dataclass(frozen=True)
class StatsCommand:
    workspace: Path = WORKSPACE
    json: bool = field(default=False, metadata={"help": "print JSON", "switch": True})
    labellers: bool = field(
        default=False,
        metadata={
            "help": "each labeller's quality and pace per task (gold, agreement, κ, τ-b, flags)",
            "switch": True,
        },
    )
    aggregate: str = AGGREGATE
    exclude_labeller: tuple[str, ...] = EXCLUDE_LABELLER
    rubric: Path | None = field(
        default=None,
        metadata={
            "metavar": "FILE",
            "help": "the rubric YAML whose order the ratings' aspects are listed in (rate_items, --labellers' "
            "flags and notes), as annotate --task rate --rubric shows them; aspects it lacks come after, sorted; default: "
            "configs/rubrics/helpsteer2.yaml",
        },
    )


@dataclass(frozen=True)
class GoldCommand:
    workspace: Path = WORKSPACE
    files: tuple[Path, ...] = field(
        default=(),
        metadata={
            "help": "files of preferences, KTO labels, rankings or ratings: the stored pairs, completions and rank "
            "items of their rows' prompts and answer texts become gold (rows that match none add theirs)",
            "positional": True,
        },
    )
    from_split: str | None = field(
        default=None,
        metadata={"help": "the imported preferences and KTO labels of this split's items", "choices": SPLITS},
    )
    split: str | None = field(
        default=None,
        metadata={
            "help": "split of the new prompts the files' rows add when nothing stored matches them (default: test, "
            "which train holds out; rows of a datasets folder keep their split's: refused for such folders alone)",
            "choices": SPLITS,
        },
    )
    pair: tuple[str, ...] = field(
        default=(),
        metadata={"help": "a pair id to make gold (with --answer)", "repeat": True, "metavar": "PAIR_ID"},
    )
    completion: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "a completion id to make gold for the KTO task (with --answer)",
            "repeat": True,
            "metavar": "ID",
        },
    )
    answer: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "the gold answer of each --pair (a, b, tie, both_bad) or --completion (desirable, undesirable)",
            "repeat": True,
        },
    )
    rank_item: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "a rank item id to make gold (with --ranking; the app's item id)",
            "repeat": True,
            "metavar": "ID",
        },
    )
    ranking: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "the gold ranking of each --rank-item: every one of its answers' completion ids once, best "
            "first, '>' between ranks and '=' in a tie (c3>c1=c4>c2); one ranking a flag",
            "repeat": True,
            "whole": True,  # 'a,b,c' is one ranking miswritten (refused saying so), not three
        },
    )
    rate_item: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "a completion id to make gold for the rate task (with --ratings)",
            "repeat": True,
            "metavar": "ID",
        },
    )
    ratings: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "the gold ratings of each --rate-item, a JSON object of every rubric aspect: value",
            "repeat": True,
            "whole": True,
        },
    )
    rubric: Path | None = field(
        default=None,
        metadata={
            "metavar": "FILE",
            "help": "the rubric YAML that --ratings and a gold FILE's ratings are checked against (as annotate "
            "--task rate --rubric); "
            "default: configs/rubrics/helpsteer2.yaml",
        },
    )
    remove: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "an item (pair, completion, rank item) no longer gold",
            "repeat": True,
            "metavar": "ITEM",
        },
    )


@dataclass(frozen=True)
class MergeCommand:
    workspace: Path = WORKSPACE
    others: tuple[Path, ...] = field(
        default=(),
        metadata={"help": "workspace folders to merge in", "positional": True, "required": True},
    )
    on_conflict: str = field(
        default="fail",
        metadata={
            "help": "two workspaces holding different labels of one annotator on one item, or different gold "
            "answers of one item, or a label id naming another item's label, stop the merge (fail), or the "
            "merged-in workspace's are left out and counted (skip); answers that would change a rank item under its "
            "labels stop it either way",
            "choices": ON_CONFLICT,
        },
    )


SUBCOMMANDS: dict[str, tuple[type, str]] = {
    "provision": (ProvisionOptions, "convert the embedded default model and fetch sample data"),
    "init": (WorkspaceOptions, "create an empty workspace"),
    "import": (ImportCommand, "import prompts, gold answers, preferences, KTO labels, rankings or ratings"),
    "export": (ExportCommand, "write a TRL-ready Parquet table (TRL's own column names)"),
    "stats": (StatsCommand, "counts, label distribution, agreement, model lineage"),
    "gold": (
        GoldCommand,
        "items with a known answer (pairs, KTO and rated completions, rank items), mixed into labellers' "
        "queues (annotate --gold-rate)",
    ),
    "leaderboard": (LeaderboardCommand, "Bradley–Terry strengths of the arena's models from blind votes"),
    "validate": (WorkspaceOptions, "read every file against the schemas and check references"),
    "compact": (WorkspaceOptions, "merge each table's part files into one"),
    "merge": (MergeCommand, "add the rows of other workspaces (e.g. shards sampled elsewhere)"),
}
