"""Alembic environment: the connection comes from :func:`pricing.store.schema.alembic_config`.

There is no alembic.ini: the configuration is built in code so migrations run from an
installed package. ``render_as_batch`` lets the same revisions alter tables on SQLite.
"""

from __future__ import annotations

from alembic import context

from pricing.store.db import make_engine
from pricing.store.models import Base

config = context.config
target_metadata = Base.metadata
OPTIONS = {"target_metadata": target_metadata, "render_as_batch": True, "compare_type": True}


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
