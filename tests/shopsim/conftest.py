"""Fixtures for the simulator's tests: small markets served over real HTTP on loopback."""

from __future__ import annotations

import pytest

from shopsim import Market, serve_in_thread


@pytest.fixture(scope="session")
def market() -> Market:
    """12 shops cover every family, locale, price format and stock wording (shops.py cycles)."""
    return Market.generate(sites=12, products=3000, seed=5)


@pytest.fixture(scope="session")
def served(market):
    """The shared market, served. Tests using it must not move its clock."""
    with serve_in_thread(market) as server:
        yield server


@pytest.fixture()
def hostile_market() -> Market:
    return Market.generate(sites=8, products=1200, seed=9, faults="hostile")
