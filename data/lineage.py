"""The model manifest as a lineage: which model is newest, a model's entry (registered as `base` if new), and
one readable summary per model (round → data → model → metrics) for `python -m data stats`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from data.annotators import HEX_DIGITS, PREFIXES, RM_PREFIX, SHORT_ID, same_name
from data.config_values import expand_home
from data.errors import counted
from data.files import NotAFileError, open_regular
from data.import_records import within_depth
from data.intervals import figure_text
from data.provision import check_name_printable, classification_heads, hub_id_of, local_model
from data.records import ModelRecord
from data.workspace import Workspace, WorkspaceError

NEWEST = (
    "newest"  # model name meaning the manifest's most recent training, else its newest base (`newest_model`)
)
REWARD_MODEL = (
    "rm"  # the manifest method of reward models (`train --method rm`); `rm` also names the newest one
)
# metric -> short name in the lineage lines; the first found are shown
HEADLINE = {
    "reference_chosen_logp": "chosen logp before",
    "chosen_logp": "after",
    "reward_margin": "margin",
    "reward_accuracy": "accuracy",
    "model_prefers_chosen": "prefers chosen",
    "reward_separation": "kto separation",
    "sign_accuracy": "sign accuracy",
    # sft: its held-out answers' log p (summed over their tokens) before -> after, the share made more likely
    "reference_answer_logp": "answer logp before",
    "answer_logp": "after",
    "answers_more_likely": "answers more likely",
    "rm_accuracy_before": "rm accuracy before",
    "rm_accuracy": "rm accuracy",
}

# The held-out reward figures: β·log-ratio against the start model, DPO's implicit reward
REWARD_FIGURES = ("reward_margin", "reward_accuracy")
# The methods whose loss reads no reference model (train.methods.Method.reference_free; a test checks they agree):
# their held-out reward figures are DPO's implicit reward, which they do not define, not their own objective's.
REFERENCE_FREE = ("simpo", "cpo", "orpo")


def reward_name(method: str) -> str:
    """What ``method``'s held-out reward figures (`REWARD_FIGURES`) are, as train's report and `data stats` name
    them: the implicit reward, which for a reference-free method is DPO's, not its objective."""
    if method in REFERENCE_FREE:
        return f"DPO implicit reward (against the start model), not {method}'s objective:"
    return "implicit reward"


@dataclass(frozen=True)
class ModelEntry:
    id: str
    path: str
    round: int
    method: str
    parent_id: str | None


def _entry(row) -> ModelEntry:
    parent = None if pd.isna(row["parent_id"]) else row["parent_id"]
    return ModelEntry(row["id"], row["path"], int(row["round"]), row["method"], parent)


def newest_model(workspace: Workspace) -> ModelEntry:
    """The most recently trained policy (what the next round samples from and trains), or, where none was trained,
    the most recently registered base; reward models never. A base registered after a training (a folder `train
    score --model` or the SPIN loop met first) does not become the newest: the loop goes on from its training."""
    models = workspace.frame("models")
    models = models[models["method"] != REWARD_MODEL]
    if (models["method"] != "base").any():
        models = models[models["method"] != "base"]
    if not len(models):
        raise WorkspaceError(
            f"{workspace.path}: the manifest has no models yet (`python -m train` registers them)"
        )
    return _entry(models.sort_values(["created_at", "id"], kind="stable").iloc[-1])


def is_reward_model_name(name: str) -> bool:
    """``rm`` (the newest reward model), ``rm:<model id>`` (one of them; the annotator name of its labels) or
    ``rm:FOLDER`` (a reward model's folder outside the manifest, such as another workspace's)."""
    return name == REWARD_MODEL or name.startswith(RM_PREFIX)


