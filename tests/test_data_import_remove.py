"""`data import --remove FILE` withdraws the labels an import of FILE stored, as events (a retraction of each, the
labels kept in the log): exports, stats and the apps no longer count them, the apps serve their items, a rank item an
import ranked takes new answers again (the refusal says how), a rerun adds nothing, importing the file again puts the
labels back, and a file that was never imported is one line naming the file and row, with nothing written."""

from __future__ import annotations

import json
import shutil

import pyarrow.compute as pc
import pytest

from annotate.service import LabelService
from data.__main__ import main
from data.aggregate import current_labels
from data.gold import rank_items
from data.imports import ImportOptions, ImportPreview, check_file, write_records
from data.ranking import rank_item_id
from data.records import Prompt
from data.schemas import SCHEMAS
from data.workspace import Workspace
from tests.test_data_gold_files import write
from tests.test_data_gold_tasks import FULL
from tests.test_data_import_errors import digest

ANSWERS = ["new 1", "new 2", "new 3"]
RANKED = {"prompt": "Q?", "completions": ANSWERS, "ranking": "2 > 1 > 3"}
OTHER = {"prompt": "3 + 3?", "chosen": "6", "rejected": "7"}


def remove(ws, *files) -> int:
    """`data import --remove FILE`, the flag once per file (as `data gold --remove ITEM`)."""
    return main(["import", "-w", str(ws), *(arg for path in files for arg in ("--remove", str(path)))])


def import_labels(ws) -> list[dict]:
    labels = Workspace(ws).read("labels")
    return labels.filter(pc.equal(labels.column("annotator"), "import")).to_pylist()


