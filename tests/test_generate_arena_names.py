"""`generate --arena` names on tiny offline models: a folder whose name holds a comma, spaces or non-ASCII
characters, one model named twice, and a model that does not load (one line naming it)."""

from __future__ import annotations

import logging
import re
import shlex
import shutil

import pytest

from data import Workspace
from data.config import ConfigError
from data.config_values import coerce_list
from data.errors import PrefloopError
from generate.__main__ import main
from tests.test_generate_arena import arena_args, write_prompts
from tests.test_train_hub_model import hub_cache  # noqa: F401 - a fixture


def test_a_value_naming_an_existing_folder_is_not_split_at_its_comma(tmp_path):
    (tmp_path / "a,b").mkdir()
    folder = str(tmp_path / "a,b")
    assert coerce_list("--arena", ["base,newest", folder], str, keep_paths=True) == (
        "base",
        "newest",
        folder,
    )
    assert coerce_list("--arena", [f"base,{folder}"], str, keep_paths=True)[-1] == "b"  # in a list: split
    with pytest.raises(ConfigError, match="names nothing"):
        coerce_list("--arena", [","], str, keep_paths=True)


def test_one_folder_named_with_a_comma_is_one_model_as_the_refusal_says(tmp_path, capsys):
    """`--arena 'runs/a,b'` alone is one model; the refusal joined the names at commas ('--arena runs/a,b: one
    model'), which reads as two: it quotes them as --arena takes them."""
    (tmp_path / "runs" / "a,b").mkdir(parents=True)
    folder = str(tmp_path / "runs" / "a,b")
    assert main(["-w", str(tmp_path / "ws"), "--arena", folder]) == 2
    assert (
        capsys.readouterr().err == f"error: --arena '{folder}': one model; --arena needs two models or more\n"
    )
    assert not (tmp_path / "ws").exists()


def test_folders_named_with_a_comma_spaces_and_unicode_enter_the_arena(tmp_path, tiny_model_dir, capsys):
    """`--arena base 'runs/a,b'` split the folder at its comma ('runs/a: not a model'): no way to name it. A value
    that names an existing folder as a whole is one model now; spaces and non-ASCII characters always were. The
    summary's `arena_models` (which a loop prints too) joined the names at commas; it quotes them as --arena
    takes them, so it reads back as the models, one a value."""
    folders = [tmp_path / name for name in ("a,b", "my model", "模型-é")]
    for folder in folders:
        shutil.copytree(tiny_model_dir, folder)
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    argv = arena_args(ws, [tiny_model_dir], prompts)
    at = argv.index("--arena")
    argv[at + 1 : at + 2] = ["base", *map(str, folders)]
    assert main(argv) == 0
    models = set(Workspace(ws).frame("completions")["model"])
    assert {str(f.resolve()) for f in folders} <= models and len(models) == 4
    shown = re.search(r"arena_models (.*), arena_new_completions ", capsys.readouterr().out).group(1)
    base = Workspace(ws).frame("models")["id"].iloc[0]
    assert shlex.split(shown) == [base, *map(str, folders)]
    assert f"'{folders[0]}'" in shown  # the comma's folder quoted, as one value reads


def test_one_model_named_twice_among_others_is_compared_once_and_said(tmp_path, tiny_model_dir, caplog):
    """`--arena base,M,M/` compared M once and said nothing of the name it dropped."""
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 1)
    names = f"base,{other},{other}/"
    with caplog.at_level(logging.WARNING, logger="generate.arena_models"):
        assert main(arena_args(ws, [tiny_model_dir], prompts, names=names)) == 0
    assert (
        f"--arena: {other} and {other}/ name the same model ({other.resolve()}): compared once" in caplog.text
    )
    assert Workspace(ws).frame("completions")["model"].nunique() == 2


def test_a_manifest_model_is_named_in_the_arenas_lines_as_the_leaderboard_names_it(
    tmp_path, tiny_model_dir, caplog
):
    """`--model M --arena base,COPY` (COPY: M's weights, so every answer alike) said `model c67d50385c104212
    answers ...` and `same text (c67d50385c104212 and COPY ...)`: a 16-digit id the user never typed, where the
    board names the model `base r0 c67d5038 (M)`."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    with caplog.at_level(logging.INFO):
        assert main(arena_args(ws, [tiny_model_dir], prompts, names=f"base,{copy}")) == 0
    [base] = Workspace(ws).frame("models")["id"]
    name = f"base r0 {base[:8]} ({tiny_model_dir.name})"
    said = [r.getMessage() for r in caplog.records if r.name.startswith("generate.arena")]
    assert f"arena: model {name} answered 2 of the 2 train prompts" in said
    assert any(f"were the same text ({name} and {copy.resolve()} in 2 of their 2" in line for line in said)
    assert any(f"holds an answer of {name}, {copy.resolve()}: each was" in line for line in said)
    assert not any(base in line for line in said)


def test_a_model_that_does_not_load_is_one_line_and_writes_nothing(tmp_path, tiny_model_dir, capsys):
    """A folder with a broken weights file was safetensors' traceback after the models before it had sampled and
    written their answers. Its files are checked before anything is written: one line naming it."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    assert main(arena_args(ws, [tiny_model_dir, broken], prompts)) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: --arena {broken.resolve()}: model.safetensors does not read (SafetensorError"
    )
    assert err.endswith("; nothing written\n") and err.count("\n") == 1
    assert not ws.exists()


