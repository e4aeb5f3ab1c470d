"""Reading logged objects: lists of references, one object with its jcr, the latest under a ref, per-ref counts.

An object answers ``{"obj_id", "trace_id", "ref", "ts", "data_type", "size"}``
and, with its data, ``obj_data`` (the stored jcr, spliced in as stored, never
parsed again). A body gone from the object store is a ``NotFoundError`` naming
the object, wherever it is read (one object, a trace download, an export).
It only reads, never parses HTTP and runs no SQL (``store.data_objects`` does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from raymon.server.services.errors import NotFoundError
from raymon.server.services.paging import DEFAULT_PAGE, check_limit, decode_cursor, encode_cursor, iso
from raymon.server.store import data_objects
from raymon.server.store.data_objects import ObjectBodyMissing, ObjectMeta, StoredBody

if TYPE_CHECKING:
    from raymon.server.backend import Backend


def meta_json(row: ObjectMeta) -> dict[str, Any]:
    return {
        "obj_id": row.id,
        "trace_id": row.trace_id,
        "ref": row.ref,
        "ts": iso(row.ts),
        "data_type": row.data_type,
        "size": row.size,
    }


def object_json(meta: dict[str, Any], body: bytes) -> bytes:
    """``meta`` as a JSON object with the stored jcr spliced in as ``obj_data`` (never parsed again)."""
    return orjson.dumps(meta)[:-1] + b',"obj_data":' + body + b"}"


def read_body(backend: Backend, stored: StoredBody) -> bytes:
    """The jcr bytes of a stored object; ``NotFoundError`` naming it when its body is gone."""
    try:
        return data_objects.read_body(backend.object_store, stored)
    except ObjectBodyMissing as exc:
        raise NotFoundError(str(exc)) from None


def list_objects(
    backend: Backend,
    project_id: str,
    *,
    trace_id: str | None = None,
    ref: str | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Object references, newest first: ``{"objects": [...], "next_cursor"}``."""
    check_limit(limit)
    after_key = decode_cursor(cursor, "object", "desc") if cursor else None
    with backend.reading() as session:
        rows = data_objects.list_meta(
            session, project_id, trace_id=trace_id, ref=ref, after_key=after_key, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor("object", "desc", rows[-1].ts, rows[-1].id) if more else None
    return {"objects": [meta_json(r) for r in rows], "next_cursor": next_cursor}


def object_body(backend: Backend, project_id: str, obj_id: str) -> bytes:
    """The stored jcr of one object as JSON bytes (inline or from the object store)."""
    with backend.reading() as session:
        stored = data_objects.stored_body(session, project_id, obj_id)
    if stored is None:
        raise NotFoundError(f"object {obj_id!r} not found in project {project_id!r}")
    return read_body(backend, stored)


def object_meta(backend: Backend, project_id: str, obj_id: str) -> dict[str, Any]:
    """An object's metadata (no data); ``NotFoundError`` naming it."""
    with backend.reading() as session:
        row = data_objects.meta(session, project_id, obj_id)
    if row is None:
        raise NotFoundError(f"object {obj_id!r} not found in project {project_id!r}")
    return meta_json(row)


def get_object(backend: Backend, project_id: str, obj_id: str) -> tuple[dict[str, Any], bytes]:
    """An object's metadata and its jcr bytes."""
    return object_meta(backend, project_id, obj_id), object_body(backend, project_id, obj_id)


def search_object(backend: Backend, project_id: str, trace_id: str, ref: str) -> tuple[dict[str, Any], bytes]:
    """The object logged under ``ref`` on a trace (the latest, if the ref was logged more than once)."""
    from raymon.server.services.traces import trace_row  # traces imports this module

    with backend.reading() as session:
        trace = trace_row(session, project_id, trace_id)
        row = data_objects.latest_on_trace(session, trace.id, ref)
    if row is None:
        raise NotFoundError(f"trace {trace_id!r} has no object with ref {ref!r}")
    return meta_json(row), object_body(backend, project_id, row.id)


def list_refs(backend: Backend, project_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Every ref objects were logged under (the first ``limit`` by name), with how many objects, their data
    types and the last time."""
    if limit is not None:
        check_limit(limit)
    refs: dict[str, dict[str, Any]] = {}
    with backend.reading() as session:
        rows = data_objects.ref_counts(session, project_id)
    for ref, data_type, count, last_ts in rows:
        entry = refs.setdefault(ref, {"ref": ref, "count": 0, "data_types": [], "last_ts": None})
        entry["count"] += count
        entry["data_types"].append(data_type)
        last = iso(last_ts)
        entry["last_ts"] = max(entry["last_ts"] or last, last)
    return list(refs.values())[:limit]
