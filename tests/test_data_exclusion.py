"""Excluding labellers (``--exclude-labeller``, WS/excluded.json) loses nothing from the counts: the items whose every
label is an excluded labeller's are counted ``excluded_only`` by every export and by train's rows alike, who was
excluded is said beside the counts, `stats` still counts every stored label, and the names are matched as Unicode
NFC."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timezone

import pytest

from data.__main__ import main
from data.commands import EXPORT_KINDS
from data.edits import edit_records
from data.exclusion import flag_names
from data.files import A_DIRECTORY
from data.ranking import canonical_ranking, rank_item_id
from data.records import Completion, Label, Pair, Prompt
from data.selection import EXCLUDED_FILE
from data.workspace import Workspace
from train.__main__ import parse_train_options
from train.pairs import kto_rows, preference_rows, rating_kto_rows, sft_rows

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
RATING = json.dumps(dict.fromkeys(["coherence", "complexity", "correctness", "helpfulness", "verbosity"], 3))


def build(path) -> tuple[Workspace, dict]:
    """Eight prompts (6 and 7 held out as test), each with answers a and b and their sampled pair; prompt 0 has a
    third answer c (a rank item). Who labelled what, mallory alone where it says so:

    - pairwise: ann and bob on pairs 0-2; mallory alone on 3, 4 and 6 (test); mallory and ann on 5;
      mallory's edit of answer a of pair 3 (an edit pair with her label);
    - kto, answer a: ann on 0-2 (desirable) and 3 (undesirable); mallory alone on 4, 5 (gold) and 7 (test);
    - rate, answer b: ann on 0; mallory alone on 1 and 2 (gold);
    - rank: mallory alone ranks prompt 0's three answers."""
    ws = Workspace.init(path)
    records, ids = [], {"pair": [], "a": [], "b": []}
    for i in range(8):
        prompt = Prompt(
            [{"role": "user", "content": f"Question {i}?"}], "toy", split="test" if i >= 6 else "train"
        )
        a, b = (Completion(prompt.id, f"answer {i} {side}", "toy", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        for key, value in (("pair", pair), ("a", a), ("b", b)):
            ids[key].append(value.id)
        if i == 0:
            c = Completion(prompt.id, "answer 0 c", "toy", "hf")
            ranking = canonical_ranking(f"{b.id}>{a.id}>{c.id}")
            records += [c, Label(rank_item_id(prompt.id, 0), "mallory", "rank", None, ranking=ranking)]
    by = {
        0: "ann bob",
        1: "ann bob",
        2: "ann bob",
        3: "mallory",
        4: "mallory",
        5: "mallory ann",
        6: "mallory",
    }
    records += [
        Label(ids["pair"][i], who, "pairwise", "a") for i, names in by.items() for who in names.split()
    ]
    kto = {0: "ann", 1: "ann", 2: "ann", 3: "ann", 4: "mallory", 5: "mallory", 7: "mallory"}
    records += [
        Label(ids["a"][i], who, "kto", "undesirable" if i == 3 else "desirable") for i, who in kto.items()
    ]
    rate = {0: "ann", 1: "mallory", 2: "mallory"}
    records += [
        Label(ids["b"][i], who, "rate", None, ratings=RATING, rubric="helpsteer2") for i, who in rate.items()
    ]
    ws.append(records)
    pair = next(p for p in records if isinstance(p, Pair) and p.id == ids["pair"][3])
    ws.append(
        list(
            edit_records(
                pair.prompt_id, pair.completion_a, "answer 3 a", "fixed 3", "mallory", pair.id, 0, T0
            )
        )
    )
    w = ["-w", str(ws.path)]
    assert main(["gold", *w, "--completion", ids["a"][5], "--answer", "desirable"]) == 0
    assert main(["gold", *w, "--rate-item", ids["b"][2], "--ratings", RATING]) == 0
    return ws, ids


def export(ws, capsys, *flags) -> tuple[dict, str]:
    """(the counts `data export` printed, what follows them), whether it wrote a file or had nothing to write."""
    capsys.readouterr()
    code = main(["export", "-w", str(ws.path), "--out", str(ws.path / "exports" / "out.parquet"), *flags])
    io = capsys.readouterr()
    line = io.out.strip() if code == 0 else io.err.strip()
    assert code in (0, 2) and line, (code, io.err)
    counts = line.split(": ", 1)[1] if code == 0 else line.split(" (", 1)[1].rsplit(")", 1)[0]
    listed, _, rest = counts.partition("; ")
    return said_counts(listed), rest


def said_counts(line: str) -> dict:
    """The counts an export's summary says (``43 rows exported (desirable 20, undesirable 23), left out: gold 12``,
    or ``left out: unlabelled 6`` where it exported nothing): those it leaves unsaid are 0."""
    made = re.fullmatch(r"(?:(\d+) rows? exported(?: \((.+)\))?)?(?:,? ?left out: (.+))?", line)
    assert made, line
    rows, kinds, left = made.groups()
    listed = ", ".join(filter(None, [kinds, left]))
    said = {k: int(v) for k, v in (item.rsplit(" ", 1) for item in listed.split(", ") if item)}
    assert 0 not in said.values(), line  # zeros go unsaid
    return {"exported": int(rows or 0), **said}


@pytest.fixture()
def ws(tmp_path):
    return build(tmp_path / "ws")


@pytest.mark.parametrize(
    ("flags", "everyone", "without_mallory"),
    [
        (  # pairs 3, 4 and the edit pair only she labelled (6 too, in the other split); her ranking
            ["--format", "dpo", "--split", "train"],
            {"exported": 10, "other_split": 2},
            {"exported": 4, "excluded_only": 3, "other_split": 2, "rank_excluded_only": 1},
        ),
        (
            ["--format", "dpo"],
            {"exported": 11, "unlabelled": 1},
            {"exported": 4, "excluded_only": 4, "unlabelled": 1, "rank_excluded_only": 1},
        ),
        (  # answer 4 only she labelled; 5 stays gold; 6, 7 in the other split; b0-b5 and c nobody labelled
            ["--format", "kto", "--split", "train"],
            {"exported": 5, "desirable": 4, "undesirable": 1, "gold": 1, "other_split": 4, "unlabelled": 7},
            {
                "exported": 4,
                "desirable": 3,
                "undesirable": 1,
                "gold": 1,
                "other_split": 4,
                "excluded_only": 1,
                "unlabelled": 7,
            },
        ),
        (  # answer 1 only she rated; the gold answer 2 stays counted as gold though only she rated it
            ["--format", "ratings"],
            {"exported": 2, "gold": 1, "unlabelled": 14},  # the other answers, which the rate task serves too
            {"exported": 1, "gold": 1, "excluded_only": 1, "unlabelled": 14},
        ),
        (["--format", "sft", "--edits"], {"exported": 1}, {"exported": 0, "excluded_only": 1}),  # her edit
    ],
)
def test_every_item_only_excluded_labellers_labelled_is_counted_excluded_only(
    ws, capsys, flags, everyone, without_mallory
):
    ws, _ = ws
    assert export(ws, capsys, *flags) == (everyone, "")
    counts, named = export(ws, capsys, *flags, "--exclude-labeller", "mallory")
    assert counts == without_mallory and named == "excluded labellers: mallory (--exclude-labeller)"


def test_train_counts_what_export_of_split_train_counts(ws, capsys):
    """train's "workspace:" line is `data export --split train`'s counts, exclusion's among them."""
    ws, _ = ws
    out = ["--split", "train", "--exclude-labeller", "mallory"]
    rows, counts = preference_rows(ws, "train", EXPORT_KINDS, excluded=("mallory",))
    assert counts == export(ws, capsys, "--format", "dpo", *out)[0] and counts["excluded_only"] == 3
    rows, counts = kto_rows(ws, "train", excluded=("mallory",))
    assert counts == export(ws, capsys, "--format", "kto", *out)[0] and counts["excluded_only"] == 1
    rows, counts = sft_rows(ws, "train", ("edits",), excluded=("mallory",))
    assert counts == {"excluded_only": 1}  # train names its rows "edits"; none is left
    rows, counts = rating_kto_rows(ws, "train", "helpfulness>=3", excluded=("mallory",))
    assert counts["excluded_only"] == 1 and counts["gold"] == 1 and len(rows) == 1


def test_everyone_excluded_is_said_not_unlabelled(ws, capsys):
    """Excluding every labeller of a format left "nothing to export (unlabelled N)" or no reason at all."""
    ws, _ = ws
    (ws.path / EXCLUDED_FILE).write_text('["ann"]')  # the admin tab's switch, joined to the flag
    counts, named = export(ws, capsys, "--format", "kto", "--exclude-labeller", "mallory")
    assert counts == {  # a0-a4 and a7 only they labelled; a6, b0-b7 and c nobody did
        "exported": 0,
        "gold": 1,
        "excluded_only": 6,
        "unlabelled": 10,
    }
    assert named == "excluded labellers: ann (excluded.json), mallory (--exclude-labeller)"
    counts, _ = export(ws, capsys, "--format", "dpo", "--exclude-labeller", "bob,mallory")
    assert counts == {"exported": 0, "excluded_only": 8, "unlabelled": 1, "rank_excluded_only": 1}
    (ws.path / EXCLUDED_FILE).write_text('["nobody"]')  # labels nothing yet: said, and no error
    capsys.readouterr()
    assert (
        main(
            ["export", "-w", str(ws.path), "--format", "dpo", "--out", str(ws.path / "exports" / "o.parquet")]
        )
        == 0
    )
    io = capsys.readouterr()
    assert (
        io.err
        == f"warning: {ws.path / EXCLUDED_FILE}: no labels by nobody in this workspace: excluding that name changes nothing yet\n"
    )
    # it excluded nothing: the summary said "excluded labellers: nobody (excluded.json)" all the same
    assert io.out.rstrip().endswith("; excluded labellers: nobody (excluded.json; no labels)")
    assert main(["stats", "-w", str(ws.path)]) == 0  # the stats summary says it alike
    assert "excluded labellers: nobody (excluded.json; no labels): " in capsys.readouterr().out


def stats(ws, capsys, *flags) -> dict:
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def test_stats_counts_every_stored_label_and_says_which_figures_leave_whom_out(ws, capsys):
    ws, _ = ws
    everyone, excluded = stats(ws, capsys), stats(ws, capsys, "--exclude-labeller", "mallory")
    assert excluded["labels"] == everyone["labels"] and excluded["rows"] == everyone["rows"]  # all stored
    assert everyone["labels"]["pairwise"]["a"] == 11 and "excluded_labellers" not in everyone
    assert (everyone["pairwise_items"]["labelled"], excluded["pairwise_items"]["labelled"]) == (7, 4)
    assert (everyone["kto_items"]["labelled"], excluded["kto_items"]["labelled"]) == (7, 4)
    assert (
        everyone["rank_items"]["rankings"] == 1 and excluded["rank_items"]["rankings"] == 0
    )  # the only ranker
    assert excluded["excluded_labellers"] == {
        "names": ["mallory"],
        "left_out_of": ["pairwise_items", "kto_items", "rank_items", "rate_items"],
    }
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--exclude-labeller", "mallory"]) == 0
    assert (
        "excluded labellers: mallory (--exclude-labeller): labels stored and counted in labels, left out of "
        "pairwise_items, kto_items, rank_items, rate_items\n"
    ) in capsys.readouterr().out
    (ws.path / EXCLUDED_FILE).write_text('["nobody"]')
    assert stats(ws, capsys)["labels"] == everyone["labels"]
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path)]) == 0
    assert capsys.readouterr().err == (
        f"warning: {ws.path / EXCLUDED_FILE}: no labels by nobody in this workspace: excluding that name changes "
        "nothing yet\n"
    )


