"""``urljoin`` without its parsing for the URLs a crawl joins most: ones already absolute.

Product-page crawls join every start URL of a config against the site's base URL, and
extraction joins the URL each offer states against the page's; both are nearly always plain
absolute URLs already. ``urllib.parse.urljoin`` parses both sides and puts the URL back
together to answer the same string (~15 µs a start URL, measured in a crawl). :func:`join_url`
answers exactly what ``urljoin`` answers, returning such a URL as it is and handing anything
else (relative, another scheme, a query, a fragment, params, IPv6, non-ASCII, control
characters) to ``urljoin``.
"""

from __future__ import annotations

from urllib.parse import urljoin

# Characters urlsplit/urlunsplit may drop, move or reject: with any of them, ask urljoin.
_NOT_PLAIN = frozenset("\t\r\n?#;[]")
_SCHEMES = (("https://", "https:"), ("http://", "http:"))


def join_url(base: str, url: str) -> str:
    """``urljoin(base, url)``; a plain absolute URL with base's scheme is returned as is."""
    if type(url) is str and type(base) is str and url.isascii() and base.isascii():
        for prefix, scheme in _SCHEMES:
            if url.startswith(prefix):
                if (
                    base.startswith(scheme)
                    and "[" not in base  # urljoin parses base too: a bad IPv6 netloc raises
                    and "]" not in base
                    and len(url) > len(prefix)
                    and url[len(prefix)] not in "/?#"  # a netloc: urljoin keeps url's own
                    and _NOT_PLAIN.isdisjoint(url)
                ):
                    return url  # what urlunparse(urlparse(url)) gives back for such a URL
                break
    return urljoin(base, url)
