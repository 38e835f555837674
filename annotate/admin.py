"""The admin tab's handlers: agreement, progress and verdict cards, the labellers' table (activity, pace and quality,
from `data.labellers`; who is excluded) and the disputed items' table, "make gold" on a decided item, and the switch
that keeps a labeller's labels out of every verdict (WS/excluded.json, `data.selection`); the export buttons' are
`annotate.admin_export`'s. Verdicts use the aggregation the admin picks (majority or dawid-skene, as `python -m data
export --aggregate`); the rate app has none. The pairwise and arena apps' cards, tables and "make gold" keep to their
own app's pairs (`annotate.arena_admin`). Every handler checks the admin flag of the signed-in user on every call."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

import gradio as gr

from annotate.agreement import (
    admin_report,
    cohen_card,
    excluded_note,
    gold_answers,
    labellers_html,
    pace_card,
    progress_card,
    quality_table,
    verdicts_cell,
)
from annotate.arena_admin import arena_html, other_app_pairs, other_apps_pair
from annotate.failures import public_line
from annotate.rank_admin import rank_admin_html
from annotate.rate_admin import rate_admin_html
from annotate.render import cards_html, echo_cut, excerpt, figure, message_html, prompt_excerpt, table_html
from data.aggregate import AGGREGATIONS, MAJORITY, SPLIT
from data.annotators import ADMIN_SOURCE
from data.edits import edit_pair_ids
from data.errors import PrefloopError, counted
from data.gold import CLI, Mark, apply_gold, read_gold
from data.intervals import figure_text, p_value_text, trust_text
from data.leaderboard import ARENA
from data.machine import AGAINST
from data.schemas import CHOICES
from data.selection import VERDICT_LABELS, excluded_labellers, is_excluded, set_excluded, stored_names

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa

    from annotate.components import Context
    from annotate.service import LabelService


# What the aggregation the admin picks (majority or dawid-skene) decides: the tab's figures of the tasks whose labels
# are verdicts (the verdicts card, the disputed items' order and posterior: `admin_view`; rank and rate figures are
# agreement, not verdicts), and the exports of verdicts (`admin_export.AGGREGATED_EXPORTS`).
AGGREGATED_FIGURES = ("pairwise", "kto")  # tasks (the arena's labels are pairwise)


def require_admin(ctx: Context, user: str) -> None:
    if not ctx.auth.is_admin(user):
        raise gr.Error("Only an admin can see this.")


def checked_method(method: str | None) -> str:
    if method not in AGGREGATIONS:
        raise gr.Error(
            echo_cut(f"Aggregation {method!r}: expected one of {', '.join(AGGREGATIONS)}.", [method])
        )
    return method


def _messages(*given: str | None):
    """A handler's status line maker: `message_html`, with what a line repeats of ``given`` (what the admin typed,
    and errors that name it) cut to a readable length (`render.echo_cut`). The CLI's messages stay whole."""
    return lambda text, kind: message_html(echo_cut(text, given), kind)


def _source_name(source: str) -> str:
    """A gold answer's source as the admin tab names it: a file given to `data gold FILE` (stored as its path) by
    its file name; the others (cli, split:NAME, admin:NAME) as stored."""
    if source == CLI or source.startswith(("split:", ADMIN_SOURCE)):
        return source
    return PurePath(source).name or source


def _gold_files(workspace) -> list[str]:
    """The gold files the workspace's gold answers came from (`data gold FILE`), as stored (their paths)."""
    sources = workspace.read("gold", ["source"]).column("source").unique().to_pylist()
    return [source for source in sources if _source_name(source) != source]


def _excluded(workspace) -> tuple[str, ...]:
    """The labellers excluded in WS/excluded.json; a damaged file or a link there is the admin's one-line error."""
    try:
        return excluded_labellers(workspace.path)
    except (PrefloopError, OSError) as exc:
        raise gr.Error(public_line(exc, workspace)) from None


class Superseded(Exception):
    """A draw of the admin tab passed over by a later one of its page as it is computed: it stops there."""


def _still(wanted: Callable[[], bool]) -> None:
    """Between a draw's stages: on only while it is ``wanted`` (its page has asked for no later draw)."""
    if not wanted():
        raise Superseded


