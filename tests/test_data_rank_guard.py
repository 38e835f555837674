"""No write changes a rank item under the labels stored on it (`data.rank_guard`): `data import` and `data gold FILE`
refuse, in one line naming the file and row, an answer that would join a gold rank item or take a ranked one past 6
answers, and write nothing; an item growing within 3-6, or one nobody ranked, still grows. A ranking whose item grew
past 6 anyway (answers written while the app ran, an older `data merge`) stays counted by export, stats and the admin tab."""

from __future__ import annotations

import json

from annotate.rank_admin import rank_admin_html
from annotate.service import LabelService
from data.__main__ import main
from data.gold import rank_items
from data.imports import ImportOptions, ImportPreview, check_file, import_file
from data.rank_guard import kept_items
from data.ranking import canonical
from data.records import Completion, Label, prompt_id
from data.schemas import SchemaError
from data.workspace import Workspace, where_values
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL, build
from tests.test_data_import_errors import digest

NEW = ["new 1", "new 2", "new 3"]
ADVICE = "`data import --remove FILE` (FILE: the file whose import ranked it)"  # where the import log names no file


def advice(path) -> str:
    """The way out of an imported ranking, where the import log names the file that ranked it."""
    return f"`data import --remove {path}`"


def ranked(tmp_path):
    """`build`'s workspace (two prompts of 4 answers: two rank items), the first item ranked by ann."""
    ws, items, answers = build(tmp_path / "ws")
    ws.append([Label(items[0], "ann", "rank", None, ranking=canonical([[i] for i in answers[0]]))])
    return ws, items, answers


