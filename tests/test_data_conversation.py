"""Multi-turn conversations end to end in `data`: ShareGPT, OpenAI messages and LLaMA-Factory history import with
every turn (the prompt is every turn before the labelled answer), malformed turns are one line naming file, row
and field, and the DPO / KTO / SFT exports keep the turns in TRL's conversational form, load with `datasets` and
train DPO on the tiny model."""

from __future__ import annotations

import json
import math

import pytest

from data.__main__ import main
from data.conversation import turn_problem
from data.imports import import_file
from data.workspace import Workspace
from tests.test_data_imports import exports

U1, A1, U2, A2, U3 = "What is 2+2?", "4.", "And times 3?", "12.", "Now halve it."
CONVERSATION = [
    {"role": "system", "content": "Be terse."},
    {"role": "user", "content": U1},
    {"role": "assistant", "content": A1},
    {"role": "user", "content": U2},
    {"role": "assistant", "content": A2},
    {"role": "user", "content": U3},
]
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


def sharegpt(messages):
    return [{"from": SHAREGPT_ROLES[m["role"]], "value": m["content"]} for m in messages]


def write(path, *records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


PREFERENCE_RECORDS = {
    # ShareGPT (LLaMA-Factory's sharegpt preference form): the answers as message objects.
    "sharegpt": {
        "conversations": sharegpt(CONVERSATION),
        "chosen": {"from": "gpt", "value": "6."},
        "rejected": {"from": "gpt", "value": "7."},
    },
    # ShareGPT with the system prompt in its own field, as LLaMA-Factory's dataset_info `system` column.
    "sharegpt-system": {
        "conversations": sharegpt(CONVERSATION[1:]),
        "system": "Be terse.",
        "chosen": {"from": "gpt", "value": "6."},
        "rejected": {"from": "gpt", "value": "7."},
    },
    # OpenAI messages, the answers as the last assistant turn (a message, or a one-message list).
    "openai": {
        "messages": CONVERSATION,
        "chosen": {"role": "assistant", "content": "6."},
        "rejected": [{"role": "assistant", "content": "7."}],
    },
    # TRL's implicit-prompt form: two whole conversations sharing every turn but the last.
    "openai-whole": {
        "chosen": [*CONVERSATION, {"role": "assistant", "content": "6."}],
        "rejected": [*CONVERSATION, {"role": "assistant", "content": "7."}],
    },
    # OpenAI's preference fine-tuning file: input.messages, the answers as one-message lists.
    "openai-preference": {
        "input": {"messages": CONVERSATION, "tools": [], "parallel_tool_calls": True},
        "preferred_output": [{"role": "assistant", "content": "6."}],
        "non_preferred_output": [{"role": "assistant", "content": "7."}],
    },
    # LLaMA-Factory alpaca preference form with history.
    "llamafactory": {
        "instruction": U3,
        "input": "",
        "system": "Be terse.",
        "history": [[U1, A1], [U2, A2]],
        "chosen": "6.",
        "rejected": "7.",
    },
}


@pytest.mark.parametrize("name", PREFERENCE_RECORDS)
def test_each_format_imports_every_turn_before_the_labelled_answers(workspace, tmp_path, name):
    import_file(workspace, write(tmp_path / f"{name}.jsonl", PREFERENCE_RECORDS[name]))
    dpo, _, _ = exports(workspace)
    assert len(dpo) == 1
    assert dpo[0]["prompt"] == CONVERSATION
    assert dpo[0]["chosen"] == [{"role": "assistant", "content": "6."}]
    assert dpo[0]["rejected"] == [{"role": "assistant", "content": "7."}]


def test_gold_and_kto_records_take_the_last_assistant_turn_as_the_answer(workspace, tmp_path):
    gold = {"conversations": sharegpt([*CONVERSATION, {"role": "assistant", "content": "6."}])}
    kto = {"messages": [*CONVERSATION[1:], {"role": "assistant", "content": "8."}], "label": False}
    history = {"instruction": U3, "history": [[U1, A1], [U2, A2]], "output": "six", "system": "Be kind."}
    import_file(workspace, write(tmp_path / "gold.jsonl", gold))
    import_file(workspace, write(tmp_path / "kto.jsonl", kto))
    import_file(workspace, write(tmp_path / "alpaca.jsonl", history))
    _, kto_rows, sft = exports(workspace)
    assert [row["messages"] for row in sft] == [
        [*CONVERSATION, {"role": "assistant", "content": "6."}],
        [turn("system", "Be kind."), *CONVERSATION[1:], {"role": "assistant", "content": "six"}],
    ]
    assert [(row["prompt"], row["completion"], row["label"]) for row in kto_rows] == [
        (CONVERSATION[1:], [{"role": "assistant", "content": "8."}], False)
    ]


def turn(role, text):
    return {"role": role, "content": text}


BAD_TURNS = [
    ("two-users.jsonl",
     {"messages": [turn("user", "a"), turn("user", "b")], "chosen": "x", "rejected": "y"},
     ", row 0, field 'messages': message 1: two user turns in a row (user and assistant turns alternate)"),
    ("assistant-first.jsonl",
     {"conversations": [{"from": "gpt", "value": "hi"}, {"from": "human", "value": "q"}],
      "chosen": "x", "rejected": "y"},
     ", row 0, field 'conversations': message 0: the conversation must start with a user turn"),
    ("late-system.jsonl",
     {"messages": [turn("user", "a"), turn("assistant", "b"), turn("system", "s"), turn("user", "c")],
      "chosen": "x", "rejected": "y"},
     ", row 0, field 'messages': message 2: a system message may only come first"),
    ("empty-turn.jsonl",
     {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "  "},
                        {"from": "human", "value": "c"}], "system": "S", "chosen": "x", "rejected": "y"},
     ", row 0, field 'conversations': message 1 (assistant) has no text"),
    ("unknown-role.jsonl",
     {"conversations": [{"from": "human", "value": "a"}, {"from": "function_call", "value": "f()"},
                        {"from": "human", "value": "c"}], "chosen": "x", "rejected": "y"},
     ", row 0, field 'conversations': unknown message role 'function_call' (message 1)"),
    ("openai-order.jsonl",
     {"input": {"messages": [turn("user", "a"), turn("assistant", "b"), turn("assistant", "c"), turn("user", "d")]},
      "preferred_output": [turn("assistant", "x")], "non_preferred_output": [turn("assistant", "y")]},
     ", row 0, field 'input.messages': message 2: two assistant turns in a row (user and assistant turns "
     "alternate)"),
    ("openai-no-answer.jsonl",
     {"input": {"messages": [turn("user", "a")]}, "preferred_output": [], "non_preferred_output": [turn("assistant", "y")]},
     ", row 0, field 'preferred_output': the answer is empty (an empty list)"),
    ("history-empty.jsonl",
     {"instruction": "q", "history": [["hi", "hello"], ["again", ""]], "chosen": "x", "rejected": "y"},
     ", row 0, field 'history': history entry 1 has an empty answer"),
    ("history-null.jsonl",
     {"instruction": "q", "history": [[None, "hello"]], "output": "x"},
     ", row 0, field 'history': expected text, got nothing"),
    ("whole-conversations.jsonl",
     {"chosen": [turn("user", "a"), turn("user", "b"), turn("assistant", "x")],
      "rejected": [turn("user", "a"), turn("user", "b"), turn("assistant", "y")]},
     ", row 0, field 'chosen': message 1: two user turns in a row (user and assistant turns alternate)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "record", "message"), BAD_TURNS, ids=[b[0] for b in BAD_TURNS])
def test_malformed_turns_are_one_line_naming_file_row_and_field(tmp_path, capsys, name, record, message):
    path = write(tmp_path / name, record)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [f"error: {path}{message}"]
    assert not (tmp_path / "ws" / "prompts").exists() or not list((tmp_path / "ws" / "prompts").iterdir())


def test_skipped_turn_errors_are_counted_by_reason(tmp_path, capsys):
    chat = [r for _, r, _ in BAD_TURNS if "messages" in r or "conversations" in r]
    path = write(tmp_path / "mixed.jsonl", PREFERENCE_RECORDS["openai"], *chat)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--on-error", "skip"]) == 0
    out = capsys.readouterr().out
    assert "skipped 5 records (bad_role 1, bad_role_order 3, empty_turn 1)" in out
    assert "new_pairs 1" in out


def test_a_last_assistant_turn_beside_the_answers_must_be_one_of_them(tmp_path, capsys):
    """A conversation ending on the assistant next to chosen/rejected lost that turn without a word; now it must
    be the chosen answer (UltraFeedback's ``messages`` are the chosen conversation) or the record is refused."""
    ask, good, bad = turn("user", "q?"), turn("assistant", "good"), turn("assistant", "bad")
    ultrafeedback = {"prompt": "q?", "messages": [ask, good], "chosen": [ask, good], "rejected": [ask, bad]}
    assert main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "uf.jsonl", ultrafeedback))]) == 0
    assert "new_pairs 1, new_prompts 1" in capsys.readouterr().out
    dropped = {"messages": [turn("user", "a"), turn("assistant", "b")], "chosen": "x", "rejected": "y"}
    others = {
        "system": "S",
        "messages": [turn("user", "a"), turn("assistant", "b")],
        "completions": ["x", "y", "z"],
    }
    for name, record, index in (("dropped.jsonl", dropped, 1), ("candidates.jsonl", others, 1)):
        path = write(tmp_path / name, record)
        assert main(["import", "-w", str(tmp_path / "ws2"), str(path)]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}, row 0, field 'messages': message {index} (assistant) ends the conversation but is not "
            "among the answers (chosen / completions): a prompt ends on the user's turn\n"
        )
    assert not (tmp_path / "ws2" / "prompts").exists() or not list((tmp_path / "ws2" / "prompts").iterdir())


