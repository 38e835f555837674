"""The method registry: every training method is one `Method` entry in `METHODS`.

An entry says which TRL trainer family builds it (`build`), which rows it reads (`data`: preference pairs or KTO
completions) and of which pair kinds, its TRL loss type or our per-pair loss options (`pair_loss`, typed:
`train.losses.PairLoss`), whether it takes `--agreement`, per-pair columns it adds (`columns`), whether it runs
step-wise (sDPO), how its model is loaded and measured when it is not a causal LM (`held_out`: the reward model),
its own option checks (`check`: `train.method_checks`), and its own options (`options`: shown in their own `--help`
group; set for another method, an error). Adding a method is adding one entry here (its checks in
`train.method_checks`, its loss function in `train.losses` if TRL has none). Heavy imports (trl, the trainer) happen
inside the builders.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.errors import PrefloopError
from train.builders import (
    Build,
    build_dpo_family,
    build_kto,
    build_reward,
    build_sft,
    cpo_family,
    orpo_family,
)
from train.losses import PairLoss
from train.method_checks import (
    OUR_LOSS_TYPES,
    check_dpo,
    check_kto,
    check_rdpo,
    check_rm,
    check_sdpo,
    check_sft,
)
from train.pairs import add_offsets
from train.recompute import recompute_elementwise
from train.reward import (
    add_margins,
    evaluate_pairs,
    load_reward_model,
    reward_metrics,
)

if TYPE_CHECKING:
    from train.options import TrainOptions

log = logging.getLogger(__name__)

# What a pairwise method trains on unless --kinds says otherwise (rank: the pairs rankings expand into;
# edit: labellers' edits over the answers they fixed).
PAIR_KINDS = ("sampled", "imported", "rank", "edit")


@dataclass(frozen=True)
class HeldOut:
    """How a method's model is loaded and evaluated when it is not a causal LM measured by log-probs."""

    load: Callable[[Path, Any], Any]  # (folder, tokenizer) -> model
    evaluate: Callable[[Any, Any, list[dict], int, int], dict]  # (model, tokenizer, rows, batch, max length)
    compare: Callable[[dict, dict, list[dict]], dict]  # (before, after, rows) -> held-out metrics


@dataclass(frozen=True)
class Method:
    help: str
    build: Callable[[TrainOptions, Build, Method], Any]
    # "pairs": chosen/rejected rows; "completions": KTO's desirable/undesirable rows; "sft": prompt + answer rows
    data: str = "pairs"
    kinds: tuple[str, ...] = PAIR_KINDS
    trl_loss: str | None = None  # the TRL loss type of a DPO-family method (dpo: --loss-type)
    pair_loss: Callable[[TrainOptions], PairLoss | None] | None = None  # None: TRL's own loss
    agreement: bool = False  # takes --agreement (per-pair ε or weight)
    columns: Callable[[TrainOptions, list[dict]], dict] | None = (
        None  # adds pair_* columns, returns a summary
    )
    config: Callable[[TrainOptions], dict] = field(default=lambda options: {})  # extra TRL config arguments
    stepwise: bool = False  # sDPO: run once per chunk, each from the previous step
    reference_in_memory: bool = False  # TDPO: a live reference, no precomputed log-probs
    check: Callable[[TrainOptions], None] | None = None
    held_out: HeldOut | None = None  # None: a causal LM, evaluated by its log-probs (train.evaluate)
    whole_sequences: bool = (
        False  # its TRL trainer drops (not cuts) sequences over max_length: fit them whole
    )
    options: tuple[str, ...] = ()  # TrainOptions fields that only this method (and others naming them) reads

    @property
    def learning_curve(self) -> bool:
        """Takes --eval-steps: only the DPO family's trainer is handed the held-out rows to evaluate while training."""
        return self.build is build_dpo_family

    @property
    def reference_free(self) -> bool:
        """Its loss reads no reference model (SimPO, CPO, ORPO: TRL's CPO and ORPO trainers), so DPO's implicit
        reward against the start model, which the held-out report computes for every pairwise method, is not its
        objective (`data.lineage.REFERENCE_FREE` names these methods for the report and `data stats`; a test checks
        the two agree)."""
        return self.build in (cpo_family, orpo_family)

    @property
    def caches_reference(self) -> bool:
        """Reads and writes the workspace's reference log-probs (--ref-cache): the DPO family's trainer does, but
        for TDPO's live reference; every other method's trainer is handed no cache."""
        return self.build is build_dpo_family and not self.reference_in_memory


