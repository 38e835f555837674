"""The run's report in its output folder: metrics.json, train_config.json, training.png, report.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

from data.dawid_skene import NO_CHECK_TRUST
from data.errors import number_shown
from data.exclusion import excluded_line
from data.export_workspace import (
    TAKEN_KINDS,
    left_out,
    rows_and_reasons,
    unchecked_counts,
    unchecked_note,
    unchecked_rows,
    unchecked_trust,
)
from data.files import atomic_write, strict_json
from data.intervals import figure_text, wilson_interval
from data.lineage import reward_name

CURVES = (
    ("loss", "loss"),
    ("rewards/margins", "reward margin (chosen − rejected)"),
    ("rewards/accuracies", "reward accuracy"),
    ("eval_rewards/accuracies", "held-out reward accuracy (--eval-steps)"),
    ("rewards/chosen", "reward of chosen"),
    ("rewards/rejected", "reward of rejected"),
)


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def plot_curves(log_history: list[dict], path: Path) -> Path | None:
    """One panel per logged training curve present in ``log_history``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [(key, title) for key, title in CURVES if any(key in h for h in log_history)]
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], curves):
        # a null (a NaN the trainer logged, as log_history.json stores it) is no point
        points = [(h["step"], h[key]) for h in log_history if h.get(key) is not None and "step" in h]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 30 else None)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    plt.close(fig)
    return path


def _ci_text(low: float, high: float) -> str:
    """A share's interval to the share's own 3 decimals (`data.intervals.figure_text`): `0.733 (95 % CI 0.56-0.86)`
    mixed 3 and 2."""
    return f" (95 % CI {figure_text(low)}-{figure_text(high)})"


def _ci(metrics: dict, name: str) -> str:
    interval = metrics.get(f"{name}_ci95")  # None without rows
    return _ci_text(*interval) if interval else ""


def _interval(share: float | None, n: int) -> str:
    if not n or share is None:
        return ""
    return _ci_text(*wilson_interval(round(share * n), n))


def _number(value: float | None) -> str:
    """A figure as Python prints it; "-" for none (null: a diverged loss, or no row to compute it from)."""
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else str(value)


def _fixed(value: float | None, digits: int) -> str:
    """A figure to ``digits`` places; "-" for none (null in metrics.json: no row to compute it from)."""
    return "-" if value is None else f"{value:.{digits}f}"


def _count(metrics: dict, name: str, n: int) -> str:
    return f"{round(metrics[name] * n)}/{n}{_ci(metrics, name)}"


def rows_line(metrics: dict) -> str | None:
    """What happened to every row: in, trained, truncated, dropped by reason, beyond --max-steps."""
    rows = metrics.get("rows")
    if not rows:
        return None
    dropped = sum(rows["rows_dropped"].values())
    line = f"rows: {rows['rows_in']} in, {rows['rows_trained']} trained, {rows['rows_truncated']} truncated to fit"
    line += f", {dropped} dropped" + (
        f" ({', '.join(f'{k}: {v}' for k, v in rows['rows_dropped'].items())})" if dropped else ""
    )
    if rows.get("rows_beyond_max_steps"):
        line += f", {rows['rows_beyond_max_steps']} not reached by --max-steps"
    return line


def data_line(metrics: dict) -> str | None:
    """What the workspace gave: the rows taken and every row left out, by reason (`data.export`'s counts, said as
    an export says them: `data.export_workspace.rows_and_reasons`, with its `unchecked_note`), and whose labels
    were kept out of the verdicts."""
    counts = dict(metrics.get("data_counts") or {})
    if not counts:
        return None
    rated = (
        "pairs" in counts
    )  # --rm-from-ratings: its rows (and `equal`) count pairs, every other reason answers
    taken = counts.pop("exported", counts.pop("pairs", None))
    equal = counts.pop("equal", 0) if rated else 0
    listed = left_out(counts)
    excluded = excluded_line(metrics.get("excluded_labellers") or {})
    if taken is None:  # SFT rows: counted by source (gold_answers, edits) and reason
        line = f"workspace: {listed}"
    elif rated:
        line = f"workspace: {taken} pairs of rated answers taken" + (
            f", {equal} equally rated left out" if equal else ""
        )
        line += f"; answers left out: {listed}" if listed else ""
    else:
        line = f"workspace: {rows_and_reasons(counts | {'exported': taken}, 'taken')}"
    floor = (metrics.get("verdicts") or {}).get("min_posterior")
    unchecked = unchecked_note(counts, floor, metrics.get("data_trust") or {})
    line += f"; {unchecked}" if unchecked else ""
    line += f"; {excluded}" if excluded else ""
    if metrics.get("selection_recorded_at"):  # a resume trains on the rows the run started with
        line += f" (as selected when the run started, {metrics['selection_recorded_at']})"
    return line


