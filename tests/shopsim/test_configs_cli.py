"""Site configs the crawler accepts, and `pricewatch simulate` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crawler.siteconfig import SiteConfigError, load_all_site_configs
from shopsim.configs import write_site_configs
from tests.shopsim.helpers import fetch

ROOT = Path(__file__).resolve().parents[2]


def test_configs_validate_and_describe_each_shop(market, served, tmp_path):
    paths = served.write_site_configs(tmp_path)
    assert [p.name for p in paths] == [f"{s.name}.yaml" for s in market.sites]
    configs = load_all_site_configs(tmp_path)
    for site in market.sites:
        config = configs[site.name]
        assert config.base_url == served.base_url(site.name)
        assert config.currency == site.currency
        assert config.decimal_separator == site.locale.decimal
        assert config.politeness.delay == (site.crawl_delay or 0)
        assert config.selectors.ban_marker is not None
        if site.family == "api":
            assert config.start.api is not None and config.mode == "listing"
        elif site.mode == "listing":
            assert config.start.listings and config.mode == "listing"
        else:
            assert config.start.sitemap == "/sitemap.xml" and config.mode == "product"
        assert config.price_rule == ("visible" if site.family == "mismatch" else "structured")


def test_a_bad_config_writes_nothing(market, served, tmp_path):
    urls = dict(served.urls)
    urls[market.sites[-1].name] = "ftp://nowhere"  # the crawler's schema rejects it
    with pytest.raises(SiteConfigError, match="base_url"):
        write_site_configs(market, urls, tmp_path / "sites")
    assert not (tmp_path / "sites").exists()


def test_simulate_command_serves_until_interrupted(tmp_path):
    out = tmp_path / "sim"
    pricewatch = Path(sys.executable).parent / "pricewatch"
    cmd = [str(pricewatch), "simulate", "--sites", "3", "--products", "300"]
    cmd += ["--seed", "4", "--click-days", "10", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ready" in line:
                break
        assert any(line.startswith("shop-03  http://127.0.0.4:") for line in lines), lines
        config = yaml.safe_load((out / "sites" / "shop-01.yaml").read_text())
        catalog = pd.read_csv(out / "catalog.csv")
        clicks = pd.read_csv(out / "clicks.csv")
        assert len(catalog) > 50 and clicks["date"].nunique() == 10
        assert set(clicks["sku"]) <= set(catalog["sku"])
        base = config["base_url"]
        assert fetch(base + "/robots.txt").status == 200
        before = fetch(base + "/__sim/clock.json").json()["hour"]
        assert fetch(base + "/__sim/advance?hours=6", method="POST").json()["hour"] == before + 6
        truth = fetch(base + "/__sim/truth.json").json()["offers"]
        assert fetch(truth[0]["url"]).status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out_text, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in out_text
