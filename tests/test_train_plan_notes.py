"""What a run says beside its memory plan's line: options the plan, --max-steps or the labels leave without effect."""

from __future__ import annotations

import logging

import pytest

from data.errors import PrefloopError
from train.memory import GIB
from train.methods import get_method
from train.options import TrainOptions
from train.run import _pair_columns, _plan, _trained_notes


def plan_logs(
    caplog, monkeypatch, model, gib: float, rows: int = 18, method: str = "dpo", **given
) -> list[str]:
    """The lines `train.run._plan` logs for the tiny model with ``gib`` GiB available and ``rows`` fitted rows."""
    monkeypatch.setattr("train.run.available_memory", lambda: int(gib * GIB))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="train.run"):
        _plan(TrainOptions(**given), get_method(method), model, {"longest_tokens": 64, "rows_trained": rows})
    return [record.getMessage() for record in caplog.records if record.name == "train.run"]


@pytest.mark.parametrize(
    "given, said",
    [
        ({"lora_alpha": 32}, "--lora-alpha 32 unused"),
        ({"lora_alpha": 32, "lora_dropout": 0.1}, "--lora-alpha 32 and --lora-dropout 0.1 unused"),
    ],
)
def test_adapter_options_the_plan_leaves_unused_are_said(caplog, monkeypatch, tiny_model_dir, given, said):
    """--lora-alpha without --lora-r where the plan chose full fine-tuning: the run said only "full fine-tuning"."""
    lines = plan_logs(caplog, monkeypatch, tiny_model_dir, 64, **given)
    assert lines[0].startswith("memory plan: full fine-tuning")
    assert lines[1] == (
        f"{said}: the memory plan chose full fine-tuning, which trains no LoRA adapter; --lora-r N trains LoRA"
    )


@pytest.mark.parametrize("given", [{}, {"lora_alpha": 32, "lora_r": 8}])
def test_adapter_options_that_train_say_nothing(caplog, monkeypatch, tiny_model_dir, given):
    """At their defaults, or read by the LoRA adapter --lora-r asks for: the plan's line alone."""
    assert len(plan_logs(caplog, monkeypatch, tiny_model_dir, 64, **given)) == 1


def test_the_plan_line_says_the_steps_and_epochs_of_max_steps(caplog, monkeypatch, tiny_model_dir):
    """--max-steps overrides --epochs (TRL's max_steps): 30 steps of 1 row ran 1.67 epochs of 18 rows, --epochs 1
    said nowhere otherwise; under an epoch, the rows it trains and their share of one, to 3 significant digits."""
    [line] = plan_logs(caplog, monkeypatch, tiny_model_dir, 64, max_steps=30, batch_size=1)
    assert line.startswith("memory plan: full fine-tuning, micro-batch 1, about")
    assert line.endswith("; --max-steps 30: 30 steps of 1 row, 1.67 epochs of the 18 rows, not --epochs 1")
    [line] = plan_logs(
        caplog, monkeypatch, tiny_model_dir, 64, rows=40, max_steps=5, batch_size=2, grad_accum=2
    )
    assert line.endswith(
        "; --max-steps 5: 5 steps of 4 rows, 20 of the 40 rows (50 % of an epoch), not --epochs 1"
    )
    [line] = plan_logs(caplog, monkeypatch, tiny_model_dir, 64, method="sdpo", max_steps=3, batch_size=1)
    assert line.endswith("; --max-steps 3: 3 steps of 1 row in each of the method's steps, not --epochs 1")
    [line] = plan_logs(caplog, monkeypatch, tiny_model_dir, 64, max_steps=1)  # one step: no "1 steps"
    assert line.endswith(
        "; --max-steps 1: 1 step of 4 rows, 4 of the 18 rows (22.2 % of an epoch), not --epochs 1"
    )
    # a step of a large file: it read "0.00 epochs of the 986 rows"
    [line] = plan_logs(caplog, monkeypatch, tiny_model_dir, 64, rows=986, max_steps=1, batch_size=2)
    assert line.endswith(
        "; --max-steps 1: 1 step of 2 rows, 2 of the 986 rows (0.203 % of an epoch), not --epochs 1"
    )
    [line] = plan_logs(caplog, monkeypatch, tiny_model_dir, 64)  # by epochs: the plan alone
    assert "--max-steps" not in line


def weigh(options: TrainOptions, rows: list[dict], trained: int | None = None) -> dict:
    """`train.run`'s per-pair columns on ``rows`` and their notes over the first ``trained`` (all by default)."""
    _pair_columns(options, get_method("dpo"), rows)
    return _trained_notes(options, get_method("dpo"), rows[:trained], len(rows))


@pytest.mark.parametrize(
    "sources, weight, trained, said",
    [
        (
            ["machine", "machine", "machine"],
            0.5,
            None,
            "--machine-weight 0.5: all 3 training rows are decided by machine",
        ),
        (["machine", "human"], 0.5, None, None),  # a human row: the weight shifts the rows' shares
        (["machine", "machine"], 1.0, None, None),
        # --max-steps trains 2 of 4 rows: the warning counts those, and says so
        (
            ["machine"] * 4,
            0.5,
            2,
            "--machine-weight 0.5: all 2 rows trained (of 4 fitted) are decided by machine",
        ),
        # the rows trained are all machine rows, the human row beyond --max-steps: every row trained weighs alike
        (["machine", "machine", "human"], 0.5, 2, "--machine-weight 0.5: all 2 rows trained (of 3 fitted)"),
    ],
)
def test_a_machine_weight_that_weighs_every_row_alike_is_said(caplog, sources, weight, trained, said):
    """--machine-weight where every row trained is machine-decided scales the loss and nothing else."""
    rows = [{"source": source} for source in sources]
    options = TrainOptions(labels="auto", machine_weight=weight)
    with caplog.at_level(logging.WARNING, logger="train.run"):
        notes = weigh(options, rows, trained)
    lines = [record.getMessage() for record in caplog.records if record.name == "train.run"]
    assert len(lines) == (said is not None)
    if said:
        assert lines[0].startswith(said) and lines[0].endswith(
            "(--labels auto), so it weighs every row alike and changes only the loss's scale"
        )
    counted = rows[:trained]  # metrics.json's labels count the rows trained too
    assert notes["labels"]["machine_rows"] == sum(row["source"] == "machine" for row in counted)
    assert notes["labels"]["human_rows"] == sum(row["source"] == "human" for row in counted)


def test_a_machine_weight_of_0_where_every_row_is_machine_decided_is_refused():
    """Weight 0 on rows machines alone decided weighs every pair 0: the run trained nothing, with only the warning.
    With a person's row beside them, that row still trains: no error."""
    options = TrainOptions(labels="machine", machine_weight=0)
    rows = [{"source": "machine"}, {"source": "machine"}]
    with pytest.raises(PrefloopError) as caught:
        weigh(options, rows)
    assert str(caught.value) == (
        "--machine-weight 0: all 2 training rows are decided by machine labellers only (--labels machine), "
        "so weight 0 leaves nothing to train: give --machine-weight above 0 (1, the default, weighs them as "
        "people's rows)"
    )
    mixed = [{"source": "machine"}, {"source": "human"}]
    weigh(TrainOptions(labels="all", machine_weight=0), mixed)
    assert [row["pair_weight"] for row in mixed] == [0.0, 1.0]
