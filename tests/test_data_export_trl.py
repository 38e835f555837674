"""Every export shape the README documents, loaded as a TRL user would (`datasets.load_dataset("parquet", ...)`) and
trained one step by the stock TRL trainer it is for, on the tiny model: dpo (multi-turn with a system message, rank
and edit pairs, with and without `posterior`) in DPOTrainer and RewardTrainer, kto (and ratings, once an aspect
labels them) in KTOTrainer, sft and sft --edits in SFTTrainer (whose loss on `messages` covers the prompt too; on
`--sft-shape prompt-completion` the answer alone), and a base model once its tokenizer has a chat template."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest

from data import Workspace
from data.__main__ import main
from data.edits import edit_records

SYSTEM = {"role": "system", "content": "Be brief."}
# max_length fits the longest row (the 3-turn prompt with its system message, in the tiny BPE tokenizer's tokens):
# TRL drops a row whose prompt fills max_length, which would hide a multi-turn row that fails
MAX_LENGTH = 256
EXPORTS = {
    "dpo": ["--format", "dpo"],
    "dpo-dawid-skene": ["--format", "dpo", "--aggregate", "dawid-skene"],
    "kto": ["--format", "kto"],
    "kto-dawid-skene": ["--format", "kto", "--aggregate", "dawid-skene"],
    "sft": ["--format", "sft"],
    "sft-edits": ["--format", "sft", "--edits"],
    "sft-prompt-completion": ["--format", "sft", "--sft-shape", "prompt-completion"],
    "sft-edits-prompt-completion": ["--format", "sft", "--edits", "--sft-shape", "prompt-completion"],
    "ratings": ["--format", "ratings"],
}


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def _user(text):
    return {"role": "user", "content": text}


def _rows():
    """Chat rows (3-turn preferences and KTO labels with a system message, gold answers, one after 2 turns), plain
    rows (single-turn preferences and KTO labels, rankings of 3 answers) and HelpSteer2 ratings."""
    chat, plain, rated = [], [], []
    for i in range(2):
        turns = [SYSTEM, _user(f"Pick a colour {i}."), {"role": "assistant", "content": "Which kind?"}]
        chat.append({"messages": [*turns, _user("Any.")], "chosen": "blue sky", "rejected": "red fire"})
        gold = {"role": "assistant", "content": "The sea is wide."}
        earlier = [{"role": "assistant", "content": "About what?"}, _user("The sea.")] if i else []
        chat.append({"messages": [SYSTEM, _user(f"Write a poem {i}."), *earlier, gold]})
        chat.append({"messages": [*turns, _user("Any.")], "completion": "green leaf", "label": i == 0})
        plain.append({"prompt": f"Capital of France {i}?", "chosen": "Paris.", "rejected": "Rome."})
        plain.append({"prompt": f"Add {i}", "completions": ["1 2", "3 4", "5 6"], "ranking": "2 > 3 > 1"})
        for j, label in enumerate((True, False)):
            plain.append({"prompt": f"Explain crepes {i}", "completion": f"mix flour {j}", "label": label})
        aspects = dict(helpfulness=4 * (i % 2), correctness=3, coherence=4, complexity=0, verbosity=1)
        rated.append({"prompt": f"Rate {i}?", "response": f"answer {i}", **aspects})
    return chat, plain, rated


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A workspace holding every shape (plus an edit of a 3-turn pair's answer), exported in every format."""
    root = tmp_path_factory.mktemp("trl-exports")
    ws = root / "ws"
    for name, rows in zip(("chat", "plain", "rated"), _rows()):
        assert main(["import", "-w", str(ws), _jsonl(root / f"{name}.jsonl", rows)]) == 0
    workspace = Workspace(ws)
    turns = workspace.frame("prompts").set_index("id")["messages"].map(len)
    pair = next(p for p in workspace.frame("pairs").itertuples() if turns[p.prompt_id] == 4)
    original = workspace.frame("completions").set_index("id").loc[pair.completion_a]
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    workspace.append(
        edit_records(
            original.prompt_id, pair.completion_a, original.text, "A blue sky.", "ann", pair.id, 0, at
        )
    )
    paths = {}
    for name, flags in EXPORTS.items():
        paths[name] = root / f"{name}.parquet"
        assert main(["export", "-w", str(ws), *flags, "--out", str(paths[name])]) == 0
    return paths


def _load(parquet):
    import datasets

    return datasets.load_dataset("parquet", data_files=str(parquet), split="train")


