"""The one place that touches TRL's and transformers' private, internal or experimental APIs.

Everything else in `train/` uses what this module exports. `CONTRACT` lists each symbol with the parameters we call
it with; tests/test_train_seam.py asserts that every entry exists in the installed TRL/transformers (and that the
attributes a built trainer must carry are there), and pyproject.toml pins the versions that test passes on. When
TRL moves one of these, that test names it, and this file is the only one to change.
"""

from __future__ import annotations

import importlib

import torch
from trl import DPOTrainer, RewardTrainer
from trl.models.utils import disable_gradient_checkpointing
from trl.trainer.dpo_trainer import DataCollatorForPreference
from trl.trainer.reward_trainer import DataCollatorForPreference as RewardDataCollator
from trl.trainer.utils import use_adapter

# A model load with transformers' load report (a multi-line table) and progress bar kept off the terminal and
# weights that do not match their config.json refused in one line naming the folder: every model load of train's.
from data.model_load import load_pretrained  # noqa: F401 - re-exported for train/

# (module, attribute path, parameter names we pass) for every private/internal/experimental symbol we rely on.
CONTRACT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "trl.trainer.dpo_trainer",
        "DataCollatorForPreference",
        ("pad_token_id", "max_length", "truncation_mode"),
    ),
    ("trl.trainer.dpo_trainer", "DataCollatorForPreference.torch_call", ("examples",)),
    ("trl", "DPOTrainer._compute_loss", ("model", "inputs", "return_outputs")),
    ("trl", "DPOTrainer._precompute_ref_logps", ("dataset", "name", "batch_size")),
    ("trl", "DPOTrainer.compute_ref_log_probs", ("model", "inputs")),
    ("trl", "DPOTrainer._set_signature_columns_if_needed", ()),
    ("trl.trainer.utils", "use_adapter", ("model", "adapter_name")),
    ("trl.trainer.reward_trainer", "DataCollatorForPreference", ("pad_token_id",)),
    ("trl.trainer.reward_trainer", "DataCollatorForPreference.torch_call", ("examples",)),
    ("trl", "RewardTrainer._set_signature_columns_if_needed", ()),
    ("trl", "RewardTrainer.compute_loss", ("model", "inputs", "return_outputs", "num_items_in_batch")),
    ("trl.models.utils", "disable_gradient_checkpointing", ("model", "gradient_checkpointing_kwargs")),
    ("trl.experimental.cpo", "CPOConfig", ("loss_type", "cpo_alpha", "simpo_gamma")),
    (
        "trl.experimental.cpo",
        "CPOTrainer",
        ("model", "args", "train_dataset", "processing_class", "peft_config"),
    ),
    ("trl.experimental.orpo", "ORPOConfig", ("beta",)),
    (
        "trl.experimental.orpo",
        "ORPOTrainer",
        ("model", "args", "train_dataset", "processing_class", "peft_config"),
    ),
)
# Attributes a DPOTrainer instance must carry after __init__ (checked on a built trainer).
INSTANCE_ATTRIBUTES = ("_precompute_model_hash", "_metrics", "_signature_columns", "ld_alpha", "ref_model")
# TRL's convention: a PEFT model that came with an adapter named "ref" uses it as the reference.
REF_ADAPTER = "ref"


def resolve(module: str, path: str):
    """The object at ``module``:``path`` (dotted attributes), for the contract test."""
    obj = importlib.import_module(module)
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


class PreferenceCollator(DataCollatorForPreference):
    """TRL's internal preference collator (re-exported here; subclassed by train.trainer)."""


def cpo_classes():
    """(CPOConfig, CPOTrainer) from TRL's experimental package (SimPO and CPO)."""
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    return CPOConfig, CPOTrainer


def orpo_classes():
    """(ORPOConfig, ORPOTrainer) from TRL's experimental package."""
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    return ORPOConfig, ORPOTrainer


def reference_adapter(unwrapped_model):
    """Context in which a PEFT policy acts as its reference: the "ref" adapter when it has one, else none."""
    name = REF_ADAPTER if REF_ADAPTER in unwrapped_model.peft_config else None
    return use_adapter(unwrapped_model, adapter_name=name)


