"""`train score` records the chat template that rendered each score (`Score.chat_template`): a rerun with the same
template skips the pairs, one with another template scores them again (a new score that replaces the old for
`--order uncertainty`, the old kept in the table), and scores written before the template was recorded (an unknown
rendering: an older version rendered the reference with its own template) are scored again, said so. Parts
without the column still validate, compact and merge."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.__main__ import main as data_main
from data.chat_template import PLAIN, ROLES
from data.records import ModelRecord, Score, to_row
from data.schemas import SCORES
from data.selection import uncertainty_margins
from data.workspace import Workspace
from tests.test_train import build_workspace
from train.__main__ import main
from train.score import rendering_id


def test_a_rescore_with_another_chat_template_replaces_the_models_scores(
    tmp_path, tiny_base_model_dir, capsys
):
    """The scores table did not record the template: `train score --chat-template plain` after a run with
    `roles` said "nothing to score" and kept the roles margins, silently. With `--limit 3` the app orders those 3
    by margin and hands the other 5, scored with `roles` only, out after them as unscored: said so."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    argv = ["score", "-w", str(ws.path), "--model", str(tiny_base_model_dir), "--chat-template"]
    assert main([*argv, "roles"]) == 0
    assert main([*argv, "roles"]) == 0  # the same template: nothing to score, as before
    said = "nothing to score (all 8 unlabelled pairs have their score from this model)"
    assert said in capsys.readouterr().out
    assert main([*argv, "plain", "--limit", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        f"model {ws.frame('models')['id'].iloc[0]} (reference none (own likelihoods)): scored 3 of 3 pairs; 5 left "
        "by --limit",
        "3 of them scored again: this model's scores were rendered with another chat template than this run's "
        "(plain); the new scores replace them for --order uncertainty",
        "--order uncertainty: 3 unlabelled pairs have this model's scores rendered with plain, handed out by "
        "|margin|; 5 have its scores of another (or an unrecorded) template only, which the order leaves out: they "
        "go after them, in round order (score them with this template too to order them)",
    ]
    scores = ws.frame("scores")
    assert scores["chat_template"].value_counts().to_dict() == {"roles": 8, "plain": 3}  # the old ones kept
    plain = scores[scores["chat_template"] == "plain"]
    roles = scores[scores["chat_template"] == "roles"].set_index("pair_id")["margin"]
    # two renderings, two margins
    assert (plain.set_index("pair_id")["margin"] != roles[plain["pair_id"]]).all()
    # the app orders by the new rendering's margins only: never two renderings' margins in one order
    assert uncertainty_margins(scores) == dict(zip(plain["pair_id"], plain["margin"]))


def _old_part(ws: Workspace, scores: list[Score]) -> None:
    """``scores`` as an older version wrote them: a part with no chat_template column."""
    before = SCORES.remove(SCORES.get_field_index("chat_template"))
    rows = [{name: to_row(score)[name] for name in before.names} for score in scores]
    pq.write_table(pa.Table.from_pylist(rows, schema=before), ws.path / "scores" / "part-old.parquet")


def test_scores_of_an_unknown_rendering_are_scored_again_and_old_parts_still_read(
    tmp_path, tiny_base_model_dir, capsys
):
    """Scores written before the template was recorded (before 51b8993 the reference was rendered with its own
    template: a wrong margin where it has another) were kept by every rerun. They are scored again, and said why;
    their part, without the column, still validates, compacts and merges."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    base = ModelRecord(str(tiny_base_model_dir), "base")
    ws.append([base])
    pairs = list(ws.frame("pairs")["id"])
    _old_part(ws, [Score(pair, base.id, -1.0, -2.0, margin=9.0) for pair in pairs])
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    assert ws.frame("scores")["chat_template"].isna().all()
    capsys.readouterr()
    argv = ["score", "-w", str(ws.path), "--model", str(tiny_base_model_dir), "--chat-template", "roles"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "8 of them scored again: this model's scores were written by an earlier version, which recorded no chat "
        "template (one rendered the reference with its own template: a wrong margin where it has another); the "
        "new scores replace them for --order uncertainty"
    )
    scores = ws.frame("scores")
    rendered = scores["chat_template"].fillna("null").value_counts().to_dict()
    assert len(scores) == 16 and rendered == {"null": 8, "roles": 8}
    assert set(uncertainty_margins(scores).values()) != {9.0}
    assert data_main(["compact", "-w", str(ws.path)]) == 0
    assert data_main(["validate", "-w", str(ws.path)]) == 0
    assert len(list((ws.path / "scores").glob("part-*.parquet"))) == 1
    assert ws.frame("scores").sort_values("id").equals(scores.sort_values("id"))
    into = tmp_path / "into"
    Workspace.init(into)
    assert data_main(["merge", "-w", str(into), str(ws.path)]) == 0
    merged = Workspace(into).frame("scores")
    assert merged["chat_template"].fillna("null").value_counts().to_dict() == {"null": 8, "roles": 8}


def test_a_rescore_back_to_an_earlier_template_replaces_the_scores_again(
    tmp_path, tiny_base_model_dir, capsys
):
    """roles, then plain, then roles again: the third run said "nothing to score" (the roles rows were there) and
    the app kept ordering by the plain margins, silently; writing the roles rows again would reuse their ids."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    argv = ["score", "-w", str(ws.path), "--model", str(tiny_base_model_dir), "--chat-template"]
    assert main([*argv, "roles"]) == 0
    assert main([*argv, "plain"]) == 0
    capsys.readouterr()
    assert main([*argv, "roles"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "8 of them scored again: this model's scores were rendered with another chat template than this run's "
        "(roles); the new scores replace them for --order uncertainty"
    )
    scores = ws.frame("scores")
    assert scores["id"].is_unique and scores["chat_template"].value_counts().to_dict() == {
        "roles": 16,
        "plain": 8,
    }
    roles = scores[scores["chat_template"] == "roles"]
    assert uncertainty_margins(scores) == dict(zip(roles["pair_id"], roles["margin"]))
    plain = scores[scores["chat_template"] == "plain"]
    assert uncertainty_margins(scores) != dict(zip(plain["pair_id"], plain["margin"]))
    assert main([*argv, "roles"]) == 0  # and now nothing is left to score with roles
    assert "nothing to score" in capsys.readouterr().out


def test_one_template_is_one_rendering_whatever_its_line_ends_or_where_it_came_from(
    tmp_path, tiny_base_model_dir, capsys
):
    """Jinja reads a template with its line ends as "\\n" and one trailing newline dropped: the roles template saved
    to a file by an editor (a newline at the end, or Windows line ends) renders the same pairs, but was recorded as
    another template, so a rerun scored every pair again, saying "rendered with another chat template". A folder's
    named templates (a dict) render with their "default"."""
    ws = build_workspace(tmp_path / "ws", annotators=())
    argv = ["score", "-w", str(ws.path), "--model", str(tiny_base_model_dir), "--chat-template"]
    assert main([*argv, "roles"]) == 0
    for name, text in {"lf.jinja": ROLES + "\n", "crlf.jinja": ROLES.replace("\n", "\r\n") + "\r\n"}.items():
        (tmp_path / name).write_bytes(text.encode("utf-8"))
        capsys.readouterr()
        assert main([*argv, str(tmp_path / name)]) == 0
        assert "nothing to score (all 8 unlabelled pairs have their score" in capsys.readouterr().out
    assert rendering_id({"default": ROLES, "tool_use": PLAIN}) == "roles"
    assert rendering_id(ROLES + "\n\n") != "roles"  # Jinja drops one newline only


def test_a_rerun_with_nothing_to_score_returns_before_loading_the_tokenizer(
    tmp_path, tiny_model_dir, tiny_base_model_dir, capsys, monkeypatch
):
    """A rerun with every pair scored loaded the scoring model's tokenizer only to say "nothing to score": the
    rendering its files say (--chat-template, the folder's chat_template.jinja) is the one the tokenizer has."""
    from transformers import AutoTokenizer

    from train import score

    assert score._known_rendering(str(tiny_model_dir), None) == rendering_id(
        AutoTokenizer.from_pretrained(tiny_model_dir).chat_template
    )
    for model, flags in ((tiny_model_dir, []), (tiny_base_model_dir, ["--chat-template", "roles"])):
        ws = build_workspace(tmp_path / model.name, annotators=())
        argv = ["score", "-w", str(ws.path), "--model", str(model), *flags]
        assert main(argv) == 0
        capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.setattr(score, "load_tokenizer", lambda *args: pytest.fail("loaded the tokenizer"))
            assert main(argv) == 0
        assert "nothing to score (all 8 unlabelled pairs have their score" in capsys.readouterr().out


@pytest.mark.parametrize(
    "config, extra",
    [
        (PLAIN, False),  # tokenizer_config.json's template and the .jinja differ: the .jinja's, both ways
        ([{"name": "default", "template": PLAIN}], False),  # the config's named templates: the same
        (PLAIN, True),  # named templates beside it (additional_chat_templates/): the loaded tokenizer says it
    ],
)
def test_the_rendering_a_rerun_skips_by_is_the_one_the_tokenizer_renders_with(
    tmp_path, tiny_model_dir, config, extra
):
    """A rerun skips the pairs scored with the rendering the folder's files say (`_known_rendering`), without
    loading the tokenizer: were it not the loaded tokenizer's, it would keep scores of another rendering."""
    import json
    import shutil

    from transformers import AutoTokenizer

    from train import score

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").write_text(ROLES)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps(settings | {"chat_template": config}))
    if extra:
        (folder / "additional_chat_templates").mkdir()
        (folder / "additional_chat_templates" / "tool_use.jinja").write_text(PLAIN)
    loaded = rendering_id(AutoTokenizer.from_pretrained(folder).chat_template)
    assert loaded == "roles" and score._known_rendering(str(folder), None) == (None if extra else "roles")