RATED = {"helpfulness": 3, "correctness": 3, "coherence": 3, "complexity": 3, "verbosity": 3}


@pytest.mark.parametrize(
    ("key", "extra"),
    [("completion", {"label": False}), ("response", {"ratings": RATED}), ("output", {})],
    ids=["kto", "rated", "gold"],
)
def test_a_last_assistant_turn_beside_the_rows_own_answer_must_be_it(tmp_path, capsys, key, extra):
    """A conversation ending on the assistant beside the row's own answer field (a KTO completion, a rated
    response, a gold output): the turn was taken for the answer labelled, rated or gold, and the field named
    unread ('completion': 'x', 'label': false marked the turn undesirable). Now the two must agree."""
    record = {"messages": [turn("user", "a"), turn("assistant", "b")], key: "x", **extra}
    path = write(tmp_path / f"{key}.jsonl", record)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, row 0, field 'messages': message 1 (assistant) ends the conversation but is not the row's "
        f"'{key}': which is the answer is a guess (a prompt ends on the user's turn)\n"
    )
    assert not (tmp_path / "ws" / "prompts").exists() or not list((tmp_path / "ws" / "prompts").iterdir())
    record[key] = "b "  # the turn itself (spaces aside): read, and the row's one answer
    assert main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "same.jsonl", record))]) == 0
    assert "columns not read" not in capsys.readouterr().out
    ws = Workspace(tmp_path / "ws")
    answers = (
        ws.read("completions").column("text").to_pylist() + ws.read("prompts").column("gold").to_pylist()
    )
    assert [a for a in answers if a is not None] == ["b"]


