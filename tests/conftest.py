"""Session-scoped tiny stand-ins built offline: a BPE tokenizer trained with `tokenizers` and a 2-layer Llama
(hidden 64, 2 heads of 32, the smallest head size vLLM's CPU backend takes). Nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

# Tiny models run 10-20x faster on one thread than on two here (thread hand-off dominates such small matmuls).
torch.set_num_threads(1)

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "The capital of France is Paris. The capital of Italy is Rome.",
    "Write a short poem about the sea. The sea is wide and blue.",
    "user assistant system: you are a helpful assistant that answers questions.",
    "Explain how to make crepes: mix flour, eggs, milk and butter, then cook thin layers.",
    "def add(a, b): return a + b  # numbers 0 1 2 3 4 5 6 7 8 9",
] * 20


def build_tiny_tokenizer(path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="<|im_end|>",
        bos_token="<|im_start|>",
        chat_template=CHAT_TEMPLATE,
    )
    fast.save_pretrained(path)
    return fast


def build_tiny_model(path: Path, vocab_size: int, pad_id: int, eos_id: int, bos_id: int):
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=512,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        bos_token_id=bos_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(pad_token_id=pad_id, eos_token_id=eos_id, bos_token_id=bos_id)
    model.save_pretrained(path)
    return model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A folder with a tiny Llama and its tokenizer, loadable with from_pretrained (and by vLLM)."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_tiny_tokenizer(path)
    build_tiny_model(
        path, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id
    )
    return path


@pytest.fixture(scope="session")
def tiny_base_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model saved without a chat template, as a base model is (e.g. Gemma-3-270m base)."""
    import json
    import shutil

    path = tmp_path_factory.mktemp("tiny-base") / "model"
    shutil.copytree(tiny_model_dir, path)
    (path / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((path / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (path / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def reward_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with a new one-output head, saved as `train --method rm` saves a reward model."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = tmp_path_factory.mktemp("tiny-rm") / "model"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture()
def workspace(tmp_path):
    from data import Workspace

    return Workspace.init(tmp_path / "ws")


@pytest.fixture()
def label_ws(workspace):
    """A workspace with 4 sampled pairs (pairwise items) and so 8 generated completions (KTO items)."""
    from datetime import datetime, timedelta, timezone

    from data import Completion, Pair, Prompt

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    records = []
    for i in range(4):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        a = Completion(
            prompt.id, f"answer {i} a", "m", "hf", seed=0, created_at=start + timedelta(seconds=2 * i)
        )
        b = Completion(
            prompt.id, f"answer {i} b", "m", "hf", seed=1, created_at=start + timedelta(seconds=2 * i + 1)
        )
        records += [
            prompt,
            a,
            b,
            Pair(prompt.id, a.id, b.id, "sampled", created_at=start + timedelta(seconds=i)),
        ]
    workspace.append(records)
    return workspace


@pytest.fixture(scope="module")
def browser():
    """Debian's headless chromium driven by Playwright, one per test module (the browser tests' helpers:
    tests/annotate_browser.py; importing them skips where Playwright is missing)."""
    from tests.annotate_browser import CHROMIUM, playwright

    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def users():
    """The browser tests' accounts: ann, an admin, and bob, a labeller (password `annotate_browser.PASSWORD`)."""
    from annotate.users import User, hash_password
    from tests.annotate_browser import PASSWORD

    return {
        "ann": User("ann", hash_password(PASSWORD), admin=True),
        "bob": User("bob", hash_password(PASSWORD)),
    }
