"""The real sample data: imported, exported with TRL's column names, loaded by `datasets`, trained on by TRL."""

from __future__ import annotations

import math

import pytest

from data.__main__ import main
from data.provision import provision_samples


@pytest.fixture(scope="module")
def samples():
    return provision_samples()


def _train_one_step(trainer_name: str, parquet, model_dir, tokenizer, tmp_path):
    import datasets
    import trl
    from transformers import AutoModelForCausalLM

    dataset = datasets.load_dataset("parquet", data_files=str(parquet), split="train")
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    before = [p.detach().clone() for p in model.parameters()]
    common = dict(
        output_dir=str(tmp_path / trainer_name),
        per_device_train_batch_size=4,
        max_steps=1,
        learning_rate=1e-3,
        report_to="none",
        logging_steps=1,
        max_length=128,
        use_cpu=True,
        save_strategy="no",
    )
    if trainer_name == "dpo":
        args = trl.DPOConfig(**common)
        trainer = trl.DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    else:
        args = trl.KTOConfig(**common)
        trainer = trl.KTOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    result = trainer.train()
    assert math.isfinite(result.training_loss) and result.training_loss > 0
    assert any(not (a == b).all() for a, b in zip(before, model.parameters()))
    return dataset


def test_dpo_demo_exports_300_rows_that_trl_trains_on(samples, tiny_model_dir, tiny_tokenizer, tmp_path):
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(samples["dpo"])]) == 0
    out = tmp_path / "dpo.parquet"
    assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(out)]) == 0
    dataset = _train_one_step("dpo", out, tiny_model_dir, tiny_tokenizer, tmp_path)
    assert dataset.num_rows == 300
    assert {"prompt", "chosen", "rejected"} <= set(dataset.column_names)


def test_kto_demo_exports_rows_that_trl_trains_on(samples, tiny_model_dir, tiny_tokenizer, tmp_path):
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), str(samples["kto"])]) == 0
    out = tmp_path / "kto.parquet"
    assert main(["export", "-w", str(ws), "--format", "kto", "--out", str(out)]) == 0
    dataset = _train_one_step("kto", out, tiny_model_dir, tiny_tokenizer, tmp_path)
    assert dataset.num_rows == 300
    assert sum(dataset["label"]) == 150
