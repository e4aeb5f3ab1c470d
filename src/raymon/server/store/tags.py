"""Tags: the tags of a page of traces in one query, and the counts behind tag statistics.

Functions take the caller's session first and answer typed rows; what a tag
value means to a user (text or number) is ``services.tags``'s to say.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from raymon.server.store.models import Tag


class TagRow(NamedTuple):
    trace_pk: int
    name: str
    type: str
    group: str | None
    value_num: float | None
    value_text: str | None
    ts: datetime | None  # None unless asked for (``with_ts``)


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


class TagTypeStats(NamedTuple):
    """How many tags of one name carry one type, and their numbers' count and range."""

    name: str
    type: str
    n: int
    numeric: int  # how many of them have a number
    min_num: float | None
    max_num: float | None


class TagTopValue(NamedTuple):
    """One of a name's most common values (over all types), with how many distinct values the name has."""

    name: str
    value_text: str | None
    value_num: float | None
    n: int
    distinct: int


def value_stats(
    session: Session,
    project_id: str,
    name: str | None,
    from_trace_pk: int | None,
    top: int,
) -> tuple[list[TagTypeStats], list[TagTopValue]]:
    """Per name and type the tag count and numeric range, and per name its ``top`` most common values
    (most first; ties by text, then number) with its number of distinct values: of one ``name`` or
    all, on traces from ``from_trace_pk`` on.

    One statement: the tags are counted by (name, type, value) once, and the database keeps only
    the summaries and the top values (a few hundred rows), not one row per distinct value (21,000
    at a sample of 10,000 traces, most of them one user id or score each, which took longer to
    fetch and fold in Python than to count).
    """
    conditions: list[ColumnElement[bool]] = [Tag.project_id == project_id]
    if from_trace_pk is not None:
        # The sample's tags are read by their traces' range of (trace_pk, name): the project is
        # then checked as a concatenation no index answers, else SQLite (no planner statistics)
        # read every tag of the project through (project_id, name, ...) and kept the sample's:
        # 10M index entries at 1M traces for 100,000 tags (bench/server_search.py).
        conditions = [Tag.project_id.concat("") == project_id, Tag.trace_pk >= from_trace_pk]
    if name is not None:
        conditions.append(Tag.name == name)
    counted = (
        select(Tag.name, Tag.type, Tag.value_text, Tag.value_num, func.count().label("n"))
        .where(*conditions)
        .group_by(Tag.name, Tag.type, Tag.value_text, Tag.value_num)
        .cte("counted")
    )
    types = select(
        literal("t").label("kind"),
        counted.c.name,
        counted.c.type,
        null().label("value_text"),
        null().label("value_num"),
        func.sum(counted.c.n).label("n"),
        func.sum(case((counted.c.value_num.is_not(None), counted.c.n), else_=0)).label("numeric"),
        func.min(counted.c.value_num).label("min_num"),
        func.max(counted.c.value_num).label("max_num"),
    ).group_by(counted.c.name, counted.c.type)
    by_value = (
        select(counted.c.name, counted.c.value_text, counted.c.value_num, func.sum(counted.c.n).label("n"))
        .group_by(counted.c.name, counted.c.value_text, counted.c.value_num)
        .subquery("by_value")
    )
    text_key: Any = func.coalesce(by_value.c.value_text, "")
    if session.get_bind().dialect.name == "postgresql":
        text_key = text_key.collate("C")  # by code point, as Python orders text
    order = (by_value.c.n.desc(), text_key, func.coalesce(by_value.c.value_num, 0.0))
    ranked = select(
        by_value,
        func.row_number().over(partition_by=by_value.c.name, order_by=order).label("rank"),
        func.count().over(partition_by=by_value.c.name).label("distinct"),
    ).subquery("ranked")
    tops = select(
        literal("v"),
        ranked.c.name,
        null(),
        ranked.c.value_text,
        ranked.c.value_num,
        ranked.c.n,
        ranked.c.distinct,
        null(),
        null(),
    ).where(ranked.c.rank <= max(top, 1))
    type_rows: list[TagTypeStats] = []
    top_rows: list[TagTopValue] = []
    for kind, name_, type_, text_, num, n, extra, low, high in session.execute(union_all(types, tops)):
        if kind == "t":
            type_rows.append(TagTypeStats(name_, type_, int(n), int(extra), low, high))
        else:
            top_rows.append(TagTopValue(name_, text_, num, int(n), int(extra)))
    return type_rows, top_rows


def names_in_use(session: Session, project_id: str, names: Collection[str]) -> set[str]:
    """Which of ``names`` some tag of the project has: one index descent per name (the (project, name) prefix)."""
    found: set[str] = set()
    for name in names:
        probe = select(Tag.name).where(Tag.project_id == project_id, Tag.name == name).limit(1)
        if session.execute(probe).first() is not None:
            found.add(name)
    return found
