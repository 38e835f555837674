"""The data contract of the preference loop: Parquet schemas, the workspace on disk, conversions to TRL's columns,
imports, and provisioning of the embedded default model and sample data. Imports nothing else of ours."""

from data.provision import DEFAULT_MODEL, resolve_model
from data.records import Completion, Label, ModelRecord, Pair, Prompt
from data.schemas import SchemaError
from data.workspace import Workspace, WorkspaceError

__all__ = [
    "DEFAULT_MODEL",
    "Completion",
    "Label",
    "ModelRecord",
    "Pair",
    "Prompt",
    "SchemaError",
    "Workspace",
    "WorkspaceError",
    "resolve_model",
]
