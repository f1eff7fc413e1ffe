"""observations partitioned by month on PostgreSQL

History grows with every change of every offer, forever; retention must not cost a DELETE of
millions of rows and a vacuum. On PostgreSQL ``observations`` becomes a RANGE-partitioned
table on ``valid_from``, one partition per month (plus a DEFAULT partition so a write never
fails), and ``pricewatch retention`` drops whole months. The primary key becomes
``(id, valid_from)``: PostgreSQL requires the partition key in every unique constraint; ``id``
keeps its sequence, so ids stay unique. On SQLite nothing changes.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from pricing.store.partitions import create_month_partitions, is_partitioned

    if is_partitioned(bind):
        return
    run = bind.exec_driver_sql
    seq = run("SELECT pg_get_serial_sequence('observations', 'id')").scalar()
    fks = run(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'observations'::regclass AND contype = 'f'"
    ).all()
    indexes = run(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'observations' "
        "AND indexname <> 'pk_observations'"
    ).all()
    first = run("SELECT date_trunc('month', min(valid_from)) FROM observations").scalar()
    run("ALTER TABLE observations RENAME TO observations_unpartitioned")
    run(
        "CREATE TABLE observations (LIKE observations_unpartitioned INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS) PARTITION BY RANGE (valid_from)"
    )
    run("ALTER TABLE observations_unpartitioned DROP CONSTRAINT pk_observations")
    run("ALTER TABLE observations ADD CONSTRAINT pk_observations PRIMARY KEY (id, valid_from)")
    for name, definition in fks:
        run(f"ALTER TABLE observations_unpartitioned DROP CONSTRAINT {name}")
        run(f"ALTER TABLE observations ADD CONSTRAINT {name} {definition}")
    for name, definition in indexes:
        run(f"DROP INDEX {name}")
        run(definition)  # CREATE [UNIQUE] INDEX name ON public.observations ...
    # (This once gave the partitions fillfactor 50, for in-place valid_to updates; 0003 resets
    # it on databases migrated then, since history rows are no longer updated.)
    run("CREATE TABLE observations_default PARTITION OF observations DEFAULT")
    create_month_partitions(bind, since=first, months_ahead=MONTHS_AHEAD)
    run("INSERT INTO observations SELECT * FROM observations_unpartitioned")
    if seq:
        run(f"ALTER SEQUENCE {seq} OWNED BY observations.id")
    run("DROP TABLE observations_unpartitioned")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    raise NotImplementedError("un-partitioning observations is not supported; restore a backup")
