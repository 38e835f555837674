"""Which answer of a pair is stored as side ``a`` is an accident of storage (`import --unlabelled` puts each file's
chosen answer there): the agreement figures of pairwise labels — the admin tab's Cohen's κ, Fleiss' κ and
Krippendorff's α, the machine labellers' κ in the tab and in `stats`, `stats --labellers`' κ — must not move with
it. Two workspaces hold the same judgements, one with every better answer stored as ``a``, one with half of them
stored as ``b``. And the tab's Cohen's κ of two labellers is `stats --labellers`' κ of the two."""

from __future__ import annotations

import json
import random

import pytest

from annotate.admin import summary_cards
from annotate.agreement import admin_report
from data.__main__ import main
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace

PAIRS = 24  # stats --labellers gives κ between labellers sharing ≥ 20 items
ANSWERS = ("better", "worse", "tie", "both_bad")
RIGHT = {"ann": 0.85, "bob": 0.75, "cyd": 0.7, "judge:j": 0.7}  # how often each gives the pair's true answer


def judgements(people: tuple[str, ...]) -> list[dict[str, str]]:
    """Per pair, what each said of its better and worse answer (its true answer mostly the better one; another
    answer at random where one errs; the judge has no both-bad answer); cyd labels two pairs of three."""
    rng = random.Random(3)
    out = []
    for i in range(PAIRS):
        truth = rng.choices(ANSWERS, [6, 2, 1, 1])[0]
        said = {}
        for name in (n for n in (*people, "judge:j") if n != "cyd" or i % 3):
            answers = ANSWERS[:3] if name.startswith("judge:") else ANSWERS
            answer = truth if rng.random() < RIGHT[name] else rng.choice(answers)
            said[name] = answer if answer in answers else "tie"  # a judge's both-bad: no preference
        out.append(said)
    return out


def build(path, people: tuple[str, ...], flipped: set[int]) -> Workspace:
    """The same judgements (`judgements`), the better answer of the pairs in ``flipped`` stored as ``b``."""
    ws = Workspace.init(path)
    records = []
    for i, said in enumerate(judgements(people)):
        prompt = Prompt([{"role": "user", "content": f"question {i}?"}], "toy")
        better, worse = (Completion(prompt.id, f"answer {i} {w}", "toy", "hf") for w in ("good", "poor"))
        a, b = (worse, better) if i in flipped else (better, worse)
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        side = {"better": "b", "worse": "a"} if i in flipped else {"better": "a", "worse": "b"}
        records += [prompt, better, worse, pair]
        records += [Label(pair.id, who, "pairwise", side.get(what, what)) for who, what in said.items()]
    ws.append(records)
    return ws


def figures(ws: Workspace, capsys) -> dict:
    """Every agreement figure of the workspace's pairwise labels: the admin tab's and `stats`' (`--json`)."""
    labels, pairs = ws.frame("labels"), ws.frame("pairs")
    report = admin_report(labels, "pairwise", pairs)
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    labellers = json.loads(capsys.readouterr().out)["labellers"]
    return {
        "card": report["agreement"],
        "tab machines": [(r["round"], r["kappa"]) for r in report["machines"]],
        "stats machines": [(r["round"], r["kappa"]) for r in stats["machine_agreement"]],
        "mean agreement": stats["pairwise_items"]["mean_agreement_multi_annotator"],
        "labellers": {r["labeller"]: r["kappa"] for r in labellers},
    }


@pytest.mark.parametrize("people", [("ann", "bob"), ("ann", "bob", "cyd")])
def test_every_agreement_figure_is_the_same_whichever_side_a_pair_stores_its_better_answer(
    tmp_path, capsys, people
):
    better_on_a = figures(build(tmp_path / "a", people, set()), capsys)
    half_on_b = figures(build(tmp_path / "b", people, set(range(0, PAIRS, 2))), capsys)
    card = better_on_a["card"]
    assert card["alpha"] is not None and card["fleiss"] is not None and card["fleiss_items"] > 0
    assert (card["cohen"] is None) == ("cyd" in people)  # Cohen's κ where exactly two labellers overlap
    assert better_on_a["tab machines"] and better_on_a["labellers"]["ann"]
    for key, value in better_on_a.items():
        assert _close(value, half_on_b[key]), (key, value, half_on_b[key])


def _close(left, right) -> bool:
    """Equal figure by figure, floats to 1e-12 (the same terms summed in another order)."""
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_close(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(_close(x, y) for x, y in zip(left, right))
    if isinstance(left, float) and isinstance(right, float):
        return left == pytest.approx(right, abs=1e-12)
    return left == right


def test_the_cards_cohen_kappa_is_stats_labellers_kappa_of_the_two_labellers(tmp_path, capsys):
    ws = build(tmp_path / "ws", ("ann", "bob"), set(range(0, PAIRS, 3)))
    report = admin_report(ws.frame("labels"), "pairwise", ws.frame("pairs"))
    progress = {"done": PAIRS, "items": PAIRS, "overlap": 2, "labels": 2 * PAIRS}
    card = next(c for c in summary_cards(progress, report) if c[0] == "Cohen's κ (2 labellers)")
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    rows = {r["labeller"]: r for r in json.loads(capsys.readouterr().out)["labellers"]}
    kappa = rows["ann"]["kappa"]["bob"]
    assert kappa == rows["bob"]["kappa"]["ann"] and kappa is not None
    assert card[1] == f"{kappa:.3f}" and round(report["agreement"]["cohen"], 3) == kappa
    assert main(["stats", "-w", str(ws.path), "--labellers"]) == 0
    assert f"bob {kappa:.3f}" in capsys.readouterr().out  # the figure as stats --labellers prints it
