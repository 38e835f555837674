"""`python -m train score`: how sure is the current model about each unlabelled pair? (active selection)

For every sampled pair nobody has labelled yet, the summed log-probs of both sides under the model and under its
reference (the parent in the manifest), both on the pair rendered with the scoring model's chat template (or
``--chat-template``, applied as training applies it), give DPO's implicit reward margin (divided by β):

    margin = (log π(a) − log π_ref(a)) − (log π(b) − log π_ref(b))

written to the workspace table ``scores`` in durable chunks. `python -m annotate --order uncertainty` then hands
out the smallest |margin| first: the pairs where a label teaches the model most. A model without a parent (the
base) scores with its own likelihoods, log π(a) − log π(b). Each score records the template that rendered it
(``chat_template``: `template_id`). Reruns score only the pairs this model has not scored with that template; a pair
it scored with another template, or before the template was recorded (an older version rendered the reference with
its own template: a wrong margin where the two differ), is scored again, said so, the new score replacing the old
for the uncertainty order (the old row stays in the table). The order reads one rendering only: a run that leaves
pairs of the model scored with another template only (``--limit``, ``--rounds``) says how many it hands out after
the others, as unscored (`template_coverage`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from data.chat_template import FLAG, ChatTemplateError, chat_template_for, template_id
from data.lineage import NEWEST, ModelEntry, find_or_register, get_model, newest_model
from data.provision import check_writes_answers, looks_like_hub_id
from data.records import Score, content_id
from data.selection import unlabelled_pairs
from data.workspace import Workspace
from train.evaluate import pair_logps
from train.options import RANGES, check_ranges
from train.saving import check_model_files, load_tokenizer, model_path
from train.seam import load_pretrained

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreOptions:
    workspace: Path = field(
        default=Path("ws"),
        metadata={"metavar": "WS", "help": "workspace whose unlabelled pairs to score (default: ws)"},
    )
    model: str = field(
        default=NEWEST,
        metadata={
            "path": True,
            "metavar": "M",
            "help": "scoring model: newest (in the manifest), a folder, a short name or a hub id (org/model)",
        },
    )
    rounds: tuple[int, ...] | None = field(default=None, metadata={"help": "only pairs of these rounds"})
    limit: int = field(default=0, metadata={"help": "score at most this many pairs (0: all)"})
    batch_size: int = field(default=8, metadata={"help": "sequences per forward pass"})
    max_length: int = field(default=512, metadata={"help": "tokens per prompt+completion (truncated beyond)"})
    chunk_size: int = field(default=64, metadata={"help": "pairs per durable write"})
    threads: int = field(default=0, metadata={"help": "CPU threads (0: as many as torch takes)"})
    chat_template: str | None = field(
        default=None,
        metadata={
            "path": True,
            "metavar": "TEMPLATE",
            "help": "chat template for a scoring model without one, both passes rendered with it (as train's "
            "--chat-template): a Jinja file, or plain / roles (base models)",
        },
    )


# why a pair this model scored is scored again (`pending_pairs`)
RESCORES = ("other_template", "unknown_template")
SCORE_RANGES = {name: RANGES[name] for name in ("batch_size", "max_length", "threads", "rounds")} | {
    "limit": (lambda v: v >= 0, ">= 0 (0: all)"),
    "chunk_size": (lambda v: v >= 1, ">= 1"),
}


def pending_pairs(
    workspace: Workspace, model_id: str, rounds: tuple[int, ...] | None, rendering: str
) -> tuple[list[dict], int]:
    """Unlabelled pairs for labelling without a score from ``model_id`` rendered with ``rendering`` (a
    `template_id`), as DPO-style rows (a as chosen), and how many unlabelled pairs (of ``rounds``) have that score
    already: what counts is the model's newest score of each pair, as for the uncertainty order. A row's
    ``rescores`` says why a pair with a score of the model is scored again: its newest was rendered with another
    template (``other_template``), or written before the template was recorded (``unknown_template``: an older
    version rendered the reference with its own template, a wrong margin where it has another); None for a pair the
    model has not scored. Back to a template it scored the pair with before, the new score's ``score_id`` hashes
    the id of the score it replaces too: the first one's id is taken ("": the default, `Score`'s)."""
    pairs = unlabelled_pairs(workspace.frame("pairs"), workspace.frame("labels"))
    if rounds is not None:
        pairs = pairs[pairs["round"].isin(rounds)]
    scores = workspace.frame("scores")
    mine = scores[scores["model_id"] == model_id].sort_values(["created_at", "id"], kind="stable")
    newest = mine.drop_duplicates("pair_id", keep="last").set_index("pair_id")
    done = pairs["id"].isin(set(newest.index[newest["chat_template"] == rendering]))
    rescores = {
        pair: "unknown_template" if pd.isna(t) else "other_template"
        for pair, t in newest["chat_template"].items()
    }
    taken = set(mine.loc[mine["chat_template"] == rendering, "pair_id"])  # an id of this rendering exists
    pairs, already = pairs[~done], int(done.sum())
    messages = workspace.frame("prompts").set_index("id")["messages"]
    text = workspace.frame("completions").set_index("id")["text"]
    rows = [
        {
            "pair_id": p.id,
            "prompt": [dict(m) for m in messages[p.prompt_id]],
            "chosen": [{"role": "assistant", "content": text[p.completion_a]}],
            "rejected": [{"role": "assistant", "content": text[p.completion_b]}],
            "rescores": rescores.get(p.id),
            "score_id": content_id("score", p.id, model_id, rendering, newest.at[p.id, "id"])
            if p.id in taken
            else "",
        }
        for p in pairs.sort_values(["round", "created_at", "id"], kind="stable").itertuples()
    ]
    return rows, already


def _load(path: str):
    from transformers import AutoModelForCausalLM

    model = load_pretrained(AutoModelForCausalLM.from_pretrained, path, dtype=torch.float32)
    return model.to("cuda") if torch.cuda.is_available() else model


def _check_template(folder: str, chat_template: str | None) -> None:
    """The scoring model renders every pair (its reference's pass too), with ``--chat-template`` where given: a
    template file that does not read is one line naming it, and a model without a template (a base model) and no
    flag is refused, both before it is registered or loaded."""
    try:
        chat_template_for(folder, chat_template)
    except ChatTemplateError:
        if chat_template:
            raise
        raise ChatTemplateError(
            f"{folder}: the model has no chat template (a base model?), and train score renders the pairs with "
            f"the scoring model's template; pass {FLAG} plain, {FLAG} roles or {FLAG} FILE.jinja (as training "
            "takes), or score a model trained from it (its folder keeps its template)"
        ) from None


def _entry(options: ScoreOptions, workspace: Workspace) -> tuple[ModelEntry, ModelEntry | None]:
    """(scoring model, its reference) from the manifest; a model not in it is registered as a base, once its files
    read (`check_model_files`: a broken folder registered would be the workspace's ``newest`` where nothing is trained). The manifest's
    folders are read too, as train reads its start model's: one moved or deleted was transformers' "Repo id must
    be in the form ..." (a folder's path read as a hub id)."""
    entry = newest_model(workspace) if options.model == NEWEST else None
    if entry is None:
        folder = model_path(options.model, workspace)
        check_model_files(folder)
        check_writes_answers(folder, f"--model {options.model}")  # registered, it may be the newest
        _check_template(str(folder), options.chat_template)
        entry = find_or_register(workspace, folder)
    else:
        if not looks_like_hub_id(entry.path):
            check_model_files(Path(entry.path))
        _check_template(entry.path, options.chat_template)
    parent = get_model(workspace, entry.parent_id) if entry.parent_id else None
    if parent is not None and not looks_like_hub_id(parent.path):
        check_model_files(Path(parent.path))
    return entry, parent


def rendering_id(template: str | dict | None) -> str:
    """What a score records of the chat template that rendered it: the `template_id` of its text as Jinja reads
    it (line ends as "\\n", one trailing newline dropped), so one template is one rendering whether it came from
    the model folder or a file an editor saved; a tokenizer's named templates (a dict) by the one the pairs render
    with, "default" (without one: all of them, by their JSON text)."""
    if isinstance(template, dict):
        template = template.get("default") or template
    if not isinstance(template, str):
        return template_id(json.dumps(template, sort_keys=True))
    lines = re.split(r"\r\n|\r|\n", template)  # as `jinja2.lexer` splits the source
    return template_id("\n".join(lines[:-1] if lines[-1] == "" else lines))


def _known_rendering(folder: str, chat_template: str | None) -> str | None:
    """The `rendering_id` the scoring model's tokenizer will have, where its files say it before the tokenizer
    loads: --chat-template's text, or the folder's chat_template.jinja with no named templates beside it (which
    transformers takes whole as the template, before tokenizer_config.json's); None where the loaded tokenizer
    alone says it (a template in tokenizer_config.json, named templates, a hub id)."""
    text = chat_template_for(folder, chat_template)
    if text is not None:
        return rendering_id(text)
    jinja = Path(folder) / "chat_template.jinja"
    if jinja.is_file() and not (Path(folder) / "additional_chat_templates").exists():
        return rendering_id(jinja.read_text(encoding="utf-8"))
    return None


def score_pairs(options: ScoreOptions) -> dict:
    """Score the pending pairs with the model and its reference; returns counts and the scoring model's id."""
    check_ranges(options, SCORE_RANGES)
    workspace = Workspace(options.workspace)
    rounds = options.rounds
    entry, parent = _entry(options, workspace)
    # the reference scores the same text as the model, as training's reference pass does: its own template (a
    # base model's none, or another) would make the margin one of two renderings. A rerun with nothing to score
    # loaded the tokenizer only to find so: where the files say the rendering, it loads once there is something
    rendering = _known_rendering(entry.path, options.chat_template)
    tokenizer = None if rendering else load_tokenizer(Path(entry.path), options.chat_template)
    rendering = rendering or rendering_id(tokenizer.chat_template)
    rows, already = pending_pairs(workspace, entry.id, rounds, rendering)
    beyond = max(0, len(rows) - options.limit) if options.limit else 0  # left for a rerun, and said
    rows = rows[: options.limit] if options.limit else rows
    counts = {"model": entry.id, "reference": parent.id if parent else None, "pairs": len(rows), "scored": 0}
    counts |= {"beyond_limit": beyond, "already_scored": already, "rounds": rounds}
    counts["chat_template"] = rendering
    counts |= {why: sum(row["rescores"] == why for row in rows) for why in RESCORES}
    if not rows:
        return counts
    if options.threads:
        torch.set_num_threads(options.threads)
    tokenizer = tokenizer or load_tokenizer(Path(entry.path), options.chat_template)
    model = _load(entry.path)
    reference = (_load(parent.path), tokenizer) if parent else None
    with tqdm(total=len(rows), desc="scoring pairs", unit="pair", disable=None) as bar:
        for offset in range(0, len(rows), options.chunk_size):
            chunk = rows[offset : offset + options.chunk_size]
            a, b = pair_logps(model, tokenizer, chunk, options.batch_size, options.max_length)
            ref_a = ref_b = [None] * len(chunk)
            if reference:
                ref_a, ref_b = pair_logps(*reference, chunk, options.batch_size, options.max_length)
            records = [
                Score(
                    row["pair_id"],
                    entry.id,
                    la,
                    lb,
                    margin=(la - ra) - (lb - rb) if ra is not None else la - lb,
                    reference_id=parent.id if parent else None,
                    reference_logp_a=ra,
                    reference_logp_b=rb,
                    chat_template=rendering,
                    id=row["score_id"],
                )
                for row, la, lb, ra, rb in zip(chunk, a, b, ref_a, ref_b)
            ]
            counts["scored"] += workspace.append(records, skip_existing=True).get("scores", 0)
            bar.update(len(chunk))
    if counts["scored"]:  # the newest scores now: those `--order uncertainty` reads
        counts["by_margin"], counts["other_template_only"] = template_coverage(workspace, entry.id, rendering)
    return counts


def template_coverage(workspace: Workspace, model_id: str, rendering: str) -> tuple[int, int]:
    """Of the unlabelled pairs (every round: all the app hands out), how many have a score of ``model_id`` rendered
    with ``rendering``, and how many only scores of it rendered otherwise. Where these are the newest scores, the
    uncertainty order hands the first out by |margin| and counts the others unscored: after them, in round order
    (`data.selection.uncertainty_margins`: margins of two renderings are not ordered together)."""
    pairs = unlabelled_pairs(workspace.frame("pairs"), workspace.frame("labels"))["id"]
    scores = workspace.frame("scores")
    mine = scores[scores["model_id"] == model_id]
    rendered = set(mine.loc[mine["chat_template"] == rendering, "pair_id"])
    return int(pairs.isin(rendered).sum()), int(pairs.isin(set(mine["pair_id"]) - rendered).sum())
