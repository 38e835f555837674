"""`python -m data merge` never hides a label: two workspaces holding different labels of one annotator on one item
(two imports that ranked or rated the same item otherwise, a labeller of the same name in both) are refused in one
line naming the item, the annotator and both workspaces, nothing written; `--on-conflict skip` leaves the merged-in
workspace's out and counts them. Labels that agree, and edits made after a copy, merge as before. Two different gold
answers for one item are a conflict alike. A merge never changes a rank item under its labels (`data.rank_guard`),
with `skip` too; and it is one write: a failure midway leaves nothing merged, and the same command reruns."""

from __future__ import annotations

import errno
import os
import shutil

from data import compaction, store
from data.__main__ import main
from data.annotators import IMPORT
from data.files import write_error
from data.gold import rank_items, read_gold
from data.ranking import canonical
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import build
from tests.test_data_import_errors import digest
from tests.test_data_import_rank_rate import import_, item_of, rating
from tests.test_data_shared_temps import dead_pid

ANSWERS = ["Rome.", "Paris.", "Lyon."]


def imported_workspace(tmp_path, name: str, ranking: str, helpfulness: int) -> Workspace:
    """A workspace of one import (the file's name, as the answers' model, is the same in every workspace)."""
    folder = tmp_path / f"files-{name}"
    folder.mkdir()
    rows = [
        {"prompt": "Capital of France?", "completions": ANSWERS, "ranking": ranking},
        {"prompt": "Say hi.", "response": "Hello!", "ratings": rating(helpfulness)},
    ]
    path = write(folder / "labelled.jsonl", *rows)
    assert import_(tmp_path / name, path) == 0
    return Workspace(tmp_path / name)


def current_import_labels(ws: Workspace) -> dict[str, str]:
    labels = [r for r in ws.read("labels").to_pylist() if r["annotator"] == IMPORT]
    return {r["task"]: r["ranking"] or r["ratings"] for r in labels}


