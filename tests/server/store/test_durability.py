"""Durability: object bodies are on disk before the SQL row that points at them; SQLite's synchronous is a setting."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError, OperationalError

from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.objects import LocalObjectStore


def test_a_local_put_fsyncs_the_body_before_the_rename_and_the_directories_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        synced.append("dir" if stat.S_ISDIR(mode) else "file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        synced.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store.put("proj/ab/abc.json", b'{"a": 1}')
    # new directories proj/ and proj/ab/ are synced in their parents, then the body, the rename, its directory
    assert synced == ["dir", "dir", "file", "rename", "dir"]
    assert store.get("proj/ab/abc.json") == b'{"a": 1}'
    synced.clear()
    store.put("proj/ab/abd.json", b"{}")  # the directories exist now
    assert synced == ["file", "rename", "dir"]
    assert not [p for p in (tmp_path / "objects").rglob(".tmp-*")]


@pytest.mark.parametrize(("setting", "pragma"), [("NORMAL", 1), ("FULL", 2), ("full", 2)])
def test_sqlite_synchronous_follows_the_setting(tmp_path: Path, setting: str, pragma: int) -> None:
    database = Database(sqlite_url(tmp_path / "db.sqlite3"), sqlite_synchronous=setting)
    try:
        with database.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        database.dispose()


def test_a_bad_synchronous_value_is_refused_before_it_reaches_a_pragma(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous must be one of"):
        Database(sqlite_url(tmp_path / "db.sqlite3"), sqlite_synchronous="OFF; DROP TABLE x")


def test_a_failed_statement_never_carries_its_parameters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(sqlite_url(tmp_path / "db.sqlite3"))
    try:
        with database.connect() as conn:
            conn.execute(sql("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)"))
        secret = "customer-secret-body"
        with pytest.raises(IntegrityError) as failure, caplog.at_level(logging.DEBUG):
            with database.connect() as conn:
                conn.execute(sql("INSERT INTO t VALUES ('k', :b)"), {"b": secret})
                conn.execute(sql("INSERT INTO t VALUES ('k', :b)"), {"b": secret})
        assert secret not in str(failure.value)
        assert secret not in caplog.text
    finally:
        database.dispose()


def test_a_failed_ingest_write_logs_one_line_with_the_project_and_counts_never_the_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from raymon.server.backend import build_backend
    from raymon.server.services.ingest import store_events
    from raymon.server.settings import Settings
    from raymon.server.store.models import Project
    from raymon.wire import object_event, text_event

    database = Database(sqlite_url(tmp_path / "db.sqlite3"))
    try:
        database.migrate()
        with database.session() as session:
            session.add(Project(id="p", name="p"))
        with database.connect() as conn:
            conn.execute(sql("DROP TABLE texts"))  # the write will fail inside its transaction
        events = [
            text_event("p", "t1", "info", "customer-secret-text"),
            object_event(
                "p", "t1", "input", {"type": "raymon.types.Native", "params": {"data": "secret-obj"}}
            ),
        ]
        with pytest.raises(OperationalError), caplog.at_level(logging.ERROR, logger="raymon.server.ingest"):
            store_events(build_backend(Settings(data_dir=tmp_path), database=database), "p", events)
    finally:
        database.dispose()
    lines = [r.getMessage() for r in caplog.records if r.name == "raymon.server.ingest"]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "project p: 2 events (1 traces, 0 tags, 1 texts, 1 objects) not stored" in lines[0]
    assert "secret" not in caplog.text
