"""Reduce passes: claiming new tags, the reducers' state, window states and their results; every SQL statement.

Claiming never polls ``id > last_id`` (on PostgreSQL a slower transaction can commit a
lower id after a faster one, and the poller skips it for good). Instead ingest queues each
grouped tag it inserts in ``reduce_queue`` (in the transaction that writes the tag, see
``write_sqlite`` / ``write_postgresql``), and ``claim_tags`` takes queue rows by deleting them
(``DELETE ... RETURNING``, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) in the caller's
transaction, the one that also writes the merged window states: the claim and the state commit
together or not at all, and a tag committed late is simply queued until the next pass. The
queue holds only what is new and ``tags`` is only read by key, so a claim costs what is new, not
the history. (Before migration 0020 the claim set ``tags.reduced_pass``: on PostgreSQL that
rewrote each claimed row into every index of ``tags``, which grows with history.)

``begin_pass`` locks the reducer's row (``FOR UPDATE`` on PostgreSQL; SQLite's write
transactions are ``BEGIN IMMEDIATE``), so passes of one reducer run one at a time in any
number of processes; window rows are locked too when loaded (``lock_windows``).

A tag replaced by a later upsert (same trace and name, newer ts) is not queued again:
the window keeps the value it first reduced and the replacement is not
counted (see docs/engine.md, "Windows"). Functions take the caller's session first and
answer typed rows; what a state means is ``engine.profile_reducer``'s business.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

import numpy as np
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from raymon.server.store import plain_sql, rollups
from raymon.server.store.coltypes import UTCDateTime, utcnow
from raymon.server.store.models import (
    ReduceQueue,
    ReduceResult,
    ReducerState,
    ReduceSummary,
    ReduceSummaryLayout,
    Tag,
    Trace,
)

_CHUNK = 2000  # ids per IN list (SQLite's bound-parameter limit is far above)


class ClaimedTag(NamedTuple):
    trace_pk: int
    name: str
    type: str
    value: Any  # the text value when there is one, else the number


class TraceContext(NamedTuple):
    first_ts: datetime
    tags: dict[str, Any]  # the trace's tags that slice membership reads (name -> value)


class PassStart(NamedTuple):
    pass_no: int
    spaces: Any  # the kept combinations of the reducer's spaces (JSON), or None


class WindowRow(NamedTuple):
    id: int
    slice: str
    window_start: datetime
    window_end: datetime
    state: Any  # None unless asked for
    result: Any
    n_tags: int
    n_alerts: int
    last_pass: int
    updated_at: datetime | None


class WindowWrite(NamedTuple):
    id: int | None  # None: a new window row
    slice: str
    window_start: datetime
    window_end: datetime
    state: Any
    result: Any
    n_tags: int
    n_alerts: int
    summary: Any = None  # an engine.profile_reducer.WindowSummary (layout, keys, values); None: none kept


class SummaryRow(NamedTuple):
    """A window's dashboard numbers (``reduce_summaries``): no state, no contrast rows."""

    start_s: float  # the window's start, seconds since the epoch (cheaper to read than a datetime)
    n_tags: int
    n_alerts: int
    layout: str
    summary: str  # JSON text: {"values", "alerts"} in the order of the layout's keys


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _ensure_reducer_row(session: Session, project_id: str, reducer: str, now: datetime) -> None:
    """Make the reducer's row if it has none yet (pass 0), so that locking it always locks something.

    Without the row, ``FOR UPDATE`` locks nothing: a first pass could then lock queue rows before
    the reducer's row, against every other pass's order, and deadlock with one (seen on PostgreSQL).
    """
    values = {"project_id": project_id, "reducer": reducer, "last_pass": 0, "updated_at": now}
    dialect_insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    session.execute(dialect_insert(ReducerState).values(**values).on_conflict_do_nothing())