def test_turn_problem_exact():
    assert turn_problem(CONVERSATION) is None
    assert turn_problem(CONVERSATION[1:]) is None
    assert turn_problem([turn("system", "s"), turn("assistant", "a")]) == (
        1,
        "bad_role_order",
        "message 1: the conversation must start with a user turn",
    )
    assert turn_problem([turn("system", "s"), turn("user", "")], start=-1) == (
        1,
        "empty_turn",
        "message 0 (user) has no text",
    )


def test_conversational_export_loads_with_datasets_and_trains_dpo(tmp_path, tiny_model_dir, capsys):
    import datasets
    import torch
    from safetensors.torch import load_file

    from train.options import TrainOptions
    from train.run import train

    records = [
        {
            "messages": [
                turn("user", f"Pick a colour, {i}."),
                turn("assistant", "Which kind?"),
                turn("user", "Any."),
            ],
            "chosen": {"role": "assistant", "content": "blue sky blue"},
            "rejected": {"role": "assistant", "content": "red fire red"},
        }
        for i in range(6)
    ]
    ws_path = tmp_path / "ws"
    assert main(["import", "-w", str(ws_path), str(write(tmp_path / "turns.jsonl", *records))]) == 0
    out = tmp_path / "dpo.parquet"
    assert main(["export", "-w", str(ws_path), "--format", "dpo", "--out", str(out)]) == 0
    capsys.readouterr()
    loaded = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert loaded.num_rows == 6
    assert loaded[0]["prompt"] == records[0]["messages"]
    assert loaded[0]["chosen"] == [{"role": "assistant", "content": "blue sky blue"}]
    assert loaded[0]["rejected"] == [{"role": "assistant", "content": "red fire red"}]
    options = TrainOptions(
        workspace=ws_path,
        model=str(tiny_model_dir),
        out=tmp_path / "model",
        method="dpo",
        max_steps=2,
        batch_size=2,
        learning_rate=1e-3,
        eval_limit=4,
        save_steps=1000,
    )
    result = train(options)
    assert result["metrics"]["steps"] == 2 and math.isfinite(result["metrics"]["final_loss"])
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "model" / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert result["id"] in set(Workspace(ws_path).frame("models")["id"])


