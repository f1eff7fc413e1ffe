"""A crawl process that dies before recording a run still raises a crawl_health alert."""

from __future__ import annotations

import time

from pricing.alerts import parse_alerts_config
from pricing.schedule import LocalExecutor, Scheduler, ScheduleSettings
from pricing.store.db import make_engine
from pricing.store.schema import init_db
from tests.schedule.conftest import write_sites
from tests.webhook import Receiver


def test_a_crawl_that_dies_without_a_run_is_alerted(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    init_db(engine)
    sites = write_sites(sim, tmp_path / "sites", **{"shop-01": {"cadence": {"every": "1h"}}})
    receiver = Receiver()
    alerts = parse_alerts_config(
        {"group_window": "0s", "channels": [{"name": "ops", "urls": [receiver.url("ops")]}]}
    )
    # The crawl process is told a store it cannot open (say, a full disk or a wrong mount).
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'store.db'}"
    executor = LocalExecutor(engine, unreachable, sites)
    settings = ScheduleSettings(db_url=url, sites_dir=sites, scale=60, alerts=alerts)
    scheduler = Scheduler(engine, settings, executor)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.stop()
        receiver.server.shutdown()
    [message] = receiver.messages("ops")
    assert "shop-01: crawl process exited" in message and "without recording a run" in message
    assert scheduler.history and scheduler.history[0].outcome.run_ids == []