def test_stats_shows_every_figure_its_excluded_line_names_with_no_data_where_nobody_counts(ws, capsys):
    """With every labeller excluded, the line said "left out of pairwise_items, kto_items, ..." and the figures were
    missing, line and JSON key alike."""
    ws, _ = ws
    figures = stats(ws, capsys, "--exclude-labeller", "ann,bob,mallory")
    assert figures["excluded_labellers"]["left_out_of"] == [
        "pairwise_items",
        "kto_items",
        "rank_items",
        "rate_items",
    ]
    nothing = {
        "labelled": 0,
        "split_votes": 0,
        "split_votes_counted_apart": {},
        "mean_agreement_multi_annotator": None,
        "aggregate": "majority",
    }
    assert figures["pairwise_items"] == figures["kto_items"] == nothing
    assert figures["rank_items"] == {
        "rankings": 0,
        "items": 0,
        "multi_ranked_items": 0,
        "kendall_tau": None,
        "tau_items": 0,
        "alpha_ordinal": None,
    }
    assert figures["rate_items"] == {"rated": 0, "ratings": 0, "alpha_per_aspect": {}}
    assert figures["labels"] == stats(ws, capsys)["labels"]  # every stored label still counted
    assert main(["stats", "-w", str(ws.path), "--exclude-labeller", "ann,bob,mallory"]) == 0
    out = capsys.readouterr().out
    for line in (
        "pairwise_items (majority; people's and imported labels): 0 items labelled, 0 split, mean agreement n/a "
        "on items with ≥2 labels",
        "kto_items (majority; people's and imported labels): 0 items labelled,",
        "rank_items (people's and imported labels): 0 rankings of 0 items, 0 items ranked by ≥2; Kendall's τ-b "
        "n/a, Krippendorff's α (ordinal) n/a\n",
    ):
        assert f"\n{line}" in out
    assert (
        "\nrate_items (people's and imported labels): 0 answers rated, 0 ratings; Krippendorff's α per aspect: none\n"
        in out
    )


