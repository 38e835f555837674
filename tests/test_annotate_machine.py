"""Routing with machine labellers: `--order machine-uncertain`, and `--suggest` with its hidden 20 % slice, through
the service and the app's handlers."""

from __future__ import annotations

from annotate.app import make_context, on_load
from annotate.service import HIDDEN_SHARE, LabelService, suggestion_hidden
from annotate.users import Authenticator
from data import Label


def judge_labels(ws, choices_and_confidence):
    pairs = ws.frame("pairs").sort_values("created_at")["id"].tolist()
    ws.append(
        [
            Label(p, "judge:j", "pairwise", c, confidence=conf)
            for p, (c, conf) in zip(pairs, choices_and_confidence)
        ]
    )
    return pairs


def test_machine_uncertain_order_gives_humans_the_least_sure_pairs_first(label_ws):
    pairs = judge_labels(
        label_ws, [("a", 0.9), ("b", 0.2), ("tie", 1.0)]
    )  # the 4th pair has no machine label
    service = LabelService(label_ws, order="machine-uncertain")
    seen = []
    while (shown := service.show("ann")) is not None:
        seen.append(shown.item.id)
        service.submit("ann", shown.item.id, "left")
    assert seen == [pairs[2], pairs[1], pairs[0], pairs[3]]


def test_hidden_slice_is_about_a_fifth_and_fixed():
    hidden = [suggestion_hidden(f"item{i}", "ann") for i in range(2000)]
    assert abs(sum(hidden) / len(hidden) - HIDDEN_SHARE) < 0.03
    assert hidden == [suggestion_hidden(f"item{i}", "ann") for i in range(2000)]


def test_suggest_shows_the_machine_pick_except_on_the_hidden_slice(label_ws):
    judge_labels(label_ws, [("a", 1.0)] * 4)
    service = LabelService(label_ws, overlap=6, suggest=True)
    ctx = make_context(service, Authenticator({}))
    modes = {}
    for user in ("ann", "bob", "cy", "dee", "eve", "fay"):
        while (shown := service.show(user)) is not None:
            hidden = suggestion_hidden(shown.item.id, user)
            assert shown.suggestion_mode == ("hidden" if hidden else "shown")
            assert (shown.suggestion is None) == hidden
            view = on_load(ctx, user)
            assert ("Machine suggestion" in view.prompt) == (not hidden)
            if not hidden:  # the pick in screen terms: completion a is on the left or the right
                assert ("A better" if shown.left == "a" else "B better") in view.prompt
            label = service.submit(user, shown.item.id, "left")
            modes[(shown.item.id, user)] = label.suggestion
    assert len(modes) == 24 and set(modes.values()) == {"shown", "hidden"}
    stored = label_ws.frame("labels")
    people = stored[stored["annotator"] != "judge:j"]
    assert dict(zip(zip(people["item_id"], people["annotator"]), people["suggestion"])) == modes


def test_admin_cards_show_machine_agreement_and_follow_rate(label_ws):
    from annotate.admin import machine_cards
    from annotate.agreement import admin_report

    pairs = judge_labels(label_ws, [("a", 1.0)] * 4)
    label_ws.append(
        [
            Label(p, "ann", "pairwise", c, suggestion=m)
            for p, c, m in zip(pairs, "aabb", ["shown", "shown", "hidden", None])
        ]
    )
    report = admin_report(label_ws.frame("labels"), "pairwise", label_ws.frame("pairs"))
    cards = machine_cards(report)
    assert (
        cards[0][0] == "judge:j vs people (κ)" and "agree 0.500, 0.500 without ties; 4 pairs" in cards[0][2]
    )
    assert cards[1] == ("suggestion followed (2 shown)", "1.000", "hidden: 0.000 of 1")  # as `data stats`
