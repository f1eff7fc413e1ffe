"""Pages that must never yield a price: ban/captcha walls and truncated pages.

A shop that blocks us often answers ``200 OK`` with a captcha page, and a dropped connection can
leave half a page whose JSON-LD still parses. Either would feed wrong data to pricing. This
middleware looks at every HTML response before the spider does; such a page is counted
(``pricewatch/ban_pages``, ``pricewatch/truncated_pages``), retried after a back-off, and dropped
if it keeps coming, so the spider never parses it.
"""

from __future__ import annotations

import asyncio
import re

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response

from crawler.context import context_of
from crawler.spiders.site import select_all

# Looked for in the <title> and in the first few KB: wording and widgets of common ban walls.
# Matched against the lower-cased head (what re.I does for bytes, ASCII only): a
# case-insensitive alternation cost ~70 µs a page, ten times this.
BAN_TITLE = re.compile(
    rb"<title[^>]*>[^<]*(captcha|access denied|are you a (robot|human)|attention required|"
    rb"just a moment|blocked|unusual traffic|too many requests|verify you are human)"
)
BAN_WIDGET = re.compile(
    rb"class=[\"'][^\"']*(g-recaptcha|h-captcha|cf-challenge|captcha-form)|"
    rb"/recaptcha/api\.js|hcaptcha\.com/1/api\.js|challenges\.cloudflare\.com"
)
WIDGET_WORDS = (b"captcha", b"challenge")  # every BAN_WIDGET alternative holds one of these
# Is any of WIDGET_WORDS in the head? One scan, not one per word (~0.8 µs a page less).
_WIDGET_HINT = re.compile(b"|".join(WIDGET_WORDS))
HTML_END = re.compile(rb"</html\s*>", re.I)
HEAD_BYTES, TAIL_BYTES = 8192, 4096


def marker_tokens(css: str | None) -> list[bytes]:
    """The ids and classes a CSS marker needs: absent from the page, it cannot match.

    Lets the guard skip building a selector tree for the (nearly all) pages without them.
    """
    if not css or ":not(" in css or "," in css:  # negations and alternatives: no shortcut
        return []
    return [token.encode() for token in re.findall(r"[#.]([\w-]+)", css)]


def is_truncated(body: bytes) -> bool:
    """An HTML document without its closing ``</html>`` near the end was cut short."""
    if body.rfind(b"</html>", -TAIL_BYTES) >= 0:  # the usual spelling: a find, not a regex
        return False
    return HTML_END.search(body[-TAIL_BYTES:]) is None


def looks_banned(body: bytes) -> bool:
    head = body[:HEAD_BYTES].lower()
    if BAN_TITLE.search(head):
        return True
    return _WIDGET_HINT.search(head) is not None and BAN_WIDGET.search(head) is not None


class PageGuardMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.marker = context_of(crawler).site.selectors.ban_marker
        self.tokens = marker_tokens(self.marker.css) if self.marker else []
        self.backoff = crawler.settings.getfloat("RETRY_BACKOFF_BASE", 0.5)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageGuardMiddleware:
        return cls(crawler)

    def problem(self, response: Response) -> str | None:
        if response.status != 200 or not isinstance(response, HtmlResponse):
            return None
        body = response.body
        if looks_banned(body) or self._marked(response):
            return "ban"
        if is_truncated(body):
            return "truncated"
        return None

    def _marked(self, response: HtmlResponse) -> bool:
        if self.marker is None:
            return False
        if self.tokens and not all(token in response.body for token in self.tokens):
            return False
        return bool(select_all(response, self.marker))

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        problem = self.problem(response)
        if problem is None:
            return response
        self.stats.inc_value(
            "pricewatch/ban_pages" if problem == "ban" else "pricewatch/truncated_pages"
        )
        retry = get_retry_request(request, spider=self.crawler.spider, reason=f"{problem} page")
        if retry is None:
            self.stats.inc_value("pricewatch/pages_given_up")
            raise IgnoreRequest(f"{problem} page at {response.url}: not parsed")
        await asyncio.sleep(self.backoff * 2 ** request.meta.get("retry_times", 0))
        return retry
