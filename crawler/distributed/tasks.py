"""Running one batch: claim it, crawl it in a child process, close it. Local or as a Celery task.

The crawl itself is the scheduler's child process (:class:`pricing.schedule.LocalExecutor`:
``crawler.runner`` with the batch's shard and trigger), so a batch crawl is an ordinary crawl
run of the site, recorded and judged like any other. What this module adds is the ledger:
the claim (with a lease heartbeated while the crawl runs) makes a second delivery of the same
batch a no-op, and the store's change-only history makes a re-run of a half-done batch write
nothing twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.batches import BATCH_SETTING, Batch
from crawler.distributed import ledger

log = logging.getLogger(__name__)

TASK = "pricewatch.crawl_batch"
LEASE_ENV = "PRICEWATCH_BATCH_LEASE"
DEFAULT_LEASE = 60.0  # seconds; heartbeated every third of it while the crawl runs


@dataclass(slots=True)
class BatchOutcome:
    batch: Batch
    state: str  # "done", "failed", "skipped" (done before), "busy" (held elsewhere)
    returncode: int | None = None
    run_ids: list[int] = field(default_factory=list)
    worker: str = ""
    output_tail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch.as_dict(),
            "state": self.state,
            "returncode": self.returncode,
            "run_ids": self.run_ids,
            "worker": self.worker,
            "output_tail": self.output_tail[-2000:],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchOutcome:
        return cls(
            batch=Batch(**data["batch"]),
            state=data["state"],
            returncode=data.get("returncode"),
            run_ids=list(data.get("run_ids") or []),
            worker=data.get("worker") or "",
            output_tail=data.get("output_tail") or "",
        )


def lease_seconds() -> float:
    return float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE)


def run_batch(
    batch: Batch,
    db_url: str,
    sites_dir: str | Path | None = None,
    settings: dict | None = None,
    *,
    worker: str | None = None,
    lease: float | None = None,
) -> BatchOutcome:
    """Run ``batch`` to the end here (blocking), unless it is done or running elsewhere."""
    from pricing.schedule.executor import CrawlRequest, LocalExecutor
    from pricing.store.db import make_engine

    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    lease = lease or lease_seconds()
    engine = make_engine(db_url)
    try:
        claim = ledger.claim(engine, batch, worker, lease)
        if claim.state != "claimed":
            log.info("batch %s: %s, nothing to do", batch.id, claim.state)
            return BatchOutcome(
                batch, "skipped" if claim.state == "done" else "busy", worker=worker
            )
        orphans = ledger.close_orphan_runs(engine, batch)
        if orphans:
            log.warning("batch %s: runs %s of a lost attempt marked interrupted", batch.id, orphans)
        stop = threading.Event()
        beat = threading.Thread(
            target=_heartbeat, args=(engine, batch, claim.attempt, lease, stop), daemon=True
        )
        beat.start()
        crawl_settings = {**(settings or {}), BATCH_SETTING: batch.shard}
        executor = LocalExecutor(
            engine, db_url, Path(sites_dir) if sites_dir else None, crawl_settings=crawl_settings
        )
        try:
            outcome = executor.run(CrawlRequest(site=batch.site, trigger=batch.trigger))
        finally:
            stop.set()
            beat.join(timeout=5)
        ok = outcome.returncode == 0
        ledger.finish(
            engine,
            batch,
            claim.attempt,
            ok=ok,
            returncode=outcome.returncode,
            run_ids=outcome.run_ids,
            error=None if ok else outcome.output_tail,
        )
        return BatchOutcome(
            batch,
            "done" if ok else "failed",
            outcome.returncode,
            outcome.run_ids,
            worker,
            outcome.output_tail,
        )
    finally:
        engine.dispose()


def _heartbeat(engine, batch: Batch, attempt: int, lease: float, stop: threading.Event) -> None:
    while not stop.wait(lease / 3):
        try:
            if not ledger.heartbeat(engine, batch, attempt, lease):
                log.warning("batch %s: lease lost to a newer attempt", batch.id)
                return
        except Exception:  # a database hiccup: the next beat retries, the lease has slack
            log.warning("batch %s: heartbeat failed", batch.id, exc_info=True)


def register_tasks(app) -> None:
    """Add the batch task to a Celery app (the one ``pricewatch worker`` runs)."""

    @app.task(name=TASK, bind=True, max_retries=None)
    def crawl_batch(task, batch: dict, db_url: str, sites_dir: str | None, settings: dict):
        outcome = run_batch(
            Batch(**batch), db_url, sites_dir, settings, worker=task.request.hostname or None
        )
        if outcome.state == "busy":
            # A live worker holds it (a visibility timeout re-delivered a slow batch): look
            # again when its lease could have run out, in case that worker dies.
            raise task.retry(countdown=max(1.0, lease_seconds() / 2))
        return outcome.as_dict()
