"""A small simulated market, served over real HTTP for the scale-out tests."""

from __future__ import annotations

import pytest

from shopsim import Market, serve_in_thread


@pytest.fixture(scope="module")
def sim():
    """Two shops, ~300 offers in all, on loopback for the whole module."""
    market = Market.generate(sites=2, products=300, seed=11)
    with serve_in_thread(market) as server:
        yield server
