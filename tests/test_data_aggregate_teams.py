"""Issue 21's acceptance on teams its other tests did not try, each built as a lead builds one, by `data import` of
files whose rows name their labeller: one labeller, two who never share an item, a labeller who only ties, skips
or says both-bad, every labeller excluded, gold that every labeller answered wrong, gold and no other label, one
labeller per pair, KTO labels beside preferences. Under either aggregation `stats`, `export` and train's rows agree
on every count, `stats`' split votes reconcile with the export's, and both reports are JSON without NaN (a gold
interval with no gold answered is null, not a NaN)."""

from __future__ import annotations

import json

import pytest

from data.__main__ import main
from data.commands import EXPORT_KINDS
from data.records import Label
from data.workspace import Workspace
from tests.test_data_exclusion import export
from tests.test_data_export_counts import nonzero
from train.pairs import kto_rows, preference_rows

AGGREGATIONS = ("majority", "dawid-skene")


def preference(i: int, labeller: str | None = None, wrong: bool = False) -> dict:
    good, bad = f"good answer {i}", f"bad answer {i}"
    row = {"prompt": f"Question {i}?", "chosen": bad if wrong else good, "rejected": good if wrong else bad}
    return row if labeller is None else {**row, "labeller": labeller}


def desirable(i: int, labeller: str, flipped: bool = False) -> dict:
    return {
        "prompt": f"Question {i}?",
        "completion": f"good answer {i}",
        "label": not flipped,
        "labeller": labeller,
    }


def imported(tmp_path, files: dict[str, list[dict]], gold: list[dict] = (), *flags: str) -> Workspace:
    """A workspace made by `data import` of one JSON Lines file per entry (all in split train), then `data gold` of
    the ``gold`` rows."""
    paths = []
    for name, rows in files.items():
        paths.append(tmp_path / f"{name}.jsonl")
        paths[-1].write_text("".join(json.dumps(row) + "\n" for row in rows))
    ws = tmp_path / "ws"
    assert main(["import", "-w", str(ws), *map(str, paths), "--test-fraction", "0", *flags]) == 0
    if gold:
        (tmp_path / "gold.jsonl").write_text("".join(json.dumps(row) + "\n" for row in gold))
        assert main(["gold", "-w", str(ws), str(tmp_path / "gold.jsonl")]) == 0
    return Workspace(ws)


def in_app(ws: Workspace, name: str, choice: str | None) -> None:
    """``name``'s app label on every pair: ``choice``, or a skip where it is None (what the app's import cannot
    say: a row names a chosen answer)."""
    ws.append(
        [
            Label(pair, name, "pairwise", choice, seconds=10.0, left="a", retracted=choice is None)
            for pair in ws.frame("pairs")["id"]
        ]
    )


def pairs(*idx: range | list[int], labeller: str | None = None, wrong=()) -> list[dict]:
    return [preference(i, labeller, i in wrong) for r in idx for i in r]


def one(tmp_path):
    return imported(tmp_path, {"alice": pairs(range(20), labeller="alice")}), ()


def disjoint(tmp_path):
    files = {
        "alice": pairs(range(20), labeller="alice"),
        "bob": pairs(range(20, 40), labeller="bob", wrong={25}),
    }
    return imported(tmp_path, files), ()


def only(choice):
    def team(tmp_path):
        files = {
            "alice": pairs(range(30), labeller="alice"),
            "bob": pairs(range(30), labeller="bob", wrong={3}),
        }
        ws = imported(tmp_path, files, pairs([0, 1]))
        in_app(ws, "carol", choice)
        return ws, ()

    team.__name__ = f"only_{choice or 'skip'}"
    return team


def all_excluded(tmp_path):
    files = {
        "alice": pairs(range(30), labeller="alice"),
        "bob": pairs(range(30), labeller="bob", wrong={1, 2}),
    }
    return imported(tmp_path, files, pairs([0])), ("--exclude-labeller", "alice", "bob")


def gold_all_wrong(tmp_path):
    files = {name: pairs(range(30), labeller=name) for name in ("alice", "bob", "carol")}
    return imported(tmp_path, files, pairs([0, 1], wrong={0})), ()


def gold_and_no_label(tmp_path):
    return imported(tmp_path, {"cands": pairs(range(20))}, pairs(range(5)), "--unlabelled"), ()


