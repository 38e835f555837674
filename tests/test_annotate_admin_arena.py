"""The admin tabs of the two apps whose labels are task pairwise: the pairwise app's and the arena app's (`annotate
--task arena`). A new user's walk found the pairwise app's tab counting the arena votes among its verdicts ("items
done 1/1" beside "verdicts 11"), listing arena pairs among its disputed items and making one gold from there; each
tab now counts, lists and acts on its own app's pairs."""

from __future__ import annotations

import json
import re
from html import unescape

import pyarrow.parquet as pq

from annotate.admin import admin_view, make_gold
from annotate.app import make_context
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data import Completion, Label, Pair
from data.__main__ import main as data_main
from data.gold import read_gold
from data.intervals import trust_text
from tests.test_annotate_arena import PASSWORD, arena_workspace

USERS = {"ann": User("ann", hash_password(PASSWORD), admin=True)}


def voted_workspace(path):
    """`arena_workspace` (9 arena pairs, one sampled pair) with lea's `a` and max's `b` on every pair: each pair
    split, so every one is among the disputed items; plus an imported pair that an import's label decided (no app
    queues it: the pairwise app's all the same) and lea disputes. Returns (workspace, arena ids, the sampled pair,
    the imported pair)."""
    workspace, _ = arena_workspace(path)
    pairs = workspace.frame("pairs")
    arena = sorted(pairs.loc[pairs["kind"] == "arena", "id"])
    sampled = pairs.loc[pairs["kind"] == "sampled", "id"].iloc[0]
    prompt = pairs["prompt_id"].iloc[0]
    answers = [Completion(prompt, f"imported answer {k}", "import", "import") for k in range(2)]
    imported = Pair(prompt, answers[0].id, answers[1].id, "imported")
    workspace.append(
        [*answers, imported, Label(imported.id, "import", "pairwise", "a")]
        + [Label(imported.id, "lea", "pairwise", "b")]
        + [
            Label(item, name, "pairwise", c)
            for item in [*arena, sampled]
            for name, c in (("lea", "a"), ("max", "b"))
        ]
    )
    return workspace, arena, sampled, imported.id


def app(workspace, view: str):
    return make_context(LabelService(workspace, view, overlap=2), Authenticator(USERS))


def cards(html: str) -> dict[str, tuple[str, str]]:
    """title -> (value, detail) of the admin tab's cards."""
    found = re.findall(
        r'<div class="pf-muted">(.*?)</div><div class="pf-big">(.*?)</div><div class="pf-muted">(.*?)</div>',
        html,
    )
    return {unescape(title): (unescape(value), unescape(detail)) for title, value, detail in found}


def listed(table: str) -> set[str]:
    """The item ids in the disputed items' table (its first column)."""
    return set(re.findall(r"<tr><td>([^<]*)</td>", table))


def test_each_apps_admin_tab_counts_lists_and_measures_only_its_own_pairs(tmp_path):
    workspace, arena, sampled, imported = voted_workspace(tmp_path / "ws")

    shown, labellers, disputed, _ = admin_view(app(workspace, "pairwise"), "ann")
    card = cards(shown)
    assert card["items done"][0] == "1/1"
    # the sampled pair and the pair the import decided: no arena vote (11 verdicts before)
    assert card["verdicts (majority)"] == (
        "2",
        "pairs other than arena pairs: 2 split, 0 gold; people's and imported labels",
    )
    assert listed(disputed) == {sampled, imported}
    assert "<td>lea</td><td>2</td>" in labellers and "<td>max</td><td>1</td>" in labellers  # labels in force
    assert "Arena leaderboard" not in shown

    shown, labellers, disputed, _ = admin_view(app(workspace, "arena"), "ann")
    card = cards(shown)
    assert card["items done"][0] == "9/9"
    assert card["verdicts (majority)"] == ("9", "arena pairs: 9 split, 0 gold; people's and imported labels")
    assert listed(disputed) == set(arena)
    assert "<td>lea</td><td>9</td>" in labellers and "<td>max</td><td>9</td>" in labellers
    assert "Arena leaderboard" in shown


def test_the_disputed_tables_show_the_prompt_of_each_pair_including_one_no_app_queues(tmp_path):
    """The prompt cell of a listed pair the app does not queue (one an import's label decided) is read from the
    workspace, not left empty."""
    workspace, arena, sampled, imported = voted_workspace(tmp_path / "ws")
    disputed = admin_view(app(workspace, "pairwise"), "ann")[2]
    for pair in (sampled, imported):
        assert re.search(f"<td>{pair}</td><td>–</td><td>Tell me about topic 0\\.</td>", disputed), pair
    disputed = admin_view(app(workspace, "arena"), "ann")[2]
    assert all(
        re.search(f"<td>{pair}</td><td>–</td><td>Tell me about topic \\d\\.</td>", disputed) for pair in arena
    )


