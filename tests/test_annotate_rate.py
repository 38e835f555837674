"""The `rate` task: the service stores a rating per answer (submit, edit, undo, skip), the handlers show the rubric
panel inert and keep a pick that was not saved, the admin tab shows alpha per aspect, and the CLI checks --rubric."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from annotate.__main__ import main
from annotate.admin import admin_view
from annotate.admin_export import export_labels
from annotate.app import label_view, make_context, on_edit, on_skip, on_submit, on_undo
from annotate.rate_view import rating_panel, ratings_text
from annotate.service import LabelService, StaleItem
from annotate.users import Authenticator, add_user, load_users
from data import Completion, Prompt
from data.rubric import RubricError, load_rubric
from data.store import read_table

PASSWORD = "correct horse battery"
FULL = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
STORED = '{"coherence":4,"complexity":1,"correctness":4,"helpfulness":3,"verbosity":2}'
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">\u202eevil.exe'


@pytest.fixture()
def ctx(label_ws, tmp_path):
    users = tmp_path / "users.toml"
    add_user(users, "ann", PASSWORD, admin=True)
    add_user(users, "bob", PASSWORD)
    return make_context(LabelService(label_ws, task="rate", overlap=2), Authenticator(load_users(users)))


def test_service_submit_edit_undo_skip_store_ratings(label_ws):
    service = LabelService(label_ws, task="rate", overlap=2)
    assert service.rubric.name == "helpsteer2" and len(service.items) == 8  # every generated answer
    shown = service.show("ann")
    label = service.submit("ann", shown.item.id, json.dumps(FULL), note=" fine ")
    assert (label.task, label.choice, label.ratings, label.rubric) == ("rate", None, STORED, "helpsteer2")
    stored = read_table(label_ws.path, "labels").to_pylist()
    assert [(r["task"], r["choice"], r["ratings"], r["rubric"], r["note"]) for r in stored] == [
        ("rate", None, STORED, "helpsteer2", "fine")
    ]
    with pytest.raises(RubricError, match="rate every aspect: verbosity not rated yet"):
        service.submit("ann", service.show("ann").item.id, json.dumps({**FULL, "verbosity": None}))
    with pytest.raises(RubricError, match=r"helpfulness 7 is not an integer in 0..4"):
        service.submit("ann", service.show("ann").item.id, json.dumps({**FULL, "helpfulness": 7}))
    with pytest.raises(RubricError, match=r"^ratings are JSON nested too deeply to read$"):
        service.submit("ann", service.show("ann").item.id, "[" * 100_000 + "]" * 100_000)
    assert len(read_table(label_ws.path, "labels")) == 1  # nothing half-written
    undone = service.undo("ann")
    assert undone.label.id == label.id and service.show("ann").item.id == shown.item.id
    second = service.skip("ann", shown.item.id)
    assert second.retracted and second.ratings is None
    assert service.show("ann").item.id != shown.item.id  # a skipped answer is not handed out again
    with pytest.raises(StaleItem):
        service.submit("ann", shown.item.id, json.dumps(FULL))
    rows = read_table(label_ws.path, "labels").to_pylist()
    assert [(r["retracted"], r["supersedes"] == label.id, r["ratings"]) for r in rows] == [
        (False, False, STORED),
        (True, True, None),  # the undo
        (True, False, None),  # the skip
    ]
    assert service.progress("ann")["skipped"] == 1


def test_handlers_keep_ratings_and_render_inert(ctx, label_ws):
    view = label_view(ctx, "bob")
    assert 'id="pf-rate"' in view.right and view.right.count("data-aspect=") == 5
    assert 'class="pf-aspect pf-focus" data-aspect="helpfulness" data-value=""' in view.right
    partial = json.dumps({"helpfulness": 2})
    refused = on_submit(ctx, "bob", view.item_id, partial, None, "")
    assert "Not saved: rate every aspect" in refused.status and refused.item_id == view.item_id
    assert 'data-aspect="helpfulness" data-value="2"' in refused.right  # the pick stays on screen
    assert 'class="pf-aspect pf-focus" data-aspect="correctness"' in refused.right
    saved = on_submit(ctx, "bob", view.item_id, json.dumps(FULL), None, "")
    assert (
        # in the rubric's order, as rated (the stored JSON's keys are sorted: the status listed them so)
        "Saved to disk: helpfulness 3 · correctness 4 · coherence 4 · complexity 1 · verbosity 2"
        in saved.status
    )
    assert saved.item_id != view.item_id
    again = on_submit(ctx, "bob", view.item_id, json.dumps(dict(reversed(FULL.items()))), None, "")
    assert "Already saved" in again.status  # the same ratings in another key order: once only
    undone = on_undo(ctx, "bob")
    assert undone.item_id == view.item_id and undone.choice == STORED
    assert 'data-aspect="verbosity" data-value="2"' in undone.right and "Undid your label" in undone.status
    skipped = on_skip(ctx, "bob", view.item_id)
    assert "Skipped" in skipped.status and skipped.item_id != view.item_id
    second = on_submit(ctx, "bob", skipped.item_id, json.dumps(FULL), None, "")
    edited = on_edit(ctx, "bob", skipped.item_id)  # from the history: the rating back on screen to change
    assert (
        edited.item_id == skipped.item_id
        and "Editing your label: helpfulness 3 · correctness 4" in edited.status
    )
    assert 'data-aspect="helpfulness" data-value="3"' in edited.right and second.item_id != skipped.item_id
    on_submit(ctx, "bob", skipped.item_id, json.dumps({**FULL, "helpfulness": 0}), None, "")
    latest = ctx.service.latest_label("bob", skipped.item_id)
    assert json.loads(latest.ratings)["helpfulness"] == 0 and latest.supersedes is not None


def test_each_answer_gets_a_panel_of_its_own(ctx):
    """The page picks values in the panel itself and Gradio redraws an HTML output only when its text changes: an
    empty panel for the next answer that read as the last one sent left the last answer's picks on screen, so Enter
    stored them as the next answer's rating (seen in the browser after a submit, and after a skip)."""
    view = label_view(ctx, "bob")
    saved = on_submit(ctx, "bob", view.item_id, json.dumps(FULL), None, "")
    assert saved.item_id != view.item_id and saved.right != view.right
    assert f'data-item="{saved.item_id}"' in saved.right
    skipped = on_skip(ctx, "bob", saved.item_id)
    assert skipped.item_id != saved.item_id and skipped.right != saved.right


