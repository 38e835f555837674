"""`python -m data`: the workspace on the command line.

python -m data provision                       # default model + sample data into $PREFLOOP_HOME (offline after)
python -m data init -w ws
python -m data import -w ws --sample dpo       # or: import -w ws FILE [FILE ...]
python -m data import -w ws --remove FILE      # withdraw the labels FILE's import stored (kept as history)
python -m data export -w ws --format dpo       # TRL-ready Parquet in ws/exports/
python -m data export -w ws --format ratings   # one row per rated answer, one column per rubric aspect
python -m data stats -w ws
python -m data stats -w ws --labellers        # each labeller's quality and pace (--json for every figure)
python -m data gold -w ws --from-split test    # gold items mixed into labellers' queues (or FILE, --pair/--completion
                                               #   + --answer, --rank-item + --ranking, --rate-item + --ratings)
python -m data validate -w ws
python -m data compact -w ws
python -m data merge -w ws ws-shard2 ws-shard3   # rows sampled on other machines
python -m data leaderboard -w ws [--by people|judge:NAME|rm:ID] [--split train|test|all] [--json]   # the arena's Bradley–Terry table
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from data.cli import add_subcommands, explicit_names, options_parser, run_cli
from data.commands import SUBCOMMANDS
from data.config import build
from data.errors import PrefloopError, counted
from data.exclusion import check_exclusion
from data.export import write_export, write_parquet
from data.export_workspace import export_workspace
from data.files import WriteError, failure_reason
from data.gold import ANSWER, GOLD_TASKS, GoldChange, Mark, apply_gold, read_gold
from data.gold_balance import one_sided_gold
from data.gold_file import FileGold, gold_from_files
from data.gold_sources import flags_trained, gold_from_flags, gold_from_split
from data.import_labellers import ARENA_ANSWER, ARENA_UNNAMED, LABELLER_CONFLICT
from data.import_options import ImportOptions, check_source_name
from data.import_records import RecordError
from data.import_summary import ROW_SPLITS, import_summary, row_split_line, split_line, warning_lines
from data.import_withdraw import file_labels, passed_over_lines, withdraw_imports
from data.import_write import (
    copy_warning,
    import_lock,
    log_import,
    split_news,
    stopped_import,
    stored_state,
    write_records,
)
from data.imports import check_files, checked_again, guard_files
from data.intervals import rounded_figures
from data.labellers import labeller_lines
from data.leaderboard import workspace_board
from data.leaderboard_view import board_json, board_text, plot_leaderboard
from data.merge_lines import plan_lines
from data.merging import merge_source, merge_workspaces
from data.option_checks import OPTION_CHECKS
from data.provision import EMBEDDED, provision_model, provision_samples, sample_path
from data.rubric import load_rubric
from data.spellings import Spellings
from data.stats import labeller_report, workspace_stats
from data.stats_lines import arena_only_line, stats_lines
from data.validate import dangling_references, integrity_problems, validate_workspace
from data.workspace import Workspace

SHOWN = 10  # conflicts (and import log lines) a merge, or --remove, names one by one
# leaderboard resamples: each holds a draw per prompt (10,000 of them over 10,000 prompts: 800 MB of draws)
MAX_BOOTSTRAP = 10_000
# ... and the fewest: a 95 % percentile interval's ends are the 2.5 % and 97.5 % points of the resamples, which under
# 40 of them are the extreme draws or between them (`--bootstrap 1` printed "+0.78 to +0.78", a 95 % interval of no
# width that left out the strength, +0.495)
MIN_BOOTSTRAP = 40


def build_parser(prog: str = "python -m data") -> argparse.ArgumentParser:
    parser = options_parser(None, prog, __doc__)
    add_subcommands(parser, SUBCOMMANDS, prog)
    return parser


def parse(argv: list[str] | None, prog: str = "python -m data") -> tuple[str, Any]:
    """The subcommand and its options object; an option that does nothing for the options chosen beside it,
    given by flag or in the config file (at its default value too), is refused here."""
    parser = build_parser(prog)
    namespace = parser.parse_args(argv)
    command = namespace.command
    del namespace.command
    options = build(SUBCOMMANDS[command][0], namespace)
    if command in OPTION_CHECKS:
        OPTION_CHECKS[command](options, explicit_names(namespace))
    return command, options


def cmd_provision(args: Any) -> int:
    for name in args.model or sorted(EMBEDDED):
        print(f"model {name}: {provision_model(name)}")
    if not args.no_samples:
        for kind, path in provision_samples().items():
            print(f"sample {kind}: {path}")
    return 0


# (a record error's reason, --remove) -> what --on-error skip does with such rows, the hint its error ends with.
# --remove imports nothing: it reads the file as its import did (with --on-error skip, its complete records, and
# without the rows a labeller's earlier row contradicts, or over an arena answer, which that import left out; a row
# naming no labeller over the arena's answers it reads as an import before 2026-12-07 stored it, refusing none)
ON_ERROR_HINTS = {
    ("truncated", False): "imports them",
    ("truncated", True): "reads them, as an import with it did",
    **{
        (reason, remove): "leaves them out" + ", as an import with it did" * remove
        for reason in (LABELLER_CONFLICT, ARENA_ANSWER)
        for remove in (False, True)
    },
    (ARENA_UNNAMED, False): "leaves them out",
}


def cmd_import(args: Any) -> int:
    try:
        return _import(args)
    except RecordError as exc:  # the hint only here: `data gold` and `generate --prompts` take no --on-error
        done = ON_ERROR_HINTS.get((exc.reason, bool(args.remove)))
        if done is None:
            raise
        raise PrefloopError(f"{exc} (--on-error skip {done})") from None


def _import(args: Any) -> int:
    options = ImportOptions(
        args.format,
        args.source,
        args.split or "train",
        args.test_fraction,
        args.on_error,
        args.unlabelled,
        args.non_text,
        args.pairs_per_prompt,
        args.max_record_bytes,
        args.rubric,
    )
    if args.remove:
        return remove_imports(args, options)
    files = list(args.files) + [sample_path(kind) for kind in args.sample]
    if not files:
        raise PrefloopError("nothing to import: give FILE(s) or --sample")
    for path in files:  # its name, the answers' source, before any file is read
        check_source_name(path, options)
    # Every file is read and checked before the workspace is touched: a bad file writes nothing.
    state, checked = check_files(args.workspace, files, options)
    workspace = Workspace.open_or_init(args.workspace)
    with import_lock(workspace):  # checked against what is stored as it is written: one import at a time
        # all the files' answers together, before any is written
        loaded, spellings = checked_again(workspace, state, checked, options)
        loaded = guard_files(workspace, loaded, options, spellings)
        _write_files(args, workspace, loaded, options)
    return 0


def _write_files(args: Any, workspace: Workspace, loaded: list, options: ImportOptions) -> None:
    """Write each checked file of `data import` and print its summary."""
    for done, item in enumerate(loaded):
        try:
            counts = write_records(workspace, item.records, item.counts)
        except OSError as exc:  # the disk filled up: the files before this one are stored (summaries printed)
            raise (stopped_import(exc, loaded[:done], loaded[done:]) if done else exc) from exc
        copied = copy_warning(workspace, item, counts, args.source or item.path.stem)  # before its own line
        rejects = log_import(workspace, item, counts, options)
        # a datasets folder's rows, and rows of a `split` column, name their split
        named = item.path.is_dir() or any(counts[key] for key in ROW_SPLITS)
        counts = split_news(counts, args.split is not None or args.test_fraction > 0 or named)
        print(import_summary(item, counts, rejects, args.rubric, args.pairs_per_prompt))
        for line in (row_split_line(counts), split_line(counts, args.test_fraction)):
            if line:
                print(line)
        for line in warning_lines(item, counts, copied):
            print(f"warning: {line}", file=sys.stderr)


def remove_imports(args: Any, options: ImportOptions) -> int:
    """`data import --remove FILE`: withdraw the labels those files' imports stored (`data.import_withdraw`)."""
    if args.files or args.sample:
        raise PrefloopError(
            "--remove withdraws the labels of files imported before: give files to import, or --remove FILE "
            "(the flag once per file: --remove A --remove B), not both in one call"
        )
    workspace = Workspace(args.workspace)
    spellings = Spellings(workspace)  # the texts as the import stored them
    # no label has a split, nor its id a strength: neither is read, as a file imported before they were is withdrawn
    # nor is a near miss of a column refused, nor a text of messages written out, nor a row naming no labeller over
    # the arena's answers: an import before each check stored such a file's labels (a row an import since left out
    # so: its rejects file lists it)
    options = replace(
        options,
        split_column=False,
        strength_column=False,
        near_misses=False,
        answers_wanted=False,
        messages_as_text=False,
        arena_rows=False,
    )
    # every file read before anything is written
    files = file_labels(args.remove, options, workspace, spellings)
    for passed_over in passed_over_lines(workspace, files, SHOWN):  # before a refusal those lines may cause
        print(f"warning: {passed_over}", file=sys.stderr)
    for withdrawal in withdraw_imports(workspace, files, options):
        print(withdrawal.line())
    return 0