def one_per_pair(tmp_path):
    """K = 1: each labeller's ten pairs their own (one answered wrong), five gold pairs everyone labelled."""
    files = {
        name: pairs(range(10 * j, 10 * j + 10), range(30, 35), labeller=name, wrong={10 * j})
        for j, name in enumerate(("alice", "bob", "carol"))
    }
    return imported(tmp_path, files, pairs(range(30, 35))), ()


def kto_beside_preferences(tmp_path):
    files = {
        "alice": pairs(range(20), labeller="alice") + [desirable(i, "alice") for i in range(20)],
        "bob": pairs(range(20), labeller="bob", wrong={1})
        + [desirable(i, "bob", i == 11) for i in range(10, 30)],
    }
    return imported(tmp_path, files, pairs([0])), ()


def a_checked_labeller_against_one_who_only_says_both_bad(tmp_path):
    """alice and bob agree on 20 pairs; on 5 more alice meets only dave, who says both-bad to each: a 1–1 vote the
    majority leaves split, and Dawid–Skene gives to alice, whom bob checks."""
    files = {"alice": pairs(range(25), labeller="alice"), "bob": pairs(range(20), labeller="bob")}
    ws = imported(tmp_path, files)
    votes = ws.frame("labels").groupby("item_id").size()
    ws.append([Label(pair, "dave", "pairwise", "both_bad") for pair in votes[votes == 1].index])
    return ws, ()


# What `export --format dpo` says of each team: under either aggregation, or under each
TEAMS = {
    one: {"exported": 20},
    disjoint: {"exported": 40},
    only("tie"): {"exported": 27, "gold": 2, "split": 1},
    only("both_bad"): {"exported": 27, "gold": 2, "split": 1},
    only(None): {"exported": 27, "gold": 2, "split": 1},
    all_excluded: {"exported": 0, "excluded_only": 29, "gold": 1},
    gold_all_wrong: {"exported": 28, "gold": 2},
    gold_and_no_label: {"exported": 0, "gold": 5, "unlabelled": 15},
    one_per_pair: {"exported": 30, "gold": 5},
    kto_beside_preferences: {"exported": 18, "gold": 1, "split": 1},
    a_checked_labeller_against_one_who_only_says_both_bad: {
        "majority": {"exported": 20, "split": 5},
        "dawid-skene": {"exported": 25},
    },
}


def strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"{constant} in the JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module", params=list(TEAMS), ids=lambda team: team.__name__)
def team(request, tmp_path_factory):
    ws, flags = request.param(tmp_path_factory.mktemp(request.param.__name__))
    return ws, flags, TEAMS[request.param]


@pytest.mark.parametrize("method", AGGREGATIONS)
def test_stats_export_and_train_agree_on_every_count(team, method, capsys):
    ws, flags, said = team
    excluded = tuple(flags[1:])
    exported, _ = export(ws, capsys, "--format", "dpo", "--aggregate", method, *flags)
    assert exported == said.get(method, said)
    _, counts = preference_rows(ws, "train", EXPORT_KINDS, aggregate=method, excluded=excluded)
    assert nonzero(counts) == exported
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--json", "--aggregate", method, *flags]) == 0
    items = strict_json(capsys.readouterr().out).get("pairwise_items", {})
    split = items.get("split_votes", 0) - sum(items.get("split_votes_counted_apart", {}).values())
    assert split == exported.get("split", 0)
    if kto_rows(ws, "train")[1]["exported"]:
        exported, _ = export(ws, capsys, "--format", "kto", "--aggregate", method, *flags)
        assert nonzero(kto_rows(ws, "train", aggregate=method, excluded=excluded)[1]) == exported


def test_each_labellers_report_is_json_with_no_nan_and_no_interval_without_gold(team, capsys):
    ws, flags, _ = team
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json", *flags]) == 0
    report = strict_json(capsys.readouterr().out)
    rows = report["labellers"] + [row for task in report["tasks"].values() for row in task["labellers"]]
    for row in rows:
        gold = row["gold"]
        assert (gold["ci95"] is None) == (gold["answered"] == 0), row
        if gold["ci95"] is not None:
            low, high = gold["ci95"]
            assert 0 <= low <= gold["accuracy"] <= high <= 1
    assert main(["stats", "-w", str(ws.path), "--labellers", *flags]) == 0
    text = capsys.readouterr().out.lower()
    assert "nan" not in text.split() and "inf" not in text.split()
