"""The run's report in its output folder: metrics.json, train_config.json, training.png, report.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

CURVES = (
    ("loss", "loss"),
    ("rewards/margins", "reward margin (chosen − rejected)"),
    ("rewards/accuracies", "reward accuracy"),
    ("rewards/chosen", "reward of chosen"),
    ("rewards/rejected", "reward of rejected"),
)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def plot_curves(log_history: list[dict], path: Path) -> Path | None:
    """One panel per logged training curve present in ``log_history``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [(key, title) for key, title in CURVES if any(key in h for h in log_history)]
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], curves):
        points = [(h["step"], h[key]) for h in log_history if key in h and "step" in h]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 30 else None)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def summary_lines(method: str, metrics: dict) -> list[str]:
    split = metrics.get("eval_split", "test")
    if "rm_accuracy" in metrics:  # a reward model
        levels = ", ".join(
            f"{level}: {cell['accuracy']:.3f} of {cell['pairs']}"
            for level, cell in metrics["rm_accuracy_by_strength"].items()
        )
        before = metrics["rm_accuracy_before"]
        return [
            f"held-out ({split}) pairs: {metrics['eval_pairs']}",
            f"reward model accuracy {metrics['rm_accuracy']:.3f} (untrained head: "
            f"{'-' if before is None else f'{before:.3f}'}), mean margin {metrics['rm_margin_mean']:.4f}",
            f"accuracy by label strength: {levels or '-'}",
        ]
    if "pairs" in metrics:
        n = metrics["pairs"]
        return [
            f"held-out ({split}) pairs: {n}",
            f"original model preferred chosen in {round(metrics['reference_prefers_chosen'] * n)}/{n}, "
            f"trained model in {round(metrics['model_prefers_chosen'] * n)}/{n}",
            f"implicit reward accuracy {metrics['reward_accuracy']:.3f}, mean margin {metrics['reward_margin']:.4f}",
            f"mean log p(chosen) {metrics['reference_chosen_logp']:.2f} -> {metrics['chosen_logp']:.2f}",
        ]
    return [
        f"held-out ({split}) completions: {metrics['completions']}",
        f"reward desirable {metrics['desirable_reward']:.4f}, undesirable {metrics['undesirable_reward']:.4f}, "
        f"separation {metrics['reward_separation']:.4f}, sign accuracy {metrics['sign_accuracy']:.3f}",
    ]


def write_report(out: Path, record, metrics: dict, config: dict, log_history: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    _write(out / "train_config.json", json.dumps(config, indent=2) + "\n")
    _write(out / "log_history.json", json.dumps(log_history, indent=2) + "\n")
    plot = plot_curves(log_history, out / "training.png")
    lines = [
        f"# {record.method} run {record.id}",
        "",
        f"- model: `{record.path}` (round {record.round}, parent `{record.parent_id}`)",
        f"- steps: {metrics['steps']}, training rows: {metrics['train_rows']}, "
        f"final loss: {metrics['final_loss']}, {metrics['seconds']} s",
        *(f"- {line}" for line in summary_lines(record.method, metrics)),
        "",
    ]
    if plot:
        lines += ["![training curves](training.png)", ""]
    _write(out / "report.md", "\n".join(lines))
