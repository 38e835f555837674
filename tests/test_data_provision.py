"""`data provision`'s sample sets are written whole or not at all, and fsynced (data.files.atomic_write): they were
written to a `.part` file and renamed without an fsync, so a crash could leave a truncated file that looks
provisioned."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from data import provision


def test_the_sample_sets_are_written_through_atomic_write(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFLOOP_HOME", str(tmp_path / "home"))

    def pip_download(command, **kwargs):  # the sdist, offline: one small file per sample set
        with tarfile.open(Path(command[command.index("-d") + 1]) / "llamafactory.tar.gz", "w:gz") as archive:
            for name in provision.SAMPLES.values():
                blob = f'[{{"name": "{name}"}}]'.encode()
                info = tarfile.TarInfo(f"llamafactory/data/{name}")
                info.size = len(blob)
                archive.addfile(info, io.BytesIO(blob))
        return subprocess.CompletedProcess(command, 0, "", "")

    written = []
    atomic_write = provision.atomic_write

    def recorded(path, write, *args, **kwargs):
        written.append(Path(path).name)
        return atomic_write(path, write, *args, **kwargs)

    monkeypatch.setattr(provision.subprocess, "run", pip_download)
    monkeypatch.setattr(provision, "atomic_write", recorded)
    paths = provision.provision_samples()
    assert sorted(written) == sorted(provision.SAMPLES.values())
    for kind, name in provision.SAMPLES.items():
        assert paths[kind].read_text() == f'[{{"name": "{name}"}}]'
    assert not list((tmp_path / "home/samples").glob("*.part"))
