"""Alembic environment: runs the store's migrations on the connection ``Database.migrate`` hands over.

Never opens its own engine from a config file: the server's settings decide the
database, and the same revisions run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from alembic import context

from raymon.server.store.migrations import include_name
from raymon.server.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through raymon.server.store.db.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,  # objects of 0021 and 0022 that the models do not declare
)
with context.begin_transaction():
    context.run_migrations()
