"""Alembic migrations of the store (configured in code: see :mod:`pricing.store.schema`)."""
