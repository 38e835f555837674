"""`generate` never changes a rank item under the labels stored on it (`data.rank_guard`): sampling into a round
whose prompt is a gold rank item, or answers that would take a ranked item past 6, are refused in one line naming
the item and the round to sample into instead, before any model loads or anything is written; the sampling
functions the round drivers call refuse it too, before sampling."""

from __future__ import annotations

import shutil

import pytest

from annotate.service import LabelService
from data import Completion, Label, Prompt, Workspace
from data.__main__ import main as data_main
from data.errors import PrefloopError
from data.ranking import canonical, rank_item_id
from generate.__main__ import main
from generate.engines import Sample, SamplingParams
from generate.rank_items import check_sampled_rank_items
from generate.sampling import sample_pairs
from generate.spin_pairs import sample_spin
from tests.test_data_gold_tasks import build
from tests.test_data_import_errors import digest

PARAMS = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=8, seed=0)


class Counting:
    """An engine that counts the prompts it was asked to answer."""

    name = "hf"
    context_length = None  # every prompt fits

    def __init__(self):
        self.asked = 0

    def sample(self, prompts, n, params, first=0):
        self.asked += len(prompts)
        return [[Sample(f"sample {i}", 2, "stop", i) for i in range(first, first + n)] for _ in prompts]


def ranked(path) -> tuple[Workspace, list[str], list[list[str]]]:
    ws, items, answers = build(path)
    ws.append([Label(items[0], "ann", "rank", None, ranking=canonical([[i] for i in answers[0]]))])
    return ws, items, answers


def test_generate_refuses_to_take_a_ranked_item_past_six_answers(tmp_path, tiny_model_dir, capsys):
    ws, items, _ = ranked(tmp_path / "ws")
    before = digest(ws.path)
    args = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "p.jsonl")]
    (tmp_path / "p.jsonl").write_text('{"prompt": "A new prompt?"}\n')
    assert main([*args, "--n", "4"]) == 2
    assert capsys.readouterr().err == (
        f"error: --round 0: 4 new answers to its prompt would take rank item {items[0]} (round 0 of its prompt, "
        "ranked 1 time) from 4 to 8 answers: a rank item is 3-6 answers, so it would leave the rank app with "
        "its rankings; sample into a round of their own (--round 1)\n"
    )
    assert digest(ws.path) == before  # not even --prompts' prompt
    engine = Counting()  # the function the judge round driver calls
    with pytest.raises(PrefloopError, match=f"would take rank item {items[0]}"):
        sample_pairs(ws, engine, "other", 4, PARAMS)
    assert engine.asked == 0 and digest(ws.path) == before
    counts = sample_pairs(ws, engine, "other", 2, PARAMS)  # 4 + 2: still a rank item
    assert counts["new_completions"] == 4 and engine.asked == 2
    counts = sample_pairs(ws, engine, "more", 4, PARAMS, round=1)  # a round of its own
    assert counts["new_completions"] == 8


def test_generate_refuses_to_change_a_gold_rank_item(tmp_path, tiny_model_dir, capsys):
    ws, items, answers = build(tmp_path / "ws")
    ranking = ">".join(answers[1])
    assert data_main(["gold", "-w", str(ws.path), "--rank-item", items[1], "--ranking", ranking]) == 0
    before = digest(ws.path)
    assert main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--n", "2"]) == 2
    assert capsys.readouterr().err == (
        f"error: --round 0: 2 new answers to its prompt would change rank item {items[1]} (round 0 of its "
        "prompt), gold from --rank-item: a gold ranking ranks every answer of its item; sample into a round of "
        f"their own (--round 1), or `data gold --remove {items[1]}` first\n"
    )
    kto = tmp_path / "kto.jsonl"  # --prompts FILE is imported: its answers join round 0 as an import's do
    kto.write_text('{"prompt": "Question 1?", "completion": "a fifth", "label": false}\n')
    assert (
        main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--prompts", str(kto), "--round", "1"]) == 2
    )
    assert capsys.readouterr().err.startswith(
        f"error: {kto}, row 0: its answer 'a fifth' is not stored, and adding it would change rank item {items[1]}"
    )
    assert digest(ws.path) == before


