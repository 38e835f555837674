from __future__ import annotations

from data.pairing import make_pairs
from data.records import Completion


def completions(*texts):
    return [Completion("p", t, "m", "hf", seed=i) for i, t in enumerate(texts)]


def test_identical_and_empty_completions_are_not_paired():
    c = completions("one", "one ", "", "two")
    pairs, counts = make_pairs("p", c, per_prompt=0, round=3)
    assert [(p.completion_a, p.completion_b, p.kind, p.round) for p in pairs] == [
        (c[0].id, c[3].id, "sampled", 3)
    ]
    assert dict(counts) == {"duplicate": 1, "empty": 1}


def test_all_pairs_or_a_reproducible_choice():
    c = completions("a", "b", "c", "d")
    all_pairs, _ = make_pairs("p", c, per_prompt=0, round=0)
    assert len(all_pairs) == 6
    some, _ = make_pairs("p", c, per_prompt=2, round=0, seed=1)
    again, _ = make_pairs("p", c, per_prompt=2, round=0, seed=1)
    assert len(some) == 2 and [p.id for p in some] == [p.id for p in again]
    assert {p.id for p in some} <= {p.id for p in all_pairs}


def test_a_prompt_with_one_distinct_answer_is_counted_unpaired():
    pairs, counts = make_pairs("p", completions("same", "same"), per_prompt=1, round=0)
    assert pairs == [] and dict(counts) == {"duplicate": 1, "unpaired_prompts": 1}
