"""Each fault is served as planned, deterministically, and reported."""

from __future__ import annotations

import http.client
import socket
import time

import pandas as pd
import pytest
from parsel import Selector

from shopsim import Market, serve_in_thread
from shopsim.faults import FAULT_KINDS, OVERSIZED_BYTES, RETRY_AFTER, SLOW_SECONDS
from shopsim.render_common import CAPTCHA_ID
from shopsim.shops import CHANGED_PRICE_CLASS
from tests.shopsim.helpers import fetch, money


def shop_with(market, kind):
    return next(s for s in market.sites if kind in market.fault_plan(s.name).kinds)


def clean_row(market, site):
    """A listed offer whose page has no planned page fault."""
    frame = market.truth(site.name)
    return frame[frame["fault"].isna()].iloc[0]


def test_hostile_profile_puts_every_fault_somewhere(hostile_market):
    planned = set().union(*(hostile_market.fault_plan(s.name).kinds for s in hostile_market.sites))
    assert planned == set(FAULT_KINDS)
    calm = Market.generate(sites=8, products=400, seed=9, faults="none")
    assert all(not calm.fault_plan(s.name).kinds for s in calm.sites)
    with pytest.raises(ValueError, match="faults must be one of"):
        Market.generate(sites=2, products=10, faults="chaos")


@pytest.mark.parametrize("kind", ["error_5xx", "rate_limit", "ban"])
def test_sequence_faults_follow_the_plan(hostile_market, kind):
    site = shop_with(hostile_market, kind)
    plan = hostile_market.fault_plan(site.name)
    first = next(n for n in range(100_000) if plan.sequence_fault(n) == kind)
    row = clean_row(hostile_market, site)
    with serve_in_thread(hostile_market) as server:
        served = []
        for n in range(first + 12):
            resp = fetch(server.base_url(site.name) + row.path)
            expected = plan.sequence_fault(n)
            served.append(expected)
            if expected == "error_5xx":
                assert resp.status == plan.error_status(n) and resp.status >= 500
            elif expected == "rate_limit":
                assert resp.status == 429 and resp.headers["retry-after"] == str(RETRY_AFTER)
            elif expected == "ban":
                assert resp.status == 200  # a ban page that claims success
                assert Selector(text=resp.text).css(f"#{CAPTCHA_ID}")
                assert row.title not in resp.text
            else:
                assert (
                    resp.status == 200
                    and Selector(text=resp.text).css("h1::text").get() == row.title
                )
        log = server.fault_log(site.name)
    assert kind in served
    sequence_log = log[log["kind"].isin(["error_5xx", "rate_limit", "ban"])]
    assert list(sequence_log["seq"]) == [n for n, k in enumerate(served) if k]
    assert list(sequence_log["kind"]) == [k for k in served if k]


def status_or_timeout(url):
    try:
        return fetch(url, timeout=0.3).status
    except TimeoutError:
        return 0


def test_same_requests_same_faults(hostile_market):
    site = shop_with(hostile_market, "error_5xx")
    paths = list(hostile_market.truth(site.name)["path"][:150])
    logs = []
    for _ in range(2):
        with serve_in_thread(hostile_market) as server:
            statuses = [status_or_timeout(server.base_url(site.name) + p) for p in paths]
            logs.append((statuses, server.fault_log(site.name)))
    assert {500, 502, 503} & set(logs[0][0])
    assert logs[0][0] == logs[1][0]
    pd.testing.assert_frame_equal(logs[0][1], logs[1][1])


def test_layout_change_mid_run(hostile_market):
    site = shop_with(hostile_market, "layout_change")
    plan = hostile_market.fault_plan(site.name)
    row = clean_row(hostile_market, site)
    old, new = f".{site.theme.price}", f".{CHANGED_PRICE_CLASS}"
    with serve_in_thread(hostile_market) as server:
        for n in range(plan.layout_change_after + 3):
            resp = fetch(server.base_url(site.name) + row.path)
            if resp.status != 200 or Selector(text=resp.text).css(f"#{CAPTCHA_ID}"):
                continue  # another fault of this shop answered this request
            sel = Selector(text=resp.text)
            changed = n >= plan.layout_change_after
            assert bool(sel.css(old)) is (not changed)
            (node,) = sel.css(new if changed else old)
            if row.price is not None:
                assert money("".join(node.css("::text").getall()), site.locale.decimal) == row.price
        assert server.stats(site.name)["counts"]["layout_changed"] >= 1