def test_names_match_in_any_unicode_normalisation(tmp_path, capsys):
    """A name typed decomposed (NFD: e + U+0308) was refused while the list showed the same-looking stored zoë."""
    ws, ids = build(tmp_path / "ws")
    nfc, nfd = "zo\u00eb", unicodedata.normalize("NFD", "zo\u00eb")
    ws.append([Label(ids["pair"][7], nfc, "pairwise", "b"), Label(ids["a"][6], nfd, "kto", "desirable")])
    assert export(ws, capsys, "--format", "dpo")[0] == {"exported": 12}
    for typed in (nfd, nfc):
        counts, named = export(ws, capsys, "--format", "dpo", "--exclude-labeller", typed)
        assert (
            counts == {"exported": 11, "excluded_only": 1}
            and named == f"excluded labellers: {nfc} (--exclude-labeller)"
        )
        counts, _ = export(ws, capsys, "--format", "kto", "--exclude-labeller", typed)
        assert counts["excluded_only"] == 1
    (ws.path / EXCLUDED_FILE).write_text(json.dumps([nfd]))
    assert export(ws, capsys, "--format", "dpo")[0] == {"exported": 11, "excluded_only": 1}
    rows, counts = preference_rows(ws, None, EXPORT_KINDS)
    assert counts["excluded_only"] == 1 and ids["pair"][7] not in {row["pair_id"] for row in rows}
    assert {r["labeller"]: r["excluded"] for r in stats(ws, capsys, "--labellers")["labellers"]}[nfc]


