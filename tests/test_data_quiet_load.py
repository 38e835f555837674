"""transformers draws a "Loading weights" progress bar on every model load, a line of its own in each job's log
however small the model; our loads (`data.model_load.load_pretrained`: generate's transformers engine, the judges,
train's start model and its reloads of the folders it saved) draw none, and leave the switch as they found it."""

from __future__ import annotations

import torch

from data.model_load import load_pretrained


def test_a_load_draws_no_progress_bar(tiny_model_dir, capfd):
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    capfd.readouterr()
    model = load_pretrained(AutoModelForCausalLM.from_pretrained, tiny_model_dir, dtype=torch.float32)
    assert model.config.num_hidden_layers == 2
    assert capfd.readouterr().err == ""
    # the bar is off for our load alone: transformers' own switch, and a plain load's bar, are as they were
    assert hf_logging.is_progress_bar_enabled()
    AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert "Loading weights" in capfd.readouterr().err
