"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL, and keep UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import Base, Project


@pytest.fixture
def database(backend: str, postgres_databases, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = postgres_databases.create() if backend == "postgresql" else sqlite_url(tmp_path / "m.sqlite3")
    db = Database(url)
    yield db
    db.dispose()
    if backend == "postgresql":
        postgres_databases.drop(url)


def test_migrations_create_the_models_schema_and_run_twice_harmlessly(database: Database) -> None:
    database.migrate()
    database.migrate()
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert {"traces", "tags", "texts", "objects", "events", "jobs", "manifests"} <= set(
        database.table_names()
    )


def test_timestamps_come_back_aware_in_utc_and_naive_ones_are_refused(database: Database) -> None:
    database.migrate()
    brussels = timezone(timedelta(hours=1))
    with database.session() as session:
        session.add(Project(id="p", name="p", created_at=datetime(2026, 1, 1, 13, 0, tzinfo=brussels)))
    with database.session() as session:
        created = session.scalar(select(Project.created_at))
    assert created == datetime(2026, 1, 1, 12, 0, tzinfo=UTC) and created.tzinfo is not None
    with pytest.raises(Exception, match="naive datetime"), database.session() as session:
        session.add(Project(id="q", name="q", created_at=datetime(2026, 1, 1)))
        session.flush()


def test_an_unsupported_database_url_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="mysql"):
        Database("mysql://localhost/raymon")
