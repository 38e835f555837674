"""`data.saved_folders`: a folder a library writes by path is made anew, checked for links and moved into place
by rename, so a link planted at a name in the target is replaced, never written through."""

from __future__ import annotations

import os

import pytest

from data.files import NotAFileError
from data.saved_folders import fresh_folder, move_files, refuse_links


def test_fresh_folder_replaces_a_left_folder_and_refuses_a_link(tmp_path):
    left = tmp_path / "saving"
    left.mkdir()
    (left / "half.bin").write_bytes(b"x")
    assert not any(fresh_folder(left).iterdir())
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep").write_text("k")
    (tmp_path / "linked").symlink_to(tmp_path / "outside")
    with pytest.raises(NotAFileError, match=f"^{tmp_path / 'linked'}: a symlink"):
        fresh_folder(tmp_path / "linked")
    assert (tmp_path / "outside" / "keep").read_text() == "k"


@pytest.mark.parametrize("where", ["top", "below"])
def test_refuse_links_names_the_first_link_at_any_depth(tmp_path, where):
    (tmp_path / "f" / "sub").mkdir(parents=True)
    (tmp_path / "f" / "sub" / "ok.json").write_text("{}")
    link = tmp_path / "f" / ("sub" if where == "below" else "") / "config.json"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NotAFileError, match=f"^{link}: a symlink"):
        refuse_links(tmp_path / "f")


def test_move_files_replaces_links_at_the_target_never_writes_through_them(tmp_path):
    source, target, outside = tmp_path / "s", tmp_path / "t", tmp_path / "outside.json"
    source.mkdir()
    target.mkdir()
    outside.write_text("theirs")
    (source / "config.json").write_text("ours")
    (target / "config.json").symlink_to(outside)
    assert move_files(source, target) == ["config.json"]
    assert outside.read_text() == "theirs" and not (target / "config.json").is_symlink()
    assert (target / "config.json").read_text() == "ours" and not source.exists()


def test_move_files_moves_nothing_when_the_source_holds_a_link(tmp_path):
    source, target = tmp_path / "s", tmp_path / "t"
    source.mkdir()
    target.mkdir()
    (source / "a.json").write_text("a")
    os.symlink(tmp_path / "elsewhere", source / "b.json")
    with pytest.raises(NotAFileError, match=f"^{source / 'b.json'}: a symlink"):
        move_files(source, target)
    assert not any(target.iterdir())
