"""SPIN pairs after another job of the same model and round (`generate.spin_pairs`): completions are keyed by model
and round, so `--spin` after `--n 2` pairs for labellers kept those prompts as "already sampled" and wrote them no
SPIN pair at all; now each takes one of the answers sampled before, and nothing is sampled twice."""

from __future__ import annotations

from data import Completion, Pair, Prompt, Workspace
from generate.__main__ import main
from generate.engines import SamplingParams
from generate.job_plan import PromptRow
from generate.spin_pairs import earlier_answers
from tests.test_generate_sampling import first_prompts, write_prompts

PARAMS = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=8, seed=0)


def done_counts(out: str) -> dict[str, str]:
    done = next(line for line in out.splitlines() if line.startswith("done: "))
    return dict(item.rsplit(" ", 1) for item in done.removeprefix("done: ").split(", "))


def rows(ws) -> dict[str, int]:
    return {name: len(ws.frame(name)) for name in ("completions", "pairs", "labels")}


def test_spin_after_pairs_for_labellers_pairs_every_prompt_of_its_limit(tmp_path, tiny_model_dir, capsys):
    ws_path = tmp_path / "ws"
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "4"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 6))]
    assert main([*argv, "--limit", "2", "--n", "2"]) == 0  # paired completions for people to judge
    ws = Workspace(ws_path)
    earlier = set(ws.frame("completions")["id"])
    capsys.readouterr()

    assert main([*argv, "--spin", "--limit", "4"]) == 0
    out = capsys.readouterr().out
    counts = done_counts(out)
    assert (counts["already_sampled"], counts["reused"], counts["prompts"]) == ("2", "2", "2")
    assert "reused_other_params" not in counts
    assert "reused 2 completions sampled before" in out
    ws = Workspace(ws_path)
    spin = ws.frame("pairs").query("kind == 'spin'")
    assert set(spin["prompt_id"]) == first_prompts(ws_path, 4) and len(spin) == 4
    reused = spin[spin["prompt_id"].isin(first_prompts(ws_path, 2))]
    assert set(reused["completion_b"]) <= earlier  # the rejected answers: the ones sampled before
    answers = ws.frame("completions").query("engine != 'gold'").groupby("prompt_id").size()
    assert sorted(answers) == [1, 1, 2, 2]  # nothing sampled twice
    labels = ws.frame("labels")
    assert set(labels.loc[labels["item_id"].isin(spin["id"]), "choice"]) == {"a"} and len(labels) == 4

    before = rows(ws)
    assert main([*argv, "--spin", "--limit", "4"]) == 0  # a rerun: every pair there, nothing written
    out = capsys.readouterr().out
    assert rows(Workspace(ws_path)) == before
    assert done_counts(out) == {"already_sampled": "4", "tokens": "0"} and "reused" not in out


