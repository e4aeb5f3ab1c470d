"""``Database``: the one way the backend reaches SQL (engine, sessions, migrations).

SQLite (the embedded default) runs in WAL mode so readers never wait for the
writer, and writers are serialised twice over: a process-wide lock queues them
in Python (no busy-looping in SQLite) and ``BEGIN IMMEDIATE`` takes SQLite's
write lock at the start of the transaction, so two writers can never deadlock
upgrading a read lock. ``synchronous`` is NORMAL by default (in WAL mode a
power loss may undo the last commits, never corrupt the file) or FULL
(``RAYMON_SQLITE_SYNCHRONOUS``: a commit is on disk when it returns).
On both, writes of requests go first: a thread marked as background work
(``background_writer()``: the engine's worker threads) waits while a request's write is
waiting or running, up to ``BACKGROUND_DEFER_S``, then goes, so deferred work is delayed,
never starved (``WriteTurns``).
Statement parameters are never logged nor put in error messages
(``hide_parameters``). PostgreSQL needs neither: its row locks and
``ON CONFLICT`` do the work. This module must never hold HTTP or business logic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from raymon.server.settings import SQLITE_SYNCHRONOUS, Settings

BACKGROUND_DEFER_S = (
    0.5  # longest a background writer yields to waiting requests (RAYMON_ENGINE_WRITE_DEFER_SECONDS)
)
_MIGRATION_LOCK_ID = 7_260_420_117  # pg_advisory_xact_lock key: one migrating replica at a time


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


_background = threading.local()


def mark_background_thread() -> None:
    """Mark every later SQLite write of this thread as background work (a pool's initializer)."""
    _background.on = True


@contextmanager
def background_writer() -> Iterator[None]:
    """Mark this thread's SQLite writes as background work while the block runs (see ``WriteTurns``)."""
    before = getattr(_background, "on", False)
    _background.on = True
    try:
        yield
    finally:
        _background.on = before


class WriteTurns:
    """Writes of requests first: background writers (the engine's threads) yield to them, for a bounded time.

    With the engine inside ``raymon server``, ingest requests and the engine's jobs share the
    process and the database. When requests keep the writer busy, every engine write taken
    between two of them is throughput the clients lose, although the engine's work can wait a
    moment and theirs cannot (a batch logger's spool fills). So a background writer (a thread in
    ``background_writer()``) starts its write only while no request is waiting for (SQLite) or
    running (PostgreSQL) one, or once it has waited ``defer_s``: a saturated writer still gives
    it a turn at least that often, so its work is delayed by a bounded time, never starved.

    ``exclusive`` (SQLite, one writer): this is also the process's write lock, one holder at a
    time; requests among themselves take turns as a plain lock does. Not exclusive (PostgreSQL,
    many writers): nobody waits for anybody but a background writer for requests' writes.
    ``defer_s`` 0: background writers are requests like any other (``RAYMON_ENGINE_WRITE_DEFER_SECONDS``).
    """

    def __init__(self, defer_s: float = BACKGROUND_DEFER_S, *, exclusive: bool = True) -> None:
        self.defer_s = defer_s
        self.exclusive = exclusive
        self._cond = threading.Condition(threading.Lock())
        self._held = False  # exclusive: a write holds the writer
        self._requests = 0  # requests waiting for the writer (exclusive) or writing (not exclusive)
        self._overdue = 0  # exclusive: background writers whose deferral is over go before any request

    def _background_turn(self) -> None:
        """Wait (holding ``_cond``) until no request waits or writes and the writer is free, or the deferral ends."""
        deadline = time.monotonic() + self.defer_s
        while self._held or self._requests:
            left = deadline - time.monotonic()
            if left <= 0:
                if not self.exclusive:
                    return
                self._overdue += 1
                try:
                    while self._held:
                        self._cond.wait()
                finally:
                    self._overdue -= 1
                return
            self._cond.wait(left)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Write in the block: a background thread's write may start after requests' writes."""
        background = self.defer_s > 0 and getattr(_background, "on", False)
        with self._cond:
            if background:
                self._background_turn()
            elif self.exclusive:
                self._requests += 1
                try:
                    while self._held or self._overdue:  # an overdue background writer goes next
                        self._cond.wait()
                finally:
                    self._requests -= 1
            else:
                self._requests += 1
            self._held = self.exclusive
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                if not self.exclusive and not background:
                    self._requests -= 1
                self._cond.notify_all()


class Database:
    """An engine on ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``) with sessions and migrations.

    Use ``session()`` for reads and small writes, ``write_session()`` for
    ingestion-sized write transactions (serialised on SQLite).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        echo: bool = False,
        sqlite_synchronous: str = "NORMAL",
        background_defer_s: float = BACKGROUND_DEFER_S,
    ) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgresql = self.url.get_backend_name() == "postgresql"
        if not (self.is_sqlite or self.is_postgresql):
            raise ValueError(
                f"unsupported database {self.url.get_backend_name()!r} in {self.url.render_as_string()!r}: "
                "use sqlite:///path or postgresql+psycopg://user@host/db"
            )
        # hide_parameters: a failed statement's error and log never carry customers' data (bodies, texts, tags).
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True, "hide_parameters": True}
        # JSON columns read with orjson: fast, and a number PostgreSQL's jsonb gives back as an integer
        # past 64 bits (it stores 3.9e21 as 3946816705800255000000) reads as the float it was sent as,
        # so every document read back can be written as JSON again (the stdlib would make a big int).
        kwargs["json_deserializer"] = orjson.loads
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = pool_size
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, sqlite_synchronous)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(raymon_begin="IMMEDIATE"), expire_on_commit=False
        )
        self._write_turns = WriteTurns(background_defer_s, exclusive=self.is_sqlite)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.effective_database_url,
            pool_size=settings.db_pool_size,
            sqlite_synchronous=settings.sqlite_synchronous,
            background_defer_s=settings.engine_write_defer_seconds,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on an exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """Like ``session()``, for write transactions: on SQLite one at a time per process; requests first."""
        if not self.is_sqlite:
            with self._write_turns.turn(), self.session() as session:
                yield session
            return
        with self._write_turns.turn(), self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection in one transaction (committed at the end of the block)."""
        with self.engine.begin() as conn:
            yield conn

    def migrate(self, revision: str = "head") -> None:
        """Apply every Alembic migration not yet applied (idempotent; safe with several replicas).

        ``revision``: stop there instead of at the newest (tests fill a database at an older schema).
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("raymon.server.store").joinpath("migrations"))
        )
        with self.engine.begin() as conn:
            if self.is_postgresql:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    def has_schema(self) -> bool:
        """Whether the database holds Raymon's schema (migrations have run on it at least once)."""
        return inspect(self.engine).has_table("alembic_version")

    def table_names(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    synchronous = synchronous.upper()
    if synchronous not in SQLITE_SYNCHRONOUS:  # never interpolate an unchecked value into a PRAGMA
        raise ValueError(f"SQLite synchronous must be one of {SQLITE_SYNCHRONOUS}, got {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module (it would BEGIN lazily, DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("raymon_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