def begin_pass(session: Session, project_id: str, reducer: str, now: datetime) -> PassStart:
    """Lock the reducer's row (made on its first pass), count one more pass and answer its number."""
    _ensure_reducer_row(session, project_id, reducer, now)
    row = session.execute(
        select(ReducerState.last_pass, ReducerState.spaces)
        .where(ReducerState.project_id == project_id, ReducerState.reducer == reducer)
        .with_for_update()
    ).one()
    pass_no = int(row.last_pass) + 1
    session.execute(
        update(ReducerState)
        .where(ReducerState.project_id == project_id, ReducerState.reducer == reducer)
        .values(last_pass=pass_no, updated_at=now)
    )
    return PassStart(pass_no, row.spaces)


def save_spaces(session: Session, project_id: str, reducer: str, spaces: Any) -> None:
    """Store the kept combinations of the reducer's spaces (after ``begin_pass`` in the same transaction)."""
    session.execute(
        update(ReducerState)
        .where(ReducerState.project_id == project_id, ReducerState.reducer == reducer)
        .values(spaces=spaces)
    )


# Run on the driver's own cursor (plain tuples): SQLAlchemy's result rows cost more than the claim
# itself at 20,000 rows a batch (bench/README.md, "Engine"). A queue row whose tag is gone (deleted
# by retention meanwhile) is taken and answers nothing; so is one whose tag moved to another group.
# ``ctid = ANY(ARRAY(...))``: the locked rows deleted by a TID scan (``tag_id IN (...)`` made a
# hash join over the whole queue: a batch would cost the backlog, not itself). Queue rows are
# never updated, so a locked row's ctid stays its own.
_CLAIM_POSTGRESQL = (
    "WITH taken AS (DELETE FROM reduce_queue WHERE ctid = ANY(ARRAY(SELECT ctid FROM reduce_queue "
    "WHERE project_id = %(project_id)s AND grp = %(grp)s LIMIT %(limit)s FOR UPDATE SKIP LOCKED)) "
    "RETURNING tag_id) "
    "SELECT taken.tag_id, t.trace_pk, t.name, t.type, t.value_num, t.value_text FROM taken "
    "LEFT JOIN tags t ON t.id = taken.tag_id AND t.grp = %(grp)s"
)
# SQLite has no DELETE ... RETURNING in a WITH: the write transaction holds the database, so the
# batch is read in key order and its key range deleted after (no other writer can add to it).
_CLAIM_SQLITE = (
    "SELECT q.tag_id, t.trace_pk, t.name, t.type, t.value_num, t.value_text FROM reduce_queue q "
    "LEFT JOIN tags t ON t.id = q.tag_id AND t.grp = q.grp WHERE q.project_id = :project_id "
    "AND q.grp = :grp ORDER BY q.tag_id LIMIT :limit"
)
_TAKE_RANGE_SQLITE = "DELETE FROM reduce_queue WHERE project_id = :project_id AND grp = :grp AND tag_id BETWEEN :first AND :last"


