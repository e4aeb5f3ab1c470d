"""The index of texts for the trace list's text search: which traces have a text containing a string.

The search itself is a case-insensitive LIKE over each trace's texts (``traces._other_probes``:
``lower(message) LIKE lower('%text%')`` on SQLite, ``message ILIKE '%text%'`` on PostgreSQL).
Walking traces newest first and probing their texts finds a page of a common word at once, but
a rare or absent word makes the walk read the whole project. The index answers those: it gives
the texts that may contain the string, each then tested with the very same LIKE, so the answer
is the LIKE's, only found from the other end.

- SQLite: ``texts_fts``, an FTS5 table with the ``trigram`` tokenizer over ``texts.message``
  (external content: it stores the index, not the texts; ``detail='none'``: no positions,
  a third less to write and half the size), kept by triggers on ``texts`` (insert, delete,
  update of the message), so every writer, retention and project deletion keep it without
  knowing of it. A LIKE on it with three characters or more in a row finds every text
  containing them, case folded (FTS5 folds all of Unicode, SQLite's ``lower`` only ASCII,
  so the index answers a superset, which the texts' own LIKE narrows).
- PostgreSQL: ``ix_texts_message_trgm``, a GIN index with ``pg_trgm``'s ``gin_trgm_ops`` on
  ``texts.message``, which answers ``ILIKE '%text%'`` itself (and rechecks it).

Migration ``0021_text_search`` makes both and indexes the texts already stored. Where the
index cannot be made (SQLite without FTS5's trigram tokenizer; PostgreSQL where ``pg_trgm``
cannot be created: it is a trusted extension from PostgreSQL 13 on, so a database owner can)
the migration logs a warning and the search walks as before. ``available`` tells which.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import column, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from raymon.server.store.models import TextLine

log = logging.getLogger(__name__)

FTS_TABLE = "texts_fts"
TRGM_INDEX = "ix_texts_message_trgm"
# Objects of the index that the models do not declare (autogenerate must leave them alone).
SQLITE_OBJECTS = frozenset(
    {FTS_TABLE, *(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "content", "docsize", "config"))}
)
_FTS = table(FTS_TABLE, column("rowid"), column("message"))
MIN_INDEXED_LENGTH = 3  # trigrams: a shorter string has none to look up


def include_name(name: str | None, type_: str, _parents: Any = None) -> bool:
    """Alembic's ``include_name`` hook: leave out the text index's objects when comparing schemas."""
    if type_ == "table":
        return name not in SQLITE_OBJECTS
    if type_ == "index":
        return name != TRGM_INDEX
    return True


def like_pattern(needle: str) -> str:
    """``%needle%`` with LIKE's metacharacters (``%``, ``_``, ``\\``) escaped by ``\\``: a plain substring."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_matches(needle: str) -> Any:
    """The condition a text matching the search must meet, the same on both databases (case-insensitive)."""
    return TextLine.message.ilike(like_pattern(needle), escape="\\")


# -- the schema: made by migration 0021 --------------------------------------------------------


def create(conn: Connection) -> bool:
    """Make the index of texts and fill it with the texts stored; False (and a warning) when it cannot be made."""
    if conn.dialect.name == "sqlite":
        return _create_sqlite(conn)
    return _create_postgresql(conn)


def drop(conn: Connection) -> None:
    """Remove the index of texts (the texts stay)."""
    if conn.dialect.name == "sqlite":
        for trigger in ("texts_fts_insert", "texts_fts_delete", "texts_fts_update"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    else:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


def _create_sqlite(conn: Connection) -> bool:
    try:
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
            "message, content='texts', content_rowid='id', tokenize='trigram', detail='none')"
        )
    except Exception as exc:  # noqa: BLE001 - an SQLite built without FTS5 or older than 3.34
        log.warning(
            "no index of texts (SQLite FTS5 trigram tokenizer unavailable: %s): text search walks", exc
        )
        return False
    conn.exec_driver_sql(
        "CREATE TRIGGER texts_fts_insert AFTER INSERT ON texts BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, message) VALUES (new.id, new.message); END"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER texts_fts_delete AFTER DELETE ON texts BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, message) VALUES ('delete', old.id, old.message); END"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER texts_fts_update AFTER UPDATE OF message ON texts BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, message) VALUES ('delete', old.id, old.message); "
        f"INSERT INTO {FTS_TABLE}(rowid, message) VALUES (new.id, new.message); END"
    )
    conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    return True


def _create_postgresql(conn: Connection) -> bool:
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 - not installed, or not allowed to this role
        log.warning("no index of texts (CREATE EXTENSION pg_trgm failed: %s): text search walks", exc)
        return False
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON texts USING gin (message gin_trgm_ops)")
    return True


# -- reading -----------------------------------------------------------------------------------


def available(session: Session) -> bool:
    """Whether this store has the index of texts (migration 0021 could make it)."""
    if session.get_bind().dialect.name == "sqlite":
        probe = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name")
        return session.execute(probe, {"name": FTS_TABLE}).first() is not None
    probe = text("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :name")
    return session.execute(probe, {"name": TRGM_INDEX}).first() is not None


def indexable(session: Session, needle: str) -> bool:
    """Whether the index can find ``needle``: three characters in a row to take a trigram of (on SQLite
    not ``%`` nor ``_``, wildcards to FTS5's LIKE; on PostgreSQL ASCII letters or digits: ``pg_trgm``
    takes trigrams of words only); a needle without would read the whole index."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    run = 0
    for char in needle:
        looked_up = char not in "%_" if sqlite else char.isascii() and char.isalnum()
        run = run + 1 if looked_up else 0
        if run >= MIN_INDEXED_LENGTH:
            return True
    return False


def matching_trace_pks(session: Session, project_id: str, needle: str, cap: int) -> list[int] | None:
    """The traces (keys, newest first) with a text containing ``needle``, found from the index, or
    ``None`` when more than ``cap`` texts of the project contain it (then the index does not pay:
    a walk newest first finds a page sooner). Reads at most ``cap`` + 1 matching texts."""
    matching = text_matches(needle)
    if session.get_bind().dialect.name == "sqlite":
        # FTS5 answers a LIKE on its column from the trigrams of the pattern's literal runs (without
        # positions, ``detail='none'``: it checks each candidate's text itself). The needle goes in
        # unescaped: a ``%`` or ``_`` of it is a wildcard there, which only widens what the index
        # lets through; the texts' own LIKE (escaped) then decides. The FTS table drives (a nested
        # loop from its matches, stopping at the cap). The project is compared as a concatenation,
        # which no index answers: with a plain ``project_id = ?`` SQLite (no planner statistics)
        # walked the project's texts by their project index and scanned the FTS table for each.
        stmt = (
            select(TextLine.trace_pk)
            .select_from(_FTS)
            .join(TextLine, TextLine.id == _FTS.c.rowid)
            .where(
                _FTS.c.message.like("%" + needle + "%"),
                TextLine.project_id.concat("") == project_id,
                matching,
            )
            .limit(cap + 1)
        )
    else:
        stmt = select(TextLine.trace_pk).where(TextLine.project_id == project_id, matching).limit(cap + 1)
    pks = list(session.scalars(stmt))
    if len(pks) > cap:
        return None
    return sorted(set(pks), reverse=True)
