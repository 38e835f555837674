"""A prompt shown as a conversation (`annotate.render.chat_html`, the one prompt view of every task): each turn under
its role, the turns before the last 4 folded (and the `c` key opening them), every turn's text inert; and, in a
real headless Chromium with the keyboard only, a multi-turn pair labelled with its earlier turns folded."""

from __future__ import annotations

import re
import shutil

import pytest

from annotate.render import chat_html

HOSTILE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> \u202eexe.live'


def conversation(turns: int, system: bool = False) -> list[dict]:
    """``turns`` messages alternating user/assistant and ending on the user, after a system message if asked."""
    roles = ["assistant" if (turns - i) % 2 == 0 else "user" for i in range(turns)]
    messages = [{"role": role, "content": f"{role} says {i}"} for i, role in enumerate(roles)]
    return ([{"role": "system", "content": "be brief"}] if system else []) + messages


def test_one_message_is_shown_as_before_without_a_fold_or_turn_numbers():
    html = chat_html([{"role": "user", "content": "hi"}])
    assert html == (
        '<div class="pf-prompt"><div class="pf-turn pf-user"><div class="pf-role">user</div>'
        '<pre class="pf-text">\nhi</pre></div></div>'
    )


def test_four_turns_are_all_open_and_the_answers_are_the_next_turn():
    html = chat_html(conversation(3, system=True))
    assert "pf-earlier" not in html
    assert re.findall(r'<div class="pf-role">([^<]*)</div>', html) == [
        "system · turn 1",
        "user · turn 2",
        "assistant · turn 3",
        "user · turn 4",
    ]
    assert html.endswith('<div class="pf-next">assistant · turn 5: the answer labelled below</div></div>')


def test_turns_before_the_last_four_fold_behind_a_summary():
    messages = conversation(7, system=True)  # 8 messages: 4 folded
    html = chat_html(messages)
    folded, _, shown = html.partition("</details>")
    assert folded.startswith(
        '<div class="pf-prompt"><details class="pf-earlier"><summary>4 earlier turns <kbd>c</kbd>'
    )
    assert re.findall(r'<div class="pf-role">([^<]*)</div>', folded) == [
        "system · turn 1",
        "user · turn 2",
        "assistant · turn 3",
        "user · turn 4",
    ]
    assert re.findall(r'<div class="pf-role">([^<]*)</div>', shown) == [
        "assistant · turn 5",
        "user · turn 6",
        "assistant · turn 7",
        "user · turn 8",
    ]
    assert "<summary>1 earlier turn <kbd>" in chat_html(conversation(5))
    assert "pf-earlier" not in chat_html(conversation(5), recent=5)


def test_hostile_text_is_inert_in_every_turn_folded_or_not():
    messages = conversation(6)
    messages = [dict(m, content=m["content"] + HOSTILE) for m in messages]
    html = chat_html(messages)
    assert "<script" not in html and "<img" not in html and "\u202e" not in html
    assert html.count("&lt;script&gt;window.__xss = 1&lt;/script&gt;") == 6
    assert html.count("⟦RLO⟧") == 6
    assert html.count("<details") == 1  # the fold is ours; no text made another


def test_the_page_script_binds_c_and_lets_enter_open_a_focused_summary():
    from annotate.assets import KTO_KEYS, PAIRWISE_KEYS, SCRIPT

    assert ("c", "show / hide a conversation's earlier turns") in PAIRWISE_KEYS
    assert ("c", "show / hide a conversation's earlier turns") in KTO_KEYS
    assert 'if (key === "c") return toggleEarlier();' in SCRIPT
    assert 'event.target.tagName === "SUMMARY"' in SCRIPT


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TURNS = [
    ("system", "You are a patient maths tutor."),
    ("user", "What is 12 * 12?" + HOSTILE),
    ("assistant", "144."),
    ("user", "And 13 * 13?"),
    ("assistant", "169."),
    ("user", "Then what is 14 * 14?"),
]


def press_until(page, key: str, condition: str, tries: int = 5) -> None:
    """Press ``key`` until ``condition`` (JS) holds: the page may re-render the prompt once more while it settles
    after sign-in, which closes a fold just opened."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(tries):
        page.keyboard.press(key)
        try:
            page.wait_for_function(condition, timeout=2_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"{condition} never held after pressing {key} {tries} times")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_browser_labels_a_multi_turn_pair_with_keys_only(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="Playwright's Python client is not installed")
    from playwright.sync_api import sync_playwright

    from annotate.service import choice_from_side
    from annotate.users import User, hash_password
    from data import Completion, Pair, Prompt, Workspace
    from tests.annotate_browser import PASSWORD, WAIT_MS, login, screenshot, serve, wait_status

    workspace = Workspace.init(tmp_path / "ws")
    prompt = Prompt([{"role": r, "content": c} for r, c in TURNS], source="e2e")
    good = Completion(prompt.id, "14 * 14 = 196.", "m", "hf", seed=0)
    bad = Completion(prompt.id, "User: what is 15 * 15?", "m", "hf", seed=1)
    workspace.append([prompt, good, bad, Pair(prompt.id, good.id, bad.id, "sampled")])
    users = {"bob": User("bob", hash_password(PASSWORD))}
    app, ctx, url = serve(workspace, "pairwise", users)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 960})
            login(page, url, "bob")
            shown = page.inner_text("#pf-prompt")
            # The last 4 turns are open, the 2 before them folded: their text is not rendered until opened.
            assert "169." in shown and "Then what is 14 * 14?" in shown and "2 earlier turns" in shown
            assert "patient maths tutor" not in shown and "12 * 12" not in shown
            assert page.locator("#pf-prompt details.pf-earlier[open]").count() == 0
            press_until(page, "c", "document.querySelector('#pf-prompt details.pf-earlier')?.open === true")
            assert "<script>window.__xss = 1</script>" in page.inner_text("#pf-prompt")
            assert page.locator("#pf-prompt img").count() == 0 and page.evaluate("window.__xss") is None
            press_until(page, "c", "document.querySelector('#pf-prompt details.pf-earlier')?.open === false")
            # Tab reaches the fold's summary; Enter there opens it and submits nothing.
            for _ in range(60):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement?.tagName") == "SUMMARY":
                    break
            assert page.evaluate("document.activeElement?.closest('.pf-earlier') !== null")
            page.keyboard.press("Enter")
            page.locator("#pf-prompt details.pf-earlier[open]").wait_for(timeout=WAIT_MS)
            assert workspace.frame("labels").empty
            page.keyboard.press("Tab")  # on past the summary, where Enter submits again
            assert page.evaluate("document.activeElement?.tagName") != "SUMMARY"
            screenshot(page, "annotate-turns.png", tmp_path)
            good_side = "a" if "196" in page.inner_text("#pf-left") else "b"
            page.keyboard.press(good_side)
            page.keyboard.press("1")
            page.keyboard.press("Enter")
            wait_status(page, "Saved to disk")
            browser.close()
        labels = workspace.frame("labels")
        assert len(labels) == 1 and labels.iloc[0]["strength"] == 4
        side = "left" if good_side == "a" else "right"
        assert labels.iloc[0]["choice"] == choice_from_side(side, labels.iloc[0]["left"])
        pair = workspace.frame("pairs").iloc[0]
        assert pair["completion_" + labels.iloc[0]["choice"]] == good.id
    finally:
        app.close()
