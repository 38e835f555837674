"""A model named by a hub id (`org/model`) is one model: `train --model org/model` registered its snapshot folder in
the hub's cache, while the arena registered `base` (and recorded its answers) under the hub id: two manifest entries
and two leaderboard names for one model. Every model is checked in one wording per failure, an LLM judge's chat
template with the rest, and the round driver looks up an arena's hub id only once its cheap checks pass. The hub's
cache is faked (offline)."""

from __future__ import annotations

import json
import shutil

import pytest

from data import Workspace
from data.lineage import find_model, find_or_register
from data.records import ModelRecord
from generate.__main__ import main
from tests.test_generate_arena import arena_args, write_prompts
from tests.test_generate_hub_model import JUDGE_FITS, job_args, no_loading
from tests.test_train_hub_model import hub_cache  # noqa: F401 (a fixture)
from train.saving import model_path


@pytest.fixture
def snapshot(hub_cache):  # noqa: F811 (the fixture imported above)
    """The hub's cache (offline) holding ``org/tiny``: its snapshot folder."""
    return hub_cache


def test_a_hub_id_and_its_snapshot_folder_are_one_model_two_revisions_are_two(tmp_path, snapshot):
    from data.lineage import same_model
    from data.provision import hub_id_of

    folder, other_revision = str(snapshot), str(snapshot.parent / "4567ef01")
    assert hub_id_of(folder) == hub_id_of(other_revision) == hub_id_of("org/tiny") == "org/tiny"
    assert same_model("org/tiny", folder) and same_model(folder, "org/tiny")
    assert not same_model(folder, other_revision)
    assert not same_model("org/tiny", "org/other") and not same_model("org/tiny", str(tmp_path))
    assert hub_id_of(tmp_path) is None


def test_a_machine_labeller_named_by_a_hub_id_or_its_snapshot_folder_is_one(snapshot):
    import unicodedata

    from data.lineage import same_machine

    folder, other_revision = str(snapshot), str(snapshot.parent / "4567ef01")
    assert same_machine("judge:org/tiny", f"judge:{folder}") and same_machine(f"rm:{folder}", "rm:org/tiny")
    assert not same_machine(f"judge:{folder}", f"judge:{other_revision}")
    assert not same_machine("judge:org/tiny", f"rm:{folder}") and not same_machine(
        "judge:org/tiny", "org/tiny"
    )
    zoe = "/m/zo\u00eb"
    assert same_machine(
        f"judge:{zoe}", "judge:" + unicodedata.normalize("NFD", zoe)
    )  # as `same_name` compares


@pytest.fixture
def other(tmp_path, tiny_model_dir):
    folder = tmp_path / "other"
    shutil.copytree(tiny_model_dir, folder)
    return folder.resolve()


def arena_of_hub_id(tmp_path, other, names: str) -> int:
    """`generate --model org/tiny --arena NAMES` on one prompt."""
    prompts = write_prompts(tmp_path / "p.json", 1)
    return main(arena_args(tmp_path / "ws", ["org/tiny", other], prompts, names=names))


def test_train_then_an_arena_naming_the_hub_id_is_one_model(tmp_path, snapshot, other):
    ws = Workspace.init(tmp_path / "ws")
    trained_from = find_or_register(ws, model_path("org/tiny", ws))  # train's start model, registered
    assert arena_of_hub_id(tmp_path, other, f"org/tiny,{other}") == 0
    models = ws.frame("models")
    assert models["path"].tolist() == [str(snapshot)] and models["id"].tolist() == [trained_from.id]
    # its answers under the manifest's name: one leaderboard row, not the hub id beside the snapshot
    assert set(ws.frame("completions")["model"]) == {str(snapshot), str(other)}


