"""Every export counts every item of its kind once, exported or left out by reason, whatever `--split`, `--labels`
and `--exclude-labeller` say: the counts add up to the workspace's items of that format. An export with nothing to
count says the workspace holds none."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from data.__main__ import main
from data.commands import EXPORT_KINDS
from data.export_workspace import counts_line
from data.ranking import canonical_ranking, rank_item_id
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace
from tests.test_data_exclusion import RATING, build, export, said_counts
from train.pairs import kto_rows, preference_rows, rating_kto_rows, rating_preference_rows, sft_rows

SPLITS = ([], ["--split", "train"], ["--split", "test"])
LABELS = ([], ["--labels", "human"], ["--labels", "machine"])
EXCLUDED = ([], ["--exclude-labeller", "mallory"])
# The items of each format in `world`, and the counts that are no items (kto's verdicts split `exported`)
FORMATS = {
    ("--format", "dpo", "--rank-pairs", "none"): 10,  # 8 sampled pairs, mallory's edit pair, her rank item
    ("--format", "dpo", "--kinds", "sampled"): 10,  # the edit pair and the rank item not asked
    # every answer the KTO task serves, labelled or not: a0-a7 (a5 gold, a6 gold unlabelled, a7 test), b0-b7 (b3 a
    # judge's only), c; the edit (engine human) is no item
    ("--format", "kto"): 17,
    ("--format", "ratings"): 17,  # the same answers, the rate task's: b0-b2 rated (b2 gold), b4 gold, unrated
    ("--format", "sft", "--edits"): 1,
}
NOT_ITEMS = ("desirable", "undesirable")


def nonzero(counts: dict) -> dict:
    """The counts a summary says (zeros unsaid; the rows exported always said)."""
    return {k: v for k, v in counts.items() if v or k == "exported"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """`test_data_exclusion.build`'s workspace, and: a judge's pairwise label on pair 7 (test) and KTO label on
    answer b3 (nobody else's), a judge's ratings of b0 (beside ann's) and b5 (nobody else's), ann's KTO label on
    b2 undone (no item), gold answers nobody labelled (a6, test, KTO; b4 rated)."""
    ws, ids = build(tmp_path_factory.mktemp("counts") / "ws")
    ws.append(
        [
            Label(ids["pair"][7], "judge:m", "pairwise", "a"),
            Label(ids["b"][3], "judge:m", "kto", "desirable"),
            Label(ids["b"][2], "ann", "kto", "desirable"),
            *(
                Label(ids["b"][i], "judge:m", "rate", None, ratings=RATING, rubric="helpsteer2")
                for i in (0, 5)
            ),
        ]
    )
    ws.append([Label(ids["b"][2], "ann", "kto", None, retracted=True)])
    w = ["-w", str(ws.path)]
    assert main(["gold", *w, "--completion", ids["a"][6], "--answer", "desirable"]) == 0
    assert main(["gold", *w, "--rate-item", ids["b"][4], "--ratings", RATING]) == 0
    return ws


@pytest.mark.parametrize(
    ("fmt", "split", "labels", "excluded"), list(itertools.product(FORMATS, SPLITS, LABELS, EXCLUDED))
)
def test_the_counts_add_up_to_every_item_of_the_format(world, capsys, fmt, split, labels, excluded):
    """Before: sft --split counted no other_split; KTO answers only a judge labelled vanished with --labels human
    (and people's with --labels machine), and so did rankings; --kinds without rank and --rank-pairs none left
    rankings uncounted; gold answers nobody labelled or rated were counted in one split and not the other."""
    counts, _ = export(world, capsys, *fmt, *split, *labels, *excluded)
    assert sum(v for k, v in counts.items() if k not in NOT_ITEMS) == FORMATS[fmt], counts


@pytest.mark.parametrize(
    ("split", "counts"),
    [
        ([], {"exported": 0, "no_gold": 8}),
        (["--split", "train"], {"exported": 0, "no_gold": 6, "other_split": 2}),  # no other_split was counted
        (["--split", "test"], {"exported": 0, "no_gold": 2, "other_split": 6}),
    ],
)
def test_sft_counts_every_prompt(world, capsys, split, counts):
    assert export(world, capsys, "--format", "sft", *split) == (counts, "")


def test_the_reasons_name_what_was_left_out(world, capsys):
    machine = export(world, capsys, "--format", "kto", "--labels", "machine")[0]
    assert machine == {
        "exported": 1,
        "desirable": 1,  # and no undesirable row (unsaid)
        "gold": 2,  # a5, a6
        "unlabelled": 14,  # a0-a4, a7: people's only; b0-b2, b4-b7, c: nobody's
    }
    human = export(world, capsys, "--format", "kto", "--labels", "human", "--split", "train")[0]
    assert human["unlabelled"] == 1 + 6 and human["other_split"] == 4  # b3, b0-b2, b4, b5, c; a6, a7, b6, b7
    assert export(world, capsys, "--format", "dpo", "--labels", "machine")[0]["rank_unlabelled"] == 1
    for flags in (["--kinds", "sampled", "edit"], ["--rank-pairs", "none"]):
        assert export(world, capsys, "--format", "dpo", *flags)[0] == {
            "exported": 9,
            "kind_rank_not_asked": 1,
        }
    assert export(world, capsys, "--format", "ratings", "--split", "test")[0] == {
        "exported": 0,
        "other_split": 13,  # every answer of the train split, rated or not (only the rated ones were counted)
        "unlabelled": 4,
    }


@pytest.mark.parametrize(
    ("counts", "line"),
    [
        # the rows exported sat among the reasons by name, zeros beside them
        (
            {"below_min_posterior": 5, "exported": 43, "gold": 12, "split": 0},
            "43 rows exported, left out: below_min_posterior 5, gold 12",
        ),
        (
            {"exported": 1, "desirable": 1, "undesirable": 0, "unlabelled": 2},
            "1 row exported (desirable 1), left out: unlabelled 2",
        ),
        ({"exported": 0, "desirable": 0, "undesirable": 0, "unlabelled": 390}, "left out: unlabelled 390"),
        ({"exported": 0}, "no KTO labels in the workspace"),
    ],
)
def test_the_summary_leads_with_the_rows_exported(counts, line):
    assert counts_line(Counter(counts), "kto") == line


def test_an_export_of_nothing_says_the_workspace_holds_none(tmp_path, capsys):
    """It said "nothing to export as sft-edits (exported 0)", naming no reason; then "(desirable 0, exported 0,
    undesirable 0, unlabelled 6)", its zeros beside the reason."""
    ws, prefs = tmp_path / "ws", tmp_path / "p.json"
    assert main(["init", "-w", str(ws)]) == 0
    assert main(["export", "-w", str(ws), "--format", "sft"]) == 2
    assert capsys.readouterr().err == f"error: {ws}: nothing to export as sft (no prompts in the workspace)\n"
    prefs.write_text(json.dumps([{"prompt": f"q{i}", "chosen": "yes", "rejected": "no"} for i in range(3)]))
    assert main(["import", "-w", str(ws), str(prefs), "--test-fraction", "0"]) == 0
    said = {
        "kto": "left out: unlabelled 6",  # the imported answers, for KTO labels
        "ratings": "left out: unlabelled 6",  # the imported answers, for ratings
        "sft --edits": "no edits in the workspace",
        "sft --split test": "left out: other_split 3",
    }
    for flags, why in said.items():
        capsys.readouterr()
        assert main(["export", "-w", str(ws), "--format", *flags.split()]) == 2
        export = flags.split()[0] + ("-edits" if "--edits" in flags else "")
        assert capsys.readouterr().err == f"error: {ws}: nothing to export as {export} ({why})\n"


@pytest.mark.parametrize("labels", ["human", "machine"])
def test_train_counts_the_rows_as_the_export_does_whatever_labels(world, capsys, labels):
    """train's rows came from the same counting but without the items --labels does not choose: a ranking only
    a person made, with --labels machine, was counted by the export (rank_unlabelled) and by no one in train; and
    train's KTO rows and rating rows (--kto-from, --rm-from-ratings) read every label whatever --labels said (a
    judge's KTO label on b3 and rating of b5 trained with --labels human, people's with --labels machine)."""
    _, counts = preference_rows(world, "train", EXPORT_KINDS, None, labels)
    exported, _ = export(world, capsys, "--format", "dpo", "--split", "train", "--labels", labels)
    assert nonzero(counts) == nonzero(exported)
    _, counts = kto_rows(world, "train", labels=labels)
    assert (
        nonzero(counts) == export(world, capsys, "--format", "kto", "--split", "train", "--labels", labels)[0]
    )
    rated, _ = export(world, capsys, "--format", "ratings", "--split", "train", "--labels", labels)
    left_out = {k: v for k, v in rated.items() if k != "exported"}
    rows, counts = rating_kto_rows(world, "train", "helpfulness>=3", labels=labels)
    assert {k: counts[k] for k in left_out} == left_out and counts["exported"] == rated["exported"] == len(
        rows
    )
    _, counts = rating_preference_rows(world, "train", "helpfulness", labels=labels)
    assert {k: counts[k] for k in left_out} == left_out and counts["alone"] == rated["exported"]


def test_the_kto_items_are_what_the_app_serves_and_train_and_the_admin_count_them_alike(world, capsys):
    """KTO counted only labelled and gold answers: an answer nobody labelled was in no count (a KTO workspace of
    150 imported answers said `desirable 24, exported 24, gold 21, split 24, undesirable 0`, its 81 unlabelled
    answers nowhere). The items are the answers the KTO app serves, gold ones among them."""
    from annotate.admin_export import export_labels
    from annotate.app import make_context
    from annotate.service import LabelService
    from annotate.users import Authenticator, User, hash_password

    service = LabelService(world, "kto")
    assert service.progress("ann")["items"] + 2 == FORMATS[("--format", "kto")]  # gold a5, a6: not the job
    for excluded in ((), ("mallory",)):
        _, counts = kto_rows(world, "train", excluded=excluded)
        flags = ["--split", "train", *(["--exclude-labeller", *excluded] if excluded else [])]
        assert nonzero(counts) == export(world, capsys, "--format", "kto", *flags)[0]
        assert counts["unlabelled"] == 6  # b0-b2, b4, b5, c
    ctx = make_context(
        service, Authenticator({"ann": User("ann", hash_password("pw-ann-12345"), admin=True)})
    )
    said = export_labels(ctx, "ann", "kto").split("(majority): ", 1)[1].split("<", 1)[0]
    exported = export(world, capsys, "--format", "kto")[0]
    assert said == "7 rows exported (desirable 6, undesirable 1), left out: gold 2, unlabelled 8"
    assert said_counts(said) == exported


def test_labels_chooses_whose_ratings_count(world, capsys):
    """--labels did nothing with --format ratings: a judge's rating (b5, nobody else's) was exported with --labels
    human, and people's with --labels machine."""
    for labels, exported in (
        ("human", ["b0", "b1"]),
        ("machine", ["b0", "b5"]),
        ("auto", ["b0", "b1", "b5"]),
    ):
        counts, _ = export(world, capsys, "--format", "ratings", "--labels", labels)
        # gold: b2, b4; of the other 15 answers, those not exported: nobody's rating among those --labels chooses
        assert counts == {"gold": 2, "exported": len(exported), "unlabelled": 15 - len(exported)}, labels
    raters = (
        pq.read_table(world.path / "exports" / "out.parquet", columns=["raters"]).column("raters").to_pylist()
    )
    assert sorted(raters) == [1, 1, 2]  # b0: ann's and the judge's ratings with auto (as all)


def test_labels_machine_counts_every_edit_unlabelled(world, capsys):
    """An edit's verdict is its editor's, a person's: with --labels machine no edit is chosen. The export ignored
    --labels and exported it (and counted it undone before the editor's label decided the edit)."""
    assert export(world, capsys, "--format", "sft", "--edits", "--labels", "machine")[0] == {
        "exported": 0,
        "unlabelled": 1,  # mallory's edit
    }
    assert sft_rows(world, None, ("edits",), "machine")[1] == {"unlabelled": 1}  # train alike
    for labels in ("human", "auto", "all"):
        assert export(world, capsys, "--format", "sft", "--edits", "--labels", labels)[0] == {"exported": 1}
        assert sft_rows(world, None, ("edits",), labels)[1] == {"edits": 1}


def test_sft_of_gold_answers_refuses_a_given_labels(world, capsys):
    """sft, made of the prompts' gold answers, read no label and accepted --labels silently."""
    out = world.path / "exports" / "out.parquet"
    for labels in ("auto", "human"):  # given, even as the default: it chooses nothing here
        capsys.readouterr()
        assert (
            main(["export", "-w", str(world.path), "--format", "sft", "--labels", labels, "--out", str(out)])
            == 2
        )
        assert capsys.readouterr().err == (
            "error: --labels applies to the formats made from labels (dpo, kto, ratings, sft --edits), not sft "
            "(the prompts' gold answers)\n"
        )
    assert export(world, capsys, "--format", "sft")[0] == {"exported": 0, "no_gold": 8}


@pytest.fixture(scope="module")
def gold_ranked(tmp_path_factory):
    """`test_data_exclusion.build`'s workspace with both its rank items gold: prompt 0's, ranked by mallory and ann,
    and prompt 6's (test: a third answer), ranked by nobody."""
    ws, ids = build(tmp_path_factory.mktemp("rank-gold") / "ws")
    prompts = dict(zip(*ws.read("completions", ["prompt_id"]).to_pydict().values()))
    zero, six = prompts[ids["a"][0]], prompts[ids["a"][6]]
    c6 = Completion(six, "answer 6 c", "toy", "hf")
    ranking = f"{ids['a'][0]}>{ids['b'][0]}>" + next(i for i, p in prompts.items() if p == zero and i not in
                                                     (ids["a"][0], ids["b"][0]))  # fmt: skip
    ws.append([c6, Label(rank_item_id(zero, 0), "ann", "rank", None, ranking=ranking)])
    w = ["-w", str(ws.path)]
    assert main(["gold", *w, "--rank-item", rank_item_id(zero, 0), "--ranking", ranking]) == 0
    six_ranking = f"{ids['a'][6]}>{ids['b'][6]}>{c6.id}"
    assert main(["gold", *w, "--rank-item", rank_item_id(six, 0), "--ranking", six_ranking]) == 0
    return ws


@pytest.mark.parametrize(("split", "labels", "excluded"), list(itertools.product(SPLITS, LABELS, EXCLUDED)))
def test_every_gold_rank_item_is_counted_once_ranked_or_not(gold_ranked, capsys, split, labels, excluded):
    """rank_gold counted the rankings of gold rank items: one nobody ranked was counted nowhere, one ranked twice
    twice, and one only an excluded labeller (or one --labels does not choose) ranked as rank_excluded_only (or
    rank_unlabelled); and with every ranking on a gold item the export crashed (an empty frame of rank pairs). A
    gold rank item is counted once, as a gold pair is, ranked or not, of any split (as the other rank items counted
    whole); with --kinds without rank, kind_rank_not_asked."""
    for kinds, reason in (([], "rank_gold"), (["--kinds", "sampled", "edit"], "kind_rank_not_asked")):
        counts, _ = export(gold_ranked, capsys, "--format", "dpo", *kinds, *split, *labels, *excluded)
        whole = {k: v for k, v in counts.items() if k.startswith(("rank_", "kind_rank"))}
        assert whole == {reason: 2}, (kinds, counts)
    if split == ["--split", "train"] and not excluded:  # train counts its rows as the export does
        _, counts = preference_rows(gold_ranked, "train", EXPORT_KINDS, None, labels[1] if labels else "auto")
        exported, _ = export(gold_ranked, capsys, "--format", "dpo", *split, *labels)
        assert nonzero(counts) == nonzero(exported)


def answers_of_three(path, rank_task: bool) -> tuple[Workspace, list[tuple[str, str]]]:
    """Four prompts (3 held out as test), each with three generated answers and one sampled pair of them, as
    `generate --n 3` makes; ann labels pair 0. With ``rank_task``, the rank app was used too: ann ranks prompt 0's
    item, bob skips prompt 1's, ann ranks prompt 2's and undoes it, nobody touches prompt 3's (test). With the
    rank items' (id, ranking of the answers in order)."""
    ws = Workspace.init(path)
    records, items = [], []
    for i in range(4):
        prompt = Prompt(
            [{"role": "user", "content": f"Pick {i}."}], "toy", split="test" if i == 3 else "train"
        )
        answers = [Completion(prompt.id, f"answer {i} {side}", "toy", "hf") for side in "abc"]
        pair = Pair(prompt.id, answers[0].id, answers[1].id, "sampled")
        records += [prompt, *answers, pair]
        items.append((rank_item_id(prompt.id, 0), canonical_ranking(">".join(a.id for a in answers))))
        if i == 0:
            records.append(Label(pair.id, "ann", "pairwise", "a"))
    ws.append(records)
    if rank_task:
        undone = Label(items[2][0], "ann", "rank", None, ranking=items[2][1])
        ws.append([Label(items[0][0], "ann", "rank", None, ranking=items[0][1]), undone])
        ws.append([Label(items[1][0], "bob", "rank", None, retracted=True)])  # a skip
        ws.append([Label(items[2][0], "ann", "rank", None, retracted=True, supersedes=undone.id)])
    return ws, items


@pytest.fixture(scope="module")
def rank_task(tmp_path_factory):
    return answers_of_three(tmp_path_factory.mktemp("rank-task") / "ws", rank_task=True)[0]


@pytest.mark.parametrize(
    ("flags", "counts"),
    [
        ([], {"exported": 4, "unlabelled": 3, "rank_unranked": 3}),  # ranking 0: 3 pairs
        (["--split", "train"], {"exported": 4, "unlabelled": 2, "other_split": 1, "rank_unranked": 3}),
        (["--labels", "machine"], {"exported": 0, "unlabelled": 4, "rank_unlabelled": 1, "rank_unranked": 3}),
        (
            ["--exclude-labeller", "ann"],
            {"exported": 0, "excluded_only": 1, "unlabelled": 3, "rank_excluded_only": 1, "rank_unranked": 3},
        ),  # fmt: skip
        (["--kinds", "sampled"], {"exported": 1, "unlabelled": 3, "kind_rank_not_asked": 4}),
        (["--rank-pairs", "none"], {"exported": 1, "unlabelled": 3, "kind_rank_not_asked": 4}),
    ],
)
def test_rank_items_nobody_ranked_are_counted_where_the_workspace_has_a_rank_task(
    rank_task, capsys, flags, counts
):
    """A rank item nobody ranked (yet, or any more: skipped, every ranking undone) was in no count: the DPO export
    of a workspace ranked on one item in four said `exported 4, unlabelled 3`. Each is `rank_unranked`, of any
    split, as the other whole rank items; with rank pairs not asked, `kind_rank_not_asked` as the ranked one."""
    assert export(rank_task, capsys, "--format", "dpo", *flags)[0] == counts
    kinds = ("sampled",) if "sampled" in flags else EXPORT_KINDS  # train counts its rows as the export does
    labels = flags[1] if "--labels" in flags else "auto"
    excluded = ("ann",) if "ann" in flags else ()
    ranks = "none" if "none" in flags else "all"
    _, trained = preference_rows(rank_task, "train", kinds, None, labels, excluded=excluded, rank_pairs=ranks)
    exported, _ = export(rank_task, capsys, "--format", "dpo", "--split", "train", *flags)
    assert {k: v for k, v in trained.items() if v} == {k: v for k, v in exported.items() if v}


def test_a_pairwise_workspace_counts_no_rank_items(tmp_path, capsys):
    """Three answers a prompt make rank items, but where nobody ranked or was asked to (no rank label, no gold rank
    item) the counts are the pairs' alone, in the export and in train. A gold rank item is the rank task's: then
    every other rank item is counted."""
    ws, items = answers_of_three(tmp_path / "ws", rank_task=False)
    assert export(ws, capsys, "--format", "dpo")[0] == {"exported": 1, "unlabelled": 3}
    assert export(ws, capsys, "--format", "dpo", "--kinds", "sampled")[0] == {"exported": 1, "unlabelled": 3}
    _, trained = preference_rows(ws, "train", EXPORT_KINDS, None)
    assert {k: v for k, v in trained.items() if v} == {"exported": 1, "unlabelled": 2, "other_split": 1}
    item, ranking = items[1]
    assert main(["gold", "-w", str(ws.path), "--rank-item", item, "--ranking", ranking]) == 0
    counts = {"exported": 1, "unlabelled": 3, "rank_gold": 1, "rank_unranked": 3}
    assert export(ws, capsys, "--format", "dpo")[0] == counts


@pytest.mark.parametrize(
    ("rounds", "kinds", "ranks", "counts"),
    [
        ((0,), EXPORT_KINDS, "all", None),  # every item of round 0: the export's counts
        # 3 pairs, 4 rank items (of any split); nothing exported; the held-out pair other_split, not other_round
        ((1,), EXPORT_KINDS, "all", {"other_round": 7, "other_split": 1}),
        ((1,), EXPORT_KINDS, "adjacent", {"other_round": 7, "other_split": 1}),
        ((1,), EXPORT_KINDS, "none", {"other_round": 3, "other_split": 1, "kind_rank_not_asked": 4}),
        ((1,), ("sampled",), "all", {"other_round": 3, "other_split": 1, "kind_rank_not_asked": 4}),
    ],
)
def test_train_rounds_counts_the_rank_items_of_other_rounds(rank_task, capsys, rounds, kinds, ranks, counts):
    """`train --rounds 1` on a workspace of round 0 said `exported 3` (ranking 0's pairs) and trained on nothing:
    the rows of rankings of other rounds were dropped after the counts. A rank item of a round not asked is counted
    once, `other_round`, as a pair of that round is (where rank pairs are not asked at all, `kind_rank_not_asked`
    as without --rounds); `exported` is the rows'; `data export` has no --rounds, so round 0 of a workspace of round
    0 counts as it does."""
    rows, trained = preference_rows(rank_task, "train", kinds, rounds, rank_pairs=ranks)
    trained = {k: v for k, v in trained.items() if v}
    if counts is None:
        counts, _ = export(rank_task, capsys, "--format", "dpo", "--split", "train")
    assert trained == counts and len(rows) == trained.get("exported", 0)


def test_train_rounds_trains_on_the_rankings_of_the_round_asked(tmp_path):
    """A prompt with three answers in round 0 and three in round 1, both rank items ranked: `--rounds 1` trains on
    round 1's ranking alone (3 pairs) and counts round 0's item `other_round`; the votes of both rounds still feed
    Dawid–Skene's fit, as the pairwise labels of every round do."""
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Pick."}], "toy")
    answers = {
        r: [Completion(prompt.id, f"answer {r} {s}", "toy", "hf", round=r) for s in "abc"] for r in (0, 1)
    }
    rankings = {r: canonical_ranking(">".join(a.id for a in answers[r])) for r in (0, 1)}
    ws.append([prompt, *answers[0], *answers[1]])
    ws.append([Label(rank_item_id(prompt.id, r), "ann", "rank", None, ranking=rankings[r]) for r in (0, 1)])
    for aggregate in ("majority", "dawid-skene"):
        rows, counts = preference_rows(ws, "train", EXPORT_KINDS, (1,), aggregate=aggregate)
        assert {k: v for k, v in counts.items() if v} == {"exported": 3, "other_round": 1}
        assert {r["round"] for r in rows} == {1} and len(rows) == 3
    rows, counts = preference_rows(ws, "train", EXPORT_KINDS, (0, 1))
    assert {k: v for k, v in counts.items() if v} == {"exported": 6} and len(rows) == 6


def test_stats_split_items_reconcile_with_the_exports_split_count(tmp_path, capsys):
    """`stats` said `10 split` where `export` said `split 7`: its other three were gold items with a 1–1 vote, which
    the export counts as gold. Stats names those it counts apart, and the two counts reconcile, each reason as the
    export counts it: a gold arena pair is left out as an arena pair before gold is looked at (stats said gold)."""
    ws = Workspace.init(tmp_path / "ws")
    records, pairs, answers = [], [], []
    for i, kind in enumerate(["sampled"] * 4 + ["arena"]):
        prompt = Prompt([{"role": "user", "content": f"Question {i}?"}], "toy")
        a, b = (Completion(prompt.id, f"answer {i} {side}", f"m{side}", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, kind)
        records += [prompt, a, b, pair]
        pairs.append(pair.id)
        answers.append(a.id)
    # pairs 0, 1 (gold) and the arena pair 4 split 1–1; pair 2 agreed on; KTO: answers 0 and 1 (gold) split
    votes = {0: "ab", 1: "ab", 2: "aa", 4: "ab"}
    records += [
        Label(pairs[i], who, "pairwise", c) for i, cs in votes.items() for who, c in zip(("ann", "bob"), cs)
    ]
    records += [
        Label(answers[i], who, "kto", c)
        for i in (0, 1)
        for who, c in (("ann", "desirable"), ("bob", "undesirable"))
    ]
    ws.append(records)
    w = ["-w", str(ws.path)]
    assert main(["gold", *w, "--pair", pairs[1], "--answer", "a"]) == 0
    assert main(["gold", *w, "--pair", pairs[4], "--answer", "b"]) == 0  # the arena pair
    assert main(["gold", *w, "--completion", answers[1], "--answer", "desirable"]) == 0
    capsys.readouterr()
    assert main(["stats", *w, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    for task, fmt, apart in (
        ("pairwise", "dpo", {"gold": 1, "kind_arena_not_asked": 1}),
        ("kto", "kto", {"gold": 1}),
    ):
        figures = stats[f"{task}_items"]
        assert (figures["split_votes"], figures["split_votes_counted_apart"]) == (
            3 if task == "pairwise" else 2,
            apart,
        )
        exported = export(ws, capsys, "--format", fmt)[0]
        assert figures["split_votes"] - sum(apart.values()) == exported["split"] == 1
        assert all(exported[reason] == n for reason, n in apart.items())  # every gold item here is split
    assert main(["stats", *w]) == 0
    assert (
        "3 split (1 on gold items, 1 on arena pairs: an export counts them as gold, kind_arena_not_asked, "
        in (capsys.readouterr().out)
    )


def test_the_help_says_rank_pairs_none_leaves_rankings_out():
    """`--rank-pairs none` leaves every ranking out, each rank item counted `kind_rank_not_asked` (above), while
    `data export --help` and `train --help` said "or none (the rank gap is the pair's strength)", which reads as a
    mode that keeps the rankings as one pair with the gap as its strength."""
    from data.__main__ import build_parser as data_parser
    from train.__main__ import build_parser as train_parser

    said = "or none (rankings left out: kind_rank_not_asked); the rank gap is each pair's strength"
    for parser in (data_parser().subcommands["export"], train_parser()):
        assert said in " ".join(parser.format_help().split())


def test_an_exports_counts_by_kind_are_of_its_split(world, capsys):
    """`--split test --kinds edit` counted `kind_sampled_not_asked 8`, the sampled pairs of both splits: the kinds
    (and gold edits) were counted before the split. The other split's pairs are `other_split` first now."""
    counts = export(world, capsys, "--format", "dpo", "--kinds", "edit", "--split", "test")[0]
    # pairs 6, 7 held out; the train split's 6 and mallory's edit pair; rank items are counted whatever their split
    assert counts == {"exported": 0, "kind_sampled_not_asked": 2, "other_split": 7, "kind_rank_not_asked": 1}
