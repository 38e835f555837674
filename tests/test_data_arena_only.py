"""The arena's answers are evaluation data only: the kto, rate and rank apps never serve them, and every export and
`train` leave out the labels those tasks hold on them (stored by an older version, which served them, or imported),
counted ``arena_only``; the arena's top-up and a merge are not held back by a ranking of them; `data stats` and
`data validate` say how many such labels there are, and stats' verdict figures leave them out. The answers an arena
left unpaired (another model's text) are the arena's too: its record lists every answer it gave."""

from __future__ import annotations

import json

import pytest

from annotate.service import LabelService
from data import Completion, Label, Pair, Prompt, Workspace
from data.__main__ import main as data_main
from data.edits import edit_records
from data.gold import gold_rows
from data.ranking import canonical_ranking, rank_item_id
from data.records import ArenaRun, now
from generate.rank_items import check_sampled_rank_items
from tests.test_data_exclusion import RATING, export
from train.pairs import kto_rows, preference_rows, rating_kto_rows, sft_rows

MODELS = ("m_a", "m_b", "m_c")


def arena_round(prompt: Prompt) -> tuple[list[Completion], list[Pair]]:
    """Three models' answers to ``prompt`` and the arena pairs they make (`generate --arena m_a,m_b,m_c`)."""
    answers = [
        Completion(prompt.id, f"{model} says {prompt.id[:4]}", model, "hf", seed=0) for model in MODELS
    ]
    pairs = [
        Pair(prompt.id, a.id, b.id, kind="arena") for i, a in enumerate(answers) for b in answers[i + 1 :]
    ]
    return answers, pairs


def build(path) -> tuple[Workspace, dict]:
    """Two test prompts answered by the arena (no pairs yet: the arena writes them last), and one train prompt
    with four sampled answers and a sampled pair of two of them (all four: a rank item)."""
    ws = Workspace.init(path)
    held = [Prompt([{"role": "user", "content": f"Held out {i}?"}], "t", split="test") for i in range(2)]
    train = Prompt([{"role": "user", "content": "Train?"}], "t")
    sampled = [Completion(train.id, f"answer {k}", "m_a", "hf", seed=k) for k in range(4)]
    arena = [arena_round(p) for p in held]
    ws.append([*held, train, *sampled, Pair(train.id, sampled[0].id, sampled[1].id, "sampled")])
    ws.append([a for answers, _ in arena for a in answers])
    ids = {"held": [p.id for p in held], "train": train.id, "sampled": [c.id for c in sampled]}
    ids["arena"] = [[a.id for a in answers] for answers, _ in arena]
    return ws, {**ids, "pairs": [p for _, pairs in arena for p in pairs]}


@pytest.fixture()
def world(tmp_path):
    ws, ids = build(tmp_path / "ws")
    ws.append(ids["pairs"])
    return ws, ids


def test_the_rule_an_answer_the_arena_reused_from_sampling_stays_ordinary(world):
    from data.selection import arena_answers

    ws, ids = world
    found = set(arena_answers(ws.read("pairs")).to_pylist())
    assert found == {i for answers in ids["arena"] for i in answers}
    reused = ids["arena"][0][0]  # paired for labelling as well: an ordinary answer
    ws.append([Pair(ids["held"][0], reused, ids["arena"][0][1], kind="sampled")])
    assert reused not in set(arena_answers(ws.frame("pairs")).to_pylist())


@pytest.mark.parametrize("task", ["kto", "rate", "rank"])
def test_no_app_but_the_arenas_serves_the_arenas_answers(world, task):
    ws, ids = world
    service = LabelService(ws, task, overlap=1)
    if task == "rank":
        assert list(service.items) == [rank_item_id(ids["train"], 0)]
    else:
        assert sorted(service.items) == sorted(ids["sampled"])
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.skip("ann", shown.item.id)
    assert sorted(served) == sorted(service.items)


@pytest.mark.parametrize("task", ["kto", "rank"])
def test_a_running_app_takes_answers_out_once_their_arena_pairs_arrive(tmp_path, task):
    """An arena writes its pairs once every model has answered: a running app read the answers as items before;
    the reload that reads the pairs takes them out of its queue, as a restart leaves them out."""
    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, task, overlap=1)
    arena_items = (
        [rank_item_id(p, 0) for p in ids["held"]] if task == "rank" else [i for a in ids["arena"] for i in a]
    )
    assert set(arena_items) <= set(service.items)  # no arena pair yet: ordinary answers
    ws.append(ids["pairs"])
    service.reload()
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.skip("ann", shown.item.id)
    assert not set(served) & set(arena_items) and served
    assert set(LabelService(ws, task, overlap=1).items).isdisjoint(arena_items)


