"""What the migration tests share: migrating a store to a revision, and an old store to test on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, MetaData, Table

from pricing.store.db import make_engine, scratch_database
from pricing.store.schema import alembic_config
from tests.conftest import PG_ENV, require_env


def migrate(engine: Engine, revision: str, down: bool = False) -> None:
    with engine.begin() as conn:
        (command.downgrade if down else command.upgrade)(alembic_config(conn), revision)


def reflect(engine: Engine, name: str) -> Table:
    """The table as the database has it (not as models.py says)."""
    return Table(name, MetaData(), autoload_with=engine)


@contextmanager
def store_at(
    kind: str, tmp_path: Path, revision: str, fill: Callable[[Engine], None]
) -> Iterator[Engine]:
    """A new store (SQLite file or PostgreSQL scratch database) at ``revision``, filled by
    ``fill`` as that revision's code wrote it; its own database, since the test migrates it."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        try:
            migrate(engine, revision)
            fill(engine)
            yield engine
        finally:
            engine.dispose()
        return
    with scratch_database(require_env(PG_ENV), prefix=f"pricewatch_test_{revision}") as engine:
        migrate(engine, revision)
        fill(engine)
        yield engine
