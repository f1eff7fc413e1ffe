"""offers.site_id loses its foreign key; triggers keep what it guaranteed

Why: PostgreSQL checked ``fk_offers_site_id_sites`` once per new offer (a lookup and a lock of
the site row for each of them), 40% of a first crawl cycle's server CPU: with the constraint
dropped, ``pricewatch bench store`` cycle 1 took 1.37-1.40 s against 2.04-2.05 s (server CPU
1.14 against 1.89 s; scratch stores, 170k offers). Every offer is written by the history writer, which checks
the site once per write instead, and on PostgreSQL locks it ``FOR KEY SHARE`` as the
constraint's check did, so a site deleted meanwhile waits for the write to commit
(pricing.store.bulk). What else the constraint did, triggers on both databases do:

* ``ON DELETE CASCADE``: after a site is deleted, ``offers_delete_with_site`` deletes its
  offers (their matches and observations go by their own foreign keys, as before); on
  PostgreSQL ``TRUNCATE sites .. CASCADE`` empties offers too, as it did (by a DELETE: slow
  on a big store, but TRUNCATE of offers from a trigger fails when the statement has it).
* ``NO ACTION`` on update: ``sites_id_in_use`` refuses a new ``sites.id`` while offers name
  the old one, ``offers_site_exists`` a ``site_id`` naming no site. Both fire only when that
  column is SET, which the writer never does: they cost it nothing.
* The check on insert, on PostgreSQL: ``offers_site_exists_on_insert`` runs once per INSERT
  or COPY statement, over its new rows (a transition table), locks their sites ``FOR KEY
  SHARE`` and refuses the statement if one names no site. Measured on a first cycle of 170k
  offers: 2.66 / 2.57 s with it, 2.70 / 2.58 s without (server CPU +0.04-0.07 s). On SQLite
  a trigger can only check row by row, which cost a first cycle 20-27% (5.3 -> 6.4-6.9 s), so
  there the writer's own check is the one on insert (its writes ran with foreign keys off
  already); other code inserting offers into SQLite must name an existing site.

SQLite cannot drop a constraint, and the rebuild it documents for other changes is unsafe
here: ``init_db`` migrates in one transaction with foreign keys on (pricing.store.db), where
they cannot be turned off, so dropping the old table would cascade-delete every match and
observation. Removing a FOREIGN KEY clause leaves the file format as it is, and for this
SQLite documents a simpler procedure ("Making Other Kinds Of Table Schema Changes"): edit
the table's CREATE statement in ``sqlite_master`` under ``writable_schema`` and increment
``schema_version``, in one transaction. No row moves; indexes (ix_offers_gtin and the
unique index of uq_offers_site_url), the view ``offer_states`` and the file stay as they
are. The edited statement is first created in an empty in-memory database and must give
the same columns and constraint indexes; anything but the exact clause SQLAlchemy wrote is
refused, not guessed at. The downgrade puts the clause back the same way, once every offer's
site is known to exist (adding it changes no stored byte either).

A regenerated 0001 (python -m pricing.store.migrations) has no such constraint: then only
the triggers are added.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = "fk_offers_site_id_sites"
# The clause as 0001 created it on SQLite, and where it stood: before the unique constraint.
FK_CLAUSE = f"CONSTRAINT {FK_NAME} FOREIGN KEY(site_id) REFERENCES sites (id) ON DELETE CASCADE"
FK_SEPARATOR = ", \n\t"
UNIQUE_CLAUSE = "CONSTRAINT uq_offers_site_url UNIQUE (site_id, url)"
_FK_PATTERN = re.compile(re.escape(FK_CLAUSE) + r"\s*,\s*")

TRIGGERS = ("offers_delete_with_site", "sites_id_in_use", "offers_site_exists")

SQLITE_TRIGGERS = (
    "CREATE TRIGGER offers_delete_with_site AFTER DELETE ON sites FOR EACH ROW "
    "BEGIN DELETE FROM offers WHERE site_id = OLD.id; END",
    "CREATE TRIGGER sites_id_in_use BEFORE UPDATE OF id ON sites FOR EACH ROW "
    "WHEN NEW.id IS NOT OLD.id AND EXISTS (SELECT 1 FROM offers WHERE site_id = OLD.id) "
    "BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: offers name this sites.id'); END",
    "CREATE TRIGGER offers_site_exists BEFORE UPDATE OF site_id ON offers FOR EACH ROW "
    "WHEN NOT EXISTS (SELECT 1 FROM sites WHERE id = NEW.site_id) "
    "BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: offers.site_id names no site'); "
    "END",
)

# PostgreSQL: AFTER row triggers, as the constraint's own were (RI_FKey_*); a raised
# foreign_key_violation is the error (SQLSTATE 23503) the constraint raised. The functions
# keep the migration's search_path, so "offers" is the same table whoever deletes a site.
PG_FUNCTIONS = {
    "offers_delete_with_site": """
