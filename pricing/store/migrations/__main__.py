"""``python -m pricing.store.migrations``: regenerate the initial revision from models.py."""

from pricing.store.schema import regenerate_initial_migration

if __name__ == "__main__":
    print(f"wrote {regenerate_initial_migration()}")
