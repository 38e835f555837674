"""The memory plan: before any weights load, pick full fine-tuning or LoRA (and gradient checkpointing) so that the
run fits the machine, and say so in one line.

The estimate, in bytes (fp32 weights, AdamW):
- full fine-tuning: 16 per parameter (weights 4, gradients 4, Adam's two moments 8); LoRA: 4 per frozen parameter
  (the adapters are a rounding error); a method that keeps its reference in memory (TDPO) adds 4 per parameter;
- activations: per sequence token, layers × hidden × 40 bytes kept for the backward pass (about 1/layers of that
  with gradient checkpointing), plus the LM head's logits, their log-softmax and its gradient (3 × vocab × 4 bytes
  per completion position); a pairwise batch holds 2 × batch sequences, KTO's 2 × batch (its KL batch);
- 2 GiB for the framework, the data and the allocator's slack.
The plan takes the cheapest change that fits within 85 % of the available memory: full fine-tuning, then LoRA,
then LoRA with gradient checkpointing. ``--lora-r 0`` forces full fine-tuning and ``--lora-r N`` LoRA: the plan
then only warns when the estimate does not fit.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GIB = 2**30
OVERHEAD = 2 * GIB
HEADROOM = 0.85
DEFAULT_LORA_R = 16
ACTIVATION_BYTES = 40  # per token, layer and hidden unit, fp32, no checkpointing


@dataclass(frozen=True)
class ModelShape:
    params: int
    layers: int
    hidden: int
    vocab: int


@dataclass(frozen=True)
class Plan:
    lora_r: int
    gradient_checkpointing: bool
    estimate: int  # bytes
    available: int  # bytes
    reason: str

    def line(self) -> str:
        how = f"LoRA r={self.lora_r}" if self.lora_r else "full fine-tuning"
        if self.gradient_checkpointing:
            how += " with gradient checkpointing"
        return f"memory plan: {how}, about {self.estimate / GIB:.1f} of {self.available / GIB:.1f} GiB ({self.reason})"


def estimate_bytes(
    shape: ModelShape,
    *,
    lora: bool,
    checkpointing: bool,
    batch_size: int,
    max_length: int,
    reference_in_memory: bool = False,
) -> int:
    weights = shape.params * (4 if lora else 16) + (4 * shape.params if reference_in_memory else 0)
    tokens = 2 * batch_size * max_length
    per_token = shape.layers * shape.hidden * ACTIVATION_BYTES
    if checkpointing:
        per_token = per_token // max(shape.layers, 1) + shape.hidden * 4 * shape.layers
    logits = tokens * shape.vocab * 4 * 3
    return weights + tokens * per_token + logits + OVERHEAD


def plan_memory(
    shape: ModelShape,
    available: int,
    *,
    lora_r: int | None,
    checkpointing: bool,
    batch_size: int,
    max_length: int,
    reference_in_memory: bool = False,
) -> Plan:
    """The plan for a model of ``shape`` in ``available`` bytes; ``lora_r`` None lets the plan choose."""
    budget = int(available * HEADROOM)

    def estimate(lora: bool, ckpt: bool) -> int:
        return estimate_bytes(
            shape,
            lora=lora,
            checkpointing=ckpt,
            batch_size=batch_size,
            max_length=max_length,
            reference_in_memory=reference_in_memory,
        )

    if lora_r is not None:  # the user chose
        need = estimate(bool(lora_r), checkpointing)
        if need > budget:
            log.warning(
                "the run may not fit: about %.1f GiB needed, %.1f GiB available (--lora-r, --batch-size, "
                "--max-length or --gradient-checkpointing lower it)",
                need / GIB,
                available / GIB,
            )
        return Plan(lora_r, checkpointing, need, available, "as asked")
    for lora, ckpt in ((False, checkpointing), (True, checkpointing), (True, True)):
        need = estimate(lora, ckpt)
        if need <= budget:
            r = DEFAULT_LORA_R if lora else 0
            reason = (
                "full fine-tuning fits"
                if not lora
                else f"full fine-tuning needs about {estimate(False, checkpointing) / GIB:.1f} GiB; --lora-r 0 forces it"
            )
            return Plan(r, ckpt, need, available, reason)
    need = estimate(True, True)
    log.warning(
        "even LoRA with gradient checkpointing needs about %.1f GiB of %.1f GiB: lower --batch-size or --max-length",
        need / GIB,
        available / GIB,
    )
    return Plan(DEFAULT_LORA_R, True, need, available, "nothing fits; trying the smallest plan")


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