def test_an_earlier_answer_sampled_with_the_same_parameters_is_taken_first(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    prompts = [
        Prompt([{"role": "user", "content": f"q{i}"}], source="test", gold=f"gold {i}") for i in range(5)
    ]
    other = SamplingParams(temperature=0.5, top_p=1.0, max_tokens=8, seed=0).to_json("float32")
    same = PARAMS.to_json("float32")  # the dtype the engine ran in is recorded, not chosen

    def answer(prompt, text, params, seed=0, model="m", round=0):
        return Completion(prompt.id, text, model, "hf", params, seed, round)

    p0 = [answer(prompts[0], "old other", other), answer(prompts[0], "new same", same, 1)]
    p1 = [
        answer(prompts[1], "gold 1", same),
        answer(prompts[1], "  ", same, 1),
        answer(prompts[1], "x", other, 2),
    ]
    p2 = [answer(prompts[2], "gold 2", same)]  # only degenerate: no pair, as a degenerate sample gets none
    p3 = [answer(prompts[3], "paired", same)]
    gold3 = Completion(prompts[3].id, "gold 3", "gold", "gold")
    elsewhere = [
        answer(prompts[4], "another model", same, model="n"),
        answer(prompts[4], "round 1", same, round=1),
    ]
    spin3 = Pair(prompts[3].id, gold3.id, p3[0].id, kind="spin")
    ws.append([*prompts, *p0, *p1, *p2, *p3, gold3, *elsewhere, spin3])
    rows = [PromptRow(p.id, p.messages, p.gold) for p in prompts]
    found = earlier_answers(ws, "m", 0, rows, PARAMS)
    assert [(prompt.id, answer, same) for prompt, answer, same in found] == [
        (prompts[0].id, p0[1].id, True),
        (prompts[1].id, p1[2].id, False),
    ]


def test_a_spin_run_that_only_reused_answers_says_so_in_one_line(tmp_path, tiny_model_dir, capsys):
    """`--spin` over prompts all answered before samples nothing and makes every SPIN pair of those answers: it
    said "reused 2 ..." and then "nothing left to sample ... (a rerun samples only the missing ones)", as if it had
    done nothing. One line now says both: nothing sampled, and what it made of the answers there."""
    ws_path = tmp_path / "ws"
    argv = ["-w", str(ws_path), "--model", str(tiny_model_dir), "--engine", "hf", "--max-tokens", "4"]
    argv += ["--prompts", str(write_prompts(tmp_path / "p.json", 2)), "--limit", "2"]
    assert main([*argv, "--n", "2"]) == 0
    capsys.readouterr()
    assert main([*argv, "--spin"]) == 0
    out = capsys.readouterr().out
    assert done_counts(out)["reused"] == "2" and "nothing left to sample" not in out
    said = [line for line in out.splitlines() if not line.startswith("done: ")]
    assert (
        said
        == [
            f"--prompts {tmp_path / 'p.json'}: prompts_already_stored 2",  # the file's prompts, stored by the first run
            "nothing sampled: each of the first 2 prompts of --split train already had answers from this model in this "
            "round; reused 2 completions sampled before (this model, this round: another job's, e.g. --n 2 pairs) as "
            "the rejected answer of their SPIN pairs, not sampled again",
        ]
    )


def reads_of(monkeypatch, table: str) -> list:
    """Each read of ``table`` (`Workspace.read`, which `frame` calls too) from now on: its ``where``."""
    calls, read = [], Workspace.read

    def counting(self, name, *args, **kwargs):
        if name == table:
            calls.append(kwargs.get("where"))
        return read(self, name, *args, **kwargs)

    monkeypatch.setattr(Workspace, "read", counting)
    return calls


def test_spin_pending_reads_the_answers_once_and_finds_what_each_split_has_left(tmp_path, monkeypatch):
    """The SPIN driver's `spin_pending` read the answers table once per split (the prompts not answered) and once
    more (those answered without a SPIN pair): now once, for the same prompts."""
    from generate.loop.driver import Iterate
    from generate.loop.spin import spin_pending

    ws = Workspace.init(tmp_path / "ws")
    prompts = [
        Prompt([{"role": "user", "content": f"q{i}"}], source="test", gold=f"gold {i}", split=split)
        for i, split in enumerate(["train"] * 4 + ["test"] * 2)
    ]
    same = PARAMS.to_json("float32")
    answered = [Completion(p.id, f"answer {i}", "m", "hf", same, 0, 0) for i, p in enumerate(prompts)]
    gold1 = Completion(prompts[1].id, "gold 1", "gold", "gold")
    degenerate = Completion(
        prompts[2].id, "gold 2", "m", "hf", same, 0, 0
    )  # the gold answer: no pair to make
    spin1 = Pair(prompts[1].id, gold1.id, answered[1].id, kind="spin")
    # answered: 0 (unpaired), 1 (paired), 2 (degenerate only), 4 (test, unpaired); 3 and 5 not at all
    ws.append([*prompts, *answered[:2], answered[4], degenerate, gold1, spin1])
    sets = {"train": [p.id for p in prompts[:4]], "test": [p.id for p in prompts[4:]]}
    reads = reads_of(monkeypatch, "completions")
    pending = spin_pending(ws, Iterate("i0", "m", "m", 0), 0, sets)
    assert pending == {"train": [prompts[0].id, prompts[3].id], "test": [prompts[4].id, prompts[5].id]}
    assert len(reads) == 1


def test_pair_kept_reads_the_stored_pair_ids_once(tmp_path, monkeypatch):
    """`pair_kept` read the stored ids of the pairs it made to count the prompts it pairs, then appended them with
    ``skip_existing``, which read the same ids again."""
    from generate.job_plan import answers_by_prompt
    from generate.kept_pairs import pair_kept

    ws = Workspace.init(tmp_path / "ws")
    prompts = [Prompt([{"role": "user", "content": f"q{i}"}], source="test") for i in range(2)]
    params = PARAMS.to_json("float32")
    answers = [Completion(p.id, f"answer {k}", "m", "hf", params, k, 0) for p in prompts for k in range(2)]
    ws.append([*prompts, *answers])
    kept = list(answers_by_prompt(ws, "m", 0, {p.id for p in prompts}).items())
    reads = reads_of(monkeypatch, "pairs")
    counts = pair_kept(ws, kept, 2, 1, 0, 0)
    assert counts == {"paired_kept": 2, "new_pairs": 2} and len(ws.frame("pairs")) == 2
    assert sum(where is not None and where[0] == "id" for where in reads) == 1


def test_sample_spin_reads_the_models_and_completions_tables_once(tmp_path, monkeypatch):
    """`sample_spin` read the models and completions tables for its set (`job_prompts`), then again to find the
    answers its kept prompts' SPIN pairs take (`pair_earlier_answers` -> `earlier_answers` -> `answers_by_prompt`):
    now it hands the tables it read down."""
    from generate.spin_pairs import sample_spin

    ws = Workspace.init(tmp_path / "ws")
    prompts = [
        Prompt([{"role": "user", "content": f"q{i}"}], source="test", gold=f"gold {i}") for i in range(2)
    ]
    same = PARAMS.to_json("float32")
    ws.append(
        [*prompts, *(Completion(p.id, f"answer {i}", "m", "hf", same, 0, 0) for i, p in enumerate(prompts))]
    )
    reads = reads_of(monkeypatch, "models")
    answer_reads = reads_of(monkeypatch, "completions")
    counts = sample_spin(ws, None, "m", PARAMS)  # every prompt answered: nothing to sample, two pairs to make
    assert (counts["reused"], counts["already_sampled"], counts["new_pairs"]) == (2, 2, 2)
    assert len(reads) == 1
    assert answer_reads.count(None) == 1  # the whole table (not the rows an append checks by id)