@pytest.mark.parametrize("task", ["kto", "rate", "rank"])
def test_an_app_with_only_arena_answers_says_so(tmp_path, task):
    from annotate.empty_queue import nothing_to_label

    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Held out?"}], "t", split="test")
    answers, pairs = arena_round(prompt)
    ws.append([prompt, *answers, *pairs])
    assert nothing_to_label(ws, task, "ws").endswith(
        "; its 3 arena answers are evaluation data, which only `--task arena` serves (their pairs); run `python -m "
        "generate` for answers to label"
    )


def old_labels(ids) -> list[Label]:
    """What an older version let labellers store on the arena's answers: a ranking of the first prompt's three, a
    KTO label and ratings of one of the second's."""
    first, second = ids["arena"]
    ranking = canonical_ranking(f"{first[2]}>{first[0]}>{first[1]}")
    item = rank_item_id(ids["held"][0], 0)
    return [
        Label(item, "ann", "rank", None, ranking=ranking, left=",".join(first)),
        Label(second[0], "ann", "kto", "desirable"),
        Label(second[1], "ann", "rate", None, ratings=RATING, rubric="helpsteer2"),
    ]


def old_edit(ws, ids) -> list:
    """An edit an older version's rank app let ann make of one of the arena's answers (its pair and her label)."""
    original = ids["arena"][0][0]
    text = ws.frame("completions").set_index("id").at[original, "text"]
    item = rank_item_id(ids["held"][0], 0)
    return list(edit_records(ids["held"][0], original, text, "A better answer.", "ann", item, 0, now()))


def test_exports_and_train_leave_out_labels_on_the_arenas_answers_counted_arena_only(world, capsys):
    ws, ids = world
    ws.append([*old_labels(ids), *old_edit(ws, ids)])
    counts, _ = export(ws, capsys, "--format", "dpo", "--split", "test")
    # the ranking (it gave 3 rank pairs) and the edit pair; the arena's votes are not asked; the sampled pair is train's
    assert counts == {"exported": 0, "arena_only": 2, "kind_arena_not_asked": 6, "other_split": 1}
    counts, _ = export(ws, capsys, "--format", "sft", "--edits", "--split", "test")
    assert counts == {"exported": 0, "arena_only": 1}
    rows, counts = sft_rows(ws, "test", ("edits",))
    assert rows == [] and counts["arena_only"] == 1
    counts, _ = export(ws, capsys, "--format", "kto", "--split", "test")
    assert counts == {
        "exported": 0,
        "arena_only": 1,
        "other_split": 4,
    }  # the arena's answers: no unlabelled item
    counts, _ = export(ws, capsys, "--format", "ratings", "--split", "test")
    assert counts == {"exported": 0, "arena_only": 1, "other_split": 4}
    rows, counts = preference_rows(ws, "test", ("sampled", "imported", "spin", "edit", "rank"))
    assert rows == [] and counts["arena_only"] == 2
    rows, counts = kto_rows(ws, "test")
    assert rows == [] and counts["arena_only"] == 1
    rows, counts = rating_kto_rows(ws, "test", "helpfulness>=3")
    assert rows == [] and counts["arena_only"] == 1
    counts, _ = export(ws, capsys, "--format", "dpo", "--split", "test", "--kinds", "arena")
    # the arena's pairs export as asked (nobody voted here); the ranking stays out; the sampled pair is train's
    assert counts == {"exported": 0, "unlabelled": 6, "arena_only": 2, "other_split": 1}


def test_the_training_split_counts_the_test_splits_arena_labels_other_split_not_arena_only(world, capsys):
    """The labels on the arena's answers are all of test prompts: the training split's counts (train's workspace
    line, `export --split train`) said arena_only 2 (dpo) or 1 all the same, as the held-out line said them."""
    ws, ids = world
    ws.append([*old_labels(ids), *old_edit(ws, ids)])
    rows, counts = preference_rows(ws, "train", ("sampled", "imported", "spin", "edit", "rank"))
    # the arena's 6 pairs, its ranked rank item and the edit pair are the test split's
    assert (rows, dict(counts)) == ([], {"exported": 0, "unlabelled": 1, "other_split": 8})
    for rows, counts in (kto_rows(ws, "train"), rating_kto_rows(ws, "train", "helpfulness>=3")):
        assert rows == [] and "arena_only" not in counts and counts["other_split"] == 1
    assert sft_rows(ws, "train", ("edits",)) == ([], {"other_split": 1})
    counts, _ = export(ws, capsys, "--format", "kto", "--split", "train")
    assert counts == {"exported": 0, "unlabelled": 4, "other_split": 1}
    counts, _ = export(ws, capsys, "--format", "dpo", "--split", "train", "--kinds", "sampled", "rank")
    assert counts == {"exported": 0, "unlabelled": 1, "other_split": 8}  # of_split before --kinds
    rows, counts = preference_rows(ws, None, ("sampled", "imported", "spin", "edit", "rank"))
    assert counts["arena_only"] == 2 and "other_split" not in counts  # no split: every split's


