"""Sampling from a hub id (`generate --model org/model`, `--arena base,org/model`) or judging with one (`--judge
org/model`): the id is looked up in (or fetched into) the hub's cache before the workspace is created. One the hub
does not give reached the engine after the workspace was created and the `--prompts` file imported (the arena: after
the models before it had answered; a judge: after the answers it was to judge were sampled), and its error line did
not name it. The hub's cache is faked (offline)."""

from __future__ import annotations

import json
import shutil

import pytest

from data import Workspace
from generate import bestofn
from generate.__main__ import main
from generate.options import SampleOptions
from generate.prepare import fetch_model, start_model
from tests.test_generate_judge import write_prompts
from tests.test_train_hub_model import hub_cache  # noqa: F401 (a fixture)


@pytest.mark.usefixtures("hub_cache")
@pytest.mark.parametrize("names", [["--model", "org/missing"], ["--arena", "base,org/missing"]])
def test_a_hub_id_the_hub_does_not_give_is_one_line_naming_it_and_writes_nothing(
    tmp_path, tiny_model_dir, capsys, names
):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps([{"prompt": "Name a colour."}]))
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts), *names]
    assert main([*argv, "--engine", "hf"]) == 2
    err = capsys.readouterr().err
    flag = names[0]  # each check names its flag, in one wording
    assert err.startswith(f"error: {flag} org/missing: not a model: no folder ")
    assert err.endswith("); nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("names", [["--model", "org/tiny"], ["--arena", "base,org/tiny"]])
def test_a_mistyped_prompts_file_costs_no_hub_lookup(tmp_path, tiny_model_dir, capsys, monkeypatch, names):
    """A hub id was looked up (fetched, online: gigabytes) before the --prompts file was read: a typo in its name
    cost a download before its one line. The cheap checks come first now; the lookup only once they pass."""
    import huggingface_hub

    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("looked up the hub")
    )
    argv = [
        "-w",
        str(tmp_path / "ws"),
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(tmp_path / "typo.json"),
    ]
    assert main([*argv, *names, "--engine", "hf"]) == 2
    assert "typo.json" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


@pytest.mark.usefixtures("hub_cache")
def test_a_hub_id_in_the_cache_is_sampled_under_its_id():
    options = SampleOptions(model="org/tiny")
    assert start_model(options) == ("org/tiny", "org/tiny")
    fetch_model(options, "org/tiny")  # found in the cache: no error


def no_loading(monkeypatch, *modules) -> None:
    for module in modules:
        monkeypatch.setattr(module, "make_engine", lambda *a, **k: pytest.fail("a model was loaded"))


def job_args(tmp_path, model) -> list[str]:
    """A sampling job of ``model`` into a workspace not created yet, with a --prompts file."""
    prompts = str(write_prompts(tmp_path / "p.json"))
    return ["-w", str(tmp_path / "ws"), "--model", str(model), "--prompts", prompts, "--engine", "hf"]


IN_PROCESS = "--no-spin-isolate"  # the arena and the loop: sampled here, where make_engine is replaced
# the tiny model's context is 512, the default --judge-max-tokens's too, which would fill it (refused, as --max-tokens)
JUDGE_FITS = ("--judge-max-tokens", "64")


