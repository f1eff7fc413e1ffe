"""Operations: is every site being crawled, and healthily? What runs next?"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine, column, inspect, select, table

from pricing.review.auth import CurrentUser, page_user
from pricing.review.web import render
from pricing.store.models import CrawlRun, RunHealth, RunStatus, Site

router = APIRouter(include_in_schema=False)
RECENT_RUNS = 3000  # enough history to find every site's last success
JOBS_TABLE = "apscheduler_jobs"


@dataclass(slots=True)
class SiteHealth:
    id: int
    name: str
    base_url: str
    last: object | None  # latest run row
    last_success: object | None
    runs: int

    @property
    def errors(self) -> int:
        r = self.last
        return (r.http_4xx + r.http_5xx + r.parse_failures + r.ban_pages) if r else 0


@dataclass(slots=True)
class Job:
    id: str
    name: str
    trigger: str
    next_run: datetime | None


def site_health(conn: Connection) -> list[SiteHealth]:
    sites = {
        s.id: SiteHealth(s.id, s.name, s.base_url, None, None, 0)
        for s in conn.execute(select(Site.id, Site.name, Site.base_url).order_by(Site.name))
    }
    runs = conn.execute(
        select(CrawlRun.__table__).order_by(CrawlRun.started_at.desc()).limit(RECENT_RUNS)
    ).all()
    for r in runs:
        site = sites.get(r.site_id)
        if site is None:
            continue
        site.runs += 1
        site.last = site.last or r
        if (
            site.last_success is None
            and r.status == RunStatus.finished
            and r.health != RunHealth.broken
        ):
            site.last_success = r
    return list(sites.values())


def recent_runs(conn: Connection, limit: int = 40) -> list:
    return conn.execute(
        select(CrawlRun.__table__, Site.name.label("site"))
        .join(Site, Site.id == CrawlRun.site_id)
        .order_by(CrawlRun.started_at.desc())
        .limit(limit)
    ).all()


def scheduled_jobs(engine: Engine) -> list[Job] | None:
    """APScheduler's job store table, if the scheduler uses this database; None if not."""
    if not inspect(engine).has_table(JOBS_TABLE):
        return None
    jobs_t = table(JOBS_TABLE, column("id"), column("next_run_time"), column("job_state"))
    with engine.connect() as conn:
        rows = conn.execute(select(jobs_t).order_by(jobs_t.c.next_run_time)).all()
    jobs = []
    for row in rows:
        name, trigger = row.id, ""
        try:  # APScheduler's own format; the table is ours, written by our scheduler
            state = pickle.loads(row.job_state)  # noqa: S301
            name, trigger = state.get("name") or row.id, str(state.get("trigger", ""))
        except Exception:  # noqa: BLE001 - unreadable state still shows id and next run
            pass
        next_run = (
            datetime.fromtimestamp(row.next_run_time, UTC)
            if row.next_run_time is not None
            else None
        )
        jobs.append(Job(str(row.id), str(name), trigger, next_run))
    return jobs


@router.get("/ops")
def ops_page(request: Request, user: CurrentUser = Depends(page_user)) -> Response:
    engine = request.app.state.engine
    with engine.connect() as conn:
        sites = site_health(conn)
        runs = recent_runs(conn)
    counts = {h: sum(1 for s in sites if s.last and s.last.health == h) for h in RunHealth}
    context = {
        "nav": "ops",
        "sites": sites,
        "runs": runs,
        "jobs": scheduled_jobs(engine),
        "counts": counts,
        "never": sum(1 for s in sites if s.last is None),
    }
    return render(request, "ops.html", context)