def cmd_export(args: Any) -> int:
    workspace = Workspace(args.workspace)
    made = export_workspace(workspace, args)
    for line in made.exclusion.warnings():
        print(f"warning: {line}", file=sys.stderr)
    if not len(made.rows):
        raise PrefloopError(f"{args.workspace}: nothing to export as {made.name} ({made.summary()})")
    if args.out:
        out = write_parquet(made.rows, args.out)
    else:
        out = write_export(
            made.rows, workspace.exports, f"{made.name}{f'-{args.split}' if args.split else ''}.parquet"
        )
    print(f"wrote {out}: {made.summary()}")
    return 0


def _rubric_used(rubric: Path | None, rated: bool) -> None:
    """A ``--rubric`` given to `data stats` that orders nothing, said as `data import` says its own."""
    if rubric is not None and not rated:
        print(f"warning: --rubric {rubric} not used: this workspace holds no ratings", file=sys.stderr)


def cmd_stats(args: Any) -> int:
    workspace = Workspace(args.workspace)
    exclusion = check_exclusion(workspace, args.exclude_labeller)
    for line in exclusion.warnings():
        print(f"warning: {line}", file=sys.stderr)
    # the aspects as the rate app lists them (ratings store them sorted)
    order = load_rubric(args.rubric).names
    if args.labellers:
        report = labeller_report(workspace, exclusion.names, order)
        _rubric_used(args.rubric, "rate" in report["tasks"])
        print(json.dumps(report, indent=2) if args.json else "\n".join(labeller_lines(report)))
        return 0
    stats = workspace_stats(workspace, args.aggregate, exclusion.names, order)
    _rubric_used(args.rubric, "rate_items" in stats)
    if args.json:
        print(json.dumps(rounded_figures(stats), indent=2, default=str))  # as `--labellers --json`'s
        return 0
    print("\n".join(stats_lines(stats, args.aggregate, exclusion.line())))
    return 0


