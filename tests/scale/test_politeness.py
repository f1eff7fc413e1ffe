"""A site's politeness shared through real Redis (PRICEWATCH_TEST_REDIS_URL) by many workers."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
import redis

from crawler.distributed.politeness import SharedLimiter
from tests.conftest import REDIS_ENV, require_env

pytestmark = pytest.mark.redis


@pytest.fixture
def limiter_factory():
    url = require_env(REDIS_ENV)
    prefix = f"pwtest-polite-{uuid.uuid4().hex[:10]}:"
    clients = []

    def make() -> SharedLimiter:
        client = redis.Redis.from_url(url)
        clients.append(client)
        return SharedLimiter(client, prefix)

    yield make
    keys = list(clients[0].scan_iter(match=f"{prefix}*")) if clients else []
    if keys:
        clients[0].delete(*keys)
    for client in clients:
        client.close()


def test_concurrency_and_spacing_hold_across_workers(limiter_factory):
    """Three "workers" (own Redis connections, own event loops) share 2 slots and 50 ms."""
    events: list[tuple[float, int]] = []  # (time, +1 start / -1 end)
    granted: list[float] = []  # each request's start as Redis scheduled it (Redis' clock)
    lock = threading.Lock()

    def worker() -> None:
        limiter = limiter_factory()

        async def crawl() -> None:
            for _ in range(6):
                token = await limiter.acquire("shop-x", concurrency=2, delay=0.05, lease=10)
                # The lease expires at start + lease: read back the start Redis granted, since
                # this thread's own clock reading may come late on a loaded machine.
                lease_end = limiter.client.zscore(f"{limiter.prefix}shop-x:slots", token)
                with lock:
                    granted.append(lease_end - 10)
                    events.append((time.monotonic(), 1))
                await asyncio.sleep(0.08)  # the download
                with lock:
                    events.append((time.monotonic(), -1))
                limiter.release("shop-x", token)

        asyncio.run(crawl())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    starts = sorted(t for t, kind in events if kind == 1)
    assert len(starts) == 18
    in_flight = peak = 0
    for _, kind in sorted(events, key=lambda e: (e[0], e[1])):
        in_flight += kind
        peak = max(peak, in_flight)
    assert peak <= 2
    granted.sort()
    gaps = [b - a for a, b in zip(granted, granted[1:], strict=False)]
    assert len(gaps) == 17
    assert min(gaps) >= 0.05 - 1e-5  # 50 ms apart over all workers, on Redis' clock


def test_a_dead_workers_slots_come_back(limiter_factory):
    """Slots are leases: a worker killed while holding them blocks the site only briefly."""
    dead, alive = limiter_factory(), limiter_factory()
    assert dead.try_acquire("shop-y", 2, 0.0, lease=0.5) is not None
    assert dead.try_acquire("shop-y", 2, 0.0, lease=0.5) is not None
    assert alive.try_acquire("shop-y", 2, 0.0, lease=0.5) is None  # both slots held
    time.sleep(0.6)
    assert alive.try_acquire("shop-y", 2, 0.0, lease=0.5) is not None
