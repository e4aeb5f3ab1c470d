"""Reading what was logged: trace lists with filters and keyset pagination, one trace, objects, tag stats.

The routes in ``server/api`` call these functions with typed, validated
arguments and send back what they answer; the web UI and the CLI use them
too. They only read (never write or delete) and never parse HTTP.

Pagination is by keyset, never by offset: a cursor carries the sort key of
the last row of a page, so the next page starts right after it with an index
range scan, at the same cost on page 1 and page 10,000, and traces that
arrive while someone pages through (newer than the first page) neither
shift rows into a later page nor repeat them. Traces are ordered by their
first timestamp (``first_ts``, when the request began), then by their
surrogate id.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import ColumnElement, Select, exists, func, literal, select, tuple_
from sqlalchemy.orm import Session, aliased

from raymon.server.services import filter_plan, tagfilter
from raymon.server.services.errors import InvalidInputError, NotFoundError
from raymon.server.store.db import Database
from raymon.server.store.models import DataObject, Tag, TextLine, Trace

MAX_PAGE = 1000
DEFAULT_PAGE = 250
CURSOR_VERSION = 1

Order = Literal["asc", "desc"]
Sort = Literal["received", "time"]
SORTS: tuple[str, ...] = ("received", "time")
# Choosing which == condition to read a page from: count at most this many index entries of each.
DRIVER_COUNT_CAP = 2_000
DRIVER_CANDIDATES_COUNTED = 4
# Reads an object body kept in the object store (not inline) by its store key.
BodyReader = Callable[[str], bytes]


class QueryError(InvalidInputError):
    """A query parameter the backend cannot use; ``param`` names it (answered as HTTP 422)."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"{param}: {message}")


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Which traces: a tag expression, a time range on ``first_ts`` (``begin <= t < end``), a tag type, a text."""

    expression: str | None = None
    begin: datetime | None = None
    end: datetime | None = None
    tag_type: str | None = None
    text: str | None = None


# -- cursors -------------------------------------------------------------------------------------
def encode_cursor(kind: str, order: Order, *key: datetime | int | str) -> str:
    """An opaque cursor holding a list's kind, order and the sort key of a page's last row."""
    parts = [k.astimezone(UTC).isoformat() if isinstance(k, datetime) else k for k in key]
    payload = orjson.dumps([CURSOR_VERSION, kind, order, *parts])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _cursor_parts(cursor: str, kind: str, order: Order, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor from this API") from exc
    if (
        not isinstance(parts, list)
        or len(parts) != 3 + size
        or parts[0] != CURSOR_VERSION
        or parts[1] != kind
    ):
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor for this list")
    if parts[2] != order:
        raise QueryError("cursor", f"the cursor was made for order={parts[2]}, not order={order}")
    return parts[3:]


def decode_cursor(cursor: str, kind: str, order: Order) -> tuple[datetime, Any]:
    """The (time, id) sort key a cursor carries; ``QueryError`` for anything this server did not make."""
    ts_text, pk = _cursor_parts(cursor, kind, order, 2)
    try:  # in range once converted to UTC, or the query would overflow (a forged cursor)
        ts = datetime.fromisoformat(ts_text) if isinstance(ts_text, str) else None
        ts = ts.astimezone(UTC) if ts is not None and ts.tzinfo is not None else None
    except (ValueError, OverflowError):
        ts = None
    if kind == "trace":
        good_pk = type(pk) is int and 0 <= pk < 2**63
    else:
        good_pk = type(pk) is str
    if ts is None or ts.tzinfo is None or not good_pk:
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor for this list")
    return ts, pk


def decode_id_cursor(cursor: str, kind: str, order: Order) -> int:
    """The integer id a cursor carries (lists in received order)."""
    (pk,) = _cursor_parts(cursor, kind, order, 1)
    if type(pk) is not int or not 0 <= pk < 2**63:
        raise QueryError("cursor", f"{cursor[:60]!r} is not a cursor for this list")
    return pk


def _after(columns: tuple[Any, Any], key: tuple[datetime, Any], order: Order) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in ``order``: one row-value comparison, so the index range does the work."""
    ts_col, pk_col = columns
    bound = tuple_(literal(key[0], ts_col.type), literal(key[1], pk_col.type))
    if order == "desc":
        return tuple_(ts_col, pk_col) < bound
    return tuple_(ts_col, pk_col) > bound


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise QueryError("limit", f"must be between 1 and {MAX_PAGE}, got {limit}")
    return limit


