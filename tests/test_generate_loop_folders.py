"""The claim files of a round driver's iterate folders (`generate.loop.folders`): read without following a symlink,
a claim that is none refused in one line naming it, and only the claims that can decide an iteration read."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from data.errors import PrefloopError
from data.files import NotAFileError
from data.records import ModelRecord, now
from data.workspace import Workspace
from generate.loop.driver import Iterate, _done
from generate.loop.folders import (
    add_sampling,
    chain_lock,
    chain_of,
    claim,
    claimed,
    iterate_folder,
    read_claim,
    unclaim,
    write_claim,
)
from generate.loop.report import iteration_summary, spin_report
from generate.loop.spin import SPIN_LOOP

REFERENCE = Iterate("ref-id", "/models/ref", "ref", 0)


def claim_text(reference_id: str = "ref-id", round: int = 1) -> str:
    return json.dumps({"reference_id": reference_id, "reference": "/models/ref", "round": round})


def test_a_symlinked_claim_is_refused_never_taken_for_the_chains(tmp_path):
    """A symlink at spin.json naming a claim of this chain (in a folder of someone else's, or in /tmp) would have
    made the folder this iteration's: training resumed in it and its model was taken for the chain's iterate."""
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(claim_text())
    folder = tmp_path / "runs/spin-iter1"
    folder.mkdir(parents=True)
    (folder / "spin.json").symlink_to(elsewhere)
    message = f"{folder / 'spin.json'}: a symlink or special file, not one written by prefloop: remove it"
    with pytest.raises(NotAFileError) as refused:
        claimed(tmp_path / "runs", folder, REFERENCE, 1, SPIN_LOOP)
    assert str(refused.value) == message
    with pytest.raises(NotAFileError):
        chain_of(folder, SPIN_LOOP)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "JSONDecodeError: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "no JSON object"),
    ],
)
def test_a_claim_that_is_none_is_one_line_naming_it(tmp_path, content, why):
    (tmp_path / "spin.json").write_text(content)
    with pytest.raises(PrefloopError) as refused:
        read_claim(tmp_path, SPIN_LOOP)
    line = str(refused.value)
    assert line.startswith(f"{tmp_path / 'spin.json'}: not a spin claim ({why}")
    assert line.endswith("; remove it") and "\n" not in line


def test_no_claim_where_there_is_no_file_or_no_folder(tmp_path):
    assert read_claim(tmp_path, SPIN_LOOP) is None
    assert chain_of(tmp_path / "gone", SPIN_LOOP) == (None, None)
    assert chain_of("Org/hub-model", SPIN_LOOP) == (None, None)  # a model registered by its hub id
    (tmp_path / "spin.json").write_text(claim_text())
    assert chain_of(tmp_path, SPIN_LOOP) == ("ref-id", 1)


def test_only_the_claims_that_can_decide_an_iteration_are_read(tmp_path):
    """The chain's iterate is the newest child model it claimed in its own folder: an older child's claim is never
    read (here a symlink, which would be refused), nor any claim once the newest claimed is found, nor that of a
    model in another folder than the chain's (another chain's, or one trained by hand)."""
    ws = Workspace.init(tmp_path / "ws")
    older, newer = tmp_path / "by-hand", tmp_path / "ws/runs/spin-iter1"
    # no folder of the chain's next iteration: it names no iterate it took
    following = [tmp_path / "ws/runs/spin-iter2"]
    for folder in (older, newer):
        folder.mkdir(parents=True)
    (older / "spin.json").symlink_to(tmp_path / "nowhere.json")
    (newer / "spin.json").write_text(claim_text())
    start = now()
    ws.append(
        [
            ModelRecord(str(path), "spin", 1, REFERENCE.id, created_at=start + timedelta(seconds=i))
            for i, path in enumerate((older, newer))
        ]
    )
    assert _done(ws, REFERENCE, 1, SPIN_LOOP, newer, following)["path"] == str(newer)
    (newer / "spin.json").write_text(claim_text(round=2))  # the newer is not this round's
    # the older is in no folder of the chain's: its claim unread; a chain whose folder it is reads it, and refuses it
    assert _done(ws, REFERENCE, 1, SPIN_LOOP, newer, following) is None
    with pytest.raises(NotAFileError, match="by-hand/spin.json: a symlink"):
        _done(ws, REFERENCE, 1, SPIN_LOOP, older, following)


def test_an_iterate_a_version_before_took_from_another_chain_is_the_chains(tmp_path):
    """A version before took the chain spin's iterates 1 and 2 for `other`'s and trained other-iter3 from the
    second: `other`'s first folder claims to train from iterate 2, so iterates 1 and 2 are `other`'s, done before.
    A model of round 1 trained from the start by hand, and claimed by no chain, is not."""
    ws = Workspace.init(tmp_path / "ws")
    runs = tmp_path / "ws/runs"
    first, second = (ModelRecord(str(runs / f"spin-iter{t}"), "spin", t) for t in (1, 2))
    second = dataclasses.replace(second, parent_id=first.id)
    first = dataclasses.replace(first, parent_id=REFERENCE.id)
    by_hand = ModelRecord(str(tmp_path / "by-hand"), "spin", 1, REFERENCE.id, created_at=now() + timedelta(1))
    ws.append([first, second, by_hand])
    for model, reference in ((first, REFERENCE.id), (second, first.id)):
        Path(model.path).mkdir(parents=True)
        (Path(model.path) / "spin.json").write_text(claim_text(reference, model.round))
    (runs / "other-iter3").mkdir()
    later = [runs / f"other-iter{t}" for t in (2, 3)]
    assert _done(ws, REFERENCE, 1, SPIN_LOOP, runs / "other-iter1", later) is None
    (runs / "other-iter3/spin.json").write_text(claim_text(second.id, 3))
    assert _done(ws, REFERENCE, 1, SPIN_LOOP, runs / "other-iter1", later)["id"] == first.id
    second_of = Iterate(first.id, first.path, "spin-iter1", 1)
    assert _done(ws, second_of, 2, SPIN_LOOP, runs / "other-iter2", later[1:])["id"] == second.id


@pytest.mark.parametrize(
    "linked, name",
    [("runs", "spin"), ("runs/spin-iter1", "spin"), ("runs/a", "a/b/c"), ("runs/a/b", "a/b/c")],
)
def test_a_link_at_the_runs_or_iterate_folder_is_refused_before_a_claim_is_written(tmp_path, linked, name):
    """The loop names WS/runs/NAME-iterN itself: a link planted there had the claim (and then the training)
    written wherever it pointed; so had one at a folder between them (`--spin-name a/b/c`, a link at WS/runs/a:
    only the last folder was looked at)."""
    ws = Workspace.init(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws.path / "runs").mkdir()
    if linked == "runs":
        (ws.path / "runs").rmdir()
    (ws.path / linked).parent.mkdir(parents=True, exist_ok=True)
    (ws.path / linked).symlink_to(outside)
    with pytest.raises(NotAFileError, match=f"^{ws.path / linked}: a symlink"):
        folder = iterate_folder(SimpleNamespace(spin_name=name), ws, SPIN_LOOP, 1)
        claim(ws.runs, folder, REFERENCE, 1, SPIN_LOOP, None, add_sampling({}, {}, 0.0))
    assert not any(outside.iterdir())


def test_the_record_after_training_is_never_written_through_a_folder_swapped_for_a_link(tmp_path):
    """After training, the driver writes the iteration's record into its folder's spin.json. It was written by path:
    the folder swapped for a link while the training ran (hours) had spin.json written wherever it pointed. It
    goes through a descriptor of the folder now, refused in one line naming it, as train refuses such a folder."""
    ws = Workspace.init(tmp_path / "ws")
    folder = iterate_folder(SimpleNamespace(spin_name="spin"), ws, SPIN_LOOP, 1)
    claim(ws.runs, folder, REFERENCE, 1, SPIN_LOOP, None, add_sampling({}, {"train": {"prompts": 4}}, 2.5))
    outside = tmp_path / "outside"
    folder.rename(outside)
    folder.symlink_to(outside)
    with pytest.raises(NotAFileError, match=f"^{folder}: a symlink"):
        write_claim(ws.runs, folder, SPIN_LOOP, {"reference_id": "ref-id", "round": 1, "model_id": "m1"})
    sampling = {"sampled": {"train": {"prompts": 4}}, "sample_seconds": 2.5, "sample_runs": 1}
    assert json.loads((outside / "spin.json").read_text()) == json.loads(claim_text()) | sampling


def test_the_record_after_training_is_never_written_through_runs_swapped_for_a_link(tmp_path):
    """The record was written through a descriptor of the iteration's folder alone: WS/runs swapped for a link while
    the training ran (its folder moved along, the link pointing at it) had spin.json written wherever the link led.
    The claim's whole path inside the workspace is checked, as the workspace's other writers check theirs: refused
    in one line naming the link, nothing written."""
    ws = Workspace.init(tmp_path / "ws")
    folder = iterate_folder(SimpleNamespace(spin_name="spin"), ws, SPIN_LOOP, 1)
    claim(ws.runs, folder, REFERENCE, 1, SPIN_LOOP, None, add_sampling({}, {}, 0.0))
    outside = tmp_path / "outside"
    (ws.path / "runs").rename(outside)
    (ws.path / "runs").symlink_to(outside)
    before = (outside / folder.name / "spin.json").read_text()
    with pytest.raises(NotAFileError, match=f"^{ws.path / 'runs'}: a symlink"):
        write_claim(
            ws.path / "runs", folder, SPIN_LOOP, {"reference_id": "ref-id", "round": 1, "model_id": "m1"}
        )
    assert (outside / folder.name / "spin.json").read_text() == before


def test_a_claim_taken_back_is_never_removed_through_runs_swapped_for_a_link(tmp_path):
    """A sampling that stored nothing takes its claim back (`unclaim`): the claim was removed through a descriptor of
    the iteration's folder opened by path, so WS/runs swapped for a link while the engine loaded had the spin.json
    (and the folder) wherever the link led removed. Refused in one line naming the link, as writing it is."""
    ws = Workspace.init(tmp_path / "ws")
    folder = iterate_folder(SimpleNamespace(spin_name="spin"), ws, SPIN_LOOP, 1)
    claim(ws.runs, folder, REFERENCE, 1, SPIN_LOOP, None, add_sampling({}, {}, 0.0))
    outside = tmp_path / "outside"
    (ws.path / "runs").rename(outside)
    (ws.path / "runs").symlink_to(outside)
    with pytest.raises(NotAFileError, match=f"^{ws.path / 'runs'}: a symlink"):
        unclaim(ws.path / "runs", folder, SPIN_LOOP, None)
    assert (outside / folder.name / "spin.json").is_file()


def swap_for_link(folder, outside):
    """Move ``folder`` (with what it holds) to ``outside`` and put a link to it in its place."""
    folder.rename(outside)
    folder.symlink_to(outside, target_is_directory=True)


def test_a_claim_is_never_made_through_a_folder_of_the_chains_name_swapped_for_a_link_after_the_lock(
    tmp_path,
):
    """`--spin-name a/b/c`: the lock opened WS/runs/a and a/b without following a link, but a claim opened only
    WS/runs/a/b by its path: WS/runs/a swapped for a link after the lock had a/b/c-iter1 and its spin.json made
    wherever the link pointed. Each folder is opened in the one above now: refused in one line naming the link."""
    ws = Workspace.init(tmp_path / "ws")
    outside = tmp_path / "outside"
    with chain_lock(ws, "a/b/c"):
        folder = iterate_folder(SimpleNamespace(spin_name="a/b/c"), ws, SPIN_LOOP, 1)
        swap_for_link(ws.path / "runs/a", outside)
        with pytest.raises(NotAFileError) as refused:
            claim(ws.runs, folder, REFERENCE, 1, SPIN_LOOP, None, add_sampling({}, {}, 0.0))
    assert (
        str(refused.value)
        == f"{ws.path / 'runs/a'}: a symlink or special file, not one written by prefloop: remove it"
    )
    assert sorted(p.name for p in outside.rglob("*")) == ["b", "c.lock"]


def test_a_claim_is_never_read_rewritten_or_removed_through_a_folder_of_the_chains_name_swapped_for_a_link(
    tmp_path,
):
    """The same swap after the claim was made (while the engine loaded, or the training ran): the claim was read,
    rewritten and taken back through WS/runs/a/b opened by its path, so wherever the link pointed."""
    ws = Workspace.init(tmp_path / "ws")
    outside = tmp_path / "outside"
    with chain_lock(ws, "a/b/c"):
        folder = iterate_folder(SimpleNamespace(spin_name="a/b/c"), ws, SPIN_LOOP, 1)
        claim(ws.runs, folder, REFERENCE, 1, SPIN_LOOP, None, add_sampling({}, {}, 0.0))
        swap_for_link(ws.path / "runs/a", outside)
        there = outside / "b/c-iter1/spin.json"
        before = there.read_text()
        record = {"reference_id": "ref-id", "round": 1, "model_id": "m1"}
        for step in (
            lambda: write_claim(ws.runs, folder, SPIN_LOOP, record),
            lambda: claimed(ws.runs, folder, REFERENCE, 1, SPIN_LOOP),
            lambda: unclaim(ws.runs, folder, SPIN_LOOP, None),
        ):
            with pytest.raises(NotAFileError, match=f"^{ws.path / 'runs/a'}: a symlink"):
                step()
            assert there.read_text() == before


def test_a_claim_taken_back_leaves_no_folder_where_there_was_none(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    folder = iterate_folder(SimpleNamespace(spin_name="spin"), ws, SPIN_LOOP, 1)
    claim(ws.runs, folder, REFERENCE, 1, SPIN_LOOP, None, add_sampling({}, {}, 0.0))
    unclaim(ws.runs, folder, SPIN_LOOP, None)
    assert not folder.exists() and (ws.path / "runs").is_dir()


def test_a_reruns_sampling_is_added_to_the_killed_runs_and_what_it_found_is_its_own():
    """A rerun's sampling (more prompts after a killed training, or the too-long ones sent again) is added to the
    claim's, count by count; too_long and already_* count what a run found, which the rerun found again: its own."""
    earlier = {
        "sampled": {"train": {"prompts": 4, "tokens": 32, "too_long": 1, "already_sampled": 2}, "test": {"prompts": 2}},
        "sample_seconds": 18.9,
    }  # fmt: skip
    now = {"train": {"prompts": 2, "tokens": 16, "already_sampled": 6}}
    assert add_sampling(earlier, now, 0.12) == {
        "sampled": {"train": {"prompts": 6, "tokens": 48, "already_sampled": 6}, "test": {"prompts": 2}},
        "sample_seconds": 19.0,
        "sample_runs": 2,
    }
    assert add_sampling({}, now, 0.12) == {"sampled": now, "sample_seconds": 0.1, "sample_runs": 1}
    # the judge loop's judge asked again about the prompts it left unpaired: counted once, not 2 + 2
    judged = {"sampled": {"train_pairs": {"pairs": 2, "no_spread": 2, "duplicate": 1, "already_paired": 0}}}
    again = {"train_pairs": {"no_spread": 1, "pairs": 1, "already_paired": 2}}
    assert add_sampling(judged, again, 0.0)["sampled"] == {
        "train_pairs": {"pairs": 3, "no_spread": 1, "already_paired": 2}
    }


