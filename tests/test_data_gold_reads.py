"""`data gold` reads the stored rows of the items it makes gold, not whole tables: a gold file's prompts' pairs and
answers, the rated answers' prompts, the ids asked, a split's items' labels (at 1,000,000 labels and 500,000
answers, a 5-row gold file peaked at ~400 MiB, ~220 so). What it marks is as before."""

from __future__ import annotations

import json

from data.__main__ import main
from data.gold import CLI, Mark, apply_gold, read_gold
from data.gold_sources import flags_trained
from data.ranking import rank_item_id
from data.records import Completion, Pair, Prompt, prompt_id
from data.rubric import load_rubric
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL, STORED, build
from tests.test_data_rank_guard import table_reads

PARIS = {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Rome."}
SPAIN = {"prompt": "Capital of Spain?", "chosen": "Madrid.", "rejected": "Lisbon."}


def imported(tmp_path) -> Workspace:
    """Two prompts, each with one imported pair (its preference label) and no other label: France in split test,
    Spain in train."""
    ws = Workspace.init(tmp_path / "ws")
    for name, row, split in (("test", PARIS, "test"), ("train", SPAIN, "train")):
        assert (
            main(
                ["import", "-w", str(ws.path), str(write(tmp_path / f"{name}.jsonl", row)), "--split", split]
            )
            == 0
        )
    return ws


def test_a_gold_file_reads_the_pairs_and_answers_of_its_prompts_only(tmp_path, monkeypatch, capsys):
    """Its matching read every pair and every answer's text (80 MiB of 500,000 answers) to keep those of its
    prompts, and the check of unknown items every pair's id."""
    ws = imported(tmp_path)
    reads = {table: table_reads(monkeypatch, table) for table in ("pairs", "completions", "prompts")}
    capsys.readouterr()
    assert main(["gold", "-w", str(ws.path), str(write(tmp_path / "gold.jsonl", PARIS))]) == 0
    assert "files: matched 1 stored pairs" in capsys.readouterr().out
    assert all(reads.values()) and None not in [r for table in reads.values() for r in table]
    paris = prompt_id([{"role": "user", "content": PARIS["prompt"]}])
    assert ("prompt_id", (paris,)) in reads["pairs"] and ("prompt_id", (paris,)) in reads["completions"]
    assert read_gold(ws).num_rows == 1


def test_a_pair_given_by_id_reads_that_pair_only(tmp_path, monkeypatch):
    ws = imported(tmp_path)
    pair = ws.read("pairs", ["prompt_id"]).column("id")[0].as_py()
    reads = table_reads(monkeypatch, "pairs")
    assert main(["gold", "-w", str(ws.path), "--pair", pair, "--answer", "a"]) == 0
    assert reads and ("id", (pair,)) in reads and None not in reads
    assert read_gold(ws).column("item_id").to_pylist() == [pair]


def test_a_rating_file_reads_the_answers_of_its_prompts_only(tmp_path, monkeypatch):
    """Its matching read every answer's text and every prompt's split."""
    ws, _, answers = build(tmp_path / "ws")
    reads = {table: table_reads(monkeypatch, table) for table in ("completions", "prompts")}
    row = {"prompt": "Question 0?", "response": "answer 0.1", "ratings": FULL}
    assert main(["gold", "-w", str(ws.path), str(write(tmp_path / "rate.jsonl", row))]) == 0
    assert all(reads.values()) and None not in [r for table in reads.values() for r in table]
    question = prompt_id([{"role": "user", "content": "Question 0?"}])
    assert ("prompt_id", (question,)) in reads["completions"] and ("id", (question,)) in reads["prompts"]
    assert read_gold(ws, "rate").to_pylist() == [
        {
            "item_id": answers[0][1],
            "ratings": STORED,
            "source": str(tmp_path / "rate.jsonl"),
            "rubric": "helpsteer2",
        }
    ]


def test_from_split_reads_the_labels_of_that_splits_items_only(tmp_path, monkeypatch):
    """It read every label (70 MiB at 1,000,000 labels) to keep the imported ones of the split's items."""
    ws = imported(tmp_path)
    paris = prompt_id([{"role": "user", "content": PARIS["prompt"]}])
    pairs = ws.read("pairs", ["prompt_id"]).to_pylist()
    test_pair = next(p["id"] for p in pairs if p["prompt_id"] == paris)
    test_answers = ws.read("completions", ["prompt_id"], ("prompt_id", [paris])).column("id").to_pylist()
    reads = table_reads(monkeypatch, "labels")
    assert main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 0
    rank_item = rank_item_id(paris, 0)  # its imported rankings are counted, not made gold
    assert reads[0] == ("item_id", tuple(sorted([test_pair, *test_answers, rank_item])))
    assert read_gold(ws).to_pylist() == [{"item_id": test_pair, "choice": "a", "source": "split:test"}]


def test_from_split_counts_the_imported_rankings_and_ratings_it_leaves_out(tmp_path, capsys):
    """A split's imported rankings and ratings make no gold (a split gives pairwise and KTO gold): they were passed
    over unsaid, beside the split's preferences or in an error that said only that it had none."""
    ws = Workspace.init(tmp_path / "ws")
    rating = dict.fromkeys(["helpfulness", "correctness", "coherence", "complexity", "verbosity"], 2)
    ranked = {"prompt": "Capital of Italy?", "completions": ["Rome.", "Milan.", "Turin."], "ranking": "1>3>2"}
    rated = {"prompt": "2 + 2?", "response": "4", "ratings": rating}
    assert (
        main(
            ["import", "-w", str(ws.path), str(write(tmp_path / "r.jsonl", ranked, rated)), "--split", "test"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 2
    assert capsys.readouterr().err == (
        "error: --from-split test: no pair or completion of that split has an imported preference or KTO label (it "
        "has 1 imported ranking and 1 imported rating: a split gives pairwise and KTO gold; give their file for "
        "rank and rate gold)\n"
    )
    assert (
        main(["import", "-w", str(ws.path), str(write(tmp_path / "p.jsonl", PARIS)), "--split", "test"]) == 0
    )
    capsys.readouterr()
    assert main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 0
    assert capsys.readouterr().out == (
        "gold items: 1 (+1 marked, -0 removed); --from-split test left out 1 imported ranking and 1 imported "
        "rating (a split gives pairwise and KTO gold; give their file for rank and rate gold)\n"
    )
    assert [task for task in ("pairwise", "rank", "rate") if read_gold(ws, task).num_rows] == ["pairwise"]


def test_from_split_says_that_labellers_labels_are_votes_not_gold(tmp_path, capsys):
    """A test split labelled by a file naming its labeller (or in the app) gave "no pair or completion of that split
    has an imported preference", though the user had imported preferences there: the error counts those labels and
    says they are votes, and how gold is marked instead. A review: it counted withdrawn labels too."""
    ws = Workspace.init(tmp_path / "ws")
    rows = [dict(PARIS, labeller=name) for name in ("alice", "bob")]
    for row in rows:
        path = write(tmp_path / f"{row['labeller']}.jsonl", row)
        assert main(["import", "-w", str(ws.path), str(path), "--split", "test"]) == 0
    capsys.readouterr()
    assert main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 2
    assert capsys.readouterr().err == (
        "error: --from-split test: no pair or completion of that split has an imported preference or KTO label; "
        "it has 2 preference or KTO labels by labellers or machines (the app, a judge, a file's labeller column): "
        "votes, not gold answers (a gold file, --pair or --completion marks gold)\n"
    )
    # those in force only: a labeller's file withdrawn (`import --remove`) leaves no vote
    assert main(["import", "-w", str(ws.path), "--remove", str(tmp_path / "alice.jsonl")]) == 0
    capsys.readouterr()
    assert main(["gold", "-w", str(ws.path), "--from-split", "test"]) == 2
    assert "; it has 1 preference or KTO label by labellers or machines (" in capsys.readouterr().err


def test_the_item_flags_read_the_rows_of_the_items_they_made_gold_only(tmp_path, monkeypatch):
    """What the flags made gold of split train (`flags_trained`) read every prompt's split and every train prompt's
    pairs and answers, the whole training data, on any call marking an item not gold before: it reads the rows of
    the items marked (a rank item's: an answer of its gold ranking) and their prompts' splits. It says as before."""
    ws, items, answers = build(tmp_path / "ws")
    test = Prompt([{"role": "user", "content": "Held out?"}], "toy", split="test")
    held = [Completion(test.id, f"held {k}", "toy", "hf", seed=k) for k in range(4)]
    questions = [prompt_id([{"role": "user", "content": f"Question {i}?"}]) for i in range(2)]
    pairs = [Pair(questions[0], *answers[0][:2], "sampled"), Pair(test.id, held[0].id, held[1].id, "sampled")]
    ws.append([test, *held, *pairs])
    ranking = ">".join(answers[0])
    marks = [
        Mark("pairwise", [p.id for p in pairs], ["a", "b"], CLI),
        Mark("rank", [items[0], rank_item_id(test.id, 0)], [ranking, ">".join(c.id for c in held)], CLI),
        Mark("rate", [answers[1][2]], [json.dumps(FULL)], CLI, load_rubric(None)),
    ]
    change = apply_gold(ws, marks)
    reads = {table: table_reads(monkeypatch, table) for table in ("pairs", "completions", "prompts")}
    assert flags_trained(ws, marks, change) == (
        "--pair and --rank-item and --rate-item: 3 items of split train gold now (gold never trains: export and "
        "train leave them out as gold)"
    )
    assert reads == {
        "pairs": [("id", tuple(sorted(p.id for p in pairs)))],
        "completions": [("id", tuple(sorted([answers[0][0], answers[1][2], held[0].id])))],
        "prompts": [("id", tuple(sorted([*questions, test.id])))],
    }