def reward_model_entry(name: str, workspace: Workspace | None) -> ModelEntry:
    """The reward model ``name`` names (see `is_reward_model_name`): the manifest's (``workspace`` None: a
    workspace not created yet, whose manifest is empty) by its id or the start of one (8 digits or more, as the
    leaderboard prints ids: `manifest_id`), else the folder of ``rm:FOLDER`` (`reward_folder`: here, else in the
    workspace, as ``--arena runs/x`` reads), checked to hold a reward model (`reward_model_folder`) and named by its
    absolute path, which is then its id (its labels' annotator is ``rm:FOLDER``). A folder the manifest holds is its
    manifest entry."""
    key = None if name == REWARD_MODEL else name[len(RM_PREFIX) :]
    folder = reward_folder(key, workspace) if key else None
    if workspace is not None:
        models = workspace.frame("models")
        models = models[models["method"] == REWARD_MODEL]
        if key is not None:
            named = models["id"] == (_reward_model_id(models, key, workspace) or key)
            models = models[named | (models["path"] == str(folder))] if folder else models[named]
        if len(models):
            return _entry(models.sort_values(["created_at", "id"], kind="stable").iloc[-1])
    if folder is not None:
        # its labels' annotator, rm:FOLDER, printed by stats, the leaderboard and the admin tab
        check_name_printable(name, f"{RM_PREFIX}{folder}", "the folder", "rename the folder")
        reward_model_folder(folder)
        return ModelEntry(str(folder), str(folder), 0, REWARD_MODEL, None)
    missing = f"no reward model {name!r}"
    where = (
        f"{workspace.path}: {missing} in the manifest"
        if workspace
        else f"{missing}: the workspace does not exist yet"
    )
    # a mistyped rm:FOLDER: say that no such folder is there (nor in the workspace), not only "use rm:FOLDER"
    inside = workspace is not None and not expand_home(Path(key or "")).is_absolute()
    no_folder = f", and {key} is no folder{' here or in the workspace' * inside}" if key else ""
    if key and _reads_as_hub_id(key, workspace):
        raise WorkspaceError(
            f"{where}{no_folder}; {key} reads as a hub id, which rm: does not take (a reward model is the "
            "manifest's or a local folder): download it to a folder and give rm:FOLDER"
        )
    raise WorkspaceError(
        f"{where}{no_folder} (train one: `python -m train --method rm`; another workspace's: rm:FOLDER)"
    )


def _reads_as_hub_id(key: str, workspace: Workspace | None) -> bool:
    """``rm:KEY`` that names no folder reads as a hub id (``org/model``) where its first part is no folder either,
    here or in the workspace: ``rm:runs/rm-typo`` is a mistyped run folder, ``rm:OpenAssistant/reward-model`` a
    hub model, which was refused as "no folder" without saying that rm: takes none."""
    if hub_id_of(key) != key:
        return False
    org = Path(key).parent
    return not org.is_dir() and not (workspace is not None and (workspace.path / org).is_dir())


def _reward_model_id(models: pd.DataFrame, key: str, workspace: Workspace) -> str | None:
    """`manifest_id` of ``rm:KEY`` among the reward ``models``, its refusal (the start of two ids) naming the
    workspace and ``rm:KEY`` as the other refusals do: it named KEY alone, neither the judge nor where."""
    try:
        return manifest_id(models, key)
    except WorkspaceError as exc:
        raise WorkspaceError(f"{workspace.path}: {RM_PREFIX}{exc}") from None


def reward_folder(key: str, workspace: Workspace | None) -> Path | None:
    """The folder ``rm:KEY`` names, resolved: ``KEY`` from the current folder, else one relative to the workspace
    (``rm:runs/rm-1`` is ``WS/runs/rm-1``, where `train` writes its runs, as an ``--arena`` or ``--model`` name
    reads: `data.provision.in_workspace`); None where neither is a folder."""
    path = expand_home(Path(key))
    if path.is_dir():
        return path.resolve()
    there = workspace.path / path if workspace is not None else None
    return there.resolve() if there is not None and there.is_dir() else None


def reward_model_folder(folder: Path) -> None:
    """``folder`` holds a reward model: a sequence-classification head with one output (what `train --method rm`
    saves), by its config.json; a causal LM would be scored through a new, random head."""
    path = folder / "config.json"
    try:
        with open_regular(path) as handle:
            config = within_depth(json.load, handle)
    except FileNotFoundError:  # said as the other refusals of rm:FOLDER are, naming the flag's value
        raise WorkspaceError(f"rm:{folder}: not a reward model (no config.json there)") from None
    except (OSError, NotAFileError, ValueError) as exc:
        raise WorkspaceError(
            f"rm:{folder}: not a reward model (its config.json does not read: {exc})"
        ) from None
    config = config if isinstance(config, dict) else {}
    if not classification_heads(config) or len(config.get("id2label") or {0: "", 1: ""}) != 1:
        raise WorkspaceError(
            f"rm:{folder}: not a reward model (its config.json names no sequence-classification head with one "
            "output; `python -m train --method rm` trains one)"
        )


def manifest_id(models: pd.DataFrame, name: str) -> str | None:
    """The manifest id ``name`` gives: an id of ``models``, or the start of one, 8 digits or more (as the
    leaderboard and the lineage lines print them); None where no id is or starts so. The start of two ids is one
    line naming both."""
    ids = set(models["id"])
    if name in ids:
        return name
    if len(name) < SHORT_ID or name.strip(HEX_DIGITS):
        return None
    matches = sorted(i for i in ids if i.startswith(name))
    if len(matches) > 1:
        raise WorkspaceError(f"{name}: the start of model ids {', '.join(matches)}; give more of one")
    return matches[0] if matches else None


