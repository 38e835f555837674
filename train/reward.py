"""Reward models (`python -m train --method rm`): the Bradley–Terry loss with Llama 2's margin and a per-pair
weight, the held-out accuracy overall and by label strength, and scoring completions with a trained model.

A reward model is the start model with a one-output sequence-classification head (``num_labels=1``); its score of
a (prompt, completion) is the head's output at the last non-padding token of the chat-rendered conversation, as
TRL's RewardTrainer computes it in training. Training runs TRL's RewardTrainer through `train.seam`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from data.provision import classification_heads
from train.evaluate import encode_rows, pad_rows
from train.seam import load_pretrained

RM_MARGINS = ("off", "strength")
# Llama 2's "small" margin: strength 4 (significantly better) -> 1, 3 -> 2/3, 2 -> 1/3, 1 (negligibly) -> 0.
MARGIN_PER_LEVEL = 1 / 3


def bradley_terry_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    margin: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """mean_i w_i · −log σ(r_i(chosen) − r_i(rejected) − m_i)  (Bradley–Terry; margin m as in Llama 2, Touvron et
    al. 2023, eq. 2). ``chosen``, ``rejected``, ``margin``, ``weight``: (B,) tensors; returns a scalar."""
    z = chosen - rejected - (margin if margin is not None else 0.0)
    losses = -F.logsigmoid(z)
    return (losses * weight).mean() if weight is not None else losses.mean()


def strength_margin(strength: float | None) -> float:
    """The margin of a pair from its labels' mean strength (1-4): (strength − 1)/3; 0 without a strength."""
    if strength is None or (isinstance(strength, float) and math.isnan(strength)):
        return 0.0
    return (float(strength) - 1.0) * MARGIN_PER_LEVEL


def add_margins(rows: list[dict], mode: str) -> dict:
    """Attach TRL's ``margin`` column for ``--rm-margin strength``; returns a summary for the report."""
    if mode == "off":
        return {"rm_margin": "off"}
    for row in rows:
        row["margin"] = strength_margin(row.get("strength"))
    margins = [r["margin"] for r in rows]
    return {
        "rm_margin": mode,
        "pairs_without_strength": sum(r.get("strength") is None for r in rows),
        "mean": sum(margins) / len(margins) if margins else 0.0,
    }


def strength_level(strength: float | None) -> str:
    """The label strength level a held-out pair is reported under: 1-4, or ``none``."""
    if strength is None or (isinstance(strength, float) and math.isnan(strength)):
        return "none"
    return str(int(round(strength)))


def accuracy_by_strength(chosen: list[float], rejected: list[float], strengths: list) -> dict[str, dict]:
    """Per strength level: pairs, and the share where the chosen completion scores higher (ties count wrong)."""
    cells: dict[str, list[int]] = {}
    for c, r, s in zip(chosen, rejected, strengths):
        cell = cells.setdefault(strength_level(s), [0, 0])
        cell[0] += 1
        cell[1] += c > r
    return {level: {"pairs": n, "accuracy": k / n} for level, (n, k) in sorted(cells.items())}


def reward_metrics(before: dict, after: dict, rows: list[dict]) -> dict:
    """The held-out report of a reward model: accuracy (chosen scored above rejected) overall and by strength
    level, after and before training (a fresh head is at chance), and the mean reward margin; of no pairs, None
    (null in metrics.json)."""
    chosen, rejected = after["chosen"], after["rejected"]
    n = len(rows)
    accuracy = sum(c > r for c, r in zip(chosen, rejected)) / n if n else None
    return {
        "eval_pairs": n,
        "rm_accuracy": accuracy,
        "rm_accuracy_before": sum(c > r for c, r in zip(before["chosen"], before["rejected"])) / n
        if n
        else None,
        "rm_margin_mean": sum(c - r for c, r in zip(chosen, rejected)) / n if n else None,
        "rm_accuracy_by_strength": accuracy_by_strength(chosen, rejected, [r.get("strength") for r in rows]),
    }


