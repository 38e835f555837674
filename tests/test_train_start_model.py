"""What `python -m train` and `train score` refuse before anything is written: a start model folder that is not a
whole model or is a reward model (but to `--method rm`), and a resume that would train otherwise than its run did;
and the pairs `train score --limit` leaves."""

from __future__ import annotations

import json
import shutil

import pytest

from data.records import ModelRecord
from tests.test_generate_model_files import shard
from tests.test_train import build_workspace, options
from tests.test_train_out_folder import argv, files, killed_at
from train.__main__ import main


def broken_model(tmp_path, tiny_model_dir, broken: str):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    if broken == "no weights":
        (folder / "model.safetensors").unlink()
    elif broken == "cut-short weights":
        (folder / "model.safetensors").write_bytes((tiny_model_dir / "model.safetensors").read_bytes()[:100])
    elif broken == "no tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (folder / name).unlink()
    elif broken == "bad config":
        (folder / "config.json").write_text("{bad")
    elif broken == "a shard missing":  # an interrupted download of a sharded model
        shard(folder, "file")
    elif broken == "gone":
        shutil.rmtree(folder)
    elif broken == "a reward model":  # what `--method rm` saves: loaded as a causal LM, a random LM head
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(
            json.dumps(config | {"architectures": ["LlamaForSequenceClassification"]})
        )
    return folder


BROKEN = [
    ("gone", "{model}: no config.json there: not a model folder (moved or deleted?)"),
    ("no weights", "{model}: no weights (no *.safetensors or pytorch_model*.bin): not a whole model"),
    ("cut-short weights", "{model}: model.safetensors does not read (SafetensorError: "),
    (
        "no tokenizer",
        "{model}: no tokenizer (none of tokenizer.json, tokenizer_config.json, tokenizer.model, ",
    ),
    ("bad config", "{model}: its config.json does not read (OSError: "),
    (
        "a shard missing",
        "{model}: model-00002-of-00002.safetensors missing (model.safetensors.index.json names it",
    ),
    (
        "a reward model",
        "--model {model}: a sequence-classification model (LlamaForSequenceClassification: a reward model?), not ",
    ),
]