def _driver_rows(session: Session, sqlite_sql: str, postgresql_sql: str, params: dict[str, Any]) -> list[Any]:
    """``fetchall()`` of a statement on the session's connection, through the driver's cursor."""
    postgres = _dialect(session) == "postgresql"
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(postgresql_sql if postgres else sqlite_sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


class TagColumns(Sequence[ClaimedTag]):
    """A batch of tags as columns (NumPy arrays): what a pass folds per column, not per row.

    ``value_num`` is NaN where the column is NULL (``num_null`` tells a NULL from a stored NaN),
    ``value_text`` None where it is NULL. Read as a sequence it answers ``ClaimedTag`` rows (for
    hooks and reducers that take tags one by one); ``ids`` are the rows' ids when read with them,
    ``taken`` how many queue rows the claim that read them took.
    """

    __slots__ = ("ids", "trace_pk", "name", "type", "value_num", "num_null", "value_text", "memo", "taken")

    def __init__(
        self,
        trace_pk: np.ndarray,
        name: np.ndarray,
        type_: np.ndarray,
        value_num: np.ndarray,
        num_null: np.ndarray,
        value_text: np.ndarray,
        ids: np.ndarray | None = None,
    ) -> None:
        self.trace_pk, self.name, self.type = trace_pk, name, type_
        self.value_num, self.num_null, self.value_text = value_num, num_null, value_text
        self.ids = ids
        self.memo: dict[Any, Any] = {}  # what readers computed from the columns (a reducer's classification)
        self.taken = len(trace_pk)  # queue rows a claim took for them (more if some tags were gone)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]], with_ids: bool = False) -> TagColumns:
        """From driver rows ``([id,] trace_pk, name, type, value_num, value_text)``: one transpose, no per-row objects."""
        width = 6 if with_ids else 5
        cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * width
        ids = np.fromiter(cols[0], np.int64, len(rows)) if with_ids else None
        cols = cols[1:] if with_ids else cols
        nums = np.array(cols[3], dtype=object)
        return cls(
            np.fromiter(cols[0], np.int64, len(rows)),
            np.array(cols[1], dtype=object),
            np.array(cols[2], dtype=object),
            np.array(cols[3], dtype=np.float64),  # NULL (None) as NaN
            np.equal(nums, cast(Any, None)).astype(bool, copy=False).reshape(len(rows)),
            np.array(cols[4], dtype=object),
            ids,
        )

    @classmethod
    def concat(cls, parts: Sequence[TagColumns]) -> TagColumns:
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls.from_rows([])
        ids = [p.ids for p in parts if p.ids is not None]
        column = {a: np.concatenate([getattr(p, a) for p in parts]) for a in _COLUMNS}
        joined = cls(
            column["trace_pk"],
            column["name"],
            column["type"],
            column["value_num"],
            column["num_null"],
            column["value_text"],
            np.concatenate(ids) if len(ids) == len(parts) else None,
        )
        joined.taken = sum(p.taken for p in parts)
        return joined

    def __len__(self) -> int:
        return len(self.trace_pk)

    def _row(self, i: int) -> ClaimedTag:
        txt = self.value_text[i]
        value = txt if txt is not None else None if self.num_null[i] else float(self.value_num[i])
        return ClaimedTag(int(self.trace_pk[i]), self.name[i], self.type[i], value)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        return self._row(range(len(self))[i])

    def __iter__(self) -> Iterator[ClaimedTag]:
        for pk, name, type_, num, null, txt in zip(
            self.trace_pk.tolist(),
            self.name.tolist(),
            self.type.tolist(),
            self.value_num.tolist(),
            self.num_null.tolist(),
            self.value_text.tolist(),
            strict=True,
        ):
            yield ClaimedTag(pk, name, type_, txt if txt is not None else None if null else num)


_COLUMNS = ("trace_pk", "name", "type", "value_num", "num_null", "value_text")


def claim_tags(session: Session, project_id: str, group: str, pass_no: int, limit: int) -> TagColumns:
    """Take up to ``limit`` queued tags of ``group`` (``pass_no``: the taking pass); taken if the transaction commits.

    Taking deletes their ``reduce_queue`` rows; ``tags`` is only read. On PostgreSQL queue rows
    another transaction holds (a concurrent pass's) are skipped, not waited for. Fewer than
    ``limit`` tags answered means the queue had no more (queue rows of deleted tags are taken
    and answer nothing, so a batch may answer fewer while more remain; ``taken`` on the answer counts the queue rows taken). Answered as columns (a
    sequence of ``ClaimedTag``).
    """
    params: dict[str, Any] = {"project_id": project_id, "grp": group, "limit": limit}
    rows = _driver_rows(session, _CLAIM_SQLITE, _CLAIM_POSTGRESQL, params)
    if rows and _dialect(session) != "postgresql":
        params |= {"first": rows[0][0], "last": rows[-1][0]}
        _driver_rows(session, _TAKE_RANGE_SQLITE, "", params)
    columns = TagColumns.from_rows([r[1:] for r in rows if r[1] is not None])
    columns.taken = len(rows)
    return columns


_PEEK = (
    "SELECT t.id, t.trace_pk, t.name, t.type, t.value_num, t.value_text FROM reduce_queue q "
    "JOIN tags t ON t.id = q.tag_id AND t.grp = q.grp WHERE q.project_id = :project_id AND q.grp = :grp "
    "LIMIT :limit"
)
_PEEK_POSTGRESQL = (
    _PEEK.replace(":project_id", "%(project_id)s").replace(":grp", "%(grp)s").replace(":limit", "%(limit)s")
)


def peek_tags(session: Session, project_id: str, group: str, limit: int) -> TagColumns:
    """Up to ``limit`` queued tags of ``group`` (with their ``ids``), read without taking them.

    For a pass prepared outside the write lock: ``take_tags`` takes them later, in the
    transaction that writes what was computed from them.
    """
    rows = _driver_rows(
        session, _PEEK, _PEEK_POSTGRESQL, {"project_id": project_id, "grp": group, "limit": limit}
    )
    return TagColumns.from_rows(rows, with_ids=True)


def untaken(session: Session, project_id: str, group: str, tag_ids: Sequence[int]) -> int:
    """How many of ``tag_ids`` are still there and queued (queue rows and tags locked for update on PostgreSQL)."""
    n = 0
    for chunk in _chunks(sorted(tag_ids)):
        stmt = (
            select(ReduceQueue.tag_id)
            .join(Tag, Tag.id == ReduceQueue.tag_id)
            .where(
                ReduceQueue.project_id == project_id,
                ReduceQueue.grp == group,
                ReduceQueue.tag_id.in_(chunk),
                Tag.grp == group,
            )
        )
        if _dialect(session) == "postgresql":
            stmt = stmt.with_for_update()
        n += len(session.execute(stmt).all())
    return n


def take_tags(session: Session, project_id: str, group: str, tag_ids: Sequence[int], pass_no: int) -> int:
    """Take ``tag_ids`` (those still queued) for pass ``pass_no``: delete their queue rows; answer how many."""
    n = 0
    for chunk in _chunks(sorted(tag_ids)):
        result = session.execute(
            delete(ReduceQueue).where(
                ReduceQueue.project_id == project_id, ReduceQueue.grp == group, ReduceQueue.tag_id.in_(chunk)
            )
        )
        n += int(result.rowcount)  # type: ignore[attr-defined]
    return n


def reducer_position(
    session: Session, project_id: str, reducer: str, lock: bool = False, now: datetime | None = None
) -> PassStart:
    """The reducer's last pass number (0 before the first) and its kept space combinations.

    ``lock``: for update, the row made first if missing (at ``now``), so a pass takes the
    reducer's lock before any other, also on the reducer's first pass.
    """
    stmt = select(ReducerState.last_pass, ReducerState.spaces).where(
        ReducerState.project_id == project_id, ReducerState.reducer == reducer
    )
    if lock:
        _ensure_reducer_row(session, project_id, reducer, now or utcnow())
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    return PassStart(0, None) if row is None else PassStart(int(row.last_pass), row.spaces)


def count_unclaimed(session: Session, project_id: str, group: str) -> int:
    """How many tags of ``group`` no pass has taken yet (queued, and still there)."""
    return int(
        session.execute(
            text(
                "SELECT count(*) FROM reduce_queue q JOIN tags t ON t.id = q.tag_id AND t.grp = q.grp "
                "WHERE q.project_id = :p AND q.grp = :g"
            ),
            {"p": project_id, "g": group},
        ).scalar_one()
    )


def forget_tags(session: Session, project_id: str, tags: Iterable[tuple[str, int]]) -> None:
    """Delete the queue rows of ``tags`` ((group, tag id) pairs of tags being deleted), by key."""
    by_group: dict[str, list[int]] = {}
    for group, tag_id in tags:
        by_group.setdefault(group, []).append(tag_id)
    for group, ids in sorted(by_group.items()):
        for chunk in _chunks(sorted(ids)):
            session.execute(
                delete(ReduceQueue).where(
                    ReduceQueue.project_id == project_id,
                    ReduceQueue.grp == group,
                    ReduceQueue.tag_id.in_(chunk),
                )
            )


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def trace_contexts(
    session: Session, trace_pks: Iterable[int], tag_names: Iterable[str]
) -> dict[int, TraceContext]:
    """For each trace: its ``first_ts`` and those of its tags named in ``tag_names`` (one query per chunk each)."""
    pks = sorted(set(trace_pks))
    names = sorted(set(tag_names))
    out: dict[int, TraceContext] = {}
    for chunk in _chunks(pks):
        for pk, first_ts in session.execute(select(Trace.id, Trace.first_ts).where(Trace.id.in_(chunk))):
            out[int(pk)] = TraceContext(first_ts, {})
        if not names:
            continue
        rows = session.execute(
            select(Tag.trace_pk, Tag.name, Tag.value_num, Tag.value_text).where(
                Tag.trace_pk.in_(chunk), Tag.name.in_(names)
            )
        )
        for pk, name, num, txt in rows:
            context = out.get(int(pk))
            if context is not None:
                context.tags[name] = txt if txt is not None else num
    return out


_WINDOW_COLUMNS = (
    ReduceResult.id,
    ReduceResult.slice,
    ReduceResult.window_start,
    ReduceResult.window_end,
    ReduceResult.result,
    ReduceResult.n_tags,
    ReduceResult.n_alerts,
    ReduceResult.last_pass,
    ReduceResult.updated_at,
)


def _window_row(r: Any, with_state: bool) -> WindowRow:
    return WindowRow(
        int(r.id),
        r.slice,
        r.window_start,
        r.window_end,
        r.state if with_state else None,
        r.result,
        int(r.n_tags),
        int(r.n_alerts),
        int(r.last_pass),
        r.updated_at,
    )


def lock_windows(
    session: Session, project_id: str, reducer: str, window_starts: Iterable[datetime], lock: bool = True
) -> dict[tuple[str, datetime], WindowRow]:
    """The stored windows (every slice) starting at ``window_starts``, with their states, locked for update (``lock``)."""
    starts = sorted(set(window_starts))
    out: dict[tuple[str, datetime], WindowRow] = {}
    for i in range(0, len(starts), _CHUNK):
        stmt = select(*_WINDOW_COLUMNS, ReduceResult.state).where(
            ReduceResult.project_id == project_id,
            ReduceResult.reducer == reducer,
            ReduceResult.window_start.in_(starts[i : i + _CHUNK]),
        )
        rows = session.execute(stmt.with_for_update() if lock else stmt)
        for r in rows:
            out[(r.slice, r.window_start)] = _window_row(r, True)
    return out


def save_windows(
    session: Session,
    project_id: str,
    reducer: str,
    writes: Sequence[WindowWrite],
    pass_no: int,
    now: datetime,
) -> None:
    """Insert the new windows and update the stored ones (by id) of one pass.

    With their summaries come the dashboard rollups of the buckets they fall in
    (``store.rollups.refresh``: a few rows read and rewritten per slice touched).
    """
    new = [
        {
            "project_id": project_id,
            "reducer": reducer,
            "slice": w.slice,
            "window_start": w.window_start,
            "window_end": w.window_end,
            "state": w.state,
            "result": w.result,
            "n_tags": w.n_tags,
            "n_alerts": w.n_alerts,
            "last_pass": pass_no,
            "created_at": now,
            "updated_at": now,
        }
        for w in writes
        if w.id is None
    ]
    changed = [
        {
            "id": w.id,
            "state": w.state,
            "result": w.result,
            "n_tags": w.n_tags,
            "n_alerts": w.n_alerts,
            "last_pass": pass_no,
            "updated_at": now,
        }
        for w in writes
        if w.id is not None
    ]
    summaries: list[dict[str, Any] | None] = []
    if new:
        inserted = session.execute(
            insert(ReduceResult).returning(ReduceResult.id, sort_by_parameter_order=True), new
        ).all()
        fresh = [w for w in writes if w.id is None]
        summaries += [
            _summary_values(project_id, reducer, row.id, w) for row, w in zip(inserted, fresh, strict=True)
        ]
    if changed:
        session.execute(update(ReduceResult), changed)
        summaries += [_summary_values(project_id, reducer, w.id, w) for w in writes if w.id is not None]
    kept = [s for s in summaries if s is not None]
    if not kept:
        return
    dialect_insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    layouts = {w.summary.layout: w.summary.keys for w in writes if w.summary is not None}
    session.execute(
        dialect_insert(ReduceSummaryLayout).on_conflict_do_nothing(),
        [{"project_id": project_id, "reducer": reducer, "layout": k, "keys": v} for k, v in layouts.items()],
    )
    stmt = dialect_insert(ReduceSummary)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[
                ReduceSummary.project_id,
                ReduceSummary.reducer,
                ReduceSummary.slice,
                ReduceSummary.window_start,
            ],
            set_={
                "result_id": stmt.excluded.result_id,
                "window_end": stmt.excluded.window_end,
                "n_tags": stmt.excluded.n_tags,
                "n_alerts": stmt.excluded.n_alerts,
                "layout": stmt.excluded.layout,
                "summary": stmt.excluded.summary,
            },
        ),
        kept,
    )
    rollups.refresh(
        session, project_id, reducer, [(s["slice"], s["window_start"], s["window_end"]) for s in kept]
    )


