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


def _upgrade(database: Database, revision: str) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("raymon.server.store").joinpath("migrations"))
    )
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def test_migration_0005_keeps_only_a_short_hint_of_existing_keys(database: Database) -> None:
    """Rows written when ``key_prefix`` held 12 characters of the key keep ``rmn_`` + 4 (or 4) of them."""
    from sqlalchemy import text

    _upgrade(database, "0003_objects_by_time")
    with database.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO projects (id, name, created_at) VALUES ('p', 'p', :t)"),
            {"t": datetime.now(UTC)},
        )
        for key_id, prefix in (("k1", "rmn_AbCdEfGh"), ("k2", "chosenkey123"), ("k3", "rmn_")):
            conn.execute(
                text(
                    "INSERT INTO api_keys (id, project_id, name, key_prefix, key_hash, scopes, created_at) "
                    "VALUES (:id, 'p', '', :prefix, :hash, 'read', :t)"
                ),
                {"id": key_id, "prefix": prefix, "hash": key_id * 8, "t": datetime.now(UTC)},
            )
    database.migrate()
    with database.engine.connect() as conn:
        hints = dict(conn.execute(text("SELECT id, key_prefix FROM api_keys")).all())
    assert hints == {"k1": "rmn_AbCd", "k2": "chos", "k3": "rmn_"}
