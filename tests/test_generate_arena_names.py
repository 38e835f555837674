"""`generate --arena` names on tiny offline models: a folder whose name holds a comma, spaces or non-ASCII
characters, one model named twice, and a model that does not load (one line naming it)."""

from __future__ import annotations

import logging
import shutil

import pytest

from data import Workspace
from data.config import ConfigError, _coerce_list
from generate.__main__ import main
from tests.test_generate_arena import arena_args, write_prompts
from tests.test_train_hub_model import hub_cache  # noqa: F401 (a fixture)


def test_a_value_naming_an_existing_folder_is_not_split_at_its_comma(tmp_path):
    (tmp_path / "a,b").mkdir()
    folder = str(tmp_path / "a,b")
    assert _coerce_list("--arena", ["base,newest", folder], str, keep_paths=True) == (
        "base",
        "newest",
        folder,
    )
    assert _coerce_list("--arena", [f"base,{folder}"], str, keep_paths=True)[-1] == "b"  # in a list: split
    with pytest.raises(ConfigError, match="names nothing"):
        _coerce_list("--arena", [","], str, keep_paths=True)


def test_folders_named_with_a_comma_spaces_and_unicode_enter_the_arena(tmp_path, tiny_model_dir):
    """`--arena base 'runs/a,b'` split the folder at its comma ('runs/a: not a model'): no way to name it. A value
    that names an existing folder as a whole is one model now; spaces and non-ASCII characters always were."""
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


def test_one_model_named_twice_among_others_is_compared_once_and_said(tmp_path, tiny_model_dir, caplog):
    """`--arena base,M,M/` compared M once and said nothing of the name it dropped."""
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 1)
    names = f"base,{other},{other}/"
    with caplog.at_level(logging.WARNING, logger="generate.arena"):
        assert main(arena_args(ws, [tiny_model_dir], prompts, names=names)) == 0
    assert (
        f"--arena: {other} and {other}/ name the same model ({other.resolve()}): compared once" in caplog.text
    )
    assert Workspace(ws).frame("completions")["model"].nunique() == 2


def test_a_model_that_does_not_load_is_one_line_and_writes_nothing(tmp_path, tiny_model_dir, capsys):
    """A folder with a broken weights file was safetensors' traceback after the models before it had sampled and
    written their answers. Its files are checked before anything is written: one line naming it."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    ws, prompts = tmp_path / "ws", write_prompts(tmp_path / "p.json", 2)
    assert main(arena_args(ws, [tiny_model_dir, broken], prompts)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --arena: model {broken.resolve()} does not load (SafetensorError")
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


@pytest.mark.usefixtures("hub_cache")  # the hub's cache holds org/tiny (offline)
def test_a_hub_id_enters_the_arena_as_the_hub_id_not_a_folder_here(tmp_path, tiny_model_dir, monkeypatch):
    """`--arena base,org/model` (a hub id, from the hub or its local cache) was made an absolute folder under the
    current one, which does not exist: the engine refused it. It is passed on as given, as `generate --model` does;
    a folder is still made absolute."""
    from generate.arena import resolve_arena

    monkeypatch.chdir(tmp_path)
    models = resolve_arena(None, ("base", "org/tiny"), str(tiny_model_dir))
    assert [m.path for m in models] == [str(tiny_model_dir.resolve()), "org/tiny"]
    models = resolve_arena(None, ("base", str(tiny_model_dir)), "org/tiny")
    assert [(m.path, m.method) for m in models] == [
        ("org/tiny", "base"),
        (str(tiny_model_dir.resolve()), "external"),
    ]
