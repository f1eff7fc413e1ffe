"""The scheduler daemon: crawl each site at its cadence, then match, suggest and alert.

APScheduler 3 keeps one job per site in the store's own database (``apscheduler_jobs``), so a
restart continues the schedule where it was. Jobs coalesce (a scheduler that was down for a
day crawls a site once, not once per missed slot), never overlap themselves
(``max_instances=1``) and are run by an executor (:mod:`pricing.schedule.executor`): a child
process per crawl by default. After a crawl that changed something, matching and suggestions
run for what changed, one at a time, and alerts are checked.

Freshness between full crawls (:mod:`pricing.schedule.refresh`): a site with
``cadence.refresh`` also gets a ``refresh:NAME`` job that crawls the planned pages. A refresh due
while the site is being crawled is skipped; a full crawl due during a refresh waits for it.

Stopping: SIGTERM (or Ctrl-C) pauses the schedule, stops running crawls (each records itself
as interrupted), waits for the worker threads, and releases the lock. After SIGKILL, the next
start reaps the runs the dead scheduler's crawls left "running" and carries on.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, func, select

from crawler.siteconfig import SiteConfig, load_all_site_configs
from pricing.schedule.executor import CrawlExecutor, CrawlOutcome, CrawlRequest, LocalExecutor
from pricing.schedule.lock import ProcessLock
from pricing.schedule.refresh import add_refresh_jobs, planned_urls, refreshed_sites, url_file
from pricing.schedule.triggers import describe, trigger_for
from pricing.store.db import make_engine
from pricing.store.models import CrawlRun, Offer, RunStatus
from pricing.store.runs import _pid_alive, reap_stale_runs
from pricing.store.views import OfferState

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
JOB_PREFIX = "crawl:"

_ACTIVE: Scheduler | None = None  # the daemon of this process; persisted jobs call into it


def scheduled_crawl(site: str) -> None:
    """The persisted job: a reference to this function and the site name live in the store."""
    if _ACTIVE is None:
        raise RuntimeError("no scheduler is running in this process")
    _ACTIVE.crawl_site(site)


def scheduled_refresh(site: str) -> None:
    """The persisted refresh job of a site (``cadence.refresh``)."""
    if _ACTIVE is None:
        raise RuntimeError("no scheduler is running in this process")
    _ACTIVE.refresh_site(site)


@dataclass(slots=True)
class ScheduleSettings:
    db_url: str
    sites_dir: Path | None = None
    scale: float = 1.0  # a fast clock: 3600 makes an hour of cadence pass in a second
    max_parallel: int = 4  # crawls at the same time (each is a process: about one core)
    timezone: tzinfo = UTC
    strategies: Path | None = None  # for suggestions; None: the shipped default
    alerts: object | None = None  # an AlertsConfig
    log_dir: Path | None = None
    post_steps: bool = True  # match + suggest after crawls
    crawl_settings: dict = field(default_factory=dict)  # Scrapy settings for every crawl
    broker_url: str | None = None  # given: crawls go to `pricewatch worker`s through Celery
    queue: str | None = None
    stop_timeout: float = 30.0
    sites: list[str] = field(default_factory=list)  # only these sites (default: all enabled)


@dataclass(slots=True)
class CycleRecord:
    """What one scheduled crawl did, as the daemon saw it (also printed as one log line)."""

    site: str
    outcome: CrawlOutcome
    changes: int = 0
    matched: bool = False
    suggested: int | None = None
    error: str | None = None
    kind: str = "full"  # or "refresh"
    planned: int = 0  # refresh: pages planned


class Scheduler:
    """One scheduler process. ``start()`` then ``wait()``; ``stop()`` from any thread."""

    def __init__(
        self, engine: Engine, settings: ScheduleSettings, executor: CrawlExecutor | None = None
    ):
        self.engine = engine
        self.settings = settings
        self.executor = executor or default_executor(engine, settings)
        self.lock = ProcessLock(engine, on_lost=self.request_stop)
        self.history: deque[CycleRecord] = deque(maxlen=1000)  # recent cycles; runs for months
        self._stop_requested = threading.Event()
        self._stopping = False
        self._post_lock = threading.Lock()
        self._site_locks: dict[str, threading.Lock] = {}  # a site's crawls never overlap
        self._site_locks_guard = threading.Lock()
        self._sites_config: dict[str, SiteConfig] = {}
        self._scheduler: BackgroundScheduler | None = None
        self.alerts = None
        if settings.alerts is not None:
            from pricing.alerts import AlertDispatcher

            self.alerts = AlertDispatcher(engine, settings.alerts)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Take the lock (or raise SchedulerLocked), reap dead runs, (re)load jobs, go."""
        global _ACTIVE
        sites = self._sites()  # a bad site config fails here, before anything changes
        self._sites_config = sites
        self.lock.acquire()
        try:
            self._wait_for_orphans()
            reaped = reap_stale_runs(self.engine)
            if reaped:
                log.warning("marked %d crawl run(s) of dead processes as interrupted", reaped)
            scheduler = BackgroundScheduler(
                jobstores={
                    "default": SQLAlchemyJobStore(
                        engine=make_engine(self.settings.db_url), tablename=JOBS_TABLE
                    )
                },
                executors={"default": ThreadPoolExecutor(self.settings.max_parallel)},
                job_defaults={"coalesce": True, "max_instances": 1},
                timezone=self.settings.timezone,
            )
            scheduler.add_listener(
                self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
            )
            scheduler.start(paused=True)
            self._scheduler = scheduler
            self._sync_jobs(sites)
            _ACTIVE = self
            scheduler.resume()
        except BaseException:
            self.lock.release()
            raise

    def _wait_for_orphans(self) -> None:
        """Crawls of a scheduler that died got SIGTERM with it; let them close their runs
        before we crawl those sites again (a site's crawls never overlap)."""
        host = socket.gethostname()
        deadline = time.monotonic() + self.settings.stop_timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                pids = conn.scalars(
                    select(CrawlRun.pid).where(
                        CrawlRun.status == RunStatus.running.value,
                        CrawlRun.host == host,
                        CrawlRun.trigger == "schedule",
                    )
                ).all()
            alive = [pid for pid in pids if pid and _pid_alive(pid)]
            if not alive:
                return
            log.info("waiting for crawl process(es) %s left by the previous scheduler", alive)
            time.sleep(0.5)

    def _sites(self) -> dict[str, SiteConfig]:
        sites = {
            name: site
            for name, site in load_all_site_configs(self.settings.sites_dir).items()
            if site.enabled
        }
        if self.settings.sites:
            unknown = sorted(set(self.settings.sites) - set(sites))
            if unknown:
                raise ValueError(f"no enabled site named {', '.join(unknown)}")
            sites = {name: sites[name] for name in self.settings.sites}
        return sites

    def _sync_jobs(self, sites: dict[str, SiteConfig]) -> None:
        """Make the stored jobs match the site configs; an unchanged job keeps its next run."""
        assert self._scheduler is not None
        stored = {job.id: job for job in self._scheduler.get_jobs()}
        wanted = {JOB_PREFIX + name: site for name, site in sites.items()}
        refreshing = refreshed_sites(sites, self.executor)
        for job_id in stored.keys() - wanted.keys() - refreshing.keys():
            self._scheduler.remove_job(job_id)
            log.info("removed job %s (site gone or disabled)", job_id)
        tz, scale = self.settings.timezone, self.settings.scale
        for job_id, site in wanted.items():
            name = f"{site.name} ({describe(site.cadence, scale)})"
            job = stored.get(job_id)
            if job is not None and job.name == name:
                continue
            self._scheduler.add_job(
                "pricing.schedule.daemon:scheduled_crawl",
                trigger=trigger_for(site.cadence, timezone=tz, scale=scale),
                args=[site.name],
                id=job_id,
                name=name,
                replace_existing=True,
                # However late (a scheduler down for a day), a missed crawl still runs, once.
                misfire_grace_time=None,
                # A new site is crawled at once; a changed cadence starts from now (APScheduler
                # reads an explicit next_run_time=None as "paused", so leave it out then).
                **({"next_run_time": datetime.now(UTC)} if job is None else {}),
            )
        add_refresh_jobs(self._scheduler, refreshing, stored, timezone=tz, scale=scale)

    def request_stop(self) -> None:
        self._stop_requested.set()

    def wait(self) -> None:
        """Block until SIGTERM/SIGINT (main thread) or request_stop(), then stop cleanly."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.request_stop())
        while not self._stop_requested.wait(0.5):
            pass
        self.stop()

    def stop(self) -> None:
        global _ACTIVE
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping: pausing the schedule and stopping running crawls")
        if self._scheduler is not None:
            self._scheduler.pause()
        self.executor.stop(timeout=self.settings.stop_timeout)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
        reap_stale_runs(self.engine)  # a crawl that had to be killed is interrupted, too
        if self.alerts is not None:
            self.alerts.close()
        if _ACTIVE is self:
            _ACTIVE = None
        self.lock.release()
        log.info("scheduler stopped")

    def _on_event(self, event) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.info("%s: previous crawl still running; this slot is skipped", event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("%s: run due at %s was missed", event.job_id, event.scheduled_run_time)
        elif event.code == EVENT_JOB_ERROR:
            log.error("%s failed: %s", event.job_id, event.exception)

    def jobs(self):
        return self._scheduler.get_jobs() if self._scheduler else []

    # -- one cycle ---------------------------------------------------------------------------

    def _site_lock(self, site: str) -> threading.Lock:
        with self._site_locks_guard:
            return self._site_locks.setdefault(site, threading.Lock())

    def crawl_site(self, site: str) -> CycleRecord | None:
        if self._stopping:
            return None
        with self._site_lock(site):  # waits for a refresh of the site to end
            if self._stopping:
                return None
            return self._run(CrawlRequest(site=site), CycleRecord)

    def refresh_site(self, site: str, now: datetime | None = None) -> CycleRecord | None:
        """Plan the site's most valuable stale pages and crawl exactly those (kind refresh)."""
        config = self._sites_config.get(site) or self._sites().get(site)
        refresh = config.cadence.refresh if config else None
        if self._stopping or refresh is None:
            return None
        lock = self._site_lock(site)
        if not lock.acquire(blocking=False):
            log.info("refresh of %s skipped: the site is being crawled", site)
            return None
        try:
            urls = planned_urls(self.engine, config, now or datetime.now(UTC))
            if not urls:
                log.info(
                    "refresh of %s skipped: no known offer yet (a full crawl comes first)", site
                )
                return None
            with url_file(site, urls) as path:
                return self._run(
                    CrawlRequest(site=site, refresh_file=str(path)),
                    lambda **kw: CycleRecord(**kw, kind="refresh", planned=len(urls)),
                )
        finally:
            lock.release()

    def _run(self, request: CrawlRequest, make_record) -> CycleRecord:
        outcome = self.executor.run(request)
        record = make_record(site=request.site, outcome=outcome)
        if not outcome.stopped:
            self.after_crawl(record)
        self.history.append(record)
        log.info(_summary(self.engine, record))
        return record

    def after_crawl(self, record: CycleRecord) -> None:
        """Match and suggest when the crawl changed something; check alerts either way."""
        outcome = record.outcome
        try:
            record.changes = changes_by_runs(self.engine, outcome.run_ids, outcome.started_at)
            with self._post_lock:  # one matching/suggesting at a time, whichever site finished
                if self._stopping:
                    return
                if record.changes and self.settings.post_steps:
                    from pricing.matching import run_matching
                    from pricing.rules import run_suggestions

                    run_matching(self.engine)
                    record.matched = True
                    report = run_suggestions(self.engine, self.settings.strategies)
                    record.suggested = report.suggested
                if self.alerts is not None:
                    if not outcome.run_ids:  # the crawl died before recording a run
                        self.alerts.submit([process_failed_alert(outcome)])
                    self.alerts.check(since=outcome.started_at)
        except Exception as exc:  # one bad cycle must not stop the schedule
            log.exception("after crawling %s", record.site)
            record.error = f"{type(exc).__name__}: {exc}"


