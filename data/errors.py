"""The one base class of the errors a user can act on (bad input, a missing file, an option out of range), how
such an error shows a value the user gave, and how a line says a count (`counted`).

Every CLI prints such an error as one line and exits non-zero; anything else is a bug and keeps its traceback.
It derives from ValueError so that callers catching ValueError keep working.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

ECHO = 40  # characters of a value from the user's input that an error line repeats; the rest is cut to "…"
# characters of a name from the user's input (a column, a record's key) a line repeats: enough for any real column
# name whole; a longer one keeps its end too, where names differing in a number or version tell themselves apart
NAME_WIDTH = 120
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, line and paragraph separators


class PrefloopError(ValueError):
    """An error in what the user gave us: the message names the file, row, field or option and the fix."""


def cut(text: str) -> str:
    """``text`` cut to `ECHO` characters, the last of them "…" where it was longer."""
    return text if len(text) <= ECHO else text[: ECHO - 1] + "…"


def quoted(text: str) -> str:
    """``text`` quoted, short enough for one line however long (an answer's text, a ranking from a file)."""
    return repr(cut(text))


def shown(value: object) -> str:
    """A value from the user's input as an error line shows it: text `quoted`, anything else as JSON spells it
    (``null``, ``true``, ``[1, null]``: Python's None in "None is not an answer number" was no word of the file),
    else its repr (a Parquet date), `one_line` and cut to `ECHO` characters (a ranking number 1e300 is 301 digits)."""
    if isinstance(value, str):
        return quoted(value)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # no JSON value, or one holding itself
        text = repr(value)
    return cut(one_line(text))


def number_shown(value: object) -> str:
    """A flag's number as a line quotes it back, in one short form however it was typed or stored: a float that is
    a whole number without its ".0" (`--min-posterior 0` was echoed "0.0"), any other as repr writes it (``0.1``,
    ``1e-06``: every digit, where ``:g`` cut 0.123456789 to 0.123457); anything else (an int, text) as str."""
    return repr(value).removesuffix(".0") if isinstance(value, float) else str(value)


def one_line(message: str) -> str:
    """``message`` with its control characters (a newline, an escape sequence, a Unicode line separator) written
    as repr writes them (``\\n``, ``\\x1b``): an id or value the user typed cannot break the error line in two or
    restyle the terminal. Any other text, non-ASCII included, is left as it is."""
    return CONTROL.sub(lambda match: repr(match.group())[1:-1], message)


def check_file_name(
    path: str | Path, becomes: str, instead: str | None, error: type[PrefloopError] = PrefloopError
) -> None:
    """Refuse a file whose name (less its extension) holds a control character (a newline) where that name would
    become ``becomes`` (an import's source, a rubric's name, a gold file's answers' source), which lines and logs
    repeat; ``instead`` says how to name it otherwise (None: there is no other way than renaming the file)."""
    bad = CONTROL.search(Path(path).stem)
    if bad:
        raise error(
            f"{one_line(str(path))}: the file's name holds a control character ({bad.group()!r}), and it would be "
            f"{becomes}; rename the file{f' or give {instead}' if instead else ''}"
        )


def cut_name(name: str, at: int | None = None) -> str:
    """``name`` whole up to `NAME_WIDTH` characters, else its start and end with "…" between, `NAME_WIDTH` in all;
    with ``at`` (where it differs from a name cut to the same), its start, the characters around ``at`` and its
    end, a third each."""
    if len(name) <= NAME_WIDTH:
        return name
    if at is None:
        head = NAME_WIDTH // 2
        return name[:head] + "…" + name[len(name) - (NAME_WIDTH - head - 1) :]
    part = (NAME_WIDTH - 2) // 3
    middle = min(max(at - part // 2, part), len(name) - 2 * part)
    return name[:part] + "…" + name[middle : middle + part] + "…" + name[len(name) - part :]


def names_shown(names: Iterable[object], limit: int | None = None) -> str:
    """Names from the user's input (a record's keys, a file's columns) as one line lists them: each `one_line`
    and `cut_name` (a key of 5,000 characters, or one holding a newline, was repeated whole; two columns cut to
    the same 40 characters could not be told apart), the first ``limit`` of them; "none" where there are none.
    Names cut to the same text (differing only in their middle) keep where they differ too; names that still read
    alike (differing only in how often a character repeats: ``a`` × 200 + ``1``, ``a`` × 201 + ``1``) add their
    length; any alike even so (of one length, as no real names are) are shown whole."""
    shown = [str(name) for name in list(names)[:limit]]
    told = _retold({name: cut_name(name) for name in shown}, lambda name, _, alike: _told_apart(name, alike))
    told = _retold(told, lambda name, text, _: f"{text} ({len(name)} characters)")
    told = _retold(told, lambda name, _, __: name)
    return ", ".join(name_line(told[name]) for name in shown) or "none"


def name_line(name: str) -> str:
    """A name from the user's input `one_line`, its backslashes doubled as repr writes them: a column named with a
    newline (``a\\nb``) and one typed with a backslash and an n (``a\\\\nb``) were both shown ``a\\nb``."""
    return one_line(name.replace("\\", "\\\\"))


def _retold(told: dict[str, str], how: Callable[[str, str, set[str]], str]) -> dict[str, str]:
    """``told`` (name: its text) with each name that reads alike with others told ``how`` (name, text, the names
    alike)."""
    alike: dict[str, set[str]] = {}
    for name, text in told.items():
        alike.setdefault(text, set()).add(name)
    return {
        name: how(name, text, alike[text]) if len(alike[text]) > 1 else text for name, text in told.items()
    }


def _told_apart(name: str, alike: set[str]) -> str:
    """`cut_name` of ``name``, around where it differs from the most like it of the other names of ``alike``."""
    return cut_name(name, max(len(os.path.commonprefix([name, other])) for other in alike - {name}))


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, in the plural (``plural``, else ``noun`` + "s") unless ``n`` is 1: "1 pair", "2 pairs"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def first_line(exc: BaseException) -> str:
    """A library's error as one line: its type and its message's first line (the rest is a traceback's)."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def comma_parts(where: str, value: str, error: type[PrefloopError] = PrefloopError) -> list[str]:
    """``value``'s comma-separated parts, spaces around each dropped; an empty one (``a,,b``, ``a,``: a name deleted
    and its comma left) is refused, not passed over (`--arena 'm1,,m2'` ran two models, silently)."""
    parts = [part.strip() for part in value.split(",")]
    if "" in parts:
        raise error(f"{where}: {value!r} has an empty name between its commas; give each name once")
    return parts