BEGIN
    DELETE FROM offers WHERE site_id = OLD.id;
    RETURN NULL;
END""",
    # Not TRUNCATE offers: refused while the statement that fired it truncates offers too.
    "offers_truncate_with_sites": """
BEGIN
    DELETE FROM offers;
    RETURN NULL;
END""",
    "sites_id_in_use": """
BEGIN
    IF EXISTS (SELECT 1 FROM offers WHERE site_id = OLD.id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('offers name sites.id %s: it cannot change', OLD.id);
    END IF;
    RETURN NULL;
END""",
    "offers_site_exists_on_insert": """
BEGIN
    PERFORM 1 FROM sites WHERE id IN (SELECT DISTINCT site_id FROM new_offers) FOR KEY SHARE;
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT site_id FROM new_offers) AS n
        WHERE NOT EXISTS (SELECT 1 FROM sites AS s WHERE s.id = n.site_id)
    ) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'offers.site_id names no site (insert into offers refused)';
    END IF;
    RETURN NULL;
END""",
    "offers_site_exists": """
BEGIN
    PERFORM 1 FROM sites WHERE id = NEW.site_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('offers.site_id %s names no site', NEW.site_id);
    END IF;
    RETURN NULL;
END""",
}
PG_TRIGGERS = (
    "CREATE TRIGGER offers_delete_with_site AFTER DELETE ON sites "
    "FOR EACH ROW EXECUTE FUNCTION offers_delete_with_site()",
    "CREATE TRIGGER offers_truncate_with_sites AFTER TRUNCATE ON sites "
    "FOR EACH STATEMENT EXECUTE FUNCTION offers_truncate_with_sites()",
    "CREATE TRIGGER sites_id_in_use AFTER UPDATE OF id ON sites FOR EACH ROW "
    "WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION sites_id_in_use()",
    "CREATE TRIGGER offers_site_exists AFTER UPDATE OF site_id ON offers FOR EACH ROW "
    "WHEN (NEW.site_id IS DISTINCT FROM OLD.site_id) EXECUTE FUNCTION offers_site_exists()",
    "CREATE TRIGGER offers_site_exists_on_insert AFTER INSERT ON offers "
    "REFERENCING NEW TABLE AS new_offers FOR EACH STATEMENT "
    "EXECUTE FUNCTION offers_site_exists_on_insert()",
)
PG_TRIGGER_TABLES = {
    "offers_delete_with_site": "sites",
    "offers_truncate_with_sites": "sites",
    "sites_id_in_use": "sites",
    "offers_site_exists": "offers",
    "offers_site_exists_on_insert": "offers",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"ALTER TABLE offers DROP CONSTRAINT IF EXISTS {FK_NAME}")
        for name, body in PG_FUNCTIONS.items():
            bind.exec_driver_sql(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                f"SET search_path FROM CURRENT AS $${body}\n$$"
            )
        for create in PG_TRIGGERS:
            bind.exec_driver_sql(create)
        return
    _sqlite_transaction(bind)
    if _sqlite_site_keys(bind):
        old = _offers_sql(bind)
        new, removed = _FK_PATTERN.subn("", old)
        if removed != 1:
            raise RuntimeError(
                f"offers has a foreign key to sites, but not as {FK_CLAUSE!r} followed by "
                f"another clause; not editing its schema: {old!r}"
            )
        _edit_offers_schema(bind, old, new, expect_site_keys=0)
    for create in SQLITE_TRIGGERS:
        bind.exec_driver_sql(create)


def downgrade() -> None:
    bind = op.get_bind()
    run = bind.exec_driver_sql
    if bind.dialect.name == "postgresql":
        for name, table in PG_TRIGGER_TABLES.items():
            run(f"DROP TRIGGER {name} ON {table}")
            run(f"DROP FUNCTION {name}()")
        # Checks every offer's site (and fails, changing nothing, if one is missing).
        run(
            f"ALTER TABLE offers ADD CONSTRAINT {FK_NAME} FOREIGN KEY (site_id) "
            "REFERENCES sites (id) ON DELETE CASCADE"
        )
        return
    _sqlite_transaction(bind)
    for name in TRIGGERS:
        run(f"DROP TRIGGER {name}")
    if _sqlite_site_keys(bind):  # a database that never lost it
        return
    orphans = run(
        "SELECT count(*) FROM offers WHERE site_id NOT IN (SELECT id FROM sites)"
    ).scalar_one()
    if orphans:
        raise RuntimeError(f"{orphans} offers name no site: delete them before downgrading")
    old = _offers_sql(bind)
    if old.count(UNIQUE_CLAUSE) != 1:
        raise RuntimeError(f"offers has no {UNIQUE_CLAUSE!r} to put {FK_NAME} before: {old!r}")
    new = old.replace(UNIQUE_CLAUSE, FK_CLAUSE + FK_SEPARATOR + UNIQUE_CLAUSE)
    _edit_offers_schema(bind, old, new, expect_site_keys=1)


def _sqlite_transaction(bind: Connection) -> None:
    """Make this revision one SQLite transaction, with the write lock, before any DDL.

    Python's sqlite3 opens a transaction only before INSERT, UPDATE or DELETE: a DROP
    TRIGGER before the first of them would commit at once, and a refused downgrade would
    leave the store at 0004 without its triggers. The lock also keeps the schema_version
    this revision reads from changing before it writes it. The caller's commit or rollback
    (init_db's ``engine.begin()``) ends it, with the alembic_version update.
    """
    raw = bind.connection.dbapi_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def _sqlite_site_keys(bind: Connection) -> list[tuple]:
    """offers' foreign keys to sites, as this connection's schema has them."""
    keys = bind.exec_driver_sql("PRAGMA foreign_key_list(offers)").all()
    return [k for k in keys if k[2] == "sites"]


def _offers_sql(bind: Connection) -> str:
    return bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'offers'"
    ).scalar_one()


def _shape(con, table: str) -> tuple:
    """What the file format depends on: columns, and the indexes constraints create."""
    columns = con.execute(f"PRAGMA table_xinfo({table})").fetchall()
    # (seq, name, unique, origin, partial); seq counts CREATE INDEX ones too, so it is left out
    own = [i[1:] for i in con.execute(f"PRAGMA index_list({table})").fetchall() if i[3] != "c"]
    indexes = [(i, con.execute(f"PRAGMA index_xinfo({i[0]})").fetchall()) for i in own]
    return columns, sorted(indexes)


def _edit_offers_schema(bind: Connection, old: str, new: str, expect_site_keys: int) -> None:
    """Replace offers' CREATE statement, as SQLite documents for changes that leave the
    stored rows as they are (writable_schema, then schema_version + 1).

    ``new`` is tried first on an empty in-memory database: a statement that does not parse
    would leave the file unreadable, and one that changes a column or a constraint index
    would no longer describe the stored rows.
    """
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(new)
        trial = _shape(scratch, "offers")
        trial_keys = [
            k for k in scratch.execute("PRAGMA foreign_key_list(offers)") if k[2] == "sites"
        ]
    finally:
        scratch.close()
    raw = bind.connection.dbapi_connection
    if trial != _shape(raw, "offers") or len(trial_keys) != expect_site_keys:
        raise RuntimeError(f"refusing to edit offers' schema: {new!r} changes more than {FK_NAME}")
    run = bind.exec_driver_sql
    version = run("PRAGMA schema_version").scalar_one()
    run("PRAGMA writable_schema = ON")
    try:
        edited = run(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'offers' AND sql = ?",
            (new, old),
        ).rowcount
        if edited != 1:
            raise RuntimeError("offers' schema changed while it was being edited")
        # Other connections re-read the schema when they see the new version.
        run(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        run("PRAGMA writable_schema = RESET")  # off, and this connection re-reads the schema
    if len(_sqlite_site_keys(bind)) != expect_site_keys or _offers_sql(bind) != new:
        raise RuntimeError(f"editing offers' schema did not take: {_offers_sql(bind)!r}")
    problems = run("PRAGMA integrity_check(offers)").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"offers after editing its schema: {problems}")