def test_an_arena_base_by_hub_id_then_train_is_one_model(tmp_path, snapshot, other):
    assert arena_of_hub_id(tmp_path, other, f"base,{other}") == 0
    ws = Workspace(tmp_path / "ws")
    base = ws.frame("models")
    assert base["path"].tolist() == [str(snapshot)]  # registered as train registers it
    assert find_or_register(ws, model_path("org/tiny", ws)).id == base["id"].iloc[0]
    assert len(ws.frame("models")) == 1
    assert set(ws.frame("completions")["model"]) == {str(snapshot), str(other)}


def test_a_workspace_holding_the_hub_id_is_found_by_the_snapshot_and_the_reverse(tmp_path, snapshot):
    ws = Workspace.init(tmp_path / "ws")
    older = ModelRecord(path="org/tiny", method="base")  # what the arena registered before
    ws.append([older])
    assert find_or_register(ws, model_path("org/tiny", ws)).id == older.id
    assert find_model(ws, "org/tiny").id == older.id and len(ws.frame("models")) == 1
    newer = Workspace.init(tmp_path / "ws2")
    entry = find_or_register(newer, snapshot)
    assert find_or_register(newer, "org/tiny").id == entry.id and len(newer.frame("models")) == 1


def test_what_the_manifest_holds_reads_the_same_from_every_directory(tmp_path, snapshot, monkeypatch):
    """A stored hub id matched its snapshot only where no folder `org/tiny` was under the working directory."""
    ws = Workspace.init(tmp_path / "ws")
    older = ModelRecord(path="org/tiny", method="base")
    ws.append([older])
    (tmp_path / "org/tiny").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert find_model(ws, snapshot).id == older.id


def test_sampling_a_hub_id_takes_its_snapshots_round_from_the_manifest(tmp_path, snapshot, monkeypatch):
    """`generate --model org/model` looked its round up as a folder under the current one: never found, round 0."""
    from generate.__main__ import sampling_round
    from generate.options import GenerateOptions

    monkeypatch.chdir(tmp_path)
    ws = Workspace.init(tmp_path / "ws")
    ws.append([ModelRecord(path=str(snapshot), method="base", round=2)])
    assert sampling_round(GenerateOptions(model="org/tiny"), ws, "org/tiny") == 2


