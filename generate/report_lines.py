"""What a `python -m generate` run says beside its counts: a judging job's verdicts and cost (`judge_report`), and
a sampling job's lines on what it kept, reused, topped up or paired from answers stored before (`made_lines`,
`topped_up_line`), that it had nothing left to sample (`nothing_left`), or that --limit took a smaller set whole
(`limit_taken`)."""

from __future__ import annotations

from data.errors import counted
from data.lineage import is_reward_model_name
from generate.options import GenerateOptions


def judge_report(result: dict, max_length: int | None = None, max_model_len: int | None = None) -> list[str]:
    """What a judging job did and what it cost per pair (nothing to judge: that it loaded no model); a reward
    model's pairs too long to score say the limit (``max_length``: --judge-max-length), a chat model's why they
    were not asked: its context and the option that sets it (``max_model_len``: --max-model-len)."""
    counts, cost = result["counts"], result["cost_per_pair"]
    reward_model = is_reward_model_name(result["annotator"])
    # a reward model's score is always read: "unreadable" (no verdict marker in an LLM's answer) means nothing there
    unreadable = [] if reward_model else ["unreadable"]
    shown = ("a", "b", "tie", *unreadable, *(["too_long"] if counts.get("too_long") else []))
    # the ties where a judge's two orders disagreed: position bias, not a tie it judged
    biased = f" (inconsistent {counts['inconsistent']})" if counts.get("inconsistent") else ""
    verdicts = ", ".join(f"{k} {counts.get(k, 0)}{biased * (k == 'tie')}" for k in shown)
    kept = f"; already_judged {counts['already_judged']}" if counts.get("already_judged") else ""
    said = f"{result['annotator']}: judged {counts.get('pairs', 0)} pairs ({verdicts}); "
    said += f"{counts.get('labels_written', 0)} labels written{kept}"
    if counts.get("too_long") and reward_model:
        said += (
            f"; too_long: prompt and answer longer than --judge-max-length {max_length} tokens or the reward "
            "model's context, not scored"
        )
    elif counts.get("too_long"):  # it said `too_long 2` and nothing of why, nor what a rerun does
        context = result.get("context_length")
        option = "not set: the model's own" if max_model_len is None else str(max_model_len)
        # a larger --max-model-len only where one was set: the model's own context is as far as vLLM goes
        larger = ": a larger --max-model-len, up to the model's own context, or" if max_model_len else ";"
        said += (
            "; too_long: the request (the judge template with the question and both answers) leaves no room for an "
            f"answer in the judge model's context ({f'{context} tokens, ' if context else ''}--max-model-len "
            f"{option}), not asked (a rerun asks again{larger} a judge of a longer context answers)"
        )
    if not result.get("loaded", True):
        return [said, "nothing to judge: no model loaded" + elsewhere_text(result.get("elsewhere"))]
    return [said, cost_line("pair", cost)]


def cost_line(per: str, cost: dict) -> str:
    """A judge's cost per pair it judged (``--judge``) or per prompt it ranked (``--pairs best-worst``)."""
    return (
        f"cost per {per}: {cost['calls']:.1f} model calls, {cost['tokens']:.0f} generated tokens, "
        f"{cost['seconds']:.2f} s"
    )


def elsewhere_text(elsewhere: dict | None) -> str:
    """What a judging job with nothing to judge in its split says of the pairs of its kinds (--kinds) that wait in
    the other (`generate.bestofn.judge_workspace`'s ``elsewhere``): the arena's, in split test, say."""
    if not elsewhere or not elsewhere["pairs"]:
        return ""
    kinds = elsewhere["kinds"]
    what = f"{' and '.join(kinds)} pairs" if kinds else "pairs for labelling"
    split = elsewhere["split"]
    return (
        f"; {elsewhere['pairs']} {what} wait in split {split} (this run judged split {elsewhere['judged']}): "
        f"--split {split} judges them"
    )


