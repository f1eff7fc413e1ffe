"""join_url answers exactly what urllib's urljoin answers: its fast path only skips parsing."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.urls import join_url

PIECES = [
    "http://", "https://", "ftp://", "//", "/", "shop.example", "[::1]", "[", "]", ":8080",
    "a", "p/1", "..", ".", "?", "q=1", "#", "frag", ";", "x=y", "\t", "\n", " ", "é", "%20",
    "@", "user:pw@", "HTTP://",
]  # fmt: skip
url_text = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@settings(max_examples=500, deadline=None)
@given(url_text, url_text)
def test_any_pair_joins_as_urljoin_joins_it(base, url):
    try:
        expected = urljoin(base, url)
    except ValueError as exc:  # urljoin rejects some netlocs: join_url must too
        with pytest.raises(ValueError):
            join_url(base, url)
        assert exc
        return
    assert join_url(base, url) == expected


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://shop.example/c/1", "https://shop.example/p/2"),  # the fast path
        ("http://shop.example/", "https://other.example/p?x=1#f"),  # another scheme, a query
        ("https://shop.example/c/", "/p/3"),  # relative
        ("https://shop.example/c/", "https:///p"),  # no netloc
        ("https://[::1]/c", "https://shop.example/p"),  # IPv6 base
        ("https://shop.example/", "https://shop.example/a;b"),  # params
    ],
)
def test_known_shapes(base, url):
    assert join_url(base, url) == urljoin(base, url)