@pytest.mark.parametrize(("broken", "message"), BROKEN)
def test_a_start_model_that_is_not_a_whole_model_is_one_line_and_writes_nothing(
    tmp_path, tiny_model_dir, capsys, broken, message
):
    """A folder without weights used to leave OUT with the run's config and selection (the error came as the
    weights loaded), one without a tokenizer or with cut-short weights a traceback."""
    ws = build_workspace(tmp_path / "ws")
    model = broken_model(tmp_path, tiny_model_dir, broken)
    if broken == "gone":  # the manifest's newest model, its folder deleted since
        ws.append([ModelRecord(str(model), "dpo", round=1)])
    before = files(tmp_path)
    given = "newest" if broken == "gone" else str(model)
    assert main(["-w", str(ws.path), "--model", given, "--max-steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(model=model)) and err.count("\n") == 1
    assert files(tmp_path) == before and len(ws.frame("models")) == (broken == "gone")


@pytest.mark.parametrize(("broken", "message"), BROKEN[1:])
def test_score_registers_no_broken_model(tmp_path, tiny_model_dir, capsys, broken, message):
    """`train score --model FOLDER` registers a folder the manifest lacks as a base: a broken one became the
    workspace's `newest`, which the next `generate --model newest` or `train --model newest` then loaded."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    model = broken_model(tmp_path, tiny_model_dir, broken)
    assert main(["score", "-w", str(ws.path), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(model=model)) and err.count("\n") == 1
    assert len(ws.frame("models")) == 0 and len(ws.frame("scores")) == 0


@pytest.mark.parametrize("gone", ["newest", "its reference"])
def test_score_of_a_manifest_model_whose_folder_is_gone_is_one_line(tmp_path, tiny_model_dir, capsys, gone):
    """`train score` (default `--model newest`) loaded the manifest's folders unchecked: one moved or deleted was
    transformers' "Repo id must be in the form 'repo_name' ..." (its path read as a hub id)."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    model = broken_model(tmp_path, tiny_model_dir, "gone")
    if gone == "newest":
        ws.append([ModelRecord(str(model), "dpo", round=1)])
    else:
        base = ModelRecord(str(model), "base")
        ws.append([base, ModelRecord(str(tiny_model_dir), "dpo", round=1, parent_id=base.id)])
    assert main(["score", "-w", str(ws.path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {model}: no config.json there: not a model folder (moved or deleted?)\n"
    assert len(ws.frame("scores")) == 0


def snapshot(folder):
    """Each file under ``folder`` with its bytes and inode (a file written again, even unchanged, is a new one)."""
    if not folder.exists():
        return None
    return {
        p.relative_to(folder): (p.read_bytes(), p.stat().st_ino) for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize(
    ("method", "earlier"),
    [("dpo", None), ("rm", None), ("sdpo", None), ("dpo", "--resume"), ("dpo", "--overwrite")],
)
def test_a_start_model_refused_as_it_loads_leaves_out_as_it_was(
    tmp_path, tiny_model_dir, capfd, monkeypatch, method, earlier
):
    """Weights that do not match their config.json are refused only as they load: the run had claimed OUT before,
    so a new folder was left with its train_config.json and selection.json.gz, a resumable run's record was
    written again and --overwrite had emptied the earlier run. OUT is now claimed once the model has loaded."""
    ws = build_workspace(tmp_path / "ws", count=4)
    model, out = tmp_path / "model", tmp_path / "out"
    shutil.copytree(tiny_model_dir, model)
    if earlier:  # as a kill after the last checkpoint, then the start model's folder edited
        killed_at(monkeypatch, "train.once.save_model", options(ws, model, out, save_steps=1))
        assert (out / "selection.json.gz").is_file() and (out / "checkpoint-2").is_dir()
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"intermediate_size": 96}))
    before = snapshot(out)
    capfd.readouterr()
    extra = ["--method", method] + ([earlier] if earlier else [])
    assert main(argv(ws, model, out, *extra)) == 2
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {model}: its weights do not match its config.json (6 of another shape, e.g. "
        "model.layers.0.mlp.down_proj.weight [64, 128] in the weights, [64, 96] by the config); refused, as "
        "transformers would re-initialise them at random"
    ]
    assert snapshot(out) == before and len(ws.frame("models")) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lora-r", "4"], "the run there trains with full fine-tuning, not LoRA r=4 (--lora-r)"),
        (
            ["--grad-accum", "2"],
            "the run there trains with an effective batch of 2 (--batch-size x --grad-accum), not 4",
        ),
    ],
)
def test_a_resume_that_would_train_otherwise_is_refused(
    tmp_path, tiny_model_dir, capsys, monkeypatch, extra, message
):
    """The memory plan's options are settled again on a resume, so --lora-r and the batch were not compared with
    the run's: another LoRA rank failed to load the checkpoint (a traceback), another effective batch trained on."""
    ws = build_workspace(tmp_path / "ws")
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.save_model", options(ws, tiny_model_dir, out, save_steps=1, lora_r=0))
    assert json.loads((out / "train_config.json").read_text())["lora_r"] == 0
    before = files(out)
    capsys.readouterr()
    assert main(argv(ws, tiny_model_dir, out, "--resume", *extra)) == 2
    err = capsys.readouterr().err
    assert (
        err == f"error: {out}: {message}; --resume continues it with the options it was started with "
        "(--overwrite starts again)\n"
    )
    assert files(out) == before and len(ws.frame("models")) == 0
    assert (
        main(
            argv(
                ws, tiny_model_dir, out, "--resume", "--lora-r", "0", "--batch-size", "1", "--grad-accum", "2"
            )
        )
        == 0
    )


def test_score_says_how_many_pairs_its_limit_left(tmp_path, tiny_model_dir, capsys):
    """`train score --limit 3` printed `scored 3 of 3 pairs` with 5 unlabelled pairs pending: the 2 it left
    unscored were not said."""
    ws = build_workspace(tmp_path / "ws", count=5, annotators=())
    argv = ["score", "-w", str(ws.path), "--model", str(tiny_model_dir)]
    assert main([*argv, "--limit", "3"]) == 0
    assert capsys.readouterr().out.endswith("scored 3 of 3 pairs; 2 left by --limit\n")
    assert main([*argv, "--limit", "3"]) == 0
    assert capsys.readouterr().out.endswith("scored 2 of 2 pairs; 3 scored before, kept\n")


def test_a_saved_model_refused_as_it_reloads_is_one_line(tmp_path, tiny_model_dir, capfd, monkeypatch):
    """A run killed after saving its model reloads that folder on --resume, to evaluate and report it. The reload
    was a plain from_pretrained: a folder whose config declares a layer its weights lack loaded with that layer
    random, and was reported and registered as the trained model. It is checked as the start model is: one line,
    nothing registered; and neither load draws transformers' progress bar."""
    ws = build_workspace(tmp_path / "ws", count=4)
    out = tmp_path / "out"
    killed_at(monkeypatch, "train.once.write_held_out", options(ws, tiny_model_dir, out))
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(config | {"num_hidden_layers": 3}))
    capfd.readouterr()
    assert main(argv(ws, tiny_model_dir, out, "--resume")) == 2
    err = capfd.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: {out}: its weights do not match its config.json (9 missing, e.g. "
        "model.layers.2.input_layernorm.weight); refused, as transformers would re-initialise them at random"
    ]
    assert "Loading weights" not in err
    assert list(ws.frame("models")["method"]) == ["base"] and not (out / "metrics.json").exists()