def nothing_left(options: GenerateOptions, kept: int, made: list[str] | None = None) -> str:
    """What a sampling run with its whole prompt set (``kept`` prompts, answered already) says; ``made``: the pairs
    it made of those answers (`made_lines`), said as what it did instead of sampling."""
    within = f"--split {options.split}" + (f" --shard {options.shard}" if options.shard else "")
    which = "every prompt"
    if options.limit:  # fewer prompts than --limit: the set is all of them
        which = (
            f"each of the first {options.limit} prompts"
            if kept >= options.limit
            else f"each of the {kept} prompts"
        )
    more = "; a larger --limit samples more" if options.limit else ""
    if made:
        return (
            f"nothing sampled: {which} of {within} already had answers from this model in this round; "
            + "; ".join(made)
        )
    return (
        f"nothing left to sample: {which} of {within} already has completions from this model in this round "
        f"(a rerun samples only the missing ones{more})"
    )


def reused_line(reused: int, other_params: int) -> str:
    """What a --spin job says of the prompts whose SPIN pair it made from an answer sampled before."""
    other = f"; {other_params} of them sampled with other parameters than this run's" if other_params else ""
    return (
        f"reused {reused} completions sampled before (this model, this round: another job's, e.g. --n 2 pairs) "
        f"as the rejected answer of their SPIN pairs, not sampled again{other}"
    )


def paired_kept_line(paired: int, n: int) -> str:
    """What a pairs job says of the prompts it kept whose pairs for people it made of answers sampled before."""
    return (
        f"paired {paired} prompts answered before (this model, this round, this run's parameters: e.g. a --pairs "
        f"best-worst job's answers) for people, from their first {n} answers (those a fresh --n {n} draws), "
        "none sampled again"
    )


def made_lines(counts: dict, n: int) -> list[str]:
    """What a sampling job says of the pairs it made of answers sampled before (--spin's, a pairs job's)."""
    said = []
    if counts.get("reused"):
        said.append(reused_line(counts["reused"], counts.get("reused_other_params", 0)))
    if counts.get("paired_kept"):
        said.append(paired_kept_line(counts["paired_kept"], n))
    if counts.get("pair_is_best_worst"):
        said.append(
            f"{counts['pair_is_best_worst']} prompts answered before were not paired again: the pair for people "
            f"their first {n} answers make is their best-vs-worst pair, stored already (people are served it)"
        )
    if "judge" in counts and "judge_cost_per_prompt" not in counts:  # --pairs best-worst, nothing to pair
        why = [f"{counts.get('best_worst_already_paired', 0)} prompts had their best-vs-worst pair already"]
        if counts.get("best_worst_unpaired_prompts"):
            why.append(f"{counts['best_worst_unpaired_prompts']} had fewer than two distinct answers")
        said.append(f"nothing left to pair ({', '.join(why)}): the judge {counts['judge']} was not loaded")
    return said


def topped_up_line(counts: dict, n: int) -> str | None:
    """What a pairs job says of the prompts it answered before: those it topped up to ``n`` answers (and of them,
    those with their pairs for people already), those it left as they were for their answers' other parameters."""
    said = []
    if counts.get("topped_up"):
        said.append(
            f"topped up {counts['topped_up']} prompts answered before (this model, this round, this run's "
            f"parameters: e.g. a --spin job's one answer) to {n} answers: {counts['topped_up_answers']} new "
            "answers at the sample indices they lacked, none sampled twice"
        )
    if counts.get("topped_up_already_paired"):
        said.append(
            f"{counts['topped_up_already_paired']} of the prompts topped up got no new pair for people: they had as "
            f"many as a fresh --n {n} draw makes (--pairs-per-prompt), kept as they were"
        )
    if counts.get("other_params_prompts"):
        said.append(
            f"{counts['other_params_prompts']} prompts answered before with other sampling parameters than this "
            "run's were not topped up (sample them into a round of their own: --round N)"
        )
    return "; ".join(said) or None


def limit_taken(limit: int, taken: int, what: str) -> list[str]:
    """`--limit 100: 12 prompts in split train, all taken`, where a job's set (``taken`` prompts ``what``) is smaller
    than --limit: it took them all without a word. No line where the set is --limit's size."""
    return [f"--limit {limit}: {counted(taken, 'prompt')} {what}, all taken"] if taken < limit else []