@pytest.mark.usefixtures("hub_cache")
@pytest.mark.parametrize(
    "job",
    [
        ["--n", "4", "--pairs", "best-worst"],  # the judge loaded once the answers were written
        ["--arena", "base,{other}", IN_PROCESS],  # once both models had answered
        [
            "--judge-iter",
            "1",
            "--n",
            "2",
            "--test-fraction",
            "0.34",
            IN_PROCESS,
        ],  # in the first step, after sampling
    ],
)
def test_a_judges_hub_id_the_hub_does_not_give_is_one_line_naming_it_and_writes_nothing(
    tmp_path, tiny_model_dir, monkeypatch, capsys, job
):
    from generate import __main__ as cli
    from generate import arena
    from generate.loop import judge as loop_judge

    no_loading(monkeypatch, cli, arena, bestofn, loop_judge)
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    argv = [*job_args(tmp_path, tiny_model_dir), *(arg.format(other=other) for arg in job)]
    assert main([*argv, "--judge", "org/missing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --judge org/missing: not a model: no folder ")
    assert err.endswith("); nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


@pytest.mark.usefixtures("hub_cache")
def test_judging_with_a_hub_id_the_hub_does_not_give_is_one_line_naming_it(label_ws, monkeypatch, capsys):
    no_loading(monkeypatch, bestofn)
    assert main(["-w", str(label_ws.path), "--judge", "org/missing", "--engine", "hf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --judge org/missing: not a model: no folder ")
    assert err.endswith("); nothing written\n") and err.count("\n") == 1
    assert label_ws.frame("labels").empty


def test_a_judges_hub_id_in_the_cache_loads_from_its_snapshot_under_its_id(
    label_ws, snapshot, monkeypatch, capsys
):
    from tests.test_generate_judge import ScriptedEngine, fair

    loads = []

    def make_engine(engine, model, options):
        loads.append(model)
        return ScriptedEngine(fair)

    monkeypatch.setattr(bestofn, "make_engine", make_engine)
    assert main(["-w", str(label_ws.path), "--judge", "org/tiny", "--engine", "hf", *JUDGE_FITS]) == 0
    assert loads == [str(snapshot)] and "judge:org/tiny: judged 4 pairs" in capsys.readouterr().out


def test_a_judge_folder_whose_config_does_not_read_is_one_line_before_sampling(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    from generate import __main__ as cli

    no_loading(monkeypatch, cli, bestofn)
    judge = tmp_path / "judge"
    shutil.copytree(tiny_model_dir, judge)
    (judge / "config.json").write_text("{ not json")
    argv = [*job_args(tmp_path, tiny_model_dir), "--n", "4", "--pairs", "best-worst", "--judge", str(judge)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --judge {judge}: {judge / 'config.json'} does not read (")
    assert err.endswith("); nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


@pytest.fixture
def snapshot(hub_cache):  # noqa: F811 (the fixture imported above)
    return hub_cache


def hub_listing(snapshot, *extra: str) -> None:
    """The hub's file listing of ``snapshot``'s commit, as huggingface_hub caches it when it downloads: the files
    there and ``extra`` ones the cache does not hold."""
    files = {p.name: {"size": p.stat().st_size, "blob_id": "0"} for p in snapshot.iterdir()}
    files |= {name: {"size": 1, "blob_id": "1"} for name in extra}
    trees = snapshot.parent.parent / "trees"
    trees.mkdir()
    (trees / f"{snapshot.name}.json").write_text(json.dumps({"format_version": 1, "files": files}))


def test_offline_a_cached_model_whose_snapshot_lacks_files_no_loader_reads_is_sampled(snapshot):
    """`huggingface-cli download org/model --exclude "original/*"` (as Llama's model card says) caches a snapshot the
    hub's listing calls incomplete: offline, huggingface_hub refused it, and `generate --model org/model` with it
    ('not a model folder here, and the hub gave none'), although transformers and vLLM load it."""
    hub_listing(snapshot, "original/params.json", "original/tokenizer.model")
    options = SampleOptions(model="org/tiny")
    assert start_model(options) == ("org/tiny", "org/tiny")
    fetch_model(options, "org/tiny")  # found in the cache: no error


def test_offline_a_cached_snapshot_beside_an_index_of_bin_shards_not_fetched_is_sampled(snapshot):
    """A repo with both formats is fetched without its .bin files (`data.provision.HUB_FILES`): its
    pytorch_model.bin.index.json names shards no loader reads. Offline, with the snapshot incomplete by the hub's
    listing, it was refused as lacking them."""
    from data.provision import local_model
    from tests.test_generate_model_files import bin_index_beside, shard

    shard(snapshot, "none")
    bin_index_beside(snapshot)
    hub_listing(snapshot, "original/params.json")
    assert local_model("org/tiny") == snapshot


def test_offline_a_cached_snapshot_without_a_weights_shard_is_still_refused(snapshot):
    from data.provision import ProvisionError, local_model

    weights = next(snapshot.glob("*.safetensors"))
    index = {"weight_map": {"a": weights.name, "b": "model-00002-of-00002.safetensors"}}
    (snapshot / "model.safetensors.index.json").write_text(json.dumps(index))
    hub_listing(snapshot, "model-00002-of-00002.safetensors")
    with pytest.raises(ProvisionError, match="org/tiny: not a model: no folder "):
        local_model("org/tiny")


def test_judging_a_folder_that_is_no_workspace_looks_up_no_judge(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """`--judge` alone on a mistyped -w: the judge (a hub id may be fetched, gigabytes) was looked up before the
    workspace was opened; the workspace, a check that costs nothing, comes first, as a sampling job's judge comes
    last."""
    looked_up = []
    monkeypatch.setattr(bestofn, "judge_model", looked_up.append)
    argv = ["-w", str(tmp_path / "typo"), "--model", str(tiny_model_dir), "--judge", "org/judge"]
    assert main([*argv, "--engine", "hf"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'typo'}: not a workspace")
    assert looked_up == []


@pytest.mark.parametrize("names", [("org/tiny", "snapshot"), ("snapshot", "org/tiny")])
def test_a_rerun_naming_the_hub_model_the_other_way_samples_nothing_again(
    tmp_path, snapshot, monkeypatch, capsys, names
):
    """Answers stored under the hub id were not found when the rerun named the model by its snapshot folder (or the
    reverse: `generate.job_plan.sampled_by` compared the names exactly): every prompt was sampled again."""
    from generate import __main__ as cli
    from tests.test_generate_rerun_engine import count_loads
    from tests.test_generate_spin_pairs import done_counts

    loads = count_loads(monkeypatch, cli)
    first, again = (str(snapshot) if name == "snapshot" else name for name in names)
    job = ["--max-tokens", "4", "--limit", "2"]
    assert main([*job_args(tmp_path, first), *job]) == 0 and len(loads) == 1
    completions = len(Workspace(tmp_path / "ws").frame("completions"))
    capsys.readouterr()
    assert main([*job_args(tmp_path, again), *job]) == 0
    assert len(loads) == 1 and done_counts(capsys.readouterr().out)["already_sampled"] == "2"
    assert len(Workspace(tmp_path / "ws").frame("completions")) == completions
