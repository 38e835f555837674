"""Closing a served app: Gradio's stop event is set on the server's own loop, not from the closing thread."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import gradio as gr

from annotate.app import ServedBlocks, set_stop_on_its_loop


def test_the_stop_event_is_set_on_the_servers_loop_before_gradios_close(monkeypatch):
    """Gradio's ``close`` set its asyncio stop event from the closing thread while the server's loop could be changing
    the event's waiters ("RuntimeError: deque mutated during iteration", a browser test's teardown): the set now runs
    on that loop, and ``close`` is called after it."""
    loop = asyncio.new_event_loop()
    server = threading.Thread(target=loop.run_forever, daemon=True)
    server.start()
    event, sets, calls = None, [], []

    async def make_and_await():
        nonlocal event
        event = asyncio.Event()
        original = event.set
        event.set = lambda: (sets.append(threading.current_thread()), original())
        waiting = asyncio.ensure_future(event.wait())  # a waiter, as a queue stream's
        await asyncio.sleep(0)
        return waiting

    waiting = asyncio.run_coroutine_threadsafe(make_and_await(), loop).result(5)
    app = SimpleNamespace(app=SimpleNamespace(stop_event=event))
    monkeypatch.setattr(
        gr.Blocks, "close", lambda self, verbose=True: calls.append((verbose, event.is_set()))
    )
    try:
        ServedBlocks.close(app, verbose=False)
        assert sets == [server]  # set by the loop's thread, once
        assert calls == [(False, True)]  # then Gradio's close, the event already set
        assert asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(waiting), 5), loop).result(5)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        server.join(5)


def test_an_event_nothing_awaited_is_left_to_gradios_close():
    event = asyncio.Event()  # never awaited: bound to no loop, no waiter to race
    set_stop_on_its_loop(SimpleNamespace(app=SimpleNamespace(stop_event=event)))
    assert not event.is_set()
