"""What every sampling job does before it samples: resolve the model and check its chat template, read the
prompts to import. All of it before the workspace is touched, so bad input writes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

from data.chat_template import chat_template_for
from data.imports import load_file
from data.lineage import NEWEST, newest_model
from data.provision import SAMPLES, resolve_model, sample_path
from data.workspace import Workspace
from generate.options import SampleOptions


def quiet_logs(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in ("transformers", "httpx", "urllib3", "filelock"):  # their INFO lines bury our summary
        logging.getLogger(name).setLevel(logging.WARNING)
    if verbose:
        logging.getLogger("transformers").setLevel(logging.INFO)


def start_model(options: SampleOptions) -> tuple[str, str]:
    """(the model as named, a loadable location); a base model without --chat-template is one line, now."""
    newest = options.model == NEWEST
    model = newest_model(Workspace(options.workspace)).path if newest else options.model
    model_path = resolve_model(model)
    chat_template_for(model_path, options.chat_template)
    return model, model_path


def read_prompts(prompts: str | None, test_fraction: float):
    """The records of ``prompts`` (a file, or a sample set's name) to import, or None."""
    if not prompts:
        return None
    return load_file(
        sample_path(prompts) if prompts in SAMPLES else Path(prompts), test_fraction=test_fraction
    )
