"""Data objects: their metadata, lists, per-ref counts, export batches, and the one reader of a body.

An object's jcr lives inline in SQL (``body``) when small, else in the object
store under ``store_key``; ``read_body`` is the only place that knows, and a
body that is in neither is ``ObjectBodyMissing`` naming the object. Functions
take the caller's session first and answer typed rows; a missing object is
``None``, never an HTTP error.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from raymon.server.store.keyset import after
from raymon.server.store.models import DataObject, Trace
from raymon.server.store.objects import ObjectStore
from raymon.server.store.traces import TraceSelection, selection_conditions


class ObjectBodyMissing(LookupError):
    """The stored body of an object is gone (inline body empty and no readable object-store key)."""

    def __init__(self, obj_id: str) -> None:
        self.obj_id = obj_id
        super().__init__(f"the body of object {obj_id!r} is missing from the object store")


class ObjectMeta(NamedTuple):
    id: str
    trace_id: str
    ref: str
    ts: datetime
    data_type: str
    size: int


class StoredBody(NamedTuple):
    """Where an object's jcr is: inline ``body`` text, or the object store's ``store_key``."""

    obj_id: str
    body: str | None
    store_key: str | None


class RefCount(NamedTuple):
    ref: str
    data_type: str
    n: int  # how many
    last_ts: datetime


class ExportObject(NamedTuple):
    """An object of an export batch, with its trace and where its body is."""

    id: str
    ts: datetime
    data_type: str
    body: str | None
    store_key: str | None
    trace_pk: int
    trace_id: str


def read_body(object_store: ObjectStore, stored: StoredBody) -> bytes:
    """The jcr JSON bytes of a stored object, wherever its body lives; ``ObjectBodyMissing`` if nowhere."""
    if stored.body is not None:
        return stored.body.encode()
    if stored.store_key is None:
        raise ObjectBodyMissing(stored.obj_id)
    try:
        return object_store.get(stored.store_key)
    except KeyError:
        raise ObjectBodyMissing(stored.obj_id) from None


def _meta_select() -> Select[str, str, str, datetime, str, int]:
    return select(
        DataObject.id, Trace.trace_id, DataObject.ref, DataObject.ts, DataObject.data_type, DataObject.size
    ).join(Trace, Trace.id == DataObject.trace_pk)


def objects_of_trace(session: Session, trace_pk: int) -> list[ObjectMeta]:
    """The objects logged on a trace, in time order."""
    stmt = _meta_select().where(DataObject.trace_pk == trace_pk).order_by(DataObject.ts, DataObject.id)
    return [ObjectMeta._make(row) for row in session.execute(stmt)]


def list_meta(
    session: Session,
    project_id: str,
    *,
    trace_id: str | None,
    ref: str | None,
    after_key: tuple[datetime, str] | None,
    limit: int,
) -> list[ObjectMeta]:
    """Up to ``limit`` objects of the project, newest first, after ``after_key`` (time, id)."""
    stmt = _meta_select().where(DataObject.project_id == project_id)
    if trace_id is not None:
        stmt = stmt.where(Trace.project_id == project_id, Trace.trace_id == trace_id)
    if ref is not None:
        stmt = stmt.where(DataObject.ref == ref)
    if after_key is not None:
        stmt = stmt.where(after((DataObject.ts, DataObject.id), after_key, "desc"))
    stmt = stmt.order_by(DataObject.ts.desc(), DataObject.id.desc()).limit(limit)
    return [ObjectMeta._make(row) for row in session.execute(stmt)]


def meta(session: Session, project_id: str, obj_id: str) -> ObjectMeta | None:
    row = session.execute(
        _meta_select().where(DataObject.project_id == project_id, DataObject.id == obj_id)
    ).first()
    return None if row is None else ObjectMeta._make(row)


def latest_on_trace(session: Session, trace_pk: int, ref: str) -> ObjectMeta | None:
    """The object logged under ``ref`` on a trace (the latest, if the ref was logged more than once)."""
    row = session.execute(
        _meta_select()
        .where(DataObject.trace_pk == trace_pk, DataObject.ref == ref)
        .order_by(DataObject.ts.desc(), DataObject.id.desc())
        .limit(1)
    ).first()
    return None if row is None else ObjectMeta._make(row)


def stored_body(session: Session, project_id: str, obj_id: str) -> StoredBody | None:
    """Where the body of object ``obj_id`` is (``None``: no such object in the project)."""
    row = session.execute(
        select(DataObject.body, DataObject.store_key).where(
            DataObject.project_id == project_id, DataObject.id == obj_id
        )
    ).first()
    return None if row is None else StoredBody(obj_id, row.body, row.store_key)


def ref_counts(session: Session, project_id: str) -> list[RefCount]:
    """Per (ref, data type): how many objects and the latest time, by ref then type."""
    stmt = (
        select(DataObject.ref, DataObject.data_type, func.count(), func.max(DataObject.ts))
        .where(DataObject.project_id == project_id)
        .group_by(DataObject.ref, DataObject.data_type)
        .order_by(DataObject.ref, DataObject.data_type)
    )
    return [
        RefCount(ref, data_type, count, _as_datetime(last))
        for ref, data_type, count, last in session.execute(stmt)
    ]


def _as_datetime(value: Any) -> datetime:
    """``max()`` over a UTCDateTime column loses the type on SQLite (answers naive text: UTC)."""
    ts = datetime.fromisoformat(value) if isinstance(value, str) else value
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def export_batch(
    session: Session,
    project_id: str,
    ref: str,
    sel: TraceSelection,
    after_key: tuple[datetime, str] | None,
    limit: int,
) -> list[ExportObject]:
    """Up to ``limit`` objects under ``ref`` on the traces ``sel`` selects, oldest first, after ``after_key``."""
    trace_conditions = selection_conditions(session, project_id, sel)
    stmt = (
        select(
            DataObject.id,
            DataObject.ts,
            DataObject.data_type,
            DataObject.body,
            DataObject.store_key,
            Trace.id.label("trace_pk"),
            Trace.trace_id,
        )
        .join(Trace, Trace.id == DataObject.trace_pk)
        .where(DataObject.project_id == project_id, DataObject.ref == ref, *trace_conditions)
        .order_by(DataObject.ts, DataObject.id)
        .limit(limit)
    )
    if after_key is not None:
        stmt = stmt.where(after((DataObject.ts, DataObject.id), after_key, "asc"))
    return [ExportObject._make(row) for row in session.execute(stmt)]


def has_ref(session: Session, project_id: str, ref: str) -> bool:
    """Whether any object of the project was logged under ``ref``."""
    stmt = select(DataObject.id).where(DataObject.project_id == project_id, DataObject.ref == ref).limit(1)
    return session.execute(stmt).first() is not None


def some_refs(session: Session, project_id: str, limit: int) -> list[str]:
    """Up to ``limit`` refs the project's objects were logged under, in order."""
    stmt = (
        select(DataObject.ref)
        .where(DataObject.project_id == project_id)
        .group_by(DataObject.ref)
        .order_by(DataObject.ref)
        .limit(limit)
    )
    return list(session.scalars(stmt))


