"""The store: SQLAlchemy models, connections, change-only history and bulk writes."""

from pricing.store.db import is_postgres, make_engine, resolve_db_url, session_scope

__all__ = ["is_postgres", "make_engine", "resolve_db_url", "session_scope"]