def _summary_values(project_id: str, reducer: str, result_id: int, w: WindowWrite) -> dict[str, Any] | None:
    if w.summary is None:
        return None
    return {
        "project_id": project_id,
        "reducer": reducer,
        "slice": w.slice,
        "window_start": w.window_start,
        "result_id": result_id,
        "window_end": w.window_end,
        "n_tags": w.n_tags,
        "n_alerts": w.n_alerts,
        "layout": w.summary.layout,
        "summary": w.summary.values,
    }


_SUMMARIES = (
    "SELECT {epoch[window_start]}, n_tags, n_alerts, layout, summary FROM reduce_summaries "
    "WHERE project_id = {param[p]} AND reducer = {param[r]} AND slice = {param[s]}{range} "
    "ORDER BY window_start"
)


def summaries(
    session: Session,
    project_id: str,
    reducer: str,
    slicestr: str,
    begin: datetime | None = None,
    end: datetime | None = None,
) -> list[SummaryRow]:
    """The dashboard numbers of one slice's windows starting in ``[begin, end)``, oldest first.

    Without the window's end (its start plus the reducer's interval): a day of 1-minute windows
    is 1,440 rows, and each column read costs. Read through the driver's cursor with plain SQL
    (SQLAlchemy's statement building and result rows cost more than the read itself here).
    """
    params: dict[str, Any] = {"p": project_id, "r": reducer, "s": slicestr}
    where = ""
    if begin is not None:
        where += " AND window_start >= {param[b]}"
        params["b"] = plain_sql.time_param(session, begin)
    if end is not None:
        where += " AND window_start < {param[e]}"
        params["e"] = plain_sql.time_param(session, end)
    statement = plain_sql.sql(session, _SUMMARIES.replace("{range}", where))
    return [
        SummaryRow(round(float(t), 3), int(n_tags), int(n_alerts), layout, summary)
        for t, n_tags, n_alerts, layout, summary in plain_sql.rows(session, statement, params)
    ]