@pytest.mark.parametrize("flag", ["--model", "--arena", "--judge"])
def test_a_model_whose_config_does_not_read_is_one_wording_for_every_flag(
    tmp_path, tiny_model_dir, other, monkeypatch, capsys, flag
):
    """`--judge` said 'F/config.json does not read (...)', `--arena` 'model M does not load (...)', and `--model`
    did not read the config at all: one check now (`data.provision.checked_model`), one line naming the flag."""
    from generate import __main__ as cli
    from generate import arena, bestofn

    no_loading(monkeypatch, cli, arena, bestofn)
    (other / "config.json").write_text("{ not json")
    argv = job_args(tmp_path, other if flag == "--model" else tiny_model_dir)
    extra = {
        "--model": [],
        "--arena": ["--arena", f"base,{other}"],
        "--judge": ["--n", "4", "--pairs", "best-worst", "--judge", str(other)],
    }
    assert main([*argv, *extra[flag]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag} {other}: {other / 'config.json'} does not read (JSONDecodeError: ")
    assert err.endswith("); nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


def test_an_llm_judge_without_a_chat_template_is_refused_before_sampling(
    tmp_path, tiny_model_dir, tiny_base_model_dir, monkeypatch, capsys
):
    """A chat-model judge with no chat template failed only once the answers it was to judge were sampled and
    written; it is checked with the other models now. The template --chat-template gives (the judge's engine takes
    it too) passes."""
    from generate import __main__ as cli
    from generate import bestofn

    no_loading(monkeypatch, cli, bestofn)
    argv = [*job_args(tmp_path, tiny_model_dir), "--n", "4", "--pairs", "best-worst", *JUDGE_FITS]
    assert main([*argv, "--judge", str(tiny_base_model_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: --judge {tiny_base_model_dir}: the model has no chat template (a base model?)"
    )
    assert err.endswith("; nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()
    with pytest.raises(pytest.fail.Exception, match="a model was loaded"):  # checked; then it samples
        main([*argv, "--judge", str(tiny_base_model_dir), "--chat-template", "roles"])


def test_an_arena_model_without_a_chat_template_is_refused_before_any_model_answers(
    tmp_path, tiny_model_dir, tiny_base_model_dir, monkeypatch, capsys
):
    """A base model in the arena was transformers' traceback once the models before it had answered and their
    answers were written; it is checked with the other models' files now, and --chat-template passes it."""
    from generate import __main__ as cli
    from generate import arena

    no_loading(monkeypatch, cli, arena)
    argv = [
        *job_args(tmp_path, tiny_model_dir),
        "--arena",
        f"base,{tiny_base_model_dir}",
        "--no-spin-isolate",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: --arena {tiny_base_model_dir}: the model has no chat template (a base model?)"
    )
    assert err.endswith("; nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()
    with pytest.raises(pytest.fail.Exception, match="a model was loaded"):  # checked; then it samples
        main([*argv, "--chat-template", "roles"])


def test_the_loop_looks_up_no_arena_hub_id_before_its_cheap_checks(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """`--spin-iter 1 --arena base,org/model` fetched the hub id (gigabytes, online) before `check_loop` refused
    the loop (here: no train prompt has a gold answer)."""
    import huggingface_hub

    from generate.loop.__main__ import main as loop_main

    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("looked up the hub")
    )
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": f"Name a colour {i}."} for i in range(4)]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts)]
    assert loop_main([*argv, "--spin-iter", "1", "--arena", "base,org/tiny", "--engine", "hf"]) == 2
    assert "no train prompts with a gold answer" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


@pytest.mark.usefixtures("snapshot")
def test_the_loop_refuses_an_arena_hub_id_the_hub_does_not_give_before_anything_is_written(
    tmp_path, tiny_model_dir, capsys
):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"prompt": f"q{i}", "output": "x"} for i in range(8)]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts)]
    argv += ["--spin-iter", "1", "--test-fraction", "0.5", "--no-spin-isolate", "--engine", "hf"]
    assert main([*argv, "--arena", "base,org/missing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --arena org/missing: not a model: no folder ")
    assert err.endswith("); nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


def test_a_hub_models_answers_under_its_id_and_its_snapshot_are_one_leaderboard_row():
    """A workspace's arena answers from before a hub model was named by its snapshot folder are under its hub id:
    they and the later ones are one model on the board (the manifest's entry), not two rows."""
    from data.leaderboard import leaderboard
    from tests.test_data_leaderboard import tables

    pairs, completions, labels, models = tables()
    snapshot = "/cache/models--org--tiny/snapshots/0123abcd"
    models = models.replace({"path": {"/m/base": snapshot}})
    completions = completions.assign(model=["org/tiny", "/m/child", "/m/child", snapshot, snapshot])
    rows = leaderboard(pairs, completions, labels, models, samples=0)
    assert [row.model for row in rows] == ["id-base", "id-child"] and rows[0].votes == 3
    unregistered = models[models["id"] == "id-child"]  # the hub model compared as it is, not in the manifest
    rows = leaderboard(pairs, completions, labels, unregistered, samples=0)
    assert {row.model for row in rows} == {"id-child", snapshot}


def test_a_hub_judges_votes_under_its_id_and_its_snapshot_are_its_votes_by_either_name():
    """A hub judge's rerun named the other way judges only the arena pairs it had not voted on, under that name:
    `--by` took only the votes stored under the name as typed."""
    from data.leaderboard_votes import votes_table
    from tests.test_data_leaderboard import tables

    pairs, completions, labels, _ = tables()
    snapshot = "/cache/models--org--tiny/snapshots/0123abcd"
    judged = labels.assign(annotator=["judge:org/tiny", *labels["annotator"][1:]])  # p0, and p1's judge:x
    judged = judged.replace({"annotator": {"judge:x": f"judge:{snapshot}"}})
    for by in ("judge:org/tiny", f"judge:{snapshot}"):
        assert sorted(votes_table(pairs, completions, judged, by=by)["prompt_id"]) == ["q0", "q1"]
    # another revision: the hub id's votes (`same_model`: the id names each revision), not the other snapshot's
    other_revision = votes_table(pairs, completions, judged, by=f"judge:{snapshot[:-8]}4567ef01")
    assert other_revision["prompt_id"].tolist() == ["q0"]


def test_a_vote_between_a_hub_models_id_and_its_snapshot_is_left_out_and_counted(caplog):
    """Before a hub model was one name, an arena of `base` (the snapshot `train` registered) and its hub id compared
    the model with itself: once both sides are one row, such a vote was counted twice for that row (its votes and
    its games against itself)."""
    from data.errors import PrefloopError
    from data.leaderboard import leaderboard
    from tests.test_data_leaderboard import tables

    pairs, completions, labels, models = tables()
    snapshot = "/cache/models--org--tiny/snapshots/0123abcd"
    models = models.replace({"path": {"/m/base": snapshot}})
    completions = completions.assign(model=["org/tiny", snapshot, "/m/child", snapshot, snapshot])
    rows = leaderboard(pairs, completions, labels, models, samples=0)  # p0 is the model against itself
    assert [row.model for row in rows] == ["id-base", "id-child"]
    assert [(row.votes, row.games) for row in rows] == [(1, 0), (1, 1)]  # p1's tie only
    assert (
        "2 votes comparing a model with itself, under its hub id and its snapshot folder: left out"
        in caplog.text
    )
    itself = completions.assign(model=["org/tiny", snapshot, "org/tiny", snapshot, snapshot])
    with pytest.raises(PrefloopError, match="all compare a model with itself"):
        leaderboard(pairs, itself, labels, models, samples=0)


def test_an_arena_models_answers_are_matched_once_a_name_not_once_an_answer(monkeypatch):
    """`arena_completions` runs for each model, over every answer of the round to the arena's prompts (a workspace
    may hold a million): `same_model`, which may look for a folder on disk, was asked once an answer."""
    import pandas as pd
    import pyarrow as pa

    import data.lineage as lineage
    import generate.arena as arena
    from generate.engines import SamplingParams

    snapshot, params = "/cache/models--org--tiny/snapshots/0123abcd", SamplingParams()
    models = ["org/tiny", snapshot, "/m/other"] * 400
    completions = pd.DataFrame(
        {"id": [f"c{i}" for i in range(len(models))], "model": models, "round": 0, "prompt_id": "q0"}
    ).assign(params=params.to_json())
    asked, same_model = [], lineage.same_model
    monkeypatch.setattr(lineage, "same_model", lambda a, b: asked.append(a) or same_model(a, b))

    class Frames:
        def frame(self, name):  # a manifest without trainings: no answer is a retrained folder's old one
            if name == "models":
                return pd.DataFrame(columns=["id", "path", "method", "created_at"])
            return completions

        def read(self, name, columns=None):  # the answers as `model_answers` reads them (a table)
            return pa.Table.from_pandas(self.frame(name), preserve_index=False)

    mine = arena.arena_completions(Frames(), snapshot, 0, params, {"q0"})
    assert set(mine["model"]) == {"org/tiny", snapshot} and len(mine) == 800
    assert sorted(asked) == sorted({*models})


def test_a_model_type_only_vllm_knows_passes_the_early_checks(tmp_path, tiny_model_dir, other):
    """The early check read the config through transformers' AutoConfig (no trust_remote_code): a model type
    transformers does not know was refused, though vLLM loads it. config.json is read as JSON now; whether the
    model loads is the engine's to say (the arena's load names the model in one line)."""
    from data.provision import checked_model
    from generate.arena import check_arena_files
    from generate.arena_models import resolve_arena

    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "only-vllm-knows-it"}))
    assert checked_model("--judge", str(other)) == other
    check_arena_files(resolve_arena(None, (str(tiny_model_dir), str(other)), str(tiny_model_dir)))
