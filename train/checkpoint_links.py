"""The trainer's own writes into the run's folder, kept off links planted there.

transformers saves each checkpoint into ``OUT/checkpoint-N`` and TRL writes its model card to ``OUT/README.md``,
both by path (a plain ``open``, ``os.makedirs(exist_ok=True)``): a link at either name sends the checkpoint's
weights and optimizer state, or the card, to whatever it names. `CheckpointLinks` makes each checkpoint's folder
itself just before the trainer saves (``mkdir`` refuses a name that is taken, never following a link there),
refuses a README.md that is no regular file, and after the save refuses a link found in the checkpoint (one
swapped in while it was written). A refusal stops the run in one line naming the path; the checkpoints before
it stay, for ``--resume`` once the link is gone.
"""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback

from data.files import mode_of, not_a_file, write_error
from data.saved_folders import check_plain, refuse_links
from train.out_folder import check_own_folders

CARD = "README.md"  # TRL's model card, drafted at each checkpoint (`train.report` removes it at the end)


def make_checkpoint_folder(out: Path, step: int) -> Path:
    """``OUT/checkpoint-STEP`` made for the save at ``step``; anything at the name (a link, a file, a folder a
    save of this step left) is refused, naming it."""
    folder = out / f"checkpoint-{step}"
    try:
        folder.mkdir()
    except FileExistsError:
        raise not_a_file(folder, mode_of(folder)) from None
    except OSError as exc:
        raise write_error(exc, folder) from exc
    return folder


class CheckpointLinks(TrainerCallback):
    """Checks ``out`` before and after each of the trainer's saves (main process only: it alone writes); ``own``:
    its folders prefloop named, refused where one is a link (`train.out_folder.check_own_folders`)."""

    def __init__(self, out: Path, own: tuple[Path, ...] = ()):
        self.out, self.own = Path(out), own

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save and state.is_world_process_zero:
            check_own_folders(self.own)
            check_plain(self.out / CARD)
            make_checkpoint_folder(self.out, state.global_step)
        return control

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            check_plain(self.out / CARD)
            refuse_links(self.out / f"checkpoint-{state.global_step}")
        return control
