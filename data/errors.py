"""The one base class of the errors a user can act on (bad input, a missing file, an option out of range).

Every CLI prints such an error as one line and exits non-zero; anything else is a bug and keeps its traceback.
It derives from ValueError so that callers catching ValueError keep working.
"""

from __future__ import annotations


class PrefloopError(ValueError):
    """An error in what the user gave us: the message names the file, row, field or option and the fix."""
