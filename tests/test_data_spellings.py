"""A prompt or answer that differs from a stored one only by Unicode normalisation, line ends or trailing whitespace is
the stored one (`data.spellings`): a gold file marks it, an import adds no near-copy of it, the rank guard sees no
new answer. Stored texts and ids stay as they are; a new text is stored as the file gives it."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

import pyarrow as pa

from data.__main__ import main
from data.import_formats import Example
from data.imports import ImportOptions, check_file
from data.records import Completion, Pair, Prompt, text_key
from data.schemas import SCHEMAS
from data.spellings import Spellings
from data.workspace import Workspace
from tests.test_data_gold_files import counts, gold, write
from tests.test_data_gold_tasks import build
from tests.test_data_import_rank_rate import imported


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


STORED = {"prompt": "Café au lait?", "chosen": "Oui.\nBien sûr.", "rejected": "Non."}
RESPELLED = {
    "prompt": nfd("Café au lait?") + " \r\n",
    "chosen": nfd("Oui. \r\nBien sûr.\r\n"),
    "rejected": "Non.\t",
}


def texts(ws: Workspace) -> dict[str, list]:
    return {
        "prompts": sorted(m[0]["content"] for m in ws.read("prompts").column("messages").to_pylist()),
        "completions": sorted(ws.read("completions").column("text").to_pylist()),
    }


def test_the_rule_and_what_it_leaves_apart():
    assert text_key(nfd("sûr  \r\nnon\t\r\n\n")) == "sûr\nnon" == text_key("sûr\nnon")
    assert text_key("  indented") != text_key("indented")  # leading whitespace is the text's own
    assert text_key("a b") != text_key("a  b") and text_key("Non.") != text_key("non.")


def test_a_gold_row_spelled_otherwise_marks_the_stored_items(tmp_path, capsys):
    """NFD, CRLF and trailing spaces made the row another question: a new prompt in split test, new answers and a
    new pair, gold; the stored pair stayed unmarked."""
    ws = Workspace.init(tmp_path / "ws")
    assert main(["import", "-w", str(ws.path), str(write(tmp_path / "data.jsonl", STORED))]) == 0
    before, stored = counts(ws), texts(ws)
    kto = {"prompt": RESPELLED["prompt"], "completion": "Non.  ", "label": False}
    capsys.readouterr()
    assert gold(ws, str(write(tmp_path / "gold.jsonl", RESPELLED, kto))) == 0
    assert capsys.readouterr().out == (
        "gold items: 2 (+2 marked, -0 removed); files: matched 1 stored pairs, 1 stored completions (2 of split "
        "train, gold now: gold never trains, export and train leave them out as gold); new: 0 gold items, 0 prompts, "
        "0 completions, 0 pairs\n"
    )
    assert {**counts(ws), "gold": 0} == {**before, "gold": 0} and texts(ws) == stored


def test_a_gold_ranking_spelled_otherwise_marks_the_stored_rank_item(tmp_path, capsys):
    ws, items, answers = build(tmp_path / "ws")
    before = counts(ws)
    ranking = {
        "prompt": "Question 0? ",
        "completions": [f"answer 0.{k}\r\n" for k in range(4)],
        "ranking": [4, 3, 2, 1],
    }
    assert gold(ws, str(write(tmp_path / "ranked.jsonl", ranking))) == 0
    assert "files: matched 0 stored pairs, 0 stored completions, 1 stored rank items (1 of split train" in (
        capsys.readouterr().out
    )
    assert {name: n for name, n in counts(ws).items() if name != "gold"} == {
        name: n for name, n in before.items() if name != "gold"
    }
    (row,) = ws.read("gold").to_pylist()
    assert row["item_id"] == items[0] and row["ranking"] == ">".join(reversed(answers[0]))


def test_an_import_spelled_otherwise_adds_no_copy_and_stores_new_text_as_given(tmp_path, capsys):
    """The same rows with NFD, CRLF and trailing spaces were a second prompt and two more answers beside the stored
    ones; a stored text met exactly keeps its own spelling, and a new one is stored as the file gives it."""
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), "--unlabelled", str(write(tmp_path / "a.jsonl", STORED))]) == 0
    stored = texts(Workspace(ws))
    again = write(tmp_path / "b.jsonl", RESPELLED, {**RESPELLED, "rejected": "Peut-être.  "})
    capsys.readouterr()
    assert main(["import", "-w", str(ws), "--unlabelled", "--source", "a", str(again)]) == 0
    out = capsys.readouterr().out
    assert "new_completions 1, new_pairs 1, prompts_already_stored 1, records 2, respelled 5" in out, out
    assert texts(Workspace(ws)) == {**stored, "completions": sorted([*stored["completions"], "Peut-être.  "])}

    both = Workspace.init(
        tmp_path / "both"
    )  # two spellings stored before this rule: each met exactly is itself
    both.append([Prompt([{"role": "user", "content": text}], "old") for text in ("Hi?", "Hi? ")])
    spellings = Spellings(both)
    for given, kept in (("Hi? ", "Hi? "), ("Hi?", "Hi?"), ("Hi?\r\n", "Hi?")):
        example = spellings.example(Example([{"role": "user", "content": given}]))
        assert example.messages == [{"role": "user", "content": kept}]


def test_the_rank_guard_sees_a_respelled_answer_as_the_stored_one(tmp_path, capsys):
    """An import ranked the prompt's answers: any new answer is refused. A KTO row of one of them spelled with CRLF
    was a new answer, refused; it is the stored answer, labelled."""
    ws = tmp_path / "ws"
    ranked = {
        "prompt": "Capital of France?",
        "completions": ["Rome.", "Paris.", "Lyon."],
        "ranking": "2 > 3 > 1",
    }
    assert main(["import", "-w", str(ws), str(write(tmp_path / "ranked.jsonl", ranked))]) == 0
    kto = write(
        tmp_path / "kto.jsonl", {"prompt": "Capital of France?", "completion": "Paris. \r\n", "label": 1}
    )
    assert main(["import", "-w", str(ws), "--source", "ranked", str(kto)]) == 0, capsys.readouterr().err
    workspace = Workspace(ws)
    assert workspace.read("completions").num_rows == 3 and workspace.read("prompts").num_rows == 1
    paris = {r["text"]: r["id"] for r in workspace.read("completions").to_pylist()}["Paris."]
    assert [r["item_id"] for r in imported(workspace) if r["task"] == "kto"] == [paris]


def test_gold_of_two_spellings_of_one_answer_must_agree(tmp_path, capsys):
    """Two pairs of one prompt whose answers differ only by trailing spaces and CRLF (stored before the spelling
    rule, or merged), and two such completions: opposite gold answers on them marked every labeller wrong on one,
    unseen; they are the same question, so they must agree (the same verdict through either spelling does)."""
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Colour?"}], "old")
    red, blue, red2, blue2 = (
        Completion(prompt.id, t, "old", "import") for t in ("Red", "Blue", "Red \r\n", "Blue ")
    )
    first, second = (
        Pair(prompt.id, red.id, blue.id, "imported"),
        Pair(prompt.id, blue2.id, red2.id, "imported"),
    )
    ws.append([prompt, red, blue, red2, blue2, first, second])
    assert gold(ws, "--pair", first.id, "--answer", "a") == 0  # "Red" wins
    capsys.readouterr()
    assert gold(ws, "--pair", second.id, "--answer", "a") == 2  # "Blue " wins: the other verdict
    assert "compare the same two answers to one prompt but disagree" in capsys.readouterr().err
    assert gold(ws, "--pair", second.id, "--answer", "b") == 0  # "Red \r\n" wins: the same verdict
    assert gold(ws, "--completion", red.id, "--answer", "desirable") == 0
    capsys.readouterr()
    assert gold(ws, "--completion", red2.id, "--answer", "undesirable") == 2
    assert "are the same answer to one prompt; give one gold answer" in capsys.readouterr().err
    assert gold(ws, "--completion", red2.id, "--answer", "desirable") == 0


def test_gold_on_two_spellings_of_one_prompt_must_agree(tmp_path, capsys):
    """Two spellings of one prompt (trailing space and CRLF: two prompts, as a merge of two workspaces keeps them),
    each with the same two answers in a pair: opposite gold verdicts on the two pairs were not caught, the check
    grouped gold items by prompt id. They are one question, so they must agree; so must two gold completions."""
    ws = Workspace.init(tmp_path / "ws")
    one, two = (Prompt([{"role": "user", "content": text}], "old") for text in ("Colour?", "Colour? \r\n"))
    red, blue = (Completion(one.id, t, "old", "import") for t in ("Red", "Blue"))
    red2, blue2 = (Completion(two.id, t, "old", "import") for t in ("Red", "Blue"))
    first, second = Pair(one.id, red.id, blue.id, "imported"), Pair(two.id, blue2.id, red2.id, "imported")
    ws.append([one, two, red, blue, red2, blue2, first, second])
    assert gold(ws, "--pair", first.id, "--answer", "a") == 0  # "Red" wins
    capsys.readouterr()
    assert gold(ws, "--pair", second.id, "--answer", "a") == 2  # "Blue" wins: the other verdict
    err = capsys.readouterr().err
    assert err == (
        f"error: --pair: gold pair {second.id} ('Blue' wins) and pair {first.id}, already gold (from "
        "--pair) ('Red' wins), compare the same two answers to one prompt but disagree; give one answer\n"
    )
    assert gold(ws, "--pair", second.id, "--answer", "b") == 0  # "Red" wins: the same verdict
    assert gold(ws, "--completion", red.id, "--answer", "desirable") == 0
    capsys.readouterr()
    assert gold(ws, "--completion", red2.id, "--answer", "undesirable") == 2
    err = capsys.readouterr().err
    assert "are the same answer to one prompt; give one gold answer" in err and len(err.splitlines()) == 1
    assert gold(ws, "--completion", red2.id, "--answer", "desirable") == 0
    assert gold(ws, "--completion", blue2.id, "--answer", "undesirable") == 0  # another answer: no question


def test_the_spelling_taken_is_the_earliest_stored_whatever_the_order_of_the_part_files(tmp_path):
    """Two spellings of one text stored (by an older version, or a merge): a near-copy took the first in the table's
    part files, whose order a compaction changes (it merges small parts under the newest one's name). After one, a
    re-import of a respelled file took the other spelling and stored a second preference beside the first (and
    `--remove` withdrew only that one). The earliest stored (created_at, then id) is taken, whatever the order."""
    january, february = (datetime(2026, month, 1, tzinfo=timezone.utc) for month in (1, 2))
    prompt = Prompt([{"role": "user", "content": "Which?"}], "t", created_at=january)
    near = Prompt([{"role": "user", "content": "Which?\r\n"}], "t", created_at=february)
    early = Completion(prompt.id, "good\r\n", "old", "import", created_at=january)
    late = Completion(prompt.id, "good", "new", "import", created_at=february)
    row = Example([{"role": "user", "content": "Which? "}], chosen="good  ", rejected="bad")
    taken = []
    for name, parts in (("one", [[near, early], [prompt, late]]), ("other", [[prompt, late], [near, early]])):
        ws = Workspace.init(tmp_path / name)
        for records in parts:
            ws.append(records)
        example = Spellings(ws).example(row)
        taken.append((example.messages[0]["content"], example.chosen))
    assert taken == [("Which?", "good\r\n")] * 2


def test_a_file_reads_the_stored_answers_of_the_prompts_it_names_only(tmp_path, monkeypatch):
    """A row naming a stored prompt read every stored answer of the workspace (some 350 MiB at 100,000 prompts and
    200,000 answers); the file's rows are read first, and the answers of the stored prompts they name (as stored or
    respelled) are read in one read, before the first row is spelled. What each row becomes is as before."""
    ws = Workspace.init(tmp_path / "ws")
    prompts = [Prompt([{"role": "user", "content": f"Question {i}?"}], "old") for i in range(4)]
    ws.append([*prompts, *(Completion(p.id, f"Answer {i}.", "old", "import") for i, p in enumerate(prompts))])
    rows = [
        {"prompt": "Question 1? \r\n", "chosen": "Answer 1.  ", "rejected": "No."},
        {"prompt": "Question 2?", "chosen": "Answer 2.", "rejected": "Answer 1."},
        {"prompt": "Question 9?", "chosen": "Answer 9.", "rejected": "No."},
    ]
    reads, read = [], Workspace.read

    def recorded(self, name, columns=None, where=None):
        if name == "completions":
            reads.append(where and (where[0], sorted(where[1])))
        return read(self, name, columns, where)

    monkeypatch.setattr(Workspace, "read", recorded)
    spellings = Spellings(ws)
    loaded = check_file(
        write(tmp_path / "rows.jsonl", *rows), ImportOptions(unlabelled=True), spellings=spellings
    )
    assert reads == [("prompt_id", sorted([prompts[1].id, prompts[2].id]))]
    assert loaded.counts["respelled"] == 2  # the prompt and the answer of the first row
    assert sorted(c.text for c in loaded.records if isinstance(c, Completion)) == sorted(
        ["Answer 1.", "No.", "Answer 2.", "Answer 1.", "Answer 9.", "No."]
    )


def test_a_file_reads_the_messages_of_the_stored_prompts_it_names_only(tmp_path, monkeypatch):
    """Matching a row's prompt read every stored prompt's messages (most of an import's ~320 MiB peak at 100,000
    stored prompts); the stored prompts are digested a batch at a time, and only those whose key a row has (as
    stored or respelled) are read whole, in one read. What each row becomes is as before."""
    ws = Workspace.init(tmp_path / "ws")
    prompts = [Prompt([{"role": "user", "content": f"Question {i}?"}], "old") for i in range(4)]
    ws.append(prompts)
    reads, read = [], Workspace.read

    def recorded(self, name, columns=None, where=None):
        if name == "prompts" and "messages" in (columns or ["messages"]):
            reads.append(where and (where[0], sorted(where[1])))
        return read(self, name, columns, where)

    monkeypatch.setattr(Workspace, "read", recorded)
    rows = [{"prompt": "Question 1? \r\n"}, {"prompt": "Question 2?"}, {"prompt": "Question 9?"}]
    loaded = check_file(write(tmp_path / "rows.jsonl", *rows), ImportOptions(), spellings=Spellings(ws))
    assert reads == [("id", sorted([prompts[1].id, prompts[2].id]))]
    assert loaded.counts["respelled"] == 1
    assert [r.messages[0]["content"] for r in loaded.records] == ["Question 1?", "Question 2?", "Question 9?"]


def spelled(ws: Workspace, nth: int | None = None) -> list[tuple]:
    """What a few rows become with ``ws``'s spellings: prompt, chosen answer, respelled, most."""
    spellings, out = Spellings(ws, nth), []
    rows = [("Which? ", "good  "), ("Which?\r\n", "new"), ("Hi?", "Yes"), ("Hi?\t", "no\r\n"), ("Other", "x")]
    spellings.expect([{"role": "user", "content": prompt}] for prompt, _ in rows[:3])
    for prompt, chosen in rows:
        example = spellings.example(Example([{"role": "user", "content": prompt}], chosen=chosen))
        out.append((example.messages[0]["content"], example.chosen))
    return [*out, spellings.respelled, spellings.most]