def test_a_ranking_of_the_arenas_answers_does_not_hold_back_its_top_up(world):
    """`generate --arena` of 4 models at --arena-n 2 adds 5 answers to each prompt: a ranking an older version
    stored on the arena's 3 answers refused it (a ranked item past 6)."""
    ws, ids = world
    ws.append(old_labels(ids))
    check_sampled_rank_items(ws, {ids["held"][0]: 5}, 0)
    ranking = canonical_ranking(">".join(ids["sampled"]))
    ws.append([Label(rank_item_id(ids["train"], 0), "ann", "rank", None, ranking=ranking)])
    with pytest.raises(Exception, match="from 4 to 7 answers"):  # an ordinary ranked item is still kept whole
        check_sampled_rank_items(ws, {ids["train"]: 3}, 0)


def test_stats_and_validate_say_how_many_labels_are_on_the_arenas_answers(world, capsys):
    ws, ids = world
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    assert "arena" not in capsys.readouterr().out
    ws.append(old_labels(ids))
    line = (
        "arena_only_labels: 3 labels of other tasks on the arena's answers (kto 1, rank 1, rate 1), which are "
        "evaluation data: left out of every export and train (counted arena_only) and of stats' <task>_items"
    )
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    assert f"note: {line}\n" in capsys.readouterr().out
    assert data_main(["stats", "-w", str(ws.path)]) == 0
    assert f"{line}\n" in capsys.readouterr().out
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["arena_only_labels"] == {"kto": 1, "rank": 1, "rate": 1}


def test_a_retracted_ranking_of_the_arenas_answers_is_no_label_in_force(world, capsys):
    """A rank label's retraction names no answer (no ranking, nothing shown): only the ranking it takes back was
    found on the arena's answers, so the ranking alone was looked at and counted in force, `data stats` and `data
    validate` saying one rank label there and the exports one item left out (arena_only) that no labeller holds.
    A retraction is on its ranking's item, as the ranking is."""
    ws, ids = world
    ranking, *others = old_labels(ids)
    ws.append([ranking, *others])
    ws.append([Label(ranking.item_id, "ann", "rank", None, retracted=True, supersedes=ranking.id)])
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    assert "arena's answers (kto 1, rate 1)" in capsys.readouterr().out
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["arena_only_labels"] == {"kto": 1, "rate": 1}
    counts, _ = export(ws, capsys, "--format", "dpo", "--split", "test")
    assert counts == {"exported": 0, "kind_arena_not_asked": 6, "other_split": 1}


def test_stats_and_validate_find_the_labels_on_the_arenas_answers_once(world, monkeypatch, capsys):
    """validate read the labels, pairs and arena records a second time for its note, after its check had read every
    table whole, and stats looked for the labels on the arena's answers twice, among all labels and again among
    those in force. Each is read, and looked through, once; what they say is the test above's."""
    from collections import Counter

    from data import selection, stats

    ws, ids = world
    ws.append(old_labels(ids))
    reads, looks, read, look = Counter(), [], Workspace.read, selection.arena_labels

    def counted_read(self, name, *args, **kwargs):
        reads.update([name])
        return read(self, name, *args, **kwargs)

    def counted_look(labels, arena):
        looks.append(len(labels))
        return look(labels, arena)

    monkeypatch.setattr(Workspace, "read", counted_read)
    for module in (selection, stats):
        monkeypatch.setattr(module, "arena_labels", counted_look)
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    assert "note: arena_only_labels: 3 labels" in capsys.readouterr().out
    assert set(reads.values()) == {1}
    looks.clear()
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["arena_only_labels"] == {"kto": 1, "rank": 1, "rate": 1}
    assert looks == [len(ws.read("labels"))]