def test_an_import_never_takes_a_ranked_item_past_six_answers(tmp_path, capsys):
    ws, items, _ = ranked(tmp_path)
    before = digest(ws.path)
    three = write(tmp_path / "three.jsonl", {"prompt": "Hi?"}, {"prompt": "Question 0?", "completions": NEW})
    assert main(["import", "-w", str(ws.path), str(three)]) == 2
    assert capsys.readouterr().err == (
        f"error: {three}, row 1: its answer 'new 3' is not stored, and adding it would take rank item {items[0]} "
        "(round 0 of its prompt, ranked 1 time) from 4 to 7 answers: a rank item is 3-6 answers, so it would "
        "leave the rank app with its rankings; leave the row out (an import's answers join round 0 of their "
        "prompt)\n"
    )
    # two files that are fine alone are checked together: the second's answer is the seventh
    pair = write(tmp_path / "pair.jsonl", {"prompt": "Question 0?", "chosen": "x", "rejected": "y"})
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Question 0?", "completion": "z", "label": True})
    assert main(["import", "-w", str(ws.path), str(pair), str(kto)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {kto}, row 0: its answer 'z' is not stored")
    assert digest(ws.path) == before
    try:  # the library call as well
        import_file(ws, three)
    except SchemaError as exc:
        assert f"rank item {items[0]}" in str(exc)
    else:
        raise AssertionError("import_file took the ranked item past 6 answers")
    assert digest(ws.path) == before

    assert main(["import", "-w", str(ws.path), str(pair)]) == 0  # 4 + 2: still a rank item, ranked as it was
    assert len(rank_items(ws)[items[0]]) == 6
    unranked = write(tmp_path / "unranked.jsonl", {"prompt": "Question 1?", "completions": NEW})
    assert main(["import", "-w", str(ws.path), str(unranked)]) == 0  # nobody ranked it: nothing to lose
    assert items[1] not in rank_items(ws)


def test_an_import_never_changes_a_gold_rank_item(tmp_path, capsys):
    ws, items, answers = build(tmp_path / "ws")
    ranking = ">".join(answers[1])
    assert main(["gold", "-w", str(ws.path), "--rank-item", items[1], "--ranking", ranking]) == 0
    before = digest(ws.path)
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Question 1?", "completion": "a fifth", "label": False})
    assert main(["import", "-w", str(ws.path), str(kto)]) == 2
    assert capsys.readouterr().err == (
        f"error: {kto}, row 0: its answer 'a fifth' is not stored, and adding it would change rank item "
        f"{items[1]} (round 0 of its prompt), gold from --rank-item: a gold ranking ranks every answer of its "
        f"item; leave the row out, or `data gold --remove {items[1]}` first\n"
    )
    assert digest(ws.path) == before
    assert main(["gold", "-w", str(ws.path), "--remove", items[1]]) == 0
    assert main(["import", "-w", str(ws.path), str(kto)]) == 0
    five = ">".join(rank_items(ws)[items[1]])
    assert main(["gold", "-w", str(ws.path), "--rank-item", items[1], "--ranking", five]) == 0
    assert main(["import", "-w", str(ws.path), str(kto)]) == 0  # its answer is stored now: nothing joins


def test_with_on_error_skip_an_import_leaves_out_the_rows_a_rank_item_refuses(tmp_path, capsys):
    """`--on-error skip` went on past every bad row but these: the whole import was refused. Every row that gives a
    refused answer is left out (`rank_locked`, listed with the rejects), the others are imported."""
    ws, items, answers = ranked(tmp_path)
    assert main(["gold", "-w", str(ws.path), "--rank-item", items[1], "--ranking", ">".join(answers[1])]) == 0
    rows = [
        {"prompt": "Hi?"},
        {"prompt": "Question 0?", "completions": NEW},  # new 3 would be the ranked item's 7th answer
        {"prompt": "Question 0?", "completion": "new 3", "label": True},  # so would it here
        {"prompt": "Question 1?", "completion": "a fifth", "label": False},  # joins a gold rank item
        {"prompt": "Question 0?", "completion": "new 1", "label": True},  # the 5th: a rank item still
    ]
    path = write(tmp_path / "mixed.jsonl", *rows)
    capsys.readouterr()
    assert main(["import", "-w", str(ws.path), "--on-error", "skip", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "new_completions 1, new_labels 1, new_prompts 1, prompts_already_stored 1, records 5; skipped 3 records "
        "(rank_locked 3)" in out
    )
    (rejects,) = (ws.path / "imports").glob("*.rejects.jsonl")
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["reason"]) for r in listed] == [
        (1, "rank_locked"),
        (2, "rank_locked"),
        (3, "rank_locked"),
    ]
    assert listed[2]["error"].startswith(
        "its answer 'a fifth' is not stored, and adding it would change rank item"
    )
    assert [len(rank_items(ws)[item]) for item in items] == [5, 4]


def test_a_gold_file_never_takes_a_ranked_item_past_six_answers(tmp_path, capsys):
    ws, items, _ = ranked(tmp_path)
    before = digest(ws.path)
    rated = write(
        tmp_path / "rated.jsonl", {"prompt": "Question 0?", "completions": NEW, "ratings": [FULL] * 3}
    )
    assert main(["gold", "-w", str(ws.path), str(rated)]) == 2
    assert capsys.readouterr().err == (
        f"error: {rated}, row 0, field 'ratings[2]': its answer 'new 3' is not stored, and adding it would take "
        f"rank item {items[0]} (round 0 of its prompt, ranked 1 time) from 4 to 7 answers: a rank item is 3-6 "
        "answers, so it would leave the rank app with its rankings; give one of the item's answers (the text "
        "exactly)\n"
    )
    assert digest(ws.path) == before
    two = write(
        tmp_path / "two.jsonl", {"prompt": "Question 0?", "completions": NEW[:2], "ratings": [FULL] * 2}
    )
    assert main(["gold", "-w", str(ws.path), str(two)]) == 0 and len(rank_items(ws)[items[0]]) == 6


def test_a_ranking_whose_item_grew_past_six_stays_counted(tmp_path, capsys):
    """Answers written around the guards (while the app served the item, or by an older `data merge`) end the item; its
    ranking still expands into pairs, and stats and the admin tab still count it."""
    ws, items, answers = ranked(tmp_path)
    prompt_id = ws.read("completions").to_pylist()[0]["prompt_id"]
    ws.append([Completion(prompt_id, f"late {k}", "other", "hf") for k in range(3)])
    assert items[0] not in rank_items(ws)
    assert (
        main(["export", "-w", str(ws.path), "--format", "dpo", "--out", str(tmp_path / "dpo.parquet")]) == 0
    )
    assert "6 rows exported" in capsys.readouterr().out  # 4 answers ranked: 6 pairs
    assert main(["stats", "-w", str(ws.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rank_items"]["rankings"] == 1
    service = LabelService(ws, "rank", overlap=1)
    cards = rank_admin_html(service, "admin", ws.frame("labels"), ())[0]
    assert "of 1 item" in cards


def test_no_writer_adds_an_answer_to_an_item_an_import_ranked(tmp_path, capsys):
    """The rank app serves no item an import ranked: an answer added to it, even within 3-6, would never be ranked,
    so an import and a gold file refuse it as they refuse one joining a gold item."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", {"prompt": "Q?", "completions": NEW, "ranking": "2 > 1 > 3"})
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    (item,) = rank_items(Workspace(ws))
    before = digest(ws)
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Q?", "completion": "a fourth", "label": True})
    assert main(["import", "-w", str(ws), str(kto)]) == 2
    assert capsys.readouterr().err == (
        f"error: {kto}, row 0: its answer 'a fourth' is not stored, and adding it would change rank item {item} "
        "(round 0 of its prompt), ranked by an import: the rank app serves no item an import ranked, so the new "
        f"answer would never be ranked; leave the row out, or {advice(ranks)} first\n"
    )
    more = write(tmp_path / "more.jsonl", {"prompt": "Q?", "completions": [*NEW, "new 4"]})
    assert main(["import", "-w", str(ws), "--source", "ranks", str(more)]) == 2
    assert (
        f"its answer 'new 4' is not stored, and adding it would change rank item {item}"
        in capsys.readouterr().err
    )
    rated = write(tmp_path / "rated.jsonl", {"prompt": "Q?", "response": "a fourth", "ratings": FULL})
    assert main(["gold", "-w", str(ws), str(rated)]) == 2
    assert capsys.readouterr().err == (
        f"error: {rated}, row 0, field 'ratings': its answer 'a fourth' is not stored, and adding it would change "
        f"rank item {item} (round 0 of its prompt), ranked by an import: the rank app serves no item an import "
        f"ranked, so the new answer would never be ranked; give one of the item's answers (the text exactly), or "
        f"{advice(ranks)} first\n"
    )
    assert digest(ws) == before
    assert main(["import", "-w", str(ws), str(ranks)]) == 0  # a rerun adds no answer
    assert Workspace(ws).read("completions").num_rows == 3
    assert main(["import", "-w", str(ws), "--remove", str(ranks)]) == 0  # the advice: the item grows
    assert main(["import", "-w", str(ws), str(kto)]) == 0 and len(rank_items(Workspace(ws))[item]) == 4


def test_the_gold_remove_advice_is_given_only_where_removing_the_gold_lets_the_answer_in(tmp_path, capsys):
    """A gold rank item an import ranked, or a ranked one the answers would take past 6, stays refused once its
    gold is removed: the refusal offered `data gold --remove ITEM` anyway, advice that led to the next refusal. The
    first takes the answer once its imported ranking is withdrawn too: the refusal offers both."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", {"prompt": "Q?", "completions": NEW, "ranking": "2 > 1 > 3"})
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    ((item, answers),) = rank_items(Workspace(ws)).items()
    assert main(["gold", "-w", str(ws), "--rank-item", item, "--ranking", ">".join(answers)]) == 0
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Q?", "completion": "a fourth", "label": True})
    rated = write(tmp_path / "rated.jsonl", {"prompt": "Q?", "response": "a fourth", "ratings": FULL})
    for command, path in (("import", kto), ("gold", rated)):
        assert main([command, "-w", str(ws), str(path)]) == 2
        err = capsys.readouterr().err
        assert (
            "gold from --rank-item" in err and f"`data gold --remove {item}` and {advice(ranks)} first" in err
        ), err
    assert main(["gold", "-w", str(ws), "--remove", item]) == 0
    assert main(["import", "-w", str(ws), str(kto)]) == 2
    err = capsys.readouterr().err
    assert "ranked by an import" in err and "data gold --remove" not in err and advice(ranks) in err
    assert main(["import", "-w", str(ws), "--remove", str(ranks)]) == 0
    assert main(["import", "-w", str(ws), str(kto)]) == 0

    past, items, answers = ranked(tmp_path / "past")  # ranked by ann, 4 answers, and gold
    assert (
        main(["gold", "-w", str(past.path), "--rank-item", items[0], "--ranking", ">".join(answers[0])]) == 0
    )
    three = write(tmp_path / "three.jsonl", {"prompt": "Question 0?", "completions": NEW})
    assert main(["import", "-w", str(past.path), str(three)]) == 2
    assert "--remove" not in capsys.readouterr().err
    two = write(tmp_path / "two.jsonl", {"prompt": "Question 0?", "completions": NEW[:2]})
    assert main(["import", "-w", str(past.path), str(two)]) == 2  # 4 + 2: removing the gold lets them in
    assert f"or `data gold --remove {items[0]}` first" in capsys.readouterr().err


def table_reads(monkeypatch, table: str) -> list[tuple]:
    """Each read of ``table`` from now on: its column and values (sorted) where it names some, else None."""
    reads, read = [], Workspace.read

    def recorded(self, name, columns=None, where=None, as_stored=False):
        if name == table:
            reads.append(where and (where[0], tuple(sorted(where_values(name, *where).to_pylist()))))
        return read(self, name, columns, where, as_stored)

    monkeypatch.setattr(Workspace, "read", recorded)
    return reads


def completion_reads(monkeypatch) -> list[tuple]:
    return table_reads(monkeypatch, "completions")


def test_the_rank_guard_reads_the_completions_of_the_files_prompts_only(tmp_path, monkeypatch, capsys):
    """An import's rank guard read every stored completion's prompt, engine and round, and every stored answer to
    refuse one (30-40 MiB of an import into a workspace of 100,000 prompts): it reads the stored rows of the
    file's answers (by id) and of their prompts only. What it refuses, and says, is as before."""
    ws, items, _ = ranked(tmp_path)
    before = digest(ws.path)
    three = write(tmp_path / "three.jsonl", {"prompt": "Question 0?", "completions": NEW})
    ours = check_file(three, ImportOptions(source="three"))
    prompt, answers = prompt_id([{"role": "user", "content": "Question 0?"}]), sorted(ours.answer_rows)
    reads = completion_reads(monkeypatch)
    assert main(["import", "-w", str(ws.path), str(three)]) == 2
    assert (
        f"its answer 'new 3' is not stored, and adding it would take rank item {items[0]}"
        in capsys.readouterr().err
    )
    assert digest(ws.path) == before
    assert reads and set(reads) <= {("id", tuple(answers)), ("prompt_id", (prompt,))}


def test_the_rank_guard_reads_the_labels_of_the_items_the_answers_join_only(tmp_path, monkeypatch, capsys):
    """The rank guard read every stored label's item, annotator, task, ranking and date to find the rankings in
    force on the items an import's answers join (70 MiB at 1,000,000 labels); it reads those items' labels only,
    a preview's (`generate --prompts`) too. A labeller stored in two spellings, the earliest on another item, still
    ranks the item once, and what the guard refuses, and says, is as before."""
    ws, items, answers = ranked(tmp_path)  # item 0 ranked by ann
    ranking = canonical([[i] for i in reversed(answers[0])])
    nfc, nfd = "zo\u00eb", "zoe\u0308"
    ws.append([Label(items[1], nfd, "rank", None, ranking=canonical([[i] for i in answers[1]]))])
    ws.append(
        [
            Label(items[0], nfc, "rank", None, ranking=ranking),
            Label(items[0], nfd, "rank", None, ranking=ranking),
        ]
    )
    before = digest(ws.path)
    three = write(tmp_path / "three.jsonl", {"prompt": "Question 0?", "completions": NEW})
    reads = table_reads(monkeypatch, "labels")
    assert main(["import", "-w", str(ws.path), str(three)]) == 2
    assert "(round 0 of its prompt, ranked 2 times) from 4 to 7 answers" in capsys.readouterr().err
    assert digest(ws.path) == before
    assert reads == [("item_id", (items[0],))]

    ws.append([Label(items[1], "import", "rank", None, ranking=canonical([[i] for i in answers[1]]))])
    reads.clear()
    prompts = [prompt_id([{"role": "user", "content": f"Question {i}?"}]) for i in range(2)]
    kept = kept_items(ImportPreview(ws.path, ws, []), {(prompts[0], 0): 3, (prompts[1], 0): 1}, {})
    assert [(k.item, k.rankings, k.imported, k.pending) for k in kept] == [
        (items[0], 2, False, False),
        (items[1], 2, True, False),
    ]
    assert set(reads) == {("item_id", tuple(sorted(items))), ("item_id", (items[1],))}  # and the stored


def test_a_preview_of_an_import_reads_some_rows_as_the_workspace_it_will_be(tmp_path):
    """`generate --prompts FILE` checks rank items on a preview of the file's import: its reads of some rows (the
    rank guard's, above) are the rows of the whole read that the import's records and the stored ones give."""
    ws, _, answers = ranked(tmp_path)
    three = write(
        tmp_path / "three.jsonl", {"prompt": "Question 0?", "completions": NEW[:2]}, {"prompt": "New?"}
    )
    preview = ImportPreview(ws.path, ws, check_file(three, ImportOptions()).records)
    columns = ["prompt_id", "engine", "round"]
    whole = preview.read("completions", columns).to_pylist()
    for question, n in (("Question 0?", 6), ("Question 1?", 4), ("New?", 0)):
        prompt = prompt_id([{"role": "user", "content": question}])
        some = preview.read("completions", columns, where=("prompt_id", [prompt])).to_pylist()
        assert len(some) == n and sorted(some, key=str) == sorted(
            (row for row in whole if row["prompt_id"] == prompt), key=str
        )
    assert (
        preview.read("completions", ["id"], where=("id", answers[0][:1])).column("id").to_pylist()
        == answers[0][:1]
    )
