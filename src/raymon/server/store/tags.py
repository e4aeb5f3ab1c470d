"""Tags: the tags of a page of traces in one query, and the counts behind tag statistics.

Functions take the caller's session first and answer typed rows; what a tag
value means to a user (text or number) is ``services.tags``'s to say.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from raymon.server.store import plain_sql
from raymon.server.store.models import Tag


class TagRow(NamedTuple):
    trace_pk: int
    name: str
    type: str
    group: str | None
    value_num: float | None
    value_text: str | None
    ts: datetime | None  # None unless asked for (``with_ts``)


class TagValueCount(NamedTuple):
    """How many tags of one name carry one (type, value)."""

    name: str
    type: str
    value_text: str | None
    value_num: float | None
    n: int  # how many


def tags_by_trace(
    session: Session, project_id: str, trace_pks: Sequence[int], with_ts: bool = False
) -> dict[int, list[TagRow]]:
    """The tags of several traces (by surrogate key) in one query, each trace's sorted by name.

    Without ``with_ts`` the tags' own timestamps are not read: the trace list shows
    hundreds of traces and formatting thousands of timestamps would double its cost.
    """
    out: dict[int, list[TagRow]] = {}
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
        tag = TagRow._make(row) if with_ts else TagRow._make((*row, None))
        out.setdefault(row[0], []).append(tag)
    return out


def value_counts(
    session: Session, project_id: str, name: str | None = None, from_trace_pk: int | None = None
) -> list[TagValueCount]:
    """Tag counts by (name, type, value), of one ``name`` or all, on traces from ``from_trace_pk`` on.

    Plain SQL on the driver's cursor (``plain_sql``): a sample's 100,000 tags group into some
    20,000 rows, and SQLAlchemy's statement and result rows cost a sixth of the call on top of
    the count itself (bench/server_search.py, "tags counted").
    """
    where = ["project_id = {param[p]}"]
    params: dict[str, Any] = {"p": project_id}
    if from_trace_pk is not None:
        where.append("trace_pk >= {param[first]}")
        params["first"] = from_trace_pk
        if not plain_sql.is_postgres(session):
            # The sample's tags are read by their traces' range of (trace_pk, name): the project is
            # checked as a concatenation no index answers, else SQLite (no planner statistics)
            # read every tag of the project through (project_id, name, ...) and kept the sample's:
            # 10M index entries at 1M traces for 100,000 tags, 2.3 s instead of 0.5 s under load
            # (bench/server_search.py). PostgreSQL plans it from its statistics (the concatenation
            # made it slower there).
            where[0] = "project_id || '' = {param[p]}"
    if name is not None:
        where.append("name = {param[name]}")
        params["name"] = name
    statement = plain_sql.sql(
        session,
        "SELECT name, type, value_text, value_num, count(*) FROM tags WHERE "
        + " AND ".join(where)
        + " GROUP BY name, type, value_text, value_num",
    )
    # The driver's tuples as they are, ``TagValueCount`` in shape: a named tuple per row cost 33 ms
    # a call at 1M traces on PostgreSQL, half as much as the count itself.
    return cast(list[TagValueCount], plain_sql.rows(session, statement, params))


def names_in_use(session: Session, project_id: str, names: Collection[str]) -> set[str]:
    """Which of ``names`` some tag of the project has: one index descent per name (the (project, name) prefix)."""
    found: set[str] = set()
    for name in names:
        probe = select(Tag.name).where(Tag.project_id == project_id, Tag.name == name).limit(1)
        if session.execute(probe).first() is not None:
            found.add(name)
    return found