def recorded(ids, answers: bool = True) -> ArenaRun:
    """The arena's record of ``build``'s two held-out prompts, its answers left unpaired (another model's text: no
    pair), with the answers it gave (``answers``; False: as a run recorded before they were)."""
    given = sorted(i for answers in ids["arena"] for i in answers) if answers else []
    return ArenaRun("test", 0, list(MODELS), 2, 0, 6, ids["held"], answers=given)


@pytest.mark.parametrize("task", ["kto", "rate", "rank"])
def test_the_answers_an_arena_left_unpaired_are_its_too(tmp_path, task):
    """An answer the arena left unpaired as another model's text is on no pair: the pair rule made it an ordinary
    answer, which the kto, rate and rank apps served. The arena records every answer it gave."""
    ws, ids = build(tmp_path / "ws")
    arena_items = (
        [rank_item_id(p, 0) for p in ids["held"]] if task == "rank" else [i for a in ids["arena"] for i in a]
    )
    ws.append([recorded(ids, answers=False)])  # recorded before the answers were: the pair rule, as before
    assert set(arena_items) <= set(LabelService(ws, task, overlap=1).items)
    ws.append([recorded(ids)])
    assert set(LabelService(ws, task, overlap=1).items).isdisjoint(arena_items)


def test_a_running_app_takes_answers_out_once_their_arena_record_arrives(tmp_path):
    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, "kto", overlap=1)
    arena_items = {i for answers in ids["arena"] for i in answers}
    assert arena_items <= set(service.items)
    ws.append([recorded(ids)])
    service.reload()
    served = []
    while (shown := service.show("ann")) is not None:
        served.append(shown.item.id)
        service.skip("ann", shown.item.id)
    assert sorted(served) == sorted(ids["sampled"])


@pytest.mark.parametrize("unpaired", [False, True])
def test_a_merge_adds_the_arenas_answers_to_no_rank_item(world, tmp_path, capsys, unpaired):
    """`data merge`'s rank check counted the arena's answers as joining a rank item (it was given no arena): a
    shard's arena over the train prompt (its round 0, ranked with 4 answers) was refused, "from 4 to 7 answers";
    and the answers an arena left unpaired (`unpaired`: recorded, on no pair) were ordinary answers to it."""
    ws, ids = world
    ranking = canonical_ranking(">".join(ids["sampled"]))
    ws.append([Label(rank_item_id(ids["train"], 0), "ann", "rank", None, ranking=ranking)])
    shard = Workspace.init(tmp_path / "shard")
    train = ws.frame("prompts").set_index("id").loc[ids["train"]]
    prompt = Prompt(list(train["messages"]), "t")
    answers = [Completion(prompt.id, f"{model} says so", model, "hf", seed=0) for model in MODELS]
    every = [a.id for a in answers]
    record = ArenaRun("train", 0, list(MODELS), 1, 0 if unpaired else 3, answers=every if unpaired else [])
    pairs = (
        []
        if unpaired
        else [Pair(prompt.id, a, b, kind="arena") for i, a in enumerate(every) for b in every[i + 1 :]]
    )
    shard.append([prompt, *answers, *pairs, record])
    capsys.readouterr()
    assert data_main(["merge", "-w", str(ws.path), str(shard.path)]) == 0, capsys.readouterr().err
    assert set(every) <= set(ws.frame("completions")["id"])
    assert list(LabelService(ws, "rank", overlap=1).items) == [rank_item_id(ids["train"], 0)]


def test_stats_verdict_figures_leave_out_labels_on_the_arenas_answers(tmp_path, capsys):
    """`data stats`' kto_items counted a KTO label on an arena answer (here one it left unpaired), which every
    export and train leave out (arena_only)."""
    ws, ids = build(tmp_path / "ws")
    ws.append([recorded(ids)])
    ws.append(
        [
            Label(ids["sampled"][0], "ann", "kto", "desirable"),
            Label(ids["arena"][1][0], "ann", "kto", "undesirable"),
        ]
    )
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["arena_only_labels"] == {"kto": 1} and stats["kto_items"]["labelled"] == 1
    assert stats["labels"]["kto"] == {"desirable": 1, "undesirable": 1}  # stored labels are all counted
    counts, _ = export(ws, capsys, "--format", "kto", "--split", "test")  # as exports and train leave it out
    assert counts == {"exported": 0, "arena_only": 1, "other_split": 4}
    rows, counts = kto_rows(ws, "test")
    assert rows == [] and counts["arena_only"] == 1


