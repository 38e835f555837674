"""The admin tab's switch that keeps a labeller's labels out of every verdict (WS/excluded.json), read alike by
`data stats`, `data export`, training's rows and the admin tab; and the admin's choice of aggregation."""

from __future__ import annotations

import html
import json

import gradio as gr
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from annotate.admin import admin_view, exclude_labeller
from annotate.admin_export import AGGREGATED_EXPORTS, EXPORTS, export_labels
from annotate.agreement import admin_report
from annotate.app import make_context
from annotate.service import LabelService
from annotate.users import Authenticator, User, hash_password
from data.__main__ import main
from data.aggregate import AGGREGATIONS, MAJORITY
from data.errors import PrefloopError
from data.files import NOT_A_FILE, NotAFileError
from data.records import Completion, Label, Pair, Prompt
from data.selection import EXCLUDED_FILE, excluded_labellers, read_excluded
from data.workspace import Workspace
from tests.test_data_exclusion import RATING, build
from train.pairs import preference_rows

# pair -> {labeller: choice}. With cat: p0 split (a vs b), p1 a (cat alone), p2 a, p3 b.
# Without cat: p0 a, p1 unlabelled, p2 a, p3 b.
VOTES = [
    {"bob": "a", "cat": "b"},
    {"cat": "a"},
    {"bob": "a", "ann": "a", "cat": "b"},
    {"bob": "b"},
]


@pytest.fixture()
def setup(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    records, ids = [], []
    for i, votes in enumerate(VOTES):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "m", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        records += [Label(pair.id, name, "pairwise", choice, strength=2) for name, choice in votes.items()]
        ids.append(pair.id)
    ws.append(records)
    users = {
        "ann": User("ann", hash_password("pw-ann-12345"), admin=True),
        "bob": User("bob", hash_password("pw-bob-12345")),
    }
    return make_context(LabelService(ws, overlap=3), Authenticator(users)), ids


def verdict_counts(ctx, capsys) -> tuple[dict, set, set, set]:
    """(stats' pairwise_items, pairs exported by `data export`, by the admin tab, in training's rows)."""
    ws = ctx.service.workspace
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "export",
                "-w",
                str(ws.path),
                "--format",
                "dpo",
                "--out",
                str(ws.path / "exports" / "cli.parquet"),
            ]
        )
        == 0
    )
    cli = set(pd.read_parquet(ws.path / "exports" / "cli.parquet")["pair_id"])
    assert "Wrote exports/dpo.parquet (majority)" in export_labels(ctx, "ann", "dpo")
    admin = set(pd.read_parquet(ws.exports / "dpo.parquet")["pair_id"])
    rows, _ = preference_rows(ws, "train", ("sampled",))
    return stats["pairwise_items"], cli, admin, {row["pair_id"] for row in rows}


