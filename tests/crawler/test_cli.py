"""The commands: `pricewatch sites list|check`, `pricewatch crawl`, `pricewatch runs`, and
`scrapy crawl site -a site=NAME` from the project root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pricing.cli import main
from pricing.store.db import make_engine
from pricing.store.runs import list_runs
from shopsim import Market
from shopsim.server import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    market = Market.generate(sites=6, products=240, seed=3, faults="none")
    with serve_in_thread(market) as server:
        sites_dir = tmp_path_factory.mktemp("sites")
        server.write_site_configs(sites_dir)
        yield market, sites_dir


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_sites_list(shop, tmp_path):
    _, sites_dir = shop
    code, out = run("--db", str(tmp_path / "x.db"), "sites", "list", "--sites-dir", str(sites_dir))
    assert code == 0, out
    assert "6 site(s)" in out and "shop-01" in out and "never" in out


def test_sites_list_reports_a_bad_file(shop, tmp_path):
    _, sites_dir = shop
    bad = tmp_path / "sites"
    bad.mkdir()
    data = yaml.safe_load((sites_dir / "shop-01.yaml").read_text())
    (bad / "shop-01.yaml").write_text(yaml.safe_dump({**data, "mode": "everything"}))
    code, out = run("sites", "list", "--sites-dir", str(bad))
    assert code == 1
    assert "shop-01.yaml: mode: Input should be 'listing' or 'product'" in out


def test_sites_check_prints_every_field(shop):
    market, sites_dir = shop
    truth = market.truth("shop-01")
    row = truth[truth.price.notna()].iloc[0]
    code, out = run("sites", "check", "shop-01", row.url, "--sites-dir", str(sites_dir))
    assert code == 0, out
    assert "robots.txt: allowed for pricewatch" in out
    assert f"GET {row.url} -> 200" in out
    assert "1 offer(s):" in out
    assert f"price          Decimal('{row.price}')" in out
    assert f"currency       '{row.currency}'" in out
    assert f"availability   '{row.availability}'" in out
    assert "selectors:" in out and "ETag" in out


def test_crawl_then_runs(shop, tmp_path):
    _, sites_dir = shop
    db = str(tmp_path / "store.db")
    code, out = run(
        "--db", db, "crawl", "--site", "shop-02", "--site", "shop-05", "--sites-dir",
        str(sites_dir), "--log-dir", str(tmp_path / "logs"),
    )  # fmt: skip
    assert code == 0, out
    assert "shop-02" in out and "finished (finished)" in out and "healthy" in out
    runs = list_runs(make_engine(db))
    assert sorted(name for _, name in runs) == ["shop-02", "shop-05"]
    assert all(run.items > 0 and run.health == "healthy" for run, _ in runs)
    code, out = run("--db", db, "runs", "--site", "shop-05")
    assert code == 0 and "shop-05" in out and "shop-02" not in out and "healthy" in out


def test_crawl_needs_known_sites(shop):
    _, sites_dir = shop
    code, out = run("crawl", "--site", "ghost", "--sites-dir", str(sites_dir))
    assert code == 1 and "no site named ghost" in out
    code, out = run("crawl", "--sites-dir", str(sites_dir))
    assert code == 2 and "give --site NAME" in out


def test_scrapy_crawl_site_from_the_project_root(shop, tmp_path):
    _, sites_dir = shop
    db = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "PRICEWATCH_DB_URL": db, "PRICEWATCH_SITES_DIR": str(sites_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "site", "-a", "site=shop-03"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Pricewatch/0.1 (+https://github.com/pricewatch/pricewatch)" in done.stderr
    runs = list_runs(make_engine(db))
    assert [(name, run.status, run.trigger) for run, name in runs] == [
        ("shop-03", "finished", "scrapy")
    ]
    assert runs[0][0].items > 0


def test_progress_table_estimates_time_left_from_the_last_run():
    from rich.console import Console

    from crawler.progress_view import progress_table
    from crawler.runner import SiteResult

    running = SiteResult(site="shop-01", state="running", pages=50, items=400, elapsed=10.0)
    done = SiteResult(site="shop-02", state="closed", status="finished", health="healthy", pages=9)
    table = progress_table({"shop-01": running, "shop-02": done}, {"shop-01": 100}, 0.0)
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "shop-01" in text and "10s" in text  # 50 pages left at 5 pages/s
    assert "finished/healthy" in text
    assert "59 pages, 400 items" in text