def test_spin_refuses_to_change_a_gold_rank_item(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Q?"}], "toy", gold="The gold answer.")
    made = [Completion(prompt.id, f"answer {k}", "toy", "hf") for k in range(3)]
    ws.append([prompt, *made])
    item = rank_item_id(prompt.id, 0)
    ranking = ">".join(c.id for c in made)
    assert data_main(["gold", "-w", str(ws.path), "--rank-item", item, "--ranking", ranking]) == 0
    engine = Counting()
    with pytest.raises(PrefloopError, match=f"would change rank item {item}"):
        sample_spin(ws, engine, "spinner", PARAMS, round=0)
    assert engine.asked == 0
    assert sample_spin(ws, engine, "spinner", PARAMS, round=1)["new_pairs"] == 1


class EngineLoaded(PrefloopError):
    """What a test's engine factory raises: the run got past every check to the point where a model loads."""


def test_generate_refuses_to_change_an_item_an_import_ranked(tmp_path, tiny_model_dir, capsys):
    """The rank app serves no item an import ranked: a sampled answer would never be ranked, even within 3-6."""
    ws = tmp_path / "ws"
    ranks = tmp_path / "ranks.jsonl"
    ranks.write_text('{"prompt": "Q?", "completions": ["a", "b", "c"], "ranking": "3 > 1 > 2"}\n')
    assert data_main(["import", "-w", str(ws), str(ranks)]) == 0
    workspace = Workspace(ws)
    item = rank_item_id(workspace.read("prompts").column("id")[0].as_py(), 0)
    before = digest(ws)
    assert main(["-w", str(ws), "--model", str(tiny_model_dir), "--n", "2"]) == 2
    assert capsys.readouterr().err == (
        f"error: --round 0: 2 new answers to its prompt would change rank item {item} (round 0 of its prompt), "
        "ranked by an import: the rank app serves no item an import ranked, so the new answer would never be "
        f"ranked; sample into a round of their own (--round 1), or `data import --remove {ranks}` first\n"
    )
    engine = Counting()
    with pytest.raises(PrefloopError, match=f"would change rank item {item}"):
        sample_pairs(workspace, engine, "other", 2, PARAMS)
    assert engine.asked == 0 and digest(ws) == before
    assert sample_pairs(workspace, engine, "other", 2, PARAMS, round=1)["new_completions"] == 2


def test_generate_offers_the_gold_remove_only_where_it_lets_the_answers_in(tmp_path):
    """An item an import ranked, made gold too: withdrawing its gold alone leaves it an item no answer may join, so
    the refusal offered the free round alone; withdrawing both lets the answers in, and it says so."""
    ws = tmp_path / "ws"
    ranks = tmp_path / "ranks.jsonl"
    ranks.write_text('{"prompt": "Q?", "completions": ["a", "b", "c"], "ranking": "3 > 1 > 2"}\n')
    assert data_main(["import", "-w", str(ws), str(ranks)]) == 0
    workspace = Workspace(ws)
    prompt_id = workspace.read("prompts").column("id")[0].as_py()
    item, answers = rank_item_id(prompt_id, 0), workspace.read("completions").column("id").to_pylist()
    assert data_main(["gold", "-w", str(ws), "--rank-item", item, "--ranking", ">".join(answers)]) == 0
    with pytest.raises(PrefloopError) as refused:
        check_sampled_rank_items(workspace, {prompt_id: 2}, 0)
    assert str(refused.value).endswith(
        f"sample into a round of their own (--round 1), or `data gold --remove {item}` and `data import --remove "
        f"{ranks}` first"
    )
    assert data_main(["gold", "-w", str(ws), "--remove", item]) == 0
    assert data_main(["import", "-w", str(ws), "--remove", str(ranks)]) == 0
    check_sampled_rank_items(workspace, {prompt_id: 2}, 0)  # 5 answers, nobody's ranking: it may grow


@pytest.mark.parametrize(
    "job",
    [
        ["--n", "2"],
        ["--n", "4", "--pairs", "best-worst", "--judge", "j"],
    ],
)
def test_a_new_workspace_whose_prompts_file_ranks_answers_refuses_before_anything_is_written(
    tmp_path, tiny_model_dir, monkeypatch, capsys, job
):
    """In a new workspace the --prompts file's rankings are the only rank items: the job's answers to round 0 would
    join an item an import ranked. Refused before the workspace is created or a model loads, as in one that exists
    (the check ran only on an existing workspace, so the refusal came after the import was written); a round of
    their own passes the check."""
    from generate import __main__ as cli
    from generate import bestofn

    def make_engine(*args, **kwargs):
        raise EngineLoaded("engine loads")

    for module in (cli, bestofn):
        monkeypatch.setattr(module, "make_engine", make_engine)
    monkeypatch.setattr(bestofn, "judge_model", lambda options: options.judge)  # "j" is a model
    ranks = tmp_path / "ranks.jsonl"
    ranks.write_text('{"prompt": "Q?", "completions": ["a", "b", "c"], "ranking": "3 > 1 > 2"}\n')
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--prompts", str(ranks)]
    argv += job
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: --round 0: ")
        and "ranked by an import" in err
        and err.endswith("(--round 1)\n")  # no `data import --remove`: nothing is imported yet
    )
    assert not ws.exists()
    assert main([*argv, "--round", "1"]) == 2  # the advice taken: past every check, a model loads
    assert capsys.readouterr().err == "error: engine loads\n"


