"""Selective recomputation: a decoder layer's elementwise work is recomputed in the backward pass instead of kept.

Why: without gradient checkpointing, what a step holds beyond the weights is the activations the backward pass
needs, and a fifth of them are cheap to redo: each RMS norm keeps its fp32 output beside its input, and the gated MLP
keeps act(gate) beside gate and up. Recomputing those (elementwise, about 1 % of a step's arithmetic) keeps only the
inputs, which is the trade PyTorch's selective activation checkpointing and Liger's fused RMSNorm/SwiGLU make: keep
the matmuls' outputs, redo the pointwise ops. Whole-layer gradient checkpointing (the memory plan's first fallback,
``--gradient-checkpointing``) saves more at the price of redoing every matmul; with it on, this is not applied.

The recomputed code is the model's own (a norm module's ``forward``; the MLP's ``act_fn(gate) * up``), so values and
gradients are the same computation; an MLP is only rewritten when a probe input shows its forward is exactly
``down_proj(act_fn(gate_proj(x)) * up_proj(x))`` (tests/test_train_recompute.py).
"""

from __future__ import annotations

import functools
import types

import torch
from torch.utils.checkpoint import checkpoint


def _recomputed(function, *args, **kwargs):
    """``function(*args, **kwargs)``, its intermediate tensors recomputed in the backward pass (only its inputs
    kept); a plain call where no backward pass follows."""
    if not torch.is_grad_enabled():
        return function(*args, **kwargs)
    return checkpoint(function, *args, use_reentrant=False, preserve_rng_state=False, **kwargs)


def _act_times_up(act_fn, gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return act_fn(gate) * up


# Bound to each module with types.MethodType, never closures over a module: a deep copy of the model (a reference
# copy) then binds them to the copy's own weights.
def _norm_forward(self, *args, **kwargs):
    return _recomputed(functools.partial(type(self).forward, self), *args, **kwargs)


def _gated_mlp_forward(self, x: torch.Tensor) -> torch.Tensor:
    return self.down_proj(_recomputed(_act_times_up, self.act_fn, self.gate_proj(x), self.up_proj(x)))


def _is_gated_mlp(module: torch.nn.Module) -> bool:
    """Whether ``module``'s forward is exactly down_proj(act_fn(gate_proj(x)) * up_proj(x)) (a probe input)."""
    if not all(hasattr(module, name) for name in ("gate_proj", "up_proj", "down_proj", "act_fn")):
        return False
    weight = getattr(module.gate_proj, "weight", None)
    if weight is None or weight.dim() != 2 or weight.device.type == "meta":
        return False
    generator = torch.Generator(device="cpu").manual_seed(0)
    probe = torch.randn(1, 2, weight.shape[1], generator=generator).to(weight.device, weight.dtype)
    with torch.no_grad():
        try:
            expected = module(probe)
        except Exception:  # e.g. an expert MLP that takes routing arguments: left as it is
            return False
        gated = module.down_proj(_act_times_up(module.act_fn, module.gate_proj(probe), module.up_proj(probe)))
    return isinstance(expected, torch.Tensor) and torch.equal(expected, gated)


def recompute_elementwise(model: torch.nn.Module) -> dict[str, int]:
    """Rewrite ``model``'s RMS norms and gated MLPs in place so that their elementwise intermediates are recomputed
    in the backward pass; returns how many of each were rewritten. Idempotent."""
    counts = {"norms": 0, "mlps": 0}
    for module in model.modules():
        if getattr(module, "_recompute_applied", False):
            continue
        if type(module).__name__.endswith("RMSNorm"):
            module.forward = types.MethodType(_norm_forward, module)
            counts["norms"] += 1
        elif _is_gated_mlp(module):
            module.forward = types.MethodType(_gated_mlp_forward, module)
            counts["mlps"] += 1
        else:
            continue
        module._recompute_applied = True
    return counts
