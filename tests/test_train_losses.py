"""Exact values of the losses and rules `train` adds to TRL, against numbers worked out by hand."""

from __future__ import annotations

import pytest
import torch

from train.losses import agreement_noise, agreement_weights, pair_loss
from train.pairs import kto_weights


def loss_of(chosen, rejected, **kwargs):
    return pair_loss(torch.tensor(chosen), torch.tensor(rejected), 0.1, **kwargs).tolist()


def test_dpo_and_dpop_losses_by_hand():
    # Pair 1: chosen log-ratio -1 (the chosen answer got LESS likely than under the reference), rejected -3.
    #   DPO:  h = -1 - (-3) = 2, z = 0.1 * 2 = 0.2, loss = log(1 + e^-0.2) = 0.598139
    #   DPOP, λ = 50: penalty 50 * max(0, 1) = 50, z = 0.1 * (2 - 50) = -4.8,
    #         loss = log(1 + e^4.8) = 4.8 + log(1 + e^-4.8) = 4.8 + 0.008196 = 4.808196
    # Pair 2: chosen +0.5, rejected -0.5: h = 1, no penalty, z = 0.1, loss = log(1 + e^-0.1) = 0.644397 for both.
    assert loss_of([-1.0, 0.5], [-3.0, -0.5]) == pytest.approx([0.598139, 0.644397], abs=1e-6)
    assert loss_of([-1.0, 0.5], [-3.0, -0.5], dpop_lambda=50.0) == pytest.approx(
        [4.808196, 0.644397], abs=1e-6
    )


def test_label_noise_and_offset_by_hand():
    # z = 0.1 (pair 2 above); l(z) = log(1 + e^-0.1) = 0.644397, l(-z) = log(1 + e^0.1) = 0.744397.
    eps = torch.tensor([0.2])
    # cDPO: 0.8 * 0.644397 + 0.2 * 0.744397 = 0.664397
    assert loss_of([0.5], [-0.5], epsilon=eps) == pytest.approx([0.664397], abs=1e-6)
    # rDPO: (0.8 * 0.644397 - 0.2 * 0.744397) / (1 - 0.4) = 0.366638 / 0.6 = 0.611063
    assert loss_of([0.5], [-0.5], epsilon=eps, robust=True) == pytest.approx([0.611063], abs=1e-6)
    # ODPO offset 1: z = 0.1 - 1 = -0.9, loss = log(1 + e^0.9) = 1.241154
    assert loss_of([0.5], [-0.5], offset=torch.tensor([1.0])) == pytest.approx([1.241154], abs=1e-6)
    # ε = 0 is plain DPO.
    assert loss_of([0.5], [-0.5], epsilon=torch.tensor([0.0])) == pytest.approx([0.644397], abs=1e-6)


def test_agreement_rule_by_hand():
    votes = [3, 2, 1, 1]
    agreement = [2 / 3, 1.0, 1.0, 1.0]
    # Multi-labelled pairs: ε = 1 - agreement = 1/3 and 0; single labels get their mean, 1/6.
    assert agreement_noise(votes, agreement) == pytest.approx([1 / 3, 0.0, 1 / 6, 1 / 6])
    # Weights 1 - 2ε = 1/3, 1, 2/3, 2/3; mean 2/3; normalised: 0.5, 1.5, 1, 1.
    assert agreement_weights(votes, agreement) == pytest.approx([0.5, 1.5, 1.0, 1.0])
    # Nothing multi-labelled: nothing measured, ε = 0 everywhere (plain DPO), weights 1.
    assert agreement_noise([1, 1], [1.0, 1.0]) == [0.0, 0.0]
    assert agreement_weights([1, 1], [1.0, 1.0]) == [1.0, 1.0]
    # A 1-1 split among two labellers would be ε = 0.5; capped at 0.45.
    assert agreement_noise([2], [0.5]) == [0.45]


def test_kto_weights_balance_the_classes():
    assert kto_weights(10, 30) == (3.0, 1.0)  # 3.0 * 10 == 1.0 * 30
    assert kto_weights(40, 20) == (1.0, 2.0)
    assert kto_weights(5, 0) == (1.0, 1.0)
