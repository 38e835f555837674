from __future__ import annotations

from data.pairing import make_pairs, missing_pairs
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


def test_missing_pairs_are_the_fresh_draws_less_those_stored_up_to_per_prompt():
    c = completions("a", "b", "c", "d")
    drawn, _ = make_pairs("p", c, per_prompt=2, round=0, seed=1)
    every, _ = make_pairs("p", c, per_prompt=0, round=0)
    one = sides(drawn[0])
    other = next(sides(p) for p in every if p.id not in {d.id for d in drawn})  # a pair the draw leaves

    def missing(per_prompt, stored, seed=1):
        return [p.id for p in missing_pairs("p", c, per_prompt, stored, 0, seed)[0]]

    assert missing(2, []) == [p.id for p in drawn]  # nothing stored: the fresh draw
    assert missing(2, [one]) == [drawn[1].id]
    assert missing(2, [other]) == [drawn[0].id]  # one lacked: the draw's first
    assert missing(1, [other]) == []  # as many stored as asked: none
    assert missing(0, [one], seed=0) == [p.id for p in every if sides(p) != one]  # every pair it lacks


def sides(pair) -> frozenset[str]:
    return frozenset((pair.completion_a, pair.completion_b))
