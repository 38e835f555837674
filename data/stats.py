"""Workspace statistics and integrity checks, as plain dicts and lists for the CLI and the app to show."""

from __future__ import annotations

from data.aggregate import SPLIT, aggregate, label_distribution, mean_agreement
from data.annotators import machine_mask
from data.lineage import model_summary
from data.machine import machine_agreement, suggestion_follow
from data.workspace import Workspace


def workspace_stats(workspace: Workspace) -> dict:
    names = ("prompts", "completions", "pairs", "labels", "models", "scores")
    frames = {name: workspace.frame(name) for name in names}
    prompts, completions, pairs, labels, models, _ = frames.values()
    stats: dict = {"rows": {name: len(frame) for name, frame in frames.items()}}
    stats["prompts_by_split"] = prompts["split"].value_counts().sort_index().to_dict()
    stats["prompts_with_gold"] = int(prompts["gold"].notna().sum())
    stats["completions_by_engine"] = completions["engine"].value_counts().sort_index().to_dict()
    stats["pairs_by_kind_round"] = {
        f"{kind}/round {rnd}": int(n) for (kind, rnd), n in pairs.groupby(["kind", "round"]).size().items()
    }
    machine = machine_mask(labels["annotator"].astype(str))
    stats["labellers"] = sorted(labels.loc[~machine, "annotator"].unique().tolist())
    stats["machine_annotators"] = labels.loc[machine, "annotator"].value_counts().sort_index().to_dict()
    stats["labels"] = label_distribution(labels)
    stats["machine_agreement"] = machine_agreement(labels, pairs)
    stats["suggestions"] = suggestion_follow(labels)
    for task in ("pairwise", "kto"):
        verdicts = aggregate(labels, task)
        if len(verdicts):
            stats[f"{task}_items"] = {
                "labelled": len(verdicts),
                "split_votes": int((verdicts["verdict"] == SPLIT).sum()),
                "mean_agreement_multi_annotator": mean_agreement(verdicts),
            }
    stats["models"] = [model_summary(row) for _, row in models.sort_values("created_at").iterrows()]
    return stats


def integrity_problems(workspace: Workspace) -> list[str]:
    """Dangling references between tables (each table's own rows are validated on read)."""
    prompt_ids = workspace.ids("prompts")
    completions = workspace.frame("completions")
    pairs = workspace.frame("pairs")
    labels = workspace.frame("labels")
    model_ids = workspace.ids("models")
    completion_ids = set(completions["id"])
    problems = []

    def missing(table, frame, column, known):
        for row in frame[~frame[column].isin(known)].itertuples():
            problems.append(f"{table} {row.id}: {column} {getattr(row, column)} does not exist")

    missing("completion", completions, "prompt_id", prompt_ids)
    missing("pair", pairs, "prompt_id", prompt_ids)
    missing("pair", pairs, "completion_a", completion_ids)
    missing("pair", pairs, "completion_b", completion_ids)
    missing("pairwise label", labels[labels["task"] == "pairwise"], "item_id", set(pairs["id"]))
    missing("kto label", labels[labels["task"] == "kto"], "item_id", completion_ids)
    models = workspace.frame("models")
    missing("model", models[models["parent_id"].notna()], "parent_id", model_ids)
    scores = workspace.frame("scores")
    missing("score", scores, "pair_id", set(pairs["id"]))
    missing("score", scores, "model_id", model_ids)
    return problems
