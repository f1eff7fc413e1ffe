"""Create or migrate the database schema with Alembic.

``init_db`` is what ``pricewatch init`` runs: ``alembic upgrade head`` on the given engine.
The Alembic configuration is built here in code (there is no alembic.ini), so it works from
an installed package as well as from a checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from pricing.store.models import Base

MIGRATIONS = Path(__file__).with_name("migrations")
REGENERATE = "python -m pricing.store.migrations"


class SchemaOutOfDate(RuntimeError):
    """models.py has tables that the migrations do not create."""


@dataclass(frozen=True)
class InitResult:
    before: str | None  # revision before, None for an empty database
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        if self.before is None:
            return f"created the schema (revision {self.after})"
        if self.changed:
            return f"migrated the schema from revision {self.before} to {self.after}"
        return f"the schema is up to date (revision {self.after})"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic Config for our migrations, bound to ``connection`` (or ``url``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def init_db(engine: Engine) -> InitResult:
    """Bring the database to the newest schema (``alembic upgrade head``); safe to re-run."""
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(alembic_config(conn), "head")
        after = MigrationContext.configure(conn).get_current_revision()
        missing = _missing_from(conn)
    if missing:
        raise SchemaOutOfDate(
            f"the migrations do not create {', '.join(missing)} of pricing/store/models.py; "
            f"regenerate the initial migration with `{REGENERATE}`"
        )
    assert after is not None
    return InitResult(before, after)


def _missing_from(conn: Connection) -> list[str]:
    """Tables and columns of models.py that the database lacks (a stale migration)."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    missing = []
    for name, table in Base.metadata.tables.items():
        if name not in present:
            missing.append(f"table {name}")
            continue
        columns = {c["name"] for c in inspector.get_columns(name)}
        missing += [f"column {name}.{c.name}" for c in table.columns if c.name not in columns]
    return missing


def regenerate_initial_migration() -> Path:
    """Rewrite the one initial revision from models.py (autogenerate against an empty DB).

    Until the first release there is a single revision; after it, add new revisions with
    ``alembic revision --autogenerate`` instead.
    """
    from pricing.store.db import make_engine

    versions = MIGRATIONS / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        # Later revisions stay (0002: PostgreSQL partitions, no model change; 0003: current
        # states into offers, which adds only the columns 0001 lacks, and the view; 0004:
        # drops offers' foreign key to sites if 0001 made one, and adds triggers); they step
        # aside while 0001 is generated, since they name it as their parent.
        later = [p.rename(Path(tmp) / p.name) for p in versions.glob("0*.py")]
        try:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
            with engine.begin() as conn:
                script = command.revision(
                    alembic_config(conn),
                    message="initial schema",
                    autogenerate=True,
                    rev_id="0001",
                )
            engine.dispose()
        finally:
            for path in later:
                path.rename(versions / path.name)
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff:  # keep CI's lint happy
        subprocess.run([ruff, "check", "--fix", "-q", str(path)], check=False)
        subprocess.run([ruff, "format", "-q", str(path)], check=False)
    return path
