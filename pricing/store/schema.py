"""Create or migrate the database schema.

``init_db`` is what ``pricewatch init`` runs. (Alembic migrations replace create_all: see
pricing/store/migrations.)
"""

from __future__ import annotations

from sqlalchemy import Engine

from pricing.store.models import Base


def init_db(engine: Engine) -> None:
    """Bring the database to the newest schema; safe to run again."""
    Base.metadata.create_all(engine)
