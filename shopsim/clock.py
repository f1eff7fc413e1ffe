"""The simulated clock: the market's "now", advanced explicitly or by a time-scale.

Frozen by default (``scale=0``) so a test sees the same market however slowly it runs;
``advance()`` moves it, and ``scale=3600`` would make one real second one simulated hour.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # hour 0 of the market's life
START = EPOCH + timedelta(days=30)  # where the clock starts: some history already exists


class SimClock:
    def __init__(self, start: datetime = START, scale: float = 0.0):
        self._lock = threading.Lock()
        self._base = start
        self._real0 = time.monotonic()
        self.scale = scale

    def now(self) -> datetime:
        with self._lock:
            if self.scale:
                return self._base + timedelta(seconds=(time.monotonic() - self._real0) * self.scale)
            return self._base

    def advance(self, delta: timedelta) -> datetime:
        """Move simulated time forward (never backward: history cannot be rewritten)."""
        if delta < timedelta(0):
            raise ValueError(f"the clock only moves forward, not by {delta}")
        with self._lock:
            if self.scale:
                now = time.monotonic()
                self._base += timedelta(seconds=(now - self._real0) * self.scale)
                self._real0 = now
            self._base += delta
            return self._base

    def hour(self, at: datetime | None = None) -> int:
        """Whole hours since :data:`EPOCH`: the market changes at most once an hour."""
        at = at or self.now()
        return int((at - EPOCH).total_seconds() // 3600)


def hour_to_datetime(hour: int) -> datetime:
    return EPOCH + timedelta(hours=int(hour))
