"""The memory plan: before any weights load, pick how the run trains so that it fits the machine, and say so in
one line.

The estimate, in bytes (fp32 master weights, AdamW), calibrated against measured peaks (benchmarks/bench_plan.py,
RESULTS.md "Memory plan"):
- weights: full fine-tuning 16 per parameter (weights 4, gradients 4, Adam's two moments 8), LoRA 4 per frozen
  parameter; bf16 autocast adds the 2-byte copies of the weights it casts; a method that keeps its reference in
  memory (TDPO) adds 4 per parameter (not with LoRA: the reference is the policy with its adapters off);
- activations kept for the backward pass, per token and layer: about 12 bytes per hidden unit and 6 per MLP unit
  under bf16 autocast, twice that in fp32 (the layer's fp32 inputs, the bf16 casts its matmuls keep, its
  attention's q/k/v and output, the MLP's gate and up), plus 4 bytes per head and key position (the attention
  probabilities: quadratic in the length); the norms' outputs and the MLP's activation are recomputed in the
  backward pass (`train.recompute`), which without it would add 8 bytes per hidden unit and 2 per MLP unit; with
  gradient checkpointing, each layer's fp32 input plus one layer's activations, all kept;
- the log-prob head: with the chunked head (`train.head`, our sigmoid-family loss) three chunks of
  ``CHUNK_BYTES`` and the head's fp32 gradient; with TRL's head (its other loss types, KTO) the batch's fp32 logits,
  their log-softmax and its gradient (3 × vocabulary × 4 bytes per token);
- ``OVERHEAD`` for the interpreter, the libraries, the data and the allocator's slack.
A batch holds 2 × micro-batch sequences (chosen and rejected; KTO: its KL batch; SFT: 1 ×, one answer per row),
each as long as the longest row fitted into --max-length.

If the estimate does not fit within ``HEADROOM`` of the available memory, the plan takes the first change that
fits, in this order: gradient checkpointing; a smaller micro-batch with gradient accumulation (the same
effective batch: micro-batch × accumulation stays --batch-size × --grad-accum); LoRA (r=16) with the same two
fallbacks. ``--lora-r 0`` forces full fine-tuning and ``--lora-r N`` LoRA (the other fallbacks still apply). When
nothing fits, it stops with one line naming the estimate rather than starting a run that cannot finish.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from data.errors import PrefloopError
from train.head import CHUNK_BYTES

log = logging.getLogger(__name__)

GIB = 2**30
OVERHEAD = GIB // 2
HEADROOM = 0.85
DEFAULT_LORA_R = 16
HIDDEN_BYTES, MLP_BYTES = 12, 6  # per token and layer, bf16 autocast; fp32 doubles them
# What train.recompute keeps out of that (the norms' fp32 outputs, act(gate)), per token and layer, bf16 autocast
RECOMPUTED_HIDDEN, RECOMPUTED_MLP = 8, 2
ATTENTION_BYTES = 4  # per token, layer, head and key position: the attention probabilities kept for backward


class MemoryPlanError(PrefloopError):
    """No plan fits the available memory."""


@dataclass(frozen=True)
class ModelShape:
    params: int
    layers: int
    hidden: int
    vocab: int
    intermediate: int = 0  # MLP width (0: 4 × hidden)
    heads: int = 0  # attention heads (0: hidden / 64)


@dataclass(frozen=True)
class Batch:
    """What one optimiser step holds: micro-batch rows per device, accumulation steps, tokens per sequence."""

    micro: int
    accumulation: int
    length: int


@dataclass(frozen=True)
class Setup:
    """How the run trains: what the plan may change (LoRA rank, checkpointing, the micro-batch)."""

    lora_r: int
    checkpointing: bool
    batch: Batch


@dataclass(frozen=True)
class Plan:
    setup: Setup
    estimate: int  # bytes
    available: int  # bytes
    reason: str

    @property
    def lora_r(self) -> int:
        return self.setup.lora_r

    @property
    def gradient_checkpointing(self) -> bool:
        return self.setup.checkpointing

    def line(self) -> str:
        return (
            f"memory plan: {describe(self.setup)}, about {self.estimate / GIB:.1f} of "
            f"{self.available / GIB:.1f} GiB ({self.reason})"
        )


def describe(setup: Setup) -> str:
    """E.g. "full fine-tuning with gradient checkpointing, micro-batch 2 x 2 accumulation steps (effective 4)"."""
    how = f"LoRA r={setup.lora_r}" if setup.lora_r else "full fine-tuning"
    if setup.checkpointing:
        how += " with gradient checkpointing"
    batch = setup.batch
    how += f", micro-batch {batch.micro}"
    if batch.accumulation > 1:
        how += f" x {batch.accumulation} accumulation steps (effective {batch.micro * batch.accumulation})"
    return how


def estimate_bytes(
    shape: ModelShape,
    setup: Setup,
    *,
    bf16: bool = False,
    chunked_head: bool = True,
    reference_in_memory: bool = False,
    sequences: int = 2,
) -> int:
    """Peak bytes of a training step of a model of ``shape`` trained as ``setup`` says (see the module doc);
    ``sequences`` per row (2: chosen and rejected, or KTO's KL batch; 1: SFT)."""
    params = shape.params
    weights = params * (4 if setup.lora_r else 16) + (2 * params if bf16 else 0)
    weights += 4 * params if reference_in_memory and not setup.lora_r else 0  # LoRA: adapters off instead
    tokens = sequences * setup.batch.micro * setup.batch.length
    scale = 1 if bf16 else 2
    mlp = shape.intermediate or 4 * shape.hidden
    per_layer = scale * (HIDDEN_BYTES * shape.hidden + MLP_BYTES * mlp)
    per_layer += ATTENTION_BYTES * (shape.heads or shape.hidden // 64) * setup.batch.length
    if setup.checkpointing:  # the one layer being recomputed holds everything (no elementwise recompute then)
        whole_layer = per_layer + scale * (RECOMPUTED_HIDDEN * shape.hidden + RECOMPUTED_MLP * mlp)
        activations = tokens * (shape.layers * shape.hidden * 4 + whole_layer)
    else:
        activations = tokens * shape.layers * per_layer
    if chunked_head:
        head = 3 * CHUNK_BYTES + (0 if setup.lora_r else shape.vocab * shape.hidden * 4)
    else:
        head = tokens * shape.vocab * 4 * 3
    return weights + activations + head + OVERHEAD


def _micro_batches(batch: Batch) -> list[Batch]:
    """The micro-batches that keep the effective batch: each divisor of the micro-batch, largest first."""
    total = batch.micro * batch.accumulation
    return [
        Batch(micro, total // micro, batch.length)
        for micro in range(batch.micro, 0, -1)
        if batch.micro % micro == 0
    ]


def candidate_setups(requested: Setup, lora_fixed: bool) -> list[Setup]:
    """Setups in the plan's order of preference: as asked, then gradient checkpointing, then smaller micro-batches
    (with checkpointing), then the same with LoRA (unless the user fixed --lora-r)."""
    ranks = [requested.lora_r] if lora_fixed or requested.lora_r else [0, DEFAULT_LORA_R]
    setups = []
    for rank in ranks:
        setups.append(Setup(rank, requested.checkpointing, requested.batch))
        setups += [Setup(rank, True, batch) for batch in _micro_batches(requested.batch)]
    return list(dict.fromkeys(setups))


def plan_memory(
    shape: ModelShape,
    available: int,
    requested: Setup,
    *,
    lora_fixed: bool,
    bf16: bool = False,
    chunked_head: bool = True,
    reference_in_memory: bool = False,
    sequences: int = 2,
) -> Plan:
    """The first setup (``candidate_setups``) whose estimate fits ``HEADROOM`` of ``available`` bytes;
    ``MemoryPlanError`` when none does."""
    budget = int(available * HEADROOM)

    def estimate(setup: Setup) -> int:
        return estimate_bytes(
            shape,
            setup,
            bf16=bf16,
            chunked_head=chunked_head,
            reference_in_memory=reference_in_memory,
            sequences=sequences,
        )

    candidates = candidate_setups(requested, lora_fixed)
    for setup in candidates:
        need = estimate(setup)
        if need <= budget:
            reason = (
                "as asked"
                if setup == candidates[0]
                else f"as asked needs about {estimate(requested) / GIB:.1f} GiB"
            )
            if setup.lora_r and not lora_fixed:
                reason += "; --lora-r 0 forces full fine-tuning"
            return Plan(setup, need, available, reason)
    smallest = candidates[-1]
    raise MemoryPlanError(
        f"memory plan: nothing fits in {HEADROOM:.0%} of {available / GIB:.1f} GiB; the smallest plan, "
        f"{describe(smallest)}, needs about {estimate(smallest) / GIB:.1f} GiB: lower --max-length or train a "
        "smaller model"
    )


def model_shape(folder: Path) -> ModelShape:
    """Parameters, layers, hidden size and vocabulary from the folder's config and weight headers (no weights load)."""
    config = json.loads((folder / "config.json").read_text())
    config = config.get("text_config", config)
    params = _params_from_safetensors(folder)
    if params is None:  # no safetensors headers: build the architecture on the meta device and count
        from accelerate import init_empty_weights
        from transformers import AutoConfig, AutoModelForCausalLM

        with init_empty_weights():
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
        params = sum(p.numel() for p in model.parameters())
    return ModelShape(
        params=params,
        layers=int(config.get("num_hidden_layers", 1)),
        hidden=int(config.get("hidden_size", 1)),
        vocab=int(config.get("vocab_size", 1)),
        intermediate=int(config.get("intermediate_size") or 0),
        heads=int(config.get("num_attention_heads") or 0),
    )


def _params_from_safetensors(folder: Path) -> int | None:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for path in files:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                count = 1
                for dim in info["shape"]:
                    count *= dim
                total += count
    return total


def available_memory() -> int:
    """Bytes this run may use: free GPU memory on CUDA, else the machine's available memory (cgroup limit
    included)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.mem_get_info()[0]
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            available = min(available, int(text))
    return available
