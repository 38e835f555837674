"""transformers draws a "Loading weights" progress bar on every model load, a line of its own in each job's log
however small the model; our loads (`data.model_load.load_pretrained`: generate's transformers engine, the judges,
train's start model and its reloads of the folders it saved, the one-time GGUF conversion) draw none, and leave the
switch as they found it."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from data import provision
from data.model_load import load_pretrained
from tests.conftest import CHAT_TEMPLATE


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


def write_gguf(model_dir: Path, path: Path) -> Path:
    """The tiny model and its tokenizer written as a float32 Llama GGUF (q and k as they are: llama.cpp permutes
    them, so it answers otherwise; what is measured here is the conversion's output on the terminal)."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    vocab = json.loads((model_dir / "tokenizer.json").read_text())["model"]
    tokens = sorted(vocab["vocab"], key=vocab["vocab"].get)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_rope_dimension_count(config["head_dim"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.NORMAL] * len(tokens))
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in vocab["merges"]])
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_eos_token_id(config["eos_token_id"])
    writer.add_chat_template(CHAT_TEMPLATE)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])
    for key, value in load_file(str(model_dir / "model.safetensors")).items():
        writer.add_tensor(names.get_name(key, try_suffixes=(".weight",)), value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_one_time_gguf_conversion_draws_no_progress_bar(tiny_model_dir, tmp_path, monkeypatch, capfd):
    """It drew three: the GGUF's de-quantization (a tqdm of the reader's own, which the hook does not reach), the
    load and the save."""
    from transformers import modeling_gguf_pytorch_utils as gguf_reader
    from transformers.utils import logging as hf_logging

    reader_bar = gguf_reader.tqdm
    write_gguf(tiny_model_dir, tmp_path / "tiny.gguf")
    monkeypatch.setenv("PREFLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(provision.EMBEDDED, "tiny", provision.EmbeddedModel("tiny", "tiny==0", "tiny.gguf"))
    monkeypatch.setattr(provision, "_gguf_location", lambda model: tmp_path)
    capfd.readouterr()
    folder = provision.provision_model("tiny")
    assert capfd.readouterr().err == ""
    assert provision.is_model_dir(folder) and folder == tmp_path / "home" / "models" / "tiny"
    assert gguf_reader.tqdm is reader_bar and hf_logging.is_progress_bar_enabled()  # as they were