def test_excluding_a_labeller_changes_every_verdict_alike_and_including_restores_them(setup, capsys):
    ctx, (p0, p1, p2, p3) = setup
    items, cli, admin, train = verdict_counts(ctx, capsys)
    assert (items["labelled"], items["split_votes"]) == (4, 1)
    assert cli == admin == train == {p1, p2, p3}
    cards, labellers, _, _ = admin_view(ctx, "ann")
    assert "verdicts (majority)" in cards and "1 split" in cards
    assert "<td>cat</td>" in labellers and "excluded</td>" not in labellers

    assert "cat: labels out of every verdict now (still stored). Excluded: cat." in exclude_labeller(
        ctx, "ann", " cat ", True
    )
    assert read_excluded(ctx.service.workspace.path) == ("cat",)
    items, cli, admin, train = verdict_counts(ctx, capsys)
    assert (items["labelled"], items["split_votes"]) == (3, 0)
    assert cli == admin == train == {p0, p2, p3}
    cards, labellers, _, _ = admin_view(ctx, "ann")
    assert "excluded: cat" in cards and labellers.count("<td>excluded</td>") == 1
    assert len(ctx.service.workspace.frame("labels")) == 7  # the labels stay stored
    capsys.readouterr()
    assert main(["stats", "-w", str(ctx.service.workspace.path), "--labellers", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["labellers"]
    assert {r["labeller"]: r["excluded"] for r in report} == {"ann": False, "bob": False, "cat": True}

    assert "count in the verdicts again. Excluded: nobody" in exclude_labeller(ctx, "ann", "cat", False)
    items, cli, admin, train = verdict_counts(ctx, capsys)
    assert (items["labelled"], items["split_votes"]) == (4, 1)
    assert cli == admin == train == {p1, p2, p3}
    assert json.loads((ctx.service.workspace.path / EXCLUDED_FILE).read_text()) == []


def test_the_switch_is_admin_only_and_unions_with_the_flag(setup):
    ctx, _ = setup
    with pytest.raises(gr.Error, match="admin"):
        exclude_labeller(ctx, "bob", "cat", True)
    assert "Give the name of a labeller" in exclude_labeller(ctx, "ann", "  ", True)
    assert "nobody has no labels" in exclude_labeller(ctx, "ann", "nobody", True)
    assert read_excluded(ctx.service.workspace.path) == ()
    exclude_labeller(ctx, "ann", "cat", True)
    assert excluded_labellers(ctx.service.workspace.path, ["bob", "cat"]) == ("bob", "cat")
    with pytest.raises(gr.Error, match="Aggregation 'mean'"):
        admin_view(ctx, "ann", "mean")


def test_the_admin_aggregates_as_data_export_does(setup, capsys):
    ctx, _ = setup
    ws = ctx.service.workspace
    for method in ("majority", "dawid-skene"):
        out = ws.path / "exports" / f"{method}.parquet"
        assert (
            main(["export", "-w", str(ws.path), "--format", "dpo", "--aggregate", method, "--out", str(out)])
            == 0
        )
        assert f"({method})" in export_labels(ctx, "ann", "dpo", method)
        cli, admin = pd.read_parquet(out), pd.read_parquet(ws.exports / "dpo.parquet")
        assert list(cli["pair_id"]) == list(admin["pair_id"])
        assert [c[0]["content"] for c in cli["chosen"]] == [c[0]["content"] for c in admin["chosen"]]
        posteriors = [admin["posterior"].astype(float).to_numpy(), cli["posterior"].to_numpy()]
        np.testing.assert_array_equal(*posteriors)  # null for the majority, the same figures for dawid-skene
        missing = np.isnan(posteriors[0])
        assert missing.all() if method == "majority" else not missing.any()
        capsys.readouterr()
        assert main(["stats", "-w", str(ws.path), "--json", "--aggregate", method]) == 0
        items = json.loads(capsys.readouterr().out)["pairwise_items"]
        cards, _, disputed, _ = admin_view(ctx, "ann", method)
        assert f"verdicts ({method})" in cards and f"{items['split_votes']} split" in cards
        assert ("<th>posterior</th>" in disputed) == (method == "dawid-skene")


def test_the_switch_cuts_a_huge_name_it_echoes(setup):
    ctx, _ = setup
    said = exclude_labeller(ctx, "ann", "n" * 100_000, True)
    assert f"{'n' * 80}… has no labels in this workspace." in said and len(said) < 300
    said = exclude_labeller(ctx, "ann", "n " * 50_000, False)  # spaces in it: cut as a whole all the same
    assert f">{'n ' * 40}…: not excluded, so nothing changed. Excluded: nobody.<" in said


def test_a_planted_symlink_at_excluded_json_is_refused(setup, tmp_path):
    ctx, _ = setup
    ws = ctx.service.workspace
    victim = tmp_path / "victim.json"
    victim.write_text('["bob"]')
    (ws.path / EXCLUDED_FILE).symlink_to(victim)
    said = exclude_labeller(
        ctx, "ann", "cat", True
    )  # the workspace's name for the file, not the server's path
    assert f">Not changed: excluded.json: {NOT_A_FILE}" in said and str(tmp_path) not in said
    assert victim.read_text() == '["bob"]' and (ws.path / EXCLUDED_FILE).is_symlink()
    with pytest.raises(NotAFileError, match=NOT_A_FILE):
        read_excluded(ws.path)
    with pytest.raises(gr.Error) as refused:
        admin_view(ctx, "ann")
    assert refused.value.message == f"excluded.json: {NOT_A_FILE}"
    with pytest.raises(gr.Error, match=f"excluded.json: {NOT_A_FILE}"):
        export_labels(ctx, "ann", "dpo")
    assert main(["stats", "-w", str(ws.path)]) == 2  # never read as the workspace's list
    with pytest.raises(NotAFileError):
        preference_rows(ws, "train", ("sampled",))
    (ws.path / EXCLUDED_FILE).unlink()
    (ws.path / EXCLUDED_FILE).write_text('{"cat": true}')
    with pytest.raises(PrefloopError, match="excluded.json: expected a JSON list of labeller names"):
        read_excluded(ws.path)


def test_the_admins_export_counts_what_only_excluded_labellers_labelled_and_names_them(setup):
    ctx, _ = setup
    exclude_labeller(ctx, "ann", "cat", True)  # p1 was cat's alone
    status = export_labels(ctx, "ann", "dpo")
    assert "3 rows exported, left out: excluded_only 1; excluded labellers: cat (excluded.json)" in status


def test_the_side_figures_count_every_persons_labels_as_stats_does(setup, capsys):
    """Exclusion changes verdicts, not what is measured: the admin's left-side card and its labels card's sides
    left out an excluded labeller's labels (`left side wins 100% of 100 decisive labels` beside 135 labels), while
    `data stats` counts every stored label and each labeller's left-side share."""
    ctx, _ = setup
    ws = ctx.service.workspace
    records = []
    for i in range(6):  # ann picks the side on the left half the time, dave always
        prompt = Prompt([{"role": "user", "content": f"sided {i}"}], source="test")
        a, b = (Completion(prompt.id, f"sided {i} {side}", "m", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair, Label(pair.id, "ann", "pairwise", "a", left="a" if i % 2 else "b")]
        records.append(Label(pair.id, "dave", "pairwise", "b", left="b"))
    ws.append(records)
    exclude_labeller(ctx, "ann", "dave", True)
    report = admin_report(ws.frame("labels"), "pairwise", excluded=("dave",))
    assert report["position"]["decisive"] == 12 and report["position"]["left_wins"] == 9
    cards, _, _, _ = admin_view(ctx, "ann")
    assert "0.750" in cards and "of 12 decisive labels; p = " in cards
    capsys.readouterr()
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["labellers"]
    decisive = sum(r["left_decisive"] for r in rows)
    wins = sum(round(r["left_share"] * r["left_decisive"]) for r in rows if r["left_decisive"])
    assert (report["position"]["decisive"], report["position"]["left_wins"]) == (decisive, wins)
    assert main(["stats", "-w", str(ws.path), "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)["labels"]["pairwise"]
    assert sum(report["distribution"].values()) == sum(stored.values()) == 19
    assert report["distribution"]["left"] == 9


@pytest.fixture()
def mixed(tmp_path):
    """`test_data_exclusion.build`'s workspace (mallory the editor of pair 3's answer, the only ranker; gold KTO and
    rated answers) with her excluded in WS/excluded.json, a judge's label on her edit pair (the original over the
    edit), on pair 7, on KTO answer b3 and a judge's ratings of b5, an arena pair ann voted on and pair 0 gold."""
    ws, ids = build(tmp_path / "ws")
    edit = next(p["id"] for p in ws.read("pairs").to_pylist() if p["kind"] == "edit")
    prompt = ws.read("prompts", ["id"]).column("id")[1].as_py()
    x, y = (Completion(prompt, f"arena {name}", name, "hf") for name in ("model-x", "model-y"))
    arena = Pair(prompt, x.id, y.id, "arena")
    ws.append(
        [
            x,
            y,
            arena,
            Label(arena.id, "ann", "pairwise", "a"),
            Label(edit, "judge:toy", "pairwise", "b"),
            Label(ids["pair"][7], "judge:toy", "pairwise", "a"),
            Label(ids["b"][3], "judge:toy", "kto", "desirable"),
            Label(ids["b"][5], "judge:toy", "rate", None, ratings=RATING, rubric="helpsteer2"),
        ]
    )
    assert main(["gold", "-w", str(ws.path), "--pair", ids["pair"][0], "--answer", "a"]) == 0
    (ws.path / EXCLUDED_FILE).write_text('["mallory"]')
    return ws


@pytest.mark.parametrize("task", ["pairwise", "kto", "rank", "rate"])
def test_the_admins_export_is_data_exports_rows_and_counts(mixed, capsys, task):
    """The admin tab built its exports itself: with the editor excluded, a judge's label alone decided her edit
    pair (`data export` leaves an edit's verdict to its editor: excluded_only), and arena pairs vanished uncounted
    (`data export`: kind_arena_not_asked). It is `data export` now, with the admin's aggregation."""
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    ctx = make_context(LabelService(mixed, task), Authenticator(users))
    for fmt in EXPORTS[task]:
        for method in AGGREGATIONS if fmt in AGGREGATED_EXPORTS else (MAJORITY,):
            said = export_labels(ctx, "ann", fmt, method)
            assert "Wrote exports/" in said, said
            admin = html.unescape(said.split(": ", 1)[1].split("</div>", 1)[0])
            out = mixed.path / "exports" / "cli.parquet"
            aggregate = ["--aggregate", method] if fmt in AGGREGATED_EXPORTS else []
            capsys.readouterr()
            assert (
                main(["export", "-w", str(mixed.path), "--format", fmt, *aggregate, "--out", str(out)]) == 0
            )
            assert admin == capsys.readouterr().out.strip().split(": ", 1)[1], (fmt, method)
            assert pq.read_table(mixed.exports / f"{fmt}.parquet").equals(pq.read_table(out)), (fmt, method)
            assert "excluded labellers: mallory (excluded.json)" in admin
            if fmt == "dpo":
                assert "kind_arena_not_asked 1" in admin and "excluded_only 4" in admin, admin


@pytest.mark.parametrize(("split", "labels"), [("train", "human"), ("test", "machine"), ("all", "all")])
@pytest.mark.parametrize("task", ["pairwise", "kto", "rate"])
def test_the_admins_export_of_a_split_and_whose_labels_is_data_exports(mixed, capsys, task, split, labels):
    """The admin tab's export had no --split or --labels: every split, and --labels auto, always. Its choices are
    `data export`'s, with its rows, counts and file name (WS/exports/<format>-<split>.parquet)."""
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    ctx = make_context(LabelService(mixed, task), Authenticator(users))
    [fmt] = EXPORTS[task]
    said = export_labels(ctx, "ann", fmt, MAJORITY, split, labels)
    name = fmt if split == "all" else f"{fmt}-{split}"
    out = mixed.path / "exports" / "cli.parquet"
    chosen = [] if split == "all" else ["--split", split]
    capsys.readouterr()
    code = main(
        ["export", "-w", str(mixed.path), "--format", fmt, *chosen, "--labels", labels, "--out", str(out)]
    )
    cli = capsys.readouterr()
    if code:  # nothing to export: said alike, nothing written
        assert (
            f"Nothing to export as {name} yet (" in said and not (mixed.exports / f"{name}.parquet").exists()
        )
        assert html.unescape(said).split(" yet (", 1)[1].split(").</div>")[0] in cli.err, (said, cli.err)
        return
    assert f"Wrote exports/{name}.parquet (" in said and f"--labels {labels}" in said, said
    assert f'href="prefloop/export/{name}.parquet"' in said
    admin = html.unescape(said.split(": ", 1)[1].split("</div>", 1)[0])
    assert admin == cli.out.strip().split(": ", 1)[1], (fmt, split, labels)
    assert pq.read_table(mixed.exports / f"{name}.parquet").equals(pq.read_table(out))


def test_the_admins_export_takes_only_data_exports_choices(mixed):
    """A split or a --labels the CLI does not take is refused in one line naming its choices; nothing written."""
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    ctx = make_context(LabelService(mixed), Authenticator(users))
    for split, labels, said in (
        ("dev", "auto", "--split 'dev': expected one of all, train, test."),
        ("train", "people", "--labels 'people': expected one of auto, human, machine, all."),
        (None, None, "--labels None: expected one of auto, human, machine, all."),
    ):
        with pytest.raises(gr.Error) as refused:
            export_labels(ctx, "ann", "dpo", MAJORITY, split, labels)
        assert refused.value.message == said
    assert not mixed.exports.exists() or not any(mixed.exports.iterdir())


def test_the_labellers_table_marks_an_excluded_name_stored_in_another_normalisation(setup, capsys):
    """A labeller stored decomposed (zoë, NFD) and excluded: `stats --labellers` said excluded, the admin's
    labellers table "counted" (it compared the stored spelling with excluded.json's NFC one)."""
    import unicodedata

    ctx, ids = setup
    ws = ctx.service.workspace
    nfd = unicodedata.normalize("NFD", "zo\u00eb")
    answer = ws.frame("completions")["id"].iloc[0]
    ws.append(
        [
            Label(ids[3], nfd, "pairwise", "a"),
            Label(answer, nfd, "rate", None, ratings=RATING, rubric="helpsteer2"),
        ]
    )
    assert "labels out of every verdict now" in exclude_labeller(ctx, "ann", nfd, True)
    assert main(["stats", "-w", str(ws.path), "--labellers", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["labeller"]: r["excluded"] for r in report["labellers"]}[nfd] is True
    assert {r["labeller"]: r["excluded"] for r in report["tasks"]["rate"]["labellers"]}[nfd] is True
    rate = make_context(LabelService(ws, "rate", overlap=3), ctx.auth)
    for context in (ctx, rate):
        table = admin_view(context, "ann")[1]
        row = table.split(f"<td>{nfd}</td>")[1].split("</tr>")[0]
        assert row.endswith("<td>excluded</td>"), row


def test_including_a_labeller_who_is_not_excluded_says_so_and_changes_nothing(setup):
    ctx, _ = setup
    path = ctx.service.workspace.path / EXCLUDED_FILE
    said = exclude_labeller(ctx, "ann", "bob", False)
    assert "bob: not excluded, so nothing changed. Excluded: nobody." in said and "again" not in said
    assert not path.exists()  # nothing written
    exclude_labeller(ctx, "ann", "cat", True)
    before = path.read_bytes()
    said = exclude_labeller(ctx, "ann", " bob ", False)
    assert "bob: not excluded, so nothing changed. Excluded: cat." in said
    assert path.read_bytes() == before
    assert "cat: labels count in the verdicts again. Excluded: nobody." in exclude_labeller(
        ctx, "ann", "cat", False
    )


def test_the_switch_takes_a_hub_judge_by_either_of_its_names(setup, tmp_path):
    """A hub judge's labels stored under its snapshot folder (`data.lineage.same_machine`): switching
    `judge:org/tiny` out said it had no labels in this workspace, and switching it back in by the snapshot's name
    said it was not excluded."""
    ctx, _ = setup
    ws = ctx.service.workspace
    snapshot = tmp_path / "hub" / "models--org--tiny" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    prompt = Prompt([{"role": "user", "content": "judged"}], source="test")
    a, b = (Completion(prompt.id, f"judged {side}", "m", "hf") for side in "ab")
    pair = Pair(prompt.id, a.id, b.id, "sampled")
    ws.append([prompt, a, b, pair, Label(pair.id, f"judge:{snapshot}", "pairwise", "a")])  # its alone
    said = exclude_labeller(ctx, "ann", "judge:org/tiny", True)
    assert "labels out of every verdict now (still stored). Excluded: judge:org/tiny." in said
    assert "3 rows exported, left out: excluded_only 1, split 1; excluded la" in export_labels(
        ctx, "ann", "dpo"
    )
    said = exclude_labeller(ctx, "ann", f"judge:{snapshot}", False)
    assert "count in the verdicts again. Excluded: nobody." in said
    assert read_excluded(ws.path) == () and "4 rows exported, left out: split 1<" in export_labels(
        ctx, "ann", "dpo"
    )


def test_two_exclusions_at_once_both_stay_in_force(setup, monkeypatch):
    """Two admins (or one admin's two pages) exclude cat and bob at the same moment: each read excluded.json, then
    wrote it with its own name added, so the later write dropped the other's exclusion while both status lines said
    it was made. One exclusion is read and written at a time now: both stay in force."""
    import threading

    import data.selection

    ctx, _ = setup
    write, lines = data.selection.atomic_write, {}

    def exclude(name: str) -> None:
        lines[name] = exclude_labeller(ctx, "ann", name, True)

    other = threading.Thread(target=exclude, args=("bob",))

    def written_meanwhile(path, fill):  # bob's exclusion runs as cat's is about to be written
        monkeypatch.setattr(data.selection, "atomic_write", write)
        other.start()
        other.join(timeout=1)  # (it waits for cat's write now: no later than a second)
        write(path, fill)

    monkeypatch.setattr(data.selection, "atomic_write", written_meanwhile)
    exclude("cat")
    other.join()
    assert read_excluded(ctx.service.workspace.path) == ("bob", "cat")
    assert "Excluded: bob, cat." in lines["bob"], lines


def test_two_apps_excluding_at_once_both_stay_in_force(setup, monkeypatch):
    """Two apps on one workspace (two processes) exclude cat and bob at the same moment: the thread lock of one
    app did not stop the other's read and write between this one's, so bob's exclusion was lost though its line
    said it was made. The switch holds a lock of the workspace's file (WS/excluded.lock) now: the other process
    waits for this write, then adds bob to it."""
    import contextlib
    import subprocess
    import sys

    import data.selection

    ctx, _ = setup
    ws = ctx.service.workspace.path
    write = data.selection.atomic_write
    other = (
        "import sys; from data.selection import set_excluded; print('ready', flush=True); "
        "print(set_excluded(sys.argv[1], 'bob', True), flush=True)"
    )
    started = {}

    def written_meanwhile(path, fill):  # the other app excludes bob as this one is about to write cat
        process = subprocess.Popen([sys.executable, "-c", other, str(ws)], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "ready\n"
        with contextlib.suppress(subprocess.TimeoutExpired):  # it waits for this write now: a second at most
            process.wait(timeout=1)
        write(path, fill)
        started["process"] = process

    monkeypatch.setattr(data.selection, "atomic_write", written_meanwhile)
    assert "Excluded: cat." in exclude_labeller(ctx, "ann", "cat", True)
    out, _ = started["process"].communicate(timeout=60)
    assert started["process"].returncode == 0 and out == "('bob', 'cat')\n"
    assert read_excluded(ws) == ("bob", "cat")