def test_an_existing_workspace_whose_prompts_file_ranks_answers_refuses_before_anything_is_written(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """In a workspace that exists, the job was checked against the stored rows alone: the answers it would give a
    prompt of the --prompts file, joining an item the file ranks, passed the check, the file was imported, and the
    sampling refused after. The job is checked on a preview of the import now, before anything is written."""
    from generate import __main__ as cli

    def make_engine(*args, **kwargs):
        raise EngineLoaded("engine loads")

    monkeypatch.setattr(cli, "make_engine", make_engine)
    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": "Stored?"}], "toy")])
    before = digest(ws.path)
    ranks = tmp_path / "ranks.jsonl"
    ranks.write_text('{"prompt": "Q?", "completions": ["a", "b", "c"], "ranking": "3 > 1 > 2"}\n')
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--prompts", str(ranks), "--n", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --round 0: 2 new answers to its prompt") and "ranked by an import" in err
    assert err.endswith("(--round 1)\n")  # no `data import --remove`: nothing is imported yet
    assert digest(ws.path) == before
    assert main([*argv, "--round", "1"]) == 2  # the advice taken: past every check, a model loads
    assert capsys.readouterr().err == "error: engine loads\n"


def test_an_arena_answers_the_round_of_ranked_and_gold_rank_items_whose_answers_it_joins_none(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Each chunk of the arena's answers is stored with a record of the arena: they are evaluation data, which no
    rank item holds. Its rank check counted them as joining their prompt's item all the same, and refused an arena
    beside an item an import ranked (here in a new workspace, its --prompts file's ranking) or a gold one."""
    from generate import arena
    from tests.test_generate_arena_stopped import Scripted

    monkeypatch.setattr(arena, "make_engine", lambda engine, path, options: Scripted(path))
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    ranks = tmp_path / "ranks.jsonl"
    ranks.write_text('{"prompt": "Q?", "completions": ["a", "b", "c"], "ranking": "3 > 1 > 2"}\n')
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--arena", f"{tiny_model_dir},{other}"]
    argv += ["--no-spin-isolate", "--arena-n"]
    assert main([*argv, "2", "--prompts", str(ranks)]) == 0, capsys.readouterr().err
    workspace = Workspace(ws)
    item = rank_item_id(workspace.read("prompts").column("id")[0].as_py(), 0)
    stored = workspace.frame("completions")
    imported = stored.loc[stored["engine"] == "import", "id"].tolist()
    assert len(stored) == 3 + 2 * 2 and len(workspace.frame("pairs").query("kind == 'arena'")) == 2
    assert data_main(["gold", "-w", str(ws), "--rank-item", item, "--ranking", ">".join(imported)]) == 0
    assert main([*argv, "3"]) == 0, capsys.readouterr().err  # a top-up beside a gold item
    assert len(workspace.frame("completions")) == 3 + 2 * 3 and len(workspace.frame("pairs")) == 3
    assert data_main(["validate", "-w", str(ws)]) == 0
    service = LabelService(workspace, "rank", overlap=1)  # the gold item holds the imported answers alone
    assert list(service.queue.gold) == [item]
    assert sorted(service.items[item].completion_ids) == sorted(imported)


def test_a_pairs_job_that_pairs_the_arenas_answers_into_a_gold_rank_item_is_refused(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """A pairs job of a model with the arena's answers in its round (same settings) pairs them for people: ordinary
    answers from then on, which join the rank item of their prompt. Its rank check counted only the answers it
    sampled, so it added 2 answers to a gold rank item (a gold ranking ranks every answer of its item), sampling
    nothing."""
    from generate import __main__ as cli
    from generate import arena
    from tests.test_generate_arena_stopped import Scripted

    for module in (cli, arena):
        monkeypatch.setattr(module, "make_engine", lambda engine, path, *args, **kwargs: Scripted(path))
    other, third = tmp_path / "other", tmp_path / "third"
    for folder in (other, third):
        shutil.copytree(tiny_model_dir, folder)
    (tmp_path / "p.jsonl").write_text('{"prompt": "Q?"}\n')
    ws = tmp_path / "ws"
    argv = ["-w", str(ws), "--model", str(tiny_model_dir), "--engine", "hf"]
    assert main([*argv, "--prompts", str(tmp_path / "p.jsonl"), "--n", "4"]) == 0, capsys.readouterr().err
    workspace = Workspace(ws)
    answers = workspace.frame("completions")["id"].tolist()
    item = rank_item_id(workspace.frame("prompts")["id"][0], 0)
    arena = ["--arena", f"{other},{third}", "--split", "train", "--arena-n", "2", "--no-spin-isolate"]
    assert main([*argv, *arena]) == 0, capsys.readouterr().err  # 2 answers of each: the arena's
    assert data_main(["gold", "-w", str(ws), "--rank-item", item, "--ranking", ">".join(answers)]) == 0
    before = digest(ws)
    capsys.readouterr()
    argv[3] = str(other)
    assert main([*argv, "--n", "2"]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --round 0: 2 new answers to its prompt would change rank item {item} (round 0 of its prompt), "
        "gold from --rank-item"
    )
    assert digest(ws) == before
    assert sorted(LabelService(workspace, "rank", overlap=1).items[item].completion_ids) == sorted(answers)
