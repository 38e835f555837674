"""Machine annotators: the label table's authors that are not people, named once for every package.

A label's ``annotator`` is a labeller's user name, or one of these:
- ``import``: a preference or KTO label that came with an imported data set;
- ``spin``: SPIN's gold-wins label (the gold answer is preferred by construction);
- ``judge:<model>``: an LLM judge's verdict; ``rm:<model id>``: a reward model's verdict (``rm:FOLDER`` for one
  named by its folder outside the manifest).

None of them is a labeller: they are reserved as user names, never counted towards an item's K labellers, and
left out of the app's progress and labeller tables; `python -m data stats` shows them separately. Imported labels
make verdicts, and the agreement among them, with people's (`data.selection.verdict_labels`); SPIN's never do.

A name may be stored in several Unicode spellings of itself (``zoë`` precomposed, and ``zoe`` with a combining
diaeresis): App users' names are ASCII, but the Python API and a merge of two workspaces store any. Names equal as
`same_name` compares them are one labeller to every reader: `Workspace.read` gives the labels table with one
spelling per name (`one_spelling`), so one person's two labels of an item are their latest, not two votes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.config_values import expand_home
from data.errors import PrefloopError
from data.provision import model_label
from data.records import withdrawal_id

IMPORT = "import"
SPIN = "spin"
JUDGE_PREFIX = "judge:"
RM_PREFIX = "rm:"
FIXED = frozenset({IMPORT, SPIN})
PREFIXES = (JUDGE_PREFIX, RM_PREFIX)
# The source of a gold answer an admin made in the app's admin tab: ``admin:NAME``, NAME the admin's user name
ADMIN_SOURCE = "admin:"
HEX_DIGITS = "0123456789abcdef"  # a model id's (`data.lineage.manifest_id`)
SHORT_ID = 8  # the digits of a model id that the leaderboard, the lineage lines and `stats` print

# Names no labeller may take: the fixed machine names and the bare prefixes (user names cannot hold ':').
RESERVED_USER_NAMES = frozenset({IMPORT, SPIN, JUDGE_PREFIX.rstrip(":"), RM_PREFIX.rstrip(":")})
# A labeller's user name, as the app's users file takes it (`annotate.users`) and an import's labeller column
# (`data.import_labellers`): ASCII, so a name is one spelling and fits every line that names it
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
USER_NAME_RULE = f"1-64 of A-Z a-z 0-9 _ . @ - (and not {sorted(RESERVED_USER_NAMES)})"


def is_user_name(name: object) -> bool:
    """Whether ``name`` may be a labeller's user name (`USER_NAME_RULE`): a machine's name is reserved."""
    return isinstance(name, str) and USER_NAME.fullmatch(name) is not None and name not in RESERVED_USER_NAMES


def judge_annotator(model: str) -> str:
    """The annotator name of an LLM judge's verdicts."""
    return f"{JUDGE_PREFIX}{model}"


def rm_annotator(model_id: str) -> str:
    """The annotator name of a reward model's verdicts."""
    return f"{RM_PREFIX}{model_id}"


def is_machine(annotator: str) -> bool:
    return annotator in FIXED or annotator.startswith(PREFIXES)


def is_machine_labeller(annotator: str) -> bool:
    """A judge or a reward model: a machine that labels like a labeller (not an import or SPIN's construction)."""
    return annotator.startswith(PREFIXES)


def machine_mask(annotators: pd.Series) -> pd.Series:
    """True where the annotator is a machine (vectorised :func:`is_machine`)."""
    return annotators.isin(FIXED) | annotators.str.startswith(PREFIXES)


def machine_labeller_mask(annotators: pd.Series) -> pd.Series:
    """True where the annotator is a judge or a reward model (vectorised :func:`is_machine_labeller`)."""
    return annotators.astype(str).str.startswith(PREFIXES)


def human_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """The rows of a labels frame written by people."""
    return labels[~machine_mask(labels["annotator"].astype(str))]


def withdrawn(labels: pd.DataFrame) -> pd.Series:
    """Per record of a labels frame: a retraction `data import --remove` stored (its id is the label's
    `data.records.withdrawal_id`), which its labeller never made: no undo of theirs, and no activity."""
    if "id" not in labels:  # a frame of some label fields alone (as tests build) holds no withdrawal
        return pd.Series(False, index=labels.index)
    undoing = labels["retracted"].astype(bool) & labels["supersedes"].notna()
    ids = labels.loc[undoing, "supersedes"].map(withdrawal_id)
    return undoing & (labels["id"] == ids.reindex(labels.index))


def withdrawn_labels(labels: pd.DataFrame) -> pd.Series:
    """Per annotator: their labels `data import --remove` withdrew, items whose latest record is such a retraction
    (importing the file again puts the label back)."""
    latest = labels.sort_values("created_at", kind="stable").groupby(["item_id", "annotator"]).tail(1)
    return latest[withdrawn(latest)].groupby("annotator").size()


