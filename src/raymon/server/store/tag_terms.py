"""Each trace's tag terms under a GIN index (PostgreSQL): filters of common ``==`` conditions that match almost nothing.

A filter like ``client==c7 && app==v2 && model==m3 && host==h3`` has conditions that each
match 2-20 % of the traces, and a conjunction that matches 40 traces in a million. Walking
the traces, or merging the conditions' tag index ranges (``tagfilter_merge``), reads the
whole project to find them: 60 ms at 1M traces, 130 ms at 10M. PostgreSQL's GIN
intersects posting lists in C, skipping through the longer ones, so asking it for the
traces holding all of the terms costs about the rarest condition's list, a few ms.

- ``trace_terms`` (``trace_pk``, ``terms bigint[]``) holds, for each trace, a 64-bit hash
  (``hashtextextended``) of ``project_id \\x1f name \\x1f value`` for each text tag value it
  was given; ``ix_trace_terms_terms`` is its GIN index. Numeric values have no terms.
- Triggers keep it, so every writer (ingest, mappers, the demo) keeps it without knowing of
  it: after each ``INSERT`` or ``UPDATE`` statement on ``tags`` (``COPY`` included) the
  written rows' terms are added to their traces' arrays; after a ``DELETE`` on ``traces``
  their rows go. No foreign key: its check would cost ingest a lookup per trace.
- The terms never miss a tag value a trace holds, but may hold more: a value a tag no
  longer has (an update changed it, retention deleted the tag), or, once in 2^64, a hash
  another term shares. So what the index answers is a set of *candidates*: every one is
  then tested against the whole filter by the usual probes (``traces``), and the answer is
  the filter's. Adding a term is an append (``||``) on the row's newest version, so two
  writers adding tags to one trace at once both keep theirs.

``store.traces`` asks it for three things: a received-order page (``_terms_keys``), the
trace list's count (exact from the candidates) and a time-ordered page (the candidates
sorted by time, then probed), each when ``plan`` expects few matches.

Migration ``0022_trace_terms`` makes the table, the triggers and the index, and fills it
from the tags stored (about 10 s a million traces). SQLite has none of it: its merge of
index ranges meets the targets there (bench/README.md). This module never decides what a
filter means; it only answers which traces may match some of its ``==`` conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, bindparam, column, func, select, table, text
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from raymon.server.services.tagfilter import And, Comparison, Node
from raymon.server.store import tagfilter_merge
from raymon.server.store.keyset import Order

TABLE = "trace_terms"
GIN_INDEX = "ix_trace_terms_terms"
_ADD_FUNCTION = "raymon_trace_terms_add"
_FORGET_FUNCTION = "raymon_trace_terms_forget"
_TRIGGERS = (("tags_terms_insert", "tags"), ("tags_terms_update", "tags"), ("traces_terms_delete", "traces"))
SEPARATOR = "\x1f"  # between project, name and value in a term (not in names; in a value it only joins)

# The estimate (the sampled densities of the filter's text ``==`` conditions, multiplied, times
# the keys below the page) under which the index is asked: a page of a conjunction matching more
# is found sooner by the merge of index ranges, which stops after one page.
MAX_ESTIMATE = 2_000
# At most this many candidates are read from the index; more means the estimate was wrong (the
# conditions are correlated) and the plans without it answer instead (the merge, the walks).
# A count or a time-ordered page, which would otherwise read far more, plans up to this many.
MAX_CANDIDATES = 5_000

_AVAILABLE = "raymon.trace_terms"  # the key of ``available``'s answer in a connection's ``info``
_TERMS = table(TABLE, column("trace_pk"), column("terms"))
_TERM_SQL = "hashtextextended(project_id || chr(31) || name || chr(31) || value_text, 0)"


def include_name(name: str | None, type_: str) -> bool:
    """Alembic's ``include_name`` part for these objects: they are not in the models."""
    if type_ == "table":
        return name != TABLE
    if type_ == "index":
        return name != GIN_INDEX
    return True


# -- the schema: made by migration 0022 --------------------------------------------------------


def create(conn: Connection) -> None:
    """Make the table, its triggers and its index on PostgreSQL, filled from the tags stored (nothing on SQLite)."""
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql(f"CREATE TABLE {TABLE} (trace_pk bigint PRIMARY KEY, terms bigint[] NOT NULL)")
    # One array per trace and statement: a statement writes a (trace, name) once (unique), so the
    # new terms need no DISTINCT; a trace stored before takes them appended, without duplicates.
    conn.exec_driver_sql(
        f"CREATE FUNCTION {_ADD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {TABLE} AS t (trace_pk, terms) "
        f"SELECT trace_pk, array_agg({_TERM_SQL}) FROM written_tags "
        "WHERE value_text IS NOT NULL GROUP BY trace_pk "
        "ON CONFLICT (trace_pk) DO UPDATE SET terms = "
        "ARRAY(SELECT DISTINCT u FROM unnest(t.terms || excluded.terms) AS u); "
        "RETURN NULL; END $$"
    )
    conn.exec_driver_sql(
        f"CREATE FUNCTION {_FORGET_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"DELETE FROM {TABLE} WHERE trace_pk IN (SELECT id FROM gone_traces); RETURN NULL; END $$"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER tags_terms_insert AFTER INSERT ON tags REFERENCING NEW TABLE AS written_tags "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_ADD_FUNCTION}()"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER tags_terms_update AFTER UPDATE ON tags "
        f"REFERENCING NEW TABLE AS written_tags FOR EACH STATEMENT EXECUTE FUNCTION {_ADD_FUNCTION}()"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER traces_terms_delete AFTER DELETE ON traces REFERENCING OLD TABLE AS gone_traces "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_FORGET_FUNCTION}()"
    )
    fill(conn)
    conn.exec_driver_sql(f"CREATE INDEX {GIN_INDEX} ON {TABLE} USING gin (terms)")


