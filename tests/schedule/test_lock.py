"""One scheduler at a time: the lock names its holder and survives its holder's SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from pricing.schedule.lock import ProcessLock, SchedulerLocked, current_holder
from pricing.store.models import SchedulerLock
from tests.schedule.procs import Proc, run


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_second_holder_is_refused_with_the_holders_name(db_engine):
    with ProcessLock(db_engine):
        with pytest.raises(SchedulerLocked) as err:
            ProcessLock(db_engine).acquire()
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in str(err.value)
        assert current_holder(db_engine).pid == os.getpid()
    assert current_holder(db_engine) is None  # released
    with ProcessLock(db_engine):  # and free to take again
        pass


def test_a_dead_holder_is_taken_over(db_engine):
    now = datetime.now(UTC)
    with db_engine.begin() as conn:
        conn.execute(
            insert(SchedulerLock).values(
                name="scheduler",
                pid=_dead_pid(),
                host=socket.gethostname(),
                token="old",
                started_at=now,
                heartbeat_at=now,
            )
        )
    assert current_holder(db_engine) is None
    with ProcessLock(db_engine) as lock, db_engine.connect() as conn:
        assert conn.scalar(select(SchedulerLock.token)) == lock.token


def test_a_silent_holder_on_another_host_is_taken_over_only_when_stale(db_engine):
    fresh = datetime.now(UTC)
    with db_engine.begin() as conn:
        conn.execute(
            insert(SchedulerLock).values(
                name="scheduler",
                pid=1,
                host="elsewhere",
                token="other",
                started_at=fresh,
                heartbeat_at=fresh,
            )
        )
    with pytest.raises(SchedulerLocked, match="pid 1 on host elsewhere"):
        ProcessLock(db_engine).acquire()
    with db_engine.begin() as conn:
        conn.execute(
            SchedulerLock.__table__.update().values(heartbeat_at=fresh - timedelta(minutes=5))
        )
    with ProcessLock(db_engine):
        pass


def test_heartbeat_notices_a_lost_lock(db_engine):
    lost = []
    lock = ProcessLock(db_engine, heartbeat=timedelta(seconds=0.1), on_lost=lambda: lost.append(1))
    lock.acquire()
    with db_engine.begin() as conn:
        conn.execute(SchedulerLock.__table__.delete())
    deadline = time.monotonic() + 5
    while not lost and time.monotonic() < deadline:
        time.sleep(0.05)
    lock.release()
    assert lost and not lock.held


def test_cli_second_scheduler_refuses_and_sigterm_releases(tmp_path):
    db, sites = str(tmp_path / "store.db"), tmp_path / "sites"
    sites.mkdir()
    first = Proc("--db", db, "schedule", "run", "--sites-dir", str(sites))
    try:
        first.wait_for("scheduler running")
        second = run("--db", db, "schedule", "run", "--sites-dir", str(sites))
        assert second.returncode == 1
        assert f"another scheduler is running: pid {first.pid} on host" in second.stderr
        listing = run("--db", db, "schedule", "list")
        assert f"scheduler: running, pid {first.pid}" in listing.stdout
    finally:
        assert first.stop(signal.SIGTERM) == 0, first.output
    assert "scheduler stopped" in first.output
    assert "scheduler: not running" in run("--db", db, "schedule", "list").stdout