def admin_view(
    ctx: Context, user: str, method: str = MAJORITY, wanted: Callable[[], bool] = lambda: True
) -> tuple[str, str, str, str]:
    """(summary cards, labellers table, disputed items table, status) for an admin; ``method`` aggregates the
    verdicts (`data.aggregate.AGGREGATIONS`), without the labellers excluded in WS/excluded.json. Between its stages
    (reading the workspace, the aggregation, the tables, the arena's board) it raises `Superseded` once ``wanted``
    says no: a draw its page no longer shows computes no further."""
    require_admin(ctx, user)
    service = ctx.service
    service.reload()
    _still(wanted)
    workspace = service.workspace
    labels, pairs = workspace.frame("labels"), workspace.frame("pairs")
    # An edit's own label (the edit wins, data.edits) is no judgement of an item: out of agreement and pace.
    labels = labels[~labels["item_id"].isin(edit_pair_ids(pairs))]
    # kto, rate, rank: no answer of the arena's is the app's item (exports leave out their labels)
    labels = service.off_arena(labels)
    excluded = _excluded(workspace)
    _still(wanted)
    if service.task == "rank":
        return (*rank_admin_html(service, user, labels, excluded), "")
    if service.task == "rate":
        return (*rate_admin_html(service, user, labels, excluded), "")
    # the pairwise and arena apps' labels are one task: each tab counts, lists and measures its own app's pairs,
    # with the verdicts and Dawid–Skene accuracies of a fit on every pairwise label, as exports and stats fit them
    fit, labels = labels, labels[~labels["item_id"].isin(other_app_pairs(pairs, service.view))]
    gold = read_gold(workspace, service.task)
    report = admin_report(labels, service.task, pairs, checked_method(method), gold, excluded, fit)
    _still(wanted)
    cards = [
        *summary_cards(service.progress(user), report),
        *pace_card(labels, service.task),
        verdict_card(report["verdicts"], method, excluded, service.view, gold),
        *machine_cards(report),
    ]
    who_columns, who = quality_table(
        report["labellers"], labels, service.task, gold, fit=fit, excluded=excluded
    )
    who_columns, who = who_columns + ["verdicts"], [row + [verdicts_cell(row[0], excluded)] for row in who]
    disputed = report["disputed"]
    choice_columns = [c for c in disputed.columns if c.startswith("n_")]
    posterior = ["posterior"] if method != MAJORITY else []
    answers = gold_answers(gold, service.task)  # gold items have verdicts too: marked as gold
    prompts = disputed_prompts(service, disputed["item_id"].tolist())
    rows = [
        [r["item_id"], answers.get(r["item_id"], "–"), prompts.get(r["item_id"], "")]
        # figures as stats prints them: a posterior of 0.896 read "0.90" beside --min-posterior 0.9, which drops it;
        # a posterior as a trust (`trust_text`): 0.93950 is 0.9395, which 0.940 read as kept by --min-posterior 0.94
        + [r["votes"], r["verdict"], figure_text(r["agreement"], none="–")]
        + [trust_text(r[c], none="–") for c in posterior]
        + [r[c] for c in choice_columns]
        for r in disputed.to_dict("records")
    ]
    # the verdict its agreement is the share of (Dawid–Skene's may be a choice nobody voted: agreement 0.000)
    columns = ["item", "gold", "prompt", "votes", "verdict", "agreement", *posterior, *choice_columns]
    _still(wanted)
    return (
        cards_html(cards) + (arena_html(workspace, excluded) if service.view == ARENA else ""),
        labellers_html(who_columns, who, "no labels yet", gold, service.task),
        table_html(columns, rows, "no item has two labels yet"),
        "",
    )


def disputed_prompts(service: LabelService, item_ids: list[str]) -> dict[str, str]:
    """item id -> an excerpt of its prompt's last turn. The disputed items are those of the app's pairs
    (`other_app_pairs`), and its items only those it queues: the prompt of one it does not (a pair an import's label
    decided, say) is read from the workspace, not shown as an empty cell."""
    shown = {
        item_id: prompt_excerpt(service.items[item_id]) for item_id in item_ids if item_id in service.items
    }
    missing = [item_id for item_id in item_ids if item_id not in shown]
    if not missing:
        return shown
    owners = {}  # item id -> its prompt's id (a pair; a KTO item is a completion)
    for table in ("pairs", "completions"):
        rows = service.workspace.read(table, ["prompt_id"], where=("id", missing)).to_pylist()
        owners |= {row["id"]: row["prompt_id"] for row in rows}
    rows = service.workspace.read(
        "prompts", ["messages"], where=("id", sorted(set(owners.values())))
    ).to_pylist()
    last = {row["id"]: row["messages"][-1]["content"] for row in rows}
    return shown | {item_id: excerpt(last[owners[item_id]]) for item_id in owners if owners[item_id] in last}


