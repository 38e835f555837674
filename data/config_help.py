"""What an option's ``--help`` line says beyond its own help text (`data.config.add_options`): its default, where the
help does not say it, and the name of its value."""

from __future__ import annotations

import dataclasses

SCALAR_METAVARS = {int: "N", float: "X"}  # a number's value in --help where its field names none


def default_said(field: dataclasses.Field, kind: type) -> str:
    """`` (default: X)`` for a number or text option whose help does not say its default: the flags' defaults stay
    unset for the YAML file to fill (`add_options`), so argparse showed none, and --help said nothing of
    `--max-tokens`' 128 or `--learning-rate`'s 5e-06. A switch, a list, an unset (None) default and a value that
    must be given (``required``, a scalar ``positional``: its default is never used) say nothing; one of several
    that must be given (``one_of``: the flags, `--spin-iter` or `--judge-iter`) says so, not its default, which
    "(default: 0)" offered as if the command ran without either."""
    meta = field.metadata
    if meta.get("one_of"):
        return f" (required: one of {', '.join(meta['one_of'])})"
    help_text, given = meta.get("help", ""), meta.get("required") or meta.get("positional")
    if kind not in (int, float, str) or field.default in (None, "", dataclasses.MISSING) or given:
        return ""
    return "" if "default" in help_text or not help_text else f" (default: {field.default})"