def default_executor(engine: Engine, settings: ScheduleSettings) -> CrawlExecutor:
    """Celery workers when a broker is configured, else child processes on this machine."""
    if settings.broker_url and os.environ.get("PRICEWATCH_CRAWL_BATCHES"):
        # Scale-out: each site's crawl split into batches that all workers share.
        from crawler.distributed.executor import BatchedCrawlExecutor, CeleryBatchExecutor

        return BatchedCrawlExecutor(
            engine,
            CeleryBatchExecutor(
                settings.db_url,
                settings.sites_dir,
                broker_url=settings.broker_url,
                queue=settings.queue,
                crawl_settings=settings.crawl_settings,
            ),
        )
    if settings.broker_url:
        from pricing.schedule.celery_executor import CeleryExecutor

        return CeleryExecutor(
            engine,
            settings.db_url,
            settings.sites_dir,
            broker_url=settings.broker_url,
            queue=settings.queue,
            crawl_settings=settings.crawl_settings,
        )
    return LocalExecutor(
        engine,
        settings.db_url,
        settings.sites_dir,
        log_dir=settings.log_dir,
        crawl_settings=settings.crawl_settings,
    )


def process_failed_alert(outcome: CrawlOutcome):
    """A crawl process that exited without recording a run (bad config, crash, no database)."""
    from pricing.alerts import Alert, AlertKind
    from pricing.alerts.detect import clean

    last = clean(
        outcome.output_tail.strip().splitlines()[-1] if outcome.output_tail.strip() else "", 200
    )
    return Alert(
        AlertKind.crawl_health,
        key=f"crawl:{outcome.site}",
        state=f"exit {outcome.returncode}",
        text=f"{outcome.site}: crawl process exited {outcome.returncode} without recording a run ({last})",
        magnitude=2.0,  # as bad as broken: no data at all
    )