def get_model(workspace: Workspace, model_id: str) -> ModelEntry:
    models = workspace.frame("models")
    rows = models[models["id"] == model_id]
    if not len(rows):
        raise WorkspaceError(f"{workspace.path}: no model {model_id} in the manifest")
    return _entry(rows.iloc[0])


def same_model(a: str | Path, b: str | Path) -> bool:
    """``a`` and ``b`` name one model: the same location, or a hub id and a snapshot folder of it in the hub's cache
    (`data.provision.hub_id_of`; two snapshots of one hub id are two revisions, two models). A workspace registers
    a hub model by its snapshot folder (as `train` does); one written before may hold the hub id."""
    a, b = str(a), str(b)
    if a == b:
        return True
    hub = hub_id_of(a)
    return hub is not None and hub == hub_id_of(b) and hub in (a, b)


def same_model_names(names: pd.Series, model: str | Path) -> list[str]:
    """The distinct ``names`` (a model column: completions' ``model``) that name ``model`` (`same_model`: a hub id
    and its snapshot folder are one), asked once a name, not once a row (a workspace may hold a million rows)."""
    return [name for name in names.unique() if same_model(name, model)]


def same_machine(a: str, b: str) -> bool:
    """``a`` and ``b`` name one machine labeller: equal as `data.annotators.same_name` compares, or one prefix
    (``judge:``, ``rm:``) before two names of one model (`same_model`: ``judge:org/x`` and ``judge:`` its snapshot
    folder in the hub's cache, two names an LLM judge writes its labels under as it is named)."""
    a, b = same_name(a), same_name(b)
    if a == b:
        return True
    prefix = next((p for p in PREFIXES if a.startswith(p)), None)
    return prefix is not None and b.startswith(prefix) and same_model(a[len(prefix) :], b[len(prefix) :])


def _trainings(models: pd.DataFrame, paths: set[str]) -> pd.DataFrame:
    """The manifest entries of ``paths`` that a training wrote (not `base`: a trained model is registered once its
    folder is written), oldest first."""
    trained = models[(models["method"] != "base") & models["path"].isin(paths)]
    return trained.sort_values(["created_at", "id"], kind="stable")


def retraining(models: pd.DataFrame, path: str) -> str | None:
    """The manifest id of the newest training of the folder ``path`` where it was trained more than once, else
    None: an answer its new weights write takes it into its id (`generate.answer_records.as_completion`), so an answer
    they write as the old weights did is stored as theirs, not dropped as the old one already stored."""
    trained = _trainings(models, {str(path)})
    return str(trained["id"].iloc[-1]) if len(trained) > 1 else None


def stale_answers(completions: pd.DataFrame, models: pd.DataFrame) -> pd.Series:
    """Which ``completions`` a trained model folder wrote before its newest training: the folder was trained again
    since (`train --overwrite`, or removed and trained again), so they are the old weights' answers, not its own."""
    newest = _trainings(models, set(completions["model"])).groupby("path")["created_at"].max()
    if not len(newest):
        return pd.Series(False, index=completions.index, dtype=bool)
    trained = completions["model"].map(newest)
    return (trained.notna() & (completions["created_at"] < trained)).astype(bool)


def answer_versions(completions: pd.DataFrame, models: pd.DataFrame) -> pd.Series:
    """Each completion's model label, where it is a `stale_answers` one the manifest id of the training of its
    folder that wrote it (the newest registered before it), or ``FOLDER (before <its first training's id>)`` if the
    folder wrote it before any: the leaderboard's row of the weights that answered, not of the folder's newest."""
    labels = completions["model"].astype(object).copy()
    stale = stale_answers(completions, models)
    if not stale.any():
        return labels
    answers = completions.loc[stale, ["model", "created_at"]].reset_index().sort_values("created_at")
    entries = models[models["path"].isin(set(answers["model"]))].sort_values(
        ["created_at", "id"], kind="stable"
    )
    versions = pd.merge_asof(
        answers,
        entries[["path", "created_at", "id"]].rename(columns={"path": "model"}),
        on="created_at",
        by="model",
    )  # the newest entry of the folder registered at or before each answer
    first = _trainings(entries, set(answers["model"])).groupby("path")["id"].first()
    unknown = versions["model"] + " (before " + versions["model"].map(first).str[:8] + ")"
    labels.loc[versions["index"].to_numpy()] = versions["id"].fillna(unknown).to_numpy()
    return labels


def find_model(workspace: Workspace, path: str | Path) -> ModelEntry | None:
    """The newest manifest entry of the model ``path`` (an absolute folder, or a hub id: `same_model`), or None."""
    models = workspace.frame("models")
    same = [same_model(known, path) for known in models["path"]]
    known = models[pd.Series(same, index=models.index, dtype=bool)]
    known = known.sort_values(["created_at", "id"], kind="stable")
    return _entry(known.iloc[-1]) if len(known) else None


