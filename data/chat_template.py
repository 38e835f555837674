"""Chat templates: `--chat-template FILE|NAME` for models without one (base models), and the check that a model
can render chat prompts, run before any model or tokenizer loads (`generate` and `train` call `chat_template_for`).

Named templates, for base models:
- ``plain``: the messages' texts separated by blank lines; the model continues the text.
- ``roles``: ``User: ...`` / ``Assistant: ...`` turns separated by blank lines, ending on ``Assistant:``; sampling
  stops at the next ``User:`` / ``Assistant:`` / ``System:`` line (``turn_markers``).
Both start with the tokenizer's BOS token (if it has one) and end an assistant turn with its EOS token, and
render a prompt as a prefix of the prompt with its answer, which is what preference training needs.

Without the flag, a local model folder must carry its own template (``chat_template.jinja``, or ``chat_template``
in ``tokenizer_config.json`` / ``chat_template.json``); only those files are read. A hub id is left to the library.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from data.config_values import expand_home
from data.errors import PrefloopError
from data.files import read_named
from data.import_records import TooDeep, within_depth

FLAG = "--chat-template"
PLAIN = (
    "{{- bos_token or '' -}}"
    "{%- for message in messages -%}"
    "{%- if not loop.first %}{{ '\n\n' }}{% endif -%}"
    "{{- message['content'] -}}"
    "{%- if message['role'] == 'assistant' %}{{ eos_token or '' }}{% endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}{{ '\n\n' }}{% endif -%}"
)
ROLES = (
    "{{- bos_token or '' -}}"
    "{%- for message in messages -%}"
    "{%- if not loop.first %}{{ '\n\n' }}{% endif -%}"
    "{{- message['role'] | capitalize }}: {{ message['content'] -}}"
    "{%- if message['role'] == 'assistant' %}{{ eos_token or '' }}{% endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}{{ '\n\nAssistant:' }}{% endif -%}"
)
NAMED = {"plain": PLAIN, "roles": ROLES}
# Where the next turn starts in a text rendered with a named template: a base model goes on to write the user's
# next turn itself, so sampling stops at these and cuts the text before them (``plain`` has no marker to stop at).
TURN_MARKERS = {ROLES: ("\nUser:", "\nAssistant:", "\nSystem:")}
TEMPLATE_FILES = ("tokenizer_config.json", "chat_template.json")


class ChatTemplateError(PrefloopError):
    """A chat template is missing or unusable; the message names the folder or file and the flag."""


def resolve_chat_template(value: str | None) -> str | None:
    """The Jinja text of a ``--chat-template`` value: a name (plain, roles), a Jinja file, or template text itself."""
    if not value:
        return None
    if value in NAMED:
        return NAMED[value]
    if "{{" in value or "{%" in value:
        text, where = value, f"{FLAG} text"
    else:
        path = expand_home(Path(value))
        if not path.is_file():
            raise ChatTemplateError(
                f"{FLAG} {value}: not a file and not a named template ({', '.join(NAMED)})"
            )
        try:
            text, where = read_named(path), str(path)
        except UnicodeDecodeError as exc:  # a binary file, or another encoding: was a traceback
            raise ChatTemplateError(
                f"{FLAG} {value}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        except OSError as exc:  # unreadable to this user: was a traceback
            raise ChatTemplateError(f"{FLAG} {value}: cannot be read ({exc.strerror})") from None
        if not text.strip():  # it rendered every conversation as "": `train score` scored them all so, exit 0
            raise ChatTemplateError(
                f"{FLAG} {value}: the file is empty; give a Jinja chat template, or plain / roles"
            )
    _check_syntax(text, where)
    return text


def template_id(template: str | None) -> str | None:
    """What the answers sampled with ``template`` (Jinja text, `resolve_chat_template`; None: the model's own)
    record as their template: a named template's name, else ``sha256:`` and the first 16 hex digits of the text's
    hash. By content, not by where it came from: the same text in a moved file, or pasted, is the same template, and
    an edited file is another. None stays None, so the model's own template adds nothing to what is recorded."""
    if template is None:
        return None
    named = {text: name for name, text in NAMED.items()}
    return named.get(template) or "sha256:" + hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]


def turn_markers(template: str | None) -> tuple[str, ...]:
    """The strings that start the next turn in a text rendered with ``template`` (Jinja text), if it is a named
    template that has them; sampling stops there."""
    return TURN_MARKERS.get(template or "", ())


def _check_syntax(text: str, where: str) -> None:
    import jinja2

    try:
        jinja2.Environment(extensions=["jinja2.ext.loopcontrols"]).parse(text)
    except jinja2.TemplateSyntaxError as exc:
        if "'generation'" in exc.message:  # transformers' own tag for assistant masks, unknown to plain Jinja
            return
        raise ChatTemplateError(f"{where}: not a Jinja template (line {exc.lineno}: {exc.message})") from exc


def model_chat_template(folder: str | Path) -> str | None:
    """The chat template a model folder carries, or None. Reads only the tokenizer's template files."""
    folder = Path(folder)
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8") or None
    for name in TEMPLATE_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            template = within_depth(json.loads, path.read_text(encoding="utf-8")).get("chat_template")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TooDeep) as exc:
            raise ChatTemplateError(f"{path}: cannot be read ({exc})") from exc
        if isinstance(template, list):  # named templates: [{"name": ..., "template": ...}]
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default") or next(iter(named.values()), None)
        if template:
            return template
    return None


def chat_template_for(model: str | Path, chat_template: str | None = None) -> str | None:
    """The chat template to render ``model``'s prompts with, checked before anything loads.

    Returns the Jinja text of ``chat_template`` (a name, a file, or template text) when given; None when it is not
    given and the model folder has its own template (or ``model`` is not a local folder, e.g. a hub id, left to
    the library). Raises ChatTemplateError, naming the folder and the flag, when neither exists.
    """
    text = resolve_chat_template(chat_template)
    if text is not None:
        return text
    folder = expand_home(Path(model))
    if folder.is_dir() and model_chat_template(folder) is None:
        raise ChatTemplateError(
            f"{folder}: the model has no chat template (a base model?); pass {FLAG} plain (texts separated by "
            f"blank lines), {FLAG} roles (User:/Assistant: turns) or {FLAG} FILE.jinja"
        )
    return None


def named_chat_template(named: str, model: str | Path, chat_template: str | None = None) -> str | None:
    """`chat_template_for`, its error said after ``named`` (``--judge J``, ``--arena M``), which names the model:
    the folder the error starts with is not said a second time."""
    try:
        return chat_template_for(model, chat_template)
    except ChatTemplateError as exc:
        said = str(exc).removeprefix(f"{expand_home(Path(model))}: ")
        raise ChatTemplateError(f"{named}: {said}") from exc
