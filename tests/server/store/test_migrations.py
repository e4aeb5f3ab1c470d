"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL, and keep UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.migrations import include_name
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
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
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


def _fill_at_0003(database: Database) -> None:
    """Two projects' data as a server at 0003 stored them (raw SQL: the models are at head)."""
    database.migrate("0003_objects_by_time")
    at = "2026-11-30 12:00:00.000000" if database.dialect == "sqlite" else "2026-11-30T12:00:00+00:00"
    with database.connect() as conn:
        for pid in ("a", "b"):
            conn.execute(
                text("INSERT INTO projects (id, name, created_at) VALUES (:p, :p, :at)"), {"p": pid, "at": at}
            )
            conn.execute(
                text(
                    "INSERT INTO traces (project_id, trace_id, first_ts, last_ts) VALUES (:p, 't1', :at, :at)"
                ),
                {"p": pid, "at": at},
            )
        pk = {
            pid: conn.execute(text("SELECT id FROM traces WHERE project_id = :p"), {"p": pid}).scalar_one()
            for pid in ("a", "b")
        }
        rows = [
            ("obj-1", "a", pk["a"], '{"type":"Native","params":1}', None),
            ("obj-2", "a", pk["a"], None, "a/ob/obj-2"),
            ("obj-3", "b", pk["b"], '{"type":"Native","params":3}', None),
        ]
        for oid, pid, trace_pk, body, key in rows:
            conn.execute(
                text(
                    "INSERT INTO objects (id, project_id, trace_pk, ref, ts, data_type, size, body, store_key) "
                    "VALUES (:id, :p, :t, 'features', :at, 'Native', 29, :body, :key)"
                ),
                {"id": oid, "p": pid, "t": trace_pk, "at": at, "body": body, "key": key},
            )
            conn.execute(
                text(
                    "INSERT INTO events (project_id, event_id, kind, received_at) "
                    "VALUES (:p, :id, 'object', :at)"
                ),
                {"p": pid, "id": oid, "at": at},
            )


def test_0004_keys_objects_by_project_keeping_rows_indexes_and_foreign_key(database: Database) -> None:
    _fill_at_0003(database)
    with database.connect() as conn:
        before = conn.execute(text("SELECT * FROM objects ORDER BY id")).mappings().all()

    database.migrate()

    inspector = inspect(database.engine)
    assert inspector.get_pk_constraint("objects")["constrained_columns"] == ["project_id", "id"]
    indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("objects")}
    assert indexes == {
        "ix_objects_trace_ref_ts": ["trace_pk", "ref", "ts"],
        "ix_objects_project_ref_ts": ["project_id", "ref", "ts"],
        "ix_objects_project_ts_id": ["project_id", "ts", "id"],
    }
    [fk] = inspector.get_foreign_keys("objects")
    assert (fk["referred_table"], fk["constrained_columns"], fk["options"].get("ondelete")) == (
        "traces",
        ["trace_pk"],
        "CASCADE",
    )
    with database.connect() as conn:
        assert conn.execute(text("SELECT * FROM objects ORDER BY id")).mappings().all() == before
        hashes = conn.execute(text("SELECT content_hash FROM events")).scalars().all()
        assert hashes == [None, None, None]  # old rows: no digest, nothing made up
        trace_b = conn.execute(text("SELECT id FROM traces WHERE project_id = 'b'")).scalar_one()
        conn.execute(  # project b may now hold an object with project a's id
            text(
                "INSERT INTO objects (id, project_id, trace_pk, ref, ts, data_type, size, body) "
                "SELECT 'obj-1', 'b', :t, ref, ts, data_type, size, body FROM objects WHERE id = 'obj-1'"
            ),
            {"t": trace_b},
        )
        assert conn.execute(text("SELECT count(*) FROM objects WHERE id = 'obj-1'")).scalar_one() == 2
    with pytest.raises(IntegrityError), database.connect() as conn:  # but still once per project
        conn.execute(
            text(
                "INSERT INTO objects (id, project_id, trace_pk, ref, ts, data_type, size, body) "
                "SELECT id, project_id, trace_pk, ref, ts, data_type, size, body FROM objects "
                "WHERE id = 'obj-3'"
            )
        )
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []


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


