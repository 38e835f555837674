"""`train score`'s chat template: both passes (the model's and its reference's) render the pair with the scoring
model's template, or with `--chat-template` as training applies it (`train.saving.load_tokenizer`); a model without
one and no flag, or a flag whose file does not read, is one line, nothing registered or scored."""

from __future__ import annotations

import shutil

import pytest
import torch

from data.chat_template import resolve_chat_template
from data.records import ModelRecord
from data.workspace import Workspace
from tests.conftest import CHAT_TEMPLATE
from tests.test_train import build_workspace
from train.__main__ import main


def test_score_of_a_model_without_a_chat_template_is_one_line_and_registers_nothing(
    tmp_path, tiny_base_model_dir, capsys
):
    """A base model (no chat template) given to `train score --model` was registered, then a transformers
    traceback ("tokenizer.chat_template is not set") as the first pair was rendered; the refusal names the flag
    that scores it."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    assert main(["score", "-w", str(ws.path), "--model", str(tiny_base_model_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tiny_base_model_dir}: the model has no chat template (a base model?)")
    assert err.count("\n") == 1 and "train score renders" in err and "pass --chat-template plain" in err
    assert len(ws.frame("models")) == 0 and len(ws.frame("scores")) == 0


@pytest.mark.parametrize("parent_template", [None, "roles"])
def test_score_renders_the_reference_as_the_scoring_model(
    tmp_path, tiny_model_dir, tiny_base_model_dir, parent_template
):
    """The reference (the scoring model's parent) was scored with its own tokenizer's template: a model trained
    from a base model with --chat-template (its folder keeps the template, its parent has none) was a traceback,
    and a parent with another template than the model's was scored on other inputs, a margin of two renderings.
    Both are rendered as the model is, as training's reference pass is: here the same weights, so every margin
    is 0."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    parent = tiny_base_model_dir
    if parent_template:
        parent = shutil.copytree(tiny_base_model_dir, tmp_path / "parent")
        (parent / "chat_template.jinja").write_text(resolve_chat_template(parent_template))
    base = ModelRecord(str(parent), "base")
    ws.append([base, ModelRecord(str(tiny_model_dir), "dpo", round=1, parent_id=base.id)])
    assert main(["score", "-w", str(ws.path)]) == 0
    scores = ws.frame("scores")
    assert len(scores) == 8 and (scores["margin"] == 0).all()
    assert (scores["reference_logp_a"] == scores["logp_a"]).all()


def _trained(base, folder):
    """``base`` with other weights, as a run trained from it saves it: no chat template of its own."""
    from transformers import AutoModelForCausalLM

    shutil.copytree(base, folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    torch.manual_seed(1)
    with torch.no_grad():
        for weight in model.parameters():
            weight.add_(0.1 * torch.randn_like(weight))
    model.save_pretrained(folder)
    return folder


def _scores(ws_path, parent, model, *flags):
    ws = build_workspace(ws_path, annotators=())
    base = ModelRecord(str(parent), "base")
    ws.append([base, ModelRecord(str(model), "dpo", round=1, parent_id=base.id)])
    assert main(["score", "-w", str(ws_path), *flags]) == 0
    columns = ["logp_a", "logp_b", "reference_logp_a", "reference_logp_b", "margin"]
    scores = Workspace(ws_path).frame("scores").sort_values("pair_id")
    return scores[["pair_id", *columns]].reset_index(drop=True)


@pytest.mark.parametrize("template", ["roles", "file"])
def test_score_with_chat_template_scores_as_the_template_in_the_folder(
    tmp_path, tiny_base_model_dir, template
):
    """`train score --chat-template` on a model and parent without a template (a base model and a model trained
    from it, here other weights) scores each pair as the same model with that template in its tokenizer folder:
    both passes rendered with it."""
    value = resolve_chat_template(template) if template == "roles" else CHAT_TEMPLATE
    if template == "file":
        (tmp_path / "chat.jinja").write_text(value)
    flag = template if template == "roles" else str(tmp_path / "chat.jinja")
    model = _trained(tiny_base_model_dir, tmp_path / "model")
    flagged = _scores(tmp_path / "flagged", tiny_base_model_dir, model, "--chat-template", flag)
    templated = shutil.copytree(model, tmp_path / "templated")
    (templated / "chat_template.jinja").write_text(value)
    own = _scores(tmp_path / "own", tiny_base_model_dir, templated)
    assert len(flagged) == 8 and (flagged["margin"] != 0).all()  # other weights: the reference pass counts
    assert flagged.equals(own)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "--chat-template {path}: not a file and not a named template (plain, roles)"),
        ("not Jinja", "{path}: not a Jinja template (line 1: "),
        ("not UTF-8", "--chat-template {path}: not UTF-8 text (invalid start byte at byte 0)"),
    ],
)
def test_score_with_a_template_file_that_does_not_read_is_one_line(
    tmp_path, tiny_base_model_dir, capsys, kind, message
):
    """A --chat-template file missing, not a template, or not text: one line naming it, nothing registered or
    scored (a file not UTF-8 was a UnicodeDecodeError traceback, in train and generate too)."""
    path = tmp_path / "chat.jinja"
    if kind == "not Jinja":
        path.write_text("{% for m in messages %}{{ m }}")
    elif kind == "not UTF-8":
        path.write_bytes(b"\xff{{ messages }}")
    ws = build_workspace(tmp_path / "ws", annotators=())
    argv = ["score", "-w", str(ws.path), "--model", str(tiny_base_model_dir), "--chat-template", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(path=path)) and err.count("\n") == 1
    assert len(ws.frame("models")) == 0 and len(ws.frame("scores")) == 0
