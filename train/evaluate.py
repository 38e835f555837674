"""Held-out checks: does the model prefer the chosen answer, before and after training?

Sequence log-probabilities are summed over the completion's tokens through the training's chunked head
(`train.head`: never the batch's full-vocabulary logits), the prompt rendered with the model's chat
template exactly as TRL does (generation prompt, then the completion where the two tokenisations diverge).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from data.errors import PrefloopError, first_line
from data.files import atomic_write, finite, open_regular, strict_json
from data.import_records import within_depth
from data.intervals import change_interval, wilson_interval
from train.head import completion_logps

HELD_OUT_FILE = "held_out.json"


def _ids(tokenizer, prompt: list[dict], completion: list[dict], max_length: int | None) -> tuple[list, int]:
    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    prompt_ids = encode(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False))
    full_ids = encode(tokenizer.apply_chat_template(prompt + completion, tokenize=False))
    start = 0
    while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
        start += 1
    if max_length and len(full_ids) > max_length:
        # Too long: the prompt's start goes first (the completion is what is scored), then the completion's end.
        cut = min(len(full_ids) - max_length, start)
        full_ids, start = full_ids[cut:][:max_length], start - cut
    return list(full_ids), start


def encode_rows(
    tokenizer, prompts: list, completions: list, max_length: int | None = None
) -> list[tuple[list, int]]:
    """Each chat-rendered (prompt, completion) row's token ids and where its completion starts, unpadded (`pad_rows`
    pads them): what `encode_batch` pads, for a caller that reads the rows' lengths first."""
    return [_ids(tokenizer, p, c, max_length) for p, c in zip(prompts, completions)]


def encode_batch(tokenizer, prompts: list, completions: list, max_length: int | None = None):
    """Right-padded (input_ids, attention_mask, completion_mask) for chat prompts and completions."""
    return pad_rows(tokenizer, encode_rows(tokenizer, prompts, completions, max_length))


def pad_rows(tokenizer, encoded: list[tuple[list, int]]):
    """Right-padded (input_ids, attention_mask, completion_mask) for rows `encode_rows` encoded."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    completion = torch.zeros_like(input_ids)
    for row, (ids, start) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        completion[row, start : len(ids)] = 1
    return input_ids, attention, completion


def full_vocab_logps(model, input_ids, attention, completion) -> torch.Tensor:
    """Summed completion log-probs the textbook way: every position's logits, full log-softmax (the naive loop of
    benchmarks/bench_train.py and the reference the chunked head is tested against)."""
    logits = model(input_ids=input_ids, attention_mask=attention, use_cache=False).logits[:, :-1].float()
    token_logps = torch.gather(F.log_softmax(logits, dim=-1), 2, input_ids[:, 1:, None]).squeeze(2)
    return (token_logps * completion[:, 1:]).sum(dim=1)


@torch.no_grad()
def sequence_logps(
    model,
    tokenizer,
    prompts: list,
    completions: list,
    batch_size: int = 4,
    max_length: int | None = None,
    desc: str | None = None,
) -> list[float]:
    """log π(completion | prompt) for each row (chat messages in, floats out), in evaluation mode.

    Rows are batched longest first, so a batch pads to about its own length rather than to a random row's (the
    72 proof pairs at 512 tokens: 63,360 positions computed instead of 73,728); results come back in row order."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    encoded = [_ids(tokenizer, p, c, max_length) for p, c in zip(prompts, completions)]
    order = sorted(range(len(encoded)), key=lambda row: -len(encoded[row][0]))
    out = [0.0] * len(encoded)
    batches = [order[offset : offset + batch_size] for offset in range(0, len(order), batch_size)]
    for rows in tqdm(batches, desc=desc, unit="batch", disable=not desc or len(batches) < 2):
        input_ids, attention, completion = (
            t.to(device) for t in pad_rows(tokenizer, [encoded[r] for r in rows])
        )
        ids = {"input_ids": input_ids, "attention_mask": attention}
        for row, logp in zip(rows, completion_logps(model, ids, completion).cpu().tolist()):
            out[row] = logp
    model.train(was_training)
    return out


def pair_logps(
    model,
    tokenizer,
    rows: list[dict],
    batch_size: int = 4,
    max_length: int | None = None,
    desc: str | None = None,
):
    """(chosen, rejected) log-probs of DPO rows, scored together (one length-sorted pass over both)."""
    prompts = [r["prompt"] for r in rows]
    both = sequence_logps(
        model,
        tokenizer,
        prompts + prompts,
        [r["chosen"] for r in rows] + [r["rejected"] for r in rows],
        batch_size,
        max_length,
        desc,
    )
    return both[: len(rows)], both[len(rows) :]


