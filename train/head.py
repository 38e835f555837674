"""The log-prob head: per-token log-probs of the target tokens without the batch's full-vocabulary logits.

A DPO step needs log π(token) at each completion position, i.e. one logit minus the logsumexp over the vocabulary.
Materialising (positions × vocabulary) fp32 logits for the whole batch costs 40 GB at 32 × 1024 tokens with
Qwen2.5's 151,936-token vocabulary — more than the model, its gradients and Adam's moments together. Here the
model's LM head is replaced, for one forward, by ``token_logps`` over the completion positions' final hidden
states (``through_head``): the head's weight multiplies them ``CHUNK_BYTES`` of fp32 logits at a time: logsumexp and the target's logit per chunk, nothing of the chunk kept. The backward pass
recomputes each chunk's logits from the saved hidden states and weight (``_TokenLogps``), so the largest
vocabulary-sized tensor alive is one chunk's, forward and backward. TDPO's per-token KL to the reference is chunked
the same way (``_SequentialKL``). Results equal the full-vocabulary computation to float rounding
(tests/test_train_head.py), on CPU and CUDA alike.

Models whose logits are not a plain linear map of the last hidden state (a final logit soft-cap, e.g. Gemma 2; a
logit scale) keep the compact full-logit path (``compact_logits``).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from accelerate.utils import extract_model_from_parallel

CHUNK_BYTES = (
    128 * 2**20
)  # fp32 logits of one chunk of positions: a fraction of a GiB, whatever the vocabulary


def chunk_rows(vocab: int) -> int:
    """Positions per chunk so that one chunk's fp32 logits take about ``CHUNK_BYTES``."""
    return max(1, CHUNK_BYTES // (4 * vocab))


def _matmul_dtype(hidden: torch.Tensor) -> torch.dtype:
    device = hidden.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype


def _chunk_logits(hidden, weight, bias) -> torch.Tensor:
    """fp32 logits of a chunk: the matmul in the weight's (autocast) dtype, then upcast, as the model would."""
    logits = F.linear(hidden, weight, bias)
    return logits.float()


def _backprop_chunk(grad_logits, hidden, weight, grads: dict, start: int, stop: int) -> None:
    """Accumulate d(hidden[start:stop]) and d(weight), d(bias) from one chunk's fp32 logit gradient."""
    grad_logits = grad_logits.to(weight.dtype)
    if grads["hidden"] is not None:
        grads["hidden"][start:stop] = grad_logits @ weight
    if grads["weight"] is not None:
        grads["weight"].addmm_(grad_logits.t().float(), hidden.float())
    if grads["bias"] is not None:
        grads["bias"] += grad_logits.float().sum(0)


def _grad_buffers(ctx, hidden, weight, bias) -> dict:
    need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
    return {
        "hidden": torch.empty_like(hidden) if need_hidden else None,
        "weight": torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        if need_weight
        else None,
        "bias": torch.zeros(bias.shape, dtype=torch.float32, device=bias.device)
        if bias is not None and need_bias
        else None,
    }


def _grads_out(grads: dict, hidden, weight, bias) -> tuple:
    return (
        None if grads["hidden"] is None else grads["hidden"].to(hidden.dtype),
        None if grads["weight"] is None else grads["weight"].to(weight.dtype),
        None if grads["bias"] is None else grads["bias"].to(bias.dtype),
    )


class _TokenLogps(torch.autograd.Function):
    """log softmax(hidden @ weightᵀ + bias)[target] per row, ``rows`` rows at a time: (N, H), (V, H), (V,) | None,
    (N,) → (N,) fp32. Saves the inputs and the per-row logsumexp; the backward pass recomputes the logits."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, rows: int, dtype: torch.dtype):
        w, b = weight.to(dtype), None if bias is None else bias.to(dtype)
        h = hidden.to(dtype)
        out = torch.empty(len(hidden), dtype=torch.float32, device=hidden.device)
        lse = torch.empty_like(out)
        for start in range(0, len(hidden), rows):
            logits = _chunk_logits(h[start : start + rows], w, b)
            lse[start : start + rows] = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, targets[start : start + rows, None]).squeeze(1)
            out[start : start + rows] = picked - lse[start : start + rows]
        ctx.save_for_backward(hidden, weight, bias, targets, lse)
        ctx.rows, ctx.dtype = rows, dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        grads = _grad_buffers(ctx, hidden, weight, bias)
        w, b = weight.to(ctx.dtype), None if bias is None else bias.to(ctx.dtype)
        h = hidden.to(ctx.dtype)
        for start in range(0, len(hidden), ctx.rows):
            stop = min(start + ctx.rows, len(hidden))
            logits = _chunk_logits(h[start:stop], w, b)
            g = grad_out[start:stop, None].float()
            # d logp[t] / d logits = onehot(t) − softmax(logits)
            grad_logits = (logits - lse[start:stop, None]).exp_().mul_(-g)
            grad_logits.scatter_add_(1, targets[start:stop, None], g)
            _backprop_chunk(grad_logits, h[start:stop], w, grads, start, stop)
        return (*_grads_out(grads, hidden, weight, bias), None, None, None)


class _SequentialKL(torch.autograd.Function):
    """KL(π_ref ‖ π_θ) per row from the policy's and the reference's hidden states and heads, chunked like
    ``_TokenLogps``: (N, H), (V, H), bias, (N, H), (V, H), bias → (N,). Gradients flow to the policy side."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, ref_hidden, ref_weight, ref_bias, rows: int, dtype: torch.dtype):
        out = torch.empty(len(hidden), dtype=torch.float32, device=hidden.device)
        for start, stop, logps, ref_logps in _kl_chunks(
            hidden, weight, bias, ref_hidden, ref_weight, ref_bias, rows, dtype
        ):
            out[start:stop] = (ref_logps.exp() * (ref_logps - logps)).sum(-1)
        ctx.save_for_backward(hidden, weight, bias, ref_hidden, ref_weight, ref_bias)
        ctx.rows, ctx.dtype = rows, dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        hidden, weight, bias, ref_hidden, ref_weight, ref_bias = ctx.saved_tensors
        grads = _grad_buffers(ctx, hidden, weight, bias)
        w, h = weight.to(ctx.dtype), hidden.to(ctx.dtype)
        for start, stop, logps, ref_logps in _kl_chunks(
            hidden, weight, bias, ref_hidden, ref_weight, ref_bias, ctx.rows, ctx.dtype
        ):
            # d KL / d policy logits = softmax(policy) − softmax(reference)
            grad_logits = (logps.exp_() - ref_logps.exp_()).mul_(grad_out[start:stop, None].float())
            _backprop_chunk(grad_logits, h[start:stop], w, grads, start, stop)
        return (*_grads_out(grads, hidden, weight, bias), None, None, None, None, None)


def _kl_chunks(hidden, weight, bias, ref_hidden, ref_weight, ref_bias, rows, dtype):
    """(start, stop, policy log-softmax, reference log-softmax) per chunk of rows, fp32."""
    w, b = weight.to(dtype), None if bias is None else bias.to(dtype)
    rw, rb = ref_weight.to(dtype), None if ref_bias is None else ref_bias.to(dtype)
    h, rh = hidden.to(dtype), ref_hidden.to(dtype)
    for start in range(0, len(hidden), rows):
        stop = min(start + rows, len(hidden))
        logps = torch.log_softmax(_chunk_logits(h[start:stop], w, b), dim=-1)
        ref_logps = torch.log_softmax(_chunk_logits(rh[start:stop], rw, rb), dim=-1)
        yield start, stop, logps, ref_logps


def plain_head(model):
    """The unwrapped model's LM head when its logits are ``head(hidden)`` and nothing after (no soft-cap, no
    logit scale), else None."""
    inner = extract_model_from_parallel(model)
    config = getattr(inner, "config", None)
    if (
        config is None
        or getattr(config, "final_logit_softcapping", None)
        or getattr(config, "logit_scale", None)
    ):
        return None
    head = inner.get_output_embeddings()
    return head if isinstance(head, torch.nn.Linear) else None


@contextlib.contextmanager
def _replaced(head: torch.nn.Linear, forward):
    """Within: ``head(hidden)`` is ``forward(hidden)``. The head's own hooks still run (DeepSpeed ZeRO-3 gathers its
    weight in one), and its weight is used inside the model's forward, as DDP's unused-parameter search expects."""
    own = head.__dict__.get(
        "forward"
    )  # a hook's wrapper (accelerate's device hooks set one) comes back after
    head.forward = forward
    try:
        yield
    finally:
        if own is None:
            del head.forward
        else:
            head.forward = own


def kept_positions(completion_mask: torch.Tensor) -> torch.Tensor:
    """Positions from the batch's first completion target on (``logits_to_keep``): position t predicts token t+1."""
    targets = completion_mask[:, 1:].bool()
    first = int(targets.any(dim=0).nonzero()[0]) if targets.any() else 0
    return torch.arange(first, completion_mask.size(1) - 1, device=completion_mask.device)


def compact_logits(model, model_kwargs: dict, completion_mask: torch.Tensor):
    """The LM head's logits only at the kept positions (``kept_positions``), not over the prompts: (logits
    (B, K, V), the token each position predicts (B, K), and whether that token is part of the completion (B, K)).
    Called through ``model(...)``, so DDP and PEFT wrappers see an ordinary forward. The fallback for models
    without a ``plain_head``."""
    keep = kept_positions(completion_mask)
    logits = model(**model_kwargs, use_cache=False, logits_to_keep=keep).logits
    return logits, model_kwargs["input_ids"][:, keep + 1], completion_mask[:, 1:].bool()[:, keep]


def through_head(model, model_kwargs: dict, completion_mask: torch.Tensor, head: torch.nn.Linear, fn):
    """One forward through ``model(...)`` whose LM ``head`` is replaced by ``fn(hidden states (N, H) of the N
    positions that predict a completion token, those tokens (N,))``; returns (what ``fn`` returned, each
    position's row (N,)). Called through ``model(...)``, so DDP, PEFT and DeepSpeed wrappers see an ordinary
    forward."""
    keep = kept_positions(completion_mask)
    mask = completion_mask[:, 1:].bool()[:, keep]
    targets = model_kwargs["input_ids"][:, keep + 1][mask]
    with _replaced(head, lambda hidden: fn(hidden[mask], targets)):
        out = model(**model_kwargs, use_cache=False, logits_to_keep=keep).logits
    rows = torch.arange(mask.size(0), device=mask.device)[:, None].expand_as(mask)
    return out, rows[mask]


def token_logps(hidden: torch.Tensor, head: torch.nn.Linear, targets: torch.Tensor) -> torch.Tensor:
    """log π(target) per row of ``hidden`` (N, H) → (N,) fp32, chunked (``_TokenLogps``)."""
    rows = chunk_rows(head.out_features)
    return _TokenLogps.apply(hidden, head.weight, head.bias, targets, rows, _matmul_dtype(hidden))


def position_kl(hidden, head, ref_hidden, ref_head) -> torch.Tensor:
    """KL(π_ref ‖ π_θ) per position (N,), chunked (``_SequentialKL``)."""
    rows = chunk_rows(head.out_features)
    return _SequentialKL.apply(
        hidden,
        head.weight,
        head.bias,
        ref_hidden,
        ref_head.weight,
        ref_head.bias,
        rows,
        _matmul_dtype(hidden),
    )


def per_row_sum(values: torch.Tensor, rows: torch.Tensor, batch: int) -> torch.Tensor:
    """Σ of ``values`` (N,) per row index → (batch,)."""
    return torch.zeros(batch, dtype=values.dtype, device=values.device).index_add(0, rows, values)


def token_logps_sum(logits: torch.Tensor, token_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ over the masked positions of log softmax(logits)[token]: (B, K, V), (B, K), (B, K) → (B,) (the
    full-logit computation, for ``compact_logits``)."""
    token_logits = torch.gather(logits, 2, token_ids.unsqueeze(2)).squeeze(2).float()
    return ((token_logits - torch.logsumexp(logits.float(), dim=-1)) * mask).sum(dim=1)


def completion_logps(model, model_kwargs: dict, completion_mask: torch.Tensor) -> torch.Tensor:
    """Summed log-probs of each row's completion tokens (B,), through the chunked head where the model has a
    ``plain_head``, else through ``compact_logits``."""
    head = plain_head(model)
    if head is None:
        return token_logps_sum(*compact_logits(model, model_kwargs, completion_mask))
    logps, rows = through_head(
        model, model_kwargs, completion_mask, head, lambda hidden, targets: token_logps(hidden, head, targets)
    )
    return per_row_sum(logps, rows, completion_mask.size(0))