def machine_column(annotators: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """True where the annotator is a machine (:func:`is_machine` on an Arrow column)."""
    machine = pc.is_in(annotators, value_set=pa.array(sorted(FIXED)))
    for prefix in PREFIXES:
        machine = pc.or_(machine, pc.starts_with(annotators, prefix))
    return machine


def machine_labeller_column(annotators: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """True where the annotator is a judge or a reward model (:func:`is_machine_labeller` on an Arrow column)."""
    found = pc.starts_with(annotators, PREFIXES[0])
    for prefix in PREFIXES[1:]:
        found = pc.or_(found, pc.starts_with(annotators, prefix))
    return found


# Which stored spelling of a name is shown: its earliest stored label's (as data.spellings.EARLIEST takes a text's)
EARLIEST = [("created_at", "ascending"), ("id", "ascending")]


def same_name(name: str) -> str:
    """A labeller's name as names are compared: Unicode NFC, so that ``zoë`` typed with a combining diaeresis
    (NFD) is the ``zoë`` stored precomposed. App users' names are ASCII (`annotate.users`); imported and
    API-written annotators may be anything."""
    return unicodedata.normalize("NFC", name)


def _ascii(annotators: pa.ChunkedArray) -> bool:
    """Every name ASCII (app users' names, the machines'): no name to respell, found in one pass."""
    return pc.all(pc.string_is_ascii(annotators)).as_py() is not False


def _several_spellings(annotators: pa.ChunkedArray) -> dict[str, list[str]]:
    """The names of ``annotators`` stored in several spellings: `same_name` -> the spellings (none where every
    name is ASCII, the usual workspace)."""
    if _ascii(annotators):
        return {}
    spellings: dict[str, list[str]] = {}
    for name in pc.unique(annotators).to_pylist():
        if name is not None:
            spellings.setdefault(same_name(name), []).append(name)
    return {name: found for name, found in spellings.items() if len(found) > 1}


def _respelled(labels: pa.Table, spelling: dict[str, str]) -> pa.Table:
    """``labels`` with each name of ``spelling`` replaced by its value (the column's field kept: not null)."""
    annotators = labels.column("annotator")
    names = pc.unique(annotators)
    shown = pa.array([spelling.get(name, name) for name in names.to_pylist()], pa.string())
    at = labels.schema.get_field_index("annotator")
    return labels.set_column(
        at, labels.schema.field(at), pc.take(shown, pc.index_in(annotators, value_set=names))
    )


def one_spelling(labels: pa.Table) -> pa.Table:
    """``labels`` (annotator, created_at and id at least) with every labeller's name in one spelling: where names
    equal as `same_name` are stored in several spellings, each takes the spelling of the earliest stored label
    among them (`EARLIEST`: created_at, then id; never the part files' order, which a compaction changes). A name
    stored in one spelling keeps it; ``labels`` is returned as it is where no name has several. Nothing stored
    changes: this is how the labels are read."""
    several = _several_spellings(labels.column("annotator"))
    if not several:
        return labels
    spelled = [spelling for found in several.values() for spelling in found]
    rows = labels.select(["annotator", "created_at", "id"])
    rows = rows.filter(pc.is_in(rows.column("annotator"), value_set=pa.array(spelled, pa.string())))
    first: dict[str, str] = {}
    for name in rows.sort_by(EARLIEST).column("annotator").to_pylist():
        first.setdefault(same_name(name), name)
    return _respelled(labels, {name: first[same_name(name)] for name in spelled})


def same_names(labels: pa.Table) -> pa.Table:
    """``labels`` with every name spelled as `same_name` spells it: for a reader of some parts at a time (the app's
    reloads), which cannot know which spelling is stored first; where names are compared, never shown."""
    annotators = labels.column("annotator")
    if _ascii(annotators):
        return labels
    names = [name for name in pc.unique(annotators).to_pylist() if name is not None]
    spelling = {name: same_name(name) for name in names if same_name(name) != name}
    return _respelled(labels, spelling) if spelling else labels


def stored_machine_name(name: str, stored: Iterable[str]) -> str:
    """The machine annotator among ``stored`` that ``name`` (``judge:NAME``, ``rm:NAME``) names: itself when stored
    (as `same_name` compares), else NAME as an existing folder (a leading ``~``: home) names a judge
    (`data.provision.model_label`: its absolute path, what the judge recorded), else the one stored name whose
    folder ends in NAME (``judge:runs/j`` for ``judge:/home/me/runs/j``), else, for ``rm:ID``, the one reward model
    whose model id starts with ID, 8 hex digits or more (`SHORT_ID`: as the leaderboard prints ids; fewer is an
    error). ``name`` as given where none is found; several found is one error naming them."""
    machines = {same_name(s): s for s in stored if is_machine_labeller(s)}
    if not is_machine_labeller(name) or same_name(name) in machines:
        return name
    prefix = next(p for p in PREFIXES if name.startswith(p))
    # `judge:~/runs/j`: the home folder's, as `generate --judge ~/runs/j` (and `rm:~/...`) read it
    folder = expand_home(name.removeprefix(prefix))
    if Path(folder).is_dir():
        return prefix + model_label(folder)
    tail = Path(folder).parts
    found = sorted(
        s
        for s in machines.values()
        if s.startswith(prefix) and tail and Path(s.removeprefix(prefix)).parts[-len(tail) :] == tail
    )
    if not found and prefix == RM_PREFIX and folder and not folder.strip(HEX_DIGITS):
        found = sorted(s for s in machines.values() if s.startswith(name))
        if len(folder) < SHORT_ID:  # it said "no votes by rm:7d9b" beside the votes of rm:7d9b7613...
            starts = f" ({', '.join(found)} start{'s' if len(found) == 1 else ''} with it)" if found else ""
            raise PrefloopError(
                f"--by {name}: too short to name a reward model: give {SHORT_ID} hex digits of its id or more, "
                f"as the board and the lineage lines print it{starts}"
            )
    if len(found) > 1:
        raise PrefloopError(
            f"--by {name}: names several machine labellers ({', '.join(found)}); give one in full"
        )
    return found[0] if found else name