def _share(flags: list[bool]) -> tuple[float | None, list[float] | None]:
    """(share of True, its 95 % Wilson interval): both None without flags, in metrics.json null."""
    interval = wilson_interval(sum(flags), len(flags))
    return _mean(flags), list(interval) if interval else None


def _mean(values) -> float | None:
    """The mean; None (metrics.json: null, where NaN would make it no strict JSON) of no values."""
    values = list(values)
    return sum(values) / len(values) if values else None


def _times(factor: float, value: float | None) -> float | None:
    return None if value is None else factor * value


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def preference_metrics(ref_chosen, ref_rejected, chosen, rejected, beta: float) -> dict:
    """The held-out report of a preference run (all inputs: per-pair summed log-probs).

    - ``reference_prefers_chosen`` / ``model_prefers_chosen``: share of pairs where the model's own likelihood of
      the chosen answer beats the rejected one's (the before/after check: "original preferred chosen in z/y,
      trained in x/y");
    - ``reward_accuracy``: share of pairs whose implicit reward β·(log π/π_ref) is higher for the chosen answer;
    - ``reward_margin``: mean implicit reward margin; ``chosen_logp_delta``: mean change of log π(chosen).

    Of no pairs every figure is None (null in metrics.json), as its interval is.
    """
    n = len(chosen)
    h = [(c - rc) - (r - rr) for c, r, rc, rr in zip(chosen, rejected, ref_chosen, ref_rejected)]
    reference, reference_ci = _share([rc > rr for rc, rr in zip(ref_chosen, ref_rejected)])
    model, model_ci = _share([c > r for c, r in zip(chosen, rejected)])
    accuracy, accuracy_ci = _share([x > 0 for x in h])
    return {
        "pairs": n,
        "reference_prefers_chosen": reference,
        "reference_prefers_chosen_ci95": reference_ci,
        "model_prefers_chosen": model,
        "model_prefers_chosen_ci95": model_ci,
        "reward_accuracy": accuracy,
        "reward_accuracy_ci95": accuracy_ci,
        "reward_margin": _times(beta, _mean(h)),
        "chosen_logp": _mean(chosen),
        "reference_chosen_logp": _mean(ref_chosen),
        "chosen_logp_delta": _mean(c - rc for c, rc in zip(chosen, ref_chosen)),
        "rejected_logp_delta": _mean(r - rr for r, rr in zip(rejected, ref_rejected)),
    }


def kto_metrics(ref_logps, logps, labels, beta: float) -> dict:
    """Implicit rewards β·(log π − log π_ref) of desirable vs undesirable completions, and their separation (None
    where a side has no completion: null in metrics.json)."""
    rewards = [beta * (p - r) for p, r in zip(logps, ref_logps)]
    good = [x for x, label in zip(rewards, labels) if label]
    bad = [x for x, label in zip(rewards, labels) if not label]
    sign, sign_ci = _share([x > 0 for x in good] + [x < 0 for x in bad])
    return {
        "completions": len(rewards),
        "desirable_reward": _mean(good),
        "undesirable_reward": _mean(bad),
        "reward_separation": _minus(_mean(good), _mean(bad)),
        "sign_accuracy": sign,
        "sign_accuracy_ci95": sign_ci,
    }


def answer_metrics(before: list[float], after: list[float]) -> dict:
    """The held-out report of an SFT run: mean log π(answer | prompt) of the held-out answers (gold answers,
    edits) under the start model and the trained one, and the change row by row with its 95 % interval
    and the share of answers that became more likely (`paired_change`); of no answers, None (null) each."""
    change = paired_change(before, after)
    return {
        "answers": change["rows"],
        "reference_answer_logp": change.get("mean_before"),
        "answer_logp": change.get("mean_after"),
        "answer_logp_change": change["mean_change"],
        "answer_logp_change_ci95": change["mean_change_ci95"],
        "answers_more_likely": change.get("rose_share"),
        "answers_more_likely_ci95": change.get("rose_share_ci95"),
    }


