"""Shared fixtures.

Databases: ``db_engine`` runs a test on SQLite and, when ``PRICEWATCH_TEST_PG_URL`` is set
(``.ci/run`` always sets it), on PostgreSQL too. In CI a missing URL is a failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from pricing.store.db import make_engine
from pricing.store.models import Base
from pricing.store.schema import init_db

PG_ENV = "PRICEWATCH_TEST_PG_URL"
REDIS_ENV = "PRICEWATCH_TEST_REDIS_URL"


def require_env(name: str) -> str:
    """The value of ``name``; in CI its absence fails the test, elsewhere it skips it."""
    value = os.environ.get(name)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not set; .ci/run must set it")
        pytest.skip(f"{name} not set (CI sets it)")
    return value


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session, dropped at the end."""
    base_url = require_env(PG_ENV)
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    name = f"pricewatch_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base_url.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_engine(pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_database_url)
    init_db(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(_pg_engine: Engine) -> Iterator[Engine]:
    _truncate_all(_pg_engine)
    yield _pg_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine(request) -> Engine:
    """An initialised, empty store; the test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(
        {"sqlite": "sqlite_engine", "postgres": "pg_engine"}[request.param]
    )