_LAYOUTS = (
    "SELECT layout, keys FROM reduce_summary_layouts WHERE project_id = {param[p]} AND reducer = {param[r]}"
)


def summary_layouts(session: Session, project_id: str, reducer: str) -> dict[str, str]:
    """What the reducer's summaries' values are: layout -> its keys' JSON text."""
    statement = plain_sql.sql(session, _LAYOUTS)
    return dict(plain_sql.rows(session, statement, {"p": project_id, "r": reducer}))


def _first_value(session: Session, statement: str, params: dict[str, Any]) -> Any:
    """The first column of the first row (None: no row) of a one-row seek."""
    found = plain_sql.rows(session, statement, params)
    return found[0][0] if found else None


# Seeks are written ``ORDER BY ... LIMIT 1``, never ``min()``/``max()``: with stale statistics
# (a table analysed while nearly empty says "1 row") PostgreSQL plans ``min()`` as an aggregate
# over every matching index entry, not as a descent (seen: 80-120 ms a seek over a week of
# windows, ~700 ms a dashboard page), while the ordered LIMIT is an index descent whatever the estimate.
_FIRST_SLICE = (
    "SELECT slice FROM reduce_summaries WHERE project_id = {param[p]} AND reducer = {param[r]} "
    "ORDER BY slice LIMIT 1"
)
_NEXT_SLICE = (
    "SELECT slice FROM reduce_summaries "
    "WHERE project_id = {param[p]} AND reducer = {param[r]} AND slice > {param[s]} ORDER BY slice LIMIT 1"
)