def changes_by_runs(engine: Engine, run_ids: list[int], since: datetime) -> int:
    """New states (first seen by these runs) plus offers first seen since."""
    if not run_ids:
        return 0
    with engine.connect() as conn:
        states = conn.scalar(
            select(func.count()).select_from(OfferState).where(OfferState.run_id.in_(run_ids))
        )
        sites = select(CrawlRun.site_id).where(CrawlRun.id.in_(run_ids))
        new_offers = conn.scalar(
            select(func.count())
            .select_from(Offer)
            .where(Offer.site_id.in_(sites), Offer.first_seen >= since)
        )
    return int(states or 0) + int(new_offers or 0)


def _summary(engine: Engine, record: CycleRecord) -> str:
    o = record.outcome
    with engine.connect() as conn:
        runs = conn.execute(
            select(CrawlRun.id, CrawlRun.status, CrawlRun.health, CrawlRun.items).where(
                CrawlRun.id.in_(o.run_ids or [-1])
            )
        ).all()
    what = ", ".join(f"run {i} {s} {h or ''} {n} items".replace("  ", " ") for i, s, h, n in runs)
    steps = []
    if record.matched:
        steps.append("matched")
    if record.suggested is not None:
        steps.append(f"{record.suggested} suggestions")
    if record.error:
        steps.append(f"error: {record.error}")
    kind = f"refresh of {record.planned} pages of" if record.kind == "refresh" else "crawl"
    return (
        f"{kind} {o.site}: exit {o.returncode}{' (stopped)' if o.stopped else ''}; "
        f"{what or 'no run recorded'}; {record.changes} changes"
        + (f"; {', '.join(steps)}" if steps else "")
    )
