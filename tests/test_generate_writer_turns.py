"""The last sampling writers taking the import's turn (WS/import.lock) with a re-check of what another writer
stored meanwhile: pairs for the prompts a pairs job keeps (`pair_kept`), SPIN and arena answers. Each test runs a
second writer between the first's read of what is stored and its write (`run_meanwhile`)."""

from __future__ import annotations

from data import Completion, Prompt, Workspace
from generate.job_plan import answers_by_prompt
from generate.kept_pairs import pair_kept
from tests.test_data_import_concurrent import run_meanwhile, stored_ids
from tests.test_generate_sampling_turns import PARAMS


def kept_answers(tmp_path) -> tuple[Workspace, list]:
    """A workspace of 2 prompts, each answered twice by model m in round 0, unpaired: what a pairs job keeps."""
    ws = Workspace.init(tmp_path / "ws")
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], source="test") for i in range(2)]
    params = PARAMS.to_json("float32")
    answers = [Completion(p.id, f"answer {k}", "m", "hf", params, k, 0) for p in prompts for k in range(2)]
    ws.append([*prompts, *answers])
    return ws, list(answers_by_prompt(ws, "m", 0, {p.id for p in prompts}).items())


def test_two_jobs_pairing_the_prompts_they_keep_store_each_pair_once(tmp_path, monkeypatch):
    """`pair_kept` read the pairs stored and appended its own without the import lock: two pairs jobs at once that
    kept the same prompts each stored their pairs (every pair twice), each counting them ``paired_kept``. It reads
    and writes in the import's turn now: the second finds them paired, and writes none."""
    ws, kept = kept_answers(tmp_path)
    done = run_meanwhile(monkeypatch, ws, lambda: pair_kept(Workspace(ws.path), kept, 2, 1, 0, 0))
    first = pair_kept(ws, kept, 2, 1, 0, 0)
    done["thread"].join()
    assert first == {"paired_kept": 2, "new_pairs": 2}
    assert done["result"] == {}
    assert set(stored_ids(ws, "pairs").values()) == {1} and len(ws.frame("pairs")) == 2