def summary_cards(progress: dict, report: dict) -> list[tuple[str, str, str]]:
    """The pairwise and KTO tab's first cards: progress, labels, agreement (κ, α: `VERDICT_LABELS`) and the left side's
    wins."""
    agreement, position = report["agreement"], report["position"]
    shown = ", ".join(f"{k} {v}" for k, v in report["distribution"].items())
    sides = "" if position is None else "; each pair as stored and sides swapped"  # `data.choice_agreement`
    cards = [
        progress_card(progress, "label"),
        ("labels", str(progress["labels"]), shown),
        cohen_card(agreement, sides),
        ("Fleiss' κ", figure(agreement["fleiss"]), f"{counted(agreement['fleiss_items'], 'item')}, same label count"),
        ("Krippendorff's α", figure(agreement["alpha"]), f"nominal, all items with ≥2 labels; {VERDICT_LABELS}"),
    ]  # fmt: skip
    if position is not None:
        # a share, as the labellers table's "left share" beside it and `stats --labellers`' "left" print it
        detail = f"of {counted(position['decisive'], 'decisive label')}; {p_value_text(position['p_value'])} vs 0.5"
        cards.append(("left side wins", figure(position["left_rate"]), detail))
    return cards


# What an app's verdicts card counts (`other_app_pairs`): beside "items done", which counts the job's items alone
VERDICT_ITEMS = {"pairwise": "pairs other than arena pairs", "arena": "arena pairs", "kto": "answers"}


def verdict_card(
    verdicts, method: str, excluded: tuple[str, ...], view: str = "pairwise", gold: pa.Table | None = None
) -> tuple[str, str, str]:
    """The verdicts card: the app's items (``view``'s) with a verdict under ``method``, how many are split and how
    many gold (no item of the job, and their labels no training vote: the split count leaves them out, and says how
    many of them are split, as `data stats` counts them apart), whose labels make them, and who is left out."""
    split = verdicts["verdict"] == SPLIT
    golden = verdicts["item_id"].isin([] if gold is None else gold.column("item_id").to_pylist())
    detail = f"{VERDICT_ITEMS[view]}: {int((split & ~golden).sum())} split, {int(golden.sum())} gold"
    detail += f" ({int((split & golden).sum())} of them split)" if (split & golden).any() else ""
    detail += f"; {VERDICT_LABELS}"
    return (f"verdicts ({method})", str(len(verdicts)), detail + excluded_note(excluded))


# What the admin gives as a rank or rate item's gold answer, in the gold row's text box (`data gold`'s forms)
GOLD_TEXT = {
    "rank": "its gold ranking: every answer's id once, best first, '>' between ranks, '=' in a tie",
    "rate": "its gold ratings: a JSON object of every rubric aspect",
}


def make_gold(
    ctx: Context,
    user: str,
    item_id: str | None,
    answer: str | None,
    text: str | None = None,
    said_before: str | None = None,
) -> str:
    """Make a (decided) item gold with the admin's answer; it joins every labeller's queue at --gold-rate. A choice
    (``answer``) for pairs and KTO completions; ``text`` for a rank item (its ranking, as `data gold --ranking`) and
    a rated answer (its ratings JSON, checked against the app's rubric, as `data gold --ratings`). ``said_before``:
    the line of the page's make-gold of the same item and answer just before (a double-click's first), said again
    where this one finds nothing to write."""
    require_admin(ctx, user)
    say = _messages(item_id, answer, text)
    service, task = ctx.service, ctx.service.task
    item_id = (item_id or "").strip()
    given = answer if task in CHOICES else (text or "").strip()
    if not item_id or not (given in CHOICES[task] if task in CHOICES else given):
        wanted = " or ".join(CHOICES[task]) if task in CHOICES else GOLD_TEXT[task]
        return say(f"Give the item id and its answer ({wanted}).", "warn")
    refused = other_apps_pair(service, item_id, given)
    if refused:
        return say(f"Not made gold: {refused}", "warn")
    made_by = f"{ADMIN_SOURCE}{user}"
    try:  # the gold it replaces is read under the gold lock, as it writes: another admin's just before is its "was"
        change = apply_gold(service.workspace, [Mark(task, [item_id], [given], made_by, service.rubric)])
    except PrefloopError as exc:  # the CLI's line (`data gold`), without the server's paths
        line = public_line(exc, service.workspace, _gold_files(service.workspace))
        # where the CLI names the option given (`--pair: ...`), the line names the gold's source: the admin gave it
        return say(f"Not made gold: {line.removeprefix(f'{made_by}: ')}", "error")
    service.reload()
    shown, before = change.items[task, item_id]
    if not change.marked and said_before:  # a double-click's second: its first's line, not "already was gold"
        return said_before
    if not change.marked:  # as `data gold`'s "already gold with that answer": nothing written
        source = _source_name(before[1])
        return say(f"{item_id} already was gold with answer {shown} (from {source}); nothing changed.", "ok")
    was = f", was {before[0]} from {_source_name(before[1])}" if before else ""
    made = f"{item_id} is gold now (answer {shown}{was}); its labels stay, and it never trains."
    return say(made + _answer_text(service, item_id, shown), "ok")


