"""Small real-HTTP helpers for the simulator's tests (http.client: no redirects, no magic)."""

from __future__ import annotations

import gzip
import http.client
import json
from decimal import Decimal
from urllib.parse import urlsplit

from parsel import Selector
from price_parser import Price


class Response:
    def __init__(self, status: int, headers: dict[str, str], raw: bytes):
        self.status, self.headers, self.raw = status, headers, raw

    @property
    def body(self) -> bytes:
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.raw)
        return self.raw

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    def css(self, query: str) -> list[str]:
        """Text of each element matching ``query``, all descendant text joined and stripped."""
        sel = Selector(text=self.text)
        return ["".join(node.css("::text").getall()).strip() for node in sel.css(query)]


def fetch(
    url: str, method: str = "GET", headers: dict | None = None, timeout: float = 10
) -> Response:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target or "/", headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw)
    finally:
        conn.close()


def money(text: str, decimal_separator: str) -> Decimal | None:
    return Price.fromstring(text, decimal_separator=decimal_separator).amount


def json_ld(resp: Response) -> list[dict]:
    sel = Selector(text=resp.text)
    return [json.loads(s) for s in sel.css('script[type="application/ld+json"]::text').getall()]


def first_offer(market, predicate):
    """(site, truth row) of the first listed offer, shop by shop, for which predicate(site, row)."""
    for site in market.sites:
        frame = market.truth(site.name)
        for row in frame.itertuples(index=False):
            if predicate(site, row):
                return site, row
    raise LookupError("no offer matches")
