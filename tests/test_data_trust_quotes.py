"""The trust quoted of rows left out `unchecked` (`rank_unchecked`): wherever a count of them is shown (export,
train's workspace and held-out lines, a resumed run's), and as `stats --labellers` and the admin tab show a
labeller's trust, one text by one rule (`data.intervals.trust_text`)."""

from __future__ import annotations

import json
import re

from annotate.admin import admin_view
from annotate.app import make_context
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data.__main__ import main
from data.aggregate import aggregate, current_labels
from data.intervals import trust_text
from data.labeller_dawid_skene import dawid_skene_figures
from data.ranking import canonical_ranking, rank_item_id
from data.records import Completion, Label, Prompt
from data.schemas import CHOICES
from data.workspace import Workspace
from tests.test_data_min_posterior import JUST_BELOW, dan_and_eve, unchecked_note
from tests.test_train import build_workspace
from train.pairs import preference_rows
from train.report import eval_line

SURE = {"aggregate": "dawid-skene", "min_posterior": 0.9}
HELD = {"held_out": 0, "evaluated": 0, "beyond_eval_limit": 0, "excluded": {}, "truncated": 0}


def held_out_ranking(tmp_path, test: int):
    """`dan_and_eve` with ``test`` pairs held out, and a held-out prompt's 3 answers ranked by fay alone: the 3
    pairs of her ranking are one labeller's answers nobody checks, at trust 0.800."""
    ws = dan_and_eve(tmp_path, test=test)
    prompt = Prompt([{"role": "user", "content": "Rank us"}], "t", split="test")
    answers = [Completion(prompt.id, f"answer {i}", "m", "hf", seed=i) for i in range(3)]
    ranking = canonical_ranking(">".join(a.id for a in answers))
    ws.append([prompt, *answers, Label(rank_item_id(prompt.id, 0), "fay", "rank", None, ranking=ranking)])
    kinds = ("sampled", "rank")
    _, counts = preference_rows(ws, "train", kinds, **SURE)
    _, held = preference_rows(ws, "test", kinds, held_out=True, **SURE)
    return {
        "data_counts": counts,
        "eval_counts": held,
        "data_trust": counts.trust,
        "eval_trust": held.trust,
        "verdicts": SURE,
        "eval_rows": HELD,
    }


def test_the_held_out_line_quotes_the_trust_of_its_rankings_unchecked_pairs_too(tmp_path):
    """fay's 3 held-out rank pairs were counted rank_unchecked at trust 0.800 and the held-out line said nothing
    of them: it named and quoted only the pairs' `unchecked`. It names both counts and quotes the trust of both,
    where the workspace line said what such rows are and where it did not, each count beside its reason: the line
    lists no ranking's pairs, and "unchecked 8" stood before "unchecked and rank_unchecked: 11 rows"."""
    # dan's and eve's pairs held out: the workspace line has none
    alone = held_out_ranking(tmp_path / "a", test=8)
    held, trust = alone["eval_counts"], alone["eval_trust"]
    assert (held["rank_unchecked"], trust["rank_unchecked"]) == (3, {"0.800": 3})
    assert eval_line(alone).endswith(
        f"0 truncated to fit; {unchecked_note(11, 'unchecked 8 and rank_unchecked 3', trust='0.800–0.87998')}"
    )
    # eve's pairs held out, dan's trained: the workspace line has it
    both = held_out_ranking(tmp_path / "b", test=4)
    assert eval_line(both).endswith(
        "; unchecked 4 and rank_unchecked 3: 7 rows at their labeller's trust (here 0.800; what that is: the "
        "workspace line)"
    )
    ranked = held_out_ranking(tmp_path / "c", test=0)  # the held-out split's only unchecked rows: fay's
    assert eval_line(ranked).endswith(
        "; rank_unchecked: 3 rows at their labeller's trust (here 0.800; what that is: the workspace line)"
    )


def just_below(tmp_path, pattern: str = JUST_BELOW) -> Workspace:
    """`JUST_BELOW`'s KTO labels (or ``pattern``'s, one word per answer, one letter per labeller): dan's 3 lone
    undesirable answers stay out of the fit at his trust, 0.89981."""
    ws = build_workspace(tmp_path / "ws", count=15, annotators=())
    answers = ws.frame("completions")["id"].tolist()
    choice = {"d": "desirable", "u": "undesirable"}
    ws.append(
        [
            Label(answer, name, "kto", choice[c])
            for answer, labels in zip(answers, pattern.split())
            for name, c in zip(("ann", "bob", "cyd", "dan"), labels)
            if c != "-"
        ]
    )
    return ws


