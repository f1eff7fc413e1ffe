"""``pricewatch clicks import`` and ``pricewatch analytics ...``: our demand, competitors' moves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pricing.cli.common import db_option, engine_from_context

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def clicks() -> None:
    """Our shop's daily click data (views, clicks, add-to-cart, orders, revenue per SKU)."""


@clicks.command("import")
@db_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
def import_cmd(file: Path, dry_run: bool) -> None:
    """Import FILE (CSV or XLSX): date,sku,views,clicks,add_to_cart,orders,revenue[,price].

    One row per SKU and day; SKUs must be in the catalog. The file is checked whole first: if
    any line is bad, nothing is imported and every bad line is listed with its number.
    Re-importing a SKU-day replaces it.
    """
    from pricing.clicks import ClicksError, import_clicks
    from pricing.store.schema import init_db

    engine = engine_from_context()
    init_db(engine)
    try:
        report = import_clicks(engine, file, dry_run=dry_run)
    except ClicksError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary())


def _window(since: dt.datetime | None, until: dt.datetime | None, days: int | None):
    until_d = until.date() if until else None
    since_d = since.date() if since else None
    if days and not since_d:
        since_d = (until_d or dt.date.today()) - dt.timedelta(days=days - 1)
    return since_d, until_d


def _show(frame, out: Path | None, limit: int, title: str) -> None:
    import pandas as pd

    if out:
        frame.to_csv(out, index=False)
    if frame.empty:
        click.echo(f"{title}: no data")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            click.echo(
                f"{title} ({len(frame)} rows{', first ' + str(limit) if len(frame) > limit else ''}):"
            )
            click.echo(frame.head(limit).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if out:
        click.echo(f"wrote {len(frame)} rows to {out}")


def window_options(f):
    f = click.option("--since", type=DATE, help="First day (YYYY-MM-DD).")(f)
    f = click.option("--until", type=DATE, help="Last day (YYYY-MM-DD).")(f)
    f = click.option("--days", type=click.IntRange(1), help="The last N days (up to --until).")(f)
    f = click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the table as CSV.",
    )(f)
    f = click.option("--limit", default=30, show_default=True, help="Rows to print.")(f)
    return db_option(f)


@click.group()
def analytics() -> None:
    """Tables about demand and competitors; each prints a table and can write it as CSV."""


@analytics.command()
@window_options
@click.option("--by", type=click.Choice(["sku", "category"]), default="sku", show_default=True)
def conversion(since, until, days, out, limit, by) -> None:
    """Conversion per SKU or category: views, clicks, carts, orders and their rates."""
    from pricing.analytics.conversion import conversion as compute
    from pricing.analytics.data import load_clicks

    s, u = _window(since, until, days)
    _show(compute(load_clicks(engine_from_context(), s, u), by), out, limit, f"conversion by {by}")


@analytics.command("price-index")
@window_options
@click.option("--sku", "skus", multiple=True, help="Only these SKUs (repeatable).")
def price_index_cmd(since, until, days, out, limit, skus) -> None:
    """Our price against the lowest and the median matched competitor, per SKU and day (100 = equal)."""
    from pricing.analytics.data import load_clicks, load_observations
    from pricing.analytics.price_index import price_index

    engine = engine_from_context()
    s, u = _window(since, until, days)
    clicks_frame = load_clicks(engine, s, u)
    if skus:
        clicks_frame = clicks_frame[clicks_frame["sku"].isin(skus)]
    start = dt.datetime.combine(s, dt.time(), dt.UTC) if s else None
    obs = load_observations(engine, since=start, matched_only=True)
    frame = price_index(clicks_frame, obs)
    frame["day"] = frame["day"].dt.date
    _show(frame, out, limit, "price index")


@analytics.command()
@window_options
@click.option(
    "--scope",
    type=click.Choice(["category", "sku"]),
    default="category",
    show_default=True,
    help="Which table to print (both are stored).",
)
def elasticity(since, until, days, out, limit, scope) -> None:
    """Estimate price elasticity per SKU and category and store it (elasticity_estimates).

    A log-log Poisson regression of orders on our price with views as exposure, a fixed
    effect per SKU and competitors' median price as a control when known; 95% intervals from
    robust standard errors. A SKU with too few days, orders or price changes gets its
    category's pooled estimate; without enough data the answer is "not enough data".
    """
    from pricing.analytics import estimate_elasticities

    s, u = _window(since, until, days)
    cats, skus = estimate_elasticities(engine_from_context(), since=s, until=u)
    frame = cats if scope == "category" else skus
    _show(frame, out, limit, f"elasticity by {scope}")


@analytics.command()
@window_options
@click.option(
    "--window-hours",
    default=48,
    show_default=True,
    help="How close a move must be to count as following another.",
)
def competitors(since, until, days, out, limit, window_hours) -> None:
    """How often and how far each competitor moves prices, and who moves first."""
    import pandas as pd

    from pricing.analytics.competitors import competitor_behaviour
    from pricing.analytics.data import load_observations

    s, u = _window(since, until, days)
    start = dt.datetime.combine(s, dt.time(), dt.UTC) if s else None
    end = dt.datetime.combine(u, dt.time.max, dt.UTC) if u else None
    obs = load_observations(engine_from_context(), since=start, until=end)
    frame = competitor_behaviour(obs, window=pd.Timedelta(hours=window_hours))
    _show(frame, out, limit, "competitor behaviour")