def test_make_gold_refuses_the_other_apps_pair_and_writes_nothing(tmp_path):
    """The pairwise app's tab made an arena pair gold: its gold answer then stands for the team's votes on the
    arena leaderboard, an arena decision taken from the tab that does not list the pair. The arena app never serves
    another pair, gold or not (`annotate.items.select_chunk`): gold there would measure nobody in that app."""
    workspace, arena, sampled, _ = voted_workspace(tmp_path / "ws")
    pairwise, arena_app = app(workspace, "pairwise"), app(workspace, "arena")

    said = make_gold(pairwise, "ann", arena[0], "a")
    assert f"Not made gold: {arena[0]} is an arena pair" in said and "the arena app&#x27;s admin tab" in said
    assert f"python -m data gold --pair {arena[0]} --answer a" in said
    said = make_gold(arena_app, "ann", sampled, "b")
    assert f"Not made gold: {sampled} is a pair of kind sampled, which the arena app never serves" in said
    assert read_gold(workspace).num_rows == 0  # nothing written

    # each app's own pair: made gold, and the tab counts it as gold among its verdicts
    assert f"{arena[0]} is gold now (answer a)" in make_gold(arena_app, "ann", arena[0], "a")
    assert arena_app.service.queue.gold == [arena[0]]  # the arena app serves it as gold
    shown, _, disputed, _ = admin_view(arena_app, "ann")
    assert cards(shown)["verdicts (majority)"][1].startswith("arena pairs: 8 split, 1 gold (1 of them split)")
    assert f"<td>{arena[0]}</td><td>a</td>" in disputed
    assert arena[0] not in listed(
        admin_view(pairwise, "ann")[2]
    )  # the arena's, though the pairwise app serves it
    assert f"{sampled} is gold now (answer b)" in make_gold(pairwise, "ann", sampled, "b")


def card_counts(html: str) -> dict[str, int]:
    """The verdicts card's numbers: verdicts, split (gold left out), gold, and the gold ones split."""
    value, detail = cards(html)["verdicts (majority)"]
    found = re.match(r"[^:]*: (\d+) split, (\d+) gold(?: \((\d+) of them split\))?;", detail)
    assert found, detail
    split, gold, gold_split = (int(n or 0) for n in found.groups())
    return {"verdicts": int(value), "split": split, "gold": gold, "gold_split": gold_split}


