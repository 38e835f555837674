"""Dawid–Skene: each labeller's confusion matrix and each item's true-choice posterior, by EM over overlapping labels.

Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using the EM algorithm". Labeller w
answers choice c on an item whose true choice is t with probability π_w[t, c]; items' true choices follow a prior p.

- E step: P(t | labels of i) ∝ p[t] · Π_(labels of i) π_w[t, c]
- M step: π_w[t, c] ∝ Σ_(labels of w with choice c) P(t | item) + pseudo-counts; p ∝ Σ_i P(t | labels of i)

The pseudo-counts are a Dirichlet prior on each confusion row (the fit is its MAP): every labeller starts as if they
had answered ``PRIOR_RIGHT`` items of each true choice right and ``PRIOR_WRONG`` wrong. Without the right ones a
labeller with a few dozen labels gets a confusion matrix that explains their own answers perfectly: one labeller's
only both_bad vote turned pairs with three `a` votes into both_bad, and at 30 pairs Dawid–Skene's verdicts fell 16
points below the majority's (`benchmarks/bench_labellers.py --small`). Without the wrong ones the row of a rare true
choice collapsed to "never missed": with 10 % of KTO answers undesirable, every answer with one vote each way went
desirable, its undesirable vote an error on a desirable answer, so each labeller's row for a truly undesirable
answer came out right 0.99 and more (the simulation's 0.70–0.90), and p(undesirable) 0.05 for 0.10; the posteriors
followed (`--min-posterior 0.9` kept rows 3.7–5.9 % wrong, a perfect fit's 1.5–2.2 %: `bench_labellers.py --kto`).
Running that EM to convergence made it no better (the 100-step cap stopped it early, and converged it overruled
117 answers two labellers called undesirable, capped 102, a perfect fit 59). Half an imagined wrong answer per row
keeps the rare row from that: 2.1–5.3 % wrong at `--min-posterior 0.9`, 68 of those answers overruled, the verdicts
as accurate (0.1 point less to 0.5 more at 10 % undesirable, 0.1–1.0 points more at 50 %). With hundreds of labels per
labeller the prior changes next to nothing.

A labeller's errors show only on items they share with others and on gold (`unchecked`), and only for the answers
they gave there: an answer a labeller gave on none of those, their rows and the shares could explain as anything that
reproduces it, and the prior picks one. With the imagined wrong answers it picked a labeller who misses the rare
answer: a lone labeller's 10 undesirable answers among 100 all came out desirable, and so they did (at 0.92) when
the labeller shared one item with another, both calling it desirable, and with 20 such items (at 0.98): a KTO export
then held no undesirable answer at all. One or two such items are no more evidence: one shared item where they said
undesirable and two others desirable, beside one all three called desirable, turned all 10 desirable (at 0.99), and
so did one such item beside one where the others agreed with them and 20 all called desirable (at 0.60: half of
their checked undesirable answers right). So an answer counts as checked only once the labeller gave it on
`CHECKED_AT` (3) items others label or gold: more than the 2.5 answers the prior imagines per row, so the data
outweighs it. A labeller who gave an answer checked less on an item of their own (nobody else's, no gold) has
all their own items stay out of the fit, their answers the verdicts, and the rest is fitted as if those labels were
not there: all of them, since which items the fit sees must not depend on what was answered. Left out for that
answer alone, the items of their other answers set the shares: a lone labeller who said undesirable on three shared
items, contradicted by two others on two, and desirable on one, had their 10 lone undesirable answers fitted and
their 90 desirable ones left out; the shares came out undesirable 0.905, and the two items the two others called
desirable undesirable (at 0.91). The posterior of an item left out is no certainty but how often the fit finds
its labeller right: their answers' mean posterior on the items that check them, with the prior's imagined answers
beside it (`trust`: 0.8 for a labeller with none), the other choices sharing the rest. A pair's a and b are one
answer here, as the fit ties their parameters. Three shared items the labeller answered undesirable, beside three
they answered desirable, put their own items in the fit: with the other two agreeing on all six, the 10 stay
undesirable (at 0.86); contradicted on the three, they are read as misses (desirable at 0.997).

A pair's sides are exchangeable (`swap`): which answer a pair stores as ``a`` is an accident of storage (`import
--unlabelled` puts every file's chosen answer there; the app shows either on the left by a coin flip), yet a fit with
a and b as two free classes gives each its own prior and confusion rows, so the same judgements stored the other way
round moved verdicts, posteriors and accuracy estimates. Pairwise fits tie the parameters under the a <-> b swap: the
M step counts every label as stored and with the pair's sides swapped, each copy weighing half — expected counts
(C + P C P) / 2, P exchanging a and b on the true-choice and the answer axis, and p(a) = p(b) — so the fit on the
swapped labels is the fit on the stored ones with a and b exchanged (`choice_agreement` does the same for κ and α).
Tie and both_bad, and KTO's choices, are no sides and stay as they are. A pair whose posterior then ties a and b
(two equally trusted labellers, one a, one b) has no verdict either way: `decided` calls it split (any other tie goes
to the first choice in code order, never to whichever float noise favours: tie and both_bad, neither of which trains).
So is a KTO answer whose posterior ties desirable and undesirable: either verdict would train a label no one gave it.

It starts from the majority (each item's vote shares as its posterior), and gold items stay clamped to their known
answer throughout. Gold's answers count in the confusion rows (how each labeller errs) but not in the prior p, each
true choice's share: a lead picks gold (disputed items, one-sided files), no sample of the queue. Counted, 5
completions gold as undesirable among 50 that two labellers all called desirable raised p(undesirable) step by step
with the rows, until all 45 unanimous verdicts were undesirable at 0.99. Nor are gold items left out of the shares:
with only a few other items, those items' own posteriors set the shares and pushed themselves on (after 20 gold
completions, one new one with a desirable and an undesirable vote came out desirable at 0.996). The shares count
every item by its posterior from its labels alone, gold or not (marking an item gold moves them only through what it
teaches about the labellers): the split vote stays at 0.67, the better labeller's lean, and the 45 unanimous
desirable at 0.9998.

Everything is whole-array numpy on integer codes (one bincount per true choice per step, never a Python loop per
label), so a million labels fit in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data.choice_agreement import SWAPPED

PSEUDO_COUNT = 0.01  # keeps log π finite for a choice a labeller never gave; small next to any real count
PRIOR_RIGHT = 2.0  # imagined right answers per labeller and true choice (the diagonal's extra pseudo-count)
PRIOR_WRONG = 0.5  # imagined wrong answers per labeller and true choice, spread evenly over the other answers
MAX_ITERATIONS = 100
TOLERANCE = 1e-6  # largest change of any posterior between two steps, below which the fit has converged
CHECKED_AT = 3  # items that check a labeller's answer before the fit reads how they err on it (`unchecked`)
TIED = 1e-9  # this close to an item's top posterior is a tie (summing in another order moves one ~1e-16)
NO_CHECK_TRUST = PRIOR_RIGHT / (PRIOR_RIGHT + PRIOR_WRONG)  # `trust` of a labeller nothing checks: 0.8


@dataclass(frozen=True)
class DawidSkene:
    """A fit: ``posterior`` (items × k), ``confusion`` (labellers × k × k, rows true choice, columns answer),
    ``prior`` (k), the number of EM ``iterations`` run, and per item whether it stayed out of the fit (``apart``,
    `unchecked`; None: none did)."""

    posterior: np.ndarray
    confusion: np.ndarray
    prior: np.ndarray
    iterations: int
    apart: np.ndarray | None = None


def side_swap(choices: Sequence[str]) -> np.ndarray | None:
    """The codes of ``choices`` with a pair's sides exchanged (a for b, b for a, the rest as they are): a
    permutation of range(k), or None where the choices have no sides (KTO)."""
    if not set(SWAPPED) <= set(choices):
        return None
    return np.array([list(choices).index(SWAPPED.get(c, c)) for c in choices], dtype=np.int64)


def decided(posterior: np.ndarray, swap: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(verdict code, decided?) per item of a posterior (items × k). Choices within `TIED` of the top count as tied,
    and the first of them in code order wins (a before tie before both_bad: no float noise picks between two equal
    posteriors); but a pair whose a and b tie at the top (``swap``: `side_swap`) has no verdict: either would say
    which side the answers are stored on; nor has an item of choices without sides (``swap`` None: KTO's desirable
    and undesirable) whose top is tied, as the majority's tied vote has none."""
    near = posterior >= posterior.max(axis=1, keepdims=True) - TIED
    best = near.argmax(axis=1)
    if swap is None:
        return best, near.sum(axis=1) == 1
    mirror = swap[best]
    return best, (mirror == best) | ~near[np.arange(len(best)), mirror]


