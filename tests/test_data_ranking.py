"""Rankings of k answers: canonical form, screen numbers, pair votes (all vs adjacent, strength = gap), the items,
the expansion into DPO pairs with several labellers, the schema checks, and ranking agreement against published
and hand-computed values."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pytest

from data import Completion, Label, Prompt, Workspace
from data.__main__ import main as data_main
from data.choice_agreement import krippendorff_alpha
from data.export import dpo_table
from data.rank_agreement import kendall_tau_b, krippendorff_alpha_ordinal, mid_ranks, ranking_agreement
from data.rank_pairs import rank_groups, rank_votes
from data.ranking import (
    RankingError,
    canonical_ranking,
    gap_strength,
    parse_ranking,
    rank_item_id,
    ranking_votes,
    screen_ranking,
    shown_order,
    to_screen,
)
from data.records import to_row
from data.schemas import LABELS, SchemaError
from data.table_checks import conform

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_parse_and_canonical_form():
    assert parse_ranking("c3>c4=c1>c2") == (("c3",), ("c1", "c4"), ("c2",))
    assert canonical_ranking(" c3 > c4 = c1 > c2 ") == "c3>c1=c4>c2"
    assert canonical_ranking("b=a") == "a=b"
    for bad, message in [
        ("", "the ranking is empty"),
        ("c1>c1", "an answer is ranked twice"),
        ("c1>>c2", "an empty or malformed answer id"),
        ("c1,c2>c3", "ranking 'c1,c2>c3': ids best first, '>' between ranks and '=' in a tie, not ','"),
        ("c1", "needs at least 2 answers"),
    ]:
        with pytest.raises(RankingError, match=message):
            parse_ranking(bad)


def test_screen_numbers_to_ids_and_back():
    shown = ["x1", "x2", "x3", "x4"]
    assert screen_ranking("3 > 1 = 4 > 2", shown) == "x3>x1=x4>x2"
    assert screen_ranking("3>4=1>2", shown) == "x3>x1=x4>x2"
    assert to_screen("x3>x1=x4>x2", shown) == "3 > 1 = 4 > 2"
    with pytest.raises(RankingError, match=r"rank all 4 answers \(not ranked yet: 2, 4\)"):
        screen_ranking("3>1", shown)
    with pytest.raises(RankingError, match="use the answer numbers 1-4"):
        screen_ranking("5>1>2>3", shown)
    # echoed as typed, not '3214'
    with pytest.raises(RankingError, match="^ranking '3 2 1 4': use the answer numbers 1-4"):
        screen_ranking("3 2 1 4", shown)
    with pytest.raises(RankingError, match="ranked twice"):
        screen_ranking("1>1>2>3>4", shown)
    with pytest.raises(RankingError, match="not ranked yet: 1, 2, 3, 4"):
        screen_ranking("", shown)


def test_shown_order_is_a_fixed_shuffle_per_labeller():
    ids = [f"c{i}" for i in range(6)]
    ann = shown_order("item", "ann", ids)
    assert sorted(ann) == ids and shown_order("item", "ann", list(reversed(ids))) == ann
    assert any(shown_order("item", name, ids) != ann for name in ("bob", "eve", "joe"))


def test_pair_votes_all_vs_adjacent_and_strength_is_the_gap():
    # 4 answers, no tie: all 6 pairs, adjacent 3
    assert ranking_votes("a>b>c>d") == [
        ("a", "b", 1), ("a", "c", 2), ("a", "d", 3), ("b", "c", 1), ("b", "d", 2), ("c", "d", 1)
    ]  # fmt: skip
    assert ranking_votes("a>b>c>d", "adjacent") == [("a", "b", 1), ("b", "c", 1), ("c", "d", 1)]
    # c3 > c1 = c4 > c2: 6 pairs, one a tie (gap 0); adjacent drops c3-c2 (gap 2) only
    votes = ranking_votes("c3>c1=c4>c2")
    assert len(votes) == 6 and ("c1", "c4", 0) in votes and ("c3", "c2", 2) in votes
    assert sorted(ranking_votes("c3>c1=c4>c2", "adjacent")) == sorted(v for v in votes if v[2] <= 1)
    assert len(ranking_votes("a>b>c>d>e>f")) == 15 and len(ranking_votes("a>b>c>d>e>f", "adjacent")) == 5
    assert [gap_strength(g) for g in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 4]


def _completions(prompt: Prompt, n: int, round: int = 0, engine: str = "hf") -> list[Completion]:
    return [
        Completion(prompt.id, f"answer {i} to {prompt.id}", "m", engine, seed=i, round=round)
        for i in range(n)
    ]


def test_rank_items_are_three_to_six_answers_of_one_prompt_and_round():
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], "t") for i in range(4)]
    rows = _completions(prompts[0], 4) + _completions(prompts[0], 3, round=1)
    rows += _completions(prompts[1], 2) + _completions(prompts[2], 7)  # too few, too many
    rows += _completions(prompts[3], 3) + _completions(
        prompts[3], 1, engine="gold"
    )  # gold answers not ranked
    table = pa.Table.from_pylist([to_row(c) for c in rows])
    groups = rank_groups(table).to_pylist()  # round, then creation order
    assert [(g["prompt_id"], g["round"], len(g["completion_ids"])) for g in groups] == [
        (prompts[0].id, 0, 4), (prompts[3].id, 0, 3), (prompts[0].id, 1, 3)
    ]  # fmt: skip
    assert {g["item_id"] for g in groups} == {
        rank_item_id(prompts[0].id, 0), rank_item_id(prompts[0].id, 1), rank_item_id(prompts[3].id, 0)
    }  # fmt: skip


def _ranked_set():
    """One prompt, 4 answers a, b, c, d (texts differ); rankings by ann, bob and eve."""
    prompt = Prompt([{"role": "user", "content": "Rank us"}], "t")
    answers = _completions(prompt, 4)
    a, b, c, d = (x.id for x in answers)
    item = rank_item_id(prompt.id, 0)
    rankings = {"ann": f"{a}>{b}>{c}>{d}", "bob": f"{b}>{a}>{c}={d}", "eve": f"{a}>{b}>{d}>{c}"}
    labels = [
        Label(item, name, "rank", None, ranking=canonical_ranking(r), left=",".join(x.id for x in answers),
              created_at=START + timedelta(seconds=i))
        for i, (name, r) in enumerate(rankings.items())
    ]  # fmt: skip
    frames = (
        pd.DataFrame([to_row(prompt)]),
        pd.DataFrame([to_row(x) for x in answers]),
        pd.DataFrame(columns=list(pa.schema(LABELS).names)),
        pd.DataFrame([to_row(x) for x in labels]),
    )
    return frames, (a, b, c, d)


def test_rankings_expand_into_majority_pairs_with_the_mean_gap_as_strength():
    (prompts, completions, _, labels), (a, b, c, d) = _ranked_set()
    pairs, votes, counts = rank_votes(labels, completions)
    assert len(pairs) == 6 and len(votes) == 18 and counts == {}
    empty = pa.Table.from_pylist([], pa.schema([("id", pa.string()), ("prompt_id", pa.string()),
        ("completion_a", pa.string()), ("completion_b", pa.string()), ("kind", pa.string()),
        ("round", pa.int64()), ("created_at", pa.timestamp("us", tz="UTC"))]))  # fmt: skip
    table, counts = dpo_table(prompts, completions, empty, labels)
    text = dict(zip(completions["id"], completions["text"]))
    got = {(text_id(r["chosen"], text), text_id(r["rejected"], text)): r for r in table.to_pylist()}
    # a>b 2 votes of 3 (gaps 1, 1); a>c 3 (2, 1, 3); a>d 3 (3, 1, 2); b>c 3 (1, 2, 2); b>d 3 (2, 2, 1);
    # c-d: ann c>d, bob tie, eve d>c: split, no pair
    assert set(got) == {(a, b), (a, c), (a, d), (b, c), (b, d)}
    assert got[a, b]["votes"] == 3 and got[a, b]["agreement"] == pytest.approx(2 / 3)
    assert got[a, b]["strength"] == 1.0 and got[a, c]["strength"] == 2.0 and got[a, d]["strength"] == 2.0
    assert got[b, d]["strength"] == pytest.approx(5 / 3) and got[b, c]["kind"] == "rank"
    assert counts == {"exported": 5, "rank_split": 1}
    adjacent, counts = dpo_table(prompts, completions, empty, labels, rank_pairs="adjacent")
    # ann: ab bc cd; bob: ba ac ad (c=d tie); eve: ab bd dc. a>b 2-1, b>c 1, c-d: ann c>d, bob tie, eve d>c split;
    # a>c 1 (bob), a>d 1 (bob), b>d 1 (eve)
    pairs = {(text_id(r["chosen"], text), text_id(r["rejected"], text)) for r in adjacent.to_pylist()}
    assert pairs == {(a, b), (b, c), (a, c), (a, d), (b, d)}
    assert counts == {"exported": 5, "rank_split": 1, "rank_not_adjacent": 3 + 2 + 3}
    none, counts = dpo_table(prompts, completions, empty, labels, rank_pairs="none")
    assert none.num_rows == 0


def text_id(messages, text):
    return next(i for i, t in text.items() if t == messages[0]["content"])


def test_a_tie_verdict_gives_no_pair_and_unknown_answers_are_counted():
    (prompts, completions, _, labels), (a, b, c, d) = _ranked_set()
    labels = labels.iloc[:1].copy()
    labels.loc[0, "ranking"] = canonical_ranking(f"{a}={b}>{c}>{d}")
    extra = labels.copy()
    extra.loc[0, ["item_id", "ranking"]] = ["other", "zz1>zz2>zz3"]
    pairs, votes, counts = rank_votes(pd.concat([labels, extra]), completions, "all")
    assert counts == {"rank_unknown_completion": 1} and len(pairs) == 6
    assert (votes["choice"] == "tie").sum() == 1


def test_schema_checks_rankings():
    good = Label("i", "ann", "rank", None, ranking="c3>c1=c4>c2", left="c1,c2,c3,c4")
    table = pa.Table.from_pylist([to_row(good)], schema=LABELS)
    assert conform(table, "labels", "labels.parquet").column("ranking")[0].as_py() == "c3>c1=c4>c2"
    for label, message in [
        (Label("i", "ann", "rank", None, ranking="c3>c4=c1>c2"), "not in canonical form"),
        (Label("i", "ann", "rank", None), "a rank label needs a ranking"),
        (Label("i", "ann", "pairwise", "a", ranking="c1>c2"), "only a rank label holds a ranking"),
        (Label("i", "ann", "pairwise", "a", left="c1,c2"), "'c1,c2' is not one of a, b"),
        (Label("i", "ann", "pairwise", None), "pairwise choice None is not one of"),
    ]:
        with pytest.raises(SchemaError, match=message) as info:
            conform(pa.Table.from_pylist([to_row(label)], schema=LABELS), "labels", "labels.parquet")
        assert "labels.parquet, row 0" in str(info.value)
    skip = Label("i", "ann", "rank", None, retracted=True)  # a skip or undo holds no ranking
    assert conform(pa.Table.from_pylist([to_row(skip)], schema=LABELS), "labels", "x").num_rows == 1


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, values 1-5
# with missing data; published alpha: nominal 0.743, ordinal 0.815, interval 0.849.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_ordinal_alpha_matches_krippendorffs_published_example():
    units = [[v for v in unit if v is not None] for unit in zip(*KRIPPENDORFF_2011)]
    assert round(krippendorff_alpha([[str(v) for v in u] for u in units]), 3) == 0.743  # the data, read right
    assert round(krippendorff_alpha_ordinal(units), 3) == 0.815
    assert krippendorff_alpha_ordinal([[1, 1], [1]]) is None


def test_kendall_tau_b_hand_computed():
    assert kendall_tau_b([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # one discordant pair of 6: (5 - 1) / 6
    assert kendall_tau_b([1, 2, 3, 4], [2, 1, 3, 4]) == pytest.approx(4 / 6)
    # y ties one pair: 5 concordant, 0 discordant, n0 = 6, n2 = 1: 5 / sqrt(6 * 5)
    assert kendall_tau_b([1, 2, 3, 4], [1, 2.5, 2.5, 4]) == pytest.approx(5 / math.sqrt(30))
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None


def test_ranking_agreement_of_three_labellers_hand_computed():
    (_, _, _, labels), (a, b, c, d) = _ranked_set()
    assert mid_ranks(f"{b}>{a}>{c}={d}") == {b: 1, a: 2, c: 3.5, d: 3.5}
    report = ranking_agreement(labels)
    # ann-bob: pairs ab discordant, cd tied in bob: (4 - 1) / sqrt(6 * 5); ann-eve: cd discordant: 4 / 6;
    # bob-eve: ab discordant, cd tied in bob: 3 / sqrt(30)
    expected = (3 / math.sqrt(30) + 4 / 6 + 3 / math.sqrt(30)) / 3
    assert report["kendall_tau"] == pytest.approx(expected)
    assert report["multi_ranked_items"] == 1 and report["rankings"] == 3
    places = [mid_ranks(r) for r in labels["ranking"]]
    units = [[p[x] for p in places] for x in (a, b, c, d)]
    assert report["alpha_ordinal"] == pytest.approx(krippendorff_alpha_ordinal(units))
    assert report["alpha_ordinal"] == pytest.approx(_alpha_by_hand())


def _alpha_by_hand() -> float:
    # n_v: 1 -> 3, 2 -> 3, 3 -> 2, 3.5 -> 2, 4 -> 2 (12 pairable values). delta(c, k) = sum of n_g from c to k
    # minus (n_c + n_k) / 2. Observed disagreement: each unit has m = 3 values, each ordered pair counts 1/2.
    # unit a: (1,2) x2, (2,1) x2 -> o(1,2) += 1 each way; (1,1) both orders -> o(1,1) += 1
    # unit b: likewise o(1,2) += 1, o(2,2) += 1; unit c: 3,3.5,4: o(3,3.5), o(3,4), o(3.5,4) += 1/2 each way
    # unit d: the same as c. So o(1,2) = o(2,1) = 2, o(3,3.5) = o(3,4) = o(3.5,4) = 1 (each way).
    n = {1: 3, 2: 3, 3: 2, 3.5: 2, 4: 2}
    order = sorted(n)

    def d2(c, k):
        i, j = sorted((order.index(c), order.index(k)))
        return (sum(n[v] for v in order[i : j + 1]) - (n[c] + n[k]) / 2) ** 2

    observed = 2 * (2 * d2(1, 2) + d2(3, 3.5) + d2(3, 4) + d2(3.5, 4))
    expected = sum(n[c] * n[k] * d2(c, k) for c in order for k in order)
    return 1 - (12 - 1) * observed / expected


def test_export_cli_expands_rankings_and_datasets_loads_it(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Rank us"}], "t")
    answers = _completions(prompt, 4)
    ids = [x.id for x in answers]
    ranking = canonical_ranking(f"{ids[2]}>{ids[0]}={ids[3]}>{ids[1]}")
    ws.append([prompt, *answers, Label(rank_item_id(prompt.id, 0), "ann", "rank", None, ranking=ranking)])
    out = tmp_path / "dpo.parquet"
    assert data_main(["export", "-w", str(ws.path), "--format", "dpo", "--out", str(out)]) == 0
    assert "5 rows exported, left out: rank_tie 1" in capsys.readouterr().out
    from datasets import load_dataset

    rows = load_dataset("parquet", data_files=str(out), split="train")
    assert len(rows) == 5 and set(rows["kind"]) == {"rank"} and sorted(rows["strength"]) == [1, 1, 1, 1, 2]
    assert data_main(["export", "-w", str(ws.path), "--format", "dpo", "--out", str(out), "--rank-pairs",
                      "adjacent"]) == 0  # fmt: skip
    assert "4 rows exported, left out: rank_not_adjacent 1, rank_tie 1" in capsys.readouterr().out
    assert data_main(["export", "-w", str(ws.path), "--format", "dpo", "--kinds", "sampled"]) == 2
    assert "nothing to export as dpo" in capsys.readouterr().err
    for fmt, flags in [("kto", ["--rank-pairs", "adjacent"]), ("ratings", ["--kinds", "rank"]),
                       ("sft", ["--rank-pairs", "none"]),
                       ("kto", ["--rank-pairs", "all"]),  # given at their defaults: still given, still refused
                       ("ratings", ["--kinds", "sampled", "spin", "imported", "edit", "rank"])]:  # fmt: skip
        out = ws.path / "exports" / f"{fmt}.parquet"
        assert data_main(["export", "-w", str(ws.path), "--format", fmt, *flags]) == 2
        assert capsys.readouterr().err == (
            f"error: {flags[0]} applies to --format dpo, not {fmt} (it chooses pairs)\n"
        )  # refused, not ignored; nothing written
        assert not out.exists()
    assert data_main(["stats", "-w", str(ws.path), "--json"]) == 0
    assert '"rank_items"' in capsys.readouterr().out
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    ws.append([Label("elsewhere", "ann", "rank", None, ranking="nope1>nope2")])
    assert data_main(["validate", "-w", str(ws.path)]) != 0
    assert "completion nope1 does not exist" in capsys.readouterr().out


def test_a_ranking_of_a_missing_completion_is_left_out_and_counted(label_ws, capsys):
    """validate flags it and the export leaves it out (`rank_unknown_completion`): so does stats, which said
    τ −1/3 from ann's and bob's agreeing rankings and cy's reversed one naming an answer the workspace lacks."""
    a, b = label_ws.frame("completions").sort_values("created_at")["id"].tolist()[:2]
    label_ws.append(
        [
            Label("item-r", "ann", "rank", None, ranking=f"{a}>{b}"),
            Label("item-r", "bob", "rank", None, ranking=f"{a}>{b}"),
            Label("item-r", "cy", "rank", None, ranking=f"{b}>{a}>gone"),
        ]
    )
    capsys.readouterr()
    assert data_main(["stats", "-w", str(label_ws.path), "--json"]) == 0
    rank = json.loads(capsys.readouterr().out)["rank_items"]
    assert (rank["rankings"], rank["kendall_tau"], rank["alpha_ordinal"]) == (2, 1.0, 1.0)
    assert rank["left_out"] == {"rank_unknown_completion": 1}


def test_a_ranking_of_several_prompts_answers_is_left_out_and_counted(label_ws, capsys):
    """The export leaves out a ranking whose answers belong to several prompts (`rank_mixed_prompts`): stats did
    not, and said τ −1/3 from ann's and bob's agreeing rankings and cy's reversed one with another prompt's answer."""
    completions = label_ws.frame("completions").sort_values("created_at")
    a, b, elsewhere = completions["id"].tolist()[:3]
    assert completions["prompt_id"].iloc[2] != completions["prompt_id"].iloc[0]
    label_ws.append(
        [
            Label("item-r", "ann", "rank", None, ranking=f"{a}>{b}"),
            Label("item-r", "bob", "rank", None, ranking=f"{a}>{b}"),
            Label("item-r", "cy", "rank", None, ranking=f"{b}>{a}>{elsewhere}"),
        ]
    )
    capsys.readouterr()
    assert data_main(["stats", "-w", str(label_ws.path), "--json"]) == 0
    rank = json.loads(capsys.readouterr().out)["rank_items"]
    assert (rank["rankings"], rank["kendall_tau"], rank["alpha_ordinal"]) == (2, 1.0, 1.0)
    assert rank["left_out"] == {"rank_mixed_prompts": 1}
