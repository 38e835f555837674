"""Exact values of the losses and rules `train` adds to TRL, against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from train.losses import (
    agreement_noise,
    agreement_weights,
    odpo_offset,
    pair_loss,
    sequential_kl,
    tdpo_offset,
)
from train.pairs import TrainDataError, kto_weights, step_chunks


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


def test_odpo_offset_from_label_strength_by_hand():
    # Δ = α·log(s): s = 1 (negligibly better / unsure) asks for no margin, s = 4 for log 4 = 1.386294.
    assert odpo_offset(1.0, 1.0, 2.5) == 0.0
    assert odpo_offset(4.0, 1.0, 2.5) == pytest.approx(1.386294, abs=1e-6)
    # Two labellers agreeing with strengths 2 and 3: s = 2.5, Δ = log 2.5 = 0.916291; α = 0.5 halves log 2.
    assert odpo_offset(2.5, 1.0, 1.0) == pytest.approx(0.916291, abs=1e-6)
    assert odpo_offset(2.0, 0.5, 2.5) == pytest.approx(0.5 * 0.693147, abs=1e-6)
    # An import without strength takes the default: log 2.5 again.
    assert odpo_offset(None, 1.0, 2.5) == pytest.approx(0.916291, abs=1e-6)
    # In the loss, strength 2 with α = 1 on a pair the policy does not yet separate (h = 0):
    #   z = 0 - log 2, loss = log(1 + e^(log 2)) = log 3 = 1.098612 (plain DPO would be log 2).
    offset = torch.tensor([odpo_offset(2.0, 1.0, 2.5)])
    assert loss_of([0.0], [0.0], offset=offset) == pytest.approx([math.log(3)], abs=1e-6)


def test_sequential_kl_by_hand():
    # Vocabulary of 3, two rows of 3 positions; the mask keeps 2 positions of row 1 and 1 of row 2.
    log2 = math.log(2)
    reference = torch.tensor([[[log2, 0, 0], [1, 2, 3], [5, 0, 0]], [[0, 0, 0], [5, 0, 0], [5, 0, 0]]])
    policy = torch.tensor([[[0, 0, 0], [1, 2, 3], [0, 5, 0]], [[log2, 0, 0], [0, 5, 0], [0, 5, 0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # Row 1, position 1: π_ref = (1/2, 1/4, 1/4), π_θ uniform:
    #   KL = 1/2·log(1.5) + 2·1/4·log(0.75) = 0.202733 - 0.143841 = 0.058892
    # position 2: identical logits, KL 0; position 3 is masked (its large KL must not count).
    # Row 2, position 1: π_ref uniform, π_θ = (1/2, 1/4, 1/4):
    #   KL = 1/3·(log(2/3) + 2·log(4/3)) = 1/3·(-0.405465 + 0.575364) = 0.056633
    assert sequential_kl(policy, reference, mask).tolist() == pytest.approx([0.058892, 0.056633], abs=1e-6)
    assert sequential_kl(reference, reference, mask).tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


def test_tdpo_losses_by_hand():
    # h = 0.5 - (-0.5) = 1, β = 0.1, so β·h = 0.1; D_SeqKL(y_w) = 2, D_SeqKL(y_l) = 5.
    #   TDPO1: δ = 0.1·(5 - 2) = 0.3, z = 0.1 - 0.3 = -0.2, loss = log(1 + e^0.2) = 0.798139
    #     ∂loss/∂z = -σ(-z) = -σ(0.2) = -0.549834; ∂z/∂D_w = +β, ∂z/∂D_l = -β: gradients -0.054983, +0.054983
    #   TDPO2, α = 0.5: δ = 0.5·0.1·(5 - sg(2)) = 0.15, z = -0.05, loss = log(1 + e^0.05) = 0.718460
    #     ∂loss/∂D_l = -σ(0.05)·(-α·β) = 0.512497·0.05 = 0.025625; no gradient reaches D_w (stop-gradient).
    for alpha, expected, grad_w, grad_l in (
        (None, 0.798139, -0.054983, 0.054983),
        (0.5, 0.718460, None, 0.025625),
    ):
        chosen_kl = torch.tensor([2.0], requires_grad=True)
        rejected_kl = torch.tensor([5.0], requires_grad=True)
        offset = tdpo_offset(chosen_kl, rejected_kl, 0.1, alpha)
        loss = pair_loss(torch.tensor([0.5]), torch.tensor([-0.5]), 0.1, offset=offset)
        loss.sum().backward()
        assert loss.item() == pytest.approx(expected, abs=1e-6)
        assert rejected_kl.grad.item() == pytest.approx(grad_l, abs=1e-6)
        assert (
            chosen_kl.grad is None
            if grad_w is None
            else chosen_kl.grad.item() == pytest.approx(grad_w, abs=1e-6)
        )


def test_sdpo_chunks_by_round_else_equal_seeded():
    rows = [{"pair_id": f"p{i}", "round": r} for i, r in enumerate([2, 0, 1, 0, 1])]
    ids = [[r["pair_id"] for r in chunk] for chunk in step_chunks(rows, 0)]
    assert ids == [["p1", "p3"], ["p2", "p4"], ["p0"]]  # one step per round, oldest first
    # K = 2 ignores rounds: a seeded shuffle cut into near-equal chunks (5 rows: 2 + 3), the same for the same seed.
    chunks = step_chunks(rows, 2, seed=1)
    assert [len(c) for c in chunks] == [2, 3] and chunks == step_chunks(rows, 2, seed=1)
    assert sorted(r["pair_id"] for c in chunks for r in c) == [f"p{i}" for i in range(5)]
    single = [dict(r, round=0) for r in rows]
    assert [len(c) for c in step_chunks(single, 0)] == [2, 3]  # one round: 2 steps
    with pytest.raises(TrainDataError, match="only 5 training pairs"):
        step_chunks(rows, 6)


def test_per_pair_weight_and_epsilon_change_the_trainers_loss_by_hand(monkeypatch):
    """Agreement-aware training and --machine-weight through the trainer's own loss: rows -> pair_weight /
    pair_epsilon columns (train.pairs, train.sources) -> PreferenceTrainer.preference_loss, model log-probs stubbed."""
    from types import SimpleNamespace

    from train import trainer
    from train.losses import PairLoss
    from train.pairs import add_agreement
    from train.sources import add_source_weights

    # Two pairs: a unanimous human pair (3 of 3 agree) and a machine pair with one label.
    rows = [
        {"votes": 3, "agreement": 1.0, "source": "human"},
        {"votes": 1, "agreement": 1.0, "source": "machine"},
    ]
    policy = torch.tensor(
        [-1.0, -2.0, -3.0, -1.5]
    )  # chosen 1, chosen 2, rejected 1, rejected 2 (TRL's order)
    ref = {"ref_chosen_logps": torch.tensor([-1.5, -2.0]), "ref_rejected_logps": torch.tensor([-2.0, -1.0])}
    monkeypatch.setattr(trainer, "completion_logps", lambda model, kwargs, mask: policy)
    fake = SimpleNamespace(beta=0.5, custom_loss=PairLoss(), log_means=lambda values: None)

    def loss_of(rows: list[dict]) -> float:
        inputs = {"completion_mask": None, **ref}
        for column in ("pair_weight", "pair_epsilon"):
            if column in rows[0]:
                inputs[column] = torch.tensor([r[column] for r in rows])
        return trainer.PreferenceTrainer.preference_loss(fake, None, inputs, False).item()

    # z = β·((c − c_ref) − (r − r_ref)): pair 1: 0.5·(0.5 − (−1)) = 0.75; pair 2: 0.5·(0 − (−0.5)) = 0.25.
    l1, l2 = -math.log(1 / (1 + math.exp(-0.75))), -math.log(1 / (1 + math.exp(-0.25)))
    assert loss_of([dict(r) for r in rows]) == pytest.approx((l1 + l2) / 2)
    # --machine-weight 0.5: the machine pair's loss counts half; the mean is still over both pairs.
    weighted = [dict(r) for r in rows]
    add_source_weights(weighted, 0.5)
    assert [r["pair_weight"] for r in weighted] == [1.0, 0.5]
    assert loss_of(weighted) == pytest.approx((l1 + 0.5 * l2) / 2)
    # --agreement smoothing: ε = 0 for the unanimous pair; the one-label pair takes the measured mean, 1 − 1 = 0.
    # With one 2-of-3 pair instead, ε = 1/3 for it and for the one-label pair: (1−ε)·ℓ(z) + ε·ℓ(−z).
    split = [
        {"votes": 3, "agreement": 2 / 3, "source": "human"},
        {"votes": 1, "agreement": 1.0, "source": "machine"},
    ]
    add_agreement(split, "smoothing")
    assert [r["pair_epsilon"] for r in split] == pytest.approx([1 / 3, 1 / 3])
    f1, f2 = -math.log(1 / (1 + math.exp(0.75))), -math.log(1 / (1 + math.exp(0.25)))
    smoothed = ((2 / 3) * l1 + (1 / 3) * f1 + (2 / 3) * l2 + (1 / 3) * f2) / 2
    assert loss_of(split) == pytest.approx(smoothed)
    # --agreement weight: weights 1 − 2ε = 1/3 each, normalised to mean 1 -> 1 each; then --machine-weight 0.5.
    add_agreement(split, "weight")
    add_source_weights(split, 0.5)
    assert [r["pair_weight"] for r in split] == pytest.approx([1.0, 0.5])
    assert loss_of([{k: v for k, v in r.items() if k != "pair_epsilon"} for r in split]) == pytest.approx(
        (l1 + 0.5 * l2) / 2
    )
