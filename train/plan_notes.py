"""What a run says beside its memory plan's line (`train.run`): options that the plan leaves without effect."""

from __future__ import annotations

from dataclasses import fields

from train.options import TrainOptions

ADAPTER_OPTIONS = ("lora_alpha", "lora_dropout")  # read only where a LoRA adapter trains


def _off_default(options: TrainOptions, names: tuple[str, ...]) -> list[str]:
    """The options of ``names`` not at their default, as flags with their values (`--lora-alpha 32`)."""
    defaults = {f.name: f.default for f in fields(TrainOptions)}
    return [
        f"--{name.replace('_', '-')} {getattr(options, name)}"
        for name in names
        if getattr(options, name) != defaults[name]
    ]


def unused_adapter_options(options: TrainOptions, planned_lora_r: int) -> str | None:
    """The warning where --lora-alpha / --lora-dropout are set, --lora-r is not, and the plan chose full fine-tuning
    (``planned_lora_r`` 0), which reads neither (beside --lora-r 0 they are refused: `train.options.check_given`)."""
    given = _off_default(options, ADAPTER_OPTIONS)
    if not given or options.lora_r is not None or planned_lora_r:
        return None
    return (
        f"{' and '.join(given)} unused: the memory plan chose full fine-tuning, which trains no LoRA adapter; "
        "--lora-r N trains LoRA"
    )