def _train_one_step(name: str, dataset, model_dir, tokenizer, tmp_path, max_length: int = MAX_LENGTH):
    """One step of stock TRL's trainer ``name`` on ``dataset``; the trainer, its loss finite and the model changed."""
    import trl
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if name == "reward":
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
    before = [p.detach().clone() for p in model.parameters()]
    config, trainer_class = {
        "dpo": (trl.DPOConfig, trl.DPOTrainer),
        "kto": (trl.KTOConfig, trl.KTOTrainer),
        "reward": (trl.RewardConfig, trl.RewardTrainer),
        "sft": (trl.SFTConfig, trl.SFTTrainer),
    }[name]
    args = config(
        output_dir=str(tmp_path / name),
        per_device_train_batch_size=2,
        max_steps=1,
        learning_rate=1e-3,
        report_to="none",
        max_length=max_length,
        use_cpu=True,
        save_strategy="no",
    )
    trainer = trainer_class(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    result = trainer.train()
    assert math.isfinite(result.training_loss)
    assert any(not (a == b).all() for a, b in zip(before, model.parameters()))
    return trainer


def _templated(tokenizer, messages, **kwargs) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)


@pytest.mark.parametrize("export", ["dpo", "dpo-dawid-skene"])
def test_dpo_exports_train_in_stock_dpo_trainer_multi_turn_rows_included(
    export, exports, tiny_model_dir, tiny_tokenizer, tmp_path
):
    dataset = _load(exports[export])
    assert set(dataset["kind"]) == {"imported", "rank", "edit"}
    assert (None in dataset["posterior"]) == (export == "dpo")
    trainer = _train_one_step("dpo", dataset, tiny_model_dir, tiny_tokenizer, tmp_path)
    tokenized = trainer.train_dataset
    assert tokenized.num_rows == dataset.num_rows  # no row dropped, the 3-turn ones included
    row = next(r for r in tokenized if r["prompt"][0] == SYSTEM)
    assert len(row["prompt"]) == 4
    decode = tiny_tokenizer.decode
    assert decode(row["prompt_ids"]) == _templated(tiny_tokenizer, row["prompt"], add_generation_prompt=True)
    assert decode(row["chosen_ids"]) == row["chosen"][0]["content"] + "<|im_end|>\n"


@pytest.mark.parametrize("export", ["kto", "kto-dawid-skene"])
def test_kto_exports_train_in_stock_kto_trainer(export, exports, tiny_model_dir, tiny_tokenizer, tmp_path):
    dataset = _load(exports[export])
    assert dataset.num_rows == 6 and sum(dataset["label"]) == 3
    assert (None in dataset["posterior"]) == (export == "kto")
    trainer = _train_one_step("kto", dataset, tiny_model_dir, tiny_tokenizer, tmp_path)
    assert trainer.train_dataset.num_rows == 6


def test_dpo_export_trains_in_stock_reward_trainer(exports, tiny_model_dir, tiny_tokenizer, tmp_path):
    dataset = _load(exports["dpo"])
    trainer = _train_one_step("reward", dataset, tiny_model_dir, tiny_tokenizer, tmp_path)
    exported = next(r for r in dataset if r["prompt"][0] == SYSTEM)
    row = next(r for r in trainer.train_dataset if r["pair_id"] == exported["pair_id"])
    whole = _templated(tiny_tokenizer, exported["prompt"] + exported["chosen"])
    assert tiny_tokenizer.decode(row["chosen_ids"]) == whole


@pytest.mark.parametrize("export", ["sft", "sft-edits"])
def test_sft_exports_train_in_stock_sft_trainer_the_loss_on_every_token_or_with_prompt_completion_the_answer(
    export, exports, tiny_model_dir, tiny_tokenizer, tmp_path
):
    dataset = _load(exports[export])
    assert all(row[0] == SYSTEM and row[-1]["role"] == "assistant" for row in dataset["messages"])
    as_is = _train_one_step("sft", dataset, tiny_model_dir, tiny_tokenizer, tmp_path)
    assert as_is.train_dataset.num_rows == dataset.num_rows
    # `messages` is TRL's language-modelling form: the loss covers every token, the system and user turns too
    assert all(row["labels"] == row["input_ids"] for row in as_is.train_dataset)
    shaped = _load(exports[f"{export}-prompt-completion"])  # --sft-shape prompt-completion: no map to write
    answer_only = _train_one_step("sft", shaped, tiny_model_dir, tiny_tokenizer, tmp_path)
    assert answer_only.completion_only_loss and answer_only.train_dataset.num_rows == dataset.num_rows
    for row, messages in zip(answer_only.train_dataset, dataset["messages"]):
        in_loss = [token for token in row["labels"] if token != -100]
        assert tiny_tokenizer.decode(in_loss) == messages[-1]["content"] + "<|im_end|>\n"


