"""HTML for the app, built from escaped text only: prompts and model outputs are data, never markup.

Every string that came from a prompt, a completion or a labeller goes through ``html.escape`` and into a
``white-space: pre-wrap`` block, so ``<script>``, ``onerror=`` attributes and ``javascript:`` links show as text.
Invisible characters are replaced by visible markers (``⟦RLO⟧``, ``⟦NUL⟧``, ``⟦ZWSP⟧``), on screen only (what is stored
and exported stays as written): a bidi control left in reorders what is shown (``"\u202eevil.exe"`` reads as
"exe.live"), and a control or zero-width character shows as nothing (the browser drops NUL), so a labeller would judge
text that is not what the model wrote, or two different answers that look the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from html import escape
from pathlib import PurePath
from urllib.parse import quote

from data.intervals import FIGURE_DIGITS, figure_text

# The bidi embedding, override and isolate controls and the invisible direction marks, by their Unicode abbreviation.
BIDI = {"\u202a": "LRE", "\u202b": "RLE", "\u202c": "PDF", "\u202d": "LRO", "\u202e": "RLO"}
BIDI.update({"\u2066": "LRI", "\u2067": "RLI", "\u2068": "FSI", "\u2069": "PDI"})
BIDI.update({"\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM"})
# The other invisible characters by theirs: the C0 controls, DEL and the zero-width and separator characters
C0 = "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US"
NAMES = {chr(code): name for code, name in enumerate(C0.split())} | {"\x7f": "DEL", "\xad": "SHY"} | BIDI
NAMES |= {"\u200b": "ZWSP", "\u200c": "ZWNJ", "\u200d": "ZWJ", "\u2060": "WJ", "\ufeff": "BOM"}
NAMES |= {"\u2028": "LS", "\u2029": "PS"} | {chr(0xFE00 + i): f"VS{i + 1}" for i in range(16)}
# Shown as a marker: every control, format and line or paragraph separator character (Unicode categories Cc, Cf,
# Zl, Zp), a nameless one as ``⟦U+E0041⟧``; tab and newline are the text's own layout, and so is CR before LF (a
# CRLF line end is one line break). The joiners and variation selectors (`CONTEXTUAL`) are written where they shape
# what is seen; elsewhere they hide a difference as the others do, and show as theirs.
INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
LAYOUT = frozenset("\t\n")
JOINERS = "\u200c\u200d"  # ZWNJ, ZWJ: emoji sequences (👩‍💻), Persian, Arabic and Indic words
SELECTORS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"  # variation selectors: ❤️ (U+2764 U+FE0F), 1️⃣
KEYCAPS = frozenset("#*0123456789")  # the ASCII a selector follows: 1️⃣ is 1, U+FE0F, U+20E3
CONTEXTUAL = re.compile(f"[{JOINERS}{SELECTORS}]")
_SELECTOR = re.compile(f"[{SELECTORS}]")


def _seen(char: str) -> bool:
    """A character that shows something, or is of one (a variation selector): no space, control or format one."""
    return not (char.isspace() or unicodedata.category(char) in INVISIBLE)


def _shapes(text: str, at: int) -> bool:
    """Whether the joiner or variation selector at ``at`` shapes what is seen, so is shown as written: a joiner
    between two visible characters outside ASCII (a variation selector counting as one: ❤️‍🔥), a selector right
    after a visible character outside ASCII or a keycap's (its base). Anywhere else (at an edge, beside a space or
    another invisible character, after or between ASCII letters, where it shapes nothing) it hides a difference,
    and is marked."""
    before = text[at - 1] if at else " "
    if text[at] not in JOINERS:
        return _seen(before) and not _SELECTOR.match(before) and (ord(before) > 0x7F or before in KEYCAPS)
    after = text[at + 1] if at + 1 < len(text) else " "
    return all(ord(c) > 0x7F and _seen(c) for c in (before, after))


class _Markers(dict):
    """A ``str.translate`` table that finds each character's replacement at its first use: its marker (``marker``
    of its name) where it is invisible, else itself."""

    def __init__(self, marker: Callable[[str, str], str]):
        super().__init__()
        self.marker = marker

    def __missing__(self, code: int) -> str:
        char = chr(code)
        invisible = char not in LAYOUT and (unicodedata.category(char) in INVISIBLE or _SELECTOR.match(char))
        self[code] = self.marker(char, NAMES.get(char, f"U+{code:04X}")) if invisible else char
        return self[code]

    def mark(self, text: str) -> str:
        """``text`` with its invisible characters replaced by their markers, but what is layout or shapes the
        text (`_shapes`) as written; a CRLF line end as a newline."""
        text = text.replace("\r\n", "\n")
        pieces, start = [], 0
        for found in CONTEXTUAL.finditer(text):
            at = found.start()
            pieces += [text[start:at].translate(self), text[at] if _shapes(text, at) else self[ord(text[at])]]
            start = at + 1
        return "".join(pieces) + text[start:].translate(self)


_MARKED_TEXT = _Markers(lambda char, name: f"⟦{name}⟧")
_MARKED_HTML = _Markers(
    lambda char, name: f'<span class="pf-invisible" title="invisible U+{ord(char):04X}">⟦{name}⟧</span>'
)

STRENGTHS = {4: "significantly better", 3: "better", 2: "slightly better", 1: "negligibly better / unsure"}


def show_invisible(text: str) -> str:
    """``text`` with each invisible character (a bidi or other control, a zero-width character) replaced by a
    visible marker such as ``⟦RLO⟧``, but for tab, newline, CRLF and the joiners and variation selectors that shape
    the text (`_Markers.mark`)."""
    return _MARKED_TEXT.mark(text)


def text_block(text: str) -> str:
    # HTML drops one newline right after <pre>: the text's own leading blank line would vanish with it
    return f'<pre class="pf-text">\n{_MARKED_HTML.mark(escape(text))}</pre>'


RECENT_TURNS = 4  # turns of a conversation shown open; the earlier ones fold behind "N earlier turns"


def _turn_html(message: dict, number: int, numbered: bool) -> str:
    role = escape(message["role"])
    head = f"{role} · turn {number}" if numbered else role
    text = text_block(message["content"])
    return f'<div class="pf-turn pf-{role}"><div class="pf-role">{head}</div>{text}</div>'


def chat_html(messages: Sequence[dict], recent: int = RECENT_TURNS) -> str:
    """A prompt as a conversation, the one view of a prompt in every task: each turn under its role, the turns
    before the last ``recent`` folded in a <details> (its summary is reachable with Tab, and the `c` key opens
    and closes it), and a last line saying the answers shown below are the assistant's next turn. Every text is
    escaped (``text_block``)."""
    numbered = len(messages) > 1
    turns = [_turn_html(m, n, numbered) for n, m in enumerate(messages, start=1)]
    cut = max(len(turns) - recent, 0)
    earlier, shown = turns[:cut], turns[cut:]
    folded = ""
    if earlier:
        count = f"{len(earlier)} earlier turn{'s' if len(earlier) > 1 else ''}"
        folded = (
            f'<details class="pf-earlier"><summary>{count} <kbd>c</kbd></summary>{"".join(earlier)}</details>'
        )
    after = ""
    if numbered:
        after = f'<div class="pf-next">assistant · turn {len(messages) + 1}: the answer labelled below</div>'
    return f'<div class="pf-prompt">{folded}{"".join(shown)}{after}</div>'


LONG_ANSWER = 2000  # characters shown before the rest of an answer folds away behind "show all"


def long_text_block(text: str, limit: int = LONG_ANSWER) -> str:
    """``text_block``, with what is past ``limit`` characters folded in a <details> ("show all"): a 20,000-character
    answer no longer pushes the choices off the screen, and the keys still reach them (no focus is taken)."""
    if len(text) <= limit + 200:  # not worth folding a few lines
        return text_block(text)
    cut = text.rfind("\n", limit - 400, limit)
    cut = cut + 1 if cut > 0 else limit
    rest = len(text) - cut
    return (
        f'{text_block(text[:cut])}<details class="pf-more"><summary>show all ({rest:,} more characters)</summary>'
        f"{text_block(text[cut:])}</details>"
    )


def card_html(title: str, key: str, text: str, note: str = "") -> str:
    extra = f'<span class="pf-muted">{escape(note)}</span>' if note else ""
    return (
        f'<div class="pf-card"><div class="pf-card-head"><span class="pf-side">{escape(title)}</span>'
        f"<kbd>{escape(key)}</kbd>{extra}</div>{long_text_block(text)}</div>"
    )


def message_html(text: str, kind: str = "info", refused: bool = False) -> str:
    """A status line; ``refused``: the answer to a submit or an edit's save that stored nothing, marked
    ``data-refused`` for the page script (annotate.restore_script's `refusal`: not told by its words)."""
    mark = " data-refused" if refused else ""
    return f'<div class="pf-message pf-{kind}"{mark}>{escape(text)}</div>'


ECHO = 80  # characters of what a user typed that a message repeats; the rest is cut to "…"
# a long run of one word: a piece of an input that an error may name (one answer id of a huge ranking)
_RUN = re.compile(rf"[^\s'\"]{{{ECHO + 1},}}")


def clip(text: str, limit: int = ECHO) -> str:
    """``text`` to its first ``limit`` characters and "…" where it is longer."""
    return text if len(text) <= limit else text[:limit] + "…"


def echo_cut(text: str, given: Iterable[str | None]) -> str:
    """``text`` (a message) with what it repeats of the user's inputs ``given`` cut to `ECHO` characters: an input
    as typed, stripped or quoted (errors quote a ranking with repr), and any longer run of one of them (the one
    answer id of a ranking an error names). A 200,000-character item id comes back as 80 characters and "…"."""
    given = [value for value in given if isinstance(value, str) and len(value.strip()) > ECHO]
    for value in given:
        for form in sorted({value, value.strip(), repr(value), repr(value.strip())}, key=len, reverse=True):
            text = text.replace(form, clip(form))
    if not given:
        return text
    return _RUN.sub(lambda run: clip(run[0]) if any(run[0] in value for value in given) else run[0], text)


def hide_paths(text: str, workspace: Iterable[str], files: Iterable[str] = ()) -> str:
    """``text`` (an error's line, shared with the CLI, where its paths are right) with the server's paths taken out:
    a file in the ``workspace`` (its path as given, and resolved) by its name there (``excluded.json``), the
    workspace itself as "this workspace", and each of ``files`` (gold files given to `data gold`) by its file name."""
    for path in sorted(set(files), key=len, reverse=True):
        text = text.replace(path, PurePath(path).name or path)
    roots = sorted(set(workspace), key=len, reverse=True)
    plain = "|".join(map(re.escape, roots))
    # a file URL names the path percent-encoded (Path.as_uri): either form, the scheme going with it
    url = "|".join(re.escape(form) for form in sorted({*roots, *map(quote, roots)}, key=len, reverse=True))
    # Right after a colon (an annotator's name, rm:/srv/ws/runs/rm-1): an absolute root, or any root followed by a
    # separator, so that a relative root ("ws") is not taken for a word after a colon (a labeller admin:ws).
    absolute = "|".join(re.escape(root) for root in roots if root.startswith("/"))
    colon = rf"(?<=:)(?:{f'{absolute}|' if absolute else ''}(?:{plain})(?=[/\\]))"
    # A root as a whole path only: at the start of a word, a quote, a bracket or a value (name=PATH), after a
    # colon as above, or after file://; ending at a separator (a file in it) or where the path ends: the text's
    # end, white space, a quote, a bracket, = or punctuation (a sentence's "." or "!" only before one of those:
    # "ws.old" is another folder)
    end = r"[\s'\",:;)\[\]=]"
    within = re.compile(
        rf"(?:file://(?:{url})|(?<![^\s'\"(\[=])(?:{plain})|{colon})(?:[/\\]|(?=[.!]?(?:{end}|$)))"
    )
    return within.sub(lambda m: "" if m[0][-1] in "/\\" else "this workspace", text)


def progress_html(user: str, progress: dict, item_round: int | None = None, held: bool = False) -> str:
    """The labeller's own progress (labelled of labelled + left for them) beside the team's: items at K labels, or,
    with gold items mixed in (``team_items`` false), only the labels (an item count would move for a regular label
    and not for a gold one). ``held``: the items left for them are held by other labellers now."""
    items, done, overlap = progress["items"], progress["done"], progress["overlap"]
    mine, remaining = progress["mine"], progress["remaining"]
    now = f"this item: round {item_round} · " if item_round is not None else ""
    left = f"{remaining} left for you"
    if held and remaining:  # a labeller holds one item at a time: n items held are n other labellers' holds
        left += f" · held by {'another labeller' if remaining == 1 else 'other labellers'}"
    own = 100 * mine / (mine + remaining) if mine + remaining else 100
    head = (
        '<div class="pf-progress">'
        f'<div class="pf-stat"><b>{escape(user)}</b> · {mine} labelled · {progress["skipped"]} skipped'
        f" · {left}</div>"
        f'<div class="pf-bar pf-bar-own" title="you: {mine} of {mine + remaining} items labelled">'
        f'<div class="pf-fill" style="width:{own:.1f}%"></div></div>'
    )
    if not progress.get("team_items", True):
        return (
            head
            + f'<div class="pf-stat pf-muted">{now}everyone: {progress["labels"]} labels (K={overlap})</div></div>'
        )
    if not items and progress.get("no_items"):  # "0/0 items done" said nothing of why
        return head + (
            f'<div class="pf-stat pf-muted">{now}everyone: no items to label ({escape(progress["no_items"])}) · '
            f"{progress['labels']} labels</div></div>"
        )
    share = 100 * done / items if items else 100
    rounds = " · ".join(f"round {r}: {c.get('done', 0)}/{c['items']}" for r, c in progress["rounds"].items())
    return head + (
        f'<div class="pf-bar" title="everyone: {done} of {items} items have {overlap} label(s)">'
        f'<div class="pf-fill pf-fill-team" style="width:{share:.1f}%"></div></div>'
        f'<div class="pf-stat pf-muted">{now}everyone: {done}/{items} items done (K={overlap}) · '
        f"{progress['labels']} labels · {escape(rounds)}</div></div>"
    )


# The keys that do something with no item on screen ("All done"): undo and the guidelines (the page script's
# `ITEM_FREE`, annotate.assets); the others' rows are marked, and hidden there (annotate.stylesheet)
NO_ITEM_KEYS = ("u  or  Ctrl+Z", "g")


def keys_html(keys: Sequence[tuple[str, str]]) -> str:
    marked = {k: "" if k in NO_ITEM_KEYS else ' class="pf-item-key"' for k, _ in keys}
    rows = "".join(
        f"<tr{marked[k]}><td><kbd>{escape(k)}</kbd></td><td>{escape(what)}</td></tr>" for k, what in keys
    )
    return f'<table class="pf-keys">{rows}</table>'


def table_html(columns: Sequence[str], rows: Sequence[Sequence[object]], empty: str = "nothing yet") -> str:
    if not rows:
        return message_html(empty, "muted")
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    table = f'<table class="pf-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="pf-scroll">{table}</div>'  # scrolls sideways on a phone instead of being cut off


def cards_html(cards: Sequence[tuple[str, str, str]]) -> str:
    """Big-number summary cards: (title, value, detail)."""
    inner = "".join(
        f'<div class="pf-kpi"><div class="pf-muted">{escape(t)}</div><div class="pf-big">{escape(v)}</div>'
        f'<div class="pf-muted">{escape(d)}</div></div>'
        for t, v, d in cards
    )
    return f'<div class="pf-kpis">{inner}</div>'


def excerpt(text: str, length: int = 80) -> str:
    flat = " ".join(show_invisible(text).split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def prompt_excerpt(item, length: int = 80) -> str:
    """The excerpt of an item's last prompt turn (``item``: an `annotate.items.Item`, or None: an empty string)."""
    return excerpt(item.prompt[-1]["content"], length) if item else ""


def figure(value: float | None, digits: int = FIGURE_DIGITS) -> str:
    """An agreement figure for a card, as `data stats` prints it (`figure_text`): ``n/a`` where there is none (too
    few items)."""
    return figure_text(value, digits, "n/a")
