"""What a round driver prints beside its iterations: the arena's header over its board (or over why there is
none), the --prompts file's rows a rerun skipped, and its iteration counts refused in its own words."""

from __future__ import annotations

from data.__main__ import main as data_main


def test_the_arena_header_says_the_board_below_only_when_a_board_follows(tmp_path, monkeypatch, capsys):
    """With no vote yet the header said "the board below counts the votes ..." over the error line that stood in
    for the board. It says there is no board and why; with votes, the board below as before."""
    from generate.loop import arena as loop_arena
    from generate.loop.__main__ import parse_options as loop_options
    from tests.test_annotate_arena import two_model_arena

    workspace, _ = two_model_arena(tmp_path / "ws", 4)
    ran = {"arena_pairs": 4, "arena_models": "X Y", "arena_round": 0}
    monkeypatch.setattr(loop_arena, "run_arena", lambda *args, **kwargs: ran)
    options = loop_options(["-w", str(workspace.path), "--spin-iter", "1", "--arena", "base,newest"])
    lines = loop_arena.arena_leaderboard(options, workspace)
    same = f"python -m data leaderboard -w {workspace.path} --split test"
    assert data_main(["leaderboard", "-w", str(workspace.path), "--split", "test"]) == 2
    error = capsys.readouterr().err.removeprefix("error: ").rstrip("\n")
    assert lines == [
        "arena: 4 pairs of X Y at round 0, on split test: the loop's held-out prompts (it trains on split train); "
        f"no board of the votes by people on split test's arena pairs, as `{same}` says:",
        error,
    ]
    assert not any("board below" in line for line in lines)