class SeamDPOTrainer(DPOTrainer):
    """DPOTrainer whose private hooks call named methods of ours. Subclasses override ``preference_loss``,
    ``reference_logps`` and ``reference_batch_logps``; the ``stock_*`` methods are TRL's own behaviour."""

    extra_columns: tuple[str, ...] = ()  # dataset columns the collator must receive (not dropped by Trainer)

    # -- hooks TRL calls --------------------------------------------------------------------------------------
    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        self._signature_columns = [*self._signature_columns, *self.extra_columns]

    def _precompute_ref_logps(self, dataset, name: str, batch_size: int):
        return self.reference_logps(dataset, name, batch_size)

    def _compute_loss(self, model, inputs, return_outputs):
        return self.preference_loss(model, inputs, return_outputs)

    def compute_ref_log_probs(self, model, inputs):
        return self.reference_batch_logps(model, inputs)

    # -- our names, TRL's behaviour by default ----------------------------------------------------------------
    def reference_logps(self, dataset, name: str, batch_size: int):
        return self.stock_reference_logps(dataset, name, batch_size)

    def preference_loss(self, model, inputs, return_outputs):
        return self.stock_loss(model, inputs, return_outputs)

    def reference_batch_logps(self, model, inputs):
        return self.stock_reference_batch_logps(model, inputs)

    def stock_reference_logps(self, dataset, name: str, batch_size: int):
        return super()._precompute_ref_logps(dataset, name, batch_size)

    def stock_loss(self, model, inputs, return_outputs):
        return super()._compute_loss(model, inputs, return_outputs)

    def stock_reference_batch_logps(self, model, inputs):
        return super().compute_ref_log_probs(model, inputs)

    # -- private state, read through names of ours ------------------------------------------------------------
    @property
    def weights_hash(self) -> str:
        """TRL's hash of the reference weights (what its own precompute cache keys on)."""
        return self._precompute_model_hash

    @property
    def length_desensitised(self) -> bool:
        """LD-DPO's α is set (TRL's ``ld_alpha``): TRL's reference pass must then run as TRL wrote it."""
        return self.ld_alpha is not None

    def log_means(self, values: dict) -> None:
        """Append the mean of each tensor (gathered over processes) to TRL's per-step metrics."""
        metrics = self._metrics["train" if self.model.training else "eval"]
        for name, value in values.items():
            metrics[name].append(self.accelerator.gather_for_metrics(value.detach()).mean().item())

    def checkpointing_off(self):
        """Context with gradient checkpointing disabled (for a no-grad reference forward)."""
        return disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs)


class RewardCollator(RewardDataCollator):
    """TRL's internal reward-model collator (chosen rows, then rejected rows; ``margin`` passed through), also
    stacking our per-pair weight ``pair_weight``."""

    def torch_call(self, examples: list[dict]) -> dict:
        output = super().torch_call(examples)
        if "pair_weight" in examples[0]:
            output["pair_weight"] = torch.tensor([e["pair_weight"] for e in examples], dtype=torch.float)
        return output


class SeamRewardTrainer(RewardTrainer):
    """TRL's RewardTrainer (Bradley–Terry, TRL's ``margin`` column) with a per-pair weight: the ``pair_weight``
    column reaches the loss, ``pair_loss(chosen_rewards, rejected_rewards, margin, weight)`` (one value)."""

    extra_columns = ("pair_weight",)

    def __init__(self, *args, pair_loss, **kwargs):
        self.pair_loss = pair_loss
        super().__init__(*args, **kwargs)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        missing = [c for c in self.extra_columns if c not in self._signature_columns]
        self._signature_columns = [*self._signature_columns, *missing]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        weight = inputs.pop("pair_weight", None)
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)  # TRL's metrics too
        if weight is not None:
            chosen, rejected = outputs.logits.squeeze(-1).chunk(2)
            loss = self.pair_loss(chosen, rejected, inputs.get("margin"), weight)
        return (loss, outputs) if return_outputs else loss
