"""TRL's DPOTrainer (through `train.seam`) with small additions: our per-pair loss for the sigmoid/robust family
(DPOP, label noise from labeller agreement, per-pair weights, ODPO offsets, TDPO's token-level KL) on the chunked
log-prob head (`train.head`), and reference log-probs cached in the workspace (shared by the ranks of a
multi-process run).

Which loss runs: every method whose loss is sigmoid or robust (dpo with --loss-type sigmoid or robust, rdpo, dpop,
spin, odpo, tdpo1/2, sdpo) runs ``train.losses.pair_loss`` through ``preference_loss`` below; the other TRL loss
types (ipo, hinge, exo_pair, combinations, ...) run TRL's own loss unchanged. Both reuse TRL's tokenisation,
collation, reference pass and training loop.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from dataclasses import dataclass

import torch
from accelerate.utils import gather_object, is_peft_model
from datasets import Dataset
from torch.utils.data import DataLoader
from tqdm import tqdm

from data.records import content_id, now
from data.workspace import Workspace
from train.head import (
    compact_logits,
    completion_logps,
    per_row_sum,
    plain_head,
    position_kl,
    through_head,
    token_logps,
    token_logps_sum,
)
from train.losses import PairLoss, pair_loss, sequential_kl, tdpo_offset
from train.seam import PreferenceCollator, SeamDPOTrainer, reference_adapter

log = logging.getLogger(__name__)

# Per-pair columns the collator carries to the loss (absent columns are simply not used).
PAIR_COLUMNS = ("pair_weight", "pair_epsilon", "pair_offset")
REF_COLUMNS = ("ref_chosen_logps", "ref_rejected_logps")


@dataclass
class PairCollator(PreferenceCollator):
    """TRL's preference collator, plus the per-pair float columns our losses use."""

    def torch_call(self, examples: list[dict]) -> dict:
        output = super().torch_call(examples)
        for name in PAIR_COLUMNS:
            if name in examples[0]:
                output[name] = torch.tensor([float(e[name]) for e in examples])
        return output