def test_sft_prompt_completion_rows_exact_a_multi_turn_prompt_whole_in_prompt_provenance_kept(exports):
    gold = _load(exports["sft-prompt-completion"])
    assert gold.column_names == ["prompt", "completion", "prompt_id", "split"]
    by_turns = {len(row["prompt"]): row for row in gold}
    assert sorted(by_turns) == [2, 4]
    row = by_turns[4]
    assert row["prompt"] == [
        SYSTEM,
        _user("Write a poem 1."),
        {"role": "assistant", "content": "About what?"},
        _user("The sea."),
    ]
    assert row["completion"] == [{"role": "assistant", "content": "The sea is wide."}]
    messages = {r["prompt_id"]: r["messages"] for r in _load(exports["sft"])}
    assert messages[row["prompt_id"]] == row["prompt"] + row["completion"]
    edits = _load(exports["sft-edits-prompt-completion"])
    provenance = ["prompt_id", "completion_id", "parent_id", "editor", "pair_id", "split"]
    assert edits.column_names == ["prompt", "completion", *provenance]
    (edit,) = edits
    (as_messages,) = _load(exports["sft-edits"])
    system, asked, earlier, answered = edit["prompt"]  # the 3-turn prompt whose pair was edited
    assert (system, earlier, answered) == (
        SYSTEM,
        {"role": "assistant", "content": "Which kind?"},
        _user("Any."),
    )
    assert asked in (_user("Pick a colour 0."), _user("Pick a colour 1."))
    assert edit["prompt"] == as_messages["messages"][:-1]
    assert edit["completion"] == [{"role": "assistant", "content": "A blue sky."}]
    assert {k: edit[k] for k in provenance} == {k: as_messages[k] for k in provenance}
    assert edit["editor"] == "ann"


def test_ratings_export_trains_in_stock_kto_trainer_once_an_aspect_labels_it(
    exports, tiny_model_dir, tiny_tokenizer, tmp_path
):
    dataset = _load(exports["ratings"])
    columns = set(dataset.column_names)
    assert {"prompt", "completion", "helpfulness"} <= columns and "label" not in columns
    with pytest.raises(ValueError, match="'label'"):  # no TRL trainer takes ratings as they are
        _train_one_step("kto", dataset, tiny_model_dir, tiny_tokenizer, tmp_path)
    labelled = dataset.map(lambda r: {"label": r["helpfulness"] >= 3})  # the README's map
    assert sorted(labelled["label"]) == [False, True]
    trainer = _train_one_step("kto", labelled, tiny_model_dir, tiny_tokenizer, tmp_path)
    assert trainer.train_dataset.num_rows == 2


def test_a_base_model_trains_on_the_dpo_export_once_its_tokenizer_has_a_chat_template(
    exports, tiny_base_model_dir, tmp_path
):
    from transformers import AutoTokenizer

    from data.chat_template import resolve_chat_template

    dataset = _load(exports["dpo"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_base_model_dir)
    assert tokenizer.chat_template is None
    with pytest.raises(ValueError, match="chat_template is not set"):
        _train_one_step("dpo", dataset, tiny_base_model_dir, tokenizer, tmp_path)
    # the README's line: the template --chat-template roles renders with
    tokenizer.chat_template = resolve_chat_template("roles")
    trainer = _train_one_step("dpo", dataset, tiny_base_model_dir, tokenizer, tmp_path)
    row = next(r for r in trainer.train_dataset if r["prompt"][0] == SYSTEM)
    assert tokenizer.decode(row["prompt_ids"]).endswith("User: Any.\n\nAssistant:")


@pytest.mark.parametrize("name, export", [("dpo", "dpo"), ("kto", "kto")])
def test_stock_trl_drops_the_rows_whose_prompt_fills_max_length_the_long_multi_turn_ones(
    name, export, exports, tiny_model_dir, tiny_tokenizer, tmp_path
):
    dataset = _load(exports[export])
    prompt_tokens = [
        len(tiny_tokenizer.apply_chat_template(p, add_generation_prompt=True, return_dict=False))
        for p in dataset["prompt"]
    ]
    max_length = max(prompt_tokens) - 1  # the longest prompt fills it
    trainer = _train_one_step(name, dataset, tiny_model_dir, tiny_tokenizer, tmp_path, max_length=max_length)
    kept = sum(n < max_length for n in prompt_tokens)
    assert 0 < kept < dataset.num_rows and trainer.train_dataset.num_rows == kept  # dropped, not cut
