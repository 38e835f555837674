"""A model folder that holds a config but not what an engine loads (a tokenizer, weights, readable safetensors), or
holds a reward model, is one line naming the flag before anything is written: it was transformers' traceback (no
tokenizer) or the engine's error (no weights) once the workspace had been created and --prompts imported; a reward
model sampled (or judged) through a random LM head."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file, save_file

from generate.__main__ import main
from tests.test_generate_hub_model import IN_PROCESS, JUDGE_FITS, job_args, no_loading
from tests.test_generate_spin import spin_args


def shard(folder, lose: str) -> None:
    """The folder's weights as two shards and their index, as a hub model's are saved; then ``lose`` the second
    shard (``file``) or its first weight (``weight``), as an interrupted download or copy would."""
    weights = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    names = sorted(weights)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    index = {"metadata": {}, "weight_map": {name: file for file, half in halves.items() for name in half}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    for file, half in halves.items():
        if lose == "weight" and file.startswith("model-00002"):
            half = half[1:]
        if not (lose == "file" and file.startswith("model-00002")):
            save_file({name: weights[name] for name in half}, str(folder / file), metadata={"format": "pt"})


BROKEN = {
    "no tokenizer": (
        lambda f: [p.unlink() for p in f.glob("tokenizer*")],
        "no tokenizer (none of tokenizer.json, tokenizer_config.json, tokenizer.model, vocab.json): not a whole",
    ),
    "no weights": (
        lambda f: (f / "model.safetensors").unlink(),
        "no weights (no *.safetensors or pytorch_model*.bin): not a whole model",
    ),
    "broken weights": (
        lambda f: (f / "model.safetensors").write_bytes(b"garbage"),
        "model.safetensors does not read (",
    ),
    "a shard missing": (  # vLLM: its own error once the workspace was made; transformers: FileNotFoundError
        lambda f: shard(f, "file"),
        "model-00002-of-00002.safetensors missing (model.safetensors.index.json names it for ",
    ),
    "a weight missing from its shard": (
        lambda f: shard(f, "weight"),
        "model-00002-of-00002.safetensors lacks 1 weight model.safetensors.index.json maps to it, e.g. ",
    ),
    "a reward model": (  # loaded as a causal LM, it got a new, random LM head and answered noise
        lambda f: (f / "config.json").write_text(
            (f / "config.json").read_text().replace("LlamaForCausalLM", "LlamaForSequenceClassification")
        ),
        "a sequence-classification model (LlamaForSequenceClassification: a reward model?), not one that writes",
    ),
}


@pytest.mark.parametrize("broken", BROKEN)
@pytest.mark.parametrize("flag", ["--model", "--arena", "--spin-iter", "--judge"])
def test_a_model_folder_missing_what_loads_is_one_line_before_anything_is_written(
    tmp_path, tiny_model_dir, monkeypatch, capsys, broken, flag
):
    from generate import __main__ as cli
    from generate import arena, bestofn
    from generate.loop import spin

    no_loading(monkeypatch, cli, arena, bestofn, spin)
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    damage, said = BROKEN[broken]
    damage(folder)
    argv = {
        "--model": job_args(tmp_path, folder),
        "--arena": [*job_args(tmp_path, tiny_model_dir), "--arena", f"base,{folder}", IN_PROCESS],
        "--spin-iter": spin_args(tmp_path, folder, "--spin-iter", "1", IN_PROCESS),
        "--judge": [
            *job_args(tmp_path, tiny_model_dir),
            "--n",
            "4",
            "--pairs",
            "best-worst",
            "--judge",
            str(folder),
        ],
    }
    assert main(argv[flag]) == 2
    err = capsys.readouterr().err
    named = "--model" if flag == "--spin-iter" else flag
    assert err.startswith(f"error: {named} {folder}: ") and said in err, err
    assert err.endswith("; nothing written\n") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


def test_the_default_model_is_converted_only_once_the_cheap_checks_pass(tmp_path, monkeypatch, capsys):
    """README: nothing to sample from "exits 2 before it loads a model". On a machine where the default model was
    not converted yet, its one-time conversion (which loads it) ran first, before the --split check."""
    import data.provision

    monkeypatch.setenv("PREFLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(data.provision, "provision_model", lambda *a: pytest.fail("the model was converted"))
    argv = job_args(tmp_path, "smollm2-135m")
    assert main([*argv, "--split", "test"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'ws'}: no prompts of --split test")
    assert not (tmp_path / "ws").exists()


def write_tekken(path) -> None:
    """A tiny tekken.json (Mistral's own tokenizer format): 256 byte tokens, a few merges, 3 special tokens."""
    import base64
    import json

    tokens = [bytes([i]) for i in range(256)] + [b"th", b"he", b"the", b" the"]
    vocab = [
        {"rank": r, "token_bytes": base64.b64encode(t).decode(), "token_str": None}
        for r, t in enumerate(tokens)
    ]
    specials = [
        {"rank": i, "token_str": s, "is_control": True} for i, s in enumerate(["<unk>", "<s>", "</s>"])
    ]
    config = {"pattern": r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+", "num_vocab_tokens": len(tokens),
              "default_vocab_size": len(tokens) + 3, "default_num_special_tokens": 3, "version": "v7"}  # fmt: skip
    path.write_text(json.dumps({"config": config, "vocab": vocab, "special_tokens": specials}))


def test_a_folder_whose_only_tokenizer_is_tekken_json_is_refused_naming_what_is_missing(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """transformers reads a bare tekken.json, but as a tokenizer with no end or padding token (the transformers
    engine failed on padding, a traceback after the workspace was written); the refusal stands, and says so."""
    from transformers import AutoTokenizer

    from generate import __main__ as cli

    no_loading(monkeypatch, cli)
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    for path in folder.glob("tokenizer*"):
        path.unlink()
    write_tekken(folder / "tekken.json")
    tokenizer = AutoTokenizer.from_pretrained(folder)  # it loads, without the tokens a job needs
    assert tokenizer.decode(tokenizer("the theme")["input_ids"]) == "the theme"
    assert tokenizer.pad_token is None and tokenizer.eos_token is None
    assert main(job_args(tmp_path, folder)) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: --model {folder}: no tokenizer (none of tokenizer.json, ")
        and err.count("\n") == 1
    )
    assert (
        "tekken.json alone, Mistral's own format, is not one the engines and training here can use: add "
        in err
    )
    assert "tokenizer.json and tokenizer_config.json): not a whole model; nothing written" in err
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("flag", ["--model", "--arena", "--judge"])
def test_a_model_is_checked_reading_its_config_once(tmp_path, tiny_model_dir, monkeypatch, capsys, flag):
    """The check of a model a job samples from or asks as a judge (`answering_model_config`) reads its config.json
    once, the heads check taking the config the first read parsed (it read the file a second time)."""
    from pathlib import Path

    from generate import __main__ as cli
    from generate import arena, bestofn
    from tests.test_generate_rank_guard import EngineLoaded

    def loads(*args, **kwargs):
        raise EngineLoaded("engine loads")

    for module in (cli, arena, bestofn):
        monkeypatch.setattr(module, "make_engine", loads)
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    reads, read_text = [], Path.read_text

    def counting(path, *args, **kwargs):
        if path.name == "config.json" and path.parent == folder:
            reads.append(path)
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    argv = {
        "--model": job_args(tmp_path, folder),
        "--arena": [*job_args(tmp_path, tiny_model_dir), "--arena", f"base,{folder}", IN_PROCESS],
        "--judge": [
            *job_args(tmp_path, tiny_model_dir),
            "--n",
            "4",
            "--pairs",
            "best-worst",
            "--judge",
            str(folder),
            *JUDGE_FITS,
        ],
    }
    assert main(argv[flag]) == 2
    assert capsys.readouterr().err == "error: engine loads\n"
    assert len(reads) == 1


WRITE_JOBS = {
    "pairs": [],
    "best-worst": [
        "--n",
        "2",
        "--pairs",
        "best-worst",
        "--judge",
        "{model}",
        *JUDGE_FITS,
    ],  # skipped the check
    "arena": ["--arena", "base,{other}", IN_PROCESS],  # skipped it too: each model sampled, then failed
}


def read_only(monkeypatch, path) -> None:
    """Files under ``path`` fail to be created, as on a read-only mount (also to root)."""
    import errno
    import os

    from data import files as data_files

    create_temp = data_files.create_temp

    def refused(directory, suffix="", mode=0o644, dir_fd=None):
        if str(directory).startswith(str(path)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return create_temp(directory, suffix, mode, dir_fd=dir_fd)

    monkeypatch.setattr(data_files, "create_temp", refused)


def count_loads(monkeypatch, engine=None) -> list[int]:
    """A list that grows by one each time a sampler or chat-model judge engine loads (``engine``: the one each
    load gives; None: the real one)."""
    from generate import __main__ as cli
    from generate import arena, bestofn

    loaded = []
    for module in (cli, arena, bestofn):
        make_engine = module.make_engine if engine is None else lambda *a, **k: engine
        monkeypatch.setattr(
            module, "make_engine", lambda *a, _make=make_engine, **k: loaded.append(1) or _make(*a, **k)
        )
    return loaded


@pytest.mark.parametrize("job", WRITE_JOBS)
def test_a_workspace_that_cannot_be_written_is_refused_before_the_model_loads(
    tmp_path, tiny_model_dir, monkeypatch, capsys, job
):
    """A read-only workspace loaded the model and sampled a chunk before its first write failed."""
    from data import Prompt, Workspace
    from data.lineage import find_or_register

    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": f"question {i}"}], source="test") for i in range(2)])
    find_or_register(ws, tiny_model_dir)  # the arena's base: registered by an earlier run, nothing to write
    read_only(monkeypatch, ws.path)
    loaded = count_loads(monkeypatch)
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "4"]
    other = shutil.copytree(tiny_model_dir, tmp_path / "other")
    argv += [arg.format(model=tiny_model_dir, other=other) for arg in WRITE_JOBS[job]]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path}: the workspace is not writable (the file system is read-only): sampling writes its "
        "answers there; nothing sampled\n"
    )
    assert loaded == [] and ws.frame("completions").empty


