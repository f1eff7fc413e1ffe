"""The Celery app of ``pricewatch worker``: the scheduler's app plus the batch task.

:func:`pricing.schedule.celery_executor.make_celery` builds the app (broker and result backend
from ``PRICEWATCH_BROKER_URL``; late acks, re-delivery when a worker is lost, prefetch 1) and
calls :func:`configure`, which adds what scale-out needs:

* ``PRICEWATCH_VISIBILITY_TIMEOUT`` (seconds): how long Redis waits for an unacknowledged task
  before giving it to another worker. A worker killed outright (SIGKILL, power loss) acks
  nothing, so this is how long its batch waits. Keep it above a batch's usual duration: a
  batch running longer is delivered again (the ledger then makes the copy wait, not run).
* ``PRICEWATCH_BROKER_PREFIX``: a prefix for every Redis key of the broker and the results,
  so several deployments (or test runs) share one Redis without touching each other's keys.
"""

from __future__ import annotations

import os

from celery import Celery

VISIBILITY_ENV = "PRICEWATCH_VISIBILITY_TIMEOUT"
PREFIX_ENV = "PRICEWATCH_BROKER_PREFIX"
DEFAULT_VISIBILITY = 6 * 3600  # unless the app set one: longer than any whole-site crawl


def configure(app: Celery) -> Celery:
    transport = {
        "visibility_timeout": DEFAULT_VISIBILITY,
        **(app.conf.broker_transport_options or {}),
    }
    if os.environ.get(VISIBILITY_ENV):
        transport["visibility_timeout"] = int(os.environ[VISIBILITY_ENV])
    # Kombu sweeps for overdue unacked tasks every interval x throttle seconds (100 s by
    # default): scale the sweep with the timeout, or a short timeout would not be short.
    visibility = transport["visibility_timeout"]
    transport.setdefault("unacked_restore_interval", max(1, min(60, visibility // 8)))
    transport.setdefault("unacked_restore_throttle", 1)
    backend = dict(app.conf.result_backend_transport_options or {})
    prefix = os.environ.get(PREFIX_ENV)
    if prefix:
        transport["global_keyprefix"] = prefix
        backend["global_keyprefix"] = prefix
    app.conf.update(
        broker_transport_options=transport,
        result_backend_transport_options=backend,
        # A worker that lost its connection must not keep running tasks Redis will re-deliver.
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    from crawler.distributed.tasks import register_tasks

    register_tasks(app)
    return app


def make_app(broker_url: str | None = None) -> Celery:
    """The app, configured (also what ``celery -A crawler.distributed.celery_app`` finds)."""
    from pricing.schedule.celery_executor import make_celery

    return make_celery(broker_url)