def test_0016_summarises_the_windows_reduced_before_it(database: Database) -> None:
    from raymon.server.store import reduce as reduce_store

    database.migrate("0013_ui_sessions")
    start = datetime(2026, 7, 1, tzinfo=UTC)
    row = {"component": "area", "check": "drift", "metric": "ks_statistic", "value": 0.3, "threshold": 0.1}
    with database.write_session() as session:
        session.add(Project(id="old", name="old"))
        session.flush()
        session.execute(
            text(
                "INSERT INTO reduce_results (project_id, reducer, slice, window_start, window_end, result, "
                "created_at, n_tags, n_alerts, last_pass) VALUES ('old', 'p@1', '', :start, :end, :result, "
                ":start, 5, 1, 1)"
            ),
            {
                "start": start
                if database.dialect == "postgresql"
                else start.strftime("%Y-%m-%d %H:%M:%S.%f"),
                "end": start + timedelta(minutes=1)
                if database.dialect == "postgresql"
                else (start + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "result": '{"rows": [' + __import__("json").dumps(row | {"alert": True}) + "]}",
            },
        )
    database.migrate()
    with database.session() as session:
        summaries = reduce_store.summaries(session, "old", "p@1", "")
        layouts = reduce_store.summary_layouts(session, "old", "p@1")
    assert len(summaries) == 1 and summaries[0].n_tags == 5 and summaries[0].start_s == start.timestamp()
    assert summaries[0].summary.endswith(";0")  # the one value alerts
    assert list(layouts) == [summaries[0].layout] and "ks_statistic" in layouts[summaries[0].layout]


def test_0019_rolls_up_the_summaries_stored_before_it_and_keys_have_no_last_use(database: Database) -> None:
    from raymon.server.store import accounts, rollups

    database.migrate("0016_uidash")
    start = datetime(2026, 7, 1, 10, 3, tzinfo=UTC)
    iso = "%Y-%m-%d %H:%M:%S.%f"
    with database.write_session() as session:
        session.add(Project(id="old", name="old"))
        session.flush()
        for i in range(3):
            at = start + timedelta(minutes=i)
            params = {
                "start": at if database.dialect == "postgresql" else at.strftime(iso),
                "end": at + timedelta(minutes=1)
                if database.dialect == "postgresql"
                else (at + timedelta(minutes=1)).strftime(iso),
                "summary": ["AACAPw==;0", "AAAAPw==;", "AABAQA==;"][i],  # 1.0 (alerting), 0.5, 3.0
            }
            rid = session.execute(
                text(
                    "INSERT INTO reduce_results (project_id, reducer, slice, window_start, window_end, "
                    "created_at, n_tags, n_alerts, last_pass) VALUES ('old', 'p@1', '', :start, :end, :start, "
                    "4, 0, 1) RETURNING id"
                ),
                params,
            ).scalar_one()
            session.execute(
                text(
                    "INSERT INTO reduce_summaries (project_id, reducer, slice, window_start, result_id, "
                    "window_end, n_tags, n_alerts, layout, summary) VALUES ('old', 'p@1', '', :start, :rid, "
                    ":end, 4, 0, 'L', :summary)"
                ),
                params | {"rid": rid},
            )
        session.execute(
            text(
                "INSERT INTO api_keys (id, project_id, name, key_prefix, key_hash, scopes, created_at) "
                "VALUES ('k1', 'old', '', 'rmn_abcd', 'h', 'read', :now)"
            ),
            {"now": start if database.dialect == "postgresql" else start.strftime(iso)},
        )
    database.migrate()
    with database.session() as session:
        tens = rollups.rollups(
            session, "old", "p@1", "", 600, start - timedelta(hours=1), start + timedelta(hours=1)
        )
        hour = rollups.rollups(
            session, "old", "p@1", "", 3600, start - timedelta(hours=1), start + timedelta(hours=1)
        )
        key = accounts.key_by_id(session, "k1")
    for found, span in ((tens, 600), (hour, 3600)):
        assert len(found) == 1 and found[0].n_windows == 3 and found[0].n_tags == 12, span
        stats = rollups.unpack([found[0].stats], np.array([found[0].start_s]))
        assert (stats.mins[0, 0], stats.maxs[0, 0], stats.sums[0, 0], stats.lasts[0, 0]) == (
            0.5,
            3.0,
            4.5,
            3.0,
        )
        assert stats.alerts[0, 0] == 1 and stats.counts[0, 0] == 3
        assert (
            found[0].first_s == start.timestamp()
            and found[0].end_s == (start + timedelta(minutes=3)).timestamp()
        )
    assert key is not None and key.last_used_at is None


def _downgrade(database: Database, revision: str) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("raymon.server.store").joinpath("migrations"))
    )
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_0020_queues_the_tags_no_pass_took_once_and_downgrade_marks_the_taken_ones(
    database: Database,
) -> None:
    from raymon.server.store import reduce as reduce_store
    from raymon.server.store.writes import write_trace_tags

    database.migrate("0019_dash_rollups")
    at = datetime(2026, 7, 1, tzinfo=UTC)
    ts = at if database.dialect == "postgresql" else at.strftime("%Y-%m-%d %H:%M:%S.%f")
    with database.write_session() as session:
        session.add(Project(id="old", name="old"))
        session.flush()
        pk = session.execute(
            text(
                "INSERT INTO traces (project_id, trace_id, first_ts, last_ts) VALUES ('old', 't', :ts, :ts) "
                "RETURNING id"
            ),
            {"ts": ts},
        ).scalar_one()
        for name, grp, reduced in (("new", "g@1", None), ("done", "g@1", 3), ("label", None, None)):
            session.execute(
                text(
                    "INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, ts, reduced_pass) "
                    "VALUES ('old', :pk, :name, 'profile-input', :grp, 1.5, :ts, :reduced)"
                ),
                {"pk": pk, "name": name, "grp": grp, "ts": ts, "reduced": reduced},
            )
    database.migrate()
    assert "ix_tags_unreduced" not in {i["name"] for i in inspect(database.engine).get_indexes("tags")}
    with database.write_session() as session:  # the tag no pass took is taken once, by the next claim
        assert [t.name for t in reduce_store.claim_tags(session, "old", "g@1", 1, 100)] == ["new"]
        assert list(reduce_store.claim_tags(session, "old", "g@1", 2, 100)) == []
        write_trace_tags(
            session, "old", pk, [{"name": "later", "value": 2.0, "type": "x", "group": "g@1"}], at
        )
    with database.session() as session:
        assert reduce_store.count_unclaimed(session, "old", "g@1") == 1
    _downgrade(database, "0019_dash_rollups")
    assert "reduce_queue" not in database.table_names()
    with database.session() as session:
        marks = dict(session.execute(text("SELECT name, reduced_pass FROM tags")).all())
    assert marks == {"new": 0, "done": 3, "label": None, "later": None}  # taken under 0020: 0
    database.migrate()
    with database.session() as session:
        assert reduce_store.count_unclaimed(session, "old", "g@1") == 1
        rows = session.execute(text("SELECT t.name FROM reduce_queue q JOIN tags t ON t.id = q.tag_id")).all()
    assert [r[0] for r in rows] == ["later"]
