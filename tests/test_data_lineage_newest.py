"""`newest` is the workspace's most recent training: a folder `train score --model FOLDER` registered (as a base)
after a training became the newest, so the next `generate --model newest` sampled from it."""

from __future__ import annotations

import pytest

from data import Workspace
from data.lineage import newest_model
from data.records import ModelRecord
from data.workspace import WorkspaceError


def test_a_base_registered_after_a_training_does_not_become_the_newest(tmp_path):
    workspace = Workspace.init(tmp_path / "ws")
    with pytest.raises(WorkspaceError, match="the manifest has no models yet"):
        newest_model(workspace)
    base = ModelRecord("/m/base", "base", 0)
    workspace.append([base])
    assert newest_model(workspace).id == base.id  # no training yet: the base
    trained = ModelRecord("/m/dpo-1", "dpo", 1, base.id)
    workspace.append([trained])
    workspace.append([ModelRecord("/m/scored", "base", 0), ModelRecord("/m/rm", "rm", 1, base.id)])
    assert newest_model(workspace).id == trained.id
    later = ModelRecord("/m/dpo-2", "dpo", 2, trained.id)
    workspace.append([later])
    assert newest_model(workspace).id == later.id
