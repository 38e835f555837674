"""Gold items in the labelling queue: mixed in at --gold-rate, never twice to one person, stored as labels, never
trained on; pace columns on every label."""

from __future__ import annotations

import re
from dataclasses import fields

import gradio as gr
import pyarrow.compute as pc
import pytest

from annotate.__main__ import main
from annotate.service import LabelService, Shown
from data.errors import PrefloopError
from data.export import dpo_table
from data.gold import mark_gold, read_gold
from data.records import Completion, Label, Pair, Prompt
from data.workspace import Workspace

PAIRS = 40
GOLD = 6


def build(path) -> tuple[Workspace, list[str]]:
    ws = Workspace.init(path)
    records, ids = [], []
    for i in range(PAIRS):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        a, b = (Completion(prompt.id, f"answer {i} {side}", "m", "hf") for side in "ab")
        pair = Pair(prompt.id, a.id, b.id, "sampled")
        records += [prompt, a, b, pair]
        ids.append(pair.id)
    ws.append(records)
    mark_gold(ws, ids[:GOLD], ["a"] * GOLD, "test")
    return ws, ids


def label_everything(service: LabelService, user: str) -> list[Shown]:
    seen = []
    while (shown := service.show(user)) is not None:
        seen.append(shown)
        service.submit(user, shown.item.id, "left", strength=2, active_seconds=4.5)
    return seen


def test_gold_is_mixed_in_once_per_labeller_and_looks_like_any_item(tmp_path):
    ws, ids = build(tmp_path / "ws")
    service = LabelService(ws, overlap=2, gold_rate=0.3)
    gold = set(ids[:GOLD])
    assert len(service.items) == PAIRS and service.progress("ann")["items"] == PAIRS - GOLD
    for user in ("ann", "bob"):
        seen = label_everything(service, user)
        served = [s.item.id for s in seen]
        assert len(served) == len(set(served))  # never twice to one person
        assert set(served) - gold == set(ids[GOLD:])  # every regular item (K = 2 lets both have all)
        mixed = [i for i in served if i in gold]
        assert 1 <= len(mixed) <= GOLD
        gold_shown = next(s for s in seen if s.item.id in gold)
        regular = next(s for s in seen if s.item.id not in gold)
        # the same record shape on screen: nothing but the item itself differs
        assert [f.name for f in fields(gold_shown)] == [f.name for f in fields(regular)]
        assert (gold_shown.suggestion, gold_shown.previous) == (regular.suggestion, regular.previous)
    labels = ws.read("labels")
    on_gold = labels.filter(pc.is_in(labels.column("item_id"), value_set=read_gold(ws).column("item_id")))
    assert on_gold.num_rows >= 2  # stored as those labellers' labels, like any other
    assert pc.all(pc.is_valid(labels.column("served_at"))).as_py()
    assert set(labels.column("active_seconds").to_pylist()) == {4.5}
    rows, counts = dpo_table(
        ws.read("prompts"), ws.read("completions"), ws.read("pairs"), labels, gold=read_gold(ws)
    )
    assert counts["gold"] == GOLD and not gold & set(rows.column("pair_id").to_pylist())  # never trained on