class RefCache:
    """Reference log-probs in the workspace's ``reflogps`` table, keyed by (reference fingerprint, pair texts)."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    @staticmethod
    def row_id(reference: str, key: str) -> str:
        return content_id("reflogps", reference, key)

    def lookup(self, reference: str, keys: list[str]) -> dict[str, tuple[float, float]]:
        table = self.workspace.frame("reflogps").set_index("id")
        found = {}
        for key in keys:
            row_id = self.row_id(reference, key)
            if row_id in table.index:
                found[key] = (table.at[row_id, "chosen_logps"], table.at[row_id, "rejected_logps"])
        return found

    def store(self, reference: str, keys, pair_ids, chosen, rejected) -> None:
        created = now()
        rows = [
            {
                "id": self.row_id(reference, key),
                "pair_id": pair_id,
                "reference": reference,
                "chosen_logps": float(c),
                "rejected_logps": float(r),
                "created_at": created,
            }
            for key, pair_id, c, r in zip(keys, pair_ids, chosen, rejected)
        ]
        self.workspace.append_rows({"reflogps": rows}, skip_existing=True)


class PreferenceTrainer(SeamDPOTrainer):
    """DPOTrainer + our per-pair loss (``custom_loss``, None: TRL's loss; with ``tdpo`` a live reference forward for
    the sequential KL) + the workspace reference cache (``ref_cache``, unused by TDPO)."""

    extra_columns = PAIR_COLUMNS

    def __init__(
        self,
        model,
        *args,
        custom_loss: PairLoss | None = None,
        ref_cache: RefCache | None = None,
        cache_tag: str = "",
        **kwargs,
    ):
        tdpo = bool(custom_loss and custom_loss.tdpo)
        if tdpo and kwargs.get("peft_config") is None and kwargs.get("ref_model") is None:
            # TDPO needs the reference's per-token distributions during training, so no cached log-probs: a frozen
            # copy of the start model stays in memory (with LoRA, TRL's rule: the policy with adapters disabled).
            kwargs["ref_model"] = copy.deepcopy(model).eval().requires_grad_(False)
        # Read by reference_logps, which DPOTrainer.__init__ calls.
        self.custom_loss = custom_loss
        self.ref_cache = None if tdpo else ref_cache
        self.cache_tag = cache_tag
        self.cache_stats = {"hits": 0, "computed": 0}
        super().__init__(model, *args, **kwargs)

    # -- reference log-probs -------------------------------------------------------------------------------
    def reference_fingerprint(self) -> str:
        args = self.args
        return content_id(
            self.weights_hash,
            str(self.model.dtype),
            bool(args.bf16),
            args.max_length,
            args.truncation_mode,
            self.ld_alpha,
            self.cache_tag,
        )

    def reference_logps(self, dataset: Dataset, name: str, batch_size: int) -> Dataset:
        if self.ref_cache is None or "ref_key" not in dataset.column_names:
            return self.stock_reference_logps(dataset, name, batch_size)
        reference = self.reference_fingerprint()
        keys = dataset["ref_key"]
        found = self.ref_cache.lookup(reference, keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        self.cache_stats["hits"] += len(keys) - len(missing)
        self.cache_stats["computed"] += len(missing)
        if missing:
            log.info("reference log-probs: %d cached, computing %d (%s)", len(found), len(missing), name)
            chosen, rejected = self._reference_pass(dataset.select(missing), batch_size)
            subset = [keys[i] for i in missing]
            pair_ids = (
                [dataset[i]["pair_id"] for i in missing] if "pair_id" in dataset.column_names else subset
            )
            if self.accelerator.is_main_process:  # one writer; the other ranks hold the same values
                self.ref_cache.store(reference, subset, pair_ids, chosen, rejected)
            self.accelerator.wait_for_everyone()
            found.update(zip(subset, zip(chosen, rejected)))
        else:
            log.info("reference log-probs: all %d read from the workspace cache (%s)", len(keys), name)
        dataset = dataset.add_column("ref_chosen_logps", [found[k][0] for k in keys])
        return dataset.add_column("ref_rejected_logps", [found[k][1] for k in keys])

    def _reference_pass(self, dataset: Dataset, batch_size: int) -> tuple[list[float], list[float]]:
        """(chosen, rejected) reference log-probs of every row of ``dataset``: each process scores a contiguous
        share of the rows, and every process gets all of them back in order."""
        indices = list(range(len(dataset)))
        with self.accelerator.split_between_processes(indices) as share:
            chosen, rejected = self._reference_rows(dataset.select(share), batch_size) if share else ([], [])
        if self.accelerator.num_processes > 1:
            chosen, rejected = gather_object(chosen), gather_object(rejected)
        return chosen, rejected

    def _reference_rows(self, dataset: Dataset, batch_size: int) -> tuple[list[float], list[float]]:
        columns = ["prompt_ids", "chosen_ids", "rejected_ids"]
        loader = DataLoader(
            dataset.select_columns(columns).with_format(None),
            batch_size=batch_size,
            collate_fn=self.data_collator,
            shuffle=False,
        )
        model = self.ref_model or self.model
        model.to(self.accelerator.device)
        chosen, rejected = [], []
        for batch in tqdm(loader, desc="reference log-probs", unit="batch", disable=len(loader) < 2):
            batch = {k: v.to(self.accelerator.device) for k, v in batch.items()}
            c, r = self.reference_batch_logps(model, batch)
            chosen += c.float().cpu().tolist()
            rejected += r.float().cpu().tolist()
        return chosen, rejected

    def reference_batch_logps(self, model, inputs):
        """Reference log-probs of a batch through the chunked head (`train.head`), the head training uses."""
        inputs = {k: v for k, v in inputs.items() if k not in PAIR_COLUMNS}
        mask = inputs["completion_mask"]
        if self.length_desensitised:
            return self.stock_reference_batch_logps(model, inputs)
        adapter = contextlib.nullcontext()
        if self.ref_model is None and is_peft_model(
            self.model
        ):  # LoRA: the reference is the adapter-free model
            adapter = reference_adapter(self.accelerator.unwrap_model(self.model))
        model_kwargs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        with torch.no_grad(), adapter, self.accelerator.autocast():
            return completion_logps(model, model_kwargs, mask).chunk(2, dim=0)

    # -- loss ----------------------------------------------------------------------------------------------
    def preference_loss(self, model, inputs, return_outputs):
        extras = {k: inputs.pop(k) for k in PAIR_COLUMNS if k in inputs}
        if not self.custom_loss:
            return self.stock_loss(model, inputs, return_outputs)
        model_kwargs = {k: v for k, v in inputs.items() if k not in ("completion_mask", *REF_COLUMNS)}
        offset = extras.get("pair_offset")
        loss_options = self.custom_loss
        if loss_options.tdpo:
            logps, ref_logps, seqkl = self._tdpo_terms(model, model_kwargs, inputs["completion_mask"])
            ref_chosen_logps, ref_rejected_logps = ref_logps.chunk(2, dim=0)
            chosen_seqkl, rejected_seqkl = seqkl.chunk(2, dim=0)
            offset = tdpo_offset(chosen_seqkl, rejected_seqkl, self.beta, loss_options.tdpo_alpha)
            self.log_means({"seqkl/chosen": chosen_seqkl, "seqkl/rejected": rejected_seqkl})
        else:
            logps = completion_logps(model, model_kwargs, inputs["completion_mask"])
            ref_chosen_logps, ref_rejected_logps = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        chosen_logps, rejected_logps = logps.chunk(2, dim=0)
        chosen_logratios = chosen_logps - ref_chosen_logps
        rejected_logratios = rejected_logps - ref_rejected_logps
        epsilon = extras.get("pair_epsilon")
        if epsilon is None and loss_options.epsilon:
            epsilon = torch.full_like(chosen_logratios, loss_options.epsilon)
        per_pair = pair_loss(
            chosen_logratios,
            rejected_logratios,
            self.beta,
            dpop_lambda=loss_options.dpop_lambda,
            epsilon=epsilon,
            robust=loss_options.robust,
            offset=offset,
        )
        weight = extras.get("pair_weight")
        loss = (per_pair * weight).mean() if weight is not None else per_pair.mean()

        chosen_rewards = self.beta * chosen_logratios.detach()
        rejected_rewards = self.beta * rejected_logratios.detach()
        self.log_means(
            {
                "rewards/chosen": chosen_rewards,
                "rewards/rejected": rejected_rewards,
                "rewards/accuracies": (chosen_rewards > rejected_rewards).float(),
                "rewards/margins": chosen_rewards - rejected_rewards,
                "logps/chosen": chosen_logps,
                "logps/rejected": rejected_logps,
            }
        )
        return (loss, None) if return_outputs else loss

    def _tdpo_terms(self, model, model_kwargs: dict, completion_mask: torch.Tensor):
        """(policy log-probs, reference log-probs, D_SeqKL(π_ref‖π_θ)), each (2B,), from one policy and one
        reference forward over the compact completion positions, through the chunked head. The reference is the
        frozen copy built with the trainer (``ref_model``) or, with LoRA, the policy with its adapters disabled."""
        reference, adapters_off = self.ref_model, contextlib.nullcontext()
        if reference is None:  # LoRA: TRL's own rule (a "ref" adapter if the model came with one, else none)
            reference = model
            adapters_off = reference_adapter(self.accelerator.unwrap_model(model))
        head, ref_head = plain_head(model), plain_head(reference)
        if head is None or ref_head is None:
            return self._tdpo_terms_full_logits(model, reference, adapters_off, model_kwargs, completion_mask)

        def ref_terms(hidden, targets):  # (N, H + 1): the hidden states and the token log-probs
            return torch.cat([hidden.float(), token_logps(hidden, ref_head, targets)[:, None]], dim=1)

        with torch.no_grad(), self.checkpointing_off(), adapters_off:
            ref_out, rows = through_head(reference, model_kwargs, completion_mask, ref_head, ref_terms)
        ref_hidden, ref_logps = ref_out[:, :-1], ref_out[:, -1]

        def policy_terms(hidden, targets):  # (2, N): token log-probs, KL(π_ref ‖ π_θ) per position
            return torch.stack(
                [token_logps(hidden, head, targets), position_kl(hidden, head, ref_hidden, ref_head)]
            )

        (logps, seqkl), _ = through_head(model, model_kwargs, completion_mask, head, policy_terms)
        batch = completion_mask.size(0)
        return (
            per_row_sum(logps, rows, batch),
            per_row_sum(ref_logps, rows, batch),
            per_row_sum(seqkl, rows, batch),
        )

    def _tdpo_terms_full_logits(self, model, reference, adapters_off, model_kwargs, completion_mask):
        """``_tdpo_terms`` on the compact full logits, for models without a plain head (a logit soft-cap)."""
        logits, token_ids, mask = compact_logits(model, model_kwargs, completion_mask)
        with torch.no_grad(), self.checkpointing_off(), adapters_off:
            ref_logits, _, _ = compact_logits(reference, model_kwargs, completion_mask)
        logps = token_logps_sum(logits, token_ids, mask)
        ref_logps = token_logps_sum(ref_logits, token_ids, mask)
        return logps, ref_logps, sequential_kl(logits, ref_logits, mask)
