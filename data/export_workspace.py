"""What `python -m data export` makes of a workspace: the options checked against the format, the tables read
(only the columns the format needs, children first), the labels in force chosen (``--labels``, less the excluded
labellers': `data.export_labels`, as `train` chooses them), and the conversion (`data.export`, `data.export_sft`,
`data.ratings`, `data.edits`) with its counts.
`export_workspace` is the whole of it, for the CLI and the annotate app's admin tab alike (one implementation: the
same options give the same rows and counts). Its texts are those `data import` reads back: a NUL an older version
stored (in an answer sampled with one) is written as U+FFFD, the rows so written counted (`nul_free`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from data.config_values import expand_home
from data.conversation import storable
from data.dawid_skene import CHECKED_AT, NO_CHECK_TRUST
from data.edits import edit_pair_ids, sft_edits_table, without_gold_edits
from data.errors import PrefloopError, number_shown
from data.exclusion import Exclusion, check_exclusion
from data.export import UNCHECKED, check_min_posterior, dpo_table, kto_table
from data.export_labels import export_labels
from data.export_sft import PROMPT_COMPLETION, prompt_completion, to_sft
from data.files import refuse_a_link_to_nothing, refuse_unwritable
from data.gold import read_gold
from data.rank_pairs import RANK_KIND
from data.ratings import ratings_table
from data.rubric import Rubric, load_rubric
from data.selection import ARENA_PAIR_COLUMNS, ARENA_RECORD_COLUMNS, of_kinds, of_split
from data.stats import AGGREGATED
from data.workspace import MARKER, STORED_FOLDERS, Workspace

# A workspace's folders of stored data: its tables', batches/ and imports/ (exports/ is where exports go)
PAIR_COLUMNS = ["prompt_id", "completion_a", "completion_b", "kind", "round", "created_at"]
EXPORT_COLUMNS = {  # what each export reads of each table (None: every column)
    "dpo": {
        "prompts": ["messages", "split"],
        # prompt and round: of the pairs rankings expand into; engine, created_at: which are rank items
        "completions": ["prompt_id", "text", "engine", "round", "created_at"],
        "pairs": PAIR_COLUMNS,
        "labels": [*AGGREGATED, "ranking"],
    },
    "kto": {
        "prompts": ["messages", "split"],
        "completions": ["prompt_id", "text", "engine", "round", "created_at"],  # engine: which are items
        "pairs": ARENA_PAIR_COLUMNS,  # which answers are the arena's (`arena_answers`)
        "labels": AGGREGATED,
    },
    "sft": {"prompts": None},
    "sft-edits": {"prompts": ["messages", "split"], "labels": AGGREGATED},
    "ratings": {
        "prompts": ["messages", "split"],
        "completions": ["prompt_id", "text", "engine", "round", "created_at"],  # engine: which are items
        "pairs": ARENA_PAIR_COLUMNS,  # which answers are the arena's (`arena_answers`)
        "labels": [*AGGREGATED, "ratings", "rubric"],
    },
}


# What each export is made of, named when the workspace holds none of it (no count to give a reason)
MADE_OF = {
    "dpo": "pairs or rankings",
    "kto": "KTO labels",
    "sft": "prompts",
    "sft-edits": "edits",
    "ratings": "ratings",
}


TAKEN_KINDS = ("desirable", "undesirable")  # KTO's rows made, by label: no reason to leave out


def left_out(counts: Mapping[str, int]) -> str:
    """``below_min_posterior 5, gold 12``: the reasons with a count, by name (the rows made and their kinds,
    `TAKEN_KINDS`, are none)."""
    return ", ".join(
        f"{k} {v}" for k, v in sorted(counts.items()) if v and k != "exported" and k not in TAKEN_KINDS
    )


def rows_and_reasons(counts: Mapping[str, int], verb: str = "exported") -> str:
    """``43 rows exported (desirable 20, undesirable 23), left out: gold 12``: the rows made first (``verb``:
    ``taken`` as `train` says it), then what was left out by reason, zeros unsaid."""
    rows = counts.get("exported", 0)
    kinds = ", ".join(f"{k} {counts[k]}" for k in TAKEN_KINDS if counts.get(k))
    line = f"{rows} row{'' if rows == 1 else 's'} {verb}" + (f" ({kinds})" if kinds else "")
    return line + (f", left out: {reasons}" if (reasons := left_out(counts)) else "")


def unchecked_note(
    counts: Mapping[str, int],
    min_posterior: float | None,
    trust: Mapping[str, Mapping[str, int]] | None = None,
) -> str:
    """What the rows counted ``unchecked`` (and ``rank_unchecked``) are and what to do about them: below
    ``min_posterior`` only as their posterior is their one labeller's trust, which nothing checked; "" where none
    was. It quotes the trust those rows got (`unchecked_trust`; ``trust`` as `data.export.Counts.trust`, by default
    ``counts``' own): it said only 0.8, a labeller's whom nothing checks, of rows at 0.880, a labeller's checked on
    some answers."""
    reasons = unchecked_counts(counts)
    if not reasons:
        return ""
    n = sum(reasons.values())
    floor = "--min-posterior" + (f" {number_shown(min_posterior)}" if min_posterior is not None else "")
    trust = unchecked_trust(getattr(counts, "trust", {}) if trust is None else trust, list(reasons))
    return (
        f"{unchecked_rows(reasons)} {'are' if n != 1 else 'is'} one labeller's answer that no second "
        f"labeller or gold checks, its posterior that labeller's trust ({f'here {trust}; ' if trust else ''}"
        f"{NO_CHECK_TRUST:g} where nothing of theirs is checked), below {floor}: add gold (`python -m data gold`) "
        f"or a second labeller on {CHECKED_AT} or more of their items per answer they give, or lower --min-posterior"
    )


def unchecked_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """The rows counted ``unchecked`` (pairs, KTO answers) and ``rank_unchecked`` (the pairs of rankings), by the
    reasons the counts name them; those of no row left out."""
    return {k: counts[k] for k in (UNCHECKED, f"rank_{UNCHECKED}") if counts.get(k)}


def unchecked_rows(reasons: Mapping[str, int]) -> str:
    """``unchecked: 4 rows``; of both reasons (`unchecked_counts`), each one's count: ``unchecked 8 and
    rank_unchecked 3: 11 rows`` (train's held-out line lists no ranking's pairs: it read "unchecked 8" and
    "unchecked and rank_unchecked: 11 rows")."""
    n = sum(reasons.values())
    named = " and ".join(f"{k} {v}" if len(reasons) > 1 else k for k, v in reasons.items())
    return f"{named}: {n} row{'s' * (n != 1)}"


def unchecked_trust(trust: Mapping[str, Mapping[str, int]], reasons: list[str]) -> str:
    """The trust the rows counted under ``reasons`` got, as `data.export`'s `_sure` tallied it (``trust``, by
    reason): one value (``0.880``), or the lowest and highest where their labellers' differ (``0.800–0.880``); ""
    where there is no tally (a run's recorded before there was one)."""
    trusts = sorted(
        {value for reason in reasons for value, n in (trust.get(reason) or {}).items() if n}, key=float
    )
    return "–".join(dict.fromkeys((trusts[0], trusts[-1]))) if trusts else ""


def counts_line(counts: Counter, export: str) -> str:
    """What an export wrote and left out (`rows_and_reasons`); with no row, only what was left out (``left out:
    unlabelled 390``), and where nothing at all was counted, that the workspace has nothing it is made of
    (``no edits in the workspace``)."""
    if not sum(counts.values()):
        return f"no {MADE_OF[export]} in the workspace"
    return rows_and_reasons(counts) if counts.get("exported") else f"left out: {left_out(counts)}"


def check_export_options(args: Any, explicit: set[str]) -> None:
    """Refuse an option the chosen format does not read, rather than ignore it (``explicit``: the options the
    user set, by flag or config file)."""
    if args.edits and args.format != "sft":
        why = " (edit pairs are in --format dpo already)" if args.format == "dpo" else f", not {args.format}"
        raise PrefloopError(f"--edits applies to --format sft{why}")
    if "sft_shape" in explicit and args.format != "sft":
        raise PrefloopError(f"--sft-shape applies to --format sft (and sft --edits), not {args.format}")
    for flag, name in (("--kinds", "kinds"), ("--rank-pairs", "rank_pairs")):
        if name in explicit and args.format != "dpo":
            raise PrefloopError(f"{flag} applies to --format dpo, not {args.format} (it chooses pairs)")
    if "rank_pairs" in explicit:
        check_rank_pairs(args.rank_pairs, args.kinds)
    if args.out is not None and Path(args.out).suffix not in (".parquet", ".pq"):
        raise PrefloopError(f"--out {args.out}: exports are Parquet files: give a name ending in .parquet")
    if (
        args.out is not None and Path(args.out).is_dir() and not Path(args.out).is_symlink()
    ):  # a link is replaced
        raise PrefloopError(
            f"--out {args.out} is a folder: give a file path (a new name, or an export to replace)"
        )
    if args.out is not None:
        check_out_folder(Path(args.out))
        check_out_writable(Path(args.out))
    export = f"{args.format}{' --edits' if args.edits else ''}"
    if "rubric" in explicit and args.format != "ratings":
        raise PrefloopError(
            f"--rubric applies to --format ratings (the order of its aspect columns), not {export}"
        )
    if "min_posterior" in explicit:
        if (
            args.format not in ("dpo", "kto") or args.edits
        ):  # said first: --aggregate does not apply there either
            raise PrefloopError(f"--min-posterior applies to --format dpo and kto, not {export}")
        check_min_posterior(args.min_posterior, args.aggregate)
    if "aggregate" in explicit and (args.format not in ("dpo", "kto") or args.edits):
        raise PrefloopError(
            f"--aggregate applies to --format dpo and kto (how their labels become verdicts), not {export}"
        )
    for flag, given in (("--exclude-labeller", args.exclude_labeller), ("--labels", "labels" in explicit)):
        if given and not reads_labels(args):
            raise PrefloopError(
                f"{flag} applies to the formats made from labels (dpo, kto, ratings, sft --edits), not sft "
                "(the prompts' gold answers)"
            )


def check_rank_pairs(rank_pairs: str, kinds: tuple[str, ...], named: str | None = None) -> None:
    """``--rank-pairs`` chooses the pairs of rankings: refused beside ``kinds`` without rank (``named``: how the
    message names them, default ``--kinds ...``), which leave every ranking out whatever it says (it went unread)."""
    if RANK_KIND not in kinds:
        named = named or f"--kinds {' '.join(kinds)}"
        raise PrefloopError(
            f"--rank-pairs {rank_pairs} chooses the pairs of rankings (kind {RANK_KIND}), which {named} leave "
            f"out: add {RANK_KIND} to --kinds, or leave --rank-pairs out"
        )


def check_out_folder(out: Path) -> None:
    """Refuse an ``--out`` anywhere in a workspace (the one exported or another) but below its exports/: in (or
    below) one of its tables' or store's folders (`STORED_FOLDERS`) an export was written over a part file of stored
    labels, or beside them as one the next read refused, breaking the workspace, or in a folder made below one that
    failed `data validate`; its top folder and any other (runs/) hold the workspace's own files, which no export
    is."""
    folder = expand_home(out).parent.resolve()  # a link at the file itself is replaced, never written through
    for workspace in (folder, *folder.parents):
        if not (workspace / MARKER).is_file():
            continue
        top = folder.relative_to(workspace).parts[:1]
        if top == ("exports",):
            continue
        advice = f"write exports to {workspace / 'exports'} or outside the workspace"
        if top and top[0] in STORED_FOLDERS:
            raise PrefloopError(
                f"--out {out}: in the {top[0]}/ folder of workspace {workspace}, whose files are its stored "
                f"data: {advice}"
            )
        raise PrefloopError(f"--out {out}: in workspace {workspace} outside its exports/ folder: {advice}")


def check_out_writable(out: Path) -> None:
    """An ``--out`` whose folder (or the one it would be made in) is a file, a link to nothing or cannot be written
    (a read-only mount) is refused in one line naming --out, before the workspace is read, as `train --out` is: the
    export was made, then "the file system is read-only: nothing was written to FOLDER", naming neither the file
    nor the flag."""
    refuse_a_link_to_nothing(out, out.parent, "; nothing exported")
    existing = next(p for p in (out.parent, *out.parent.parents) if p.exists())
    if not existing.is_dir():
        raise PrefloopError(f"--out {out}: {existing} is a file, not a folder; nothing exported")
    refuse_unwritable(
        existing, lambda reason: f"--out {out}: {existing} is not writable ({reason}); nothing exported"
    )


def reads_labels(args: Any) -> bool:
    """Whether the export is made from labels (every format but sft without --edits): exclusion changes it."""
    return args.format != "sft" or args.edits


@dataclass(frozen=True)
class Export:
    """An export made: its rows, its counts by reason and who was kept out of its verdicts."""

    name: str  # the format, as the file and the messages name it: dpo, kto, ratings, sft, sft-edits
    rows: pa.Table | list
    counts: Counter
    exclusion: Exclusion
    nul_replaced: int = 0  # rows whose stored texts held a NUL, written as U+FFFD (`nul_free`)
    min_posterior: float | None = None  # --min-posterior, which `unchecked_note` names

    def summary(self) -> str:
        """``4 rows exported, left out: excluded_only 3; excluded labellers: mallory (excluded.json)``: the counts
        (`counts_line`), what the rows left out `unchecked` are (`unchecked_note`), who was excluded, where anyone
        was, and the rows whose NUL was replaced, where any was."""
        replaced = self.nul_replaced and (
            f"nul_replaced {self.nul_replaced}: a NUL character in the stored text of {self.nul_replaced} "
            f"row{'s' * (self.nul_replaced != 1)} (stored by an older version) written as U+FFFD, which data "
            "import reads back (it refuses a NUL)"
        )
        unchecked = unchecked_note(self.counts, self.min_posterior)
        parts = [counts_line(self.counts, self.name), unchecked, self.exclusion.line(), replaced]
        return "; ".join(filter(None, parts))


def export_workspace(workspace: Workspace, args: Any, rubric: Rubric | None = None) -> Export:
    """What `python -m data export` makes of ``workspace`` with the options ``args`` (`data.commands.ExportCommand`,
    checked by `check_export_options`), sft rows in the shape ``--sft-shape`` names: the labellers of
    ``--exclude-labeller`` and WS/excluded.json left out (`data.exclusion.check_exclusion`: an unknown name of the
    flag, or a damaged excluded.json, is an error); ratings' aspect columns in ``rubric``'s order (the admin tab's:
    the app's rubric), else ``--rubric``'s."""
    exclusion = check_exclusion(workspace, args.exclude_labeller) if reads_labels(args) else Exclusion()
    rows, counts = export_rows(workspace, args, exclusion.names, rubric)
    if args.sft_shape == PROMPT_COMPLETION and len(rows):  # an empty export is an error that says why
        rows = prompt_completion(rows)
    rows, replaced = nul_free(rows)
    name = args.format + ("-edits" if args.edits else "")
    return Export(name, rows, counts, exclusion, replaced, args.min_posterior)


def nul_free(rows: pa.Table | list[dict]) -> tuple[pa.Table | list[dict], int]:
    """``rows`` with each NUL in their texts (a column's, a message's) written as U+FFFD (`data.conversation.storable`)
    and how many rows held one. A workspace an older version wrote may hold answers sampled with a NUL, which
    `data import` refuses: its export would not read back."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    if not any(_holds_nul(column) for column in table.columns):
        return rows, 0
    records = table.to_pylist()
    held = sum(_holds_nul_value(record) for record in records)
    return pa.Table.from_pylist([_without_nul(r) for r in records], schema=table.schema), held


def _holds_nul(values: pa.ChunkedArray | pa.Array) -> bool:
    """Whether any text in ``values`` (strings, lists and structs of them) holds a NUL, read column-wise."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return bool(pc.any(pc.match_substring(values, "\x00")).as_py())
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _holds_nul(pc.list_flatten(values))
    if pa.types.is_struct(kind):
        return any(_holds_nul(pc.struct_field(values, [i])) for i in range(kind.num_fields))
    return False


def _holds_nul_value(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(map(_holds_nul_value, items))


def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return storable(value)[0]
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return [_without_nul(item) for item in value] if isinstance(value, list) else value


def export_rows(
    workspace: Workspace, args: Any, excluded: tuple[str, ...], rubric: Rubric | None = None
) -> tuple[pa.Table | list, Counter]:
    """The export's rows and counts of what was left out and why, without the ``excluded`` labellers' labels
    (the flag's and excluded.json's: `data.exclusion.check_exclusion`); ratings in ``rubric``'s order
    (`export_workspace`)."""
    export = args.format + ("-edits" if args.edits else "")

    def read(name: str) -> pa.Table:
        return workspace.read(name, EXPORT_COLUMNS[export].get(name))

    if export == "sft":
        return to_sft(read("prompts").to_pandas(), args.split)
    task = {"kto": "kto", "ratings": "rate", "sft-edits": "pairwise"}.get(export, "pairwise")
    gold = read_gold(
        workspace, task
    )  # children first (Workspace.read): gold, labels, pairs, completions, prompts
    rank_gold = read_gold(workspace, "rank").column("item_id").to_pylist()  # gold rankings never export
    stored = read("labels")
    pairs = read("pairs")
    arenas = workspace.read("arenas", ARENA_RECORD_COLUMNS)  # with the pairs: which answers are the arena's
    chosen = export_labels(stored, export, excluded, args.labels, pairs, arenas)  # as train chooses them
    completions, prompts = read("completions"), read("prompts")
    labelled = (prompts, completions, chosen, gold)
    if export == "sft-edits":  # an edit's verdict is its editor's (a judge's label undoes nothing)
        table, counts = sft_edits_rows(labelled, pairs, args.split, rank_gold)
    elif export == "ratings":
        table, counts = _ratings_rows(labelled, args.split, (rubric or load_rubric(args.rubric)).names)
    elif export == "kto":
        table, counts = _kto_rows(labelled, args)
    else:  # with its own count of the pairs it leaves out
        return _dpo_rows(labelled, pairs, args, rank_gold)
    counts.update(chosen.arena_counts(completions, prompts, args.split))
    return table, counts


def sft_edits_rows(labelled: tuple, pairs: pa.Table, split: str | None, rank_gold: list[str]):
    """sft --edits: the kept edits (``labelled``: prompts, completions, the chosen labels, gold), as export and
    train (`train.pairs.sft_rows`) both take them."""
    prompts, completions, chosen, gold = labelled
    return sft_edits_table(
        prompts,
        completions,
        chosen.pairs_of(pairs),
        chosen.labels,
        split,
        gold,
        chosen.excluded_only("pairwise"),
        chosen.unlabelled("pairwise"),
        rank_gold,
    )


def _ratings_rows(labelled: tuple, split: str | None, names: tuple[str, ...]):
    """The ratings table, its criteria ``names`` in order (``labelled``: as `sft_edits_rows`)."""
    prompts, completions, chosen, gold = labelled
    return ratings_table(
        prompts.to_pandas(),
        chosen.items_of(completions).to_pandas(),
        chosen.labels,
        split,
        gold.column("item_id").to_pylist(),
        chosen.excluded_only("rate"),
        chosen.unlabelled("rate"),
        names,
    )


def _verdicts(args: Any) -> dict:
    return {"split": args.split, "method": args.aggregate, "min_posterior": args.min_posterior}


def _kto_rows(labelled: tuple, args: Any):
    """KTO's rows from the kto task's answers (``labelled``: as `sft_edits_rows`)."""
    prompts, completions, chosen, gold = labelled
    missing = {"excluded_only": chosen.excluded_only("kto"), "unlabelled": chosen.unlabelled("kto")}
    answers = chosen.items_of(completions)
    return kto_table(prompts, answers, chosen.labels, gold=gold, **missing, **_verdicts(args))


def _dpo_rows(labelled: tuple, pairs: pa.Table, args: Any, rank_gold: list[str]):
    """DPO's rows from the pairs of ``args.kinds`` and, with kind rank, the rankings' pairs (``labelled``: as
    `sft_edits_rows`)."""
    prompts, completions, chosen, gold = labelled
    dropped: Counter = Counter()  # edits of gold items' answers never export
    edits = edit_pair_ids(pairs)  # their labels stay out of Dawid–Skene's fit, whichever kinds export
    pairs = of_split(chosen.pairs_of(pairs), prompts, args.split, dropped)  # its counts are the split's own
    pairs = without_gold_edits(pairs, gold, dropped, rank_gold, completions)
    pairs = of_kinds(pairs, args.kinds, dropped)  # e.g. arena pairs, counted: --kinds arena exports them
    rows, counts = dpo_table(
        prompts,
        completions,
        pairs,
        chosen.labels,
        gold=gold,
        rank_pairs=args.rank_pairs if RANK_KIND in args.kinds else "none",
        edits=edits,
        rank_gold=rank_gold,
        **chosen.undecided(completions, rank_gold),
        **_verdicts(args),
    )
    counts.update(dropped + chosen.arena_counts(completions, prompts, args.split))
    return rows, counts