def summary_slices(session: Session, project_id: str, reducer: str) -> list[str]:
    """The slices the reducer has windows of (``""`` the global one), by name.

    One index seek per slice (the next name after the last), not a scan of every window; plain
    SQL on the driver's cursor (a dozen SQLAlchemy statements cost more than the seeks).
    """
    statement = plain_sql.sql(session, _NEXT_SLICE)
    found: list[str] = []
    params: dict[str, Any] = {"p": project_id, "r": reducer, "s": ""}
    first = _first_value(session, plain_sql.sql(session, _FIRST_SLICE), params)
    if first is None:
        return found
    found.append(first)
    while True:
        params["s"] = found[-1]
        name = _first_value(session, statement, params)
        if name is None:
            return found
        found.append(name)


_FIRST_START = (
    "SELECT window_start FROM reduce_summaries "
    "WHERE project_id = {param[p]} AND reducer = {param[r]} AND slice = {param[s]} ORDER BY window_start LIMIT 1"
)


def summary_first(session: Session, project_id: str, reducer: str, slicestr: str) -> datetime | None:
    """When the slice's first window starts (None: it has none); one index seek."""
    found = _first_value(
        session, plain_sql.sql(session, _FIRST_START), {"p": project_id, "r": reducer, "s": slicestr}
    )
    return None if found is None else UTCDateTime().process_result_value(found, session.get_bind().dialect)