def test_a_model_whose_engine_fails_to_load_is_one_line_naming_it(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    """What the file check cannot see (the engine's own refusal) is one line naming the model too, not a
    traceback, and says the models before it keep their answers."""
    from generate import arena

    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    make_engine = arena.make_engine

    def refuse_other(engine, path, options):
        if path == str(other.resolve()):
            raise ValueError("unsupported architecture\nmore detail")
        return make_engine(engine, path, options)

    monkeypatch.setattr(arena, "make_engine", refuse_other)
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    assert main(arena_args(ws, [tiny_model_dir, other], prompts)) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the first model's progress bars
    assert err == (
        f"error: --arena: model {other.resolve()} did not load (ValueError: unsupported architecture); the models "
        "before it keep their answers, a rerun samples what is missing"
    )


def test_a_manifest_model_whose_folder_is_gone_is_one_line_and_writes_nothing(
    tmp_path, tiny_model_dir, capsys
):
    """A bad-input pass: the manifest's newest model, its folder since deleted, passed the file check (only folders
    that exist were read), so the model before it sampled and wrote its answers; then the engine refused the path
    as a malformed hub id ('Repo id must be in the form ...'). It is found missing first, named by its id."""
    from data.records import ModelRecord

    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    gone = ModelRecord(str(tmp_path / "runs" / "dpo-1"), "base")
    Workspace.init(ws).append([gone])
    before = sorted(p.relative_to(ws) for p in ws.rglob("*"))
    assert main(arena_args(ws, [tiny_model_dir], prompts, names=f"{tiny_model_dir},newest")) == 2
    assert capsys.readouterr().err == (
        f"error: --arena {gone.path}: not a model (expected a folder with config.json, or one of: smollm2-135m) "
        f"(the manifest's model {gone.id}, round 0); nothing written\n"
    )
    assert sorted(p.relative_to(ws) for p in ws.rglob("*")) == before


@pytest.mark.usefixtures("hub_cache")  # the hub's cache, offline, holding org/tiny
def test_a_hub_id_neither_cached_nor_on_the_hub_is_one_line_and_writes_nothing(
    tmp_path, tiny_model_dir, capsys
):
    """A bad-input pass: `--arena M,org/missing` offline sampled M into a new workspace, then the engine failed on
    the hub id. A hub id is found in the hub's cache (or fetched) with the folders' check, before anything is
    written; one that is there passes it."""
    from generate.arena import check_arena_files
    from generate.arena_models import resolve_arena

    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    assert main(arena_args(ws, [tiny_model_dir], prompts, names=f"{tiny_model_dir},org/missing")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --arena org/missing: not a model: no folder ")
    assert err.endswith("); nothing written\n") and err.count("\n") == 1
    assert not ws.exists()
    check_arena_files(resolve_arena(None, (str(tiny_model_dir), "org/tiny"), str(tiny_model_dir)))


@pytest.mark.usefixtures("hub_cache")  # the hub's cache holds org/tiny (offline)
def test_a_hub_id_enters_the_arena_as_the_hub_id_not_a_folder_here(tmp_path, tiny_model_dir, monkeypatch):
    """`--arena base,org/model` (a hub id, from the hub or its local cache) was made an absolute folder under the
    current one, which does not exist: the engine refused it. It is passed on as given, as `generate --model` does;
    a folder is still made absolute."""
    from generate.arena_models import resolve_arena

    monkeypatch.chdir(tmp_path)
    models = resolve_arena(None, ("base", "org/tiny"), str(tiny_model_dir))
    assert [m.path for m in models] == [str(tiny_model_dir.resolve()), "org/tiny"]
    models = resolve_arena(None, ("base", str(tiny_model_dir)), "org/tiny")
    assert [(m.path, m.method) for m in models] == [
        ("org/tiny", "base"),
        (str(tiny_model_dir.resolve()), "external"),
    ]


def test_a_model_is_named_by_the_start_of_its_id_as_the_leaderboard_prints_it(tmp_path, capsys):
    """The leaderboard and the lineage lines print a model's id by its first 8 digits; --arena took the whole id
    only ('1a2b3c4d: not a model'). The start of an id, 8 digits or more, names it; the start of two is one line
    naming both; 7 digits name no id."""
    from data.records import ModelRecord
    from generate.arena_models import check_arena_names, resolve_arena

    ws = Workspace.init(tmp_path / "ws")
    models = [
        ModelRecord(str(tmp_path / name), "dpo", 1, id=model_id)
        for name, model_id in (
            ("a", "1a2b3c4d00000000"),
            ("b", "1a2b3c4d11111111"),
            ("c", "99887766aaaaaaaa"),
        )
    ]
    ws.append(models)
    names = ("1a2b3c4d0", "99887766")
    check_arena_names(ws, names)
    assert [e.id for e in resolve_arena(ws, names, "unused")] == ["1a2b3c4d00000000", "99887766aaaaaaaa"]
    with pytest.raises(
        PrefloopError,
        match="^--arena 1a2b3c4d: the start of model ids 1a2b3c4d00000000, 1a2b3c4d11111111; give more of one; nothing written$",
    ):
        resolve_arena(ws, ("1a2b3c4d", "99887766"), "unused")
    with pytest.raises(PrefloopError, match="^--arena 9988776: not a model"):
        resolve_arena(ws, ("9988776", "99887766"), "unused")
