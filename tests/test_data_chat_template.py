"""Chat templates for base models: names, files and inline text resolve to Jinja, a model folder without one is a
one-line error naming the folder and the flag, and the named templates render prompts as prefixes of answers."""

from __future__ import annotations

import json

import pytest

from data.chat_template import (
    PLAIN,
    ROLES,
    ChatTemplateError,
    chat_template_for,
    model_chat_template,
    resolve_chat_template,
)

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
ANSWER = {"role": "assistant", "content": "Hello."}


def test_names_files_and_inline_text_resolve(tmp_path):
    assert resolve_chat_template(None) is None
    assert resolve_chat_template("plain") == PLAIN and resolve_chat_template("roles") == ROLES
    path = tmp_path / "t.jinja"
    path.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    assert resolve_chat_template(str(path)) == path.read_text()
    assert resolve_chat_template("{{ messages[0]['content'] }}") == "{{ messages[0]['content'] }}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("chatml", "--chat-template chatml: not a file and not a named template (plain, roles)"),
        ("BAD_FILE", "bad.jinja: not a Jinja template (line 1: "),
    ],
)
def test_unknown_names_and_broken_files_are_one_line(tmp_path, value, message):
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% for m in messages %}{{ m }}")
    with pytest.raises(ChatTemplateError) as err:
        resolve_chat_template(str(bad) if value == "BAD_FILE" else value)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["", " \n\n"])
def test_an_empty_template_file_is_one_line_not_a_template_rendering_nothing(tmp_path, text):
    """An empty file was taken as a template: `train score --chat-template empty.jinja` scored every pair rendered
    as nothing and exited 0."""
    path = tmp_path / "empty.jinja"
    path.write_text(text)
    with pytest.raises(ChatTemplateError, match=f"^--chat-template {path}: the file is empty; give a Jinja"):
        resolve_chat_template(str(path))


def test_model_folder_check_reads_only_the_tokenizer_files(tmp_path, tiny_model_dir, tiny_base_model_dir):
    assert model_chat_template(tiny_model_dir) and model_chat_template(tiny_base_model_dir) is None
    assert chat_template_for(tiny_model_dir) is None  # its own template: nothing to override
    assert chat_template_for(tiny_base_model_dir, "plain") == PLAIN
    assert chat_template_for("some-org/some-model") is None  # a hub id: left to the library
    with pytest.raises(ChatTemplateError) as err:
        chat_template_for(tiny_base_model_dir)
    assert str(err.value).startswith(f"{tiny_base_model_dir}: the model has no chat template")
    assert "--chat-template plain" in str(err.value)
    # Older tokenizer configs keep the template inline, sometimes as a list of named templates.
    folder = tmp_path / "old"
    folder.mkdir()
    named = [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": named}))
    assert model_chat_template(folder) == "D"
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "X"}))
    assert model_chat_template(folder) == "X"


@pytest.mark.parametrize(
    ("template", "prompt", "full"),
    [
        (PLAIN, "<|im_start|>Be brief.\n\nHi?\n\n", "<|im_start|>Be brief.\n\nHi?\n\nHello.<|im_end|>"),
        (
            ROLES,
            "<|im_start|>System: Be brief.\n\nUser: Hi?\n\nAssistant:",
            "<|im_start|>System: Be brief.\n\nUser: Hi?\n\nAssistant: Hello.<|im_end|>",
        ),
    ],
)
def test_named_templates_render_the_prompt_as_a_prefix_of_the_answer(tiny_tokenizer, template, prompt, full):
    render = tiny_tokenizer.apply_chat_template
    assert render(CHAT, chat_template=template, tokenize=False, add_generation_prompt=True) == prompt
    assert render([*CHAT, ANSWER], chat_template=template, tokenize=False) == full


def test_a_template_is_identified_by_its_name_or_its_texts_hash(tmp_path):
    from data.chat_template import template_id

    assert template_id(None) is None  # the model's own: nothing recorded
    assert template_id(PLAIN) == "plain" and template_id(ROLES) == "roles"
    text = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    path = tmp_path / "t.jinja"
    path.write_text(text)
    found = template_id(resolve_chat_template(str(path)))
    assert found == template_id(text) and found.startswith("sha256:") and len(found) == len("sha256:") + 16
    assert template_id(text + " ") != found  # an edited template is another
    path.write_text(PLAIN)
    assert template_id(resolve_chat_template(str(path))) == "plain"  # by content, not by where it came from


def test_a_chat_template_file_this_user_cannot_read_is_one_line(tmp_path, monkeypatch):
    """A template file the user may not read was a PermissionError traceback (root reads anything, so the refusal
    is made by the read itself here)."""
    path = tmp_path / "t.jinja"
    path.write_text("{{ messages }}")

    def refused(named):
        raise PermissionError(13, "Permission denied", str(named))

    monkeypatch.setattr("data.chat_template.read_named", refused)
    with pytest.raises(ChatTemplateError, match=r"t.jinja: cannot be read \(Permission denied\)$"):
        resolve_chat_template(str(path))
