"""Overlap Python work with database work: one ordered worker thread per bulk write."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class Pipeline:
    """Runs submitted writes in order on one worker thread, while the caller prepares more.

    The PostgreSQL server then works while Python classifies the next chunk: on two cores
    that overlap is a large part of a cycle's speed. At most ``depth`` chunks wait, bounding
    memory. The first error stops the rest and is raised to the caller.

    With ``threaded=False`` each write runs at once on the caller's thread. SQLite wants
    that: its driver releases the GIL around every row's step and then waits up to a switch
    interval (5 ms) to get it back from the classifying thread, so a worker thread only
    added overhead there (measured).
    """

    def __init__(self, depth: int = 2, *, threaded: bool = True):
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue: queue.Queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._run, name="pricewatch-bulk", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                fn, args = item
                try:
                    fn(*args)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self._thread is None:
            fn(*args)
            return
        if self._error is not None:
            raise self._error
        self._queue.put((fn, args))

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._thread is None:
            return
        if exc is not None and self._error is None:
            self._error = exc  # the caller failed: skip what is still queued
        self._queue.put(None)
        self._thread.join()
        if exc is None and self._error is not None:
            raise self._error
