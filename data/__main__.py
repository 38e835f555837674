"""`python -m data`: the workspace on the command line.

python -m data provision                       # default model + sample data into $PREFLOOP_HOME (offline after)
python -m data init -w ws
python -m data import -w ws --sample dpo       # or: import -w ws FILE [FILE ...]
python -m data export -w ws --format dpo       # TRL-ready Parquet in ws/exports/
python -m data stats -w ws
python -m data validate -w ws
python -m data compact -w ws
python -m data merge -w ws ws-shard2 ws-shard3   # rows sampled on other machines
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa

from data.errors import PrefloopError
from data.export import FORMATS as EXPORT_FORMATS
from data.export import dpo_table, kto_table, to_sft, write_parquet
from data.import_readers import MAX_RECORD_BYTES
from data.imports import FORMATS as IMPORT_FORMATS
from data.imports import ON_ERROR, ImportOptions, Loaded, check_file, log_import, write_records
from data.lineage import lineage_lines
from data.machine import machine_lines
from data.provision import EMBEDDED, SAMPLES, provision_model, provision_samples, sample_path
from data.schemas import SPLITS
from data.selection import LABEL_SOURCES, choose_labels
from data.stats import AGGREGATED, integrity_problems, workspace_stats
from data.workspace import Workspace


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    provision = commands.add_parser(
        "provision", help="convert the embedded default model and fetch sample data"
    )
    provision.add_argument("--model", action="append", choices=sorted(EMBEDDED), help="model short name(s)")
    provision.add_argument("--no-samples", action="store_true", help="skip the sample data")

    def with_workspace(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("-w", "--workspace", type=Path, required=True, help="workspace directory")
        return sub

    with_workspace("init", "create an empty workspace")
    imp = with_workspace("import", "import prompts, gold answers, preferences or KTO labels")
    imp.add_argument("files", nargs="*", type=Path, help="JSON, JSONL, Parquet, CSV or a datasets folder")
    imp.add_argument("--sample", choices=sorted(SAMPLES), action="append", help="a provisioned sample set")
    imp.add_argument(
        "--format", default="auto", choices=IMPORT_FORMATS, help="record format (default: detect)"
    )
    imp.add_argument("--source", help="source name recorded on every row (default: the file name)")
    imp.add_argument("--split", default="train", choices=SPLITS, help="split for rows that name none")
    imp.add_argument(
        "--test-fraction",
        type=float,
        default=0.0,
        help="hold out this fraction of prompts as test, in [0, 1)",
    )
    imp.add_argument(
        "--on-error",
        default="fail",
        choices=ON_ERROR,
        help="a bad record stops the import (fail), or is left out, counted and listed in WS/imports/ (skip)",
    )
    imp.add_argument(
        "--unlabelled",
        action="store_true",
        help="store no preference/label: chosen and rejected become a pair for labellers (KTO rows: items)",
    )
    imp.add_argument(
        "--pairs-per-prompt",
        type=int,
        default=1,
        help="pairs made among a prompt's candidate completions (0: every pair), as for sampled completions",
    )
    imp.add_argument(
        "--non-text",
        default="fail",
        choices=("fail", "drop"),
        help="a non-text content part (image, tool call) is an error (fail) or left out and counted (drop)",
    )
    imp.add_argument(
        "--max-record-bytes",
        type=int,
        default=MAX_RECORD_BYTES,
        help="a longer JSON record or JSON Lines line is refused (or skipped with --on-error skip) unread",
    )

    exp = with_workspace("export", "write a TRL-ready Parquet table (TRL's own column names)")
    exp.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    exp.add_argument("--out", type=Path, help="output file (default: WS/exports/<format>[-<split>].parquet)")
    exp.add_argument("--split", choices=SPLITS, help="only prompts of this split (default: all)")
    exp.add_argument(
        "--labels",
        choices=LABEL_SOURCES,
        default="auto",
        help="whose labels decide (as train --labels): auto = people's where a pair has one, else judges' and "
        "reward models'; human; machine; all",
    )

    stats = with_workspace("stats", "counts, label distribution, agreement, model lineage")
    stats.add_argument("--json", action="store_true", help="print JSON")
    with_workspace("validate", "read every file against the schemas and check references")
    with_workspace("compact", "merge each table's part files into one")
    merge = with_workspace("merge", "add the rows of other workspaces (e.g. shards sampled elsewhere)")
    merge.add_argument("others", nargs="+", type=Path, help="workspace folders to merge in")
    return parser


def cmd_provision(args: argparse.Namespace) -> int:
    for name in args.model or sorted(EMBEDDED):
        print(f"model {name}: {provision_model(name)}")
    if not args.no_samples:
        for kind, path in provision_samples().items():
            print(f"sample {kind}: {path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    files = list(args.files) + [sample_path(kind) for kind in args.sample or []]
    if not files:
        raise PrefloopError("nothing to import: give FILE(s) or --sample")
    options = ImportOptions(
        args.format,
        args.source,
        args.split,
        args.test_fraction,
        args.on_error,
        args.unlabelled,
        args.non_text,
        args.pairs_per_prompt,
        args.max_record_bytes,
    )
    # Every file is read and checked before the workspace is touched: a bad file writes nothing.
    loaded = [check_file(path, options) for path in files]
    workspace = Workspace.open_or_init(args.workspace)
    for item in loaded:
        counts = write_records(workspace, item.records, item.counts)
        rejects = log_import(workspace, item, counts, options)
        print(import_summary(item, counts, rejects))
    return 0


def import_summary(loaded: Loaded, counts: Counter, rejects: Path | None) -> str:
    """One line per file: counts, then what was skipped and where the rejects are listed."""
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if not k.startswith("skipped"))
    line = f"imported {loaded.path} ({loaded.format}): {shown}"
    if rejects:
        reasons = ", ".join(
            f"{k[len('skipped_') :]} {v}" for k, v in sorted(counts.items()) if k.startswith("skipped_")
        )
        line += f"; skipped {counts['skipped']} record(s) ({reasons}), listed in {rejects}"
    if counts["skipped_truncated"]:
        line += "; the file was cut off: only its complete records were imported"
    return line


PAIR_COLUMNS = ["prompt_id", "completion_a", "completion_b", "kind", "round", "created_at"]
EXPORT_COLUMNS = {  # what each export reads of each table (None: every column)
    "dpo": {
        "prompts": ["messages", "split"],
        "completions": ["text"],
        "pairs": PAIR_COLUMNS,
        "labels": AGGREGATED,
    },
    "kto": {
        "prompts": ["messages", "split"],
        "completions": ["prompt_id", "text", "round", "created_at"],
        "labels": AGGREGATED,
    },
    "sft": {"prompts": None},
}


def cmd_export(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)

    def read(name: str) -> pa.Table:
        return workspace.read(name, EXPORT_COLUMNS[args.format].get(name))

    if args.format == "sft":
        rows, counts = to_sft(read("prompts").to_pandas(), args.split)
    elif args.format == "kto":
        labels, completions = read("labels"), read("completions")  # children first (Workspace.read)
        labels = choose_labels(labels, args.labels)
        rows, counts = kto_table(read("prompts"), completions, labels, split=args.split)
    else:
        labels, pairs, completions = read("labels"), read("pairs"), read("completions")
        labels = choose_labels(labels, args.labels)
        rows, counts = dpo_table(read("prompts"), completions, pairs, labels, split=args.split)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    if not len(rows):
        raise PrefloopError(f"{args.workspace}: nothing to export as {args.format} ({summary})")
    name = args.format + (f"-{args.split}" if args.split else "")
    out = write_parquet(rows, args.out or workspace.exports / f"{name}.parquet")
    print(f"wrote {out}: {summary}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = workspace_stats(Workspace(args.workspace))
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
        return 0
    follow = stats.pop("suggestions")
    for key, value in stats.items():
        if key == "machine_agreement":
            print("machine labellers vs the human majority:" + ("" if value else " none"))
            for line in machine_lines(value, follow):
                print(f"  {line}")
        elif key == "models":
            print(
                "lineage (round -> data -> model -> held-out metrics):" + ("" if value else " no models yet")
            )
            for line in lineage_lines(value):
                print(f"  {line}")
        else:
            print(f"{key}: {value}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    problems = integrity_problems(workspace)  # reading every table validates every part file on the way
    for problem in problems:
        print(problem)
    print(f"{args.workspace}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def cmd_compact(args: argparse.Namespace) -> int:
    for name, (before, after) in Workspace(args.workspace).compact().items():
        print(f"{name}: {before} part(s) -> {after}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    others = [Workspace(path) for path in args.others]  # all must open before anything is written
    for other in others:
        added = workspace.merge(other)
        print(f"{other.path}: " + (", ".join(f"{k} +{v}" for k, v in added.items()) or "nothing new"))
    problems = integrity_problems(workspace)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    Workspace.init(args.workspace)
    print(f"workspace ready: {args.workspace}")
    return 0


COMMANDS = {
    "provision": cmd_provision,
    "init": cmd_init,
    "import": cmd_import,
    "export": cmd_export,
    "stats": cmd_stats,
    "validate": cmd_validate,
    "compact": cmd_compact,
    "merge": cmd_merge,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except (PrefloopError, OSError) as exc:
        print(
            f"error: {exc}", file=sys.stderr
        )  # a WriteError: "the disk is full: nothing was written to ..."
        return 2


if __name__ == "__main__":
    sys.exit(main())