def test_two_imports_labelling_one_item_otherwise_are_refused_or_skipped_never_hidden(tmp_path, capsys):
    first = imported_workspace(tmp_path, "a", "1 > 2 > 3", 4)
    second = imported_workspace(tmp_path, "b", "3 > 2 > 1", 1)
    before, kept = digest(first.path), current_import_labels(first)
    capsys.readouterr()
    assert main(["merge", "-w", str(first.path), str(second.path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {second.path}: import's ") and err.count("\n") == 1
    assert f"differs from the one in {first.path} (1 more like it)" in err
    assert err.endswith(
        f"Pass --on-conflict skip to keep {first.path}'s and leave {second.path}'s out (it stays there)\n"
    )
    assert digest(first.path) == before  # nothing written, not even the answers
    assert main(["merge", "-w", str(first.path), str(second.path), "--on-conflict", "skip"]) == 0
    out = capsys.readouterr().out
    assert f"left out (it stays in {second.path}): 2 conflicting_label" in out
    assert (
        f"import's ranking of rank item {item_of('Capital of France?')} differs from the one in {first.path}"
        in out
    )
    assert current_import_labels(first) == kept  # one imported label per item, this workspace's
    assert import_(first.path, tmp_path / "files-a" / "labelled.jsonl") == 0  # its own file imports again


def pair_workspace(path, choice: str | None = None) -> tuple[Workspace, Pair]:
    ws = Workspace.init(path)
    prompt = Prompt([{"role": "user", "content": "Q?"}], "toy")
    a, b = (Completion(prompt.id, text, "toy", "hf") for text in ("one", "two"))
    pair = Pair(prompt.id, a.id, b.id, "sampled")
    ws.append([prompt, a, b, pair, *([Label(pair.id, "ann", "pairwise", choice)] if choice else [])])
    return ws, pair


def test_a_labeller_named_alike_in_two_workspaces_is_a_conflict_unless_they_agree(tmp_path, capsys):
    ws, pair = pair_workspace(tmp_path / "ws", "a")
    other, _ = pair_workspace(tmp_path / "other", "b")
    same, _ = pair_workspace(tmp_path / "same", "a")
    assert main(["merge", "-w", str(ws.path), str(same.path), str(other.path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {other.path}: ann's pairwise label of item {pair.id} differs from the one in {same.path}: "
        "merged, one would hide the other (an annotator's label on an item is their latest); nothing was merged. "
        f"Pass --on-conflict skip to keep {same.path}'s and leave {other.path}'s out (it stays there)\n"
    )
    assert len(ws.read("labels")) == 1  # `same` was not merged either
    assert main(["merge", "-w", str(ws.path), str(same.path)]) == 0
    assert len(ws.read("labels")) == 2


def test_an_edit_made_after_a_copy_merges_as_the_newer_label(tmp_path):
    ws, pair = pair_workspace(tmp_path / "ws", "a")
    shutil.copytree(ws.path, tmp_path / "copy")
    copy = Workspace(tmp_path / "copy")
    first = copy.read("labels").to_pylist()[0]["id"]
    copy.append([Label(pair.id, "ann", "pairwise", "b", supersedes=first)])
    assert main(["merge", "-w", str(ws.path), str(copy.path)]) == 0
    assert main(["merge", "-w", str(copy.path), str(ws.path)]) == 0  # and back: nothing new, no conflict
    labels = ws.read("labels").to_pandas().sort_values("created_at")
    assert list(labels["choice"]) == ["a", "b"]


def copy(ws: Workspace, path) -> Workspace:
    shutil.copytree(ws.path, path)
    return Workspace(path)


def question(i: int) -> str:
    """The prompt id of `build`'s question ``i`` (its rank item: round 0 of it)."""
    return Prompt([{"role": "user", "content": f"Question {i}?"}], "toy").id


def test_two_workspaces_with_different_gold_answers_for_one_item_are_refused_or_skipped(tmp_path, capsys):
    ws, pair = pair_workspace(tmp_path / "ws")
    other, _ = pair_workspace(tmp_path / "other")
    same, _ = pair_workspace(tmp_path / "same")
    for workspace, answer in ((ws, "a"), (other, "b"), (same, "a")):
        assert main(["gold", "-w", str(workspace.path), "--pair", pair.id, "--answer", answer]) == 0
    capsys.readouterr()
    before = digest(ws.path)
    assert main(["merge", "-w", str(ws.path), str(other.path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {other.path}: the gold answer of pair {pair.id} differs from the one in {ws.path}: merged, one "
        "would replace the other (an item's gold answer is its latest); nothing was merged. Pass --on-conflict "
        f"skip to keep {ws.path}'s and leave {other.path}'s out (it stays there)\n"
    )
    assert digest(ws.path) == before
    assert main(["merge", "-w", str(ws.path), str(other.path), "--on-conflict", "skip"]) == 0
    out = capsys.readouterr().out
    assert f"left out (it stays in {other.path}): 1 conflicting_gold" in out
    assert f"the gold answer of pair {pair.id} differs from the one in {ws.path}" in out
    assert read_gold(ws).column("choice").to_pylist() == ["a"]
    assert main(["merge", "-w", str(ws.path), str(same.path)]) == 0  # the same answer: no conflict
    assert len(ws.read("gold")) == 2 and read_gold(ws).column("choice").to_pylist() == ["a"]


def test_a_merge_never_takes_a_ranked_item_past_six_answers_either_way(tmp_path, capsys):
    ws, items, answers = build(tmp_path / "ws")
    shard = copy(ws, tmp_path / "shard")
    shard.append([Completion(question(0), f"late {k}", "other", "hf") for k in range(3)])
    ws.append([Label(items[0], "ann", "rank", None, ranking=canonical([[i] for i in answers[0]]))])
    before, problem = (
        digest(ws.path),
        (
            f"would take rank item {items[0]} (round 0 of its prompt, ranked 1 time) from 4 to 7 answers: a rank "
            "item is 3-6 answers, so it would leave the rank app with its rankings"
        ),
    )
    for flag in ([], ["--on-conflict", "skip"]):  # leaving answers out would leave out what is built on them
        assert main(["merge", "-w", str(ws.path), str(shard.path), *flag]) == 2
        assert capsys.readouterr().err == (
            f"error: {shard.path}: merging it {problem} (its rankings are in {ws.path}, the 3 new answers in "
            f"{shard.path}); nothing was merged, whatever --on-conflict says. Merge answers sampled into a round "
            "of their own (generate --round N)\n"
        )
    assert digest(ws.path) == before
    # the other way round: the shard's answers are new to the ranking that comes from ws
    assert main(["merge", "-w", str(shard.path), str(ws.path)]) == 2
    assert f"(its rankings are in {ws.path}, the 3 new answers in {shard.path})" in capsys.readouterr().err
    assert "ann" not in shard.read("labels", ["annotator"]).column("annotator").to_pylist()


def test_a_merge_never_adds_an_answer_to_a_gold_or_import_ranked_item(tmp_path, capsys):
    ws, items, answers = build(tmp_path / "ws")
    shard = copy(ws, tmp_path / "shard")
    shard.append([Completion(question(1), "a fifth", "other", "hf")])  # 5 answers: a rank item still
    assert main(["gold", "-w", str(ws.path), "--rank-item", items[1], "--ranking", ">".join(answers[1])]) == 0
    capsys.readouterr()
    assert main(["merge", "-w", str(ws.path), str(shard.path)]) == 2
    err = capsys.readouterr().err
    assert (
        f"merging it would change rank item {items[1]} (round 0 of its prompt), gold from --rank-item" in err
    )
    assert err.endswith(f"(generate --round N), or `data gold -w {ws.path} --remove {items[1]}` first\n")
    assert main(["gold", "-w", str(ws.path), "--remove", items[1]]) == 0
    assert main(["merge", "-w", str(ws.path), str(shard.path)]) == 0 and len(rank_items(ws)[items[1]]) == 5

    ranks = write(tmp_path / "ranks.jsonl", {"prompt": "Q?", "completions": ANSWERS, "ranking": "2 > 1 > 3"})
    assert main(["import", "-w", str(tmp_path / "imported"), str(ranks)]) == 0
    imported = Workspace(tmp_path / "imported")
    later = copy(imported, tmp_path / "later")
    prompt_id = imported.read("completions", ["prompt_id"]).column("prompt_id")[0].as_py()
    later.append([Completion(prompt_id, "a fourth", "other", "hf")])
    assert main(["merge", "-w", str(imported.path), str(later.path)]) == 2
    err = capsys.readouterr().err
    assert "ranked by an import: the rank app serves no item an import ranked" in err
    withdraw = f"`data import -w {imported.path} --remove {ranks}`"  # its import log names the file
    assert err.endswith(f"(generate --round N), or {withdraw} first\n")  # it offered no way out
    # made gold as well: withdrawing the gold alone would not let the answer in, so both are offered
    item, ids = next(iter(rank_items(imported).items()))
    assert main(["gold", "-w", str(imported.path), "--rank-item", item, "--ranking", ">".join(ids)]) == 0
    capsys.readouterr()
    assert main(["merge", "-w", str(imported.path), str(later.path)]) == 2
    err = capsys.readouterr().err
    assert "gold from --rank-item" in err
    assert err.endswith(f", or `data gold -w {imported.path} --remove {item}` and {withdraw} first\n")
    assert main(["gold", "-w", str(imported.path), "--remove", item]) == 0  # the advice, followed
    assert main(["import", "-w", str(imported.path), "--remove", str(ranks)]) == 0
    assert main(["merge", "-w", str(imported.path), str(later.path)]) == 0
    assert len(rank_items(imported)[item]) == 4


def shards(tmp_path, n: int) -> tuple[Workspace, list[Workspace]]:
    ws, pair = pair_workspace(tmp_path / "ws")
    out = []
    for i in range(n):
        shard = copy(ws, tmp_path / f"shard{i}")
        shard.append([Completion(pair.prompt_id, f"shard {i}", "toy", "hf", round=1)])
        out.append(shard)
    return ws, out


def test_a_label_id_two_shards_give_to_two_items_is_refused_naming_the_shard_or_skipped(tmp_path, capsys):
    """A label id given to another item in a shard merged before (or in this workspace) was left out of the merge
    as a label already held: the label was lost, and the summary said nothing of it. It is refused naming the
    shard that brought it and the one holding the id, or, with --on-conflict skip, left out and counted."""
    ws, (one, two) = shards(tmp_path, 2)
    pair = ws.read("pairs").to_pylist()[0]
    one.append([Label(pair["id"], "ann", "pairwise", "a", id="given")])
    answer = Completion(pair["prompt_id"], "shard 1", "toy", "hf", round=1)  # the shard's own (`shards`)
    assert answer.id in two.ids("completions")
    other = Pair(pair["prompt_id"], pair["completion_a"], answer.id, "sampled", round=1)
    two.append([other, Label(other.id, "bob", "pairwise", "b", id="given")])
    before = digest(ws.path)
    assert main(["merge", "-w", str(ws.path), str(one.path), str(two.path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {two.path}: label id 'given' of item {other.id!r} names a label of item {pair['id']!r} in "
        f"{one.path}: merged, it would be lost behind that label (the store keeps one label per id); nothing was "
        f"merged. Pass --on-conflict skip to keep {one.path}'s and leave {two.path}'s out (it stays there)\n"
    )
    assert digest(ws.path) == before
    assert main(["merge", "-w", str(ws.path), str(one.path), str(two.path), "--on-conflict", "skip"]) == 0
    out = capsys.readouterr().out
    assert f"left out (it stays in {two.path}): 1 reused_label_id" in out
    assert f"label id 'given' of item {other.id!r} names a label of item {pair['id']!r} in {one.path}" in out
    assert ws.read("labels", ["item_id"]).to_pylist() == [{"id": "given", "item_id": pair["id"]}]
    assert other.id in ws.ids("pairs")  # the rest of the shard merged


def test_a_merge_source_that_is_not_a_workspace_is_said_so_not_to_be_initialised(tmp_path, capsys):
    """`data merge -w WS nonexist` advised `python -m data init` on the source, which would only make an empty
    workspace to merge."""
    ws, (one,) = shards(tmp_path, 1)
    (tmp_path / "folder").mkdir()
    before = digest(ws.path)
    capsys.readouterr()
    for source, said in [
        ("nonexist", "the workspace to merge does not exist"),
        ("folder", "not a workspace (no workspace.json): nothing to merge from it"),
    ]:
        assert main(["merge", "-w", str(ws.path), str(one.path), str(tmp_path / source)]) == 2
        assert capsys.readouterr() == ("", f"error: {tmp_path / source}: {said}\n")
    assert digest(ws.path) == before


def test_a_merge_source_with_dangling_references_is_refused_before_anything_is_written(tmp_path, capsys):
    """A shard whose pairs folder was lost merged its labels in, status 0, then warned of each label left dangling
    here (12 lines for 12 labels): the damage was copied into the workspace merged into. Refused in one line."""
    ws, (one, two) = shards(tmp_path, 2)
    two.append([Completion("no-such-prompt", "Lost.", "m", "hf"), Completion("gone-too", "Lost.", "m", "hf")])
    before = digest(ws.path)
    capsys.readouterr()
    assert main(["merge", "-w", str(ws.path), str(one.path), str(two.path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {two.path}: completion ") and err.endswith(
        f"does not exist and 1 more (`python -m data validate -w {two.path}` names them): merging it would bring "
        "them here; nothing merged\n"
    )
    assert digest(ws.path) == before  # not even the sound shard merged before it


def test_a_merge_source_with_a_link_beside_its_tables_merges(tmp_path, capsys):
    """The refusal of a source whose references dangle refused, "merging it would bring them here; nothing merged",
    a shard whose WS/runs is a link to a larger disk, whose session key is a link to one shared, or whose round
    driver's lock is a hard link (a copy by ``cp -al``): `data validate` names those, but a merge reads none of
    them, and its sound rows were never merged."""
    ws, (one, two) = shards(tmp_path, 2)
    (tmp_path / "disk").mkdir()
    os.symlink(tmp_path / "disk", one.path / "runs")
    (tmp_path / "session.key").write_bytes(b"k" * 32)
    os.symlink(tmp_path / "session.key", one.path / "session.key")
    (two.path / "runs").mkdir()
    (two.path / "runs" / "chain.lock").touch()
    os.link(two.path / "runs" / "chain.lock", tmp_path / "chain.lock")
    assert main(["merge", "-w", str(ws.path), str(one.path), str(two.path)]) == 0
    assert "nothing merged" not in capsys.readouterr().err
    assert {"shard 0", "shard 1"} <= set(ws.read("completions").column("text").to_pylist())


def test_a_merge_source_holding_parts_of_an_interrupted_write_merges(tmp_path, capsys, monkeypatch):
    """The dangling-references check refused a shard holding a killed import's uncommitted parts as if merging it
    "would bring them here": no reader sees them, so nothing of them is merged and the shard's rows are."""
    ws, (one,) = shards(tmp_path, 1)
    folder = one.path / "completions"
    part = store.part_files(folder)[0]
    with monkeypatch.context() as patch:
        patch.setattr("os.getpid", dead_pid)  # a writer that is gone
        shutil.copy(part, folder / store.part_name(batch="e" * 16))
    assert one.orphans()
    capsys.readouterr()
    assert main(["merge", "-w", str(ws.path), str(one.path)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and f"{one.path}: completions +1" in out
    assert ws.read("completions").num_rows == one.read("completions").num_rows


def test_a_merge_that_fails_midway_writes_nothing_and_the_same_command_reruns(tmp_path, capsys, monkeypatch):
    ws, (one, two) = shards(tmp_path, 2)
    command = ["merge", "-w", str(ws.path), str(one.path), str(two.path)]
    before, write_part = digest(ws.path), store.write_part

    def disk_full_at_the_second(directory, table, metadata=None, dir_fd=None):
        if "shard 1" in str(table.to_pylist()):
            raise write_error(OSError(errno.ENOSPC, "No space left on device"), directory)
        return write_part(directory, table, metadata, dir_fd)

    monkeypatch.setattr(store, "write_part", disk_full_at_the_second)
    assert main(command) == 2
    assert capsys.readouterr().err.startswith("error: the disk is full: nothing was written")
    assert digest(ws.path) == before  # not even the first shard's answer
    monkeypatch.undo()
    assert main(command) == 0
    assert len(ws.read("completions")) == 4
    after = digest(ws.path)
    assert main(command) == 0 and digest(ws.path) == after  # once more: nothing new
    assert capsys.readouterr().out.count("nothing new") == 2


def test_a_compaction_failing_after_the_merge_is_a_warning_not_an_error(
    tmp_path, capsys, caplog, monkeypatch
):
    """A writer compacts once its rows are committed: a compaction that fails then (a full disk) loses nothing and
    undoes nothing, so the merge is complete, says so in a warning with how to compact, and exits 0, as every
    writer does (and the app's background compactor); the next write compacts again. The warning quotes what
    failed, compacting which table: it quoted the WriteError whole ("... nothing was written to WS/completions"),
    which read as a contradiction of "the write is complete"."""
    ws, (one, two) = shards(tmp_path, 2)

    def disk_full(root, name, bound=compaction.MAX_PARTS):
        raise write_error(OSError(errno.ENOSPC, "No space left on device"), root / name)

    monkeypatch.setattr(compaction, "maybe_compact", disk_full)
    assert main(["merge", "-w", str(ws.path), str(one.path), str(two.path)]) == 0
    assert capsys.readouterr().err == ""  # no error line
    assert (
        f"{ws.path}: the write is complete; compacting {ws.path / 'completions'} afterwards failed (the disk is "
        f"full): nothing is lost, the next write compacts it, or run `python -m data compact -w {ws.path}`"
        in caplog.text
    )
    assert "nothing was written" not in caplog.text
    assert len(ws.read("completions")) == 4  # merged
    monkeypatch.undo()
    assert main(["compact", "-w", str(ws.path)]) == 0


def test_an_answer_one_side_lists_as_the_arenas_and_the_other_as_ordinary_merges_ordinary_and_joins_its_item(
    tmp_path, capsys
):
    """An answer is the arena's unless a sampled pair is on it or an arena's record names it ordinary (README):
    where one workspace's arena listed it as its own and the other's as ordinary (stored there before that arena
    ran), the merged workspace holds it ordinary, in the rank item of its prompt and round (the rank app serves it,
    labels on it are training data). It joins that item where it was the arena's, which a gold ranking there would
    leave out: the merge checked only the answers one side lacked, and changed the gold item without a word. It is
    refused, either way round, as any answer joining a gold item is, until the gold is withdrawn."""
    from data.records import ArenaRun
    from data.selection import stored_arena_answers

    ws, items, answers = build(tmp_path / "ws")
    shard = copy(ws, tmp_path / "shard")
    answer = Completion(question(1), "an arena's answer", "arena-model", "hf")
    compared = ("train", 0, ["arena-model", "toy"], 1, 0)
    ws.append([answer, ArenaRun(*compared, answers=[answer.id])])
    shard.append([answer, ArenaRun(*compared, ordinary=[answer.id])])
    assert stored_arena_answers(ws).to_pylist() == [answer.id]
    assert main(["gold", "-w", str(ws.path), "--rank-item", items[1], "--ranking", ">".join(answers[1])]) == 0
    capsys.readouterr()
    before = digest(ws.path), digest(shard.path)
    for into, other, ordinary in (
        (ws, shard, shard.path),
        (shard, ws, "this workspace"),
    ):  # the gold here, or there
        assert main(["merge", "-w", str(into.path), str(other.path)]) == 2
        said = f"merging it would change rank item {items[1]} (round 0 of its prompt), gold from --rank-item"
        err = capsys.readouterr().err
        assert said in err
        # not "the 1 new answer in" a workspace where it is not new, nor the gold's own
        assert (
            f"(its gold ranking is in {ws.path}, the 1 arena answer there that {ordinary} holds as ordinary)"
            in err
        )
    assert (digest(ws.path), digest(shard.path)) == before
    assert main(["gold", "-w", str(ws.path), "--remove", items[1]]) == 0
    assert main(["merge", "-w", str(ws.path), str(shard.path)]) == 0
    assert stored_arena_answers(ws).to_pylist() == []
    assert sorted(rank_items(ws)[items[1]]) == sorted([*answers[1], answer.id])
