"""The admin tab and `python -m data stats` count the same labels (`data.selection.verdict_labels`): people's and
imported ones make the verdicts and the agreement among them, SPIN's gold-wins labels never do, and an excluded
labeller is matched as `same_name` in every view."""

from __future__ import annotations

import json
import re
import unicodedata
from html import unescape

import pytest

from annotate.admin import admin_view
from annotate.agreement import admin_report
from annotate.app import make_context
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data import Completion, Label, Pair, Prompt, Workspace
from data.annotators import IMPORT, SPIN
from data.ranking import canonical_ranking, rank_item_id
from data.selection import set_excluded
from data.stats import workspace_stats

PASSWORD = "correct horse battery"
ZOE_NFD = unicodedata.normalize("NFD", "zo\u00eb")  # stored so; excluded.json holds the NFC spelling


def context(ws: Workspace, task: str):
    users = {name: User(name, hash_password(PASSWORD), admin=name == "ann") for name in ("ann", "bob")}
    return make_context(LabelService(ws, task, overlap=2), Authenticator(users))


def card(cards: str, title: str) -> tuple[str, str]:
    """(big figure, detail) of the card titled ``title`` in the admin's cards."""
    found = re.search(
        rf">{re.escape(title)}</div><div class=\"pf-big\">(.*?)</div><div[^>]*>(.*?)</div>", unescape(cards)
    )
    assert found, cards
    return found.group(1), found.group(2)


def test_spin_labels_are_no_verdict_in_stats_or_the_admin_tab(tmp_path):
    """Stats counted SPIN's gold-wins label as a labelled pair (2 pairwise items where the admin tab said 1): a
    SPIN pair is nobody's judgement. Both now count the sampled pair, with its imported label."""
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Capital of France?"}], gold="Paris.", source="t")
    gold, own, other = (Completion(prompt.id, text, "m", "hf") for text in ("Paris.", "Lyon.", "Nice."))
    spin, sampled = Pair(prompt.id, gold.id, own.id, "spin"), Pair(prompt.id, own.id, other.id, "sampled")
    ws.append([prompt, gold, own, other, spin, sampled, Label(spin.id, SPIN, "pairwise", "a")])
    ws.append([Label(sampled.id, who, "pairwise", choice) for who, choice in (("ann", "a"), (IMPORT, "b"))])
    stats = workspace_stats(ws)
    verdicts = admin_report(ws.frame("labels"), "pairwise")["verdicts"]
    assert stats["pairwise_items"]["labelled"] == len(verdicts) == 1
    assert list(verdicts["item_id"]) == [sampled.id] and stats["pairwise_items"]["split_votes"] == 1
    assert stats["labels"] == {"pairwise": {"a": 1, "b": 1, "tie": 0, "both_bad": 0}}
    assert stats["machine_annotators"] == {IMPORT: 1, SPIN: 1}  # SPIN's label is still counted, as its own


def rank_workspace(path) -> tuple[Workspace, list[str]]:
    """One prompt with three answers (one rank item), ranked best first by ann, by zoë (stored decomposed, and
    excluded) the same way, and worst first by the import."""
    ws = Workspace.init(path)
    prompt = Prompt([{"role": "user", "content": "Name a colour."}], source="t")
    answers = [
        Completion(prompt.id, text, "m", "hf", seed=i) for i, text in enumerate(("Blue.", "Red.", "No."))
    ]
    ids = [a.id for a in answers]
    item = rank_item_id(prompt.id, 0)
    best, worst = canonical_ranking(">".join(ids)), canonical_ranking(">".join(reversed(ids)))
    ws.append([prompt, *answers])
    ws.append(
        [
            Label(item, "ann", "rank", None, ranking=best),
            Label(item, ZOE_NFD, "rank", None, ranking=best),
            Label(item, IMPORT, "rank", None, ranking=worst),
        ]
    )
    set_excluded(ws.path, "zo\u00eb", True)
    return ws, ids


def test_rank_agreement_is_the_same_in_stats_and_the_admin_tab(tmp_path):
    """The admin's rank card measured people's rankings only (stats: imported ones too) and compared excluded
    names exactly, so a decomposed zoë in excluded.json stayed in: it said τ-b 1.000 over ann's and zoë's rankings
    where stats said -1.000 over ann's and the import's."""
    ws, _ = rank_workspace(tmp_path / "ws")
    figures = workspace_stats(ws)["rank_items"]
    assert (figures["rankings"], figures["kendall_tau"]) == (2, pytest.approx(-1.0))
    cards = admin_view(context(ws, "rank"), "ann")[0]
    assert card(cards, "rankings") == ("2", "of 1 item; people's and imported labels; excluded: zo\u00eb")
    assert card(cards, "Kendall's τ-b")[0] == "-1.000"
    assert card(cards, "pair votes")[0] == "6 all / 4 adjacent"  # the two rankings counted, each once


def test_rate_agreement_is_the_same_in_stats_and_the_admin_tab(tmp_path):
    """The admin's rate cards measured people's ratings only (stats: imported ones too), and said "0 answers" where
    one answer had two ratings (and would have said "1 answers")."""
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "2 + 2?"}], source="t")
    answer = Completion(prompt.id, "4", "m", "hf")
    aspects = ["coherence", "complexity", "correctness", "helpfulness", "verbosity"]
    rated = [("ann", 3), (IMPORT, 1)]
    ws.append([prompt, answer])
    ws.append(
        [
            Label(
                answer.id,
                who,
                "rate",
                None,
                ratings=json.dumps(dict.fromkeys(aspects, v)),
                rubric="helpsteer2",
            )
            for who, v in rated
        ]
    )
    alpha = workspace_stats(ws)["rate_items"]["alpha_per_aspect"]["helpfulness"]
    assert alpha["items"] == 1
    big, detail = card(admin_view(context(ws, "rate"), "ann")[0], "α helpfulness (interval)")
    assert big == ("n/a" if alpha["interval"] is None else f"{alpha['interval']:.3f}")
    assert detail.endswith("; 1 answer with ≥2 ratings (people's and imported labels)")
