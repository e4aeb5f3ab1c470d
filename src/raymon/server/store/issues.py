"""Issues: the SQL of the ``issues`` and ``issue_history`` tables, and the example traces of a window.

Functions take the caller's session first (they run in its transaction: the reduce pass's,
so an issue's transition and its history commit with the window's results) and answer typed
rows; a missing issue is ``None``, never an HTTP error. What an issue's state means and when
it changes is ``engine.issues``'s and ``services.issues``'s business, never this module's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from raymon.server.services.tagfilter import Node
from raymon.server.store import tagfilter_sql
from raymon.server.store.models import Issue, IssueHistory, Tag, Trace

EXAMPLE_LIMIT = 5
OPEN_STATUSES = ("open", "recovering")
ACTIVE_STATUSES = ("open", "recovering", "pending")


@dataclass(frozen=True)
class IssueRow:
    id: int
    project_id: str
    key: str
    episode: int
    reducer: str
    slice: str
    slice_name: str | None
    component: str
    check: str
    metric: str | None
    value: float | None
    threshold: float | None
    status: str
    priority: float
    machine: dict[str, Any]
    window_start: datetime | None
    window_end: datetime | None
    opened_at: datetime | None
    updated_at: datetime
    resolved_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    muted_until: datetime | None
    tuning: dict[str, Any] | None
    example_trace_ids: list[str] | None


@dataclass(frozen=True)
class HistoryRow:
    id: int
    issue_id: int
    at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    event: str | None
    event_id: str | None
    notified: bool | None
    suppressed: str | None
    window_start: datetime | None
    window_end: datetime | None
    details: Any


_ISSUE_COLUMNS = (
    Issue.id,
    Issue.project_id,
    Issue.key,
    Issue.episode,
    Issue.reducer,
    Issue.slice,
    Issue.slice_name,
    Issue.component,
    Issue.check_kind,
    Issue.metric,
    Issue.value,
    Issue.threshold,
    Issue.status,
    Issue.priority,
    Issue.machine,
    Issue.window_start,
    Issue.window_end,
    Issue.opened_at,
    Issue.updated_at,
    Issue.resolved_at,
    Issue.acked_at,
    Issue.acked_by,
    Issue.muted_until,
    Issue.tuning,
    Issue.example_trace_ids,
)
# Fields callers may write (``check`` is stored as ``check_kind``).
_WRITABLE = {c.key for c in _ISSUE_COLUMNS} - {"id", "check_kind"} | {"check"}


def _issue(row: Any) -> IssueRow:
    return IssueRow(*row)


def _history(row: Any) -> HistoryRow:
    return HistoryRow(*row)


def _values(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - _WRITABLE
    if unknown:
        raise ValueError(f"not issue fields: {sorted(unknown)}")
    values = dict(fields)
    if "check" in values:
        values["check_kind"] = values.pop("check")
    return values


def current_for_keys(
    session: Session, project_id: str, keys: Iterable[str], lock: bool = True
) -> dict[str, IssueRow]:
    """Each key's newest issue (it carries the machine's state) in one query per 500 keys.

    A reduce pass steps every (component, check) of every window it touches, most of them
    without an issue yet: one look-up each was a third of a pass (bench/engine_reduce.py,
    "issues"). With ``lock`` every issue row of the keys is locked for update on PostgreSQL,
    in key order (the rows a pass may step, taken in one order by every pass).
    """
    wanted = sorted(set(keys))
    out: dict[str, IssueRow] = {}
    for i in range(0, len(wanted), 500):
        query = (
            select(*_ISSUE_COLUMNS)
            .where(Issue.project_id == project_id, Issue.key.in_(wanted[i : i + 500]))
            .order_by(Issue.key, Issue.episode.desc())
        )
        if lock:
            query = query.with_for_update()
        for row in session.execute(query):
            issue = _issue(row)
            out.setdefault(issue.key, issue)  # the first of a key is its newest episode
    return out


def insert_issue(session: Session, project_id: str, created_at: datetime, **fields: Any) -> int:
    """A new issue row; answers its id (a key's second issue collides if two passes race: retried)."""
    values = _values(fields)
    result = session.execute(
        insert(Issue).values(project_id=project_id, created_at=created_at, **values).returning(Issue.id)
    )
    return int(result.scalar_one())


def update_issue(session: Session, project_id: str, issue_id: int, **fields: Any) -> None:
    session.execute(
        update(Issue).where(Issue.project_id == project_id, Issue.id == issue_id).values(**_values(fields))
    )


def get_issue(session: Session, project_id: str, issue_id: int) -> IssueRow | None:
    row = session.execute(
        select(*_ISSUE_COLUMNS).where(Issue.project_id == project_id, Issue.id == issue_id)
    ).first()
    return _issue(row) if row is not None else None


def list_issues(
    session: Session,
    project_id: str,
    status: str | None = None,
    slicestr: str | None = None,
    limit: int = 1000,
) -> list[IssueRow]:
    """The project's issues: open, recovering and pending first, each by priority, highest first.

    ``status`` None: all but ``normal`` (keys that breached without opening, then recovered).
    """
    query = select(*_ISSUE_COLUMNS).where(Issue.project_id == project_id)
    query = (
        query.where(Issue.status == status) if status is not None else query.where(Issue.status != "normal")
    )
    if slicestr is not None:
        query = query.where(Issue.slice == slicestr)
    active = case((Issue.status.in_(ACTIVE_STATUSES), 0), else_=1)
    query = query.order_by(active, Issue.priority.desc(), Issue.updated_at.desc(), Issue.id.desc()).limit(
        limit
    )
    return [_issue(row) for row in session.execute(query)]


def open_on_slice(
    session: Session, project_id: str, reducer: str, slicestr: str, component: str, check: str
) -> bool:
    """Whether (reducer, slice, component, check) has an open (or recovering) issue."""
    query = select(func.count()).where(
        Issue.project_id == project_id,
        Issue.reducer == reducer,
        Issue.slice == slicestr,
        Issue.component == component,
        Issue.check_kind == check,
        Issue.status.in_(OPEN_STATUSES),
    )
    return bool(session.execute(query).scalar_one())


def add_history(
    session: Session, issue_id: int, project_id: str, at: datetime, kind: str, **fields: Any
) -> int:
    result = session.execute(
        insert(IssueHistory)
        .values(issue_id=issue_id, project_id=project_id, at=at, kind=kind, **fields)
        .returning(IssueHistory.id)
    )
    return int(result.scalar_one())


def history_of(session: Session, issue_id: int) -> list[HistoryRow]:
    """An issue's history, oldest first."""
    query = (
        select(
            IssueHistory.id,
            IssueHistory.issue_id,
            IssueHistory.at,
            IssueHistory.kind,
            IssueHistory.from_status,
            IssueHistory.to_status,
            IssueHistory.event,
            IssueHistory.event_id,
            IssueHistory.notified,
            IssueHistory.suppressed,
            IssueHistory.window_start,
            IssueHistory.window_end,
            IssueHistory.details,
        )
        .where(IssueHistory.issue_id == issue_id)
        .order_by(IssueHistory.id)
    )
    return [_history(row) for row in session.execute(query)]


def example_trace_ids(
    session: Session,
    project_id: str,
    group: str,
    component: str,
    begin: datetime,
    end: datetime,
    tree: Node | None,
    limit: int = EXAMPLE_LIMIT,
    value_text: str | None = None,
) -> list[str]:
    """Traces of the window (``first_ts`` in [begin, end)) and slice (``tree``) that show a component's problem.

    First those with the component's error tag (``<component>-error`` in ``group``), then, to fill
    ``limit``, those with the most extreme (highest) values of its value tag, or with
    ``value_text`` (a category) when given, earliest first. At most ``limit``.
    """
    is_pg = session.get_bind().dialect.name == "postgresql"
    conditions: list[Any] = [Trace.project_id == project_id, Trace.first_ts >= begin, Trace.first_ts < end]
    if tree is not None:
        conditions.append(
            tagfilter_sql.to_clause(tree, project_id, "C" if is_pg else None, fenced_probes=is_pg)
        )
    # The window's traces of the slice first (a range of ``ix_traces_project_first_ts_id``, the
    # slice's probes per trace), then their tags by ``(trace_pk, name)``: a cost that follows the
    # window, whatever the planner's statistics say. Planned freely, right after a burst of ingest
    # (before autoanalyze) PostgreSQL once joined every tag of the component with the window's
    # traces for minutes, inside the pass's write transaction, holding the reducer's lock.
    window = (
        select(Trace.id, Trace.trace_id, Trace.first_ts)
        .where(*conditions)
        .cte("window_traces")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    tag_where = (Tag.trace_pk == window.c.id, Tag.project_id == project_id, Tag.grp == group)
    errors = session.execute(
        select(window.c.trace_id)
        .join(Tag, Tag.trace_pk == window.c.id)
        .where(*tag_where, Tag.name == f"{component}-error")
        .order_by(window.c.first_ts, window.c.id)
        .limit(limit)
    ).scalars()
    found = list(dict.fromkeys(errors))
    if len(found) < limit:
        values = select(window.c.trace_id).join(Tag, Tag.trace_pk == window.c.id).where(*tag_where)
        if value_text is not None:
            values = values.where(Tag.name == component, Tag.value_text == value_text).order_by(
                window.c.first_ts, window.c.id
            )
        else:
            values = values.where(Tag.name == component, Tag.value_num.is_not(None)).order_by(
                Tag.value_num.desc(), window.c.id
            )
        extreme = session.execute(values.limit(limit)).scalars()
        for trace_id in extreme:
            if trace_id not in found and len(found) < limit:
                found.append(trace_id)
    return found
