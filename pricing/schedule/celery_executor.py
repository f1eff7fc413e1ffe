"""Crawls as Celery tasks: the same executor interface, carried out by ``pricewatch worker``s.

With a broker (``PRICEWATCH_BROKER_URL``, Redis here) the scheduler enqueues each due site's
crawl as a task; any worker on any machine takes it and runs it exactly as the local executor
does (a child process per crawl, writing to the shared store, PostgreSQL in practice). Tasks are
acknowledged late and re-delivered when a worker dies mid-crawl; running a crawl twice
duplicates nothing, because history is change-only (a re-seen state only extends its row).

This is the whole-site granularity. Splitting one site into batches (listing-page ranges,
sitemap slices) that several workers share is the next step (issue 9): it slots in here as
more, smaller tasks behind the same :class:`~pricing.schedule.executor.CrawlExecutor`.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from celery import Celery
from sqlalchemy import Engine

from pricing.schedule.executor import CrawlExecutor, CrawlOutcome, CrawlRequest, LocalExecutor

log = logging.getLogger(__name__)

BROKER_ENV = "PRICEWATCH_BROKER_URL"
QUEUE_ENV = "PRICEWATCH_QUEUE"
DEFAULT_QUEUE = "pricewatch"
TASK = "pricewatch.crawl_site"


def make_celery(broker_url: str | None = None) -> Celery:
    broker = broker_url or os.environ.get(BROKER_ENV)
    if not broker:
        raise RuntimeError(f"no broker: set {BROKER_ENV} (e.g. redis://127.0.0.1:6379/0)")
    app = Celery("pricewatch", broker=broker, backend=broker)
    app.conf.update(
        task_acks_late=True,  # a task is acknowledged when done, not when taken ...
        task_reject_on_worker_lost=True,  # ... so a worker's death re-delivers it
        worker_prefetch_multiplier=1,  # a crawl is long: take one at a time
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 6 * 3600},  # longer than any crawl
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK, bind=True)(_crawl_site)
    from crawler.distributed.celery_app import configure  # scale-out: batch task, env options

    return configure(app)


def _crawl_site(task, site: str, db_url: str, sites_dir: str | None, trigger: str, settings: dict):
    """The task: one site's crawl in a child process on this worker."""
    from pricing.store.db import make_engine

    engine = make_engine(db_url)
    executor = LocalExecutor(
        engine, db_url, Path(sites_dir) if sites_dir else None, crawl_settings=settings
    )
    outcome = executor.run(CrawlRequest(site=site, trigger=trigger))
    engine.dispose()
    return {
        "returncode": outcome.returncode,
        "run_ids": outcome.run_ids,
        "output_tail": outcome.output_tail[-2000:],
        "worker": task.request.hostname,
    }


class CeleryExecutor(CrawlExecutor):
    """Enqueue each crawl for a ``pricewatch worker`` and wait for it to finish."""

    def __init__(
        self,
        engine: Engine,
        db_url: str,
        sites_dir: Path | None = None,
        *,
        broker_url: str | None = None,
        queue: str | None = None,
        crawl_settings: dict | None = None,
    ):
        self.engine = engine
        self.db_url = db_url
        self.sites_dir = sites_dir
        self.app = make_celery(broker_url)
        self.queue = queue or os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE
        self.crawl_settings = dict(crawl_settings or {})
        self._running: dict[str, object] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def run(self, request: CrawlRequest) -> CrawlOutcome:
        started = datetime.now(UTC)
        with self._lock:
            if self._stopping:
                return CrawlOutcome(request.site, started, started, None, stopped=True)
            result = self.app.send_task(
                TASK,
                args=[
                    request.site,
                    self.db_url,
                    str(self.sites_dir) if self.sites_dir else None,
                    request.trigger,
                    self.crawl_settings,
                ],
                queue=self.queue,
            )
            self._running[request.site] = result
        try:
            reply = result.get(propagate=False, interval=0.5)
        finally:
            with self._lock:
                self._running.pop(request.site, None)
                stopped = self._stopping
        if not isinstance(reply, dict):  # the task raised: Celery hands back the exception
            reply = {"returncode": None, "run_ids": [], "output_tail": repr(reply)}
        return CrawlOutcome(
            site=request.site,
            started_at=started,
            finished_at=datetime.now(UTC),
            returncode=reply.get("returncode"),
            run_ids=list(reply.get("run_ids") or []),
            stopped=stopped,
            output_tail=reply.get("output_tail") or "",
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Revoke queued crawls; running ones get SIGTERM (their crawl records interrupted)."""
        with self._lock:
            self._stopping = True
            results = list(self._running.values())
        for result in results:
            result.revoke(terminate=True, signal="SIGTERM")
        for result in results:
            try:
                result.get(timeout=timeout, propagate=False)
            except Exception:  # timed out or revoked before it started: nothing to wait for
                log.warning("crawl task %s did not confirm its end", result.id)


def worker_argv(concurrency: int, queue: str, loglevel: str) -> list[str]:
    import socket

    return [
        "worker",
        f"--concurrency={concurrency}",
        f"--queues={queue}",
        f"--loglevel={loglevel}",
        f"--hostname=pricewatch-{os.getpid()}@{socket.gethostname()}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
    ]
