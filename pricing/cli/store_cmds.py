"""``pricewatch init``: create or migrate the database."""

from __future__ import annotations

import click
from sqlalchemy import make_url

from pricing.cli.common import db_option, db_url_from_context, engine_from_context


@click.command()
@db_option
def init() -> None:
    """Create the database, or migrate it to the newest schema.

    Safe to run again: an up-to-date database is left as it is. Prints what it did.
    """
    from pricing.store.schema import SchemaOutOfDate, init_db

    where = make_url(db_url_from_context()).render_as_string(hide_password=True)
    engine = engine_from_context()
    try:
        result = init_db(engine)
    except SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"{where}: {result.describe()}")
