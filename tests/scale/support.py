"""Helpers for the scale-out tests: `pricewatch worker` processes and small site configs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path

from tests.schedule.conftest import write_sites
from tests.schedule.procs import PRICEWATCH, Proc


class Worker(Proc):
    """`pricewatch worker ...` in a session of its own, so SIGKILL reaches the whole worker:
    the Celery main process, its pool process and the crawl process a batch runs in."""

    def __init__(self, *args: str, env: dict | None = None):
        self.popen = subprocess.Popen(
            [PRICEWATCH, "worker", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def kill(self, *also: int | None) -> None:
        """SIGKILL the worker's session and the processes ``also`` (crawls it started)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for pid in also:
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        try:
            return super().stop(signum, timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.popen.returncode
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # leftovers of the session


def write_configs(sim, directory: Path) -> Path:
    """shop-01 read from listing pages, shop-02 page by page (product mode: longer batches);
    short delays so the test is quick but a batch lasts long enough to be killed mid-way."""
    polite = {"concurrency": 2, "delay": 0.03, "retries": 1}
    return write_sites(
        sim,
        directory,
        **{
            "shop-01": {"politeness": {**polite, "delay": 0.1}},
            "shop-02": {"mode": "product", "politeness": polite},
        },
    )
