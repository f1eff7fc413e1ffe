"""Only one scheduler at a time: a row in ``scheduler_lock`` that names the holding process.

Why a row and not an OS file lock: the store may be PostgreSQL shared by several machines, and
a second scheduler must be able to say *which* process on *which* host holds the lock. The
holder refreshes ``heartbeat_at``; a holder is alive while its heartbeat is fresh and, on this
host, while its pid exists. A scheduler killed with SIGKILL leaves its row behind; the next one
sees the pid gone and takes over at once. Taking over is a compare-and-swap on the old holder's
token, so two schedulers starting together cannot both win.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pricing.store.models import SchedulerLock
from pricing.store.runs import _pid_alive

log = logging.getLogger(__name__)

DEFAULT_NAME = "scheduler"
STALE_AFTER = timedelta(seconds=60)  # a holder silent this long is dead, wherever it runs


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    host: str
    token: str
    started_at: datetime
    heartbeat_at: datetime

    def describe(self, now: datetime | None = None) -> str:
        age = ((now or datetime.now(UTC)) - _aware(self.heartbeat_at)).total_seconds()
        return (
            f"pid {self.pid} on host {self.host} "
            f"(since {_aware(self.started_at):%Y-%m-%d %H:%M:%S} UTC, last heartbeat {age:.0f}s ago)"
        )


class SchedulerLocked(RuntimeError):
    """Another scheduler holds the lock."""

    def __init__(self, holder: Holder):
        self.holder = holder
        super().__init__(f"another scheduler is running: {holder.describe()}")


def current_holder(engine: Engine, name: str = DEFAULT_NAME) -> Holder | None:
    """Who holds the lock now, or None (a dead holder's row counts as nobody)."""
    holder = _read(engine, name)
    return holder if holder and _alive(holder, STALE_AFTER) else None


def _read(engine: Engine, name: str) -> Holder | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                SchedulerLock.pid,
                SchedulerLock.host,
                SchedulerLock.token,
                SchedulerLock.started_at,
                SchedulerLock.heartbeat_at,
            ).where(SchedulerLock.name == name)
        ).first()
    return Holder(*row) if row else None


def _alive(holder: Holder, stale_after: timedelta) -> bool:
    if datetime.now(UTC) - _aware(holder.heartbeat_at) > stale_after:
        return False
    if holder.host == socket.gethostname():
        return _pid_alive(holder.pid)
    return True


class ProcessLock:
    """The scheduler lock held by this process, refreshed by a heartbeat thread.

    ``on_lost`` is called (from the heartbeat thread) if the row stops being ours, for example
    when an operator deleted it: the scheduler must then stop rather than run twice.
    """

    def __init__(
        self,
        engine: Engine,
        name: str = DEFAULT_NAME,
        *,
        heartbeat: timedelta = timedelta(seconds=10),
        stale_after: timedelta = STALE_AFTER,
        on_lost=None,
    ):
        self.engine = engine
        self.name = name
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.on_lost = on_lost
        self.token = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.held = False

    def acquire(self) -> None:
        """Take the lock or raise :class:`SchedulerLocked` naming the holder."""
        now = datetime.now(UTC)
        mine = {
            "pid": self.pid,
            "host": self.host,
            "token": self.token,
            "started_at": now,
            "heartbeat_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(SchedulerLock).values(name=self.name, **mine))
        except IntegrityError:
            holder = _read(self.engine, self.name)
            if holder is None:  # released between our insert and read: try once more
                return self.acquire()
            if _alive(holder, self.stale_after):
                raise SchedulerLocked(holder) from None
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(SchedulerLock)
                    .where(SchedulerLock.name == self.name, SchedulerLock.token == holder.token)
                    .values(**mine)
                ).rowcount
            if taken != 1:  # someone else took over first
                raise SchedulerLocked(_read(self.engine, self.name) or holder) from None
            log.warning("took over the scheduler lock from dead %s", holder.describe())
        self.held = True
        self._thread = threading.Thread(target=self._beat, name="scheduler-lock", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat.total_seconds()):
            try:
                with self.engine.begin() as conn:
                    ours = conn.execute(
                        update(SchedulerLock)
                        .where(SchedulerLock.name == self.name, SchedulerLock.token == self.token)
                        .values(heartbeat_at=datetime.now(UTC))
                    ).rowcount
            except Exception:  # the database is away for a moment: try again next beat
                log.exception("scheduler lock heartbeat failed")
                continue
            if ours != 1:
                log.error("the scheduler lock is no longer ours; stopping")
                self.held = False
                if self.on_lost:
                    self.on_lost()
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self.held:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(SchedulerLock).where(
                        SchedulerLock.name == self.name, SchedulerLock.token == self.token
                    )
                )
            self.held = False

    def __enter__(self) -> ProcessLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
