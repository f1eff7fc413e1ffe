"""A small simulated market served over real HTTP for the scheduler's integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shopsim import Market, serve_in_thread


@pytest.fixture(scope="module")
def sim():
    """Two shops, ~400 offers in all, served on loopback for the whole module."""
    market = Market.generate(sites=2, products=400, seed=7)
    with serve_in_thread(market) as server:
        yield server


def write_sites(server, directory: Path, **overrides: dict) -> Path:
    """The simulator's site configs, with per-site overrides merged in (cadence, politeness)."""
    directory.mkdir(parents=True, exist_ok=True)
    server.write_site_configs(directory)
    for path in sorted(directory.glob("*.yaml")):
        if path.stem not in overrides:
            path.unlink()
            continue
        data = yaml.safe_load(path.read_text())
        for key, value in overrides[path.stem].items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return directory