def test_a_workspace_that_cannot_be_written_is_refused_before_training(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """A read-only workspace used to train the whole run into OUT and fail only as the model was registered (or
    as the reference log-probs were cached), leaving OUT trained but unregistered."""
    import errno
    import os

    from data import files as data_files

    ws = build_workspace(tmp_path / "ws")
    create_temp = data_files.create_temp

    def read_only(
        directory, suffix="", mode=0o644, dir_fd=None
    ):  # what a read-only mount gives, also to root
        if str(directory).startswith(str(ws.path)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return create_temp(directory, suffix, mode, dir_fd=dir_fd)

    monkeypatch.setattr(data_files, "create_temp", read_only)
    before = files(tmp_path)
    assert main(argv(ws, tiny_model_dir, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {ws.path}: the workspace is not writable (the file system is read-only), and a run caches "
        "reference log-probs and registers its model there; nothing trained (--no-register --no-ref-cache write "
        "nothing to it)\n"
    )
    assert files(tmp_path) == before


def test_a_method_that_caches_no_reference_trains_from_a_read_only_workspace_without_registering(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """--method sft --no-register writes nothing to the workspace, yet was refused as a read-only one: --ref-cache
    (on by default) was taken to write there, which only the DPO family's trainer does."""
    import errno
    import os

    from data import files as data_files

    ws = build_workspace(tmp_path / "ws")
    create_temp = data_files.create_temp

    def read_only(directory, suffix="", mode=0o644, dir_fd=None):
        if str(directory).startswith(str(ws.path)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return create_temp(directory, suffix, mode, dir_fd=dir_fd)

    monkeypatch.setattr(data_files, "create_temp", read_only)
    out = tmp_path / "out"
    assert main(argv(ws, tiny_model_dir, out, "--method", "sft", "--no-register")) == 0
    assert (out / "metrics.json").exists() and ws.frame("models").empty  # trained, not registered
    # the run's id named no model: `--arena ID` said "not a model" of the id the run had just printed
    saved = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("model "))
    assert saved.endswith(
        f"saved to {out.resolve()} (--no-register: not in the workspace's manifest; name it by its folder)"
    )


@pytest.mark.parametrize("new", [True, False])
def test_an_out_folder_that_cannot_be_written_is_refused_before_the_model_loads(
    tmp_path, tiny_model_dir, monkeypatch, capsys, new
):
    """A tester: `--out romnt/sub` on a read-only mount was `[Errno 30] Read-only file system: 'romnt/sub'` once the
    start model had loaded, naming the folder but not the option; it is one line naming --out, before any load."""
    import errno
    import os

    from data import files as data_files
    from train import run as train_run

    ws = build_workspace(tmp_path / "ws")
    romnt = tmp_path / "romnt"
    romnt.mkdir()
    out = romnt / "sub" if new else romnt
    create_temp, mkdir = data_files.create_temp, os.mkdir

    def refused(path):  # what a read-only mount gives, also to root
        if str(path).startswith(str(romnt)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def read_only_temp(directory, suffix="", mode=0o644, dir_fd=None):
        refused(directory)
        return create_temp(directory, suffix, mode, dir_fd=dir_fd)

    def read_only_mkdir(path, *args, **kwargs):
        refused(path)
        return mkdir(path, *args, **kwargs)

    def loaded(*args, **kwargs):
        raise AssertionError("the start model loaded")

    monkeypatch.setattr(data_files, "create_temp", read_only_temp)
    monkeypatch.setattr(os, "mkdir", read_only_mkdir)
    monkeypatch.setattr(train_run, "train_once", loaded)
    before = files(tmp_path)
    assert main(argv(ws, tiny_model_dir, out)) == 2
    where = f"{romnt} is" if new else "the folder is"
    said = f"error: --out {out}: {where} not writable (the file system is read-only); nothing trained\n"
    assert capsys.readouterr().err == said
    assert files(tmp_path) == before


def test_an_unregistered_run_reports_the_parent_and_round_the_manifest_gives_its_start(
    tmp_path, tiny_model_dir
):
    """--no-register writes no entry, yet its report said `round 1, parent None` of a model trained from the
    manifest's round-1 model: the start model is read from the manifest (never written), else named as given."""
    ws = build_workspace(tmp_path / "ws")
    assert main(argv(ws, tiny_model_dir, tmp_path / "first")) == 0
    first = ws.frame("models").query("method == 'dpo'").iloc[0]
    assert main(argv(ws, "newest", tmp_path / "second", "--no-register")) == 0
    assert len(ws.frame("models")) == 2  # the base model and the first run: nothing more written
    assert f"(round 2, parent `{first['id']}`)" in (tmp_path / "second/report.md").read_text()
    other = build_workspace(tmp_path / "other")  # a start model its manifest never held
    assert main(argv(other, tiny_model_dir, tmp_path / "third", "--no-register")) == 0
    report = (tmp_path / "third/report.md").read_text()
    assert (
        f"(round 1, from `{tiny_model_dir}`, not in the manifest)" in report and other.frame("models").empty
    )