def _gold_change(args: Any, workspace: Workspace) -> tuple[FileGold, list[Mark], str, GoldChange]:
    """`data gold`'s marks (with what its files add, and --from-split's note) and what `apply_gold` wrote of them.
    A gold FILE's rows are matched to what is stored and its new prompts, answers and pairs written in one turn of
    the import lock (`import_lock`), as an import's rows are: a `data import` at once stored them twice, or its
    answers beside the file's copies that a match would have marked. The locks' order: import.lock first, then
    gold.lock (`apply_gold`'s); nothing holding gold.lock waits for import.lock, so the two never deadlock."""
    marks, paths = gold_from_flags(args), list(args.files)
    # every file is read and checked before anything is written or locked; read again under the lock where an
    # import stored rows meanwhile (`stored_state`), as `data import` checks its files again (`checked_again`)
    state, files = stored_state(workspace.path), gold_from_files(workspace, paths, args.split, args.rubric)
    if args.rubric is not None and not args.rate_item and "rate" not in files.tasks:
        raise PrefloopError("--rubric goes with --rate-item or a gold FILE's ratings (it checks them)")
    # no file: gold rows alone, as the apps write them
    with import_lock(workspace) if paths else nullcontext():
        if paths and stored_state(workspace.path) != state:
            files = gold_from_files(workspace, paths, args.split, args.rubric)
        files.warn()
        # of the files' prompts: for their marks only
        arena = None if marks or args.from_split else files.arena
        marks += files.marks
        left = ""
        if args.from_split:
            split_marks, left = gold_from_split(workspace, args.from_split)
            marks += split_marks
        return files, marks, left, apply_gold(workspace, marks, list(args.remove), files.records, arena)


def cmd_gold(args: Any) -> int:
    workspace = Workspace(args.workspace)
    files, marks, left, change = _gold_change(args, workspace)
    order = load_rubric(args.rubric).names  # a one-sided gold note lists its aspects as the rate app does
    total, one_sided = 0, []  # one_sided: gold a one-answer labeller scores on as a careful one does
    for (
        task
    ) in GOLD_TASKS:  # the whole list for a call that asks nothing; a call that marks or removes says so
        gold = read_gold(workspace, task)
        total += gold.num_rows
        sided = one_sided_gold(gold, task, order)
        one_sided += [sided] if sided is not None else []
        if marks or args.remove:
            continue
        for item, answer, source in zip(
            *(gold.column(c).to_pylist() for c in ("item_id", ANSWER[task], "source"))
        ):
            print(f"{item}\t{task}\t{answer}\t{source}")
    already = f", {change.unchanged} already gold with that answer" if change.unchanged else ""
    changed = f", {change.changed} of them a new answer for a gold item" if change.changed else ""
    summary = f"gold items: {total} (+{change.marked} marked{changed}{already}, -{change.removed} removed)"
    if not (marks or args.remove or args.files or args.from_split):  # a plain listing: no change to sum up
        summary = f"gold items: {total}"
    trained = flags_trained(workspace, marks, change)
    print(summary + files.summary() + "".join(f"; {note}" for note in (left, trained) if note))
    for sided in one_sided:
        print(f"warning: {sided.note}", file=sys.stderr)
    return 0