def test_validate_names_an_arena_record_whose_answers_are_not_stored(world, capsys):
    """`data validate` read "OK" of an arena record whose `answers` named completions the workspace does not hold,
    though every reader takes the arena's answers from them: one line a record, its first such answer named."""
    ws, ids = world
    ws.append([recorded(ids), recorded(ids, answers=False)])
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    damaged = ArenaRun(
        "test", 0, ["m_a"], 2, 0, answers=[ids["arena"][0][0], "deadbeefdeadbeef", "feedfacefeedface"]
    )
    ws.append([damaged])
    capsys.readouterr()
    assert data_main(["validate", "-w", str(ws.path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"arena {damaged.id}: answers deadbeefdeadbeef does not exist (and 1 more of its answers)",
        f"{ws.path}: 1 problem",
    ]


def test_validate_names_an_arena_record_whose_ordinary_answers_are_not_stored(world, capsys):
    """The answers an arena found ordinary (`ArenaRun.ordinary`, read by every reader as `answers` is) were not
    checked: a record naming one the workspace does not hold read "OK"."""
    ws, ids = world
    damaged = ArenaRun("test", 0, ["m_a"], 2, 0, answers=[ids["arena"][0][0]], ordinary=["deadbeefdeadbeef"])
    ws.append([damaged])
    assert data_main(["validate", "-w", str(ws.path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"arena {damaged.id}: ordinary deadbeefdeadbeef does not exist",
        f"{ws.path}: 1 problem",
    ]


def test_gold_from_a_split_leaves_out_the_arenas_answers_counted(world, capsys):
    """`data gold --from-split test` stopped at an imported KTO label on an arena answer ("completion C is the
    arena's ... cannot be gold here"), marking none of the split's other items: it leaves those out, counted."""
    ws, ids = world
    on_arena = [Label(ids["arena"][0][k], "import", "kto", "desirable") for k in range(2)]
    ws.append(on_arena)
    why = "(arena_only: evaluation data, which only `--task arena` serves, as pairs, so no gold item)"
    assert data_main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 2
    assert capsys.readouterr().err == (
        "error: --from-split test: no pair or completion of that split has an imported preference or KTO label, "
        f"but the arena's answers: 2 imported KTO labels left out {why}\n"
    )
    ws.append([Label(ids["pairs"][0].id, "import", "pairwise", "a")])  # a gold arena pair is the arena's vote
    assert data_main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 0
    assert capsys.readouterr().out == (
        "gold items: 1 (+1 marked, -0 removed); --from-split test left out 2 imported KTO labels on the arena's "
        f"answers {why}\n"
    )
    assert ws.frame("gold")["item_id"].tolist() == [ids["pairs"][0].id]


def test_stats_leave_gold_on_the_arenas_answers_out_of_gold_items_named(world, capsys):
    """Gold an older version let `data gold` make on the arena's answers (a KTO and a rate item, a rank item
    ranking them) counted in `data stats`' gold_items, though no app serves them: left out, counted and named."""
    ws, ids = world
    first = ids["arena"][0]
    events = gold_rows([first[0], ids["sampled"][0]], ["desirable", "desirable"], "cli", "kto").to_pylist()
    events += gold_rows([first[1]], ['{"helpfulness": 3}'], "cli", "rate", rubric="default").to_pylist()
    ranked = canonical_ranking(">".join(first))
    events += gold_rows([rank_item_id(ids["held"][0], 0)], [ranked], "cli", "rank").to_pylist()
    events += gold_rows([ids["pairs"][0].id], ["a"], "cli", "pairwise").to_pylist()  # the arena's own
    ws.append_rows({"gold": events})
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["gold_items"] == {"pairwise": 1, "kto": 1}
    rank_item = rank_item_id(ids["held"][0], 0)
    assert stats["arena_only_gold"] == {"kto": [first[0]], "rank": [rank_item], "rate": [first[1]]}
    assert data_main(["stats", "-w", str(ws.path)]) == 0
    assert (
        "arena_only_gold: 3 gold items on the arena's answers (kto 1, rank 1, rate 1), made before they were "
        "evaluation data: left out of gold_items, as no app serves them and exports count their labels arena_only "
        f"(`python -m data gold --remove ID` withdraws one): {first[0]}, {rank_item}, {first[1]}\n"
    ) in capsys.readouterr().out
    withdraw = [flag for item in (first[0], rank_item, first[1]) for flag in ("--remove", item)]
    assert data_main(["gold", "-w", str(ws.path), *withdraw]) == 0
    assert capsys.readouterr().out == "gold items: 2 (+0 marked, -3 removed)\n"
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    assert "arena_only_gold" not in json.loads(capsys.readouterr().out)