def _held(metrics: dict) -> str:
    """How the evaluation's rows are named: held-out (test), or training rows where there is no test split or the
    run left out all its items (`_test_left_out`)."""
    split = metrics.get("eval_split", "test")
    if split != "train":
        return f"held-out ({split})"
    if not metrics.get("eval_counts"):  # counted only where the workspace has a test split
        return "training (no test split: not held-out)"
    said = "all left out" if _test_left_out(metrics)[0] else "has none"
    return f"training (test split {said}: not held-out)"


def verdicts_line(metrics: dict) -> str | None:
    """How labels became the rows: the aggregation, the posterior floor, the agreement-aware loss."""
    verdicts = metrics.get("verdicts")
    if not verdicts:
        return None
    line = f"verdicts: {verdicts['aggregate']}"
    if verdicts.get("min_posterior") is not None:
        line += f", posterior at least {number_shown(verdicts['min_posterior'])}"
    agreement = metrics.get("agreement") or {}
    if agreement.get("mode", "off") != "off":
        said = "weights" if agreement["mode"] == "weight" else "ε"  # weight's are 1 − 2ε: no ε of the loss
        line += f"; --agreement {agreement['mode']} ({said} from the {agreement.get('from', 'agreement')}"
        if agreement["mode"] != "weight" and "mean" in agreement:  # the per-pair ε each pair's loss took
            line += f": mean {agreement['mean']:.3f}, {agreement['min']:.3f}-{agreement['max']:.3f}"
            if agreement.get("pairs_fitted"):  # --max-steps reached only some of the rows
                n = agreement["pairs"]
                line += f" over the {n} pair{'s' * (n > 1)} trained of {agreement['pairs_fitted']}"
        if agreement.get("from_trust"):  # a posterior no fit made: imported pairs, one labeller's each
            n = agreement["from_trust"]
            least = f"ε {1 - NO_CHECK_TRUST:g}" if said == "ε" else f"posterior {NO_CHECK_TRUST:g}"
            line += (
                f"; {said} of {n} of the {agreement['pairs']} pairs from their labeller's trust, not a fit ({least} "
                "where nothing of theirs is checked): one labeller's answer that no second labeller or gold checks"
            )
        line += ")"
    if metrics.get("label_smoothing"):  # one ε for every pair, beside --agreement weight's weights or alone
        default = metrics.get("label_smoothing_default")
        said = f"{default}'s default, no --label-smoothing given" if default else "--label-smoothing"
        line += f"; ε {number_shown(metrics['label_smoothing'])} for every pair ({said})"
    offsets = metrics.get("odpo_offsets") or {}
    n = offsets.get("pairs_without_strength")
    if n:  # their offset is the flag's, not the labellers' word; pairs, as --agreement's count says them
        line += f"; {n} pair{'s' * (n > 1)} without a strength took --odpo-default-strength"
        # not in the notes of a run saved before it was recorded (which a --resume reports)
        if "default_strength" in offsets:
            line += f" {number_shown(offsets['default_strength'])}"
    return line


# The held-out counts that are no reason to leave an item out: rows taken (preference and KTO rows, --rm-from-ratings'
# pairs, SFT's sources) and the training split's items (`other_split` in the test split's counts)
# (gold items join the held-out rows as gold_evaluated; rank_other_split: rankings of the training split)
HELD_OUT_TAKEN = (*TAKEN_KINDS, "exported", "pairs", "gold_answers", "edits", "gold_evaluated", "other_split")