def _answer_text(service: LabelService, item_id: str, answer: str) -> str:
    """A pair's gold answer a or b by its text: the pair's stored answers, which the label tab shows as A and B on
    sides drawn per labeller (an admin who read the item there may see its `a` as B)."""
    if service.task != "pairwise" or answer not in ("a", "b") or item_id not in service.items:
        return ""
    text = service.items[item_id].texts["ab".index(answer)]
    return f" Answer {answer} is “{excerpt(text)}” (not the side A or B it is shown on)."


def machine_cards(report: dict) -> list[tuple[str, str, str]]:
    """A card per machine labeller (all rounds): κ against the people's verdicts (their majority, or the
    Dawid–Skene verdicts the switch picks: the detail says which), raw agreement with and without ties; one for how
    often labellers follow a shown vs a hidden suggestion."""
    cards = [
        (
            f"{r['annotator']} vs people (κ)",
            figure(r["kappa"]),
            f"agree {figure(r['agreement'])}, {figure(r['agreement_without_ties'])} without ties; "
            f"{counted(r['pairs'], 'pair')}, against their {AGAINST[r['against']]}",
        )
        for r in report.get("machines", [])
        if r["round"] == "all"
    ]
    follow = report.get("suggestions")
    if follow and follow["shown"]["labels"] + follow["hidden"]["labels"]:
        shown, hidden = follow["shown"], follow["hidden"]
        detail = f"hidden: {figure(hidden['rate'])} of {hidden['labels']}"
        cards.append((f"suggestion followed ({shown['labels']} shown)", figure(shown["rate"]), detail))
    return cards


def exclude_labeller(ctx: Context, user: str, name: str | None, exclude: bool) -> str:
    """Switch a labeller's labels out of (``exclude``) or back into every verdict: stats, export, train and this
    tab read WS/excluded.json. Their labels stay stored; an HTML status line (including one who is not excluded
    changes nothing, and says so)."""
    require_admin(ctx, user)
    say = _messages(name)
    name = (name or "").strip()
    if not name:
        return say("Give the name of a labeller.", "warn")
    workspace = ctx.service.workspace
    annotators = workspace.read("labels", ["annotator"]).column("annotator")
    # matched as data.selection.is_excluded: a judge by its hub id or its snapshot folder, whichever is stored
    if exclude and not stored_names(annotators, [name]):
        return say(f"{name} has no labels in this workspace.", "warn")
    try:
        before = excluded_labellers(workspace.path)
        if not exclude and not is_excluded(name, before):  # nothing to undo: said so, nothing written
            return say(
                f"{name}: not excluded, so nothing changed. Excluded: {', '.join(before) or 'nobody'}.",
                "warn",
            )
        excluded = set_excluded(workspace.path, name, exclude)
    except (PrefloopError, OSError) as exc:
        return say(f"Not changed: {public_line(exc, workspace)}", "error")
    now = ", ".join(excluded) or "nobody"
    if exclude:
        return say(f"{name}: labels out of every verdict now (still stored). Excluded: {now}.", "ok")
    return say(f"{name}: labels count in the verdicts again. Excluded: {now}.", "ok")