def cmd_leaderboard(args: Any) -> int:
    workspace = Workspace(args.workspace)
    if not MIN_BOOTSTRAP <= args.bootstrap <= MAX_BOOTSTRAP:  # 10**14 was numpy's MemoryError traceback
        raise PrefloopError(
            f"--bootstrap {args.bootstrap}: must be in {MIN_BOOTSTRAP}..{MAX_BOOTSTRAP} (fewer resamples than "
            f"{MIN_BOOTSTRAP} leave a 95 % interval's ends at the extreme draws)"
        )
    if args.seed < 0:
        raise PrefloopError(f"--seed {args.seed}: must be >= 0")
    exclusion = check_exclusion(workspace, args.exclude_labeller)
    for line in exclusion.warnings():
        print(f"warning: {line}", file=sys.stderr)
    board = workspace_board(workspace, args.by, args.bootstrap, args.seed, exclusion.names, args.split)
    png: Path | None = workspace.path / "leaderboard.png"
    try:
        plot_leaderboard(board.rows, board.by, png, exclusion.names, board.split)
    except WriteError as exc:  # a read-only workspace (a shared copy): the board only reads it
        print(
            f"warning: {png}: the plot is not written ({failure_reason(exc)}); the board is printed all the same",
            file=sys.stderr,
        )
        png = None
    if args.json:
        notes = (board.sided, board.unvoted, board.inconsistent, board.identical)
        print(
            board_json(
                board.rows,
                board.by,
                exclusion.names,
                *notes,
                split=board.split,
                left_out=board.left_out,
                votes_by_split=board.votes_by_split,
                votes_left_out=board.votes_left_out,
            )  # fmt: skip
        )
    else:
        print("\n".join(board_text(board, exclusion.line(), png)))
    return 0


def cmd_validate(args: Any) -> int:
    workspace = Workspace(args.workspace)
    # reading every table validates every part file on the way
    problems, on_arena = validate_workspace(workspace)
    for problem in problems:
        print(problem)
    if stray := workspace.stray_line():  # no problem (nothing stored is lost), but nothing reads them
        print(f"warning: {stray}", file=sys.stderr)
    if on_arena:  # no problem of the files: what exports leave out, said
        print(f"note: {arena_only_line(on_arena)}")
    print(f"{args.workspace}: {'OK' if not problems else counted(len(problems), 'problem')}")
    return 1 if problems else 0


def cmd_compact(args: Any) -> int:
    for name, done in Workspace(args.workspace).compact().items():
        print(done.line(name))
    return 0


def cmd_merge(args: Any) -> int:
    workspace = Workspace(args.workspace)
    others = [merge_source(path) for path in args.others]  # all must open before anything is written
    for other in others:  # its dangling references merged in, then named only as warnings with status 0
        broken = dangling_references(other)
        if broken:
            more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
            raise PrefloopError(
                f"{other.path}: {broken[0]}{more} (`python -m data validate -w {other.path}` names them): merging "
                "it would bring them here; nothing merged"
            )
    # every workspace read and checked first, then all of them written as one batch: all or nothing
    for plan in merge_workspaces(workspace, others, args.on_conflict):
        for line, warning in plan_lines(plan, SHOWN):
            print(line, file=sys.stderr if warning else sys.stdout)
    problems = integrity_problems(workspace, whole=False)  # the references only: `validate` checks every row
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def cmd_init(args: Any) -> int:
    Workspace.init(args.workspace)
    print(f"workspace ready: {args.workspace}")
    return 0


COMMANDS = {
    "provision": cmd_provision,
    "init": cmd_init,
    "import": cmd_import,
    "export": cmd_export,
    "stats": cmd_stats,
    "gold": cmd_gold,
    "validate": cmd_validate,
    "compact": cmd_compact,
    "merge": cmd_merge,
    "leaderboard": cmd_leaderboard,
}


def _main(argv: list[str] | None, prog: str = "python -m data") -> int:
    command, options = parse(argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return COMMANDS[command](options)


def main(argv: list[str] | None = None, prog: str = "python -m data") -> int:
    return run_cli(lambda args: _main(args, prog), argv)


if __name__ == "__main__":
    sys.exit(main())
