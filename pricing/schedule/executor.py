"""How a scheduled crawl is carried out: behind a small interface, so Celery can slot in.

The scheduler decides *when* a site is crawled; an executor decides *how*. The default,
:class:`LocalExecutor`, crawls one site in one child process through the crawler's shared
entry point (``python -m crawler.runner``, what ``pricewatch crawl`` runs too): a Twisted
reactor cannot be restarted, so a long-lived process cannot run Scrapy twice. A distributed
executor (issue 9) implements the same two methods by enqueueing batches and waiting for them.

Children live in their own session, so a Ctrl-C at the terminal reaches only the scheduler,
which then stops them in order; on Linux they also get SIGTERM if the scheduler dies with
SIGKILL, and the crawler records such a run as interrupted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from pricing.store.models import CrawlRun, Site

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CrawlRequest:
    site: str
    trigger: str = "schedule"
    # A refresh crawl: the file of product URLs to re-read (crawler/middlewares/refresh.py).
    refresh_file: str | None = None


@dataclass(slots=True)
class CrawlOutcome:
    site: str
    started_at: datetime
    finished_at: datetime
    returncode: int | None
    run_ids: list[int] = field(default_factory=list)
    stopped: bool = False  # the scheduler stopped it (shutdown), not the crawl itself
    output_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.stopped


class CrawlExecutor(ABC):
    """Runs one site's crawl to the end (blocking) and can stop everything it runs."""

    # Whether run() honours CrawlRequest.refresh_file (the URL file must be readable where the
    # crawl runs: true for child processes on this machine).
    supports_refresh: bool = False

    @abstractmethod
    def run(self, request: CrawlRequest) -> CrawlOutcome: ...

    @abstractmethod
    def stop(self, timeout: float = 30.0) -> None:
        """Stop every running crawl: they must record themselves as interrupted."""


# The child: ask the kernel for SIGTERM when the parent dies (Linux), refuse to start if the
# parent is already gone, then run the crawler's one-process entry point (crawler.runner),
# which records its runs with this pid and closes them as interrupted on SIGTERM.
_CHILD = (
    "import os, runpy, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    import ctypes\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
    "    if os.getppid() != int(sys.argv[1]): sys.exit(75)\n"
    "sys.argv = ['crawler.runner'] + sys.argv[2:]\n"
    "runpy.run_module('crawler.runner', run_name='__main__', alter_sys=True)\n"
)


def crawl_command(
    db_url: str, site: str, sites_dir: Path | None, trigger: str, settings: dict | None = None
) -> list[str]:
    """Arguments of ``python -m crawler.runner`` that crawl one site in one process."""
    args = ["--db", db_url, "--trigger", trigger]
    if sites_dir is not None:
        args += ["--sites-dir", str(sites_dir)]
    for key, value in (settings or {}).items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    return [*args, site]


def runs_of_process(engine: Engine, site: str, pid: int, since: datetime) -> list[int]:
    """The crawl runs a child process opened (the crawler records its pid)."""
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(CrawlRun.id)
                .join(Site, Site.id == CrawlRun.site_id)
                .where(
                    Site.name == site,
                    CrawlRun.pid == pid,
                    CrawlRun.started_at >= since - timedelta(seconds=5),
                )
                .order_by(CrawlRun.id)
            )
        )


class LocalExecutor(CrawlExecutor):
    """Each crawl in its own ``crawler.runner`` process on this machine."""

    supports_refresh = True

    def __init__(
        self,
        engine: Engine,
        db_url: str,
        sites_dir: Path | None = None,
        *,
        log_dir: Path | None = None,
        env: dict[str, str] | None = None,
        crawl_settings: dict | None = None,
    ):
        self.engine = engine
        self.db_url = db_url
        self.sites_dir = sites_dir
        self.log_dir = log_dir
        self.env = {**os.environ, **(env or {})}
        self.crawl_settings = dict(crawl_settings or {})
        self._children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def _command(self, request: CrawlRequest) -> list[str]:
        settings = self.crawl_settings
        if request.refresh_file is not None:
            from crawler.middlewares.refresh import REFRESH_SETTING

            settings = {**settings, REFRESH_SETTING: request.refresh_file}
        args = crawl_command(self.db_url, request.site, self.sites_dir, request.trigger, settings)
        return [sys.executable, "-c", _CHILD, str(os.getpid()), *args]

    def run(self, request: CrawlRequest) -> CrawlOutcome:
        started = datetime.now(UTC)
        with self._lock:
            if self._stopping:
                return CrawlOutcome(request.site, started, started, None, stopped=True)
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self._log_path(request.site), "ab") if self.log_dir else None  # noqa: SIM115
            child = subprocess.Popen(
                self._command(request),
                stdin=subprocess.DEVNULL,
                stdout=output or subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
            self._children[request.site] = child
        tail: deque[bytes] = deque(maxlen=40)
        try:
            if child.stdout is not None:
                for line in child.stdout:  # drain, or a chatty child blocks on a full pipe
                    tail.append(line)
            child.wait()
        finally:
            with self._lock:
                self._children.pop(request.site, None)
                stopped = self._stopping
            if output:
                output.close()
        outcome = CrawlOutcome(
            site=request.site,
            started_at=started,
            finished_at=datetime.now(UTC),
            returncode=child.returncode,
            run_ids=runs_of_process(self.engine, request.site, child.pid, started),
            stopped=stopped,
            output_tail=b"".join(tail).decode("utf-8", "replace")[-4000:],
        )
        if child.returncode != 0 and not stopped:
            log.warning(
                "crawl of %s exited with %s: %s",
                request.site,
                child.returncode,
                outcome.output_tail[-500:],
            )
        return outcome

    def _log_path(self, site: str) -> Path:
        assert self.log_dir is not None
        return self.log_dir / f"crawl-{site}.log"

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._children)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every child (Scrapy closes the spider, the run is recorded interrupted);
        SIGKILL whatever is still alive after ``timeout``."""
        with self._lock:
            self._stopping = True
            children = list(self._children.values())
        for child in children:
            _signal(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("crawl pid %s ignored SIGTERM for %ss; killing it", child.pid, timeout)
                _signal(child, signal.SIGKILL)
                child.wait()


def _signal(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)  # the child leads its own session: reach its helpers too
