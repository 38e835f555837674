"""The admin tab's export buttons: the labels in TRL's columns, written by `python -m data export`'s own
`data.export_workspace.export_workspace` with the options the button, the split and the labels the admin picks give
it (`export_options`), so its rows, counts and file name are the CLI's for the same options. Verdicts are by the
aggregation the admin picks (majority or dawid-skene, as `--aggregate`); the ratings export holds means."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

import gradio as gr

from annotate.admin import checked_method, require_admin
from annotate.failures import public_line
from annotate.render import echo_cut, message_html
from data.aggregate import MAJORITY
from data.commands import ExportCommand
from data.errors import PrefloopError
from data.export import write_export
from data.export_workspace import check_export_options, export_workspace

if TYPE_CHECKING:
    from annotate.components import Context

# The choices of `data export`'s --split and --labels, read off its options (the CLI's own), and the admin tab's
# word for no --split
EXPORT_CHOICES = {
    f.name: f.metadata["choices"] for f in fields(ExportCommand) if f.name in ("split", "labels")
}
ALL_SPLITS, AUTO = "all", "auto"

# What each app (its view: a task, or the arena) exports: what its own labels make, a rank app's rankings expanded
# into DPO pairs. The arena's votes are evaluation data that no export holds (as `data export`); another task's labels
# in the same workspace export from their own app, or `python -m data export`.
EXPORTS = {"pairwise": ("dpo",), "arena": (), "kto": ("kto",), "rank": ("dpo",), "rate": ("ratings",)}

# The exports of verdicts, which the aggregation the admin picks decides (a rank app's DPO export: the pairs its
# rankings expand into); the ratings export holds means.
AGGREGATED_EXPORTS = ("dpo", "kto")


def export_labels(
    ctx: Context,
    user: str,
    fmt: str,
    method: str = MAJORITY,
    split: str | None = ALL_SPLITS,
    labels: str = AUTO,
) -> str:
    """Write WS/exports/<fmt>[-<split>].parquet as `python -m data export --format FMT [--split SPLIT] --labels
    LABELS` writes it (`export_options`: the rows and counts are that command's, by construction), aggregated by
    ``method`` without the labellers excluded in WS/excluded.json; an HTML status line."""
    require_admin(ctx, user)
    workspace = ctx.service.workspace
    name = fmt  # the CLI's file name, and its split's once that is checked
    try:
        options = export_options(workspace, fmt, checked_method(method), split, labels)
        name = f"{fmt}-{options.split}" if options.split else fmt
        made = export_workspace(workspace, options, ctx.service.rubric)  # ratings: as the app lists aspects
    except (PrefloopError, OSError) as exc:
        # a damaged excluded.json, say: the CLI's line, without the server's paths
        raise gr.Error(_failed(name, exc, workspace)) from None
    if not len(made.rows):
        return message_html(f"Nothing to export as {name} yet ({made.summary()}).", "warn")
    try:
        # The workspace refused a linked exports/ when it opened; one planted since (while the rows were made,
        # even) would take the write elsewhere: written through the folder opened without following a link.
        write_export(made.rows, workspace.exports, f"{name}.parquet")
    except (PrefloopError, OSError) as exc:  # a full disk: why, and nothing half-written
        return message_html(_failed(name, exc, workspace), "error")
    link = (
        f'<a class="pf-download" href="prefloop/export/{name}.parquet" download>Download {name}.parquet</a>'
    )
    # The workspace's own name for the file: the server's paths are not the labellers' business.
    # ratings are means: no aggregation made them
    made_by = [method] if fmt in AGGREGATED_EXPORTS else []
    made_by += [f"--labels {options.labels}"] if options.labels != AUTO else []
    how = f" ({', '.join(made_by)})" if made_by else ""
    return message_html(f"Wrote exports/{name}.parquet{how}: {made.summary()}", "ok") + link


def _failed(name: str, error: Exception, workspace) -> str:
    """The status line of an export of ``name`` that failed: what failed, as the tab's other lines say it, and why
    (the CLI's line, without the server's paths); nothing is written on an error."""
    return f"Exporting exports/{name}.parquet failed: {public_line(error, workspace)}"


def export_options(
    workspace, fmt: str, method: str = MAJORITY, split: str | None = ALL_SPLITS, labels: str = AUTO
) -> ExportCommand:
    """The options of the `python -m data export` that the admin tab's ``fmt`` button runs: ``split`` (`ALL_SPLITS`:
    every split, as without ``--split``) and ``labels`` (``--labels``: whose labels decide), each one of the CLI's
    choices (`EXPORT_CHOICES`) and checked by its own `check_export_options`; the pair kinds and rank pairs of its
    defaults (arena pairs are evaluation data: counted ``kind_arena_not_asked``), ``method`` aggregating the
    verdicts of dpo and kto; the labellers excluded are those of WS/excluded.json (the tab's switch)."""
    split = None if split in (None, ALL_SPLITS) else _export_choice("split", split)
    labels = _export_choice("labels", labels)
    aggregate = method if fmt in AGGREGATED_EXPORTS else MAJORITY  # ratings are means: no --aggregate
    options = ExportCommand(
        workspace=workspace.path, format=fmt, aggregate=aggregate, split=split, labels=labels
    )
    given = {"split", "labels", *(["aggregate"] if fmt in AGGREGATED_EXPORTS else [])}
    check_export_options(options, given)  # as the CLI checks the options given
    return options


def _export_choice(name: str, value: str | None) -> str:
    """``value`` of `data export`'s option ``name`` when it is one of that option's choices (the CLI's own,
    `EXPORT_CHOICES`); else the admin's one-line error naming them."""
    choices = EXPORT_CHOICES[name]
    if value not in choices:
        shown = (ALL_SPLITS, *choices) if name == "split" else choices
        raise gr.Error(echo_cut(f"--{name} {value!r}: expected one of {', '.join(shown)}.", [value]))
    return value
