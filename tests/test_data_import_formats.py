"""Chat formats met in public data sets: content parts, LLaMA-Factory v1 DPO/SFT/KTO files, TRL whole-conversation
pairs, candidates for labelling and `--unlabelled`; duplicates and gold conflicts counted, never silently lost.
Fixtures are small files written here in each format's shape (LLaMA-Factory's data/v1_*_demo.jsonl)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from data.export import to_dpo, to_kto, to_sft
from data.imports import import_file, load_file
from data.records import Prompt
from data.schemas import SchemaError
from data.selection import labelling_pairs


def parts(text, key="value"):
    return [{"type": "text", key: text}]


def v1_message(role, text):
    return {"role": role, "content": parts(text), "loss_weight": 1.0 if role == "assistant" else 0.0}


V1_SYSTEM = "You are an AI assistant. You will be given a task."
V1_DPO = [
    {
        "chosen_messages": [
            v1_message("system", V1_SYSTEM),
            v1_message("user", "Translate to English: Bună ziua"),
            v1_message("assistant", "Good day"),
        ],
        "rejected_messages": [
            v1_message("system", V1_SYSTEM),
            v1_message("user", "Translate to English: Bună ziua"),
            v1_message("assistant", " Good night, I think."),
        ],
    },
    {
        "chosen_messages": [v1_message("user", "你好"), v1_message("assistant", "您好，有什么可以帮您？")],
        "rejected_messages": [v1_message("user", "你好"), v1_message("assistant", "Bye.")],
    },
]
V1_SFT = [
    {"messages": [v1_message("user", "hi"), v1_message("assistant", "Hello! I am {{name}}.")]},
    {"messages": [v1_message("user", "Who are you?"), v1_message("assistant", "I am {{name}}.")]},
]
V1_KTO = [
    {"messages": [v1_message("user", "2+2?"), v1_message("assistant", "4")], "label": True},
    {"messages": [v1_message("user", "2+2?"), v1_message("assistant", "5")], "label": False},
]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def frames(ws):
    return {name: ws.frame(name) for name in ("prompts", "completions", "pairs", "labels")}


def test_llamafactory_v1_dpo_sft_and_kto_files(workspace, tmp_path):
    dpo_counts = import_file(workspace, write_jsonl(tmp_path / "v1_dpo_demo.jsonl", V1_DPO))
    import_file(workspace, write_jsonl(tmp_path / "v1_sft_demo.jsonl", V1_SFT))
    import_file(workspace, write_jsonl(tmp_path / "v1_kto.jsonl", V1_KTO))
    assert dpo_counts["new_pairs"] == 2 and dpo_counts["new_labels"] == 2
    f = frames(workspace)
    dpo, _ = to_dpo(*f.values())
    assert sorted(
        (r["prompt"][-1]["content"], r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in dpo
    ) == [
        ("Translate to English: Bună ziua", "Good day", " Good night, I think."),
        ("你好", "您好，有什么可以帮您？", "Bye."),
    ]
    assert [m["role"] for m in next(r for r in dpo if len(r["prompt"]) == 2)["prompt"]] == ["system", "user"]
    sft, _ = to_sft(f["prompts"])
    assert sorted(r["messages"][-1]["content"] for r in sft) == ["Hello! I am {{name}}.", "I am {{name}}."]
    kto, _ = to_kto(f["prompts"], f["completions"], f["labels"])
    assert sorted((r["completion"][0]["content"], r["label"]) for r in kto) == [("4", True), ("5", False)]


def test_openai_trl_content_parts_join_text_and_non_text_parts_fail_or_drop(tmp_path):
    record = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": "x.png"}},
                    {"type": "text", "text": "this."},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
        ]
    }
    path = write_jsonl(tmp_path / "parts.jsonl", [record])
    with pytest.raises(
        SchemaError, match=r"row 0, field 'messages': content part of type 'image_url' is not text"
    ):
        load_file(path)
    records, counts = load_file(path, non_text="drop")
    assert counts["non_text_parts_dropped"] == 1
    assert records[0].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Describe\nthis."},
    ]
    assert records[0].gold == "A cat."


def test_trl_whole_conversation_pairs_and_parts_in_prompt_format(workspace, tmp_path):
    rows = [
        {
            "chosen": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "yes"}],
            "rejected": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "no"}],
        },
        {
            "chosen": [
                {"role": "user", "content": "Q2"},
                {"role": "assistant", "content": parts("fine", "text")},
            ],
            "rejected": [{"role": "user", "content": "Q2"}, {"role": "assistant", "content": "bad"}],
        },
    ]
    import_file(workspace, write_jsonl(tmp_path / "trl.jsonl", rows))
    prompt_rows = [{"prompt": parts("Q3", "text"), "chosen": parts("c3", "text"), "rejected": "r3"}]
    import_file(workspace, write_jsonl(tmp_path / "trl-std.jsonl", prompt_rows))
    dpo, _ = to_dpo(*frames(workspace).values())
    assert sorted((r["prompt"][0]["content"], r["chosen"][0]["content"]) for r in dpo) == [
        ("Q1", "yes"),
        ("Q2", "fine"),
        ("Q3", "c3"),
    ]


def test_candidates_become_pairs_for_labellers_with_their_models(workspace, tmp_path):
    rows = [
        {
            "prompt": "Name a fruit.",
            "completions": [{"text": "Apple", "model": "m1"}, {"text": "Pear", "model": "m2"}],
        },
        {"prompt": "Name a colour.", "completions": ["Red", "Blue", "Green", "Red "]},
    ]
    counts = import_file(workspace, write_jsonl(tmp_path / "cands.jsonl", rows), pairs_per_prompt=0)
    # "Red " is "Red" (`data.spellings`): one answer stored, and it is not paired with itself
    assert counts["new_completions"] == 5 and counts["new_pairs"] == 4 and counts["duplicate"] == 1
    f = frames(workspace)
    assert len(f["labels"]) == 0
    assert set(f["pairs"]["kind"]) == {"imported"} and len(labelling_pairs(f["pairs"], f["labels"])) == 4
    models = dict(zip(f["completions"]["text"], f["completions"]["model"]))
    assert models["Apple"] == "m1" and models["Pear"] == "m2" and models["Red"] == "cands"


def test_unlabelled_preferences_and_kto_rows_store_no_labels(workspace, tmp_path):
    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(3)]
    counts = import_file(
        workspace, write_jsonl(tmp_path / "prefs.jsonl", rows), unlabelled=True, source="sys-a"
    )
    kto = [{"prompt": "k", "completion": "c", "label": True}]
    import_file(workspace, write_jsonl(tmp_path / "kto.jsonl", kto), unlabelled=True)
    assert counts["new_pairs"] == 3
    f = frames(workspace)
    assert len(f["labels"]) == 0 and len(labelling_pairs(f["pairs"], f["labels"])) == 3
    assert set(f["completions"]["model"]) == {"sys-a", "kto"}


def test_identical_rows_are_counted_and_different_gold_answers_reported(workspace, tmp_path, caplog):
    kto = [{"prompt": "Is the sky blue?", "completion": "Yes.", "label": True}] * 100
    counts = import_file(workspace, write_jsonl(tmp_path / "kto.jsonl", kto))
    assert counts["records"] == 100 and counts["duplicate_rows"] == 99 and counts["new_completions"] == 1
    sft = [
        {"prompt": "Capital of France?"},
        {"prompt": "Capital of France?", "output": "Paris."},
        {"prompt": "Capital of France?", "output": "It is Paris."},
    ]
    counts = import_file(workspace, write_jsonl(tmp_path / "sft.jsonl", sft))
    assert counts["gold_conflicts"] == 1 and counts["new_prompts"] == 1
    assert "row 2: same prompt as row 0 with a different gold answer" in caplog.text
    sft_rows, _ = to_sft(workspace.frame("prompts"))
    assert [r["messages"][-1]["content"] for r in sft_rows] == [
        "Paris."
    ]  # the first gold fills the gold-less row


def test_bom_json_and_csv(workspace, tmp_path):
    (tmp_path / "bom.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps([{"prompt": "a", "output": "b"}]).encode()
    )
    pd.DataFrame([{"prompt": "c", "chosen": "d", "rejected": "e"}]).to_csv(tmp_path / "bom.csv", index=False)
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "bom.csv").read_bytes())
    assert import_file(workspace, tmp_path / "bom.json")["new_prompts"] == 1
    assert import_file(workspace, tmp_path / "bom.csv")["new_pairs"] == 1


ENCODED = json.dumps(
    [{"role": "user", "content": "What is 2 + 2?"}]
)  # a message list written out by json.dumps


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet"])
def test_a_message_list_encoded_twice_as_a_string_is_a_bad_row_naming_its_field(tmp_path, suffix):
    """A `prompt` string holding a JSON list of messages (a column json.dumps'd before writing JSON or Parquet) was
    imported as that text, exit 0; a CSV's was refused already. A prompt that only quotes such JSON is text."""
    rows = [
        {"prompt": 'What does [{"role": "user"}] mean?', "chosen": "a", "rejected": "b"},
        {"prompt": ENCODED, "chosen": "4", "rejected": "5"},
        {"prompt": json.dumps([{"role": "user", "note": 1}]), "chosen": "4", "rejected": "5"},  # no messages
    ]
    path = tmp_path / f"prefs{suffix}"
    if suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    else:
        path.write_text(
            "\n".join(map(json.dumps, rows)) if suffix == ".jsonl" else json.dumps(rows, indent=1)
        )
    with pytest.raises(SchemaError) as caught:
        load_file(path)
    assert str(caught.value) == (
        f"{path}, row 1, field 'prompt': the text holds a list of messages written out as JSON (a string of them, "
        "encoded twice), which would be imported as that text: give the messages themselves, not a string of them "
        "(json.loads the column before writing the file)"
    )
    records, counts = load_file(path, on_error="skip")
    assert counts["skipped_messages_as_text"] == 1 and counts["records"] == 3
    prompts = sorted(r.messages[0]["content"] for r in records if isinstance(r, Prompt))
    assert prompts == sorted([rows[0]["prompt"], rows[2]["prompt"]])


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_messages_written_out_in_a_column_no_format_reads_are_no_bad_row(tmp_path, suffix):
    """A column no format reads (a log of the conversation kept beside the pair) is never imported as text, so its
    messages written out are no reason to refuse the row: the file was refused, every row bad, with a remedy for a
    text that is never read. It is a column not read, as any other."""
    rows = [{"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "5", "raw_conversation": ENCODED}]
    path = tmp_path / f"prefs{suffix}"
    frame = pd.DataFrame(rows)
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        path.write_text(json.dumps(rows[0]) + "\n")
    records, counts = load_file(path)
    assert counts["records"] == 1 and "skipped_messages_as_text" not in counts
    assert [r.messages[0]["content"] for r in records if isinstance(r, Prompt)] == ["What is 2 + 2?"]