def test_rubric_panel_and_answer_are_inert(label_ws, tmp_path):
    prompt = Prompt([{"role": "user", "content": HOSTILE}], source="t")
    label_ws.append([prompt, Completion(prompt.id, HOSTILE, "m", "hf", seed=9)])
    rubric_file = tmp_path / "r.yaml"
    rubric_file.write_text(
        "name: '<b>r</b>'\naspects:\n  - name: clarity\n    scale: [1, 3]\n"
        f"    description: {json.dumps(HOSTILE)}\n"
    )
    rubric = load_rubric(rubric_file)
    panel = rating_panel(rubric, "item-1", {"clarity": 2})
    assert "<script>" not in panel and "<img" not in panel and "<b>r</b>" not in panel
    assert "&lt;script&gt;" in panel and "\u202e" not in panel and "⟦RLO⟧evil.exe" in panel
    users = tmp_path / "users.toml"
    add_user(users, "ann", PASSWORD)
    service = LabelService(label_ws, task="rate", order="newest", rubric=rubric)
    ctx = make_context(service, Authenticator(load_users(users)))
    view = label_view(ctx, "ann")
    for _ in range(9):  # the hostile answer comes up in time
        if "evil.exe" in view.left:
            break
        view = on_skip(ctx, "ann", view.item_id)
    for html in (view.prompt, view.left, view.right):
        assert "<script>" not in html and "<img" not in html and "\u202e" not in html
    assert "⟦RLO⟧" in view.left
    assert ratings_text('{"clarity":2}') == "clarity 2"


