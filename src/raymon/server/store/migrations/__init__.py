"""Alembic migrations of the store, applied programmatically at start-up (see ``store.db.Database.migrate``)."""
