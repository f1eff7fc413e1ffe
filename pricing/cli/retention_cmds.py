"""``pricewatch retention``: forget price history older than N months."""

from __future__ import annotations

import click

from pricing.cli.common import db_option, engine_from_context


@click.command()
@db_option
@click.option(
    "--keep-months",
    type=click.IntRange(min=1),
    required=True,
    help="Months of history to keep before the current month.",
)
@click.option("--dry-run", is_flag=True, help="Say what would go; change nothing.")
def retention(keep_months: int, dry_run: bool) -> None:
    """Drop history older than --keep-months months.

    On PostgreSQL whole monthly partitions of the history are dropped (cheap, no vacuum
    debt) and next months' partitions are created; on SQLite old replaced states are deleted.
    Every offer's current state (it lives in the offer's row, untouched) and any replaced
    state still valid at the cutoff are kept (the latter from the cutoff on), so prices at
    any time after the cutoff can still be looked up. Run it daily or monthly, e.g. from cron.
    """
    from pricing.store.partitions import apply_retention
    from pricing.store.schema import init_db

    engine = engine_from_context()
    try:
        init_db(engine)
        report = apply_retention(engine, keep_months, dry_run=dry_run)
    finally:
        engine.dispose()
    click.echo(report.describe())