def test_prompts_whose_digests_collide_are_told_apart_by_their_text(tmp_path, monkeypatch):
    """A stored prompt is matched by a digest of its key (and its id by one of the id); two of one digest are
    told apart by the text: with every digest the same, each row takes what it takes with real digests."""
    ws = Workspace.init(tmp_path / "ws")
    january, february = (datetime(2026, month, 1, tzinfo=timezone.utc) for month in (1, 2))
    which = Prompt([{"role": "user", "content": "Which?"}], "t", created_at=february)
    near = Prompt([{"role": "user", "content": "Which? \r\n"}], "t", created_at=january)
    hi = Prompt([{"role": "user", "content": "Hi?"}], "t")
    ws.append([which, near, hi, Completion(which.id, "good", "m", "import")])
    ws.append([Completion(hi.id, "no", "m", "import"), Completion(near.id, "good\r\n", "m", "import")])
    expected = [spelled(ws), spelled(ws, nth=1)]
    assert expected[0][:5] == [
        ("Which? \r\n", "good\r\n"),  # the earliest stored spelling, and its prompt's answer
        ("Which? \r\n", "new"),
        ("Hi?", "Yes"),
        ("Hi?", "no"),
        ("Other", "x"),
    ]
    monkeypatch.setattr("data.spellings._digest", lambda value: 7)
    assert [spelled(ws), spelled(ws, nth=1)] == expected


def test_a_prompt_id_stored_twice_is_its_first_row_only(tmp_path):
    """One id in two parts with two texts (a damaged or hand-made workspace): every read takes its first row, so
    the digests and the spellings hold that text only, once, as when every stored prompt was read whole."""
    ws = Workspace.init(tmp_path / "ws")
    first = Prompt([{"role": "user", "content": "First?"}], "t")
    for content in ("First?", "Second?"):
        row = {**first.__dict__, "messages": [{"role": "user", "content": content}]}
        ws.write_part("prompts", pa.Table.from_pylist([row], schema=SCHEMAS["prompts"]))
    spellings = Spellings(ws)
    for given, kept in (("Second? ", "Second? "), ("First? ", "First?"), ("First?\r\n", "First?")):
        assert spellings.example(Example([{"role": "user", "content": given}])).messages[0]["content"] == kept
    assert (spellings.respelled, spellings.most) == (2, 1)
