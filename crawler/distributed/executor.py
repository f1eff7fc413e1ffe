"""Running a cycle's batches: on this machine, or on any number of Celery workers.

One interface, :class:`BatchExecutor` (``run_batches``), two ways to carry it out:

* :class:`LocalBatchExecutor` (the default install, no Redis): batches in local child
  processes, ``parallel`` at a time;
* :class:`CeleryBatchExecutor`: each batch is a ``pricewatch.crawl_batch`` task (task id =
  batch id) for ``pricewatch worker`` processes anywhere; the site's politeness is then shared
  through Redis.

Both end in :func:`crawler.distributed.tasks.run_batch`, so the code path is the same.
:class:`BatchedCrawlExecutor` adapts either to the scheduler's
:class:`pricing.schedule.executor.CrawlExecutor`: a scheduled crawl of a site becomes one cycle
of that site's batches.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from crawler.batches import Batch, cycle_id, plan_batches
from crawler.distributed import ledger
from crawler.distributed.politeness import SETTING as POLITENESS_SETTING
from crawler.distributed.tasks import TASK, BatchOutcome, run_batch
from crawler.siteconfig import find_site_config
from pricing.schedule.executor import CrawlExecutor, CrawlOutcome, CrawlRequest
from pricing.store.models import Offer, Site

log = logging.getLogger(__name__)


class BatchExecutor(ABC):
    """Runs batches to the end (blocking) and returns one outcome per batch, in order."""

    def __init__(
        self, db_url: str, sites_dir: Path | None = None, *, crawl_settings: dict | None = None
    ):
        self.db_url = db_url
        self.sites_dir = sites_dir
        self.crawl_settings = dict(crawl_settings or {})

    @abstractmethod
    def run_batches(self, batches: Sequence[Batch]) -> list[BatchOutcome]: ...

    def stop(self, timeout: float = 30.0) -> None:  # noqa: B027 - optional
        """Stop what runs; the default has nothing to stop."""


class LocalBatchExecutor(BatchExecutor):
    """Batches in child processes on this machine, ``parallel`` at a time."""

    def __init__(self, db_url: str, sites_dir: Path | None = None, *, parallel: int = 0, **kw):
        super().__init__(db_url, sites_dir, **kw)
        self.parallel = parallel or os.cpu_count() or 1

    def run_batches(self, batches: Sequence[Batch]) -> list[BatchOutcome]:
        sites_dir = str(self.sites_dir) if self.sites_dir else None
        with ThreadPoolExecutor(self.parallel, thread_name_prefix="batch") as pool:
            futures = [
                pool.submit(run_batch, b, self.db_url, sites_dir, self.crawl_settings)
                for b in batches
            ]
            return [f.result() for f in futures]


class CeleryBatchExecutor(BatchExecutor):
    """Each batch a Celery task; waits for all of them (re-deliveries included)."""

    def __init__(
        self,
        db_url: str,
        sites_dir: Path | None = None,
        *,
        broker_url: str | None = None,
        queue: str | None = None,
        share_politeness: bool = True,
        **kw,
    ):
        from pricing.schedule.celery_executor import DEFAULT_QUEUE, QUEUE_ENV, make_celery

        super().__init__(db_url, sites_dir, **kw)
        self.app = make_celery(broker_url)
        self.queue = queue or os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE
        if share_politeness:
            self.crawl_settings.setdefault(POLITENESS_SETTING, self.app.conf.broker_url)
        self._results: list = []
        self._lock = threading.Lock()

    def submit(self, batches: Sequence[Batch]) -> list:
        sites_dir = str(self.sites_dir) if self.sites_dir else None
        results = [
            self.app.send_task(
                TASK,
                args=[b.as_dict(), self.db_url, sites_dir, self.crawl_settings],
                task_id=b.id,
                queue=self.queue,
            )
            for b in batches
        ]
        with self._lock:
            self._results += results
        return results

    def run_batches(self, batches: Sequence[Batch]) -> list[BatchOutcome]:
        results = self.submit(batches)
        outcomes = []
        for batch, result in zip(batches, results, strict=True):
            reply = result.get(propagate=False, interval=0.5)
            if isinstance(reply, dict):
                outcomes.append(BatchOutcome.from_dict(reply))
            else:  # the task raised: Celery hands back the exception
                outcomes.append(BatchOutcome(batch, "failed", output_tail=repr(reply)))
        with self._lock:
            self._results = [r for r in self._results if r not in results]
        return outcomes

    def stop(self, timeout: float = 30.0) -> None:
        """Revoke what is queued; running batches get SIGTERM (their runs end interrupted)."""
        with self._lock:
            results = list(self._results)
        for result in results:
            result.revoke(terminate=True, signal="SIGTERM")


def known_offers(engine: Engine, site: str) -> int:
    """How many offers the store has for ``site``: sizes the next cycle's sitemap batches."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count(Offer.id))
            .join(Site, Site.id == Offer.site_id)
            .where(Site.name == site)
        ).scalar_one()


def plan_cycle(
    engine: Engine,
    sites: Sequence[str],
    sites_dir: Path | None = None,
    *,
    cycle: str | None = None,
    per_batch: int = 1000,
    default_batches: int = 4,
) -> list[Batch]:
    """Every batch of ``sites`` for one cycle, registered in the ledger (all configs checked
    before anything is registered)."""
    cycle = cycle or cycle_id()
    configs = [find_site_config(name, sites_dir) for name in sites]
    batches = [
        batch
        for site in configs
        for batch in plan_batches(
            site,
            cycle,
            known_offers=known_offers(engine, site.name),
            per_batch=per_batch,
            default_batches=default_batches,
        )
    ]
    ledger.register(engine, batches)
    return batches


class BatchedCrawlExecutor(CrawlExecutor):
    """The scheduler's executor, one site's crawl = one cycle of its batches."""

    def __init__(self, engine: Engine, batches: BatchExecutor, *, per_batch: int = 1000):
        self.engine = engine
        self.batches = batches
        self.per_batch = per_batch
        self._stopping = False

    def run(self, request: CrawlRequest) -> CrawlOutcome:
        started = datetime.now(UTC)
        if self._stopping:
            return CrawlOutcome(request.site, started, started, None, stopped=True)
        planned = plan_cycle(
            self.engine, [request.site], self.batches.sites_dir, per_batch=self.per_batch
        )
        outcomes = self.batches.run_batches(planned)
        failed = [o for o in outcomes if o.state not in ("done", "skipped")]
        return CrawlOutcome(
            site=request.site,
            started_at=started,
            finished_at=datetime.now(UTC),
            returncode=0 if not failed else (failed[0].returncode or 1),
            run_ids=sorted({r for o in outcomes for r in o.run_ids}),
            stopped=self._stopping,
            output_tail="\n".join(o.output_tail for o in failed)[-4000:],
        )

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        self.batches.stop(timeout)
