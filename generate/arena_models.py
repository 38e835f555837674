"""Which models ``--arena`` names: ``base`` (the root of the newest model's lineage), ``newest``, a manifest id or
the start of one, a short name, a model folder or a hub id; the checks a round driver makes of them before it
trains (`check_arena_names`, then `fetch_arena_names`); and the registration of ``base`` and of hub models once
every check has passed (`register_base`). Reads only until then: a bad name writes nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from data.errors import PrefloopError
from data.lineage import (
    NEWEST,
    REWARD_MODEL,
    ModelEntry,
    find_model,
    find_or_register,
    get_model,
    manifest_id,
    newest_model,
    same_model,
)
from data.provision import hub_id_of, local_model, looks_like_hub_id, model_config, resolve_model
from data.workspace import Workspace
from generate.context import check_max_tokens

log = logging.getLogger(__name__)

BASE = "base"  # names the root of the newest model's lineage (the default model when the manifest is empty)


def lineage_root(workspace: Workspace, entry: ModelEntry) -> ModelEntry:
    """The first model of ``entry``'s lineage (parent after parent): what ``base`` names."""
    seen = set()
    while entry.parent_id and entry.parent_id not in seen:
        seen.add(entry.id)
        entry = get_model(workspace, entry.parent_id)
    return entry


def resolve_arena(
    workspace: Workspace | None,
    names: tuple[str, ...],
    default_model: str,
    planned: Mapping[str, ModelEntry] | None = None,
) -> list[ModelEntry]:
    """The models ``--arena`` names: ``base``, ``newest``, a manifest id, or a short name or folder; duplicates are
    dropped, and at least two models must remain. Reads only (``workspace`` None: one not created yet, whose
    manifest is empty), so a bad name writes nothing.

    A folder the manifest does not know is compared as it is, not registered (registering it would make it the
    workspace's ``newest``): its entry has the folder as id, method ``external``, round 0. ``base`` on an empty
    manifest is the default model, its entry also named by its folder until `register_base` registers it as the
    workspace's `base` (as `train` and `--spin-iter` do), once every check has passed. ``planned``: the entries
    some names will have (a round driver's ``newest`` and ``base`` once it has trained: `generate.loop.arena`)."""
    models = workspace.frame("models") if workspace else None
    has_policies = models is not None and bool((models["method"] != REWARD_MODEL).any())
    newest = newest_model(workspace) if has_policies else None
    found: list[ModelEntry] = []
    named: dict[str, str] = {}  # model id -> the first name given for it
    for name in names:
        if planned and name in planned:
            entry = planned[name]
        elif name == NEWEST:
            if newest is None:
                raise PrefloopError(
                    f"--arena {','.join(names)}: no model is newest yet: the manifest has no models "
                    "(`python -m train` registers them)"
                )
            entry = newest
        elif name == BASE:
            default = _location(default_model)
            entry = lineage_root(workspace, newest) if newest else _known(workspace, default, "base")
        elif models is not None and (model_id := _manifest_id(models, name)):
            entry = get_model(workspace, model_id)  # its id, or the 8 digits the leaderboard prints
        else:
            try:
                location = _location(name)
            except PrefloopError as exc:  # the name alone was "nosuch: not a model", the flag unnamed
                raise PrefloopError(f"--arena {exc}; nothing written") from exc
            entry = _known(workspace, location, "external")
        same = next((e for e in found if e.id == entry.id or same_model(e.path, entry.path)), None)
        if same is None:
            found.append(entry)
            named[entry.id] = name
        else:  # `runs/x` and `runs/x/`, `base` and its folder, a hub id and its snapshot: compared once
            log.warning(
                "--arena: %s and %s name the same model (%s): compared once", named[same.id], name, same.path
            )
    if len(found) < 2:
        raise PrefloopError(f"--arena {','.join(names)}: names fewer than two distinct models")
    return found


