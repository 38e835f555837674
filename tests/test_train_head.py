"""The chunked log-prob head (train.head) against the full-vocabulary computation: values and gradients."""

from __future__ import annotations

import pytest
import torch

from train import head as head_module
from train.evaluate import encode_batch, full_vocab_logps
from train.head import completion_logps, per_row_sum, plain_head, position_kl, through_head, token_logps
from train.losses import sequential_kl

PROMPTS = [
    [{"role": "user", "content": "The capital of France?"}],
    [{"role": "user", "content": "Write a poem"}],
]
ANSWERS = [
    [{"role": "assistant", "content": "Paris. The capital of Italy is Rome."}],
    [{"role": "assistant", "content": "The sea is wide and blue, wide and blue."}],
]


@pytest.fixture()
def small_chunks(monkeypatch):
    """Chunks of 3 positions (the tiny model's ~400-token vocabulary would otherwise fit in one)."""
    monkeypatch.setattr(head_module, "CHUNK_BYTES", 3 * 4 * 400)


def _model_and_batch(tiny_model_dir, tiny_tokenizer, device="cpu"):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).to(device)
    batch = encode_batch(tiny_tokenizer, PROMPTS, ANSWERS)
    return model, tuple(t.to(device) for t in batch)


def _values_and_grads(model, logps_of):
    model.zero_grad()
    values = logps_of(model)
    (values * torch.tensor([1.0, -0.5], device=values.device)).sum().backward()
    grads = {n: p.grad.detach().cpu().clone() for n, p in model.named_parameters()}
    return values.detach().cpu(), grads


def _both_heads(model, input_ids, attention, completion):
    ids = {"input_ids": input_ids, "attention_mask": attention}
    chunked = _values_and_grads(model, lambda m: completion_logps(m, ids, completion))
    full = _values_and_grads(model, lambda m: full_vocab_logps(m, input_ids, attention, completion))
    return chunked, full


def test_chunked_head_equals_full_vocabulary(tiny_model_dir, tiny_tokenizer, small_chunks):
    model, batch = _model_and_batch(tiny_model_dir, tiny_tokenizer)
    assert head_module.chunk_rows(model.config.vocab_size) == 3
    (values, grads), (ref_values, ref_grads) = _both_heads(model, *batch)
    assert values.shape == (2,) and torch.all(values < 0)
    assert torch.allclose(values, ref_values, atol=1e-4)
    for name, grad in ref_grads.items():
        assert torch.allclose(grads[name], grad, atol=1e-4), name
    assert grads["lm_head.weight"].abs().sum() > 0


def test_chunked_head_under_bf16_autocast_close_to_full(tiny_model_dir, tiny_tokenizer, small_chunks):
    model, (input_ids, attention, completion) = _model_and_batch(tiny_model_dir, tiny_tokenizer)
    ids = {"input_ids": input_ids, "attention_mask": attention}
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        chunked = completion_logps(model, ids, completion)
        full = full_vocab_logps(model, input_ids, attention, completion)
    assert chunked.dtype == torch.float32
    assert torch.allclose(chunked, full, rtol=1e-2, atol=0.05)


def test_chunked_sequential_kl_equals_full(tiny_model_dir, tiny_tokenizer, small_chunks):
    model, (input_ids, attention, completion) = _model_and_batch(tiny_model_dir, tiny_tokenizer)
    reference, _ = _model_and_batch(tiny_model_dir, tiny_tokenizer)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.02 * torch.randn_like(p))
    ids = {"input_ids": input_ids, "attention_mask": attention}
    mask = completion[:, 1:].float()

    def chunked(m):
        h, head = plain_head(m), plain_head(reference)
        with torch.no_grad():
            ref_hidden, _ = through_head(reference, ids, completion, head, lambda hidden, _: hidden)
        kl, rows = through_head(
            m, ids, completion, h, lambda hidden, _: position_kl(hidden, h, ref_hidden, head)
        )
        return per_row_sum(kl, rows, 2)

    def full(m):
        logits = m(**ids).logits[:, :-1]
        with torch.no_grad():
            ref_logits = reference(**ids).logits[:, :-1]
        return sequential_kl(logits, ref_logits, mask)

    values, grads = _values_and_grads(model, chunked)
    ref_values, ref_grads = _values_and_grads(model, full)
    assert torch.all(values > 0)
    assert torch.allclose(values, ref_values, atol=1e-4)
    for name, grad in ref_grads.items():
        assert torch.allclose(grads[name], grad, atol=1e-4), name


def test_token_logps_of_frozen_head_gives_no_weight_grad(tiny_model_dir, tiny_tokenizer):
    model, (input_ids, attention, completion) = _model_and_batch(tiny_model_dir, tiny_tokenizer)
    model.lm_head.weight.requires_grad_(False)  # LoRA: the head is frozen
    head = plain_head(model)
    logps, _ = through_head(
        model,
        {"input_ids": input_ids},
        completion,
        head,
        lambda hidden, targets: token_logps(hidden, head, targets),
    )
    logps.sum().backward()
    assert model.lm_head.weight.grad is None
    assert model.model.embed_tokens.weight.grad.abs().sum() > 0
    assert "forward" not in model.lm_head.__dict__  # the short-circuit is undone


def test_soft_capped_model_falls_back_to_full_logits(tiny_model_dir, tiny_tokenizer):
    model, (input_ids, attention, completion) = _model_and_batch(tiny_model_dir, tiny_tokenizer)
    model.config.final_logit_softcapping = 30.0
    assert plain_head(model) is None
    ids = {"input_ids": input_ids, "attention_mask": attention}
    with torch.no_grad():
        assert torch.allclose(
            completion_logps(model, ids, completion),
            full_vocab_logps(model, input_ids, attention, completion),
            atol=1e-4,
        )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_chunked_head_on_cuda_equals_cpu_reference(tiny_model_dir, tiny_tokenizer):
    cpu_model, cpu_batch = _model_and_batch(tiny_model_dir, tiny_tokenizer)
    _, (ref_values, ref_grads) = _both_heads(cpu_model, *cpu_batch)
    model, batch = _model_and_batch(tiny_model_dir, tiny_tokenizer, "cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    (values, grads), _ = _both_heads(model, *batch)
    assert torch.allclose(values, ref_values, atol=1e-4)
    for name, grad in ref_grads.items():
        assert torch.allclose(grads[name], grad, atol=1e-4), name
