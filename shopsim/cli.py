"""``pricewatch simulate``: serve a simulated market of competitor shops until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import click

from shopsim.faults import PROFILES


@click.command()
@click.option(
    "--sites", default=72, show_default=True, type=click.IntRange(1, 253), help="Number of shops."
)
@click.option(
    "--products",
    default=170_000,
    show_default=True,
    type=click.IntRange(1),
    help="Competitor offers across all shops (each product is carried by 1-6 shops).",
)
@click.option(
    "--demo-size",
    is_flag=True,
    help="A small market (8 shops, 4,000 offers) that starts instantly.",
)
@click.option(
    "--seed", default=1, show_default=True, help="Everything is deterministic from the seed."
)
@click.option(
    "--faults",
    type=click.Choice(PROFILES),
    default="none",
    show_default=True,
    help="Fault profile.",
)
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port for every shop (each has its own address 127.0.0.N); 0 picks free ports.",
)
@click.option(
    "--time-scale",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Simulated seconds per real second (0: the clock moves only via POST /__sim/advance).",
)
@click.option(
    "--click-days",
    default=90,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Days of click data.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Writes OUT/sites/*.yaml (crawler configs), OUT/catalog.csv and OUT/clicks.csv.",
)
def simulate(
    sites, products, demo_size, seed, faults, port, time_scale, click_days, out: Path
) -> None:
    """Serve simulated competitor shops on 127.0.0.2, 127.0.0.3, ... until Ctrl-C.

    Each shop has robots.txt, sitemap.xml, paginated category listings and product pages
    (or a JSON API), in one of six markup families and seven locales. Control endpoints on every
    shop: GET /__sim/truth.json (what every page shows now), POST /__sim/advance?hours=H (move
    the market's clock), GET /__sim/faults.json, GET /__sim/stats.json.

    Then crawl with: pricewatch crawl --all --sites-dir OUT/sites
    """
    from shopsim.market import Market
    from shopsim.server import ShopServer

    if demo_size:
        sites, products = 8, 4000
    started = time.perf_counter()
    market = Market.generate(sites, products, seed, faults, time_scale=time_scale)
    out.mkdir(parents=True, exist_ok=True)

    def write_csvs() -> None:
        market.catalog_frame().to_csv(out / "catalog.csv", index=False)
        market.clicks_frame(click_days).to_csv(out / "clicks.csv", index=False)

    async def main() -> None:
        server = ShopServer(market)
        await server.start(port)
        paths = server.write_site_configs(out / "sites")
        for site in market.sites:
            click.echo(
                f"{site.name}  {server.base_url(site.name)}  {site.family:<9} {site.locale.code}"
            )
        click.echo(
            f"{len(market.sites)} shops, {len(market.offers):,} offers, serving after "
            f"{time.perf_counter() - started:.1f}s; {len(paths)} site configs in {out / 'sites'}"
        )
        # The shops answer while the CSVs are written (clicks.csv is large at full size).
        await asyncio.get_running_loop().run_in_executor(None, write_csvs)
        click.echo(f"catalog.csv and clicks.csv written to {out}. Ready; Ctrl-C stops.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()

    asyncio.run(main())
    click.echo("stopped")
