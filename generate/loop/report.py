"""A round driver's summary as lines for the terminal: one per iteration, then the gold chain."""

from __future__ import annotations

from data.errors import counted
from data.intervals import figure_text
from generate.context import TOO_LONG


def _number(value: object, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def iteration_summary(iteration: int, model: dict, record: dict) -> dict:
    """One iteration's line: pairs, held-out gold log-likelihood and gold-vs-generated margin, timings."""
    metrics = model["metrics"]
    trained_before = bool(record.get("done_before") or metrics.get("reported_after_resume"))
    return {
        "iteration": iteration,
        "round": model["round"],
        "model": model["id"],
        "parent": model["parent_id"],
        "path": model["path"],
        "train_pairs": metrics.get("train_rows"),
        "eval_split": metrics.get("eval_split"),
        "eval_pairs": metrics.get("pairs"),
        "gold_logp_before": metrics.get("reference_chosen_logp"),
        "gold_logp_after": metrics.get("chosen_logp"),
        "generated_logp_delta": metrics.get("rejected_logp_delta"),
        "reward_margin": metrics.get("reward_margin"),
        "reward_accuracy": metrics.get("reward_accuracy"),
        "prefers_gold_before": metrics.get("reference_prefers_chosen"),
        "prefers_gold_after": metrics.get("model_prefers_chosen"),
        "steps": metrics.get("steps"),
        "sample_seconds": record.get("sample_seconds"),  # over every run that sampled it (`sample_runs`)
        "sample_runs": record.get("sample_runs", 1),  # the runs that sampled for it, not every rerun
        "train_seconds": record.get("train_seconds"),
        # registered by an earlier run (said "resumed" before, which a training resumed from a checkpoint is not)
        "done_before": record.get("done_before", False),
        # a killed run's training continued from this checkpoint: train_seconds are the part trained now
        "resumed_from_checkpoint": record.get("resumed_from_checkpoint"),
        # trained by an earlier run: done then, or registered then and reported now (train's --resume)
        "trained_before": trained_before,
        # a training an earlier run started, continued now on the rows it selected then (its round not sampled now)
        "started_before": not trained_before and bool(metrics.get("selection_recorded_at")),
        # what the sampling steps left unsent (an iteration trained before samples nothing now)
        "too_long": {} if trained_before else too_long_counts(record.get("sampled")),
        # the answers they stored with U+FFFD for a NUL or a lone surrogate (`data.conversation.storable`)
        "replaced": {} if trained_before else replaced_counts(record.get("sampled")),
        # the pairs its training left out, by reason: the train and eval pairs above are what it kept
        "left_out": left_out_counts(metrics),
    }


def left_out_counts(metrics: dict) -> dict[str, dict[str, int]]:
    """The pairs an iteration's training left out, by reason, as train's report counts them (its rows and held-out
    rows lines): ``train_pairs_left_out``, dropped fitting --max-length (``prompt cut to no word by --max-length``)
    or not reached by --max-steps, and ``eval_pairs_left_out``, excluded fitting or left out by --eval-limit. Only
    the iterate's metrics.json said them: the table showed 1 train pair under 2 train prompts, no reason given."""
    rows, held = metrics.get("rows") or {}, metrics.get("eval_rows") or {}
    found = {
        "train_pairs_left_out": {
            **rows.get("rows_dropped", {}),
            "not reached by --max-steps": rows.get("rows_beyond_max_steps", 0),
        },
        "eval_pairs_left_out": {
            **held.get("excluded", {}),
            "left out by --eval-limit": held.get("beyond_eval_limit", 0),
        },
    }
    return {name: {why: n for why, n in by.items() if n} for name, by in found.items() if any(by.values())}


def left_out_line(title: str, counts: dict[str, dict[str, int]]) -> list[str]:
    """``title: train_pairs_left_out 1 (prompt cut to no word by --max-length: 1)``, as `left_out_counts` found
    them (none: no line)."""
    if not counts:
        return []
    said = "; ".join(
        f"{name} {sum(by.values())} ({', '.join(f'{why}: {n}' for why, n in by.items())})"
        for name, by in counts.items()
    )
    return [f"{title}: {said} (the iterate's report.md and metrics.json count them)"]


def too_long_counts(sampled: dict | None) -> dict[str, dict[str, int]]:
    """The prompts a sampling step left unsent for want of context, per count and split, named as a plain
    `generate` run names them: ``too_long`` (the iterate's context: ``sampled[split]``), ``best_worst_too_long``
    (the judge loop's judge, ranking a prompt's answers: ``sampled[split + "_pairs"]``)."""
    found: dict[str, dict[str, int]] = {}
    for key, counts in (sampled or {}).items():
        split = key.removesuffix("_pairs")
        if counts.get(TOO_LONG):
            name = TOO_LONG if split == key else f"best_worst_{TOO_LONG}"
            found.setdefault(name, {})[split] = counts[TOO_LONG]
    return found


def replaced_counts(sampled: dict | None) -> dict[str, dict[str, int]]:
    """The answers a sampling step stored with U+FFFD in place of a character no stored text holds, per count and
    split, named as a plain `generate` run names them: ``nul_replaced``, ``invalid_text_replaced``."""
    found: dict[str, dict[str, int]] = {}
    for split, counts in (sampled or {}).items():
        for name in ("nul_replaced", "invalid_text_replaced"):
            if counts.get(name):
                found.setdefault(name, {})[split] = counts[name]
    return found


def replaced_line(title: str, counts: dict[str, dict[str, int]]) -> list[str]:
    """``title: nul_replaced 1 (train 1) (...)``, as `replaced_counts` found them (none: no line)."""
    if not counts:
        return []
    return [
        f"{title}: {_by_split(counts)} (answers stored with U+FFFD for a NUL or a lone surrogate they held)"
    ]


def _by_split(counts: dict[str, dict[str, int]], sep: str = "; ") -> str:
    """``too_long 1 (train 1); best_worst_too_long 2 (train 1, test 1)``."""
    return sep.join(f"{name} {sum(by.values())} ({counts_said(by)})" for name, by in counts.items())


def counts_said(counts: dict) -> str:
    """``counts`` as a count line says them, ``name N, name N``; a value that is counts per split (an iteration's
    ``too_long``, ``replaced``: `too_long_counts`) as `_by_split` says them, under their own names. The loop's log
    printed Python's dicts: ``{'train': 3, 'test': 0}``, ``'too_long': {'too_long': {'train': 1}}``."""
    said = [
        _by_split(value, ", ") if isinstance(value, dict) else f"{name} {value}"
        for name, value in counts.items()
        if value != {}
    ]
    return ", ".join(said)


def too_long_line(
    title: str, counts: dict[str, dict[str, int]], max_model_len: int | None = None
) -> list[str]:
    """``title: too_long 1 (train 1)``, as `too_long_counts` found them (none: no line); a rerun counts them again.
    The judge's say the options that set its context (``max_model_len``: --max-model-len, for a chat model)."""
    if not counts:
        return []
    option = "not set, the model's own" if max_model_len is None else str(max_model_len)
    judged = (
        f", best_worst_too_long the judge's (a chat model's: --max-model-len {option}; a reward model's: "
        "--judge-max-length)"
    ) * ("best_worst_too_long" in counts)
    return [
        f"{title}: {_by_split(counts)} (longer than the model's context{judged}: not sent; a rerun counts them "
        "again)"
    ]


def unpaired_note(sampled: dict | None, title: str, prompts: int, max_model_len: int | None = None) -> str:
    """What this run's sampling step made of an iteration's ``prompts`` train prompts, said after a training that
    found nothing to train on: the judge loop's judge pairing none of them (`generate.bestofn.pair_best_worst`'s
    counts), or the prompts left unsent for want of context (`too_long_line`); "" where it says nothing."""
    pairing = (sampled or {}).get("train_pairs")
    if pairing is not None and not pairing.get("pairs"):
        said = ", ".join(f"best_worst_{k} {v}" for k, v in pairing.items() if v)
        said = f" ({said})" if said else ""
        return f"; {title}: the judge paired none of its {prompts} train prompts{said}"
    lines = too_long_line(title, too_long_counts(sampled), max_model_len)
    return f"; {lines[0]}" if lines else ""


def spin_report(summary: dict) -> list[str]:
    """A round driver's summary as lines: one per iteration, with the held-out log-likelihood of the chosen
    answers (SPIN: the gold ones) and the reward margin."""
    start, prompts = summary["start"], summary["prompts"]
    chosen = "gold" if summary["kind"] == "spin" else "chosen"
    lines = [
        f"{summary['kind'].upper()} on {summary['workspace']} from {start['model']} "
        f"(model {start['id']}, round {start['round']}): {prompt_counts(prompts, summary['iterations'])}",
        f"iter round model    train pairs eval pairs  {chosen} logp before -> after  margin  accuracy"
        f"  prefers {chosen} before -> after  sample s  train s",
    ]
    for it in summary["iterations"]:
        eval_pairs = f"{it['eval_pairs']} {it['eval_split']}" if it["eval_pairs"] is not None else "-"
        lines.append(
            f"{it['iteration']:<4} {it['round']:<5} {it['model'][:8]} {it['train_pairs']!s:<11} {eval_pairs:<11} "
            f"{_number(it['gold_logp_before'], 1):>16} -> {_number(it['gold_logp_after'], 1):<6} "
            f"{_number(it['reward_margin']):>7} {_number(it['reward_accuracy']):>9} "
            f"{_number(it['prefers_gold_before']):>20} -> {_number(it['prefers_gold_after']):<6} "
            f"{_number(it['sample_seconds'], 0):>8} {_number(it['train_seconds'], 0):>8}" + _done_before(it)
        )
    for it in summary["iterations"]:
        title = f"iteration {it['iteration']} (round {it['round']})"
        too_long = too_long_line(title, it.get("too_long", {}), summary.get("max_model_len"))
        lines += left_out_line(title, it.get("left_out", {}))
        lines += too_long + replaced_line(title, it.get("replaced", {}))
    if summary.get("final_sample_seconds") is not None:
        lines.append(
            f"held-out answers of the last iterate sampled in {summary['final_sample_seconds']:.0f} s"
        )
    elif "final_sample_seconds" in summary and prompts["test"]:  # a rerun's: nothing sampled, nothing to time
        lines.append("held-out answers of the last iterate already sampled (kept from an earlier run)")
    lines += too_long_line("held-out answers of the last iterate", summary.get("final_too_long", {}))
    lines += replaced_line("held-out answers of the last iterate", summary.get("final_replaced", {}))
    lines += [f"samples: {path}" for path in summary.get("samples", [])]
    return lines + chain_lines(summary.get("gold_chain"))


def _done_before(it: dict) -> str:
    """What of the row an earlier run did: all of it, its training, or the part a killed run left."""
    if it["done_before"]:
        return "  (done before)"
    if it["trained_before"]:
        return "  (trained before, reported now)"
    resumed = []
    # seconds None: a run killed while it sampled, or an older version's, sampled recording nothing (sample s "-")
    if it["sample_seconds"] is None:
        resumed.append("an earlier run's sampling not recorded")
    elif it["sample_runs"] > 1:
        resumed.append(f"sample s over {it['sample_runs']} runs")
    if it["resumed_from_checkpoint"]:
        resumed.append(f"training continued from {it['resumed_from_checkpoint']}, train s that part's")
    return f"  (resumed: {'; '.join(resumed)})" if resumed else ""


def prompt_counts(prompts: dict[str, int], iterations: list[dict]) -> str:
    """The prompts per iteration of this run's sets (--limit, --spin-test-limit); an iteration trained by an earlier
    run, or whose training an earlier run started (continued now on the rows it selected then), was trained on the
    prompts sampled then, and the header says so (a rerun's larger --limit was said of it). A rerun that trains
    none said "... per iteration sampled now" of prompts it neither sampled nor trained on."""
    said = f"{counted(prompts['train'], 'train prompt')}, {counted(prompts['test'], 'held-out prompt')} per iteration"
    trained = [str(it["iteration"]) for it in iterations if it.get("trained_before")]
    started = [str(it["iteration"]) for it in iterations if it.get("started_before")]
    if not trained and not started:
        return said
    which = " and ".join(
        f"iteration{'s' * (len(its) > 1)} {', '.join(its)} {what} before"
        for its, what in ((trained, "trained"), (started, "started training"))
        if its
    )
    then = "on the prompts sampled then (train pairs below)"
    if len(trained) + len(started) == len(iterations):
        return f"{which}, {then}; none {'started' if started else 'trained'} now"
    return f"{said} trained now; {which}, {then}"


def chain_lines(chain: dict | None) -> list[str]:
    """The gold log-likelihood of every iterate on the same held-out prompts: each step's change and base -> last,
    with 95 % intervals (`train.evaluate.paired_change`'s for the mean change, to its 2 decimals; Wilson for the share
    of prompts that rose, to 3 as every share's (`data.intervals.figure_text`, as train's report))."""
    if not chain:
        return []

    def line(title: str, c: dict) -> str:
        # prompts whose log-likelihood is null (a diverged iterate's): left out, counted
        null = (
            f" ({c['not_comparable']} not comparable: null log-likelihood)" if c.get("not_comparable") else ""
        )
        if not c["rows"]:
            return f"{title}: no held-out prompt in common{null}"
        ci = c["mean_change_ci95"]  # None from one prompt
        share_low, share_high = c["rose_share_ci95"]
        return (
            f"{title}: {c['mean_before']:.1f} -> {c['mean_after']:.1f}, change {c['mean_change']:+.2f}"
            + (f" (95 % CI {ci[0]:+.2f} to {ci[1]:+.2f})" if ci else "")
            + f"; rose on {c['rose']}/{c['rows']} prompts "
            f"(95 % CI {figure_text(share_low)}-{figure_text(share_high)}){null}"
        )

    lines = [f"{chain['metric']}, the same held-out prompts through the chain:"]
    lines += [line(f"  iteration {step['iteration']}", step) for step in chain["steps"]]
    return lines + [line("  base -> last", chain["overall"])]
