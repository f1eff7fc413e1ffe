"""``pricewatch demo``: the whole product on a simulated market, with one command.

A newcomer runs this first (it is the README's first command): no configuration, no services.
It starts the shop simulator, builds an SQLite store in a working directory, imports the demo
catalog and click history, crawls every demo shop, matches, estimates elasticity, suggests
prices, creates a demo login and serves the review app until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import time
from pathlib import Path

import click

DEMO_USER = "demo"
DB_FILE = "pricewatch-demo.db"


def _step(message: str) -> float:
    click.echo(f"• {message} ...", nl=False)
    return time.perf_counter()


def _done(started: float, detail: str = "") -> None:
    click.echo(f" {detail + ', ' if detail else ''}{time.perf_counter() - started:.1f}s")


def _fresh_workdir(workdir: Path) -> None:
    """Start from scratch: remove only what an earlier demo wrote here."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", "catalog.csv", "clicks.csv"):
        (workdir / name).unlink(missing_ok=True)
    sites = workdir / "sites"
    if sites.is_dir():
        for path in sites.glob("shop-*.yaml"):
            path.unlink()


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port 0 for a free port"
        ) from None
    sock.listen(128)
    return sock


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("pricewatch-demo"),
    show_default=True,
    help="Where the demo store, site configs and CSV files go (recreated on each run).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port of the review app on 127.0.0.1 (0: any free port).",
)
@click.option("--sites", type=click.IntRange(1, 72), default=8, show_default=True, help="Shops.")
@click.option(
    "--products",
    type=click.IntRange(min=10),
    default=12_000,
    show_default=True,
    help="Competitor offers across all shops (8 shops x 1,500: about a minute on 2 cores).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Market seed.")
def demo(workdir: Path, port: int, sites: int, products: int, seed: int) -> None:
    """See everything working on a simulated market, with no configuration.

    Starts the shop simulator, creates an SQLite store in --workdir, imports the demo catalog
    and 90 days of click history, crawls every shop, matches offers to the catalog, estimates
    price elasticity, suggests prices, creates a demo login and serves the review app. Prints
    the URL and the login. Ctrl-C stops all of it.
    """
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops the demo as Ctrl-C does
    # Every step stops cleanly on Ctrl-C (crawls close their runs): then say so and exit 0.
    with contextlib.suppress(KeyboardInterrupt):
        _run(workdir.resolve(), port, sites, products, seed)
    click.echo("\ndemo stopped")


def _run(workdir: Path, port: int, sites: int, products: int, seed: int) -> None:
    import uvicorn

    from crawler.runner import crawl_sites
    from pricing.analytics import estimate_elasticities
    from pricing.catalog import import_catalog
    from pricing.clicks import import_clicks
    from pricing.matching import run_matching
    from pricing.review.app import create_app
    from pricing.review.auth import create_user
    from pricing.rules import run_suggestions
    from pricing.store.db import make_engine
    from pricing.store.schema import init_db
    from shopsim import Market, serve_in_thread

    _fresh_workdir(workdir)
    sock = _bind(port)  # fail before the minute of work, not after
    db_url = f"sqlite:///{workdir / DB_FILE}"

    t = _step(f"generating a market of {sites} shops and {products:,} offers")
    market = Market.generate(sites=sites, products=products, seed=seed)
    _done(t)
    with serve_in_thread(market) as server:
        t = _step("starting the shop simulator on loopback")
        site_files = server.write_site_configs(workdir / "sites")
        _done(t, f"{len(site_files)} site configs in {workdir / 'sites'}")

        t = _step(f"creating the store {workdir / DB_FILE}")
        engine = make_engine(db_url)
        init_db(engine)
        _done(t)

        t = _step("importing the demo catalog and click history")
        market.catalog_frame().to_csv(workdir / "catalog.csv", index=False)
        market.clicks_frame(days=90).to_csv(workdir / "clicks.csv", index=False)
        catalog = import_catalog(engine, workdir / "catalog.csv")
        clicks = import_clicks(engine, workdir / "clicks.csv")
        _done(t, f"{catalog.rows:,} products, {clicks.rows:,} click rows")

        t = _step(f"crawling {len(site_files)} shops")
        names = [path.stem for path in site_files]
        results = crawl_sites(
            names, db_url=db_url, sites_dir=workdir / "sites", trigger="demo",
            log_dir=workdir / "logs",
        )  # fmt: skip
        items = sum(r.items for r in results.values())
        unhealthy = [
            f"{r.site} {r.health or r.state}" for r in results.values() if r.health != "healthy"
        ]
        _done(
            t,
            f"{items:,} offers" + (f" (not healthy: {', '.join(unhealthy)})" if unhealthy else ""),
        )

        t = _step("matching offers to the catalog")
        report = run_matching(engine)
        _done(t, f"{report.accepted:,} accepted, {report.review:,} for review")

        t = _step("estimating price elasticity from the clicks")
        categories, skus = estimate_elasticities(engine)
        _done(t, f"{len(categories)} categories, {len(skus)} SKUs")

        t = _step("suggesting prices")
        suggested = run_suggestions(engine)
        _done(t, f"{suggested.suggested:,} suggestions")

        password = secrets.token_urlsafe(9)
        create_user(engine, DEMO_USER, password, "manager")
        real_port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{real_port}/"
        click.echo("")
        click.echo(f"Review app: {url}")
        click.echo(f"Login: {DEMO_USER} / {password}")
        click.echo(f"Store: {db_url}   (try: pricewatch --db {workdir / DB_FILE} runs)")
        click.echo("Ctrl-C stops the review app and the simulator.")
        app = create_app(
            engine, secret_key=os.environ.get("PRICEWATCH_SECRET_KEY") or secrets.token_urlsafe(32)
        )
        config = uvicorn.Config(app, log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])  # re-raises Ctrl-C after a clean shutdown
