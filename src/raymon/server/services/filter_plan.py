"""Steering the trace list's plan for a tag filter: start from a rare tag's index, or walk traces in time order.

A page of filtered traces can be found two ways. Walking the traces newest
first and probing each one's tags costs (page size / share of traces that
match): cheap for common filters, a scan of the whole project for a rare one
(``shard==s42 && client==c7`` probes all 1M traces to find 100). Starting from
the tags index of a rare condition (``shard==s42``: 1,000 rows) and sorting
what survives costs the number of rows of that condition: cheap exactly when
the walk is not. Neither database picks this on its own: SQLite's planner has
no idea how rare a tag value is, so it always walks.

``rare_tag_hint`` counts, through the tags index and never past a cap, how
many traces each top-level positive condition of the filter matches, and for
the rarest one under the cap answers ``traces.id IN (its traces)``. That
clause is implied by the filter (every match must satisfy each of its
``&&``-ed conditions), so adding it never changes the answer, only the plan.
This module only reads, and only through the tags index; it never parses
HTTP and never changes what a filter means (``tagfilter`` decides that).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from raymon.server.services import tagfilter
from raymon.server.store.models import Tag, Trace

# Start from a tag condition's index when it matches at most this many traces: sorting that many
# rows costs a few ms, about what walking the traces costs for a filter matching ~2% of them.
RARE_TAG_TRACES = 5000
# How many of a filter's conditions to count (each count reads at most RARE_TAG_TRACES index entries).
MAX_CONDITIONS_COUNTED = 4


def necessary_conditions(tree: tagfilter.Node) -> list[tagfilter.Comparison | tagfilter.HasTag]:
    """The tag conditions every matching trace must satisfy: the filter itself or its top-level ``&&`` terms."""
    terms = tree.operands if isinstance(tree, tagfilter.And) else (tree,)
    return [t for t in terms if isinstance(t, tagfilter.Comparison | tagfilter.HasTag)]


def rare_tag_hint(
    session: Session, project_id: str, tree: tagfilter.Node | None, text_collation: str | None = None
) -> list[ColumnElement[bool]]:
    """``[traces.id IN (traces of the rarest condition)]`` when one matches few traces, else ``[]``."""
    if tree is None:
        return []
    best: tuple[int, list[ColumnElement[bool]]] | None = None
    for node in necessary_conditions(tree)[:MAX_CONDITIONS_COUNTED]:
        where = tagfilter.tag_row_conditions(node, project_id, text_collation)
        capped = select(literal(1)).where(*where).limit(RARE_TAG_TRACES + 1).subquery()
        count = int(session.scalar(select(func.count()).select_from(capped)) or 0)
        if count <= RARE_TAG_TRACES and (best is None or count < best[0]):
            best = (count, where)
    if best is None:
        return []
    return [Trace.id.in_(select(Tag.trace_pk).where(*best[1]))]
