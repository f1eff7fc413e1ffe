"""What ``pricewatch schedule list`` shows: stored jobs, next run times, last outcomes.

Reads the job store directly, without starting a scheduler, so it works while one runs
(elsewhere) and while none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Engine, inspect

from pricing.schedule.daemon import JOB_PREFIX, JOBS_TABLE
from pricing.schedule.refresh import REFRESH_PREFIX
from pricing.store.runs import latest_runs


@dataclass(slots=True)
class JobRow:
    site: str
    cadence: str
    next_run: datetime | None
    last_status: str | None = None
    last_health: str | None = None
    last_items: int | None = None
    last_finished: datetime | None = None
    refresh: str | None = None  # the refresh job's cadence (cadence.refresh), if any
    next_refresh: datetime | None = None


def list_jobs(engine: Engine) -> list[JobRow]:
    rows: dict[str, JobRow] = {}
    if inspect(engine).has_table(JOBS_TABLE):
        store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
        store.start(None, "default")
        for job in store.get_all_jobs():
            is_refresh = job.id.startswith(REFRESH_PREFIX)
            site = job.id.removeprefix(REFRESH_PREFIX if is_refresh else JOB_PREFIX)
            cadence = job.name.removeprefix(site).strip(" ()")
            row = rows.setdefault(site, JobRow(site, "(not scheduled)", None))
            if is_refresh:
                row.refresh, row.next_refresh = cadence, job.next_run_time
            else:
                row.cadence, row.next_run = cadence, job.next_run_time
    for run, site in latest_runs(engine):
        row = rows.setdefault(site, JobRow(site, "(not scheduled)", None))
        row.last_status, row.last_health = run.status, run.health
        row.last_items, row.last_finished = run.items, run.finished_at or run.started_at
    return sorted(rows.values(), key=lambda r: r.site)
