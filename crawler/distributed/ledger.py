"""The ``crawl_batches`` ledger: which batch of which cycle ran, is running, or is done.

Celery delivers a task at least once (late acks: a worker's death re-delivers, and so does a
visibility timeout passing on a slow batch). The ledger turns that into "runs to completion
once": a task *claims* its batch with a lease before crawling and heartbeats it while the
crawl runs; a second delivery finds the batch ``done`` (nothing to do) or leased by a live
holder (try later). ``attempts`` is the fencing token: only the latest claimant may close it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from crawler.batches import Batch
from pricing.store.models import CrawlBatch, CrawlRun, RunStatus, Site
from pricing.store.runs import finish_run

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True, slots=True)
class Claim:
    state: str  # "claimed", "done" (nothing to do) or "busy" (another live holder)
    attempt: int = 0
    lease_until: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _where(batch: Batch):
    table = CrawlBatch.__table__
    return and_(
        table.c.cycle == batch.cycle, table.c.site == batch.site, table.c.batch_no == batch.number
    )


def register(engine: Engine, batches: Sequence[Batch]) -> int:
    """Add the batches not in the ledger yet (safe to repeat, and under concurrency)."""
    table = CrawlBatch.__table__
    added = 0
    for batch in batches:
        with engine.begin() as conn:
            if conn.execute(select(table.c.id).where(_where(batch))).first():
                continue
        try:
            with engine.begin() as conn:
                conn.execute(
                    table.insert().values(
                        cycle=batch.cycle,
                        site=batch.site,
                        batch_no=batch.number,
                        batch_count=batch.count,
                        status=QUEUED,
                        attempts=0,
                        queued_at=_now(),
                    )
                )
            added += 1
        except IntegrityError:  # registered by someone else in between: that is fine
            pass
    return added


def claim(engine: Engine, batch: Batch, worker: str, lease: float) -> Claim:
    """Take the batch for ``lease`` seconds unless it is done or held by a live lease."""
    register(engine, [batch])
    table = CrawlBatch.__table__
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(
            select(table.c.status, table.c.attempts, table.c.lease_until).where(_where(batch))
        ).one()
        if row.status == DONE:
            return Claim("done", row.attempts)
        taken = conn.execute(
            update(table)
            .where(
                _where(batch),
                table.c.attempts == row.attempts,  # nobody claimed it since we looked
                table.c.status != DONE,
                or_(
                    table.c.status != RUNNING,
                    table.c.lease_until.is_(None),
                    table.c.lease_until < now,
                ),
            )
            .values(
                status=RUNNING,
                attempts=row.attempts + 1,
                worker=worker[:200],
                lease_until=now + timedelta(seconds=lease),
                started_at=now,
            )
        ).rowcount
    if taken == 1:
        return Claim("claimed", row.attempts + 1)
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.status, table.c.attempts, table.c.lease_until).where(_where(batch))
        ).one()
    return Claim("done" if row.status == DONE else "busy", row.attempts, row.lease_until)


def heartbeat(engine: Engine, batch: Batch, attempt: int, lease: float) -> bool:
    """Extend our lease; False if the batch was taken from us (our lease had run out)."""
    table = CrawlBatch.__table__
    with engine.begin() as conn:
        return (
            conn.execute(
                update(table)
                .where(_where(batch), table.c.attempts == attempt, table.c.status == RUNNING)
                .values(lease_until=_now() + timedelta(seconds=lease))
            ).rowcount
            == 1
        )


def finish(
    engine: Engine,
    batch: Batch,
    attempt: int,
    *,
    ok: bool,
    returncode: int | None,
    run_ids: Sequence[int],
    error: str | None = None,
) -> bool:
    """Close our attempt (done or failed); False if a newer attempt owns the batch now."""
    table = CrawlBatch.__table__
    with engine.begin() as conn:
        earlier = conn.execute(select(table.c.run_ids).where(_where(batch))).scalar() or []
        return (
            conn.execute(
                update(table)
                .where(_where(batch), table.c.attempts == attempt)
                .values(
                    status=DONE if ok else FAILED,
                    finished_at=_now(),
                    lease_until=None,
                    returncode=returncode,
                    run_ids=[*earlier, *[r for r in run_ids if r not in earlier]],
                    error=(error or None) and error[-2000:],
                )
            ).rowcount
            == 1
        )


def close_orphan_runs(engine: Engine, batch: Batch) -> list[int]:
    """Runs of an earlier attempt still "running" (its worker died): record them interrupted.

    Called by the new claimant, who holds the lease, so the earlier holder is gone or stalled.
    """
    with engine.connect() as conn:
        ids = list(
            conn.scalars(
                select(CrawlRun.id)
                .join(Site, Site.id == CrawlRun.site_id)
                .where(
                    Site.name == batch.site,
                    CrawlRun.trigger == batch.trigger,
                    CrawlRun.status == RunStatus.running.value,
                )
            )
        )
    for run_id in ids:
        finish_run(engine, run_id, finish_reason="process died")
    return ids


def cycle_rows(engine: Engine, cycle: str, site: str | None = None) -> list[CrawlBatch]:
    """The ledger rows of a cycle, for reports and tests."""
    from pricing.store.db import session_scope

    query = select(CrawlBatch).where(CrawlBatch.cycle == cycle)
    if site:
        query = query.where(CrawlBatch.site == site)
    with session_scope(engine) as session:
        rows = list(session.scalars(query.order_by(CrawlBatch.site, CrawlBatch.batch_no)))
        session.expunge_all()
        return rows
