"""Refresh crawls between a site's full crawls: their job, their plan, their URL file.

A site whose cadence has ``refresh: {every: 1h, pages: 500}`` gets, besides its full-crawl job,
a ``refresh:NAME`` job. Each refresh plans the most valuable stale pages with
:func:`pricing.freshness.plan_refresh` (at most ``pages``: the site's budget per refresh, spent
``1 day / every`` times a day) and the daemon crawls exactly those, as a run of kind
``refresh`` (crawler/middlewares/refresh.py). Without ``refresh`` a site gets full crawls only.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine

from crawler.middlewares.refresh import write_refresh_urls
from crawler.siteconfig import Cadence, SiteConfig
from pricing.freshness import plan_refresh
from pricing.schedule.triggers import describe, trigger_for

REFRESH_PREFIX = "refresh:"
log = logging.getLogger(__name__)


def refreshed_sites(sites: dict[str, SiteConfig], executor) -> dict[str, SiteConfig]:
    """The refresh jobs wanted, by job id: sites with ``cadence.refresh``, if the executor can
    run refresh crawls (its crawls must read the URL file: child processes on this machine)."""
    wanted = {REFRESH_PREFIX + name: s for name, s in sites.items() if s.cadence.refresh}
    if wanted and not executor.supports_refresh:
        log.warning(
            "%s cannot run refresh crawls: %s get full crawls only",
            type(executor).__name__,
            ", ".join(sorted(s.name for s in wanted.values())),
        )
        return {}
    return wanted


def add_refresh_jobs(
    scheduler, wanted: dict[str, SiteConfig], stored: dict, *, timezone: tzinfo, scale: float
) -> None:
    """Add or replace the refresh jobs whose cadence changed; unchanged ones keep their next run."""
    for job_id, site in wanted.items():
        trigger, name = refresh_job(site, timezone=timezone, scale=scale)
        job = stored.get(job_id)
        if job is not None and job.name == name:
            continue
        scheduler.add_job(
            "pricing.schedule.daemon:scheduled_refresh",
            trigger=trigger,
            args=[site.name],
            id=job_id,
            name=name,
            replace_existing=True,
            misfire_grace_time=None,
        )


def refresh_job(site: SiteConfig, *, timezone: tzinfo, scale: float) -> tuple[BaseTrigger, str]:
    """The trigger and (stable) name of a site's refresh job: the refresh interval, with the
    site's jitter and active hours."""
    refresh = site.cadence.refresh
    assert refresh is not None
    cadence = Cadence(
        every=refresh.every, jitter=site.cadence.jitter, active_hours=site.cadence.active_hours
    )
    name = f"{site.name} (refresh {describe(cadence, scale)}, {refresh.pages} pages)"
    return trigger_for(cadence, timezone=timezone, scale=scale), name


def planned_urls(engine: Engine, site: SiteConfig, now: datetime) -> list[str]:
    """The pages this refresh of ``site`` re-reads, most valuable first."""
    refresh = site.cadence.refresh
    assert refresh is not None
    plan = plan_refresh(
        engine,
        site.name,
        budget=refresh.pages,
        cycles_per_day=timedelta(days=1) / refresh.every,
        now=now,
    )
    return plan.urls


@contextlib.contextmanager
def url_file(site: str, urls: list[str]) -> Iterator[Path]:
    """A temporary refresh file for one crawl, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pricewatch-refresh-") as tmp:
        yield write_refresh_urls(Path(tmp) / f"{site}.txt", urls)