def test_an_unknown_name_lists_labellers_and_machine_annotators(ws, capsys):
    ws, ids = ws
    ws.append(
        [
            Label(ids["pair"][7], "judge:toy", "pairwise", "a"),
            Label(ids["a"][6], "import", "kto", "desirable"),
        ]
    )
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--exclude-labeller", "nobody"]) == 2
    assert capsys.readouterr().err == (
        f"error: --exclude-labeller nobody: no labels by that name in {ws.path} (labellers: ann, bob, mallory; "
        "annotators: import, judge:toy)\n"
    )
    counts, named = export(ws, capsys, "--format", "dpo", "--exclude-labeller", "judge:toy, mallory")
    assert counts["excluded_only"] == 5 and named == (
        "excluded labellers: judge:toy (--exclude-labeller), mallory (--exclude-labeller)"
    )


def test_several_names_after_one_flag_as_on_train(ws, capsys):
    """`data export` and `stats` took one name a flag (`--exclude-labeller ann bob` was argparse's bare
    'unrecognized arguments: bob') where `train` takes several: all three take names one after the other, comma
    lists and the flag repeated alike."""
    ws, _ = ws
    one_after_other = export(ws, capsys, "--format", "dpo", "--exclude-labeller", "bob", "mallory")
    assert one_after_other == export(ws, capsys, "--format", "dpo", "--exclude-labeller", "bob,mallory")
    assert one_after_other[1] == "excluded labellers: bob (--exclude-labeller), mallory (--exclude-labeller)"
    assert main(["stats", "-w", str(ws.path), "--exclude-labeller", "bob", "mallory"]) == 0
    assert "excluded labellers: bob (--exclude-labeller), mallory" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["stats", "--help"])
    assert "one after the other" in " ".join(capsys.readouterr().out.split())


