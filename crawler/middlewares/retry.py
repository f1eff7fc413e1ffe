"""Retries that back off, and honour a shop's ``Retry-After``.

Scrapy's RetryMiddleware retries at once; a shop that answers 429 or 503 is asking us to slow
down. This one waits ``RETRY_BACKOFF_BASE * 2**n`` seconds before the n-th retry (capped at
``RETRY_BACKOFF_MAX``), or what ``Retry-After`` says, and then also holds back the whole download
slot (the site) for that long. A ``Retry-After`` beyond ``RETRY_AFTER_MAX`` gives the request up;
a 429 gets up to ``RETRY_RATE_LIMITED_TIMES`` retries (the shop said when to come back).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import monotonic

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

logger = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 0.5)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX", 120.0)
        self.rate_limited_times = settings.getint("RETRY_RATE_LIMITED_TIMES", 6)

    def backoff(self, request: Request) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** request.meta.get("retry_times", 0))

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        wait = self.backoff(request)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if retry_after is not None:
            if retry_after > self.retry_after_max:
                logger.warning(
                    "%s asks us to come back in %.0fs: giving up on %s",
                    request.meta.get("download_slot"),
                    retry_after,
                    request.url,
                )
                self.crawler.stats.inc_value("retry/retry_after_too_long")
                return response
            wait = max(wait, retry_after)
            self._hold_slot(request, retry_after)
        if response.status == 429 and "max_retry_times" not in request.meta:
            # The shop said when to come back: that deserves more patience than a failure.
            request.meta["max_retry_times"] = max(self.max_retry_times, self.rate_limited_times)
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if wait > 0:
            await asyncio.sleep(wait)
        return retry

    def _hold_slot(self, request: Request, seconds: float) -> None:
        """Make the site's download slot wait ``seconds`` before its next request."""
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(request.meta.get("download_slot", ""))
        if slot is not None and slot.delay > 0:
            # Downloader._process_queue waits delay - (now - lastseen): push lastseen forward.
            slot.lastseen = max(slot.lastseen, monotonic() + seconds - slot.delay)
