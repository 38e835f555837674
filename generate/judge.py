"""Machine labellers for pairs: an LLM judge (MT-Bench's pairwise prompt, both orders) or a trained reward model,
writing their verdicts into the label table as annotators ``judge:<model>`` / ``rm:<model id>``.

An LLM judge sees each pair twice, the two answers swapped; each answer ends in ``[[A]]``, ``[[B]]`` or ``[[C]]``
(tie; the last marker in the text counts). Both orders agreeing give that verdict with confidence 1; verdicts that
contradict each other give a tie with confidence 0 (position bias, not a preference; counted ``inconsistent``
by `judge_pairs`); one unreadable answer leaves the other's verdict with confidence 0.5; two unreadable answers
write nothing (a rerun asks again). A pair whose request (either order) leaves no room for an answer in the judge
model's context is not asked: no verdict, counted ``too_long``, a rerun asks again. A reward model prefers the higher-scored side with confidence σ(r_a − r_b) (its
probability under Bradley–Terry).

Judging is resumable: a pair that has a label from this annotator (a hub model's named either way: its hub id or its
snapshot folder) is not judged again. Label ids are content hashes of (pair, annotator), so a chunk written twice is
stored once.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from data.aggregate import current_labels
from data.annotators import judge_annotator, machine_labeller_mask, rm_annotator
from data.errors import PrefloopError
from data.files import read_named
from data.records import Label, content_id
from data.selection import labelling_pairs, stored_names
from data.workspace import Workspace
from generate.context import TOO_LONG, fitting
from generate.engines import Engine, SamplingParams

log = logging.getLogger(__name__)

# MT-Bench's pairwise judge prompt ("pair-v2", Zheng et al. 2023), system and user turn as one message.
MT_BENCH_TEMPLATE = """[System]
Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the \
user question displayed below. You should choose the assistant that follows the user's instructions and answers the \
user's question better. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, \
creativity, and level of detail of their responses. Begin your evaluation by comparing the two responses and provide \
a short explanation. Avoid any position biases and ensure that the order in which the responses were presented does \
not influence your decision. Do not allow the length of the responses to influence your evaluation. Do not favor \
certain names of the assistants. Be as objective as possible. After providing your explanation, output your final \
verdict by strictly following this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and \
"[[C]]" for a tie.

[User Question]
{question}