def _epsilon(options: TrainOptions) -> float:
    """--label-smoothing's ε for our loss, 0 where not given (exo_pair's default ε is TRL's loss's)."""
    return options.label_smoothing or 0.0


def _sigmoid(options: TrainOptions) -> PairLoss:
    return PairLoss(epsilon=_epsilon(options), robust=options.agreement == "robust")


def _dpo_loss(options: TrainOptions) -> PairLoss | None:
    if options.loss_type not in OUR_LOSS_TYPES:
        return None  # ipo, hinge, exo_pair, combinations: TRL's own loss
    robust = options.loss_type == ("robust",) or options.agreement == "robust"
    return PairLoss(epsilon=_epsilon(options), robust=robust)


def _rm_columns(options: TrainOptions, rows: list[dict]) -> dict:
    return {"margins": add_margins(rows, options.rm_margin)}


def _odpo_columns(options: TrainOptions, rows: list[dict]) -> dict:
    return {"odpo_offsets": add_offsets(rows, options.odpo_alpha, options.odpo_default_strength)}


_dpo, _cpo, _orpo = build_dpo_family, cpo_family, orpo_family
SMOOTHING = "label_smoothing"  # ε of our sigmoid/robust loss (and of TRL_SMOOTHED_LOSSES)

METHODS: dict[str, Method] = {
    "dpo": Method(
        "DPO (Rafailov et al. 2023); any TRL loss via --loss-type (sigmoid, ipo, hinge, robust, exo_pair, ...)",
        _dpo,
        pair_loss=_dpo_loss,
        agreement=True,
        check=check_dpo,
        options=("loss_type", "loss_weights", SMOOTHING),
    ),
    "ipo": Method(
        "IPO (Azar et al. 2023): squared loss toward a 1/(2β) margin, robust to deterministic preferences",
        _dpo,
        trl_loss="ipo",
    ),
    "slic": Method("SLiC-HF hinge loss (Zhao et al. 2023): max(0, 1 − β·h)", _dpo, trl_loss="hinge"),
    "rdpo": Method(
        "robust DPO (Chowdhury et al. 2024): unbiased under label flips at rate --label-smoothing",
        _dpo,
        trl_loss="robust",
        pair_loss=lambda o: PairLoss(epsilon=_epsilon(o), robust=True),
        agreement=True,
        check=check_rdpo,
        options=(SMOOTHING,),
    ),
    "dpop": Method(
        "DPO-Positive (Pal et al. 2024): DPO + λ·max(0, log π_ref(y_w) − log π(y_w)) keeps chosen likely",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(
            dpop_lambda=o.dpop_lambda, epsilon=_epsilon(o), robust=o.agreement == "robust"
        ),
        agreement=True,
        options=("dpop_lambda", SMOOTHING),
    ),
    "simpo": Method(
        "SimPO (Meng et al. 2024): reference-free, length-normalised reward, target margin --simpo-gamma",
        _cpo,
        config=lambda o: {"loss_type": "simpo", "cpo_alpha": 0.0, "simpo_gamma": o.simpo_gamma},
        options=("simpo_gamma",),
    ),
    "cpo": Method(
        "CPO (Xu et al. 2024): reference-free sigmoid preference loss + NLL on chosen (--cpo-alpha)",
        _cpo,
        config=lambda o: {"loss_type": "sigmoid", "cpo_alpha": o.cpo_alpha},
        options=("cpo_alpha",),
    ),
    "orpo": Method(
        "ORPO (Hong et al. 2024): NLL + odds-ratio penalty, no reference model, no SFT stage", _orpo
    ),
    "kto": Method(
        "KTO (Ethayarajh et al. 2024): single desirable/undesirable labels, prospect-theory loss",
        build_kto,
        data="completions",
        kinds=(),
        check=check_kto,
        options=("desirable_weight", "undesirable_weight", "kto_from"),
    ),
    "spin": Method(
        "SPIN (Chen et al. 2024): DPO sigmoid on gold-vs-generated pairs, previous iterate as reference",
        _dpo,
        kinds=("spin",),
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
        options=(SMOOTHING,),
    ),
    "odpo": Method(
        "ODPO (Amini et al. 2024): DPO where chosen must win by Δ = α·log(label strength 1-4), --odpo-alpha",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
        columns=_odpo_columns,
        options=("odpo_alpha", "odpo_default_strength", SMOOTHING),
    ),
    "tdpo1": Method(
        "TDPO1 (Zeng et al. 2024): DPO + token-level sequential KL; reference in memory (copy, or LoRA off)",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(epsilon=_epsilon(o), tdpo=True),
        reference_in_memory=True,
        options=(SMOOTHING,),
    ),
    "tdpo2": Method(
        "TDPO2 (Zeng et al. 2024): TDPO1, KL scaled by --tdpo-alpha, chosen side stop-gradient; ref in memory",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=lambda o: PairLoss(epsilon=_epsilon(o), tdpo=True, tdpo_alpha=o.tdpo_alpha),
        reference_in_memory=True,
        options=("tdpo_alpha", SMOOTHING),
    ),
    "rm": Method(
        "reward model (Bradley–Terry, TRL's RewardTrainer): --rm-margin strength (Llama 2), --agreement weight; "
        "held-out accuracy by strength; registered as method rm",
        build_reward,
        agreement=True,
        columns=_rm_columns,
        check=check_rm,
        held_out=HeldOut(load_reward_model, evaluate_pairs, reward_metrics),
        whole_sequences=True,
        options=("rm_margin", "rm_from_ratings"),
    ),
    "sft": Method(
        "SFT (TRL's SFTTrainer): the answer's tokens only, on gold answers and labellers' edits (--sft-from); "
        "held-out: mean log p(answer) before/after",
        build_sft,
        data="sft",
        kinds=(),
        check=check_sft,
        options=("sft_from",),
    ),
    "sdpo": Method(
        "sDPO (Kim et al. 2024): DPO in --sdpo-steps chunks (default: by round), each step's result the next "
        "reference",
        _dpo,
        trl_loss="sigmoid",
        pair_loss=_sigmoid,
        agreement=True,
        stepwise=True,
        check=check_sdpo,
        options=("sdpo_steps", SMOOTHING),
    ),
}


def method_options() -> dict[str, tuple[str, ...]]:
    """Each method-specific option and the methods that read it."""
    owners: dict[str, tuple[str, ...]] = {}
    for name, method in METHODS.items():
        for option in method.options:
            owners[option] = (*owners.get(option, ()), name)
    return owners


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise PrefloopError(f"--method {name!r}: expected one of {', '.join(METHODS)}")
    return METHODS[name]


def _zero3() -> bool:
    """DeepSpeed ZeRO-3 partitions every weight and gathers it in module hooks, which a recompute that calls a
    norm's forward directly would bypass: no elementwise recompute there (``accelerate launch`` with
    configs/accelerate/zero3.yaml sets this before any model or TRL config exists)."""
    return os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3"


def build_trainer(options: TrainOptions, b: Build):
    """The TRL trainer for ``options.method`` over ``b.rows`` (TRL's columns). Without gradient checkpointing, the
    model's elementwise work is recomputed in the backward pass instead of kept (`train.recompute`)."""
    method = get_method(options.method)
    if not options.gradient_checkpointing and not _zero3():
        counts = recompute_elementwise(b.model)
        log.info("recomputing in the backward pass: %(norms)d norms, %(mlps)d MLP activations", counts)
    return method.build(options, b, method)