def find_or_register(workspace: Workspace, path: str | Path) -> ModelEntry:
    """The manifest entry of the model ``path`` (`find_model`), registered as a `base` model of round 0 if it is
    new: a hub id by its snapshot folder in the hub's cache (`local_model`: found there by the checks before), as
    `train` registers it, so one model has one entry and one leaderboard name."""
    entry = find_model(workspace, path)
    if entry is not None:
        return entry
    if hub_id_of(path) == str(path):
        path = local_model(str(path))
    base = ModelRecord(path=str(path), method="base", round=0)
    workspace.append([base])
    return ModelEntry(base.id, base.path, 0, "base", None)


def children(workspace: Workspace, parent_id: str, method: str, round: int) -> list[ModelEntry]:
    """Models trained from ``parent_id`` with ``method`` in ``round``, oldest first."""
    models = workspace.frame("models")
    rows = models[
        (models["parent_id"] == parent_id) & (models["method"] == method) & (models["round"] == round)
    ]
    return [_entry(row) for _, row in rows.sort_values(["created_at", "id"], kind="stable").iterrows()]


def model_summary(row: dict) -> dict:
    """One manifest row as the lineage shows it: parent, method, round, what trained it, headline metrics."""
    data = json.loads(row["data"] or "{}")
    metrics = json.loads(row["metrics"] or "{}")
    # SFT runs list their edits by completion and their gold answers by prompt
    ids = ("pair_ids", "completion_ids", "gold_prompt_ids")
    trained_on = data.get("pair_ids") or [*data.get("completion_ids", []), *data.get("gold_prompt_ids", [])]
    return {
        "id": row["id"],
        "parent": None if pd.isna(row["parent_id"]) else row["parent_id"],
        "round": int(row["round"]),
        "method": row["method"],
        "path": row["path"],
        "trained_on": len(trained_on),
        "data": {k: v for k, v in data.items() if k not in ids},
        "metrics": metrics,
    }


def _number(value: object) -> str:
    """A headline figure as `stats --json` holds it and every figure of `stats` prints (`figure_text`: 3 decimals,
    where 4 significant digits read `0.4762` beside the JSON's `0.476`); "-" for none (null, or the NaN that runs
    before null was written stored)."""
    return figure_text(value) if isinstance(value, int | float | None) else str(value)


def _headline(method: str, metrics: dict) -> str:
    """A model's `HEADLINE` figures; a reference-free method's reward figures last, under their name
    (`reward_name`): they are DPO's implicit reward, not its objective's."""
    shown = [(k, name) for k, name in HEADLINE.items() if k in metrics]
    if method in REFERENCE_FREE:
        reward = [(k, name) for k, name in shown if k in REWARD_FIGURES]
        shown = [item for item in shown if item not in reward]
        if reward:  # the name once, before the first of them
            shown += [(reward[0][0], f"{reward_name(method)} {reward[0][1]}"), *reward[1:]]
    return ", ".join(f"{name} {_number(metrics[k])}" for k, name in shown)


def lineage_lines(models: list[dict]) -> list[str]:
    """Readable lines for ``model_summary`` dicts: one per model, ordered by round, parents named by short id, its
    held-out figures on the next line (a line apiece: `stats` escapes a line break inside a line)."""
    lines = []
    for m in sorted(models, key=lambda m: m["round"]):
        parent = f"<- {m['parent'][:8]}" if m["parent"] else "(start)"
        what = ""
        if m["method"] != "base":
            # pair kinds; an SFT run's sources (gold, edits); else KTO's labelled completions
            sources = m["data"].get("kinds") or m["data"].get("sft_from") or []
            kinds = ",".join(sources) or "kto labels"
            rounds = ",".join(map(str, m["data"].get("rounds", [])))
            what = f" trained on {counted(m['trained_on'], kinds + ' row')}" + (
                f" of round {rounds}" if rounds else ""
            )
        metrics = m["metrics"]
        headline = _headline(m["method"], metrics)
        split = f"held-out [{metrics['eval_split']}]" if "eval_split" in metrics else "held-out"
        if metrics.get("eval_split") == "train":  # its training rows, in train's words
            # eval_counts are recorded only where the workspace has a test split
            had = "nothing of the test split held out" if metrics.get("eval_counts") else "no test split"
            split = f"training ({had}: not held-out)"
        lines.append(f"round {m['round']}  {m['method']:<5} {m['id'][:8]} {parent}{what}  {m['path']}")
        lines += [f"           {split}: {headline}"] if headline else []
    return lines