def test_a_rerun_after_an_older_versions_claim_does_not_say_its_own_seconds_are_the_iterations():
    """spin.json as an older version wrote it before training records no sampling, though that run sampled (it
    claims after sampling): the rerun recorded its own seconds (finding nothing to sample) as the iteration's, one
    run. They are unknown now, and the row says an earlier run's sampling was not recorded; a rerun that samples
    nothing adds no run."""
    older = {"reference_id": "ref-id", "reference": "ws/models/base", "round": 1}
    assert add_sampling(older, {}, 0.1) == {"sampled": {}, "sample_seconds": None, "sample_runs": 1}
    assert add_sampling(older, {"test": {"prompts": 2}}, 0.1)["sample_runs"] == 2
    assert add_sampling(older | add_sampling(older, {}, 0.1), {}, 0.1)["sample_seconds"] is None
    model = {"round": 1, "id": "0123abcd", "parent_id": "p", "path": "ws/runs/spin-iter1", "metrics": {}}
    row = spin_report(
        {
            "kind": "spin",
            "workspace": "ws",
            "start": {"model": "m", "id": "0123", "round": 0},
            "prompts": {"train": 4, "test": 2},
            "iterations": [iteration_summary(1, model, older | add_sampling(older, {}, 0.1))],
        }
    )[2]
    assert row.endswith("  (resumed: an earlier run's sampling not recorded)")