def test_an_item_an_import_ranked_takes_new_answers_once_the_ranking_is_withdrawn(tmp_path, capsys):
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    ((item, _),) = rank_items(Workspace(ws)).items()
    assert not LabelService(Workspace(ws), "rank").items  # an imported ranking closes its item
    fourth = write(tmp_path / "fourth.jsonl", {"prompt": "Q?", "completion": "a fourth", "label": True})
    assert main(["import", "-w", str(ws), str(fourth)]) == 2
    assert capsys.readouterr().err.endswith(f"; leave the row out, or `data import --remove {ranks}` first\n")

    capsys.readouterr()
    assert remove(ws, ranks) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {ranks}: 1 (rankings 1)\n"
    before = len(import_labels(ws))
    assert remove(ws, ranks) == 0  # a rerun adds nothing
    assert capsys.readouterr().out == f"withdrew the labels of {ranks}: 0; 1 withdrawn already\n"
    labels = import_labels(ws)
    assert len(labels) == before == 2  # the ranking stays in the log, withdrawn by one retraction
    ranking, retraction = sorted(labels, key=lambda label: label["created_at"])
    assert retraction["retracted"] and retraction["supersedes"] == ranking["id"] and ranking["ranking"]

    # no reader counts it: the export has nothing, stats no ranking, and the rank app serves the item
    assert main(["export", "-w", str(ws), "--format", "dpo", "--out", str(tmp_path / "dpo.parquet")]) == 2
    assert "nothing to export" in capsys.readouterr().err
    assert main(["stats", "-w", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rank_items"]["rankings"] == 0
    assert list(LabelService(Workspace(ws), "rank").items) == [item]
    assert main(["import", "-w", str(ws), str(fourth)]) == 0  # the item grows as any other
    assert len(rank_items(Workspace(ws))[item]) == 4
    # the ranking of three of its four answers would leave the fourth unranked: importing it again is refused
    assert main(["import", "-w", str(ws), str(ranks)]) == 2
    assert "would hold 4 answers" in capsys.readouterr().err


def test_importing_the_file_again_puts_its_labels_back(tmp_path, capsys):
    ws = tmp_path / "ws"
    prefs = write(tmp_path / "prefs.jsonl", {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    rated = write(tmp_path / "rated.jsonl", {"prompt": "Rate?", "response": "fine", "ratings": FULL})
    assert main(["import", "-w", str(ws), str(prefs), str(rated)]) == 0
    assert remove(ws, prefs, rated) == 0
    out = capsys.readouterr().out
    assert f"withdrew the labels of {prefs}: 1 (preferences 1)\n" in out
    assert f"withdrew the labels of {rated}: 1 (ratings 1)\n" in out
    assert len(LabelService(Workspace(ws), "pairwise").items) == 1  # the pair is for labellers now
    rate = LabelService(Workspace(ws), "rate")  # and the rated answer for raters, beside the pair's two
    assert sorted(rate.items[i].texts[0] for i in rate.items) == ["bad", "fine", "good"]
    export = ["export", "-w", str(ws), "--out", str(tmp_path / "out.parquet"), "--format"]
    assert main([*export, "dpo"]) == 2 and "unlabelled 1" in capsys.readouterr().err

    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert "restored_labels 1" in capsys.readouterr().out
    assert main([*export, "dpo"]) == 0 and "1 row exported" in capsys.readouterr().out
    assert not LabelService(Workspace(ws), "pairwise").items
    before = len(import_labels(ws))
    assert main(["import", "-w", str(ws), str(prefs)]) == 0  # a rerun adds nothing
    assert "restored_labels" not in capsys.readouterr().out and len(import_labels(ws)) == before
    assert remove(ws, prefs) == 0  # the label put back is the file's too
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1)\n"
    assert main([*export, "dpo"]) == 2


def test_a_file_never_imported_is_one_line_naming_its_row_and_nothing_is_withdrawn(tmp_path, capsys):
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    other = {"prompt": "Other?", "completions": ANSWERS, "ranking": "1 > 2 > 3"}
    more = write(tmp_path / "more.jsonl", RANKED, other)  # its row 0 is ranks.jsonl's: stored, under --source
    other_item = rank_item_id(Prompt([{"role": "user", "content": "Other?"}], "t").id, 0)
    before = digest(ws)
    capsys.readouterr()
    assert (
        main(["import", "-w", str(ws), "--source", "ranks", "--remove", str(ranks), "--remove", str(more)])
        == 2
    )
    assert capsys.readouterr().err == (
        f"error: {more}, row 1, field 'ranking': its ranking of rank item {other_item} is not stored in {ws}, so "
        "there is none to withdraw: was the file imported there, with the same --source, --format, --rubric, "
        "--max-record-bytes and --non-text? Nothing was withdrawn\n"
    )
    assert (
        remove(ws, more) == 2
    )  # its answers under its own name (the default --source) are not stored either
    assert capsys.readouterr().err.startswith(
        f"error: {more}, row 0, field 'ranking': its ranking of rank item"
    )
    prefs = write(tmp_path / "prefs.jsonl", {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    assert remove(ws, prefs) == 2
    assert capsys.readouterr().err.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")
    gold = write(tmp_path / "gold.jsonl", {"prompt": "Q?", "response": "an answer"})
    assert remove(ws, gold) == 2
    assert capsys.readouterr().err == (
        f"error: {gold}: no row holds a label (a preference, KTO label, ranking or rating): its import stored "
        "none to withdraw\n"
    )
    assert main(["import", "-w", str(ws), str(prefs), "--remove", str(ranks)]) == 2
    assert "not both in one call" in capsys.readouterr().err
    assert main(["import", "-w", str(ws), "--remove", str(ranks), str(prefs)]) == 2  # one flag for two files
    assert "(the flag once per file: --remove A --remove B)" in capsys.readouterr().err
    assert main(["import", "-w", str(ws), "--remove", str(ranks), "--split", "test"]) == 2
    assert capsys.readouterr().err == (
        "error: --split does not go with --remove (it changes no label a file makes); leave it out\n"
    )
    assert digest(ws) == before
    assert remove(ws, ranks, ranks) == 0  # a file named twice: withdrawn once
    assert capsys.readouterr().out.splitlines()[1].endswith(": 0; 1 withdrawn already")


def test_stats_count_an_imports_labels_in_force_and_its_withdrawn_ones_apart(tmp_path, capsys):
    """A retraction is an event, not a label: `machine_annotators` counted the withdrawn labels and their
    retractions (4 for two labels withdrawn); it counts the labels in force, and those withdrawn are apart."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    prefs = write(tmp_path / "prefs.jsonl", {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Good?", "completion": "yes", "label": True})
    assert main(["import", "-w", str(ws), str(ranks), str(prefs), str(kto)]) == 0

    def stats() -> dict:
        capsys.readouterr()
        assert main(["stats", "-w", str(ws), "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    assert stats()["machine_annotators"] == {"import": 3} and "machine_annotators_withdrawn" not in stats()
    assert remove(ws, ranks, prefs) == 0
    figures = stats()
    assert (figures["machine_annotators"], figures["machine_annotators_withdrawn"]) == (
        {"import": 1},
        {"import": 2},
    )
    assert remove(ws, kto) == 0
    assert main(["stats", "-w", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "machine_annotators: import (0 labels)\n" in out
    assert "machine annotators' labels withdrawn (data import --remove), not counted above: import 3\n" in out
    assert main(["import", "-w", str(ws), str(prefs)]) == 0  # put back: in force again
    figures = stats()
    assert (figures["machine_annotators"], figures["machine_annotators_withdrawn"]) == (
        {"import": 1},
        {"import": 2},
    )


def test_a_running_app_serves_the_items_whose_imported_labels_were_withdrawn(tmp_path):
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Good?", "completion": "yes", "label": True})
    prefs = write(tmp_path / "prefs.jsonl", {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    assert main(["import", "-w", str(ws), str(ranks), str(kto), str(prefs)]) == 0
    services = {task: LabelService(Workspace(ws), task) for task in ("rank", "kto", "pairwise")}
    before = {task: len(service.items) for task, service in services.items()}
    assert before == {"rank": 0, "kto": 5, "pairwise": 0}  # kto: the other files' answers, none labelled
    assert remove(ws, ranks, kto, prefs) == 0
    for task, service in services.items():
        assert service.reload() == before[task] + 1, task
    assert len(services["rank"].show("ann").item.texts) == 3
    assert services["pairwise"].show("ann").item.texts == ("good", "bad")
    kto_items = services["kto"].items
    assert "yes" in {kto_items[i].texts[0] for i in kto_items}


def test_a_running_app_stops_serving_the_items_whose_withdrawn_labels_are_imported_again(tmp_path):
    """Importing a withdrawn file again puts its labels back in force, but a running app kept serving their items
    (queued at the withdrawal) until a restart. At its next reload they leave the queue, as a restart leaves them
    out and as a fresh import's labelled items never join it."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Good?", "completion": "yes", "label": True})
    prefs = write(tmp_path / "prefs.jsonl", {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    assert main(["import", "-w", str(ws), str(ranks), str(kto), str(prefs)]) == 0
    assert remove(ws, ranks, kto, prefs) == 0
    services = {task: LabelService(Workspace(ws), task) for task in ("rank", "kto", "pairwise")}
    assert {task: len(service.queue.items) for task, service in services.items()} == {
        "rank": 1,
        "kto": 6,
        "pairwise": 1,
    }
    assert main(["import", "-w", str(ws), str(ranks), str(kto), str(prefs)]) == 0  # restored_labels
    for task, service in services.items():
        service.reload()
        restart = LabelService(Workspace(ws), task)
        assert service.queue.items == restart.queue.items, task
        assert service.progress("bob")["remaining"] == restart.progress("bob")["remaining"], task
    assert services["rank"].show("bob") is None and services["pairwise"].show("bob") is None
    kto_items = services["kto"].queue.items
    assert "yes" not in {services["kto"].items[i].texts[0] for i in kto_items}


def test_an_item_restored_and_grown_in_one_reload_leaves_the_running_apps_rounds(tmp_path):
    """An import ranking withdrawn, the item ranked, then an import (same --source) ranking its answers and a new
    one, read in one reload: the item left the queue but its round stayed on the progress, empty
    ({0: {'items': 0, 'done': 0}}), where a restart shows none."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    source = ["import", "-w", str(ws), "--source", "s"]
    assert main([*source, str(ranks)]) == 0
    service = LabelService(Workspace(ws), "rank")
    assert main([*source, "--remove", str(ranks)]) == 0
    service.reload()
    shown = service.show("ann")
    service.submit("ann", shown.item.id, "1 > 2 > 3")
    grown = {**RANKED, "completions": [*ANSWERS, "a fourth"], "ranking": "2 > 1 > 3 > 4"}
    assert main([*source, str(write(tmp_path / "grown.jsonl", grown))]) == 0
    service.reload()
    restart = LabelService(Workspace(ws), "rank")
    assert service.progress("ann")["rounds"] == restart.progress("ann")["rounds"] == {}
    assert service.progress("ann") == restart.progress("ann")


def test_an_item_an_import_labelled_leaving_gold_while_the_app_runs_is_not_served(tmp_path):
    """An answer with an import's KTO label, made gold: the app serves it as gold. Taken out of gold while it ran,
    it joined the regular queue at the next reload, where a restart leaves it out (its import label is in force)."""
    ws = tmp_path / "ws"
    kto = write(tmp_path / "kto.jsonl", {"prompt": "Good?", "completion": "yes", "label": True})
    assert main(["import", "-w", str(ws), str(kto)]) == 0
    (answer,) = [label["item_id"] for label in import_labels(ws)]
    assert main(["gold", "-w", str(ws), "--completion", answer, "--answer", "desirable"]) == 0
    service = LabelService(Workspace(ws), "kto")
    assert service.queue.gold == [answer]
    assert main(["gold", "-w", str(ws), "--remove", answer]) == 0
    service.reload()
    restart = LabelService(Workspace(ws), "kto")
    assert answer not in restart.queue.items and service.queue.items == restart.queue.items == []


def test_a_file_the_import_respelled_is_withdrawn_by_its_stored_spellings(tmp_path, capsys):
    """The import gave the file's near-copies the stored spellings before any id was made (`data.spellings`), so
    its labels are of the stored texts: --remove reads the file so too, and finds them."""
    ws = tmp_path / "ws"
    answers = write(tmp_path / "answers.jsonl", {"prompt": "Which?", "completions": ["good", "bad"]})
    assert main(["import", "-w", str(ws), "--unlabelled", str(answers)]) == 0
    near = {"prompt": "Which?\r\n", "chosen": "good  ", "rejected": "bad\r\n"}
    prefs = write(tmp_path / "prefs.jsonl", near)
    assert main(["import", "-w", str(ws), str(prefs)]) == 0
    assert "respelled 3" in capsys.readouterr().out
    assert remove(ws, prefs) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1)\n"


SKIPPED = "1 row skipped at import (rank_locked), never stored"


def import_a_locked_row_skipped(tmp_path, ws, locked: dict | None = None, flags: tuple[str, ...] = ()):
    """ranks.jsonl imported (its ranking locks its item), then prefs.jsonl with `--on-error skip` (and ``flags``): its
    row 0's answer (``locked``'s) would join that item (left out: rank_locked), its row 1's preference is stored.
    Returns both files."""
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0
    locked = locked or {"prompt": "Q?", "chosen": "a fourth", "rejected": "new 1"}
    prefs = write(tmp_path / "prefs.jsonl", locked, {"prompt": "Which?", "chosen": "good", "rejected": "bad"})
    assert main(["import", "-w", str(ws), "--on-error", "skip", *flags, str(prefs)]) == 0
    return ranks, prefs


def test_a_file_imported_with_rank_locked_rows_skipped_is_withdrawn_without_them(tmp_path, capsys):
    """`--on-error skip` left out the row whose answer would join the item an import ranked (rank_locked): read
    with the same option, --remove leaves it out too and withdraws the rows the import stored."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert "rank_locked 1" in capsys.readouterr().out
    (rejects,) = (ws / "imports").glob("*.rejects.jsonl")
    (reject,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert (reject["row"], reject["reason"]) == (0, "rank_locked")  # the skip's line names the way out too
    assert reject["error"].endswith(f"; leave the row out, or `data import --remove {ranks}` first")
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(prefs)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"


def test_a_row_skipped_at_import_is_no_label_missing_once_the_item_it_was_locked_out_of_opens(
    tmp_path, capsys
):
    """The file whose ranking locked the item withdrawn first, the row the import left out (rank_locked) is no
    longer refused when the file is read again: its label was reported "not stored", as if the file had not been
    imported there. The import log's rejects say the import skipped it: counted so, and the rest withdrawn."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert remove(ws, ranks) == 0
    capsys.readouterr()
    other = ["import", "-w", str(ws), "--on-error", "skip", "--source", "other", "--remove", str(prefs)]
    assert main(other) == 2  # the log lists the rows an import read with these options left out, no other
    assert capsys.readouterr().err.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")
    assert main(["import", "-w", str(ws), "--on-error", "skip", "--remove", str(prefs)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"
    assert remove(ws, prefs) == 0  # without --on-error skip too: the log says what the import left out
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 0; 1 withdrawn already; {SKIPPED}\n"
    entry = json.loads((ws / "imports" / "log.jsonl").read_text().splitlines()[-1])
    assert entry["counts"] == {
        "withdrawn": 0,
        "withdrawn_already": 1,
        "skipped_at_import": 1,
        "left_out_by_merge": 0,
    }


def test_rows_left_out_as_rank_locked_are_counted_where_no_import_log_lists_them(tmp_path, capsys):
    """A workspace that holds the file's labels without its import log (merged from the one it was imported into
    by a version that carried no log, or its log deleted): read with `--on-error skip`, the row the rank guard still
    refuses was left out of the withdrawal uncounted, the line saying only what was withdrawn. It is counted as a
    row the import skipped, as where the log lists it."""
    ws, merged = tmp_path / "ws", tmp_path / "merged"
    _, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert main(["init", "-w", str(merged)]) == 0
    assert main(["merge", "-w", str(merged), str(ws)]) == 0
    shutil.rmtree(merged / "imports")  # the import log merge carries (tests/test_data_merge_logs.py)
    capsys.readouterr()
    assert main(["import", "-w", str(merged), "--on-error", "skip", "--remove", str(prefs)]) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"


def test_the_import_log_is_matched_by_the_source_and_format_the_rows_were_read_with(tmp_path, capsys):
    """`--source prefs --format prompt` read the file as the import did (its name, the format it detected), but
    the log was matched by the flags as typed (none then): the row the import left out read as a label not stored."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert remove(ws, ranks) == 0
    capsys.readouterr()
    same = ["import", "-w", str(ws), "--source", "prefs", "--format", "prompt", "--remove", str(prefs)]
    assert main(same) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n"


def test_import_log_lines_its_readers_pass_over_are_counted_and_named_before_the_refusal_they_cause(
    tmp_path, capsys
):
    """The log's line of the import that left row 0 out, edited (a field of another type), was passed over without
    a word: --remove refused the row as a label not stored, as if the file had not been imported there."""
    ws = tmp_path / "ws"
    ranks, prefs = import_a_locked_row_skipped(tmp_path, ws)
    assert remove(ws, ranks) == 0
    log = ws / "imports" / "log.jsonl"
    lines = log.read_text().splitlines()
    (number,) = [n for n, line in enumerate(lines, 1) if json.loads(line).get("rejects")]
    edited = json.loads(lines[number - 1]) | {"counts": 5}
    log.write_text("\n".join([*lines[: number - 1], json.dumps(edited), *lines[number:]]) + '\n{"file": "cut')
    capsys.readouterr()
    assert remove(ws, prefs) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning == (
        f"warning: {log}: 2 lines not read for the rows imports left out, as the import log's readers pass them "
        f'over (fix them as `data validate -w {ws}` says, then --remove again): line {number}: field "counts" is '
        f"5, not an object (an edit); line {len(lines) + 1}: not a JSON object (a write cut off, or an edit)"
    )
    assert error.startswith(f"error: {prefs}, row 0: its preference is not stored in {ws}")
    log.write_text("\n".join(lines) + "\n")  # fixed as `data validate` says
    assert remove(ws, prefs) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (f"withdrew the labels of {prefs}: 1 (preferences 1); {SKIPPED}\n", "")


def test_a_strength_column_on_another_scale_does_not_stop_the_withdrawal_of_its_labels(tmp_path, capsys):
    """An import before `strength` was read stored these rows' labels without it (the column named as not read): a
    label's id holds no strength, so `--remove` does not read the column, and a value outside 1..4 (a confidence of
    0.7), which `data import` now refuses, no longer refuses the rows whose labels it withdraws."""
    ws, rows = tmp_path / "ws", [{"prompt": f"Q{i}?", "chosen": "a", "rejected": "b"} for i in range(2)]
    path = write(tmp_path / "prefs.jsonl", *rows)
    assert main(["import", "-w", str(ws), str(path)]) == 0
    write(path, *({**row, "strength": 0.7} for row in rows))  # the file as that import read it
    capsys.readouterr()
    assert remove(ws, path) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 2 (preferences 2)\n"


def test_the_help_names_the_flags_value_a_file_given_once_per_flag(capsys):
    """`data import --help` showed `--remove VALUE`, where the README and the errors say `--remove FILE`."""
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--remove FILE withdraw the labels an import of this file stored" in help_text
    assert "the flag once per file" in help_text


def test_a_preview_of_an_import_reads_as_the_import_leaves_the_workspace(tmp_path):
    """`ImportPreview`, what a command's checks read before it writes (`generate --prompts`, the round drivers): the
    stored rows, then the file's rows not stored yet, a label `--remove` withdrew renewed as the import renews it;
    in a workspace not created yet, the file's rows alone. A write through it is refused, and nothing is written."""
    ws = tmp_path / "ws"
    ranks = write(tmp_path / "ranks.jsonl", RANKED)
    assert main(["import", "-w", str(ws), str(ranks)]) == 0 and remove(ws, ranks) == 0
    loaded = check_file(ranks, ImportOptions())  # imported again: its ranking renewed
    workspace = Workspace(ws)
    before = digest(ws)
    preview = ImportPreview(ws, workspace, loaded.records)
    with pytest.raises(TypeError, match="read-only"):
        preview.append([Prompt([{"role": "user", "content": "Other?"}], "toy")])
    seen = {name: preview.read(name).to_pylist() for name in SCHEMAS}
    assert preview.read("completions", ["text"]).column_names == ["id", "text"]
    assert digest(ws) == before and preview.path == ws
    write_records(workspace, loaded.records, loaded.counts)

    def rows(table: list[dict]) -> list[dict]:  # a renewed label's created_at is the time it is made
        return [{key: value for key, value in row.items() if key != "created_at"} for row in table]

    assert all(rows(seen[name]) == rows(workspace.read(name).to_pylist()) for name in SCHEMAS)
    assert [label["supersedes"] is not None for label in seen["labels"]] == [False, True, True]
    new = ImportPreview(tmp_path / "new", None, loaded.records)
    assert (
        len(new.read("completions")) == 3 and len(new.read("labels")) == 1 and not (tmp_path / "new").exists()
    )


def test_a_kto_row_an_import_with_on_error_skip_left_out_as_conflicting_is_counted_not_refused(
    tmp_path, capsys
):
    """Row 2 labels row 0's answer otherwise: the import with `--on-error skip` left it out (conflicting_kto_label).
    --remove reads both rows' labels (an import before that check stored both), found row 2's not stored, and refused
    the file, with or without --on-error skip: nothing of it could ever be withdrawn. Its rejects say the import left
    it out: counted so, and the rest withdrawn."""
    ws = tmp_path / "ws"
    kto = write(
        tmp_path / "kto.jsonl",
        {"prompt": "Good?", "completion": "yes", "label": False},
        {"prompt": "Other?", "completion": "no", "label": False},
        {"prompt": "Good?", "completion": "yes", "label": True},
    )
    assert main(["import", "-w", str(ws), "--on-error", "skip", str(kto)]) == 0
    assert "(conflicting_kto_label 1)" in capsys.readouterr().out
    assert remove(ws, kto) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {kto}: 2 (KTO labels 2); 1 row skipped at import (conflicting_kto_label), never "
        "stored\n"
    )
    assert current_labels(Workspace(ws).read("labels"), "kto").empty  # both stored labels withdrawn


def test_a_row_of_messages_written_out_is_withdrawn_as_its_import_stored_it(tmp_path, capsys, monkeypatch):
    """An import before a text of messages written out was a bad row (JSON and Parquet strings) stored such a row's
    prompt as that text; `--remove` read the row as bad: refused, or with --on-error skip passed over without a word,
    its label left in force after "withdrew". It reads the text as any import did; a row an import since left out so
    is listed in its rejects file, counted as skipped at import."""
    ws = tmp_path / "ws"
    encoded = json.dumps([{"role": "user", "content": "2 + 2?"}])
    path = write(tmp_path / "prefs.jsonl", {"prompt": encoded, "chosen": "4", "rejected": "5"}, OTHER)
    with monkeypatch.context() as patch:  # read as the import before the check read it
        patch.setattr("data.import_readers.TEXT_COLUMNS", frozenset())
        assert main(["import", "-w", str(ws), str(path)]) == 0
    capsys.readouterr()
    assert remove(ws, path) == 0
    assert capsys.readouterr().out == f"withdrew the labels of {path}: 2 (preferences 2)\n"
    assert main(["import", "-w", str(tmp_path / "ws2"), str(path), "--on-error", "skip"]) == 0
    capsys.readouterr()
    assert main(["import", "-w", str(tmp_path / "ws2"), "--remove", str(path), "--on-error", "skip"]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {path}: 1 (preferences 1); 1 row skipped at import (messages_as_text), never "
        "stored\n"
    )


def test_a_bad_row_remove_passes_over_with_skip_is_counted_by_reason(tmp_path, capsys):
    """`--remove --on-error skip` left a bad row out (an empty answer) without a word: "withdrew ...: 1", as if the
    file held one row. It is counted by its reason, as the import counted it."""
    ws = tmp_path / "ws"
    path = write(tmp_path / "prefs.jsonl", OTHER, {"prompt": "b?", "chosen": "", "rejected": "y"})
    assert main(["import", "-w", str(ws), str(path), "--on-error", "skip"]) == 0
    assert "skipped 1 record (empty_answer 1)" in capsys.readouterr().out
    assert main(["import", "-w", str(ws), "--remove", str(path), "--on-error", "skip"]) == 0
    assert capsys.readouterr().out == (
        f"withdrew the labels of {path}: 1 (preferences 1); 1 row skipped at import (empty_answer), never stored\n"
    )
