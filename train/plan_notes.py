"""What a run says with its memory plan's line (`train.run`): the steps --max-steps makes (it overrides --epochs),
and options that the plan leaves without effect."""

from __future__ import annotations

import numpy as np

from data.errors import number_shown
from train.builders import rows_per_step
from train.method_checks import off_default
from train.options import TrainOptions

ADAPTER_OPTIONS = ("lora_alpha", "lora_dropout")  # read only where a LoRA adapter trains


def unused_adapter_options(options: TrainOptions, planned_lora_r: int) -> str | None:
    """The warning where --lora-alpha / --lora-dropout are set, --lora-r is not, and the plan chose full fine-tuning
    (``planned_lora_r`` 0), which reads neither (beside --lora-r 0 they are refused: `train.options.check_given`)."""
    given = [
        f"--{name.replace('_', '-')} {number_shown(getattr(options, name))}"
        for name in off_default(options, ADAPTER_OPTIONS)
    ]
    if not given or options.lora_r is not None or planned_lora_r:
        return None
    return (
        f"{' and '.join(given)} unused: the memory plan chose full fine-tuning, which trains no LoRA adapter; "
        "--lora-r N trains LoRA"
    )


def steps_note(options: TrainOptions, rows: int, stepwise: bool = False) -> str:
    """What --max-steps trains, for the plan's line: its steps and how much of the ``rows`` fitted they train
    (`_share_trained`; TRL's max_steps overrides --epochs); "" without --max-steps. ``stepwise``: per step of a
    step-wise method, whose chunks differ in size."""
    if not options.max_steps:
        return ""
    per_step = rows_per_step(options)
    n = options.max_steps
    steps = f"; --max-steps {n}: {n} step{'s' * (n > 1)} of {per_step} row{'s' * (per_step > 1)}"
    if stepwise:
        return f"{steps} in each of the method's steps, not --epochs {number_shown(options.epochs)}"
    return f"{steps}, {_share_trained(n * per_step, rows)}, not --epochs {number_shown(options.epochs)}"


def _share_trained(trained: int, rows: int) -> str:
    """How much of the ``rows`` fitted ``trained`` rows are: under one epoch, those rows and their share of an epoch
    to 3 significant digits (1 step of 2 rows of 986 read "0.00 epochs"); else its epochs, to 2 decimals."""
    if trained >= rows:
        return f"{trained / rows:.2f} epochs of the {rows} rows"
    share = np.format_float_positional(100 * trained / rows, precision=3, fractional=False, trim="-")
    return f"{trained} of the {rows} rows ({share} % of an epoch)"
