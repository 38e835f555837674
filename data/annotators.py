"""Machine annotators: the label table's authors that are not people, named once for every package.

A label's ``annotator`` is a labeller's user name, or one of these:
- ``import``: a preference or KTO label that came with an imported data set;
- ``spin``: SPIN's gold-wins label (the gold answer is preferred by construction);
- ``judge:<model>``: an LLM judge's verdict; ``rm:<model id>``: a reward model's verdict (``rm:FOLDER`` for one
  named by its folder outside the manifest).

None of them is a labeller: they are reserved as user names, never counted towards an item's K labellers, and
left out of the app's progress, admin view and agreement; `python -m data stats` shows them separately.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

IMPORT = "import"
SPIN = "spin"
JUDGE_PREFIX = "judge:"
RM_PREFIX = "rm:"
FIXED = frozenset({IMPORT, SPIN})
PREFIXES = (JUDGE_PREFIX, RM_PREFIX)
# Names no labeller may take: the fixed machine names and the bare prefixes (user names cannot hold ':').
RESERVED_USER_NAMES = frozenset({IMPORT, SPIN, JUDGE_PREFIX.rstrip(":"), RM_PREFIX.rstrip(":")})


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