def fetch_past_faults(url, tries=60):
    """Retry like a patient crawler until a real page comes back (not 5xx, 429 or a ban page)."""
    for _ in range(tries):
        resp = fetch(url)
        if resp.status == 200 and CAPTCHA_ID not in resp.text:
            return resp
    raise AssertionError(f"{url}: no real page after {tries} tries")


def _page_with(market, kind):
    for site in market.sites:
        frame = market.truth(site.name)
        hits = frame[frame["fault"] == kind]
        if len(hits):
            return site, hits.iloc[0]
    raise LookupError(kind)


def test_slow_pages(hostile_market):
    site, row = _page_with(hostile_market, "slow")
    with serve_in_thread(hostile_market) as server:
        url = server.base_url(site.name) + row.path
        fetch_past_faults(url)
        started = time.monotonic()
        fetch_past_faults(url, tries=1)  # the page, not a fault of the request sequence
        assert time.monotonic() - started >= SLOW_SECONDS * 0.9
        assert "slow" in set(server.fault_log(site.name)["kind"])


def test_timeout_on_first_attempt_then_success(hostile_market):
    site, row = _page_with(hostile_market, "timeout")
    with serve_in_thread(hostile_market) as server:
        url = server.base_url(site.name) + row.path
        with pytest.raises((socket.timeout, TimeoutError, http.client.HTTPException)):
            fetch(url, timeout=0.5)
        retry = fetch(url)
        assert retry.status != 0
        log = server.fault_log(site.name)
        assert ((log["kind"] == "timeout") & (log["path"] == row.path)).sum() == 1


def test_truncated_html_on_first_attempt(hostile_market):
    site, row = _page_with(hostile_market, "truncated")
    with serve_in_thread(hostile_market) as server:
        url = server.base_url(site.name) + row.path
        cut, whole = fetch_past_faults(url).text, fetch_past_faults(url).text
        assert not cut.rstrip().endswith("</html>") and whole.rstrip().endswith("</html>")
        assert whole.startswith(cut) and len(cut) < len(whole)
        assert "truncated" in set(server.fault_log(site.name)["kind"])


def test_oversized_pages(hostile_market):
    site, row = _page_with(hostile_market, "oversized")
    with serve_in_thread(hostile_market) as server:
        resp = fetch_past_faults(server.base_url(site.name) + row.path)
        assert len(resp.body) > OVERSIZED_BYTES
        assert Selector(text=resp.text).css("h1::text").get() == row.title


@pytest.mark.parametrize("marker", ["<script>", "Very long title", "\u202e"])
def test_hostile_titles_are_escaped_and_true(hostile_market, marker):
    site, row = None, None
    for s in hostile_market.sites:
        frame = hostile_market.truth(s.name)
        hits = frame[
            frame["hostile"]
            & frame["title"].str.contains(marker, regex=False)
            & frame["fault"].isna()
        ]
        if len(hits):
            site, row = s, hits.iloc[0]
            break
    assert row is not None
    with serve_in_thread(hostile_market) as server:
        resp = fetch_past_faults(server.base_url(site.name) + row.path)
    assert "<script>alert" not in resp.text  # escaped in HTML and in JSON-LD
    sel = Selector(text=resp.text)
    assert sel.css(f"h1.{site.theme.title}::text").get() == row.title
    if marker == "Very long title":
        assert len(row.title) > 10_000


def test_realistic_profile_hits_some_shops_not_all():
    m = Market.generate(sites=24, products=2000, seed=3, faults="realistic")
    plans = [m.fault_plan(s.name) for s in m.sites]
    faulty = [p for p in plans if p.kinds]
    assert 0 < len(faulty) < len(plans)
    assert sum(1 for p in plans if "layout_change" in p.kinds) == 1
    assert m.offers.hostile.sum() < 0.01 * len(m.offers)


def test_fault_endpoints_report_plan_and_served_faults(hostile_market):
    site = shop_with(hostile_market, "error_5xx")
    with serve_in_thread(hostile_market) as server:
        base = server.base_url(site.name)
        paths = list(hostile_market.truth(site.name)["path"][:120])
        for p in paths:
            status_or_timeout(base + p)
        report = fetch(base + "/__sim/faults.json").json()
        stats = fetch(base + "/__sim/stats.json").json()
    assert report["plan"] == sorted(hostile_market.fault_plan(site.name).kinds)
    served = pd.DataFrame(report["served"])
    assert "error_5xx" in set(served["kind"])
    assert stats["requests"] == len(paths)
    assert stats["counts"]["error_5xx"] == (served["kind"] == "error_5xx").sum()