def _test_left_out(metrics: dict) -> tuple[int, str]:
    """How many of the test split's items were left out of the held-out rows, and by reason (the training split's
    items, `other_split` there, are no part of it; nor are the gold items scored by their gold answer)."""
    counts = dict(metrics.get("eval_counts") or {})
    gold = counts.get("gold_evaluated")
    if gold:  # the gold items scored joined the rows; those whose gold answer is a tie or both bad did not
        counts["gold"] = max(0, counts.get("gold", 0) - gold)
    # rankings are counted in their own units and whatever their split (README): no part of this line
    left = {
        k: v
        for k, v in sorted(counts.items())
        if v and k not in HELD_OUT_TAKEN and not k.startswith(("rank_", "kind_rank"))
    }
    return sum(left.values()), ", ".join(f"{k} {v}" for k, v in left.items())


def _held_out_reasons(metrics: dict) -> str:
    """The test split's items left out of the held-out rows, by reason, and its gold items scored by their gold
    answer; where the run left out all of them, that it reports on training rows instead."""
    gold = (metrics.get("eval_counts") or {}).get("gold_evaluated")
    n, left = _test_left_out(metrics)
    if metrics.get("eval_split") == "train" and metrics.get("eval_counts"):  # a test split, none held out
        has = f"{n} item{'s' * (n != 1)}, all left out: {left}" if n else "none of these rows"
        return (
            f" (the workspace's test split has {has}; so training rows are used for the report, not held-out)"
        )
    return (f" ({gold} gold, decided by their gold answer)" if gold else "") + (
        f"; test-split items left out: {left}" if left else ""
    )


def eval_line(metrics: dict) -> str | None:
    """The held-out rows: taken, the test split's items left out by reason, evaluated, cut to --max-length, and
    excluded by reason."""
    held = metrics.get("eval_rows")
    if not held:
        return None
    excluded = sum(held["excluded"].values())
    name = "held-out rows" if metrics.get("eval_split", "test") != "train" else "evaluation rows (training)"
    line = f"{name}: {held['held_out']}{_held_out_reasons(metrics)}, evaluated {held['evaluated']}"
    if held["beyond_eval_limit"]:
        line += f" (--eval-limit left out {held['beyond_eval_limit']})"
    if "truncated" in held:  # as `rows_line` says it of the training rows (a run before the count had none)
        line += f", {held['truncated']} truncated to fit"
    if excluded:
        line += f", excluded {excluded} ({', '.join(f'{k}: {v}' for k, v in held['excluded'].items())})"
    return line + _held_out_note(metrics)


def _held_out_note(metrics: dict) -> str:
    """What the test split's rows left out `unchecked` and `rank_unchecked` are (`unchecked_note`), with the trust
    they got; where the workspace line said what such rows are (the training split had some too), only their own
    trust, which that line's is not (it quoted the training rows' 0.880 and nothing of the held-out rows' 0.800).
    A ranking's pairs are no test-split items of `_test_left_out`, but rows left out all the same: their trust was
    quoted nowhere."""
    floor = (metrics.get("verdicts") or {}).get("min_posterior")
    held = unchecked_counts(metrics.get("eval_counts") or {})  # its pairs' and its rankings' pairs'
    trust = metrics.get("eval_trust") or {}
    if not unchecked_note(metrics.get("data_counts") or {}, floor):
        note = unchecked_note(held, floor, trust)
        return f"; {note}" if note else ""
    here = unchecked_trust(trust, list(held))  # "": none tallied (a run recorded before the tally)
    if not here:
        return ""
    return (
        f"; {unchecked_rows(held)} at their labeller's trust (here {here}; what that is: the workspace line)"
    )