def load_reward_model(path: str | Path, tokenizer):
    """The model at ``path`` with a one-output sequence-classification head: a new, random one only where ``path``
    holds a causal LM (a run's start). A folder whose config.json names a sequence-classification head (a reward
    model: a run's saved model, reloaded on --resume, a judge's, a start to train on from) must hold that head's
    weights: transformers would make missing ones at random, and the model would score noise, so it is refused in
    one line naming the folder and the weights (`check_weights_fit`)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    # the config alone (no weights): whether the head is the folder's own or a new one; the model loads with it
    config = AutoConfig.from_pretrained(path, num_labels=1, dtype=torch.float32)
    own_head = classification_heads(config.to_dict())
    model = load_pretrained(
        AutoModelForSequenceClassification.from_pretrained,
        path,
        () if own_head else ("score.",),
        config=config,
        dtype=torch.float32,
    )
    model.config.pad_token_id = tokenizer.pad_token_id  # where the last real token is
    return model


def reward_scores(
    model, tokenizer, prompts: list, completions: list, batch_size: int, max_length: int | None
):
    """The reward model's score of each (prompt messages, completion messages) row."""
    encoded = encode_rows(tokenizer, prompts, completions, max_length)
    return encoded_scores(model, tokenizer, encoded, batch_size)


@torch.no_grad()
def encoded_scores(model, tokenizer, encoded: list[tuple[list, int]], batch_size: int) -> list[float]:
    """The reward model's score of each row `train.evaluate.encode_rows` encoded, ``batch_size`` rows a batch."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[float] = []
    for offset in range(0, len(encoded), batch_size):
        input_ids, attention, _ = pad_rows(tokenizer, encoded[offset : offset + batch_size])
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
        out += logits[:, 0].float().cpu().tolist()
    model.train(was_training)
    return out


def evaluate_pairs(model, tokenizer, rows: list[dict], batch_size: int, max_length: int) -> dict:
    """Scores of the held-out rows' chosen and rejected completions: {"chosen", "rejected"}."""
    prompts = [r["prompt"] for r in rows]
    return {
        side: reward_scores(model, tokenizer, prompts, [r[side] for r in rows], batch_size, max_length)
        for side in ("chosen", "rejected")
    }


class RewardScorer:
    """A trained reward model as a scorer of plain-text completions (machine labels, best-of-n pairs). A row longer
    than ``max_length`` tokens, or than the model's context, is not scored: cut, its prompt would lose its start
    and the score would be of another question."""

    def __init__(self, path: str | Path, batch_size: int = 8, max_length: int | None = 1024):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = load_reward_model(path, self.tokenizer)
        if torch.cuda.is_available():
            self.model.to("cuda")
        context = getattr(self.model.config, "max_position_embeddings", None)
        limits = [n for n in (max_length, context) if isinstance(n, int) and n > 0]
        self.batch_size, self.max_length = batch_size, min(limits) if limits else None

    def score(self, prompt: list[dict], texts: list[str], whole: bool = False) -> list[float | None]:
        """The reward of each completion text of one prompt (chat messages); None for a row too long to score (with
        ``whole``, for every row where one is: a judge's pair or ranking without it is not made, so scoring the others
        was spent for nothing). Each row is tokenized once: its length decides, then its tokens are scored."""
        completions = [[{"role": "assistant", "content": t}] for t in texts]
        encoded = encode_rows(self.tokenizer, [prompt] * len(texts), completions)
        fits = [self.max_length is None or len(ids) <= self.max_length for ids, _ in encoded]
        if whole and not all(fits):
            return [None] * len(texts)
        scoring = [row for row, ok in zip(encoded, fits) if ok]
        scores = iter(encoded_scores(self.model, self.tokenizer, scoring, self.batch_size))
        return [next(scores) if ok else None for ok in fits]


def make_reward_trainer(**kwargs):
    """TRL's RewardTrainer (through `train.seam`) with `bradley_terry_loss` taking the per-pair weight."""
    from train.seam import SeamRewardTrainer

    return SeamRewardTrainer(pair_loss=bradley_terry_loss, **kwargs)