_LAST_END = (
    "SELECT window_end FROM reduce_summaries "
    "WHERE project_id = {param[p]} AND reducer = {param[r]} AND slice = {param[s]} "
    "ORDER BY window_start DESC LIMIT 1"
)


def summary_span(session: Session, project_id: str, reducer: str) -> tuple[datetime | None, datetime | None]:
    """The first window's start and the last window's end of the reducer (Nones: no window yet).

    Read from the global slice (every trace is in it, so its windows span all others') by two
    index seeks: a min/max over every slice's windows scanned them all (~60 ms a page for a week
    of 11 slices on PostgreSQL, which has no skip scan). A reducer whose global slice has no
    window yet, which no pass writes, falls back to that scan.
    """
    first = summary_first(session, project_id, reducer, "")
    if first is not None:
        found = _first_value(
            session, plain_sql.sql(session, _LAST_END), {"p": project_id, "r": reducer, "s": ""}
        )
        return first, UTCDateTime().process_result_value(found, session.get_bind().dialect)
    row = session.execute(
        select(func.min(ReduceSummary.window_start), func.max(ReduceSummary.window_end)).where(
            ReduceSummary.project_id == project_id, ReduceSummary.reducer == reducer
        )
    ).one()
    return row[0], row[1]


def windows(
    session: Session,
    project_id: str,
    reducer: str,
    slicestr: str | None = None,
    begin: datetime | None = None,
    end: datetime | None = None,
    with_state: bool = False,
    limit: int | None = None,
) -> list[WindowRow]:
    """The reducer's windows (of one slice, or all) starting in ``[begin, end)``, oldest first."""
    columns = (*_WINDOW_COLUMNS, ReduceResult.state) if with_state else _WINDOW_COLUMNS
    stmt = select(*columns).where(ReduceResult.project_id == project_id, ReduceResult.reducer == reducer)
    if slicestr is not None:
        stmt = stmt.where(ReduceResult.slice == slicestr)
    if begin is not None:
        stmt = stmt.where(ReduceResult.window_start >= begin)
    if end is not None:
        stmt = stmt.where(ReduceResult.window_start < end)
    stmt = stmt.order_by(ReduceResult.window_start, ReduceResult.slice)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_window_row(r, with_state) for r in session.execute(stmt)]


def reducers(session: Session, project_id: str) -> list[str]:
    """The reducers that ran at least one pass in the project."""
    return list(
        session.scalars(
            select(ReducerState.reducer)
            .where(ReducerState.project_id == project_id)
            .order_by(ReducerState.reducer)
        )
    )
