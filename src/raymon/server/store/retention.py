"""Retention: deleting a project's data older than a cutoff, a bounded batch per call.

What goes: traces whose last activity (``last_ts``) is before the cutoff, with their tags (and
the reduce queue rows of those no pass took),
texts and objects (and the objects' bodies in the object store), the idempotency ledger's
rows received before it, reduce results whose window ended before it (their dashboard
summaries go with them, by cascade), the dashboard rollups whose last window ended before it,
and slice cells of windows that started before it. A trace still
active after the cutoff is kept whole (a late actual keeps its prediction). One call deletes
at most ``limit`` rows of each table, children first; a trace goes once its children are
gone, so no cascade is ever unbounded. Object-store files are deleted before their rows:
if the transaction then fails, the next batch finds the rows again and deletes them (a
missing file is no error); a file is never orphaned by a committed row deletion.

It runs in the caller's transaction (the retention job's ``finishing()``). It decides no
policy (how many days, when): ``engine.cleanup`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.orm import Session

from raymon.server.store import reduce as reduce_store
from raymon.server.store import rollups as rollup_store
from raymon.server.store.models import (
    DataObject,
    IngestedEvent,
    ReduceResult,
    ReduceRollup,
    ReduceSummary,
    SliceCell,
    Tag,
    TextLine,
    Trace,
)
from raymon.server.store.objects import ObjectStore


class RetentionBatch(NamedTuple):
    """Rows deleted per table by one batch, and whether rows older than the cutoff remain."""

    deleted: dict[str, int]
    more: bool


def _old_traces(project_id: str, cutoff: datetime) -> Any:
    return select(Trace.id).where(Trace.project_id == project_id, Trace.last_ts < cutoff)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _delete_batch(
    session: Session, key: Any, conditions: list[Any], limit: int, project_id: str | None = None
) -> int:
    """Delete at most ``limit`` rows of ``key``'s table matching ``conditions``; answer how many.

    The keys are selected first (``DELETE ... LIMIT`` exists on neither database as we need it),
    then deleted by key, with ``project_id`` too when given (an event id is unique per project only).
    """
    ids = list(session.scalars(select(key).where(*conditions).limit(limit)))
    if ids:
        table = key.class_
        where = [key.in_(ids)]
        if project_id is not None:
            where.append(table.project_id == project_id)
        session.execute(delete(table).where(*where))
    return len(ids)


def delete_expired(
    session: Session, object_store: ObjectStore, project_id: str, cutoff: datetime, limit: int
) -> RetentionBatch:
    """Delete at most ``limit`` rows per table of ``project_id``'s data older than ``cutoff``."""
    deleted: dict[str, int] = {}
    more = False
    old = _old_traces(project_id, cutoff)

    objects = session.execute(
        select(DataObject.id, DataObject.store_key)
        .where(DataObject.project_id == project_id, DataObject.trace_pk.in_(old))
        .limit(limit)
    ).all()
    for row in objects:
        if row.store_key:
            object_store.delete(row.store_key)
    if objects:
        session.execute(
            delete(DataObject).where(
                DataObject.project_id == project_id, DataObject.id.in_([r.id for r in objects])
            )
        )
    deleted["objects"] = len(objects)
    more |= len(objects) == limit

    # tags: with their reduce queue rows (those no pass took yet), by key
    tags = session.execute(select(Tag.id, Tag.grp).where(Tag.trace_pk.in_(old)).limit(limit)).all()
    if tags:
        reduce_store.forget_tags(session, project_id, [(r.grp, r.id) for r in tags if r.grp is not None])
        session.execute(delete(Tag).where(Tag.id.in_([r.id for r in tags])))
    deleted["tags"] = len(tags)
    more |= len(tags) == limit
    deleted["texts"] = _delete_batch(session, TextLine.id, [TextLine.trace_pk.in_(old)], limit)
    more |= deleted["texts"] == limit

    childless = [~exists().where(model.trace_pk == Trace.id) for model in (Tag, TextLine, DataObject)]
    trace_ids = list(
        session.scalars(
            select(Trace.id)
            .where(Trace.project_id == project_id, Trace.last_ts < cutoff, *childless)
            .limit(limit)
        )
    )
    if trace_ids:
        session.execute(delete(Trace).where(Trace.id.in_(trace_ids)))
    deleted["traces"] = len(trace_ids)
    more |= bool(
        session.scalar(select(exists().where(Trace.project_id == project_id, Trace.last_ts < cutoff)))
    )

    # the rest is not a trace's child: rows older than the cutoff by their own time
    for name, key, conditions in (
        (
            "events",
            IngestedEvent.event_id,
            [IngestedEvent.project_id == project_id, IngestedEvent.received_at < cutoff],
        ),
        (
            "results",
            ReduceResult.id,
            [ReduceResult.project_id == project_id, ReduceResult.window_end < cutoff],
        ),
        ("cells", SliceCell.id, [SliceCell.project_id == project_id, SliceCell.window_start < cutoff]),
    ):
        deleted[name] = _delete_batch(session, key, conditions, limit, project_id)
        more |= deleted[name] == limit
    deleted["rollups"] = rollup_store.delete_before(session, project_id, cutoff, limit)
    more |= deleted["rollups"] == limit
    return RetentionBatch(deleted, more)


def count_older(session: Session, project_id: str, cutoff: datetime) -> dict[str, int]:
    """How many rows of each table ``delete_expired`` would still delete (for tests and reports)."""
    old = _old_traces(project_id, cutoff)
    counts = {
        "objects": select(func.count()).where(
            DataObject.project_id == project_id, DataObject.trace_pk.in_(old)
        ),
        "tags": select(func.count()).where(Tag.trace_pk.in_(old)),
        "texts": select(func.count()).where(TextLine.trace_pk.in_(old)),
        "traces": select(func.count()).where(Trace.project_id == project_id, Trace.last_ts < cutoff),
        "events": select(func.count()).where(
            and_(IngestedEvent.project_id == project_id, IngestedEvent.received_at < cutoff)
        ),
        "results": select(func.count()).where(
            ReduceResult.project_id == project_id, ReduceResult.window_end < cutoff
        ),
        "cells": select(func.count()).where(
            SliceCell.project_id == project_id, SliceCell.window_start < cutoff
        ),
        "summaries": select(func.count()).where(
            ReduceSummary.project_id == project_id, ReduceSummary.window_end < cutoff
        ),
        "rollups": select(func.count()).where(
            ReduceRollup.project_id == project_id, ReduceRollup.last_end < cutoff
        ),
    }
    return {name: int(session.scalar(stmt) or 0) for name, stmt in counts.items()}
