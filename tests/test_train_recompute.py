"""Selective recomputation (train.recompute): the same values and gradients, fewer activations kept."""

from __future__ import annotations

import copy

import pytest
import torch

from train.recompute import recompute_elementwise


def _tiny_llama(hidden=64, intermediate=128, layers=2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=hidden // 2,
    )
    return LlamaForCausalLM(config)


def _batch():
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 97, (3, 24), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 17:] = 0  # padding, as in a batch of chosen and rejected answers
    return ids, mask


def _loss_and_grads(model, autocast: bool, device: str = "cpu"):
    ids, mask = (t.to(device) for t in _batch())
    model.zero_grad()
    with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
        logits = model(input_ids=ids, attention_mask=mask).logits
    loss = (torch.log_softmax(logits.float(), -1)[..., 5] * mask).sum()
    loss.backward()
    return loss.detach(), {n: p.grad.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16-autocast"])
def test_recompute_gives_the_same_values_and_gradients(autocast):
    model = _tiny_llama()
    rewritten = copy.deepcopy(model)
    counts = recompute_elementwise(rewritten)
    assert counts == {"norms": 5, "mlps": 2}  # two per layer and the final norm; one MLP per layer
    assert recompute_elementwise(rewritten) == {"norms": 0, "mlps": 0}  # idempotent

    loss, grads = _loss_and_grads(model, autocast)
    loss_re, grads_re = _loss_and_grads(rewritten, autocast)
    assert torch.equal(loss, loss_re)
    for name, grad in grads.items():
        assert torch.allclose(grads_re[name], grad, rtol=1e-5, atol=1e-6), name
    assert grads_re["model.norm.weight"].abs().sum() > 0
    with torch.no_grad():  # no backward pass ahead: the plain forward
        ids, mask = _batch()
        assert torch.equal(
            model(input_ids=ids, attention_mask=mask).logits,
            rewritten(input_ids=ids, attention_mask=mask).logits,
        )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_recompute_on_cuda_gives_the_same_values_and_gradients():
    model = _tiny_llama().to("cuda")
    rewritten = copy.deepcopy(model)
    recompute_elementwise(rewritten)
    loss, grads = _loss_and_grads(model, True, "cuda")
    loss_re, grads_re = _loss_and_grads(rewritten, True, "cuda")
    assert torch.allclose(loss, loss_re, rtol=1e-5)
    for name, grad in grads.items():
        assert torch.allclose(grads_re[name], grad, rtol=1e-4, atol=1e-5), name


def _kept_bytes(model) -> int:
    """Bytes of distinct activations (not parameters) the autograd graph keeps for the backward pass of one
    forward."""
    ids, mask = _batch()
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model.model(input_ids=ids, attention_mask=mask)
    return sum(kept.values())


def test_recompute_keeps_fewer_activations():
    model = _tiny_llama(hidden=128, intermediate=512)
    plain = _kept_bytes(model)
    recompute_elementwise(model)
    assert _kept_bytes(model) < 0.85 * plain  # 0.76 measured


def test_a_copy_of_a_rewritten_model_computes_with_its_own_weights():
    model = _tiny_llama()
    recompute_elementwise(model)
    copied = copy.deepcopy(model)  # e.g. a reference copy made after the rewrite
    with torch.no_grad():
        for module in (copied.model.norm, copied.model.layers[0].mlp.up_proj):
            module.weight.mul_(2)
    ids, mask = _batch()
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            assert not torch.equal(
                model(input_ids=ids, attention_mask=mask).logits,
                copied(input_ids=ids, attention_mask=mask).logits,
            )


def test_an_mlp_that_is_not_the_gated_form_is_left_alone():
    class Scaled(torch.nn.Module):  # has the attribute names, not the computation
        def __init__(self):
            super().__init__()
            self.gate_proj = torch.nn.Linear(8, 16)
            self.up_proj = torch.nn.Linear(8, 16)
            self.down_proj = torch.nn.Linear(16, 8)
            self.act_fn = torch.nn.SiLU()

        def forward(self, x):
            return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x)) * 2

    module = Scaled()
    forward = module.forward
    assert recompute_elementwise(module) == {"norms": 0, "mlps": 0}
    assert module.forward == forward


def test_no_recompute_under_deepspeed_zero3(monkeypatch):
    """ZeRO-3 gathers weights in module hooks that a direct call to a norm's forward would bypass."""
    from train import methods

    built = []
    monkeypatch.setattr(
        methods, "recompute_elementwise", lambda model: built.append(model) or {"norms": 1, "mlps": 1}
    )
    stub = type("Method", (), {"build": staticmethod(lambda options, b, method: "trainer")})()
    monkeypatch.setattr(methods, "get_method", lambda name: stub)
    options = type("Options", (), {"method": "dpo", "gradient_checkpointing": False})()
    build = type("Build", (), {"model": "model"})()
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    assert methods.build_trainer(options, build) == "trainer"
    assert built == []
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "2")
    methods.build_trainer(options, build)
    assert built == ["model"]