def _clamp(posterior: np.ndarray, gold: np.ndarray | None) -> np.ndarray:
    if gold is not None:
        known = gold >= 0
        posterior[known] = np.eye(posterior.shape[1])[gold[known]]
    return posterior


def majority_posterior(items: np.ndarray, choices: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """Each item's vote shares (items × k); an item without votes gets the uniform distribution."""
    counts = np.bincount(items * k + choices, minlength=n_items * k).reshape(n_items, k).astype(float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1), 1.0 / k)


def m_step(
    posterior: np.ndarray,
    items: np.ndarray,
    labellers: np.ndarray,
    choices: np.ndarray,
    n_labellers: int,
    prior_right: float = PRIOR_RIGHT,
    swap: np.ndarray | None = None,
    from_labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(confusion, prior) that maximise the expected likelihood under ``posterior`` and the Dirichlet prior
    (``prior_right`` imagined right answers and `PRIOR_WRONG` wrong ones per true choice; neither where
    ``prior_right`` is 0); ``swap`` (`side_swap`): the codes with a pair's sides exchanged, each label then
    counted as stored and swapped, half weight each (None: choices without sides); ``from_labels``: each item's
    posterior from its labels alone, gold not clamped, which the prior (each choice's share) counts (None:
    ``posterior``)."""
    k = posterior.shape[1]
    cell = labellers * k + choices
    confusion = np.stack(  # [w, t, c]: for each true choice t, a bincount over (labeller, answer)
        [
            np.bincount(cell, weights=posterior[items, t], minlength=n_labellers * k).reshape(n_labellers, k)
            for t in range(k)
        ],
        axis=1,
    ).astype(float)  # bincount of nothing is integer
    prior = (posterior if from_labels is None else from_labels).sum(axis=0)
    if swap is not None:  # (C + P C P) / 2: P exchanges a and b on the true-choice and the answer axis alike
        confusion = (confusion + confusion[:, swap][:, :, swap]) / 2
        prior = (prior + prior[swap]) / 2
    wrong = PRIOR_WRONG / max(k - 1, 1) if prior_right else 0.0  # prior_right 0: plain maximum likelihood
    confusion += PSEUDO_COUNT + prior_right * np.eye(k) + wrong * (1 - np.eye(k))
    confusion /= confusion.sum(axis=2, keepdims=True)
    prior = prior + PSEUDO_COUNT
    return confusion, prior / prior.sum()


def e_step(
    confusion: np.ndarray,
    prior: np.ndarray,
    items: np.ndarray,
    labellers: np.ndarray,
    choices: np.ndarray,
    n_items: int,
) -> np.ndarray:
    """Each item's posterior over its true choice given its labels (items × k)."""
    k = prior.shape[0]
    log_terms = np.log(confusion)[labellers, :, choices]  # (labels, k): log π_w[t, c] for every t
    log_post = np.stack(
        [np.bincount(items, weights=log_terms[:, t], minlength=n_items) for t in range(k)], axis=1
    )
    log_post += np.log(prior)
    log_post -= log_post.max(axis=1, keepdims=True)
    posterior = np.exp(log_post)
    return posterior / posterior.sum(axis=1, keepdims=True)


def checking(items: np.ndarray, n_items: int, gold: np.ndarray | None = None) -> np.ndarray:
    """Per item: does it check its labellers, labelled by another one too or gold?"""
    shared = np.bincount(items, minlength=n_items) > 1  # one current label per item and labeller
    return shared if gold is None else shared | (gold >= 0)


def unchecked(
    items: np.ndarray,
    labellers: np.ndarray,
    choices: np.ndarray,
    n_items: int,
    n_labellers: int,
    k: int,
    gold: np.ndarray | None = None,
    swap: np.ndarray | None = None,
) -> np.ndarray:
    """Per item: is its one label from a labeller who gave some answer on an item of their own (nobody else's, no
    gold) that they gave on fewer than `CHECKED_AT` items someone else labelled or gold (``swap``, `side_swap`: a and
    b one answer, their parameters tied)? Too little tells the fit how that labeller errs on it: whatever it made of
    those answers would be its prior's and its own shares' doing. All such a labeller's own items are here, whatever
    they answered there: which items stay out depends on who labelled them, never on what they said, so the items
    left make the shares as they would be (kept for their checked answers only, the items of one answer made the
    shares that answer's). A labeller with no item that checks them has every item here (`data.labellers` then
    gives them no accuracy)."""
    shared = checking(items, n_items, gold)
    cell = labellers * k + (choices if swap is None else np.minimum(choices, swap[choices]))
    checked = np.bincount(cell, weights=shared[items], minlength=n_labellers * k) >= CHECKED_AT
    own = ~shared[items]
    unread = np.bincount(labellers[own & ~checked[cell]], minlength=n_labellers) > 0
    alone = np.zeros(n_items, dtype=bool)
    alone[items[own & unread[labellers]]] = True
    return alone


def _answers_right(
    posterior: np.ndarray, items: np.ndarray, labellers: np.ndarray, choices: np.ndarray, n_labellers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per labeller: (the summed posterior of the answers they gave, how many they gave)."""
    right = np.bincount(labellers, weights=posterior[items, choices], minlength=n_labellers)
    return right, np.bincount(labellers, minlength=n_labellers)


def trust(
    posterior: np.ndarray, items: np.ndarray, labellers: np.ndarray, choices: np.ndarray, n_labellers: int
) -> np.ndarray:
    """Per labeller: the posterior of an answer of theirs that nobody checks (`unchecked`), from their labels on
    items that check them (`checking`) in a fit (``posterior`` and those labels' codes): the mean posterior of their
    answers there with the prior's imagined answers beside them, (Σ + `PRIOR_RIGHT`) / (n + `PRIOR_RIGHT` +
    `PRIOR_WRONG`): 0.8 with none, their accuracy there with many (not on the fit's other items with one label,
    which mostly read their own answer back). Never under 1 / k: the answer of a labeller the fit finds no better
    than chance ties every choice (no verdict)."""
    right, given = _answers_right(posterior, items, labellers, choices, n_labellers)
    chance = 1.0 / posterior.shape[1]
    return np.maximum((right + PRIOR_RIGHT) / (given + PRIOR_RIGHT + PRIOR_WRONG), chance)


def checked_trust(
    posterior: np.ndarray,
    items: np.ndarray,
    labellers: np.ndarray,
    choices: np.ndarray,
    n_labellers: int,
    gold: np.ndarray | None = None,
) -> np.ndarray:
    """Per labeller: their `trust` in a fit's ``posterior`` (items × k), read on their labels (codes) on the items
    that check them (`checking`): the posterior `fit` gives their answers it keeps out (`unchecked`), and the
    labellers report's (`data.labellers`)."""
    on = checking(items, posterior.shape[0], gold)[items]
    return trust(posterior, items[on], labellers[on], choices[on], n_labellers)


def fit(
    items: np.ndarray,
    labellers: np.ndarray,
    choices: np.ndarray,
    n_items: int,
    n_labellers: int,
    k: int,
    gold: np.ndarray | None = None,
    max_iterations: int = MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
    prior_right: float = PRIOR_RIGHT,
    swap: np.ndarray | None = None,
) -> DawidSkene:
    """EM from the majority. ``items``, ``labellers``, ``choices``: one integer code per label (one current label
    per item and labeller); ``gold``: per item the known choice's code, or -1 (None: no gold), clamped, its answer
    counted in the confusion rows but not in the shares (the prior p: gold items count there as their labels say);
    ``prior_right``: the prior's imagined right answers per labeller and true choice, `PRIOR_WRONG` wrong ones beside
    them (0: neither, the plain maximum likelihood fit); ``swap``: `side_swap` of the task's choices, which ties a
    and b's parameters (pairwise; None: no sides, as KTO). The items of one label of a labeller too little checked
    there (`unchecked`: all of theirs) stay out of the fit (``apart``) and keep their answer, its posterior the
    labeller's `trust`."""
    items, labellers, choices = (np.asarray(x, dtype=np.int64) for x in (items, labellers, choices))
    alone = unchecked(items, labellers, choices, n_items, n_labellers, k, gold, swap)
    if alone.any():  # their answers the verdicts, the rest fitted without them (where none is kept out)
        kept, renumbered = ~alone[items], np.cumsum(~alone) - 1
        rest = fit(
            renumbered[items[kept]],
            labellers[kept],
            choices[kept],
            int((~alone).sum()),
            n_labellers,
            k,
            None if gold is None else gold[~alone],
            max_iterations,
            tolerance,
            prior_right,
            swap,
        )
        posterior = np.empty((n_items, k))
        posterior[~alone] = rest.posterior  # what `checked_trust` reads: never an item apart
        sure = checked_trust(posterior, items, labellers, choices, n_labellers, gold)
        sure = sure[labellers[~kept]]  # one label per item apart
        posterior[items[~kept]] = ((1 - sure) / max(k - 1, 1))[:, None]
        posterior[items[~kept], choices[~kept]] = sure
        return DawidSkene(posterior, rest.confusion, rest.prior, rest.iterations, alone)
    if not len(items):  # nothing to learn from: uniform, gold still clamped
        uniform = np.full((n_items, k), 1.0 / k)
        return DawidSkene(
            _clamp(uniform, gold), np.full((n_labellers, k, k), 1.0 / k), np.full(k, 1.0 / k), 0
        )
    from_labels = majority_posterior(items, choices, n_items, k)
    posterior = _clamp(from_labels.copy(), gold)
    fixed = (items, labellers, choices, n_labellers, prior_right, swap)
    confusion, prior = m_step(posterior, *fixed, from_labels)
    iterations, change = 0, math.inf
    while iterations < max_iterations and change >= tolerance:
        from_labels = e_step(confusion, prior, items, labellers, choices, n_items)
        updated = _clamp(from_labels.copy(), gold)
        change = float(np.abs(updated - posterior).max()) if n_items else 0.0
        posterior, iterations = updated, iterations + 1
        confusion, prior = m_step(posterior, *fixed, from_labels)
    return DawidSkene(posterior, confusion, prior, iterations)


def labeller_accuracy(
    fit_: DawidSkene, items: np.ndarray, labellers: np.ndarray, choices: np.ndarray
) -> np.ndarray:
    """Each labeller's estimated accuracy: the expected share of their labels that match the true choice, i.e. the
    mean posterior of the choice they gave, over their labels in the fit (NaN for a labeller without one: no
    labels, or only those `unchecked` kept out, whose posterior, `trust`, reads this estimate back)."""
    fitted = np.ones(len(items), dtype=bool) if fit_.apart is None else ~fit_.apart[items]
    right, given = _answers_right(
        fit_.posterior, items[fitted], labellers[fitted], choices[fitted], fit_.confusion.shape[0]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(given > 0, right / given, np.nan)
