"""Several common ``==`` conditions read at once: a merge of their (project, name, value, trace) index ranges.

A filter like ``client==c7 && app==v2 && region==eu && model==m3`` has no rare
condition, and its conjunction may match almost nothing (0.04 % here). Driving
the list from one condition's index and probing the others for each of its
traces costs one index seek per driver entry: at 1M traces, 25,000 seeks for a
page, 60-100 ms. Each condition's entries are already sorted by trace within
(project, name, value), so the page can instead be read as an ordered merge of
two to four index ranges, newest trace first, which steps through sorted index
entries (about a tenth of a seek each) and stops as soon as the page is full;
what is left of the filter is probed only for the merge's few survivors.

Which conditions to merge is decided by measurement, not statistics: the
density of each ``==`` condition near the page (``SAMPLE`` of its index entries
read from the page's start in the walk's direction, ``sample``). The rarest one
is always merged; a denser one joins the merge while reading its entries costs
less than probing it for the merge's survivors (``PROBE_COST``). A filter with a
condition that is rare from the page on, or with fewer than two ``==`` conditions
worth merging, gets no merge plan (``plan_merge`` answers ``None``) and keeps the
driver-and-probe plan of ``store.traces``.

The merge is a condition on the plan only: every trace it yields satisfies the
merged conditions (an intersection of their index ranges), and the rest of the
filter is applied to each, so the answer is the filter's, in the same order
(property-tested against ``evaluate`` and the unplanned query,
``tests/server/store/test_trace_plan.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session, aliased

from raymon.server.services.tagfilter import And, Comparison, Node
from raymon.server.store import tagfilter_sql
from raymon.server.store.keyset import Order
from raymon.server.store.models import Tag, Trace

# Index entries of each condition read to estimate its density from the page's start.
SAMPLE = 1000
# How many merged index entries one probe (an index seek from the root) costs, measured on
# SQLite and PostgreSQL at 1M traces (0.1-0.2 us per merged entry, 1-2 us per probe).
PROBE_COST = 10.0
# At most this many conditions are merged (and sampled).
MAX_MERGED = 4


@dataclass(frozen=True, slots=True)
class MergePlan:
    """A page read as a merge of ``merged``'s index ranges, ``rest`` probed on the merge's output."""

    merged: tuple[Comparison, ...]  # two to four ``==`` conditions, rarest first
    rest: Node | None  # the filter's other conditions (a single node or an ``&&`` of them)
    densities: tuple[float, ...]  # the merged conditions' sampled densities (matches per trace id)
    order: Order  # the walk's direction
    start: int  # the walk reads trace keys beyond this one (the cursor, or past the newest / oldest)


def mergeable(tree: Node) -> bool:
    """Whether ``tree`` has the shape a merge plan reads: two or more ``==`` conditions ``&&``-ed at its top."""
    terms = tree.operands if isinstance(tree, And) else (tree,)
    return len({t for t in terms if isinstance(t, Comparison) and t.op == "=="}) >= 2


def plan_merge(
    session: Session, project_id: str, tree: Node | None, order: Order, after_pk: int | None
) -> MergePlan | None:
    """The merge plan of ``tree`` for a page after ``after_pk`` in ``order``, or ``None`` when none pays."""
    if tree is None:
        return None
    terms = list(tree.operands) if isinstance(tree, And) else [tree]
    equalities = list(dict.fromkeys(t for t in terms if isinstance(t, Comparison) and t.op == "=="))
    if len(equalities) < 2:
        return None
    nodes = equalities[:MAX_MERGED]
    start, kths = sample(session, project_id, nodes, order, after_pk)
    if start is None:
        return None  # no traces
    sampled: list[tuple[float, Comparison]] = []
    for node, kth in zip(nodes, kths, strict=True):
        if kth is None:
            return None  # rare from here on: driving from it reads at most SAMPLE entries
        sampled.append((SAMPLE / max(abs(start - kth), 1), node))
    sampled.sort(key=lambda pair: pair[0])
    merged = [sampled[0]]
    survivors = sampled[0][0]
    for density, node in sampled[1:]:
        # Merging reads this condition's entries over the walk (density per id); probing it
        # instead costs PROBE_COST per trace that survives the merge so far (survivors per id).
        if density >= PROBE_COST * survivors:
            break
        merged.append((density, node))
        survivors *= density
    if len(merged) < 2:
        return None
    merged_nodes = [node for _, node in merged]
    # The remaining conditions: the sampled equalities by density first (the cheapest to fail),
    # then the rest of the filter in its own order.
    rest_terms: list[Node] = [node for _, node in sampled if node not in merged_nodes]
    rest_terms += [t for t in terms if t not in merged_nodes and t not in rest_terms]
    rest: Node | None = None
    if rest_terms:
        rest = rest_terms[0] if len(rest_terms) == 1 else And(tuple(rest_terms))
    return MergePlan(tuple(merged_nodes), rest, tuple(d for d, _ in merged), order, start)


def sample(
    session: Session, project_id: str, nodes: list[Comparison], order: Order, after_pk: int | None
) -> tuple[int | None, list[int | None]]:
    """(the walk's start, each node's ``SAMPLE``-th trace key from there), in one statement.

    The start is the cursor, else past the project's newest trace (newest first) or 0;
    ``None`` when a newest-first walk has no trace to start from. A key is ``None`` when
    fewer than ``SAMPLE`` of the node's entries lie beyond the start.
    """
    columns: list[Any] = []
    newest = after_pk is None and order == "desc"
    if newest:
        columns.append(  # ordered LIMIT, not max(): an index descent whatever the row estimate
            select(Trace.id)
            .where(Trace.project_id == project_id)
            .order_by(Trace.id.desc())
            .limit(1)
            .scalar_subquery()
        )
    for node in nodes:
        stmt = _range(project_id, node, order, after_pk)[1]
        columns.append(stmt.offset(SAMPLE - 1).limit(1).scalar_subquery())
    row = list(session.execute(select(*columns)).one())
    if newest:
        top = row.pop(0)
        start = None if top is None else int(top) + 1
    else:
        start = after_pk if after_pk is not None else 0
    return start, [None if k is None else int(k) for k in row]


def _range(project_id: str, node: Comparison, order: Order, start: int | None) -> tuple[Any, Select[Any]]:
    """(trace key column, SELECT of ``node``'s trace keys beyond ``start`` in ``order``, index-ordered)."""
    tags, where = tagfilter_sql.equality_rows(node, project_id)
    key = tags.c.trace_pk
    if start is not None:
        where.append(key < start if order == "desc" else key > start)
    stmt = select(key.label("k")).select_from(tags).where(*where)
    return key, stmt.order_by(key.desc() if order == "desc" else key)


def page_keys(
    session: Session,
    project_id: str,
    plan: MergePlan,
    limit: int,
    rest_conditions: Callable[[Any], list[ColumnElement[bool]]],
) -> list[int] | None:
    """Up to ``limit`` trace keys in all of ``plan.merged``'s index ranges beyond ``plan.start``, in ``plan.order``,
    that satisfy ``rest_conditions(key)`` (the rest of the filter, probed per surviving trace).

    SQLite: a compound ``INTERSECT`` whose parts and whole share the order of the index,
    which SQLite runs as a merge of the index ranges (``MERGE (INTERSECT)`` in its plan),
    streamed as a co-routine to the outer query, which must not sort again (an outer
    ORDER BY would make SQLite materialise the whole merge): the keys come out in the
    merge's order, checked here (``None`` when not: the caller then plans otherwise).
    PostgreSQL: a merge join of the ranges (index-only scans in trace order) in a fenced
    subquery, which the outer LIMIT stops after the page (the outer query has no ORDER
    BY, so PostgreSQL plans the subquery for the first rows).
    """
    order, start = plan.order, plan.start
    if session.get_bind().dialect.name == "postgresql":
        key, joined = _joined(project_id, plan, order, start)
        # OFFSET 0 fences the merge: PostgreSQL would otherwise push the probes of the rest
        # down into the first range's scan, probing every one of its entries before the join.
        merged = joined.order_by(key.desc() if order == "desc" else key).offset(0).subquery("merged")
    else:
        parts = [_range(project_id, node, order, start)[1].order_by(None) for node in plan.merged]
        compound = parts[0].intersect(*parts[1:])
        column = compound.selected_columns[0]
        merged = compound.order_by(column.desc() if order == "desc" else column).subquery("merged")
    stmt = select(merged.c.k).where(*rest_conditions(merged.c.k)).limit(limit)
    keys = [int(k) for k in session.scalars(stmt)]
    if keys != sorted(keys, reverse=order == "desc"):  # never seen; the answer must not depend on it
        return None
    return keys


def _joined(project_id: str, plan: MergePlan, order: Order, start: int) -> tuple[Any, Select[Any]]:
    """(key, SELECT key FROM tags m0 JOIN tags m1 ON same trace ...): the ranges joined on the trace."""
    base = aliased(Tag, name="m0")
    key = base.trace_pk
    stmt = select(key.label("k")).select_from(base)
    for i, node in enumerate(plan.merged[1:], start=1):
        other = aliased(Tag, name=f"m{i}")
        bound = other.trace_pk < start if order == "desc" else other.trace_pk > start
        stmt = stmt.join(other, and_(other.trace_pk == key, *_row_conditions(other, node, project_id), bound))
    beyond = key < start if order == "desc" else key > start
    return key, stmt.where(*_row_conditions(base, plan.merged[0], project_id), beyond)


def _row_conditions(tags: Any, node: Comparison, project_id: str) -> list[Any]:
    value = tags.value_num if isinstance(node.value, float) else tags.value_text
    return [tags.project_id == project_id, tags.name == node.name, value == node.value]