def admin_kto_column(ws: Workspace, column: str, table: int = 1) -> dict[str, str]:
    """A column of the KTO app's admin tables (1: labellers, 2: disputed items; Dawid–Skene's verdicts), by row."""
    users = {"lead": User("lead", hash_password("correct horse battery"), admin=True)}
    html = admin_view(make_context(LabelService(ws, task="kto"), Authenticator(users)), "lead", "dawid-skene")
    columns = re.findall(r"<th>(.*?)</th>", html[table])
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html[table])]
    return {row[0]: dict(zip(columns, row))[column] for row in cells if row}


def admin_kto_trust(ws: Workspace) -> dict[str, str]:
    """The trust column of the KTO app's admin labellers table, by labeller."""
    return admin_kto_column(ws, "trust")


def test_stats_and_the_admin_tab_show_the_trust_the_export_quotes(tmp_path, capsys):
    """dan's trust, 0.89981: the export's note, below --min-posterior 0.9, quoted 0.8998, while `stats
    --labellers`, its JSON and the admin tab's table said 0.900, as if a floor of 0.9 kept his rows. All show
    0.8998, by one rule, the note at every floor (at 0.95 it said 0.900); the other trusts keep 3 decimals."""
    ws = just_below(tmp_path)
    exact = dawid_skene_figures(current_labels(ws.frame("labels"), "kto"), None, CHOICES["kto"])["dan"][
        "trust"
    ]
    assert 0.8998 < exact < 0.89985
    assert main(["stats", "-w", str(ws.path), "--labellers"]) == 0
    assert ", trust 0.8998, desirable" in capsys.readouterr().out
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    shown = {
        r["labeller"]: r["trust"] for r in json.loads(capsys.readouterr().out)["tasks"]["kto"]["labellers"]
    }
    assert shown == {"ann": 0.905, "bob": 0.667, "cyd": 0.733, "dan": 0.8998}  # figures rounded as printed
    assert admin_kto_trust(ws) == {"ann": "0.905", "bob": "0.667", "cyd": "0.733", "dan": "0.8998"}
    for floor in ("0.9", "0.95"):
        export = ["export", "-w", str(ws.path), "--format", "kto", "--aggregate", "dawid-skene"]
        assert main([*export, "--min-posterior", floor]) == 0
        assert f"(here 0.8998; 0.8 where nothing of theirs is checked), below --min-posterior {floor}:" in (
            capsys.readouterr().out
        )


def test_a_trust_gets_more_decimals_only_where_three_round_it_up_onto_a_floor():
    """Three decimals, as every figure, but where they round up to a figure of two (0.900, 0.880: one a
    --min-posterior is set at), or to the floor the note's rows fell below."""
    shown = [trust_text(t) for t in (0.89981, 0.89996, 0.8796, 0.66667, 0.8748, 0.88, 0.9, None)]
    assert shown == ["0.8998", "0.89996", "0.8796", "0.667", "0.875", "0.880", "0.900", "-"]
    assert [trust_text(0.8748, 0.875), trust_text(0.8, 0.9), trust_text(0.89981, 0.95)] == [
        "0.8748",
        "0.800",
        "0.8998",
    ]


# dan's lone answers as `JUST_BELOW`'s; the other answers labelled so that two disputed items' posterior is 0.93950
DISPUTED = "dddu dddd ddud uddu dddd dddd duud dud- duud dudu uddd uuu- ---d ---u ---u"


def test_the_admin_tabs_disputed_posterior_never_reads_as_a_floor_it_is_below(tmp_path):
    """The disputed items' table showed a posterior of 0.93950 as 0.940 (`figure_text`), beside --min-posterior
    0.94, which leaves its item out, as a trust read 0.900 below 0.9: it shows 0.9395, by the trust's rule, and
    every other posterior as the same rule prints it."""
    ws = just_below(tmp_path, DISPUTED)
    verdicts = aggregate(ws.frame("labels"), "kto", "dawid-skene")
    exact = dict(zip(verdicts["item_id"], verdicts["posterior"]))
    shown = admin_kto_column(ws, "posterior", table=2)
    assert shown and shown == {item: trust_text(exact[item]) for item in shown}
    close = [item for item in shown if 0.9395 < exact[item] < 0.93955]
    assert close and {shown[item] for item in close} == {"0.9395"}


def test_a_trust_read_back_from_the_json_prints_as_the_note_quotes_it():
    """`stats --labellers --json` gives a trust of 0.89952 as 0.8995 (rounded as printed), and the text and the
    admin tab print that figure again: 0.8995, a float a hair below it, read 0.899 there while the JSON and the
    export's note said 0.8995. Printed again, a trust as printed is the same text."""
    for trust in (0.89952, 0.8995, 0.84951, 0.89981, 0.87998, 0.8796, 0.99996, 0.9, 0.8, 1.0):
        once = trust_text(trust)
        assert trust_text(float(once)) == once == trust_text(trust, 0.9 if trust < 0.9 else None), trust
    assert trust_text(0.8995) == "0.8995"  # a tie, half to even, rounds up onto 0.900