JUDGING_REFUSED = (
    "the workspace is not writable (the file system is read-only): judging writes its labels there; "
)


def test_a_workspace_that_cannot_be_written_is_refused_before_the_judge_loads(
    label_ws, tiny_model_dir, monkeypatch, capsys
):
    """`--judge` alone on a read-only workspace loaded the judge and judged a chunk before its first labels write
    failed."""
    from tests.test_generate_judge import ScriptedEngine, fair

    read_only(monkeypatch, label_ws.path)
    loaded = count_loads(monkeypatch, ScriptedEngine(fair))
    assert (
        main(["-w", str(label_ws.path), "--judge", str(tiny_model_dir), "--engine", "hf", *JUDGE_FITS]) == 2
    )
    assert capsys.readouterr().err == f"error: {label_ws.path}: {JUDGING_REFUSED}nothing judged\n"
    assert loaded == [] and label_ws.frame("labels").empty


def test_a_best_worst_rerun_with_pairs_left_refuses_a_workspace_it_cannot_write(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """A best-worst rerun with nothing left to sample (no sampler loads, no check) but prompts left to pair loaded
    the judge and ranked a prompt's answers before its first write failed."""
    from data import Prompt, Workspace
    from data.errors import PrefloopError
    from generate import bestofn
    from tests.test_generate_judge import ScriptedEngine, fair

    engine = ScriptedEngine(fair)  # answers "answer 0 ..." and "answer 1 ...": the judge prefers the second
    count_loads(monkeypatch, engine)
    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": f"question {i}"}], source="test") for i in range(2)])
    argv = ["-w", str(ws.path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "4"]
    argv += ["--n", "2", "--pairs", "best-worst", "--judge", str(tiny_model_dir), *JUDGE_FITS]
    pair_best_worst = bestofn.pair_best_worst

    def killed(*args, **kwargs):
        raise PrefloopError("killed after the sampling")

    monkeypatch.setattr(bestofn, "pair_best_worst", killed)
    assert main(argv) == 2  # sampled, nothing paired
    sampled = len(ws.frame("completions"))
    assert sampled == 4 and capsys.readouterr().err == "error: killed after the sampling\n"
    monkeypatch.setattr(bestofn, "pair_best_worst", pair_best_worst)
    read_only(monkeypatch, ws.path)
    loaded = count_loads(monkeypatch, engine)
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: {ws.path}: {JUDGING_REFUSED}nothing judged\n"
    assert loaded == [] and len(ws.frame("completions")) == sampled and ws.frame("pairs").empty


def bin_index_beside(folder) -> None:
    """A pytorch_model.bin.index.json beside the safetensors shards, naming .bin shards not there: a hub repo with
    both formats fetched without its .bin files (`data.provision.HUB_FILES`), as Llama-2's or Mistral-7B's is."""
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    bins = {
        n: f.replace("model-", "pytorch_model-").replace(".safetensors", ".bin")
        for n, f in index["weight_map"].items()
    }
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": bins}))


def test_a_safetensors_model_beside_an_index_of_bin_shards_not_fetched_is_whole(tmp_path, tiny_model_dir):
    """transformers and vLLM read the safetensors shards and never the .bin index: the folder loads, and was
    refused ('pytorch_model-00001-of-00002.bin missing'); a safetensors shard missing is still refused."""
    from data.provision import ProvisionError, check_model_parts

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    shard(folder, "none")
    bin_index_beside(folder)
    check_model_parts(folder, "--model M")
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(
        ProvisionError, match=r"model-00002-of-00002\.safetensors missing \(model\.safetensors"
    ):
        check_model_parts(folder, "--model M")
