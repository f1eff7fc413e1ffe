"""Options and helpers shared by every ``pricewatch`` subcommand."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click
from sqlalchemy import Engine

F = TypeVar("F", bound=Callable)

_DB_KEY = "pricewatch.db_url"


def _remember_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_DB_KEY] = value  # ctx.meta is shared by the whole command chain


def db_option(f: F) -> F:
    """Add ``--db`` to a command; ``pricewatch --db X cmd`` and ``pricewatch cmd --db X`` both work."""
    return click.option(
        "--db",
        "db_url",
        metavar="URL",
        expose_value=False,
        callback=_remember_db,
        is_eager=True,
        help="Database URL or SQLite file path (default: PRICEWATCH_DB_URL, else ./pricewatch.db).",
    )(f)


def db_url_from_context(ctx: click.Context | None = None) -> str:
    """The database URL chosen on the command line or in the environment, resolved."""
    from pricing.store.db import resolve_db_url

    ctx = ctx or click.get_current_context()
    return resolve_db_url(ctx.meta.get(_DB_KEY))


def engine_from_context(ctx: click.Context | None = None) -> Engine:
    from pricing.store.db import make_engine

    return make_engine(db_url_from_context(ctx))
