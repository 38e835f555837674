"""The trust quoted of rows left out `unchecked` (`rank_unchecked`): wherever a count of them is shown (export,
train's workspace and held-out lines, a resumed run's), and as `stats --labellers` and the admin tab show a
labeller's trust, one text by one rule (`data.intervals.trust_text`)."""

from __future__ import annotations

from data.ranking import canonical_ranking, rank_item_id
from data.records import Completion, Label, Prompt
from tests.test_data_min_posterior import dan_and_eve, unchecked_note
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
    where the workspace line said what such rows are and where it did not."""
    # dan's and eve's pairs held out: the workspace line has none
    alone = held_out_ranking(tmp_path / "a", test=8)
    held, trust = alone["eval_counts"], alone["eval_trust"]
    assert (held["rank_unchecked"], trust["rank_unchecked"]) == (3, {"0.800": 3})
    assert eval_line(alone).endswith(
        f"0 truncated to fit; {unchecked_note(11, 'unchecked and rank_unchecked', trust='0.800–0.880')}"
    )
    # eve's pairs held out, dan's trained: the workspace line has it
    both = held_out_ranking(tmp_path / "b", test=4)
    assert eval_line(both).endswith(
        "; unchecked and rank_unchecked: 7 rows at their labeller's trust (here 0.800; what that is: the workspace "
        "line)"
    )
    ranked = held_out_ranking(tmp_path / "c", test=0)  # the held-out split's only unchecked rows: fay's
    assert eval_line(ranked).endswith(
        "; rank_unchecked: 3 rows at their labeller's trust (here 0.800; what that is: the workspace line)"
    )
