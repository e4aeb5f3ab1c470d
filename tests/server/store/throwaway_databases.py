"""A database of its own on the session's PostgreSQL server, for the store tests that fill one.

The server tests get theirs from ``tests/server/conftest.py`` (``PostgresDatabases``, a server
process per database); the store tests work on a ``Database`` directly and use this instead.
It never touches a database it did not create.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from raymon.server.store import tag_terms
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import Base


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


@contextmanager
def filled_database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    fill: Callable[[Database], None],
) -> Iterator[Database]:
    """A database of the fixture's backend (``request.param``: sqlite or postgresql) with the
    schema made from the models (and, on PostgreSQL, the traces' tag terms of migration 0022)
    and ``fill`` run on it; PostgreSQL skips without a server."""
    if request.param == "sqlite":
        db = Database(sqlite_url(Path(tmp_path_factory.mktemp(name)) / "raymon.db"))
        try:
            Base.metadata.create_all(db.engine)
            fill(db)
            yield db
        finally:
            db.dispose()
        return
    base_url = request.getfixturevalue("postgres_url")  # the session server, or skip
    with throwaway_postgres_database(base_url, f"raymon_{name}") as db:
        Base.metadata.create_all(db.engine)
        with db.engine.begin() as conn:
            tag_terms.create(conn)  # migration 0022's table and triggers: not in the models
        fill(db)
        yield db
