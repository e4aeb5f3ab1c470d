"""A database of its own on the session's PostgreSQL server, for the store tests that fill one.

The server tests get theirs from ``tests/server/conftest.py`` (``PostgresDatabases``, a server
process per database); the store tests work on a ``Database`` directly and use this instead.
It never touches a database it did not create.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from raymon.server.store.db import Database


@contextmanager
def throwaway_postgres_database(base_url: str, prefix: str) -> Iterator[Database]:
    """A new database ``<prefix>_<random>`` on the server of ``base_url``, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(base_url).set(database=name))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
