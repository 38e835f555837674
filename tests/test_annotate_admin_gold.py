"""The admin tab's "Make gold" line says what that press did: a later press of the same item and answer, and a
make-gold of another admin (another app on the workspace) just before or just after, are told as they happened."""

from __future__ import annotations

from types import SimpleNamespace

import data.gold_lock
from annotate.admin import make_gold
from annotate.admin_tab import Selected
from annotate.app import build_app, make_context
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data.gold import mark_gold
from data.records import Completion, Pair, Prompt
from data.workspace import Workspace


def admin_app(path) -> tuple[Workspace, list[str], object]:
    """A workspace of 4 pairs (none gold) and the context of an app on it whose admin is ann."""
    ws = Workspace.init(path)
    records, ids = [], []
    for i in range(4):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "m", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        ids.append(pair.id)
    ws.append(records)
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    return ws, ids, make_context(LabelService(ws, overlap=2), Authenticator(users))


def test_a_later_press_of_the_same_make_gold_says_nothing_changed_not_the_first_line_again(tmp_path):
    """The page's make-gold repeated the line of its previous one of the same item and answer whenever this one
    found nothing to write: meant for a double-click's second (asked before the first's line was on the page), it
    also answered a press made minutes later, once the first's line and redraw were on the page, with "is gold now",
    as if that press had made it gold. Only a press asked right after the previous one (no draw of the page asked
    between: the first's redraw is asked once its line is on the page) says that line again."""
    ws, ids, ctx = admin_app(tmp_path / "ws")
    click = next(fn.fn for fn in build_app(ctx).fns.values() if fn.api_name == "make_gold")
    page, request, item = Selected(), SimpleNamespace(username="ann"), ids[0]
    first = click(item, "b", "", page, 1, True, request)
    assert f"{item} is gold now (answer b); its labels stay" in first
    assert click(item, "b", "", page, 2, True, request) == first  # a double-click's second: the first's line
    # the redraw after it is ticket 3: this press came after the line was on the page
    later = click(item, "b", "", page, 4, True, request)
    assert f"{item} already was gold with answer b (from admin:ann); nothing changed." in later
    assert ws.read("gold").num_rows == 1


def test_two_admins_making_one_item_gold_at_once_each_see_a_true_line(tmp_path, monkeypatch):
    """The "was X" of a make-gold was read before the gold lock was taken, and the answer it names after the write:
    another app's admin making the item gold in between (before this one's lock, or after its write) made this one
    say "answer b" with no "was a", or "answer a" for the b it wrote. Both are read under the lock, as written."""
    ws, ids, ctx = admin_app(tmp_path / "ws")
    other = Workspace(ws.path)  # another app's admin, on the same workspace
    item = ids[1]
    real = data.gold_lock.writers_turn

    def other_first(path, unlocked):  # the other admin's make-gold takes the lock first
        monkeypatch.setattr(data.gold_lock, "writers_turn", real)
        mark_gold(other, [item], ["a"], "admin:bob")
        return real(path, unlocked)

    monkeypatch.setattr(data.gold_lock, "writers_turn", other_first)
    line = make_gold(ctx, "ann", item, "b")
    assert f"{item} is gold now (answer b, was a from admin:bob); its labels stay" in line
    reload = ctx.service.reload

    def other_after():  # the other admin's make-gold right after this one's write
        mark_gold(other, [item], ["b"], "admin:bob")
        reload()

    monkeypatch.setattr(ctx.service, "reload", other_after)
    line = make_gold(ctx, "ann", item, "a")
    assert f"{item} is gold now (answer a, was b from admin:ann); its labels stay" in line
