"""Crawl runs: one row per crawl of one site, from start to finish reason and health.

A run is opened before the first request and closed when the spider closes. Its counters are
written every few seconds while it runs, so a run killed with SIGKILL still shows how far it
got; :func:`reap_stale_runs` later marks such runs ``interrupted`` (found by pid on this host).

How pricing must read prices (the "broken run" rule)
----------------------------------------------------
A run judged ``broken`` (see crawler/health.py: items stopped parsing, a ban wall, a collapse in
item count) may have stored wrong states. History is change-only: each state records the run that first
saw it (``offer_states.run_id``: ``observations.run_id``, or ``offers.cur_first_run_id`` for a
current state) and the last run that confirmed it (``last_run_id``: ``offers.cur_run_id`` while
current). A state is usable when at least one of those runs is not broken, i.e. some
trustworthy run saw it. :func:`trusted_observation` is that condition as SQLAlchemy, on the
view ``offer_states``; ``offers.cur_*`` are the latest state whatever its run, so pricing that
reads current prices checks ``offers.cur_run_id`` against broken runs too
(:func:`broken_run_ids`). States without a run (imports, tests) are trusted.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from pricing.store.models import CrawlRun, RunHealth, RunStatus, Site
from pricing.store.views import OfferState

# Scrapy finish reasons that mean "stopped before the end", not "done".
INTERRUPTED_REASONS = frozenset({"shutdown", "process died", "cancelled"})
FINISHED_REASONS = frozenset(
    {
        "finished",
        "closespider_pagecount",
        "closespider_itemcount",
        "closespider_timeout",
        "closespider_errorcount",
        "closespider_pagecount_no_item",
        "closespider_timeout_no_item",
    }
)


@dataclass(slots=True)
class RunCounters:
    """What a run counted; the columns of ``crawl_runs`` with the same names."""

    pages: int = 0
    items: int = 0
    http_3xx: int = 0
    http_4xx: int = 0
    http_5xx: int = 0
    not_modified: int = 0
    retries: int = 0
    parse_failures: int = 0
    ban_pages: int = 0
    suspect_items: int = 0


COUNTER_NAMES = tuple(f.name for f in fields(RunCounters))


def status_for_reason(reason: str | None) -> RunStatus:
    """Map a Scrapy finish reason to a run status (unknown reasons are failures)."""
    if reason in FINISHED_REASONS:
        return RunStatus.finished
    if reason in INTERRUPTED_REASONS:
        return RunStatus.interrupted
    return RunStatus.failed


def start_run(
    engine: Engine, site_id: int, trigger: str | None = None, *, kind: str = "full"
) -> int:
    """Open a run for ``site_id``; records this process's pid and host for the reaper.

    ``kind`` is ``full`` or ``refresh`` (crawler/middlewares/refresh.py)."""
    with engine.begin() as conn:
        return conn.execute(
            CrawlRun.__table__.insert()
            .values(
                site_id=site_id,
                started_at=datetime.now(UTC),
                status=RunStatus.running.value,
                trigger=trigger,
                kind=kind,
                pid=os.getpid(),
                host=socket.gethostname(),
            )
            .returning(CrawlRun.id)
        ).scalar_one()


def update_run(engine: Engine, run_id: int, counters: RunCounters, stats: dict | None = None):
    """Write the counters of a run still in progress (so a killed run shows its progress)."""
    values: dict = asdict(counters)
    if stats is not None:
        values["stats"] = stats
    with engine.begin() as conn:
        conn.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id, CrawlRun.status == RunStatus.running.value)
            .values(**values)
        )


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    finish_reason: str,
    counters: RunCounters | None = None,
    stats: dict | None = None,
    status: RunStatus | None = None,
    finished_at: datetime | None = None,
) -> RunStatus:
    """Close a run. ``status`` defaults to what the finish reason means."""
    status = status or status_for_reason(finish_reason)
    values: dict = {
        "status": status.value,
        "finish_reason": finish_reason[:100],
        "finished_at": finished_at or datetime.now(UTC),
    }
    if counters is not None:
        values.update(asdict(counters))
    if stats is not None:
        values["stats"] = stats
    with engine.begin() as conn:
        conn.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(**values))
    return status


def set_health(engine: Engine, run_id: int, health: RunHealth, reasons: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(health=health.value, health_reasons=list(reasons))
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def reap_stale_runs(engine: Engine, *, foreign_after: timedelta = timedelta(hours=24)) -> int:
    """Mark runs left ``running`` by a dead process as ``interrupted``; return how many.

    On this host a run is stale when its pid no longer exists. A run from another host cannot be
    checked that way, so it is stale once older than ``foreign_after``.
    """
    host, now = socket.gethostname(), datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            select(CrawlRun.id, CrawlRun.pid, CrawlRun.host, CrawlRun.started_at).where(
                CrawlRun.status == RunStatus.running.value
            )
        ).all()
    stale = []
    for run_id, pid, run_host, started_at in rows:
        if started_at is not None and started_at.tzinfo is None:
            started_at = started_at.replace(tzinfo=UTC)  # SQLite drops the zone
        if run_host == host:
            if pid is None or (pid != os.getpid() and not _pid_alive(pid)):
                stale.append(run_id)
        elif started_at is not None and now - started_at > foreign_after:
            stale.append(run_id)
    if stale:
        with engine.begin() as conn:
            conn.execute(
                update(CrawlRun)
                .where(CrawlRun.id.in_(stale), CrawlRun.status == RunStatus.running.value)
                .values(
                    status=RunStatus.interrupted.value,
                    finish_reason="process died",
                    finished_at=now,
                )
            )
    return len(stale)


def get_run(engine: Engine, run_id: int) -> CrawlRun | None:
    from pricing.store.db import session_scope

    with session_scope(engine) as session:
        return session.get(CrawlRun, run_id)


def previous_runs(engine: Engine, site_id: int, before_run_id: int, limit: int = 10):
    """The site's runs that ended before ``before_run_id``, newest first (for health)."""
    from pricing.store.db import session_scope

    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(CrawlRun)
                .where(
                    CrawlRun.site_id == site_id,
                    CrawlRun.id < before_run_id,
                    CrawlRun.status != RunStatus.running.value,
                )
                .order_by(CrawlRun.id.desc())
                .limit(limit)
            )
        )


