"""What one shop answers to one request: faults, then the page, then HTTP caching and gzip.

Transport-free: :meth:`ShopHandler.handle` takes the parsed request and returns a
:class:`Reply`; :mod:`shopsim.server` moves the bytes. Every fault served is logged with the
request number, so tests can compare the crawler's reaction with what really happened.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime

import pandas as pd

from shopsim.clock import hour_to_datetime
from shopsim.faults import OVERSIZED_BYTES, RETRY_AFTER, SLOW_SECONDS, TIMEOUT_SECONDS
from shopsim.market import Market
from shopsim.render_common import captcha_page
from shopsim.site import JSON, TEXT, SiteRouter, disallowed

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_PADDING = ("<!-- " + "recommended-products " * 50 + "-->\n") * (OVERSIZED_BYTES // 1000 + 1)


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering
    hang: bool = False  # never answer (a timeout); the server closes after TIMEOUT_SECONDS
    length: int | None = None  # Content-Length when it differs from len(body) (HEAD)


@dataclass(slots=True)
class FaultEvent:
    seq: int
    path: str
    kind: str
    status: int
    attempt: int


def http_date(hour: int) -> str:
    return format_datetime(hour_to_datetime(hour), usegmt=True)


class ShopHandler:
    def __init__(self, market: Market, name: str, base_url: str):
        self.market = market
        self.site = market.site(name)
        self.plan = market.fault_plan(name)
        self.router = SiteRouter(market, self.site, base_url)
        self.seq = 0
        self.attempts: Counter[str] = Counter()
        self.faults: list[FaultEvent] = []
        self.counts: Counter[str] = Counter()
        self.disallowed_hits: list[str] = []
        # When each counted request arrived (time.monotonic), so tests can check a crawler's
        # pace (the gaps robots.txt's Crawl-delay asks for) from the shop's side.
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    # -- the request ---------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str]) -> Reply:
        path, _, query = target.partition("?")
        if path.startswith("/__sim/"):
            return self.control(method, path, query)
        if method not in ("GET", "HEAD"):
            return Reply(
                405, b"method not allowed", [("Content-Type", TEXT), ("Allow", "GET, HEAD")]
            )
        if path == "/robots.txt":  # never faulty: a crawler must be able to read the rules
            return self.finish(method, headers, self.router.route(path, query, self.market.state()))
        with self._lock:
            n = self.seq
            self.seq += 1
            self.arrivals.append(time.monotonic())
        self.counts["requests"] += 1
        if disallowed(path):
            self.disallowed_hits.append(path)
        fault = self.plan.sequence_fault(n)
        if fault is not None:
            return self.sequence_fault(n, path, fault)
        layout_changed = self.plan.layout_changed(n)
        page_fault = self.plan.page_fault(path)
        attempt = 0
        if page_fault is not None:
            attempt = self.attempts[path]
            self.attempts[path] += 1
            if page_fault == "timeout" and attempt == 0:
                self.log(n, path, "timeout", 0, attempt)
                return Reply(0, hang=True, delay=TIMEOUT_SECONDS)
        page = self.router.route(path, query, self.market.state(), layout_changed)
        self.counts[page.kind] += 1
        if layout_changed and page.kind in ("product", "listing"):
            self.counts["layout_changed"] += 1
        reply = self.finish(method, headers, page, page_fault=page_fault, attempt=attempt)
        if page_fault == "slow":
            reply.delay = SLOW_SECONDS
        if page_fault in ("slow", "oversized") or (page_fault == "truncated" and attempt == 0):
            self.log(n, path, page_fault, reply.status, attempt)
        return reply

    def log(self, n: int, path: str, kind: str, status: int, attempt: int) -> None:
        self.faults.append(FaultEvent(n, path, kind, status, attempt))

    def sequence_fault(self, n: int, path: str, fault: str) -> Reply:
        if fault == "error_5xx":
            status = self.plan.error_status(n)
            reply = Reply(status, f"{status} {REASONS[status]}".encode(), [("Content-Type", TEXT)])
        elif fault == "rate_limit":
            status = 429
            reply = Reply(
                429, b"slow down", [("Content-Type", TEXT), ("Retry-After", str(RETRY_AFTER))]
            )
        else:  # ban: a captcha page that says 200
            status = 200
            ctx = self.router.ctx(self.market.state())
            reply = Reply(
                200, captcha_page(ctx).encode(), [("Content-Type", "text/html; charset=utf-8")]
            )
        self.counts[fault] += 1
        self.log(n, path, fault, status, 0)
        return reply

    def finish(self, method, headers, page, *, page_fault=None, attempt=0) -> Reply:
        """Validators, 304, redirects, gzip: what any well-run shop does."""
        if page.status == 301:
            return Reply(301, b"", [("Location", self.router.base_url + page.location)])
        body = page.body.encode("utf-8")
        out = [("Content-Type", page.content_type)]
        if page_fault == "oversized":
            cut = body.rfind(b"</body>")
            body = body[:cut] + _PADDING.encode() + body[cut:]
        if page_fault == "truncated" and attempt == 0:
            body = body[: len(body) // 2]
        elif page.status == 200 and page.last_modified is not None:
            etag = f'W/"{zlib.crc32(body):08x}-{len(body):x}"'
            out.append(("ETag", etag))
            out.append(("Last-Modified", http_date(page.last_modified)))
            out.append(("Cache-Control", "max-age=0, must-revalidate"))
            if _not_modified(headers, etag, page.last_modified):
                self.counts["not_modified"] += 1
                return Reply(304, b"", out[1:])
        if "gzip" in headers.get("accept-encoding", "") and len(body) > 512:
            body = zlib.compress(body, 1, wbits=31)
            out.append(("Content-Encoding", "gzip"))
        out.append(("Vary", "Accept-Encoding"))
        if method == "HEAD":
            return Reply(page.status, b"", out, length=len(body))
        return Reply(page.status, body, out)

    # -- control endpoints ---------------------------------------------------------------
    def control(self, method: str, path: str, query: str) -> Reply:
        if path == "/__sim/advance":
            if method != "POST":
                return Reply(405, b"POST only", [("Content-Type", TEXT), ("Allow", "POST")])
            params = dict(p.partition("=")[::2] for p in query.split("&") if p)
            try:
                hours = float(params.get("hours", "1"))
                if not 0 <= hours <= 24 * 3650:
                    raise ValueError
            except ValueError:
                return Reply(
                    400, b"hours must be a number between 0 and 87600", [("Content-Type", TEXT)]
                )
            now = self.market.clock.advance(timedelta(hours=hours))
            return _json({"now": now.isoformat(), "hour": self.market.clock.hour()})
        if path == "/__sim/clock.json":
            return _json(
                {"now": self.market.clock.now().isoformat(), "hour": self.market.clock.hour()}
            )
        if path == "/__sim/truth.json":
            frame = self.market.truth(self.site.name)
            return _json(
                {
                    "site": self.site.name,
                    "now": self.market.clock.now().isoformat(),
                    "offers": records(frame),
                }
            )
        if path == "/__sim/faults.json":
            return _json(
                {
                    "site": self.site.name,
                    "plan": sorted(self.plan.kinds),
                    "served": self.fault_records(),
                }
            )
        if path == "/__sim/stats.json":
            return _json(
                {
                    "site": self.site.name,
                    "requests": self.seq,
                    "counts": dict(self.counts),
                    "disallowed_hits": self.disallowed_hits[-100:],
                }
            )
        return Reply(404, b"no such control endpoint", [("Content-Type", TEXT)])

    def fault_records(self) -> list[dict]:
        return [
            {"seq": e.seq, "path": e.path, "kind": e.kind, "status": e.status, "attempt": e.attempt}
            for e in list(self.faults)
        ]

    def fault_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.fault_records(), columns=["seq", "path", "kind", "status", "attempt"]
        )


def _not_modified(headers: dict[str, str], etag: str, last_modified: int) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        return inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]
    ims = headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return hour_to_datetime(last_modified) <= since
    return False


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    cols = list(frame.columns)
    return [
        dict(zip(cols, map(_jsonable, row), strict=True)) for row in frame.itertuples(index=False)
    ]


def _json(data: dict) -> Reply:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Reply(200, body, [("Content-Type", JSON), ("Cache-Control", "no-store")])
