"""Jobs live in the store: a restart keeps unchanged jobs' next runs and follows config edits."""

from __future__ import annotations

import yaml

from pricing.schedule import Scheduler, ScheduleSettings
from pricing.schedule.listing import list_jobs
from pricing.store.db import make_engine
from pricing.store.schema import init_db
from tests.schedule.conftest import write_sites


def _run_once(engine, url, sites) -> dict:
    scheduler = Scheduler(engine, ScheduleSettings(db_url=url, sites_dir=sites, scale=3600))
    scheduler.start()
    scheduler.stop()
    return {row.site: row for row in list_jobs(engine) if row.next_run is not None}


def test_restart_keeps_unchanged_jobs_and_follows_config_changes(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    init_db(engine)
    cadence = {"cadence": {"every": "30h"}}
    sites = write_sites(sim, tmp_path / "sites", **{"shop-01": cadence, "shop-02": cadence})

    first = _run_once(engine, url, sites)
    assert set(first) == {"shop-01", "shop-02"}

    path = sites / "shop-02.yaml"
    data = yaml.safe_load(path.read_text())
    data["cadence"] = {"every": "40h"}
    path.write_text(yaml.safe_dump(data))
    second = _run_once(engine, url, sites)
    assert second["shop-01"].next_run == first["shop-01"].next_run  # unchanged: kept
    assert second["shop-02"].cadence.startswith("every 1 day, 16:00:00")  # replaced ...
    assert second["shop-02"].next_run > first["shop-02"].next_run  # ... and not paused

    path.unlink()
    third = _run_once(engine, url, sites)
    assert set(third) == {"shop-01"}  # a site that is gone loses its job
    assert third["shop-01"].next_run == first["shop-01"].next_run