# Every trace's terms computed anew from the tags stored: the migration's and the data generators' bulk path.
FILL_STATEMENTS = (
    f"TRUNCATE {TABLE}",
    f"INSERT INTO {TABLE} (trace_pk, terms) SELECT trace_pk, array_agg({_TERM_SQL}) "
    "FROM tags WHERE value_text IS NOT NULL GROUP BY trace_pk",
)


def fill(conn: Connection) -> None:
    """(Re)compute every trace's terms from the tags stored (``FILL_STATEMENTS``)."""
    for statement in FILL_STATEMENTS:
        conn.exec_driver_sql(statement)


def drop(conn: Connection) -> None:
    """Remove the table, its triggers and functions (the tags stay)."""
    if conn.dialect.name != "postgresql":
        return
    for trigger, on in _TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON {on}")
    for function in (_ADD_FUNCTION, _FORGET_FUNCTION):
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}()")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")


def set_triggers(conn: Connection, enabled: bool) -> None:
    """Switch the triggers off for a bulk load (then ``fill``) and back on: the data generators' path."""
    state = "ENABLE" if enabled else "DISABLE"
    for trigger, on in _TRIGGERS:
        conn.exec_driver_sql(f"ALTER TABLE {on} {state} TRIGGER {trigger}")


# -- reading -----------------------------------------------------------------------------------


def available(session: Session) -> bool:
    """Whether this store has the index of terms (PostgreSQL after migration 0022)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    # Asked once per pooled connection (a catalog look-up costs ~1 ms, a tenth of a fast page):
    # the schema only changes by a migration, which runs before the server takes requests.
    info = session.connection().info
    if _AVAILABLE not in info:
        probe = text("SELECT to_regclass(:name) IS NOT NULL")
        info[_AVAILABLE] = bool(session.execute(probe, {"name": GIN_INDEX}).scalar())
    return bool(info[_AVAILABLE])


def term(project_id: str, name: str, value: str) -> str:
    """The text whose hash stands for ``name == value`` in ``project_id`` (as the triggers hash it)."""
    return SEPARATOR.join((project_id, name, value))


@dataclass(frozen=True, slots=True)
class TermsPlan:
    """A page read from the traces holding all of ``nodes``' terms, below ``start``, newest first."""

    nodes: tuple[Comparison, ...]  # the filter's text ``==`` conditions (two to four)
    start: int


def text_equalities(tree: Node) -> list[Comparison]:
    """The filter's top-level ``&&``-ed ``==`` conditions on text values, in order, each once."""
    terms = tree.operands if isinstance(tree, And) else (tree,)
    return list(
        dict.fromkeys(
            t for t in terms if isinstance(t, Comparison) and t.op == "==" and isinstance(t.value, str)
        )
    )


def plan(
    session: Session,
    project_id: str,
    tree: Node | None,
    order: Order,
    after_pk: int | None,
    max_estimate: float | None = None,
) -> TermsPlan | None:
    """The terms plan of a newest-first page of ``tree``, or ``None`` when a merge or a walk pays more.

    The index pays when the conjunction of the filter's text ``==`` conditions is expected to
    match few traces over all the keys below the page (``MAX_ESTIMATE``, or ``max_estimate``:
    a count, which would otherwise probe up to 200,000 candidates, takes up to
    ``MAX_CANDIDATES``): a merge would then read the conditions' index ranges to the
    project's start. A condition that is rare from the page on is left to the plans that
    start from its index (``None``).
    """
    if tree is None or order != "desc":
        return None
    nodes = text_equalities(tree)[: tagfilter_merge.MAX_MERGED]
    if len(nodes) < 2 or not available(session):
        return None
    start, kths = tagfilter_merge.sample(session, project_id, list(nodes), order, after_pk)
    if start is None or any(k is None for k in kths):
        return None
    estimate = float(start)
    for kth in kths:
        assert kth is not None
        estimate *= tagfilter_merge.SAMPLE / max(start - kth, 1)
    if estimate > (MAX_ESTIMATE if max_estimate is None else max_estimate):
        return None
    return TermsPlan(tuple(nodes), start)


def candidates(session: Session, project_id: str, terms_plan: TermsPlan) -> list[int] | None:
    """The keys below the plan's start of the traces whose terms hold all the plan's, newest first;
    ``None`` when more than ``MAX_CANDIDATES`` do (the GIN intersects, the heap is read for at most
    that many rows, unordered)."""
    hashes = [func.hashtextextended(term(project_id, n.name, str(n.value)), 0) for n in terms_plan.nodes]
    stmt = (
        select(_TERMS.c.trace_pk)
        .where(_TERMS.c.terms.op("@>")(array(hashes, type_=BigInteger)))
        .where(_TERMS.c.trace_pk < terms_plan.start)
        .limit(MAX_CANDIDATES + 1)
    )
    keys = [int(k) for k in session.scalars(stmt)]
    if len(keys) > MAX_CANDIDATES:
        return None
    keys.sort(reverse=True)
    return keys


def keys_subquery(keys: list[int]) -> Any:
    """``keys`` as a fenced subquery with column ``k``, in their order (an ``unnest``, read as given)."""
    unnested = (
        func.unnest(bindparam("candidate_keys", keys, type_=ARRAY(BigInteger)))
        .table_valued("k")
        .render_derived()
    )
    return select(unnested.c.k).offset(0).subquery("candidates")