def evaluate_rows(data: str, model, tokenizer, rows: list[dict], batch_size: int, max_length: int) -> dict:
    """Summed log-probs of the held-out ``rows``: {"chosen", "rejected"} for pairs, {"logps"} for KTO
    completions and SFT answers (``data`` as in `train.methods.Method.data`)."""
    desc = "held-out evaluation"
    if data != "pairs":
        prompts, completions = [r["prompt"] for r in rows], [r["completion"] for r in rows]
        return {"logps": sequence_logps(model, tokenizer, prompts, completions, batch_size, max_length, desc)}
    chosen, rejected = pair_logps(model, tokenizer, rows, batch_size, max_length, desc)
    return {"chosen": chosen, "rejected": rejected}


def compare(data: str, before: dict, after: dict, rows: list[dict], beta: float) -> dict:
    """The held-out metrics of the trained model (``after``) against the start model (``before``)."""
    if data == "sft":
        return answer_metrics(before["logps"], after["logps"])
    if data == "completions":
        return kto_metrics(before["logps"], after["logps"], [r["label"] for r in rows], beta)
    return preference_metrics(before["chosen"], before["rejected"], after["chosen"], after["rejected"], beta)


def write_held_out(out: Path, rows: list[dict], before: dict, after: dict) -> None:
    """OUT/held_out.json: the per-row held-out numbers behind the metrics (log-probs, or a reward model's
    scores), keyed by pair or completion id (an SFT gold answer: its prompt's), so that runs on the same rows
    compare row by row (the SPIN chain). Strict JSON: a number that is no finite float (a diverged model's
    log-prob) is null, a row that cannot be compared."""
    ids = [r.get("pair_id") or r.get("completion_id") or r.get("prompt_id") for r in rows]
    text = strict_json({"ids": ids, "before": before, "after": after})
    atomic_write(Path(out) / HELD_OUT_FILE, lambda f: f.write(text.encode()))


def read_held_out(folder: str | Path) -> dict | None:
    """A run folder's held-out numbers (see `write_held_out`), or None when it has none; a number that is null, or
    NaN in a file written before they became null, is None (a row that cannot be compared). Read without following
    a symlink (a run folder is often the workspace's runs/): one planted at its name is a NotAFileError naming it,
    and a file that is not JSON (cut short by a full disk) a PrefloopError naming it."""
    path = Path(folder) / HELD_OUT_FILE
    try:
        with open_regular(path) as handle:
            # `finite` walks the value as the parser did: nested a few hundred deep, the parse passes and it overflows
            return within_depth(lambda read: finite(json.load(read)), handle)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise PrefloopError(
            f"{path}: not held-out numbers ({first_line(exc)}); remove it (the chain then reports this run without them)"
        ) from None


def paired_change(before: list[float], after: list[float], resamples: int = 10_000, seed: int = 0) -> dict:
    """How ``after`` moved from ``before``, row by row (the same rows under two models): the mean change with its
    95 % interval, and the share of rows that rose with its Wilson interval. An interval above 0 (share: above 0.5)
    is a change the rows support; the mean change has none under two rows (None, in the JSON null), as
    `data.intervals.mean_interval`, and no rows none at all (``mean_change`` None).

    The interval is the percentile bootstrap's (rows resampled with replacement, fixed seed) never narrower than
    Student's t (`data.intervals.change_interval`), as the leaderboard's strengths are the bootstrap's never
    narrower than the model's: over a few rows, or rows that all changed alike, the bootstrap alone read an
    interval of (nearly) no width. Over the SPIN recipe's 64 held-out prompts the floor moved the bootstrap's
    ends by at most 0.1 nat."""
    deltas = [a - b for a, b in zip(after, before)]
    n = len(deltas)
    if not n:
        return {"rows": 0, "mean_change": None, "mean_change_ci95": None}
    mean = _mean(deltas)
    interval = None
    if n >= 2:
        draw = random.Random(seed)
        means = sorted(sum(draw.choices(deltas, k=n)) / n for _ in range(resamples))
        low, high = change_interval(deltas)
        interval = [min(means[int(0.025 * resamples)], low), max(means[int(0.975 * resamples) - 1], high)]
    rose = sum(d > 0 for d in deltas)
    return {
        "rows": n,
        "mean_before": _mean(before),
        "mean_after": _mean(after),
        "mean_change": mean,
        "mean_change_ci95": interval,
        "rose": rose,
        "rose_share": rose / n,
        "rose_share_ci95": list(wilson_interval(rose, n)),  # n ≥ 1 here
    }