[The Start of Assistant A's Answer]
{answer_a}
[The End of Assistant A's Answer]

[The Start of Assistant B's Answer]
{answer_b}
[The End of Assistant B's Answer]"""
PLACEHOLDERS = ("{question}", "{answer_a}", "{answer_b}")
PLACEHOLDER = re.compile("|".join(map(re.escape, PLACEHOLDERS)))
# what reads as a placeholder: `{name}`, not JSON's `{"a": 1}`, a LaTeX argument (`\boxed{answer}`) nor a shell
# variable (`${HOME}`): a math or code judge's template holds those, and was warned of them
NAMED = re.compile(r"(?<![\w$])\{[A-Za-z_]\w*\}")
VERDICT = re.compile(r"\[\[([ABC])\]\]")
SWAP = {"a": "b", "b": "a", "tie": "tie"}
INCONSISTENT = "inconsistent"  # the ties `combine` gives where the two orders contradict each other


def load_template(path: Path | None, warn: bool = True) -> str:
    """The judge prompt: MT-Bench's, or the file's text, which must hold {question}, {answer_a} and {answer_b}.
    ``warn=False``: read it again without the warning of unknown `{name}`s, which the command's check (before any
    model loads) gave once already."""
    if path is None:
        return MT_BENCH_TEMPLATE
    try:
        text = read_named(Path(path))
    except OSError as exc:
        raise PrefloopError(f"--judge-template {path}: cannot read it ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:  # another encoding, or a binary file: was a traceback
        raise PrefloopError(f"--judge-template {path}: not UTF-8 text (byte {exc.start})") from None
    missing = [p for p in PLACEHOLDERS if p not in text]
    if missing:
        raise PrefloopError(f"--judge-template {path}: missing placeholder(s) {', '.join(missing)}")
    unknown = sorted(set(NAMED.findall(text)) - set(PLACEHOLDERS))
    if unknown and warn:  # `{reference}`, `{answer1}`: sent to the judge as written, never filled
        log.warning(
            "--judge-template %s: %s filled by nothing, the judge reads it as written (placeholders: %s)",
            path,
            ", ".join(unknown),
            ", ".join(PLACEHOLDERS),
        )
    return text


def question_text(prompt: list[dict]) -> str:
    """The user question as the judge sees it: the last user turn, earlier turns quoted before it."""
    if len(prompt) == 1:
        return prompt[0]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)


def judge_messages(template: str, prompt: list[dict], answer_a: str, answer_b: str) -> list[dict]:
    # One pass over the template alone, not format (model answers hold braces) nor a replace per placeholder: a
    # question or answer holding "{answer_b}" (a question about templates) had the other answer spliced into it.
    values = {"{question}": question_text(prompt), "{answer_a}": answer_a, "{answer_b}": answer_b}
    text = PLACEHOLDER.sub(lambda found: values[found.group(0)], template)
    return [{"role": "user", "content": text}]


def parse_verdict(text: str) -> str | None:
    """``a``, ``b`` or ``tie`` from the judge's last [[A]]/[[B]]/[[C]]; None when it gave none."""
    found = VERDICT.findall(text)
    return {"A": "a", "B": "b", "C": "tie"}[found[-1]] if found else None


def combine(forward: str | None, backward: str | None) -> tuple[str | None, float | None]:
    """(choice, confidence) from the verdict with a shown first (``forward``) and with b shown first
    (``backward``, in its own A/B terms)."""
    back = SWAP[backward] if backward else None
    if forward is None and back is None:
        return None, None
    if forward is None or back is None:
        return forward or back, 0.5
    if forward == back:
        return forward, 1.0
    return "tie", 0.0


def best_worst(scores: list[float]) -> tuple[int, int] | None:
    """(index of the best, index of the worst) score, the first on equal scores; None when all are equal."""
    if len(scores) < 2 or max(scores) == min(scores):
        return None
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    worst = min(range(len(scores)), key=lambda i: (scores[i], i))
    return best, worst


@dataclass(frozen=True)
class Verdict:
    choice: str | None  # a, b, tie; None: no readable verdict
    confidence: float | None
    note: str | None = None
    too_long: bool = False  # not asked: the request is longer than the judge model's context


class TooLong(Exception):
    """A ranking the judge cannot give: some of its comparisons are longer than the judge model's context."""


@dataclass
class Cost:
    """What judging has cost so far: model calls, generated tokens, seconds."""

    calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    counts: Counter = field(default_factory=Counter)

    def per_pair(self, pairs: int) -> dict:
        n = max(pairs, 1)
        return {"calls": self.calls / n, "tokens": self.tokens / n, "seconds": round(self.seconds / n, 3)}


class LLMJudge:
    """A chat model asked MT-Bench's pairwise question through the engine seam, in both orders."""

    def __init__(self, engine: Engine, model: str, template: str, params: SamplingParams):
        self.engine, self.template, self.params = engine, template, params
        self.annotator = judge_annotator(model)
        self.cost = Cost()

    @property
    def context_length(self) -> int | None:
        """The judge model's context as its engine runs it (vLLM: --max-model-len, else the model's own)."""
        return self.engine.context_length

    def compare(self, items: list[tuple[list[dict], str, str]]) -> list[Verdict]:
        """A verdict on each (prompt, answer a, answer b); a pair whose request, in either order, does not fit the
        judge model's context (`fitting`) is not asked in either: its verdict is `too_long`, with no choice."""
        requests = []
        for prompt, a, b in items:
            requests += [
                judge_messages(self.template, prompt, a, b),
                judge_messages(self.template, prompt, b, a),
            ]
        fits = fitting(self.engine, requests)
        asked = [i for i in range(len(items)) if fits[2 * i] and fits[2 * i + 1]]
        asking = [request for i in asked for request in requests[2 * i : 2 * i + 2]]
        started = time.perf_counter()
        samples = [s[0] for s in self.engine.sample(asking, 1, self.params)] if asking else []
        self.cost.seconds += time.perf_counter() - started
        self.cost.calls += len(asking)
        self.cost.tokens += sum(s.num_tokens for s in samples)
        out = [Verdict(None, None, "longer than the judge's context", too_long=True)] * len(items)
        for i, forward, backward in zip(asked, samples[::2], samples[1::2]):
            verdicts = parse_verdict(forward.text), parse_verdict(backward.text)
            choice, confidence = combine(*verdicts)
            self.cost.counts[
                INCONSISTENT if confidence == 0.0 else "unreadable" if choice is None else "ok"
            ] += 1
            out[i] = Verdict(
                choice, confidence, f"verdicts {verdicts[0] or '?'}/{verdicts[1] or '?'} (a first/b first)"
            )
        self.cost.counts[TOO_LONG] += len(items) - len(asked)
        return out

    def scores(self, prompt: list[dict], texts: list[str]) -> tuple[list[float], dict]:
        """Copeland scores of ``texts`` (a win 1, a tie ½ each) over every pair of them, and each pair's verdict."""
        pairs = [(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))]
        verdicts = self.compare([(prompt, texts[i], texts[j]) for i, j in pairs])
        scores = [0.0] * len(texts)
        for (i, j), v in zip(pairs, verdicts):
            if v.choice == "a":
                scores[i] += 1
            elif v.choice == "b":
                scores[j] += 1
            elif v.choice == "tie":
                scores[i] += 0.5
                scores[j] += 0.5
        return scores, dict(zip(pairs, verdicts))

    def rank(self, prompt: list[dict], texts: list[str]) -> tuple[int, int, float] | None:
        """(best, worst, confidence of best over worst) among ``texts``, or None when the judge sees no spread;
        `TooLong` where a comparison was not asked (a ranking without it would be a guess)."""
        scores, verdicts = self.scores(prompt, texts)
        if any(v.too_long for v in verdicts.values()):
            raise TooLong("a comparison is longer than the judge model's context")
        found = best_worst(scores)
        if found is None:
            return None
        best, worst = found
        direct = verdicts[(min(found), max(found))]
        return best, worst, direct.confidence if direct.choice in ("a", "b") else 0.0


class RewardJudge:
    """A trained reward model (``scorer.score(prompt, texts) -> rewards``) as a machine labeller."""

    def __init__(self, scorer, model_id: str):
        self.scorer = scorer
        self.annotator = rm_annotator(model_id)
        self.cost = Cost()

    def _score(self, prompt: list[dict], texts: list[str]) -> list[float | None]:
        """The reward of each text; None for all where one is longer than the scorer's max length
        (--judge-max-length, or the model's context): none is scored."""
        started = time.perf_counter()
        scores = self.scorer.score(prompt, texts, whole=True)  # its calls are the cost of the verdicts made
        self.cost.seconds += time.perf_counter() - started
        self.cost.calls += sum(s is not None for s in scores)
        return scores

    def compare(self, items: list[tuple[list[dict], str, str]]) -> list[Verdict]:
        """A verdict on each (prompt, answer a, answer b); a pair with a side too long to score (a cut prompt is
        another question) has no choice: `too_long`, as the LLM judge's."""
        out = []
        for prompt, a, b in items:
            ra, rb = self._score(prompt, [a, b])
            if ra is None or rb is None:
                out.append(Verdict(None, None, "longer than the reward model's max length", too_long=True))
                self.cost.counts[TOO_LONG] += 1
                continue
            p = 1 / (1 + math.exp(-(ra - rb)))
            choice = "a" if ra > rb else "b" if rb > ra else "tie"
            out.append(Verdict(choice, max(p, 1 - p), f"rewards {ra:.4f}/{rb:.4f}"))
        return out

    def rank(self, prompt: list[dict], texts: list[str]) -> tuple[int, int, float] | None:
        scores = self._score(prompt, texts)
        if None in scores:  # a ranking without the answer too long to score would be a guess
            raise TooLong("an answer is longer than the reward model's max length")
        found = best_worst(scores)
        if found is None:
            return None
        best, worst = found
        return best, worst, 1 / (1 + math.exp(-(scores[best] - scores[worst])))


def machine_label(pair_id: str, annotator: str, verdict: Verdict) -> Label:
    """A machine verdict as a label; its id is a content hash, so a rerun writes it once."""
    return Label(
        pair_id,
        annotator,
        "pairwise",
        verdict.choice,
        confidence=verdict.confidence,
        note=verdict.note,
        id=content_id("machine-label", pair_id, annotator),
    )


def pairs_to_judge(
    workspace: Workspace,
    annotator: str,
    split: str | None,
    labelled: bool = False,
    limit: int = 0,
    kinds: tuple[str, ...] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Pairs for labelling that people have not labelled (``labelled``: those too, to measure the judge; ``kinds``:
    pairs of these kinds instead, e.g. ``arena``) of ``split``, oldest round first, the first ``limit`` (0: all)
    of them whatever has been judged: those without a label from ``annotator`` (`data.lineage.same_machine`: the
    judge named by its hub id or its snapshot folder) yet, and how many have one already (a rerun keeps them, so a
    killed job's rerun finishes the same pairs). Other judges' and reward models' labels leave a pair to judge:
    each machine gives its own."""
    pairs, labels = workspace.frame("pairs"), workspace.frame("labels")
    if kinds:  # an edit pair's verdict is its editor's, whatever kinds are asked
        pairs = pairs[pairs["kind"].isin(kinds) & (pairs["kind"] != "edit")]
    else:
        # arena pairs only when asked (--kinds); an edit pair's verdict is its editor's, no judge's to give
        labelled_kinds = ~pairs["kind"].isin(("spin", "arena", "edit"))
        pairs = pairs[labelled_kinds] if labelled else labelling_pairs(pairs, labels)
    if split:
        prompts = workspace.frame("prompts")
        pairs = pairs[pairs["prompt_id"].isin(set(prompts.loc[prompts["split"] == split, "id"]))]
    if not labelled:
        people = labels[~machine_labeller_mask(labels["annotator"])]
        pairs = pairs[~pairs["id"].isin(set(current_labels(people, "pairwise")["item_id"]))]
    pairs = pairs.sort_values(["round", "created_at", "id"], kind="stable")
    if limit:
        pairs = pairs.head(limit)
    # its labels under ``annotator`` or another name of it (`same_machine`: a hub id and its snapshot folder)
    mine = stored_names(labels["annotator"], [annotator])
    done = pairs["id"].isin(set(labels.loc[labels["annotator"].isin(mine), "item_id"]))
    return pairs[~done], int(done.sum())


def judge_pairs(
    workspace: Workspace, judge, pairs: pd.DataFrame, chunk_size: int = 16, already_judged: int = 0
) -> dict:
    """Judge ``pairs`` in durable chunks; returns counts (``already_judged``, when not 0: the pairs of the job the
    judge had labelled before, `pairs_to_judge`'s count) and the cost per pair."""
    messages = workspace.frame("prompts").set_index("id")["messages"]
    text = workspace.frame("completions").set_index("id")["text"]
    counts: Counter = Counter()
    rows = list(pairs.itertuples())
    with tqdm(total=len(rows), desc=f"judging with {judge.annotator}", unit="pair", disable=None) as bar:
        for offset in range(0, len(rows), chunk_size):
            chunk = rows[offset : offset + chunk_size]
            items = [
                ([dict(m) for m in messages[p.prompt_id]], text[p.completion_a], text[p.completion_b])
                for p in chunk
            ]
            verdicts = judge.compare(items)
            labels = [machine_label(p.id, judge.annotator, v) for p, v in zip(chunk, verdicts) if v.choice]
            too_long = sum(v.too_long for v in verdicts)
            if too_long:  # no verdict: a rerun asks again (a judge with a longer context, --max-model-len)
                counts[TOO_LONG] += too_long
            counts["unreadable"] += len(chunk) - len(labels) - too_long
            counts.update(v.choice for v in verdicts if v.choice)
            # ties of an LLM judge whose two orders disagreed (position bias): said apart, as "tie" alone hid them
            counts[INCONSISTENT] += sum(v.choice == "tie" and v.confidence == 0.0 for v in verdicts)
            counts["labels_written"] += workspace.append(labels, skip_existing=True).get("labels", 0)
            bar.update(len(chunk))
    counts["pairs"] = len(rows) - counts[TOO_LONG]  # judged: those too long were never asked (counted apart)
    if already_judged:  # a rerun: what it kept
        counts["already_judged"] = already_judged
    return {
        "annotator": judge.annotator,
        "counts": dict(counts),
        "cost_per_pair": judge.cost.per_pair(counts["pairs"]),
        # an LLM judge's context, which its too_long pairs did not fit (`judge_report` says it)
        "context_length": getattr(judge, "context_length", None),
    }