def test_admin_tab_shows_alpha_per_aspect(ctx):
    for user, values in (("ann", FULL), ("bob", {**FULL, "helpfulness": 1})):
        shown = ctx.service.show(user)
        ctx.service.submit(user, shown.item.id, json.dumps(values))
    cards, labellers, disputed, _ = admin_view(ctx, "ann")
    assert "α helpfulness (interval)" in cards and "ordinal" in cards and "1 answer with ≥2 ratings" in cards
    # in the rubric's order, as the labellers rate them and the status line lists them (they were sorted)
    assert re.findall(r"α (\w+) \(interval\)", cards) == list(ctx.service.rubric.names) == [
        "helpfulness", "correctness", "coherence", "complexity", "verbosity"
    ]  # fmt: skip
    assert "ann" in labellers and "bob" in labellers
    # helpfulness 3 against 1, the other four aspects equal: |difference| 2 / 5 aspects, bias ±0.4
    assert (
        "<th>|difference| from others</th><th>bias</th><th>r with others</th><th>r 95 % CI</th>" in labellers
    )
    # one answer rated: no correlation, no interval, no gold: a dash in each (never a blank cell)
    # each figure as `stats --labellers` prints it (0.400, where the tab showed 0.4)
    assert "<td>0.400</td><td>0.400</td><td>–</td><td>–</td>" in labellers
    assert "<td>0.400</td><td>-0.400</td><td>–</td><td>–</td>" in labellers
    assert "median seconds per label" in cards
    assert "helpfulness" in disputed and ">2<" in disputed  # 3 vs 1: the widest aspect, range 2
    with pytest.raises(Exception, match="Only an admin"):
        admin_view(ctx, "bob")
    status = export_labels(ctx, "ann", "ratings")
    # ratings are means per aspect: no aggregation named (`data export --format ratings` takes none either)
    assert (
        "Wrote exports/ratings.parquet: " in status
        and "1 row exported" in status
        and "majority" not in status
    )
    assert 'href="prefloop/export/ratings.parquet"' in status
    table = pq.read_table(ctx.service.workspace.exports / "ratings.parquet")
    assert table.column("helpfulness").to_pylist() == [2.0] and table.column("raters").to_pylist() == [2]


def test_the_alpha_cards_name_the_labellers_excluded_as_the_verdicts_card_does(ctx):
    """The pairwise verdicts card says "excluded: NAME" where a labeller is excluded (WS/excluded.json); the rate
    app's α cards, whose figures leave them out too, said nothing of it."""
    from data.selection import set_excluded

    for user, values in (("ann", FULL), ("bob", FULL), ("cy", {**FULL, "helpfulness": 0})):
        ctx.service.submit(user, ctx.service.show(user).item.id, json.dumps(values))
    with_two = "1 answer with ≥2 ratings (people&#x27;s and imported labels"
    cards = admin_view(ctx, "ann")[0]
    assert cards.count(f"{with_two})") == 5  # nobody excluded: nothing said
    set_excluded(ctx.service.workspace.path, "cy", True)
    cards = admin_view(ctx, "ann")[0]
    assert cards.count(f"{with_two}; excluded: cy)") == 5, cards


def test_cli_checks_the_rubric_before_serving(label_ws, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("aspects:\n  - name: a\n    scale: [2, 2]\n    description: x\n")
    assert main(["-w", str(label_ws.path), "--task", "rate", "--rubric", str(bad)]) == 2
    assert f"{bad}, field 'aspects[0].scale': low 2 must be below high 2" in capsys.readouterr().err
    assert main(["-w", str(label_ws.path), "--task", "kto", "--rubric", str(bad)]) == 2
    assert "--rubric applies to --task rate, not kto" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "configs/rubrics/helpsteer2.yaml" in capsys.readouterr().out.replace("\n", " ").replace("  ", " ")


def test_the_admin_tabs_ratings_export_lists_the_aspects_in_the_apps_rubrics_order(label_ws, tmp_path):
    """The tab's cards list the aspects in the app's rubric's order, but its Export ratings wrote them in
    HelpSteer2's (the export's default rubric), whatever rubric the app served: it follows the app's."""
    rubric_file = tmp_path / "mine.yaml"
    rubric_file.write_text(
        "name: mine\naspects:\n"
        + "".join(
            f"  - {{name: {a}, scale: [0, 4], description: {a}.}}\n" for a in ("verbosity", "helpfulness")
        )
    )
    users = tmp_path / "users.toml"
    add_user(users, "ann", PASSWORD, admin=True)
    service = LabelService(label_ws, task="rate", rubric=load_rubric(rubric_file))
    ctx = make_context(service, Authenticator(load_users(users)))
    service.submit("ann", service.show("ann").item.id, json.dumps({"helpfulness": 3, "verbosity": 1}))
    assert "1 row exported" in export_labels(ctx, "ann", "ratings")
    names = pq.read_schema(service.workspace.exports / "ratings.parquet").names
    assert names[names.index("round") + 1 : names.index("raters")] == ["verbosity", "helpfulness"]
