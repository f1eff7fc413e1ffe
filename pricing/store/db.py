"""Where the database is and how we connect to it.

The URL comes from ``--db``, else ``PRICEWATCH_DB_URL``, else an SQLite file in the working
directory. SQLite runs in WAL mode with foreign keys on, so a crawler writing and the review app
reading don't block each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import URL, DateTime, Engine, create_engine, event, make_url
from sqlalchemy.dialects.sqlite.base import DATETIME as SQLITE_DATETIME
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_FILE = "pricewatch.db"
ENV_DB_URL = "PRICEWATCH_DB_URL"


def resolve_db_url(url: str | None = None) -> str:
    """Return the database URL to use: explicit, then environment, then ./pricewatch.db.

    A bare path (no ``://``) is taken as an SQLite file.
    """
    url = url or os.environ.get(ENV_DB_URL)
    if not url:
        return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://"):  # plain URLs get the driver we ship
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed txn
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB
    cursor.close()


class UTCSQLiteDateTime(SQLITE_DATETIME):
    """SQLite has no time zones: store UTC, hand back aware UTC datetimes.

    Stock SQLAlchemy drops the offset of an aware datetime on SQLite (an 08:00+02:00 is stored
    as 08:00) and returns naive values, so code that runs on PostgreSQL would compare aware
    with naive. Installed for every DateTime column of engines made by :func:`make_engine`, so
    tables added later are covered too. Naive input is taken as UTC.
    """

    def bind_processor(self, dialect):
        process = super().bind_processor(dialect)

        def to_utc(value):
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC)
            return process(value)

        return to_utc

    def result_processor(self, dialect, coltype):
        process = super().result_processor(dialect, coltype)

        def aware(value):
            value = process(value)
            return value.replace(tzinfo=UTC) if value is not None else None

        return aware


def make_engine(url: str | URL | None = None, **kwargs) -> Engine:
    """Create an engine for ``url`` (resolved as :func:`resolve_db_url` says)."""
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=False)
    url = resolve_db_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: UTCSQLiteDateTime}
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def scratch_database(server_url: str, prefix: str = "pricewatch_scratch") -> Iterator[Engine]:
    """A throw-away PostgreSQL database on the server of ``server_url``, dropped afterwards."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(make_url(resolve_db_url(server_url)).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed if the block ends normally, rolled back if it raises."""
    with session_factory(engine)() as session, session.begin():
        yield session
