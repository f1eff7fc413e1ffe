"""Migrations: upgrade from empty on both databases and match models.py exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Column, Integer, Table, inspect

from pricing.cli import main
from pricing.store.db import make_engine, scratch_database
from pricing.store.models import Base
from pricing.store.partitions import include_name  # monthly partitions are no drift
from pricing.store.schema import SchemaOutOfDate, current_revision, head_revision, init_db
from tests.conftest import PG_ENV, require_env


def _check_fresh_database(engine) -> None:
    assert current_revision(engine) is None
    first = init_db(engine)
    assert first.before is None and first.after == head_revision()
    assert first.describe().startswith("created the schema")
    again = init_db(engine)
    assert not again.changed and "up to date" in again.describe()
    with engine.connect() as conn:
        # What the migrations built is exactly what models.py declares (types included).
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": include_name}
            ),
            Base.metadata,
        )
        assert diff == [], f"migrations and models.py differ: {diff}"
        tables = set(inspect(conn).get_table_names())
    assert set(Base.metadata.tables) <= tables and "alembic_version" in tables


def test_migrations_upgrade_from_empty_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    _check_fresh_database(engine)
    with engine.connect() as conn:  # the connection settings the store relies on
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


@pytest.mark.postgres
def test_migrations_upgrade_from_empty_postgres():
    with scratch_database(require_env(PG_ENV), prefix="pricewatch_test_mig") as engine:
        _check_fresh_database(engine)


def test_models_newer_than_migrations_is_a_clear_error(tmp_path):
    extra = Table("not_migrated_yet", Base.metadata, Column("id", Integer, primary_key=True))
    try:
        with pytest.raises(
            SchemaOutOfDate, match="table not_migrated_yet.*python -m pricing.store"
        ):
            init_db(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    finally:
        Base.metadata.remove(extra)


def test_init_command_creates_then_reports_up_to_date(tmp_path):
    db = tmp_path / "cli.db"
    runner = CliRunner()
    first = runner.invoke(main, ["--db", str(db), "init"])
    assert first.exit_code == 0, first.output
    assert f"{db}: created the schema (revision {head_revision()})" in first.output
    second = runner.invoke(main, ["init", "--db", str(db)])
    assert second.exit_code == 0 and "the schema is up to date" in second.output


@pytest.mark.postgres
def test_init_command_on_postgres_hides_the_password():
    with scratch_database(require_env(PG_ENV), prefix="pricewatch_test_cli") as engine:
        url = engine.url.set(password="s3cret").render_as_string(hide_password=False)
        result = CliRunner().invoke(main, ["--db", url, "init"])
        assert result.exit_code == 0, result.output
        assert "created the schema" in result.output and "s3cret" not in result.output
        assert current_revision(engine) == head_revision()


@pytest.mark.postgres
def test_offers_leave_room_for_in_place_updates(pg_engine):
    with pg_engine.connect() as conn:
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname = 'offers'"
        ).scalar_one()
    assert "fillfactor=50" in options