def list_runs(engine: Engine, *, site: str | None = None, limit: int = 20):
    """Recent runs as (CrawlRun, site name), newest first; optionally for one site."""
    from pricing.store.db import session_scope

    query = select(CrawlRun, Site.name).join(Site, Site.id == CrawlRun.site_id)
    if site:
        query = query.where(Site.name == site)
    with session_scope(engine) as session:
        return list(session.execute(query.order_by(CrawlRun.id.desc()).limit(limit)).all())


def latest_runs(engine: Engine):
    """The newest run of every site, as (CrawlRun, site name), by site name."""
    from pricing.store.db import session_scope

    newest = select(func.max(CrawlRun.id)).group_by(CrawlRun.site_id).scalar_subquery()
    query = (
        select(CrawlRun, Site.name)
        .join(Site, Site.id == CrawlRun.site_id)
        .where(CrawlRun.id.in_(newest))
        .order_by(Site.name)
    )
    with session_scope(engine) as session:
        return list(session.execute(query).all())


def broken_run_ids():
    """SELECT of the ids of broken runs, for ``NOT IN`` filters."""
    return select(CrawlRun.id).where(CrawlRun.health == RunHealth.broken.value)


def trusted_observation(states=OfferState) -> ColumnElement[bool]:
    """States pricing may use: some run that saw the state was not broken.

    Use as ``select(OfferState).where(trusted_observation())`` (or pass an alias of it).
    """
    broken = broken_run_ids()
    return or_(
        states.run_id.is_(None),
        states.run_id.not_in(broken),
        and_(states.last_run_id.is_not(None), states.last_run_id.not_in(broken)),
    )
