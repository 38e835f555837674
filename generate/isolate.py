"""Run one step of a long job in a fresh process, so that what it held (vLLM's engine and KV cache, a trained
model, CUDA context) is given back to the machine when the step ends.

The child dies with its parent: a killed driver leaves no orphan still writing into the workspace or a run folder,
and an interrupted one (Ctrl-C, SIGINT) ends it at once rather than once the step is done.
The error contract of the CLIs holds across the process boundary: a user error (a ``PrefloopError``: a bad option, a
missing file) comes back as ``StepFailed``, itself a ``PrefloopError`` carrying the message and the original class
name, so the command prints the same one line as without isolation; anything else (a library's ``ValueError``, a
bug) comes back as itself with the child's traceback attached.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from data.errors import PrefloopError

log = logging.getLogger(__name__)

TERMINATE_GRACE = 5.0  # seconds an interrupted step's process has to end on SIGTERM before it is killed


class StepFailed(PrefloopError):
    """A step in a fresh process stopped on bad input (``kind``: the error's class there), or its process died."""

    def __init__(self, message: str, kind: str = "StepFailed"):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # pickled with both fields (the default would drop ``kind``)
        return StepFailed, (str(self), self.kind)


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: the driver is gone
            os._exit(1)
        time.sleep(interval)


def _start_child(parent: int, level: int) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _call(fn: Callable[..., Any], args: tuple) -> Any:
    try:
        return fn(*args)
    except (
        PrefloopError
    ) as exc:  # our errors may not pickle (extra __init__ arguments): send the line and kind
        raise StepFailed(str(exc), type(exc).__name__) from None


def run_isolated(fn: Callable[..., Any], *args: Any, isolate: bool = True, what: str = "step") -> Any:
    """``fn(*args)`` in a fresh spawned process (or here when ``isolate`` is False); returns its result."""
    if not isolate:
        return fn(*args)
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold threads or CUDA
    level = logging.getLogger().getEffectiveLevel()
    with ProcessPoolExecutor(1, context, initializer=_start_child, initargs=(os.getpid(), level)) as pool:
        try:
            return pool.submit(_call, fn, args).result()
        except BrokenProcessPool as exc:
            raise StepFailed(f"the {what} process died (killed, or out of memory?)") from exc
        except KeyboardInterrupt:
            # Ctrl-C, or SIGINT to this process alone (`kill -INT` of a background job): the step stops with it
            # (leaving the pool waited for the step to end, a model's whole sampling)
            children = multiprocessing.active_children()  # the pool's worker, this job's only child
            for child in children:
                child.terminate()
            for child in children:  # one whose library ignores SIGTERM is killed: the pool waited for it too
                child.join(TERMINATE_GRACE)
                if child.is_alive():
                    child.kill()
            raise
