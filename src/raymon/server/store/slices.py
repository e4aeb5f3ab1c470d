"""Slice analytics' SQL: discovery cells, each reducer's explored vocabulary and findings, paired evaluation values.

``add_cells`` adds a pass's cell additions with one additive upsert per cell
(``INSERT ... ON CONFLICT (project, reducer, window, cell, component) DO UPDATE SET
n = slice_cells.n + excluded.n, ...``): no read, no lock beyond the rows it writes, in the
pass's transaction (so a pass's cells commit exactly once, with its claim). ``rolled_up_cells``
sums the cells of a time range per (cell, component) in the database. Functions take the
caller's session first and answer typed rows; what a cell means is ``engine.slice_cells``'s business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from raymon.server.engine.slice_cells import CellAdd, CellKey
from raymon.server.store.models import ReduceResult, SliceCell, SliceExplore, Tag, Trace

_CHUNK = 2000


class CellSum(NamedTuple):
    cell: str
    component: str
    rows: int
    n: int
    total: float
    total_sq: float
    value_max: float | None
    errors: int


class ComponentWindow(NamedTuple):
    slice: str
    window_start: datetime
    component: Any  # the component's part of the window state ({"stats", "errors"}), or None


class ExploreRow(NamedTuple):
    vocab: Any
    findings: Any
    discovered_at: datetime | None


class PairedValue(NamedTuple):
    trace_pk: int
    value_a: Any
    value_b: Any


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def component_windows(
    session: Session,
    project_id: str,
    reducer: str,
    component: str,
    begin: datetime | None = None,
    end: datetime | None = None,
) -> list[ComponentWindow]:
    """One component's part of every window state of the reducer (all slices), windows starting in ``[begin, end)``.

    The database extracts the component (JSON path), so a ranking reads one component's stats per
    window, not the whole state.
    """
    part = ReduceResult.state["components"][component]
    stmt = select(ReduceResult.slice, ReduceResult.window_start, part).where(
        ReduceResult.project_id == project_id, ReduceResult.reducer == reducer
    )
    if begin is not None:
        stmt = stmt.where(ReduceResult.window_start >= begin)
    if end is not None:
        stmt = stmt.where(ReduceResult.window_start < end)
    return [ComponentWindow(r[0], r[1], r[2]) for r in session.execute(stmt)]


def label_tags(
    session: Session, trace_pks: Iterable[int], names: Sequence[str] | None = None
) -> dict[int, dict[str, Any]]:
    """The traces' tags discovery may explore: those named, else every ungrouped ``label`` tag (pk -> name -> value)."""
    pks = sorted(set(trace_pks))
    out: dict[int, dict[str, Any]] = {}
    if names is not None and not names:
        return out
    for chunk in _chunks(pks):
        stmt = select(Tag.trace_pk, Tag.name, Tag.value_num, Tag.value_text).where(Tag.trace_pk.in_(chunk))
        if names is None:
            stmt = stmt.where(Tag.type == "label", Tag.grp.is_(None))
        else:
            stmt = stmt.where(Tag.name.in_(list(names)))
        for pk, name, num, txt in session.execute(stmt):
            out.setdefault(int(pk), {})[name] = txt if txt is not None else num
    return out


def load_explore(session: Session, project_id: str, reducer: str) -> ExploreRow:
    """The reducer's explored vocabulary and last findings (empty before its first pass)."""
    row = session.execute(
        select(SliceExplore.vocab, SliceExplore.findings, SliceExplore.discovered_at).where(
            SliceExplore.project_id == project_id, SliceExplore.reducer == reducer
        )
    ).one_or_none()
    return (
        ExploreRow(None, None, None)
        if row is None
        else ExploreRow(row.vocab, row.findings, row.discovered_at)
    )


def _upsert_explore(session: Session, project_id: str, reducer: str, now: datetime, **values: Any) -> None:
    dialect_insert = postgresql.insert if _postgresql(session) else sqlite.insert
    stmt = dialect_insert(SliceExplore).values(
        project_id=project_id, reducer=reducer, updated_at=now, **values
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SliceExplore.project_id, SliceExplore.reducer],
            set_={**{k: getattr(stmt.excluded, k) for k in values}, "updated_at": stmt.excluded.updated_at},
        )
    )


def save_vocab(session: Session, project_id: str, reducer: str, vocab: Any, now: datetime) -> None:
    """Store the explored tags' kept values (in the pass's transaction, which holds the reducer's lock)."""
    _upsert_explore(session, project_id, reducer, now, vocab=vocab)