def test_the_verdicts_cards_split_counts_leave_gold_out_and_reconcile_with_stats_and_export(tmp_path, capsys):
    """The card counted gold items among its split verdicts ("1 gold, 2 split" where `data export` said `split 1,
    gold 1`): a gold item's labels are no training vote. Each app's card now counts its split items without gold,
    its gold items apart, and the two apps' cards add up to `data stats`' figures on the same workspace."""
    workspace, arena, sampled, _ = voted_workspace(tmp_path / "ws")
    pairwise, arena_app = app(workspace, "pairwise"), app(workspace, "arena")
    assert "is gold now" in make_gold(arena_app, "ann", arena[0], "a")  # both split 1–1 by lea and max
    assert "is gold now" in make_gold(pairwise, "ann", sampled, "b")
    pairwise_card = card_counts(admin_view(pairwise, "ann")[0])
    arena_card = card_counts(admin_view(arena_app, "ann")[0])
    assert pairwise_card == {"verdicts": 2, "split": 1, "gold": 1, "gold_split": 1}
    assert arena_card == {"verdicts": 9, "split": 8, "gold": 1, "gold_split": 1}
    capsys.readouterr()
    assert data_main(["stats", "-w", str(workspace.path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    items, apart = stats["pairwise_items"], stats["pairwise_items"]["split_votes_counted_apart"]
    assert items["labelled"] == pairwise_card["verdicts"] + arena_card["verdicts"]
    assert items["split_votes"] == sum(
        card[k] for card in (pairwise_card, arena_card) for k in ("split", "gold_split")
    )
    assert stats["gold_items"]["pairwise"] == pairwise_card["gold"] + arena_card["gold"]
    # the pairwise app's split items are those the export counts as split; its gold ones, gold; the arena's, arena
    assert items["split_votes"] - sum(apart.values()) == pairwise_card["split"]
    assert apart == {
        "gold": pairwise_card["gold_split"],
        "kind_arena_not_asked": arena_card["split"] + arena_card["gold_split"],
    }
    out = tmp_path / "dpo.parquet"
    assert data_main(["export", "-w", str(workspace.path), "--format", "dpo", "--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert (
        f"gold {pairwise_card['gold']}, kind_arena_not_asked {len(arena)}, split {pairwise_card['split']})"
        in said
    ), said


def test_the_disputed_table_names_each_items_verdict_beside_its_agreement(tmp_path):
    """A disputed item's agreement is the share of its votes for its verdict, which the table did not show: with
    Dawid–Skene's verdicts a walk met "agreement 0.00" on a tie and a both-bad vote, the verdict (a choice nobody
    voted for) nowhere on the page. The table names it: here lea's a against max's b on every pair, split by the
    majority; Dawid–Skene's fit on every pairwise label, the imported pair's included, decides each b, as `data
    export --kinds arena --aggregate dawid-skene` writes all nine."""
    workspace, arena, _, _ = voted_workspace(tmp_path / "ws")
    for method, verdict in (("majority", "split"), ("dawid-skene", "b")):
        disputed = admin_view(app(workspace, "arena"), "ann", method)[2]
        assert "<th>votes</th><th>verdict</th><th>agreement</th>" in disputed
        rows = re.findall(
            r"<tr><td>([^<]*)</td>(?:<td>[^<]*</td>){2}<td>2</td><td>(\w+)</td><td>0\.500</td>", disputed
        )
        assert (
            len(rows) == 9 and {item for item, _ in rows} <= set(arena) and {v for _, v in rows} == {verdict}
        )


def ds_workspace(path):
    """`arena_workspace` plus five more sampled pairs, all voted on by lea, max and kim: kim votes against the
    other two on every arena pair, so what Dawid–Skene learns of kim from the arena votes weighs on the sampled
    pairs' posteriors. Returns (workspace, the sampled pairs)."""
    workspace, _ = arena_workspace(path)
    pairs = workspace.frame("pairs")
    arena = sorted(pairs.loc[pairs["kind"] == "arena", "id"])
    first = pairs.loc[pairs["kind"] == "sampled"].iloc[0]
    answers = [Completion(first["prompt_id"], f"another answer {k}", "m", "hf", seed=k) for k in range(5)]
    more = [Pair(first["prompt_id"], first["completion_a"], answer.id, "sampled", 0) for answer in answers]
    sampled = [first["id"], *(pair.id for pair in more)]
    votes = ["aab", "aba", "baa", "abb", "aab", "bba"]  # lea's, max's and kim's vote on each sampled pair
    workspace.append(
        [*answers, *more]
        + [
            Label(item, name, "pairwise", c)
            for item in arena
            for name, c in zip(("lea", "max", "kim"), "aab")
        ]
        + [
            Label(item, name, "pairwise", c)
            for item, voted in zip(sampled, votes)
            for name, c in zip(("lea", "max", "kim"), voted)
        ]
    )
    return workspace, sampled


def test_the_admin_tabs_dawid_skene_figures_are_the_exports_and_stats(tmp_path, capsys):
    """The pairwise app's tab fitted Dawid–Skene on its own app's pairs only, while `data export`, `train` and `data
    stats` fit every pairwise label, arena votes included: its disputed table showed other posteriors (0.50, 0.56 …
    where the export wrote 0.56, 0.62 …) and its DS accuracy column other figures than `stats --labellers`. The fit
    now reads every pairwise label in both apps' tabs; each lists its own pairs."""
    workspace, sampled = ds_workspace(tmp_path / "ws")
    pairs = workspace.frame("pairs")
    own = {"pairwise": set(sampled), "arena": set(pairs.loc[pairs["kind"] == "arena", "id"])}
    assert data_main(["stats", "-w", str(workspace.path), "--labellers", "--json"]) == 0
    estimated = {r["labeller"]: r["ds_accuracy"] for r in json.loads(capsys.readouterr().out)["labellers"]}
    for view, kinds in (("pairwise", []), ("arena", ["--kinds", "arena"])):
        out = tmp_path / f"{view}.parquet"
        command = ["export", "-w", str(workspace.path), "--format", "dpo", "--aggregate", "dawid-skene"]
        assert data_main([*command, *kinds, "--out", str(out)]) == 0
        # the posterior each export row carries, printed as the tab prints it (`trust_text`; it read "0.56" here)
        exported = {r["pair_id"]: trust_text(r["posterior"]) for r in pq.read_table(out).to_pylist()}
        _, labellers, disputed, _ = admin_view(app(workspace, view), "ann", "dawid-skene")
        shown = dict(re.findall(r"<tr><td>(\w+)</td>(?:<td>[^<]*</td>){5}<td>([\d.]+)</td>", disputed))
        assert set(shown) == own[view] and exported  # every pair of the app's is disputed here
        assert exported == {item: shown[item] for item in exported}  # those decided a or b export
        column = re.findall(r"<th>(.*?)</th>", labellers).index("DS accuracy")
        rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(<td>.*?)</tr>", labellers)]
        assert {row[0]: float(row[column]) for row in rows} == estimated