# -- filters -------------------------------------------------------------------------------------
def parse_filter(expression: str | None) -> tagfilter.Node | None:
    """The parsed tag expression (``None`` when blank); ``QueryError`` names the position of a fault."""
    if expression is None or not expression.strip():
        return None
    try:
        return tagfilter.parse(expression)
    except tagfilter.TagFilterError as exc:
        raise QueryError("filter", str(exc)) from exc


def trace_conditions(db: Database, project_id: str, flt: TraceFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions on ``traces`` for ``flt`` (the project's traces only)."""
    conditions: list[ColumnElement[bool]] = [Trace.project_id == project_id]
    tree = parse_filter(flt.expression)
    if tree is not None:
        collation = "C" if db.is_postgresql else None
        conditions.append(tagfilter.to_clause(tree, project_id, collation, fenced_probes=db.is_postgresql))
    conditions += _time_conditions(flt)
    conditions += _other_probes(project_id, flt, Trace.id)
    return conditions


def _time_conditions(flt: TraceFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.begin is not None:
        conditions.append(Trace.first_ts >= _utc("begin", flt.begin))
    if flt.end is not None:
        conditions.append(Trace.first_ts < _utc("end", flt.end))
    return conditions


def _other_probes(project_id: str, flt: TraceFilter, trace_key: Any) -> list[ColumnElement[bool]]:
    """The tag type and text conditions, as probes of the trace whose key is ``trace_key``."""
    conditions: list[ColumnElement[bool]] = []
    if flt.tag_type:
        probe = select(literal(1)).where(
            Tag.trace_pk == trace_key, Tag.project_id == project_id, Tag.type == flt.tag_type
        )
        conditions.append(exists(probe))
    if flt.text:
        pattern = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        probe = select(literal(1)).where(
            TextLine.trace_pk == trace_key, TextLine.message.ilike(pattern, escape="\\")
        )
        conditions.append(exists(probe))
    return conditions


def _utc(param: str, value: datetime) -> datetime:
    """Naive times are taken as UTC (the store keeps UTC only)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- traces --------------------------------------------------------------------------------------
def list_traces(
    db: Database,
    project_id: str,
    flt: TraceFilter,
    *,
    sort: Sort = "received",
    order: Order = "desc",
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    with_tags: bool = True,
) -> dict[str, Any]:
    """One page of traces: ``{"traces": [{"trace_id", "first_ts", "last_ts", "tags"}], "next_cursor"}``.

    ``sort="received"`` (the default) orders traces by when the backend first
    received them; ``sort="time"`` by their earliest logged timestamp (``first_ts``).
    ``next_cursor`` is ``None`` on the last page.
    """
    check_limit(limit)
    if sort not in SORTS:
        raise QueryError("sort", f"must be one of {list(SORTS)}, got {sort!r}")
    with db.session() as session:
        if sort == "time":
            rows = _page_by_time(db, session, project_id, flt, order, limit, cursor)
        else:
            rows = _page_by_received(db, session, project_id, flt, order, limit, cursor)
        more = len(rows) > limit
        rows = rows[:limit]
        tags = tags_by_trace(session, project_id, [row.id for row in rows]) if with_tags else {}
    traces = [
        {
            "trace_id": row.trace_id,
            "first_ts": _iso(row.first_ts),
            "last_ts": _iso(row.last_ts),
            **({"tags": tags.get(row.id, [])} if with_tags else {}),
        }
        for row in rows
    ]
    next_cursor = None
    if more and sort == "time":
        next_cursor = encode_cursor("trace", order, rows[-1].first_ts, rows[-1].id)
    elif more:
        next_cursor = encode_cursor("received", order, rows[-1].id)
    return {"traces": traces, "next_cursor": next_cursor}


def _page_by_time(
    db: Database,
    session: Session,
    project_id: str,
    flt: TraceFilter,
    order: Order,
    limit: int,
    cursor: str | None,
) -> list[Any]:
    """Walk the project's traces by (first_ts, id) and test each one's tags: cost ~ page / share matching."""
    conditions = trace_conditions(db, project_id, flt)
    if cursor:
        conditions.append(_after((Trace.first_ts, Trace.id), decode_cursor(cursor, "trace", order), order))
    collation = "C" if db.is_postgresql else None
    hint = filter_plan.rare_tag_hint(session, project_id, parse_filter(flt.expression), collation)
    ts_key: Any = Trace.first_ts
    if hint and db.is_sqlite:
        # Sort by an expression the time index cannot deliver, so that SQLite (without planner
        # statistics: the server never runs ANALYZE) starts from the rare tag's few traces
        # instead of walking the whole project in time order (1M traces: 210 ms -> 15 ms).
        ts_key = func.coalesce(Trace.first_ts, Trace.first_ts)
    sort = (ts_key.desc(), Trace.id.desc()) if order == "desc" else (ts_key, Trace.id)
    stmt = (
        select(Trace.id, Trace.trace_id, Trace.first_ts, Trace.last_ts)
        .where(*conditions, *hint)
        .order_by(*sort)
        .limit(limit + 1)
    )
    return list(session.execute(stmt).all())


def _page_by_received(
    db: Database,
    session: Session,
    project_id: str,
    flt: TraceFilter,
    order: Order,
    limit: int,
    cursor: str | None,
) -> list[Any]:
    """Traces in the order they were first received (their surrogate id), found from a tag index when possible.

    With an ``==`` condition among the filter's top-level ``&&`` terms (the rarest of
    them, by a capped count), the page is read from that condition's index, which is
    ordered by trace id within one value: the other conditions are probed only for
    those traces, and the walk stops after one page. Otherwise the project's traces
    are walked by id and probed. Either way the cost follows the page, not the project.
    """
    tree = parse_filter(flt.expression)
    collation = "C" if db.is_postgresql else None
    after = decode_id_cursor(cursor, "received", order) if cursor else None
    driver, rest = _split_driver(session, project_id, tree, collation)
    conditions: list[ColumnElement[bool]]
    if driver is not None:
        by_value = aliased(Tag, name="driver")
        value = by_value.value_num if isinstance(driver.value, float) else by_value.value_text
        key: Any = by_value.trace_pk
        conditions = [by_value.project_id == project_id, by_value.name == driver.name, value == driver.value]
        time_conditions = _time_conditions(flt)
        if time_conditions:
            conditions.append(exists(select(literal(1)).where(Trace.id == key, *time_conditions)))
    else:
        key = Trace.id
        conditions = [Trace.project_id == project_id, *_time_conditions(flt)]
    if rest is not None:
        conditions.append(
            tagfilter.to_clause(rest, project_id, collation, fenced_probes=db.is_postgresql, trace_key=key)
        )
    conditions += _other_probes(project_id, flt, key)
    if after is not None:
        conditions.append(key < after if order == "desc" else key > after)
    page = select(key).where(*conditions).order_by(key.desc() if order == "desc" else key).limit(limit + 1)
    pks = list(session.scalars(page))
    if not pks:
        return []
    found = {
        row.id: row
        for row in session.execute(
            select(Trace.id, Trace.trace_id, Trace.first_ts, Trace.last_ts).where(Trace.id.in_(pks))
        )
    }
    return [found[pk] for pk in pks if pk in found]


def _split_driver(
    session: Session, project_id: str, tree: tagfilter.Node | None, collation: str | None
) -> tuple[tagfilter.Comparison | None, tagfilter.Node | None]:
    """The ``==`` condition to read the page from (the rarest top-level one) and what is left to probe."""
    if tree is None:
        return None, None
    terms = list(tree.operands) if isinstance(tree, tagfilter.And) else [tree]
    candidates = [t for t in terms if isinstance(t, tagfilter.Comparison) and t.op == "=="]
    if not candidates:
        return None, tree
    driver = candidates[0]
    if len(candidates) > 1:
        counts = []
        for node in candidates[:DRIVER_CANDIDATES_COUNTED]:
            capped = (
                select(literal(1))
                .where(*tagfilter.tag_row_conditions(node, project_id, collation))
                .limit(DRIVER_COUNT_CAP + 1)
                .subquery()
            )
            counts.append((int(session.scalar(select(func.count()).select_from(capped)) or 0), node))
        driver = min(counts, key=lambda c: c[0])[1]
    rest = [t for t in terms if t is not driver]
    if not rest:
        return driver, None
    return driver, rest[0] if len(rest) == 1 else tagfilter.And(tuple(rest))


def count_traces(db: Database, project_id: str, flt: TraceFilter) -> int:
    """How many traces ``flt`` selects (a full count: for small projects and tests, not for paging)."""
    stmt = select(func.count()).select_from(Trace).where(*trace_conditions(db, project_id, flt))
    with db.session() as session:
        return int(session.scalar(stmt) or 0)


def tags_by_trace(
    session: Session, project_id: str, trace_pks: Sequence[int], with_ts: bool = False
) -> dict[int, list[dict[str, Any]]]:
    """The tags of several traces (by surrogate key) in one query, each trace's sorted by name.

    Without ``with_ts`` the tags' own timestamps are left out: the trace list shows
    hundreds of traces and formatting thousands of timestamps would double its cost.
    """
    out: dict[int, list[dict[str, Any]]] = {}
    if not trace_pks:
        return out
    columns: list[Any] = [Tag.trace_pk, Tag.name, Tag.type, Tag.grp, Tag.value_num, Tag.value_text]
    # The project is checked with a concatenation SQLite cannot answer from an index: a plain
    # ``project_id = ?`` made SQLite without planner statistics (the server never runs ANALYZE)
    # read every tag of the project through (project_id, ts) instead of the 10 per trace through
    # (trace_pk, name): 1.9 s instead of 1 ms for a page at 1M traces (bench/server_trace_list.py).
    stmt = (
        select(*columns, *([Tag.ts] if with_ts else []))
        .where(Tag.trace_pk.in_(trace_pks), Tag.project_id.concat("") == project_id)
        .order_by(Tag.trace_pk, Tag.name)
    )
    for row in session.connection().execute(stmt):
        tag = {"name": row[1], "value": tag_value(row[4], row[5]), "type": row[2], "group": row[3]}
        if with_ts:
            tag["ts"] = _iso(row[6])
        out.setdefault(row[0], []).append(tag)
    return out


def tag_value(value_num: float | None, value_text: str | None) -> str | int | float | None:
    """A stored tag value as the user logged it: text, or a number (whole numbers as int)."""
    if value_text is not None:
        return value_text
    if value_num is not None and value_num.is_integer() and abs(value_num) < 2**53:
        return int(value_num)
    return value_num


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def _trace_row(session: Session, project_id: str, trace_id: str) -> Any:
    row = session.execute(
        select(Trace.id, Trace.trace_id, Trace.first_ts, Trace.last_ts).where(
            Trace.project_id == project_id, Trace.trace_id == trace_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"trace {trace_id!r} not found in project {project_id!r}")
    return row


def trace_tags(db: Database, project_id: str, trace_id: str) -> list[dict[str, Any]]:
    """The tags of one trace, by name: ``[{"name", "value", "type", "group", "ts"}]``."""
    with db.session() as session:
        row = _trace_row(session, project_id, trace_id)
        return tags_by_trace(session, project_id, [row.id], with_ts=True).get(row.id, [])


def get_trace(db: Database, project_id: str, trace_id: str) -> dict[str, Any]:
    """One trace with its tags, texts (in time order) and object references (no bodies)."""
    with db.session() as session:
        row = _trace_row(session, project_id, trace_id)
        tags = tags_by_trace(session, project_id, [row.id], with_ts=True).get(row.id, [])
        texts = session.execute(
            select(TextLine.ts, TextLine.level, TextLine.message)
            .where(TextLine.trace_pk == row.id)
            .order_by(TextLine.ts, TextLine.id)
        ).all()
        objects = session.execute(
            _object_meta_select().where(DataObject.trace_pk == row.id).order_by(DataObject.ts, DataObject.id)
        ).all()
    return {
        "trace_id": row.trace_id,
        "first_ts": _iso(row.first_ts),
        "last_ts": _iso(row.last_ts),
        "tags": tags,
        "texts": [{"ts": _iso(t.ts), "level": t.level, "message": t.message} for t in texts],
        "objects": [_object_meta_json(o) for o in objects],
    }


def download_trace(db: Database, read_body: BodyReader, project_id: str, trace_id: str) -> Iterator[bytes]:
    """One whole trace as JSON bytes, every object with its data under ``obj_data``; streamed object by object."""
    trace = get_trace(db, project_id, trace_id)
    objects = trace.pop("objects")
    head = orjson.dumps(trace)
    yield head[:-1] + b',"objects":['
    for i, meta in enumerate(objects):
        body = object_body(db, read_body, project_id, meta["obj_id"])
        yield (b"," if i else b"") + object_json(meta, body)
    yield b"]}"


# -- objects -------------------------------------------------------------------------------------
def _object_meta_select() -> Select[str, str, str, datetime, str, int]:
    return select(
        DataObject.id, Trace.trace_id, DataObject.ref, DataObject.ts, DataObject.data_type, DataObject.size
    ).join(Trace, Trace.id == DataObject.trace_pk)


def _object_meta_json(row: Any) -> dict[str, Any]:
    return {
        "obj_id": row.id,
        "trace_id": row.trace_id,
        "ref": row.ref,
        "ts": _iso(row.ts),
        "data_type": row.data_type,
        "size": row.size,
    }


def object_json(meta: dict[str, Any], body: bytes) -> bytes:
    """``meta`` as a JSON object with the stored jcr spliced in as ``obj_data`` (never parsed again)."""
    return orjson.dumps(meta)[:-1] + b',"obj_data":' + body + b"}"


def list_objects(
    db: Database,
    project_id: str,
    *,
    trace_id: str | None = None,
    ref: str | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Object references, newest first: ``{"objects": [...], "next_cursor"}``."""
    check_limit(limit)
    stmt = _object_meta_select().where(DataObject.project_id == project_id)
    if trace_id is not None:
        stmt = stmt.where(Trace.project_id == project_id, Trace.trace_id == trace_id)
    if ref is not None:
        stmt = stmt.where(DataObject.ref == ref)
    if cursor:
        stmt = stmt.where(
            _after((DataObject.ts, DataObject.id), decode_cursor(cursor, "object", "desc"), "desc")
        )
    stmt = stmt.order_by(DataObject.ts.desc(), DataObject.id.desc()).limit(limit + 1)
    with db.session() as session:
        rows = session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor("object", "desc", rows[-1].ts, rows[-1].id) if more else None
    return {"objects": [_object_meta_json(r) for r in rows], "next_cursor": next_cursor}


def object_body(db: Database, read_body: BodyReader, project_id: str, obj_id: str) -> bytes:
    """The stored jcr of one object as JSON bytes (inline or from the object store)."""
    with db.session() as session:
        row = session.execute(
            select(DataObject.body, DataObject.store_key).where(
                DataObject.project_id == project_id, DataObject.id == obj_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"object {obj_id!r} not found in project {project_id!r}")
    if row.body is not None:
        return row.body.encode()
    if row.store_key is None:
        raise NotFoundError(f"object {obj_id!r} has no stored body")
    try:
        return read_body(row.store_key)
    except KeyError as exc:
        raise NotFoundError(f"the body of object {obj_id!r} is missing from the object store") from exc


def get_object(
    db: Database, read_body: BodyReader, project_id: str, obj_id: str
) -> tuple[dict[str, Any], bytes]:
    """An object's metadata and its jcr bytes."""
    with db.session() as session:
        row = session.execute(
            _object_meta_select().where(DataObject.project_id == project_id, DataObject.id == obj_id)
        ).first()
    if row is None:
        raise NotFoundError(f"object {obj_id!r} not found in project {project_id!r}")
    return _object_meta_json(row), object_body(db, read_body, project_id, obj_id)


def search_object(
    db: Database, read_body: BodyReader, project_id: str, trace_id: str, ref: str
) -> tuple[dict[str, Any], bytes]:
    """The object logged under ``ref`` on a trace (the latest, if the ref was logged more than once)."""
    with db.session() as session:
        trace = _trace_row(session, project_id, trace_id)
        row = session.execute(
            _object_meta_select()
            .where(DataObject.trace_pk == trace.id, DataObject.ref == ref)
            .order_by(DataObject.ts.desc(), DataObject.id.desc())
            .limit(1)
        ).first()
    if row is None:
        raise NotFoundError(f"trace {trace_id!r} has no object with ref {ref!r}")
    return _object_meta_json(row), object_body(db, read_body, project_id, row.id)


def list_refs(db: Database, project_id: str) -> list[dict[str, Any]]:
    """Every ref objects were logged under, with how many objects, their data types and the last time."""
    stmt = (
        select(DataObject.ref, DataObject.data_type, func.count(), func.max(DataObject.ts))
        .where(DataObject.project_id == project_id)
        .group_by(DataObject.ref, DataObject.data_type)
        .order_by(DataObject.ref, DataObject.data_type)
    )
    refs: dict[str, dict[str, Any]] = {}
    with db.session() as session:
        for ref, data_type, count, last_ts in session.execute(stmt):
            entry = refs.setdefault(ref, {"ref": ref, "count": 0, "data_types": [], "last_ts": None})
            entry["count"] += count
            entry["data_types"].append(data_type)
            last = _iso(_utc("last_ts", _as_datetime(last_ts)))
            entry["last_ts"] = max(entry["last_ts"] or last, last)
    return list(refs.values())


def _as_datetime(value: Any) -> datetime:
    """``max()`` over a UTCDateTime column loses the type on SQLite (answers text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# -- tag statistics ------------------------------------------------------------------------------
DEFAULT_STATS_SAMPLE = 10_000
MAX_STATS_SAMPLE = 1_000_000


def tag_stats(
    db: Database,
    project_id: str,
    name: str | None = None,
    values: int = 20,
    sample: int = DEFAULT_STATS_SAMPLE,
) -> list[dict[str, Any]]:
    """Every tag name with its types, how many traces carry it, numeric range and its most common values.

    ``[{"name", "types": {type: count}, "count", "numeric": {"count", "min", "max"} | None,
    "values": [{"value", "count"}], "distinct_values", "sample_traces"}]``: what a filter
    box needs to suggest. Counted over the ``sample`` most recently received traces (0:
    every trace, exact but a full scan), in one pass over their tags, so the answer
    costs the same at 10k and at 10M traces.
    """
    if values < 0 or values > MAX_PAGE:
        raise QueryError("values", f"must be between 0 and {MAX_PAGE}, got {values}")
    if sample < 0 or sample > MAX_STATS_SAMPLE:
        raise QueryError("sample", f"must be between 0 (every trace) and {MAX_STATS_SAMPLE}, got {sample}")
    conditions: list[ColumnElement[bool]] = [Tag.project_id == project_id]
    if name is not None:
        conditions.append(Tag.name == name)
    out: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[tuple[str | None, float | None], int]] = {}
    with db.session() as session:
        sample_traces = _sample_start(session, project_id, sample, conditions)
        stmt = (
            select(Tag.name, Tag.type, Tag.value_text, Tag.value_num, func.count())
            .where(*conditions)
            .group_by(Tag.name, Tag.type, Tag.value_text, Tag.value_num)
        )
        for tag_name, tag_type, text, number, count in session.execute(stmt):
            entry = out.setdefault(
                tag_name,
                {
                    "name": tag_name,
                    "types": {},
                    "count": 0,
                    "numeric": None,
                    "values": [],
                    "distinct_values": 0,
                    "sample_traces": sample_traces,
                },
            )
            entry["types"][tag_type] = entry["types"].get(tag_type, 0) + count
            entry["count"] += count
            by_value = counts.setdefault(tag_name, {})
            by_value[(text, number)] = by_value.get((text, number), 0) + count
            if number is not None:
                numeric = entry["numeric"] or {"count": 0, "min": number, "max": number}
                numeric["count"] += count
                numeric["min"], numeric["max"] = min(numeric["min"], number), max(numeric["max"], number)
                entry["numeric"] = numeric
    for tag_name, entry in out.items():
        by_value = counts[tag_name]
        entry["distinct_values"] = len(by_value)
        top = sorted(by_value.items(), key=lambda kv: (-kv[1], kv[0][0] or "", kv[0][1] or 0.0))[:values]
        entry["values"] = [{"value": tag_value(number, text), "count": n} for (text, number), n in top]
    return sorted(out.values(), key=lambda e: e["name"])


def _sample_start(
    session: Session, project_id: str, sample: int, conditions: list[ColumnElement[bool]]
) -> int | None:
    """Limit ``conditions`` to the tags of the ``sample`` latest received traces; answer how many that is."""
    if sample == 0:
        return None
    first = session.scalar(
        select(Trace.id)
        .where(Trace.project_id == project_id)
        .order_by(Trace.id.desc())
        .offset(sample - 1)
        .limit(1)
    )
    if first is None:  # fewer traces than the sample: all of them
        return int(session.scalar(select(func.count()).where(Trace.project_id == project_id)) or 0)
    conditions.append(Tag.trace_pk >= first)
    return sample


__all__ = [
    "QueryError",
    "NotFoundError",
    "TraceFilter",
    "list_traces",
    "count_traces",
    "get_trace",
    "trace_tags",
    "download_trace",
    "list_objects",
    "get_object",
    "search_object",
    "object_body",
    "object_json",
    "list_refs",
    "tag_stats",
    "parse_filter",
    "trace_conditions",
]