def save_findings(session: Session, project_id: str, reducer: str, findings: Any, now: datetime) -> None:
    """Store a discovery run's findings (replacing the last run's)."""
    _upsert_explore(session, project_id, reducer, now, findings=findings, discovered_at=now)


def add_cells(session: Session, project_id: str, reducer: str, adds: Mapping[CellKey, CellAdd]) -> None:
    """Add a pass's cell additions to the stored cells (one additive upsert per cell)."""
    if not adds:
        return
    pg = _postgresql(session)
    dialect_insert = postgresql.insert if pg else sqlite.insert
    table = SliceCell.__table__
    stmt = dialect_insert(table)  # type: ignore[arg-type]  # Core, not the ORM's bulk path: rows as they are
    ex, t = stmt.excluded, table.c
    if pg:
        new_max = func.greatest(t.value_max, ex.value_max)
    else:  # SQLite's scalar max() is NULL when an argument is
        new_max = func.max(func.coalesce(t.value_max, ex.value_max), func.coalesce(ex.value_max, t.value_max))
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.project_id, t.reducer, t.window_start, t.cell, t.component],
        set_={
            "rows": t.rows + ex.rows,
            "n": t.n + ex.n,
            "total": t.total + ex.total,
            "total_sq": t.total_sq + ex.total_sq,
            "value_max": new_max,
            "errors": t.errors + ex.errors,
        },
    )
    rows = [
        {
            "project_id": project_id,
            "reducer": reducer,
            "window_start": start,
            "cell": cell,
            "component": component,
            "rows": a.rows,
            "n": a.n,
            "total": a.total,
            "total_sq": a.total_sq,
            "value_max": a.value_max,
            "errors": a.errors,
        }
        for (start, cell, component), a in sorted(adds.items())
    ]
    connection = session.connection()
    for chunk in _chunks(rows, 1000):
        connection.execute(stmt, list(chunk))


def rolled_up_cells(
    session: Session,
    project_id: str,
    reducer: str,
    begin: datetime | None = None,
    end: datetime | None = None,
    component: str | None = None,
) -> list[CellSum]:
    """The cells of windows starting in ``[begin, end)``, summed over the windows per (cell, component)."""
    c = SliceCell
    stmt = select(
        c.cell,
        c.component,
        func.sum(c.rows),
        func.sum(c.n),
        func.sum(c.total),
        func.sum(c.total_sq),
        func.max(c.value_max),
        func.sum(c.errors),
    ).where(c.project_id == project_id, c.reducer == reducer)
    if begin is not None:
        stmt = stmt.where(c.window_start >= begin)
    if end is not None:
        stmt = stmt.where(c.window_start < end)
    if component is not None:
        stmt = stmt.where(c.component == component)
    stmt = stmt.group_by(c.cell, c.component).order_by(c.cell, c.component)
    return [
        CellSum(
            cell,
            comp,
            int(r or 0),
            int(n or 0),
            float(s or 0.0),
            float(sq or 0.0),
            None if mx is None else float(mx),
            int(e or 0),
        )
        for cell, comp, r, n, s, sq, mx, e in session.execute(stmt)
    ]


def paired_values(
    session: Session,
    project_id: str,
    group_a: str,
    name_a: str,
    group_b: str,
    name_b: str,
    begin: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1_000_000,
) -> list[PairedValue]:
    """Traces with tag ``name_a`` in ``group_a`` and ``name_b`` in ``group_b`` (two versions scoring one trace): both values.

    Traces are selected by their ``first_ts`` in ``[begin, end)``; at most ``limit`` pairs.
    """
    a, b = aliased(Tag), aliased(Tag)
    stmt = (
        select(a.trace_pk, a.value_num, a.value_text, b.value_num, b.value_text)
        .join(b, and_(b.trace_pk == a.trace_pk, b.name == name_b, b.grp == group_b))
        .where(a.project_id == project_id, a.name == name_a, a.grp == group_a)
    )
    if begin is not None or end is not None:
        stmt = stmt.join(Trace, Trace.id == a.trace_pk)
        if begin is not None:
            stmt = stmt.where(Trace.first_ts >= begin)
        if end is not None:
            stmt = stmt.where(Trace.first_ts < end)
    stmt = stmt.order_by(a.trace_pk).limit(limit)
    return [
        PairedValue(int(pk), ta if ta is not None else na, tb if tb is not None else nb)
        for pk, na, ta, nb, tb in session.execute(stmt)
    ]