def test_judges_are_measured_against_the_majority_without_the_excluded(ws, capsys):
    """A judge's agreement with the human majority used every person's labels, the excluded ones' too, where the
    verdicts leave them out: with mallory excluded, the pair she alone labelled has no human verdict to be
    measured on."""
    ws, ids = ws
    ws.append([Label(ids["pair"][i], "judge:toy", "pairwise", "b") for i in (0, 3)])
    everyone, excluded = stats(ws, capsys), stats(ws, capsys, "--exclude-labeller", "mallory")
    overall = {s["annotator"]: s for s in everyone["machine_agreement"] if s["round"] == "all"}
    assert overall["judge:toy"]["pairs"] == 2
    overall = {s["annotator"]: s for s in excluded["machine_agreement"] if s["round"] == "all"}
    assert overall["judge:toy"]["pairs"] == 1 and overall["judge:toy"]["agreement"] == 0.0
    assert excluded["excluded_labellers"]["left_out_of"][-1] == "machine_agreement"
    judged = stats(ws, capsys, "--exclude-labeller", "judge:toy")  # an excluded judge is still measured
    assert [s["pairs"] for s in judged["machine_agreement"] if s["round"] == "all"] == [2]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[""]', "entry 0 ('') names nobody"),
        ('["ann", "  "]', "entry 1 ('  ') names nobody"),
        ('["ann", 3]', "entry 1 (3) is not a name (a JSON string of valid text)"),  # was: no entry named
        # was: a UnicodeEncodeError traceback printing the excluded labellers' line
        ('["ann", "\\ud800"]', 'entry 1 ("\\ud800") is not a name (a JSON string of valid text)'),
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply to read"),  # a RecursionError traceback
    ],
)
def test_a_blank_or_too_deep_excluded_json_is_one_line_naming_the_file(ws, capsys, text, said):
    """An empty name in excluded.json excluded nobody, silently (the flag refuses `--exclude-labeller ""`)."""
    ws, _ = ws
    (ws.path / EXCLUDED_FILE).write_text(text)
    for command in (["stats"], ["export", "--format", "dpo"]):
        capsys.readouterr()
        assert main([command[0], "-w", str(ws.path), *command[1:]]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {ws.path / EXCLUDED_FILE}: {said}") and err.count("\n") == 1, err
    assert not list((ws.path / "exports").glob("*.parquet"))


def test_a_judges_label_on_an_edit_undoes_nothing_and_an_excluded_editors_edit_stays_out(ws, capsys):
    """`generate --judge --judge-labelled` judged edit pairs: a judge's label undid the edit in `stats` (not in the
    export), and with the editor excluded the judge's label alone decided whether the edit trained (an audit). An
    edit's verdict is its editor's; judges no longer judge edit pairs."""
    from generate.judge import pairs_to_judge

    ws, _ = ws
    edit = next(p["id"] for p in ws.read("pairs").to_pylist() if p["kind"] == "edit")
    ws.append([Label(edit, "judge:toy", "pairwise", "b")])  # the original over the edit
    assert stats(ws, capsys)["edits"]["undone"] == 0
    assert export(ws, capsys, "--format", "sft", "--edits")[0] == {"exported": 1}
    excluded = export(ws, capsys, "--format", "sft", "--edits", "--exclude-labeller", "mallory")[0]
    assert excluded == {"exported": 0, "excluded_only": 1}
    assert sft_rows(ws, None, ("edits",), "auto", ("mallory",))[1] == {"excluded_only": 1}
    # the DPO export and train: the judge's label decided the edit pair with --labels machine|all or the editor out
    for labels in ("all", "auto"):
        out = export(ws, capsys, "--format", "dpo", "--labels", labels, "--exclude-labeller", "mallory")[0]
        assert out["excluded_only"] == 4, (labels, out)  # pairs 3, 4, 6 and her edit pair
        rows, counts = preference_rows(ws, None, ("sampled", "edit"), None, labels, "majority", ("mallory",))
        assert edit not in {row["pair_id"] for row in rows} and counts["excluded_only"] == 4
    rows, _ = preference_rows(ws, None, ("sampled", "edit"), None, "machine")  # a judge's alone: no verdict
    assert edit not in {row["pair_id"] for row in rows}
    assert edit not in set(pairs_to_judge(ws, "judge:other", None, labelled=True)[0]["id"])
    assert edit not in set(pairs_to_judge(ws, "judge:other", None, labelled=True, kinds=("edit",))[0]["id"])


def test_spaces_around_a_name_in_excluded_json_are_dropped_as_the_flags_are(ws, capsys):
    """A hand-edited `" mallory "` excluded nobody (a warning with the name's spaces invisible in it), where
    `--exclude-labeller " mallory "` and the admin tab's switch exclude mallory."""
    ws, _ = ws
    (ws.path / EXCLUDED_FILE).write_text('[" mallory "]')
    _, said = export(ws, capsys, "--format", "dpo")
    assert "excluded labellers: mallory (excluded.json)" in said
    assert not capsys.readouterr().err


def test_a_folder_at_excluded_json_is_one_line_not_nobody_excluded(ws, capsys):
    """A folder named excluded.json was read as no file: every labeller counted, silently."""
    ws, _ = ws
    (ws.path / EXCLUDED_FILE).mkdir()
    for command in (["stats"], ["export", "--format", "dpo"]):
        capsys.readouterr()
        assert main([command[0], "-w", str(ws.path), *command[1:]]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {ws.path / EXCLUDED_FILE}: {A_DIRECTORY}\n"
    assert not list((ws.path / "exports").glob("*.parquet"))


def test_a_stored_name_with_a_comma_is_one_name_to_the_flag(ws, capsys):
    """A judge run from a local folder is named by it, and a folder's name may hold a comma: `--exclude-labeller
    judge:/models/run,v2` was split into `judge:/models/run` and `v2`, 'no labels by that name', so that judge could
    not be excluded at all. A value that names a stored annotator as a whole is that name; others still split."""
    ws, ids = ws
    judge = "judge:/models/run,v2"
    ws.append([Label(ids["pair"][7], judge, "pairwise", "a")])
    counts, named = export(ws, capsys, "--format", "dpo", "--exclude-labeller", judge)
    assert counts["excluded_only"] == 1 and named == f"excluded labellers: {judge} (--exclude-labeller)"
    counts, named = export(ws, capsys, "--format", "dpo", "--exclude-labeller", f"{judge}", "bob, mallory")
    assert (
        named
        == f"excluded labellers: bob (--exclude-labeller), {judge} (--exclude-labeller), mallory (--exclude-labeller)"
    )
    assert main(["stats", "-w", str(ws.path), "--exclude-labeller", judge]) == 0
    assert f"excluded labellers: {judge} (--exclude-labeller)" in capsys.readouterr().out
    assert parse_train_options(
        ["-w", str(ws.path), "--exclude-labeller", judge, "ann,bob"]
    ).exclude_labeller == (
        judge,
        "ann,bob",
    )  # split by check_exclusion, where the stored names are known
    assert flag_names((judge, "ann,bob", " mallory "), {judge, "ann", "bob", "mallory"}) == [
        judge,
        "ann",
        "bob",
        "mallory",
    ]


def test_an_excluded_name_with_a_newline_stays_on_the_summary_line(tmp_path, capsys):
    """The Python API stores any name: excluding one that holds a newline printed the export's summary as two lines
    (``excluded labellers: evil`` and a forged line after it), as `stats --labellers` did before it escaped them;
    so did the warning naming an excluded.json entry with no labels."""
    ws = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": "user", "content": "Question?"}], "toy")
    a, b = (Completion(prompt.id, f"answer {side}", "toy", "hf") for side in "ab")
    pair = Pair(prompt.id, a.id, b.id, "sampled")
    evil = "evil\nFLAG forged"
    ws.append(
        [prompt, a, b, pair, Label(pair.id, evil, "pairwise", "a"), Label(pair.id, "ann", "pairwise", "b")]
    )
    (ws.path / EXCLUDED_FILE).write_text(json.dumps(["nobody\nhere"]))
    capsys.readouterr()
    assert main(["export", "-w", str(ws.path), "--format", "dpo", "--exclude-labeller", evil]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"wrote {ws.path / 'exports' / 'dpo.parquet'}: 1 row exported; excluded labellers: evil\\nFLAG forged "
        "(--exclude-labeller), nobody\\nhere (excluded.json; no labels)"
    ]
    assert len(err.splitlines()) == 1 and "no labels by nobody\\nhere in this workspace" in err