def check_arena_names(workspace: Workspace | None, names: tuple[str, ...]) -> None:
    """What a round driver checks of its ``--arena`` first, before it trains (which models ``base`` and ``newest``
    are, its training decides): no name given twice, and every other name a manifest id, a short name or a model
    folder. A hub id is looked up (it may be fetched) by `fetch_arena_names`, once the loop's own checks pass."""
    if len(set(names)) < len(names):
        raise PrefloopError(f"--arena {','.join(names)}: a model is named twice")
    for name in _other_names(workspace, names):
        if not looks_like_hub_id(name) or Path(name).exists():  # a hub id: looked up by `fetch_arena_names`
            try:
                resolve_model(name)
            except PrefloopError as exc:
                raise PrefloopError(f"--arena {exc}; nothing written") from exc


def fetch_arena_names(
    workspace: Workspace | None, names: tuple[str, ...], max_tokens: int, max_model_len: int | None = None
) -> None:
    """`check_arena_names`' models, and those a manifest id names (by their folder, as the arena loads them),
    checked as every job checks a model (`model_config`: a hub id found in, or fetched into, the hub's cache; the
    config read; a context, ``max_model_len`` where set, that ``max_tokens`` fills, `check_max_tokens`), once the
    checks that cost nothing have passed: not once the loop has trained and the arena's engine loads them."""
    named = [(name, "") for name in _other_names(workspace, names)]
    for path, which in named + _manifest_folders(workspace, names):
        try:
            folder, config = model_config("--arena", path)
            check_max_tokens(max_tokens, folder, f"--arena {path}", max_model_len, config)
        except PrefloopError as exc:
            raise PrefloopError(f"{exc}{which}; nothing written") from exc


def _other_names(workspace: Workspace | None, names: tuple[str, ...]) -> list[str]:
    """The ``--arena`` names that are neither ``base``, ``newest`` nor a manifest id (or its start)."""
    models = workspace.frame("models") if workspace else None
    ids = {name for name in names if models is not None and _manifest_id(models, name)}
    return sorted(set(names) - {BASE, NEWEST} - ids)


def _manifest_folders(workspace: Workspace | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The folder of each manifest model an ``--arena`` name gives the id (or its start) of, with the words that name
    it by id, as `generate.arena.check_arena_files` does."""
    models = workspace.frame("models") if workspace else None
    ids = {i for name in names if models is not None and (i := _manifest_id(models, name))}
    entries = [get_model(workspace, i) for i in sorted(ids)]
    return [(e.path, f" (the manifest's model {e.id}, round {e.round})") for e in entries]


def _manifest_id(models, name: str) -> str | None:
    """`manifest_id`, its refusal (the start of two ids) naming the flag."""
    try:
        return manifest_id(models, name)
    except PrefloopError as exc:
        raise PrefloopError(f"--arena {exc}; nothing written") from None


def _location(name: str) -> str:
    """Where a model named by ``name`` loads from: its absolute folder, or a hub id as given (`resolve_model` passes
    one through; made absolute it named a folder here that is not there, and the engine refused it); a hub id is
    found in (or fetched into) the hub's cache by `check_arena_files`, before any model answers."""
    found = resolve_model(name)
    return str(Path(found).resolve()) if Path(found).is_dir() else found


def _known(workspace: Workspace | None, path: str, method: str) -> ModelEntry:
    """The manifest's entry of the folder ``path``, else one named by the folder (round 0, ``method``)."""
    entry = find_model(workspace, path) if workspace else None
    return entry or ModelEntry(path, path, 0, method, None)


def register_base(workspace: Workspace, models: list[ModelEntry]) -> list[ModelEntry]:
    """``models`` with a ``base`` not in the manifest yet (`resolve_arena`) registered there, and any other model
    the manifest does not hold that a hub id names, named by its snapshot folder: the one name `train` registers a
    hub model by (`find_or_register`). Once every check has passed: the snapshot is in the hub's cache."""
    return [_registered(workspace, m) if m.id == m.path else m for m in models]


def _registered(workspace: Workspace, entry: ModelEntry) -> ModelEntry:
    if entry.method == BASE:
        return find_or_register(workspace, entry.path)
    if hub_id_of(entry.path) != entry.path:
        return entry
    folder = str(local_model(entry.path))
    return ModelEntry(folder, folder, entry.round, entry.method, None)