def summary_lines(method: str, metrics: dict) -> list[str]:
    held = _held(metrics)
    parts = (
        metrics.get("memory_plan"),
        verdicts_line(metrics),
        data_line(metrics),
        rows_line(metrics),
        eval_line(metrics),
    )
    lines = [line for line in parts if line]
    if "rm_accuracy" in metrics:  # a reward model
        levels = ", ".join(
            f"{level}: {cell['accuracy']:.3f} of {cell['pairs']}"
            for level, cell in metrics["rm_accuracy_by_strength"].items()
        )
        before = metrics["rm_accuracy_before"]
        return [
            *lines,
            f"{held} pairs: {metrics['eval_pairs']}",
            f"reward model accuracy {_fixed(metrics['rm_accuracy'], 3)}"
            f"{_interval(metrics['rm_accuracy'], metrics['eval_pairs'])} (untrained head: {_fixed(before, 3)}), "
            f"mean margin {_fixed(metrics['rm_margin_mean'], 4)}",
            f"accuracy by label strength: {levels or '-'}",
        ]
    if metrics.get("answers"):  # SFT
        n = metrics["answers"]
        ci = metrics["answer_logp_change_ci95"]  # None from one answer
        return lines + [
            f"{held} answers: {n}",
            f"mean log p(answer) {metrics['reference_answer_logp']:.2f} -> {metrics['answer_logp']:.2f}, "
            f"change {metrics['answer_logp_change']:+.2f}"
            + (f" (95 % CI {ci[0]:+.2f} to {ci[1]:+.2f})" if ci else ""),
            f"answers more likely after training: {_count(metrics, 'answers_more_likely', n)}",
        ]
    if not metrics.get("pairs", metrics.get("completions", metrics.get("answers"))):
        return [*lines, f"{held}: nothing could be scored"]
    if "pairs" in metrics:
        n = metrics["pairs"]
        return lines + [
            f"{held} pairs: {n}",
            f"original model preferred chosen in {_count(metrics, 'reference_prefers_chosen', n)}, "
            f"trained model in {_count(metrics, 'model_prefers_chosen', n)}",
            f"{reward_name(method)} accuracy {metrics['reward_accuracy']:.3f}{_ci(metrics, 'reward_accuracy')}, "
            f"mean margin {metrics['reward_margin']:.4f}",
            f"mean log p(chosen) {metrics['reference_chosen_logp']:.2f} -> {metrics['chosen_logp']:.2f}",
        ]
    return lines + [
        f"{held} completions: {metrics['completions']}",
        # 3 decimals as every figure, one that rounds to zero 0.000 (it printed 4: `undesirable -0.0000`), as `data
        # stats` prints them
        f"reward desirable {figure_text(metrics['desirable_reward'])}, "
        f"undesirable {figure_text(metrics['undesirable_reward'])}, "
        f"separation {figure_text(metrics['reward_separation'])}, sign accuracy {metrics['sign_accuracy']:.3f}"
        f"{_ci(metrics, 'sign_accuracy')}",
    ]


def _parent(record, config: dict) -> str:
    """Where the model comes from: its parent's manifest id, or the start model as given where the manifest has
    none (a run with --no-register from a model it never registered)."""
    if record.parent_id:
        return f"parent `{record.parent_id}`"
    start = config.get("model")
    return f"from `{start}`, not in the manifest" if start else "no parent in the manifest"


def _resumed_line(metrics: dict) -> list[str]:
    """The checkpoint a killed run's training continued from, as metrics.json and a round driver's record name it
    (``resumed_from_checkpoint``); none: no line."""
    checkpoint = metrics.get("resumed_from_checkpoint")
    if not checkpoint:
        return []
    return [
        f"- resumed_from_checkpoint: {checkpoint} (a killed run's training continued; the seconds are this part's)"
    ]


def write_report(out: Path, record, metrics: dict, config: dict, log_history: list[dict]) -> None:
    """The run's report files; metrics.json last: it marks the run finished (`train.out_folder`), so a kill
    before it leaves a run that --resume reports again, never a finished run without its report."""
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "train_config.json", json.dumps(config, indent=2) + "\n")
    _write(out / "log_history.json", strict_json(log_history, indent=2) + "\n")
    plot = plot_curves(log_history, out / "training.png")
    lines = [
        f"# {record.method} run {record.id}",
        "",
        f"- model: `{record.path}` (round {record.round}, {_parent(record, config)})",
        f"- steps: {metrics['steps']}, rows trained: {metrics['train_rows']}, "
        f"final loss: {_number(metrics['final_loss'])}, {metrics['seconds']} s"
        + (
            " (reported on --resume: the model was saved by an earlier process)"
            if metrics.get("reported_after_resume")
            else ""
        ),
        *_resumed_line(metrics),
        *(f"- {line}" for line in summary_lines(record.method, metrics)),
        "",
    ]
    if plot:
        lines += ["![training curves](training.png)", ""]
    _write(out / "report.md", "\n".join(lines))
    # TRL's trainers draft a README.md model card as they checkpoint; it names its trainer's method (SimPO: "trained
    # with CPO") and a base model of None for a start model folder (every start is one here, a hub id's snapshot
    # too): untrue of the run, whose card is report.md.
    (out / "README.md").unlink(missing_ok=True)
    _write(out / "metrics.json", strict_json(metrics, indent=2) + "\n")