class TraceObject(NamedTuple):
    """The latest object under one ref on a trace, with where its body is (``read_body``)."""

    ref: str
    obj_id: str
    ts: datetime
    data_type: str
    stored: StoredBody


def latest_of_refs(
    session: Session, project_id: str, trace_pk: int, refs: Collection[str]
) -> dict[str, TraceObject]:
    """The latest object (by time, then id) of each of ``refs`` on a trace, in one query; a ref not logged is absent."""
    if not refs:
        return {}
    stmt = (
        select(
            DataObject.ref,
            DataObject.id,
            DataObject.ts,
            DataObject.data_type,
            DataObject.body,
            DataObject.store_key,
        )
        .where(
            DataObject.project_id == project_id,
            DataObject.trace_pk == trace_pk,
            DataObject.ref.in_(sorted(refs)),
        )
        .order_by(DataObject.ref, DataObject.ts.desc(), DataObject.id.desc())
    )
    found: dict[str, TraceObject] = {}
    for ref, obj_id, ts, data_type, body, store_key in session.connection().execute(stmt):
        if ref not in found:
            found[ref] = TraceObject(ref, obj_id, ts, data_type, StoredBody(obj_id, body, store_key))
    return found


def distinct_refs(session: Session, project_id: str, limit: int) -> list[str]:
    """Up to ``limit`` refs of the project's objects, in order, by a skip scan of the (project, ref) index.

    A recursive query that jumps from one ref to the next (the first ref after the previous):
    ``limit`` index descents, whatever the number of objects (a GROUP BY reads them all).
    """
    # ordered LIMITs, not min(): an index descent whatever the planner's row estimate
    first = (
        select(DataObject.ref)
        .where(DataObject.project_id == project_id)
        .order_by(DataObject.ref)
        .limit(1)
        .scalar_subquery()
    )
    refs = select(first.label("ref")).cte("refs", recursive=True)
    following = (
        select(DataObject.ref)
        .where(DataObject.project_id == project_id, DataObject.ref > refs.c.ref)
        .order_by(DataObject.ref)
        .limit(1)
        .scalar_subquery()
    )
    refs = refs.union_all(select(following).where(refs.c.ref.is_not(None)))
    stmt = select(refs.c.ref).where(refs.c.ref.is_not(None)).limit(limit)
    return list(session.scalars(stmt))


def latest_of_refs_on_traces(
    session: Session, project_id: str, trace_pks: Collection[int], refs: Collection[str]
) -> dict[int, dict[str, TraceObject]]:
    """``latest_of_refs`` for many traces in one query: by trace, the latest object of each ref (a batch map job)."""
    if not refs or not trace_pks:
        return {}
    stmt = (
        select(
            DataObject.trace_pk,
            DataObject.ref,
            DataObject.id,
            DataObject.ts,
            DataObject.data_type,
            DataObject.body,
            DataObject.store_key,
        )
        .where(
            DataObject.project_id == project_id,
            DataObject.trace_pk.in_(sorted(set(trace_pks))),
            DataObject.ref.in_(sorted(refs)),
        )
        .order_by(DataObject.trace_pk, DataObject.ref, DataObject.ts.desc(), DataObject.id.desc())
    )
    found: dict[int, dict[str, TraceObject]] = {}
    for trace_pk, ref, obj_id, ts, data_type, body, store_key in session.connection().execute(stmt):
        of_trace = found.setdefault(int(trace_pk), {})
        if ref not in of_trace:
            of_trace[ref] = TraceObject(ref, obj_id, ts, data_type, StoredBody(obj_id, body, store_key))
    return found