def test_a_field_beside_the_last_turn_that_holds_no_answer_is_named_unread(tmp_path, capsys):
    """A 'gold' flag (no text) beside a conversation ending on the assistant is no second answer: the turn is the
    gold answer and the flag is named among the columns not read, as before the check of the row's own answer."""
    record = {"messages": [turn("user", "a"), turn("assistant", "b")], "gold": True}
    assert main(["import", "-w", str(tmp_path / "ws"), str(write(tmp_path / "flag.jsonl", record))]) == 0
    assert capsys.readouterr().out.endswith("new_prompts 1, records 1; columns not read: gold\n")
    assert Workspace(tmp_path / "ws").read("prompts").column("gold").to_pylist() == ["b"]


IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


@pytest.mark.parametrize(
    ("key", "value", "extra", "reason", "error"),
    [
        ("completion", [{"type": "text", "text": "x"}, IMAGE], {"label": True}, "non_text",
         "content part of type 'image_url' is not text (--non-text drop leaves it out)"),
        ("completion", {"role": "user", "content": "x"}, {"label": False}, "no_answer",
         "the answer is a user message, not the assistant's"),
        ("response", [IMAGE, {"type": "text", "text": "x"}], {"ratings": RATED}, "non_text",
         "content part of type 'image_url' is not text (--non-text drop leaves it out)"),
        ("output", {"content": ""}, {}, "empty_answer", "the answer is empty"),
    ],
    ids=["kto-image", "kto-user-message", "rated-image", "gold-empty"],
)  # fmt: skip
def test_a_rows_own_answer_that_does_not_read_beside_the_last_turn_is_refused(
    tmp_path, capsys, key, value, extra, reason, error
):
    """The row's own answer field beside a conversation ending on the assistant was passed over where it did not
    read (an image part, a user's message): the turn took its KTO label or ratings (or became the gold answer) and
    the field was named unread, the answer the row meant lost. The row is refused with the field's own error, and
    ``--on-error skip`` counts it by that reason."""
    good = {"messages": [turn("user", "q"), turn("assistant", "fine")], key: "fine", **extra}
    bad = {"messages": [turn("user", "a"), turn("assistant", "b")], key: value, **extra}
    path = write(tmp_path / f"{key}.jsonl", good, bad)
    assert main(["import", "-w", str(tmp_path / "ws"), str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}, row 1, field '{key}': {error}\n"
    assert main(["import", "-w", str(tmp_path / "ws"), str(path), "--on-error", "skip"]) == 0
    assert f"skipped 1 record ({reason} 1)" in capsys.readouterr().out
    ws = Workspace(tmp_path / "ws")
    answers = (
        ws.read("completions").column("text").to_pylist() + ws.read("prompts").column("gold").to_pylist()
    )
    assert "b" not in answers  # the turn took nothing of the refused row
