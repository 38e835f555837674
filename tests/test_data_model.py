"""The embedded real default model: provisioned offline from the wheel's GGUF, chat template intact, sane answers."""

from __future__ import annotations

import pytest

from data.provision import ProvisionError, provision_model, resolve_model


def test_resolve_rejects_what_is_not_a_model(tmp_path):
    with pytest.raises(ProvisionError, match="not a model"):
        resolve_model(str(tmp_path))
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_local_folder_resolves_to_itself(tiny_model_dir):
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)


def test_default_model_answers_a_chat_prompt():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = provision_model()
    assert resolve_model("smollm2-135m") == str(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert "<|im_start|>" in tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(path)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=20, do_sample=False)
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
