"""How the arena leaderboard is shown (data/leaderboard_view.py): model names in wide (CJK) characters keep the text
table's columns straight, and the plot escapes the characters its font cannot draw."""

from __future__ import annotations

import warnings

from data.leaderboard import leaderboard
from data.leaderboard_view import board_lines, display_width, font_glyphs, plot_label, plot_leaderboard
from tests.test_data_leaderboard import games_tables

WIDE = "/m/模型二号"  # 4 CJK characters: 8 terminal columns


def wide_board():
    """A board of A (the base) and a model whose folder is named in CJK characters."""
    pairs, completions, labels, models = games_tables([(p, "A", "B", "ann", "ab"[p % 2]) for p in range(4)])
    models.loc[1, "path"] = WIDE
    completions["model"] = completions["model"].replace("/m/B", WIDE)
    return leaderboard(pairs, completions, labels, models, samples=50)


def test_display_width_counts_wide_characters_twice():
    assert [display_width(t) for t in ("abc", "模型", "e\u0301", "ｱ")] == [3, 4, 1, 1]


def test_a_cjk_model_name_keeps_the_table_aligned():
    """The table padded names with str.ljust, which counts a CJK character as one column though a terminal shows
    it in two: every column after the name sat 4 columns to the right on that model's row."""
    lines = board_lines(wide_board(), "people")
    assert "(模型二号)" in lines[3]
    parent_at = [
        display_width(line[: line.index(word)]) for line, word in zip(lines[1:4], ("parent", "-", "A "))
    ]
    assert len(set(parent_at)) == 1, lines


def test_the_plot_escapes_glyphs_its_font_lacks(tmp_path, monkeypatch):
    """matplotlib drew an empty box for each CJK character (its default font has none) and warned 'Glyph ...
    missing from font(s)'. The tick label spells such a character as an escape instead; a drawable one stays."""
    import matplotlib.pyplot as plt

    glyphs = frozenset(map(ord, "abc ()"))
    assert plot_label("ab (模c)", glyphs) == "ab (\\u6a21c)"
    assert plot_label("a\U0001f600", glyphs) == "a\\U0001f600"
    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph was a UserWarning
        plot_leaderboard(wide_board(), "people", tmp_path / "board.png")
    ticks = [t.get_text() for t in drawn.pop().axes[0].get_yticklabels()]
    drawable = font_glyphs()
    assert all(ord(c) in drawable for t in ticks for c in t if c != " ") and len(ticks) == 2, ticks


def test_a_strength_equal_to_the_references_prints_as_zero_not_minus_zero():
    """A lead walking the README: a model whose votes tied it with the base printed `-0.000` under the base's
    `+0.000` (the fit's -1e-17), as if it were weaker; so did an interval end of -0.001 as `-0.00`."""
    from dataclasses import replace

    from data.leaderboard_view import strength_interval, strength_text

    row = replace(wide_board()[0], strength=-1e-17, low=-0.001, high=0.004, no_interval=None)
    assert strength_text(row) == "+0.000"
    assert strength_interval(row) == "+0.00 to +0.00"


def test_a_plot_that_cannot_be_written_leaves_the_board_printed(tmp_path, capsys):
    """The board only reads the workspace; its plot was written before it was printed, so a workspace it could not
    write to (a read-only shared copy, a full disk; here a folder in the way) printed nothing but `error: the file
    system is read-only: nothing was written to ws`, exit 2, --json too."""
    from data.__main__ import main as data_main
    from data.records import Label
    from tests.test_annotate_arena import two_model_arena

    workspace, ids = two_model_arena(tmp_path / "ws", 4)
    workspace.append([Label(pair, "ann", "pairwise", "b") for pair in ids])
    (workspace.path / "leaderboard.png").mkdir()
    for json_flag in ([], ["--json"]):
        assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40", *json_flag]) == 0
        out, err = capsys.readouterr()
        assert err == (
            f"warning: {workspace.path / 'leaderboard.png'}: the plot is not written (a folder is in the way); the "
            "board is printed all the same\n"
        )
        assert "/models/Y" in out and "plot:" not in out


def test_a_link_planted_at_the_plot_is_replaced_not_written_through(tmp_path, capsys):
    """WS/leaderboard.png is written through `atomic_write`: a link planted there is replaced by the plot, and the
    file it named is left as it was (a symlink audit)."""
    from data.__main__ import main as data_main
    from data.records import Label
    from tests.test_annotate_arena import two_model_arena

    workspace, ids = two_model_arena(tmp_path / "ws", 4)
    workspace.append([Label(pair, "ann", "pairwise", "b") for pair in ids])
    victim = tmp_path / "victim.png"
    victim.write_text("not the board's\n")
    (workspace.path / "leaderboard.png").symlink_to(victim)
    assert data_main(["leaderboard", "-w", str(workspace.path), "--bootstrap", "40"]) == 0
    assert victim.read_text() == "not the board's\n"
    plot = workspace.path / "leaderboard.png"
    assert not plot.is_symlink() and plot.read_bytes().startswith(b"\x89PNG")