def test_no_gold_without_a_rate_and_rate_errors(tmp_path, capsys):
    ws, ids = build(tmp_path / "ws")
    served = {s.item.id for s in label_everything(LabelService(ws, gold_rate=0.0), "ann")}
    assert not served & set(ids[:GOLD])
    with pytest.raises(PrefloopError, match=r"--gold-rate 0.6: must be in \[0, 0.5\]"):
        LabelService(ws, gold_rate=0.6)
    with pytest.raises(PrefloopError, match=r"^--gold-rate 1: must be"):  # typed 1, it said `--gold-rate 1.0`
        LabelService(ws, gold_rate=1.0)
    assert main(["-w", str(ws.path), "--gold-rate", "-0.1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --gold-rate -0.1: must be in [0, 0.5]"


@pytest.mark.parametrize("rate", ["0", "0.5"])
def test_a_workspace_of_gold_items_only_refuses_to_start(tmp_path, capsys, rate):
    """Every item gold: the app started ("3 pairwise items") and told every labeller "All done"."""
    from annotate.users import add_user

    ws, ids = build(tmp_path / "ws")
    mark_gold(ws, ids, ["a"] * len(ids), "test")
    add_user(tmp_path / "users.toml", "ann", "correct horse battery")
    argv = ["-w", str(ws.path), "--users", str(tmp_path / "users.toml"), "--gold-rate", rate]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: {ws.path}: nothing to label for task pairwise: its {len(ids)} items are all gold, which "
        "labellers meet only among regular items (--gold-rate); run `python -m generate` for items to label, or "
        f"`python -m data gold -w {ws.path} --remove ITEM` makes one regular again\n"
    )


def test_admin_makes_a_decided_item_gold_and_sees_the_labeller_table(tmp_path):
    import gradio as gr

    from annotate.admin import admin_view, make_gold
    from annotate.app import make_context
    from annotate.users import Authenticator, User, hash_password

    ws, ids = build(tmp_path / "ws")
    users = {
        "ann": User("ann", hash_password("pw-ann-12345"), admin=True),
        "bob": User("bob", hash_password("pw-bob-12345")),
    }
    ctx = make_context(LabelService(ws, overlap=2, gold_rate=0.05), Authenticator(users))
    for user in ("ann", "bob"):
        label_everything(ctx.service, user)
    item = ids[GOLD]  # a regular item both labelled
    assert "Give the item id" in make_gold(ctx, "ann", item, None)
    assert "is not in" in make_gold(ctx, "ann", "nope", "a")
    with pytest.raises(gr.Error):
        make_gold(ctx, "bob", item, "a")
    assert "is gold now" in make_gold(ctx, "ann", item, "b")
    assert item in read_gold(ws).column("item_id").to_pylist() and item in ctx.service.queue.gold
    cards, labellers, _, _ = admin_view(ctx, "ann")
    assert "median seconds per label" in cards and "labels/hour" in cards
    assert "<th>gold right</th>" in labellers and "<th>flags</th>" in labellers
    assert "<td>ann</td>" in labellers and "<td>bob</td>" in labellers
    # the activity's headers say their units and time zone, as the quality columns beside them say theirs
    assert "<th>median seconds per label</th>" in labellers and "<th>last active (UTC)</th>" in labellers
    assert "_seconds" not in labellers and "last_active" not in labellers


def test_making_a_gold_item_gold_says_what_it_replaced_and_the_disputed_table_marks_gold(tmp_path):
    """ "Make gold" on an item that is gold already names the answer it replaces and where that came from (as
    `data gold` counts "a new answer for a gold item"), and with the answer it has says so and writes nothing; the
    disputed table shows each gold item's answer, so an admin does not take it for a regular item."""
    from annotate.admin import admin_view, make_gold
    from annotate.app import make_context
    from annotate.users import Authenticator, User, hash_password

    ws, ids = build(tmp_path / "ws")  # ids[:GOLD] gold "a", source "test"
    gold, regular = ids[0], ids[GOLD]
    ws.append([Label(item, name, "pairwise", "b") for item in (gold, regular) for name in ("bob", "cat")])
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    ctx = make_context(LabelService(ws, overlap=2), Authenticator(users))
    _, _, disputed, _ = admin_view(ctx, "ann")
    assert "<th>item</th><th>gold</th>" in disputed
    assert f"<td>{gold}</td><td>a</td>" in disputed and f"<td>{regular}</td><td>–</td>" in disputed
    replaced = make_gold(ctx, "ann", gold, "b")
    assert f"{gold} is gold now (answer b, was a from test); its labels stay" in replaced
    assert f"<td>{gold}</td><td>b</td>" in admin_view(ctx, "ann")[2]
    events = ws.read("gold").num_rows
    again = make_gold(ctx, "ann", gold, "b")
    assert f"{gold} already was gold with answer b (from admin:ann); nothing changed." in again
    assert ws.read("gold").num_rows == events
    assert f"{regular} is gold now (answer a); its labels stay" in make_gold(ctx, "ann", regular, "a")


def test_a_double_clicked_make_gold_writes_once_and_says_the_first_ones_line(tmp_path, monkeypatch):
    """A double-clicked "Make gold": the two clicks ran at once, each read the item not gold, and both wrote its
    gold answer (two gold events of one item); or the second ran after, and its "already was gold ... (from
    admin:ann); nothing changed" took the status line, as if another admin had made it gold. One make-gold runs at
    a time now, and the page's repeat of the same one that finds it done says the first's line."""
    import threading
    from types import SimpleNamespace

    import annotate.admin
    from annotate.admin_tab import Selected
    from annotate.app import build_app, make_context
    from annotate.users import Authenticator, User, hash_password

    ws, ids = build(tmp_path / "ws")
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    app = build_app(make_context(LabelService(ws, overlap=2), Authenticator(users)))
    click = next(fn.fn for fn in app.fns.values() if fn.api_name == "make_gold")
    page, request, item, lines = Selected(), SimpleNamespace(username="ann"), ids[GOLD], {}
    mark, events = annotate.admin.apply_gold, ws.read("gold").num_rows

    def clicked(ticket: int) -> None:
        lines[ticket] = click(item, "b", "", page, ticket, True, request)

    second = threading.Thread(target=clicked, args=(2,))

    def clicked_again_meanwhile(*args):  # the second click reaches the server as the first is about to write
        monkeypatch.setattr(annotate.admin, "apply_gold", mark)
        second.start()
        second.join(timeout=1)  # (it waits for this one now: no later than a second)
        return mark(*args)

    monkeypatch.setattr(annotate.admin, "apply_gold", clicked_again_meanwhile)
    clicked(1)
    second.join()
    assert ws.read("gold").num_rows == events + 1
    made = f"{item} is gold now (answer b); its labels stay, and it never trains."
    # the status line is the second click's, which is the first's line
    assert made in lines[2] and lines[1] in (lines[2], gr.skip())
    clicked(3)  # and once both are answered
    assert lines[3] == lines[2] and ws.read("gold").num_rows == events + 1


def test_make_gold_names_the_pairs_answer_by_its_text_not_a_side(tmp_path):
    """The gold row's a and b are the pair's stored answers, while the label tab shows the answers as A (left) and B
    on sides drawn per labeller: an admin who read the item there and took its A for `a` made the other answer gold
    half the time, and the line said only "answer a". It names the answer's text."""
    from annotate.admin import make_gold
    from annotate.app import make_context
    from annotate.screen import left_side
    from annotate.users import Authenticator, User, hash_password

    ws, ids = build(tmp_path / "ws")
    regular = next(i for i in ids[GOLD:] if left_side(i, "ann") == "b")  # ann sees its `a` on the right, as B
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    ctx = make_context(LabelService(ws, overlap=2), Authenticator(users))
    number = ids.index(regular)
    said = make_gold(ctx, "ann", regular, "a")
    assert f"Answer a is “answer {number} a” (not the side A or B it is shown on)." in said
    assert read_gold(ws).column("choice").to_pylist()[-1] == "a"


def test_kto_gold_completions_are_mixed_in_measured_and_never_trained(tmp_path, capsys):
    """Gold for the KTO task: completions with a known desirable/undesirable, made gold by `data gold --completion`
    or the admin tab, mixed into the KTO queue once per labeller, scored in the labeller report, out of the export."""
    from annotate.admin import admin_view, make_gold
    from annotate.app import make_context
    from annotate.users import Authenticator, User, hash_password
    from data.__main__ import main as data_main
    from data.export import kto_table
    from data.stats import labeller_report

    ws, _ = build(tmp_path / "ws")
    completions = ws.read("completions").column("id").to_pylist()
    gold = completions[:GOLD]
    args = ["gold", "-w", str(ws.path)] + [
        x for c in gold for x in ("--completion", c, "--answer", "desirable")
    ]
    assert (
        data_main(args) == 0 and f"gold items: {GOLD * 2}" in capsys.readouterr().out
    )  # 6 pairs + 6 completions
    assert read_gold(ws, "kto").column("item_id").to_pylist() == sorted(gold)
    service = LabelService(ws, "kto", overlap=2, gold_rate=0.3)
    assert service.progress("ann")["items"] == 2 * PAIRS - GOLD  # gold completions are not part of the job
    for user, choice in (("ann", "desirable"), ("bob", "undesirable")):
        served = []
        while (shown := service.show(user)) is not None:
            served.append(shown.item.id)
            service.submit(user, shown.item.id, choice, active_seconds=6.0)
        assert len(served) == len(set(served)) and 1 <= len(set(served) & set(gold)) <= GOLD
    report = {r["labeller"]: r for r in labeller_report(ws)["tasks"]["kto"]["labellers"]}
    assert report["ann"]["gold"]["accuracy"] == 1.0 and report["bob"]["gold"]["accuracy"] == 0.0
    rows, counts = kto_table(
        ws.read("prompts"), ws.read("completions"), ws.read("labels"), gold=read_gold(ws, "kto")
    )
    assert counts["gold"] == GOLD and not set(gold) & set(rows.column("completion_id").to_pylist())
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    ctx = make_context(service, Authenticator(users))
    regular = completions[GOLD]
    assert "Give the item id and its answer (desirable or undesirable)" in make_gold(ctx, "ann", regular, "a")
    assert "is gold now" in make_gold(ctx, "ann", regular, "undesirable")
    assert regular in read_gold(ws, "kto").column("item_id").to_pylist() and regular in service.queue.gold
    _, labellers, _, _ = admin_view(ctx, "ann")
    assert "<th>gold right</th>" in labellers and "<th>desirable share</th>" in labellers


def rank_workspace(path, n: int) -> tuple[Workspace, dict[str, list[str]]]:
    """A workspace of ``n`` prompts with three answers each (rank items of round 0): it and {item id: answer ids}."""
    from data.ranking import rank_item_id

    ws = Workspace.init(path)
    records, items = [], {}
    for i in range(n):
        prompt = Prompt([{"role": "user", "content": f"question {i}"}], source="test")
        answers = [Completion(prompt.id, f"answer {i}.{k}", "m", "hf", seed=k) for k in range(3)]
        records += [prompt, *answers]
        items[rank_item_id(prompt.id, 0)] = [c.id for c in answers]
    ws.append(records)
    return ws, items


def test_rank_and_rate_gold_items_are_mixed_in_once_measured_and_shown_to_the_admin(tmp_path, capsys):
    """Gold rank items (a gold ranking) and gold rate items (gold ratings), made by `data gold`, come up in the
    rank and rate queues at --gold-rate as pairwise gold does: once per labeller, looking like any item, out of the
    job's count; their labels measure each labeller (stats and the admin's labellers table)."""
    import json

    from annotate.admin import admin_view
    from annotate.app import make_context
    from annotate.users import Authenticator, User, hash_password
    from data.__main__ import main as data_main
    from data.ranking import to_screen
    from data.stats import labeller_report

    ws, items = rank_workspace(tmp_path / "ws", 20)
    ranked = list(items)[:4]
    rated = [items[i][0] for i in ranked]
    full = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
    args = [x for i in ranked for x in ("--rank-item", i, "--ranking", ">".join(items[i]))]
    args += [x for c in rated for x in ("--rate-item", c, "--ratings", json.dumps(full))]
    assert data_main(["gold", "-w", str(ws.path), *args]) == 0
    assert "gold items: 8 (+8 marked, -0 removed)" in capsys.readouterr().out
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    for task, gold in (("rank", ranked), ("rate", rated)):
        service = LabelService(ws, task, overlap=2, gold_rate=0.3)
        assert service.progress("ann")["items"] == len(service.items) - len(gold)
        for user in ("ann", "bob"):
            served = []
            while (shown := service.show(user)) is not None:
                served.append(shown.item.id)
                if task == "rank":  # ann ranks as the gold does, bob the other way round
                    ids = items[shown.item.id]
                    answer = to_screen(">".join(ids if user == "ann" else ids[::-1]), shown.order)
                else:
                    answer = json.dumps(
                        full if user == "ann" else {**full, "helpfulness": 0, "correctness": 0}
                    )
                service.submit(user, shown.item.id, answer, active_seconds=6.0)
            mixed = set(served) & set(gold)
            assert len(served) == len(set(served)) == len(service.items) - len(gold) + len(mixed)
            assert 1 <= len(mixed) <= len(gold)
        report = {r["labeller"]: r for r in labeller_report(ws)["tasks"][task]["labellers"]}
        if task == "rank":
            assert report["ann"]["gold"]["tau"] == 1.0 and report["bob"]["gold"]["tau"] == -1.0
        else:
            assert report["ann"]["gold"]["within_one_share"] == 1.0
            assert report["bob"]["gold"]["mean_abs_difference"] == 1.4  # 3 and 4 off on two of five aspects
        _, labellers, _, _ = admin_view(make_context(service, Authenticator(users)), "ann")
        assert f"<th>{'gold τ-b (rankings)' if task == 'rank' else 'gold within ±1'}</th>" in labellers
        assert "<th>gold 95 % CI</th>" in labellers
        if (
            task == "rate"
        ):  # as `stats --labellers`: the answers the interval is over, and the mean |difference|
            gold = report["bob"]["gold"]
            low, high = gold["ci95"]
            within = f"{gold['within_one']}/{gold['values']} ({gold['answered']} answers)"
            assert "<th>gold 95 % CI</th><th>gold |difference|</th>" in labellers
            assert f"<td>{within}</td><td>{low:.3f}–{high:.3f}</td><td>1.400</td>" in labellers


def test_admin_makes_rank_and_rate_items_gold_from_the_least_agreed_table(tmp_path):
    """The rank and rate apps' admin tab makes gold as `data gold --rank-item/--rate-item` does: the least agreed
    rank items show their rankings' mean order (every answer id, ready to edit into the gold ranking); a ranking
    missing an answer and ratings off the app's rubric are refused in one line, nothing written; a made gold item
    joins the queue at once."""
    import json

    import gradio as gr

    from annotate.admin import admin_view, make_gold
    from annotate.app import make_context
    from annotate.rank_admin import mean_order
    from annotate.users import Authenticator, User, hash_password
    from data.ranking import to_screen

    assert mean_order(["c1>c2>c3", "c2>c1>c3", "c1>c2=c3"]) == "c1>c2>c3"
    assert mean_order(["c1>c2", "c2>c1"]) == "c1=c2"
    ws, items = rank_workspace(tmp_path / "ws", 6)
    users = {
        "ann": User("ann", hash_password("pw-ann-12345"), admin=True),
        "bob": User("bob", hash_password("pw-bob-12345")),
    }
    full = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
    for task in ("rank", "rate"):
        ctx = make_context(LabelService(ws, task, overlap=2), Authenticator(users))
        for user in ("ann", "bob"):
            while (shown := ctx.service.show(user)) is not None:
                if task == "rank":  # ann ranks in creation order, bob the first two swapped
                    ids = items[shown.item.id]
                    ids = ids if user == "ann" else [ids[1], ids[0], ids[2]]
                    answer = to_screen(">".join(ids), shown.order)
                else:
                    answer = json.dumps({**full, "helpfulness": 3 if user == "ann" else 1})
                ctx.service.submit(user, shown.item.id, answer, active_seconds=6.0)
        item = next(iter(items))
        target = item if task == "rank" else items[item][0]
        _, _, disputed, _ = admin_view(ctx, "ann")
        assert f"<td>{target}</td><td>–</td>" in disputed  # not gold yet
        first, second, third = items[item]
        if task == "rank":
            tied = "=".join(sorted((first, second)))
            assert "<th>mean order</th>" in disputed and f"<td>{tied}&gt;{third}</td>" in disputed
            good, bad = f"{second}>{first}>{third}", f"{second}>{first}"
        else:
            good, bad = json.dumps(full), json.dumps({**full, "helpfulness": 9})
        with pytest.raises(gr.Error):
            make_gold(ctx, "bob", target, None, good)
        assert "Give the item id and its answer" in make_gold(ctx, "ann", target, None, " ")
        refused = make_gold(ctx, "ann", target, None, bad)
        assert "Not made gold" in refused and target in refused and not len(read_gold(ws, task))
        made = make_gold(ctx, "ann", target, None, good)
        stored = read_gold(ws, task)
        assert f"{target} is gold now" in made and stored.column("item_id").to_pylist() == [target]
        assert stored.column("source").to_pylist() == ["admin:ann"]
        if task == "rank":
            assert stored.column("ranking").to_pylist() == [good]
            marked = good.replace(">", "&gt;")
        else:
            assert json.loads(stored.column("ratings")[0].as_py()) == full
            marked = "helpfulness 3 · correctness 4 · coherence 4 · complexity 1 · verbosity 2"
        assert target in ctx.service.queue.gold
        assert f"<td>{target}</td><td>{marked}</td>" in admin_view(ctx, "ann")[2]  # the least agreed: gold
        again = make_gold(ctx, "ann", target, None, good.replace(">", " > "))  # the same, as stored
        assert (
            f"{target} already was gold with answer" in again and "(from admin:ann); nothing changed" in again
        )
        assert ws.read("gold").num_rows == (1 if task == "rank" else 2)


def test_the_admin_tab_cuts_what_it_echoes_of_huge_inputs_and_the_cli_does_not(tmp_path, capsys):
    """A 200,000-character item id, a 340 KB ranking (quoted whole by its error) or one huge answer id in it, and a
    huge aspect name come back as their first 80 characters and "…", the reason still said after them; the CLI's
    errors name what the user typed, whole."""
    import json

    from annotate.admin import make_gold
    from annotate.app import make_context
    from annotate.users import Authenticator, User, hash_password
    from data.__main__ import main as data_main

    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    huge = "x" * 200_000
    ws, _ = build(tmp_path / "ws")
    said = make_gold(make_context(LabelService(ws), Authenticator(users)), "ann", huge, "a")
    assert f"Not made gold: pair {'x' * 80}… is not in" in said and len(said) < 400
    ws, items = rank_workspace(tmp_path / "rank", 2)
    item, answers = next(iter(items.items()))
    full = {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 2}
    asked = {
        "rank": [
            (item, " > ".join(answers * 40_000), "an answer is ranked twice"),  # 340 KB, quoted by the error
            (item, ">".join([huge, *answers]), "is not an answer of this item"),  # one huge id of it named
        ],
        "rate": [(answers[0], json.dumps({**full, "z" * 100_000: 1}), "has no aspect")],
    }
    for task, tries in asked.items():
        ctx = make_context(LabelService(ws, task), Authenticator(users))
        for target, text, reason in tries:
            said = make_gold(ctx, "ann", target, None, text)
            assert "Not made gold" in said and "…" in said and reason in said and len(said) < 500, said[:600]
    capsys.readouterr()
    assert data_main(["gold", "-w", str(tmp_path / "ws"), "--pair", huge, "--answer", "a"]) != 0
    assert f"--pair: pair {huge} is not in" in capsys.readouterr().err


def test_the_admin_tabs_gold_lines_hide_the_servers_paths_and_the_clis_name_them(tmp_path, capsys):
    """`data gold`'s errors name the workspace and a gold file by their paths (what its user typed); the admin tab
    gives the same one line, naming the item, its answer and the gold file by its name, no path of the server's."""
    import json

    from annotate.admin import make_gold
    from annotate.app import make_context
    from annotate.users import Authenticator, User, hash_password
    from data.__main__ import main as data_main

    ws, _ = build(tmp_path / "ws")
    file = tmp_path / "lead" / "gold.jsonl"
    file.parent.mkdir()
    file.write_text(
        json.dumps({"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Rome."}) + "\n"
    )
    assert data_main(["gold", "-w", str(ws.path), str(file)]) == 0
    gold = read_gold(ws)
    filed = gold.filter(pc.equal(gold.column("source"), str(file))).column("item_id")[0].as_py()
    pair = next(p for p in ws.read("pairs").to_pylist() if p["id"] == filed)
    swapped = Pair(pair["prompt_id"], pair["completion_b"], pair["completion_a"], "sampled")  # Rome. as a
    ws.append([swapped])
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    ctx = make_context(LabelService(ws), Authenticator(users))
    said = [make_gold(ctx, "ann", "nope", "a"), make_gold(ctx, "ann", swapped.id, "a")]
    capsys.readouterr()
    assert data_main(["gold", "-w", str(ws.path), "--pair", "nope", "--answer", "a"]) == 2
    assert f"--pair: pair nope is not in {ws.path}" in capsys.readouterr().err
    assert data_main(["gold", "-w", str(ws.path), "--pair", swapped.id, "--answer", "a"]) == 2
    assert f"already gold (from {file})" in capsys.readouterr().err
    said.append(make_gold(ctx, "ann", filed, "b"))
    # the admin's own message: not the gold's source (`admin:ann: pair nope ...`) where the CLI names its option
    assert "Not made gold: pair nope is not in this workspace<" in said[0] and "admin:" not in said[0]
    assert (
        f"gold pair {swapped.id} (" in said[1]
        and f"pair {filed}, already gold (from gold.jsonl) (" in said[1]
    )
    assert f"{filed} is gold now (answer b, was a from gold.jsonl)" in said[2]
    assert not [line for line in said if str(tmp_path) in line]


def test_the_readme_gives_the_gold_rate_range_to_annotate_not_to_data_gold():
    """README listed "a rate outside [0, 0.5]" among `data gold`'s errors, which has no rate flag: the rate is
    `annotate --gold-rate`, checked when annotate starts. Every place the README gives that range names the flag."""
    from pathlib import Path

    from annotate.gold_mixing import MAX_GOLD_RATE
    from data.__main__ import build_parser

    gold_flags = {s for a in build_parser().subcommands["gold"]._actions for s in a.option_strings}
    assert not gold_flags & {"--gold-rate", "--rate"}  # --rate-item names an item, not a rate
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    ranges = [m.start() for m in re.finditer(re.escape(f"[0, {MAX_GOLD_RATE}]"), readme)]
    assert ranges and all("--gold-rate" in readme[max(0, at - 120) : at] for at in ranges)


def test_the_start_line_counts_the_items_to_label_apart_from_the_gold_mixed_in(tmp_path):
    """The start line said `40 pairwise items` for 34 items to label and 6 gold ones: the catalog's count, where the
    page's progress counts 34 (gold is met among them at --gold-rate). It says both, apart."""
    from annotate.__main__ import started_counts

    ws, _ = build(tmp_path / "ws")
    service = LabelService(ws, overlap=2, gold_rate=0.1)
    line = started_counts(service, "pairwise", 3, 2)
    assert line == f"{PAIRS - GOLD} pairwise items + {GOLD} gold (--gold-rate 0.1), 3 users, K=2"
    assert service.progress("ann")["items"] == PAIRS - GOLD
    unserved = started_counts(LabelService(ws, gold_rate=0.0), "pairwise", 1, 1)
    assert unserved == f"{PAIRS - GOLD} pairwise items ({GOLD} gold not served: --gold-rate 0), 1 user, K=1"
    plain = Workspace.init(tmp_path / "plain")
    prompt = Prompt([{"role": "user", "content": "q"}], source="test")
    a, b = (Completion(prompt.id, f"answer {side}", "m", "hf") for side in "ab")
    plain.append([prompt, a, b, Pair(prompt.id, a.id, b.id, "sampled")])
    assert started_counts(LabelService(plain), "pairwise", 1, 1) == "1 pairwise item, 1 user, K=1"


def test_a_gold_rate_with_no_gold_of_the_task_says_none_is_served(tmp_path):
    """`annotate --gold-rate 0.1` on a workspace whose gold is pairwise, started as a KTO app (or with no gold yet),
    printed `80 kto items, 1 user, K=1`: nothing said that no gold would be mixed in."""
    from annotate.__main__ import started_counts

    ws, _ = build(tmp_path / "ws")
    kto = started_counts(LabelService(ws, task="kto", gold_rate=0.1), "kto", 1, 1)
    assert kto == (
        f"{2 * PAIRS} kto items (none gold: --gold-rate 0.1 serves no gold until `data gold` marks some of them), "
        "1 user, K=1"
    )
    # the pairwise app's gold is none of the arena app's items: the line said `no pairwise gold items ... until
    # `data gold` makes some`, of a workspace holding 10
    arena = started_counts(LabelService(ws, task="arena", gold_rate=0.1), "arena", 1, 1)
    assert arena.startswith("0 arena items (none gold: --gold-rate 0.1 serves no gold until")
    # every digit of the rate given (`:g` said 0.123457)
    fine = started_counts(LabelService(ws, task="kto", gold_rate=0.123456789), "kto", 1, 1)
    assert "(none gold: --gold-rate 0.123456789 serves" in fine


def test_make_gold_redraws_the_admin_tab_as_exclusion_does(tmp_path):
    """After "Make gold" the admin tab is drawn again (its cards, labellers and disputed items, whose `gold` column
    then shows the new answer and whose item count leaves the item out), as after "Exclude from verdicts": without
    it the table kept `–` for the item just made gold until Refresh."""
    from annotate.app import build_app, make_context
    from annotate.users import Authenticator, User, hash_password

    ws, _ = build(tmp_path / "ws")
    users = {"ann": User("ann", hash_password("pw-ann-12345"), admin=True)}
    app = build_app(make_context(LabelService(ws, overlap=2), Authenticator(users)))
    index = {fn.api_name: key for key, fn in app.fns.items()}
    redrawn = {
        fn.trigger_after: [out.elem_id for out in fn.outputs]
        for fn in app.fns.values()
        if fn.trigger_after is not None
    }
    views = ["pf-admin-cards", "pf-admin-labellers", "pf-admin-disputed"]
    assert redrawn.get(index["exclude"]) == views  # what exclusion does, the reference
    assert redrawn.get(index["make_gold"]) == views
