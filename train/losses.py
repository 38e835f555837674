"""Preference losses TRL does not have, as pure functions of per-pair log-ratios, and the agreement rule.

All take the policy/reference log-ratios of each pair (``log π_θ(y|x) − log π_ref(y|x)``, summed over the
completion's tokens) and return one loss per pair, so per-pair weights, label noise and offsets compose. ODPO and
TDPO are offsets: ``odpo_offset`` (from the labels' strength) and ``tdpo_offset`` (from sequential KLs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

MAX_EPSILON = 0.45  # label-noise estimates are capped below 1/2, where the rDPO correction diverges
STRENGTHS = (1.0, 4.0)  # a label's strength: 1 negligibly better / unsure … 4 significantly better


@dataclass(frozen=True)
class PairLoss:
    """The options of our per-pair loss (``pair_loss``) for one method; per-pair ε, weights and offsets come with
    the data (the ``pair_*`` columns).

    ``dpop_lambda``: DPO-Positive's λ (0: plain DPO). ``epsilon``: a global label-flip rate (cDPO, or rDPO with
    ``robust``) used where no per-pair ε is given. ``tdpo``: TDPO's sequential-KL offset from a live reference;
    ``tdpo_alpha``: TDPO2's scale of it (None: TDPO1).
    """

    dpop_lambda: float = 0.0
    epsilon: float = 0.0
    robust: bool = False
    tdpo: bool = False
    tdpo_alpha: float | None = None


def pair_loss(
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    beta: float,
    *,
    dpop_lambda: float = 0.0,
    epsilon: torch.Tensor | None = None,
    robust: bool = False,
    offset: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-pair DPO-family loss on z = β·(h − λ·max(0, −chosen_logratio)) − Δ, with h the DPO log-ratio margin.

    - ``dpop_lambda`` λ > 0 is DPO-Positive (Pal et al. 2024): penalises the chosen side falling below the
      reference's likelihood; λ = 0 is plain DPO.
    - ``epsilon`` ε (per pair) is the probability that the pair's preference is flipped. Conservative DPO (label
      smoothing): (1−ε)·ℓ(z) + ε·ℓ(−z); with ``robust`` the unbiased rDPO estimator (Chowdhury et al. 2024):
      ((1−ε)·ℓ(z) − ε·ℓ(−z)) / (1−2ε), where ℓ(z) = −log σ(z).
    - ``offset`` Δ (per pair) is ODPO's margin: the chosen side must win by Δ.
    """
    margin = chosen_logratios - rejected_logratios
    if dpop_lambda:
        margin = margin - dpop_lambda * torch.clamp(-chosen_logratios, min=0)
    z = beta * margin
    if offset is not None:
        z = z - offset
    loss = -F.logsigmoid(z)
    if epsilon is not None:
        flipped = -F.logsigmoid(-z)
        if robust:
            loss = ((1 - epsilon) * loss - epsilon * flipped) / (1 - 2 * epsilon)
        else:
            loss = (1 - epsilon) * loss + epsilon * flipped
    return loss


def odpo_offset(strength: float | None, alpha: float, default_strength: float) -> float:
    """ODPO's offset Δ = α·log(s) for a pair whose chosen side won with strength s (1–4, the mean over the agreeing
    labellers; ``default_strength`` where no labeller gave one, e.g. imports).

    In the spirit of ODPO (Amini et al. 2024), whose offset is α·log of a score difference: s is how much better the
    chosen answer is, so a negligible win (s = 1) asks for no margin (plain DPO) and a significant one (s = 4) for
    α·log 4 = 1.386·α nats of β-scaled reward margin; the log makes each step up the scale count less.
    """
    s = default_strength if strength is None else strength
    return alpha * math.log(s)


def sequential_kl(
    policy_logits: torch.Tensor, reference_logits: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """TDPO's D_SeqKL(x, y; π_ref‖π_θ) = Σ_t KL(π_ref(·|x, y<t) ‖ π_θ(·|x, y<t)) over the completion tokens.

    Logits are (B, T, V) at the positions that predict tokens (position t scores token t+1), ``mask`` (B, T) marks
    the positions whose predicted token belongs to the completion; returns (B,). Gradients flow to the policy side.
    """
    policy_logps = F.log_softmax(policy_logits.float(), dim=-1)
    reference_logps = F.log_softmax(reference_logits.float(), dim=-1)
    per_position = (reference_logps.exp() * (reference_logps - policy_logps)).sum(dim=-1)
    return (per_position * mask).sum(dim=1)


def tdpo_offset(
    chosen_seqkl: torch.Tensor, rejected_seqkl: torch.Tensor, beta: float, alpha: float | None = None
) -> torch.Tensor:
    """TDPO's δ (Zeng et al. 2024, "Token-level Direct Preference Optimization"), to subtract from β·h in ``pair_loss(offset=...)``.

    - TDPO1 (``alpha`` None): δ = β·(D_SeqKL(x, y_l) − D_SeqKL(x, y_w)).
    - TDPO2: δ = α·β·(D_SeqKL(x, y_l) − sg(D_SeqKL(x, y_w))), the chosen side's KL under stop-gradient, so the
      loss pushes the rejected side's KL up without pulling the chosen side's down (the paper's α = 0.5).
    Shapes (B,) → (B,).
    """
    if alpha is None:
        return beta * (rejected_seqkl - chosen_seqkl)
    return alpha * beta * (rejected_seqkl - chosen_seqkl.detach())


def agreement_noise(
    votes: list[int], agreement: list[float], posterior: list[float | None] | None = None
) -> list[float]:
    """Per-pair flip probability ε from the labellers' measured agreement (the rule `--agreement` uses).

    - With Dawid–Skene's ``posterior`` of the verdict (``--aggregate dawid-skene``): ε = 1 − posterior, for every
      pair, single-labelled ones included (the posterior already weighs who voted).
    - Else, a pair labelled by k ≥ 2 labellers: ε = 1 − agreement, the share of its votes against the verdict.
    - A pair with one label (or an import): ε = the mean of 1 − agreement over the multi-labelled pairs, i.e. the
      disagreement measured on this data set; 0 when no pair has two labels (then nothing is known, plain DPO).
    Capped at ``MAX_EPSILON``.
    """
    if posterior is not None and all(p is not None for p in posterior):
        return [min(MAX_EPSILON, 1 - p) for p in posterior]
    measured = [1 - a for v, a in zip(votes, agreement) if v >= 2]
    default = sum(measured) / len(measured) if measured else 0.0
    return [min(MAX_EPSILON, (1 - a) if v >= 2 else default) for v, a in zip(votes, agreement)]


def agreement_weights(
    votes: list[int], agreement: list[float], posterior: list[float | None] | None = None
) -> list[float]:
    """Per-pair weight 1 − 2ε (ε from ``agreement_noise``): a unanimous pair weighs 1, a 2-to-1 pair 1/3, and a
    pair whose verdict is no better than a coin flip would weigh 0. Normalised to mean 1, so the learning rate
    keeps its meaning."""
    weights = [1 - 2 * e for e in agreement_noise(votes, agreement, posterior)]
    mean = sum(weights) / len(weights) if weights else 1.0
    return [w / mean for w in weights] if mean > 0 else [1.0 for _ in weights]
