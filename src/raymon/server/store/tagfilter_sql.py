"""The SQL of tag filter expressions, and the one planner that counts how many traces a condition matches.

``to_clause`` compiles a parsed filter (``services.tagfilter``: the grammar,
the tree and ``evaluate``, the reference semantics this SQL must follow) into
a WHERE clause over ``traces``/``tags``. ``rarest_condition`` is the planner
both trace-list orders use to start from a rare condition's tag index: it
counts, through the tags index and never past ``MATCH_COUNT_CAP``, how many
tag rows each of a few conditions matches. It imports only the pure tree types
of ``services.tagfilter`` and never decides what a filter means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, column, exists, func, literal, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause

from raymon.server.services.tagfilter import And, Comparison, HasTag, Node, Not
from raymon.server.store.models import Tag, Trace

# Count at most this many index entries of a condition: a condition under the cap is "rare".
# Sorting that many rows costs a few ms, about what walking the traces costs for a filter
# matching ~2% of them (the measured threshold of the time-ordered list's hint).
MATCH_COUNT_CAP = 5000
# How many of a filter's conditions to count (each count reads at most MATCH_COUNT_CAP entries).
MAX_CONDITIONS_COUNTED = 4


def to_clause(
    node: Node,
    project_id: str,
    text_collation: str | None = None,
    fenced_probes: bool = False,
    trace_key: Any = None,
) -> ColumnElement[bool]:
    """A WHERE clause on ``traces`` (correlated EXISTS on ``tags``) that is true where ``evaluate`` is.

    Every condition probes the tags of one trace by (trace, name), so a query that
    walks the traces in time order stops after one page, whatever the table's size.
    ``text_collation`` (``"C"`` on PostgreSQL) makes ``<``/``>`` on text compare by code
    point, as SQLite and ``evaluate`` do, instead of by the database's locale.
    ``fenced_probes`` keeps each probe a subquery run per trace (``OFFSET 0``): PostgreSQL
    would otherwise turn the probes into joins that read every matching tag of the
    project before sorting, a cost that grows with the project instead of the page.
    ``trace_key`` is the column the probes correlate to (default ``traces.id``; the
    trace list in received order drives from a tag index and passes its ``trace_pk``).
    """
    key = Trace.id if trace_key is None else trace_key
    if isinstance(node, Comparison) and node.op == "==":
        return _exists(_equality_probe(node, project_id, key), fenced_probes)
    if isinstance(node, HasTag | Comparison):
        probe = select(literal(1)).where(
            Tag.trace_pk == key, *tag_row_conditions(node, project_id, text_collation)
        )
        return _exists(probe, fenced_probes)
    if isinstance(node, Not):
        return not_(to_clause(node.operand, project_id, text_collation, fenced_probes, trace_key))
    clauses = [to_clause(op, project_id, text_collation, fenced_probes, trace_key) for op in node.operands]
    return and_(*clauses) if isinstance(node, And) else or_(*clauses)


def _exists(probe: Select[Any], fenced_probes: bool) -> ColumnElement[bool]:
    """EXISTS over ``probe``, correlated to whatever outer table its trace key belongs to."""
    return exists(probe.offset(0) if fenced_probes else probe)


def tag_row_conditions(
    node: Comparison | HasTag, project_id: str, text_collation: str | None = None
) -> list[ColumnElement[bool]]:
    """What one ``tags`` row must satisfy for ``node`` (the probe of ``to_clause``; the planner's count)."""
    conditions: list[ColumnElement[bool]] = [Tag.project_id == project_id, Tag.name == node.name]
    if isinstance(node, Comparison):
        column: Any = Tag.value_num
        if not isinstance(node.value, float):
            column = Tag.value_text
            if text_collation and node.op not in ("==", "!="):
                column = column.collate(text_collation)
        conditions.append(_sql_compare(column, node.op, node.value))
    return conditions


def _sql_compare(column: Any, op: str, value: str | float) -> ColumnElement[bool]:
    if op == "==":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == ">":
        return column > value
    if op == "<=":
        return column <= value
    return column >= value


class _TagsByValue(TableClause):
    """``tags`` read through one named index: ``tags INDEXED BY <index>`` on SQLite, plain ``tags`` elsewhere.

    An equality probe (``client==bigshot`` for one trace) is answered from the
    (project, name, value, trace) index alone, without touching the table. SQLite
    prefers the unique (trace, name) index instead, which then reads the table row
    for the value: at 1M traces that made a filtered page about twice as slow.
    """

    inherit_cache = True
    index_name = ""


class _TagsByText(_TagsByValue):
    inherit_cache = True
    index_name = "ix_tags_project_name_text"


class _TagsByNumber(_TagsByValue):
    inherit_cache = True
    index_name = "ix_tags_project_name_num"


@compiles(_TagsByValue, "sqlite")
def _render_indexed_by(element: _TagsByValue, compiler: Any, **kw: Any) -> str:
    if kw.get("asfrom"):
        return f"{compiler.visit_table(element, **kw)} INDEXED BY {element.index_name}"
    return str(compiler.visit_table(element, **kw))


_PROBE_COLUMNS = ("trace_pk", "project_id", "name", "value_text", "value_num")
_TAGS_BY_TEXT = _TagsByText("tags", *(column(c) for c in _PROBE_COLUMNS))
_TAGS_BY_NUMBER = _TagsByNumber("tags", *(column(c) for c in _PROBE_COLUMNS))


def equality_rows(node: Comparison, project_id: str) -> tuple[Any, list[ColumnElement[bool]]]:
    """(``tags`` read through its (project, name, value, trace) index, the conditions of ``node``'s rows there).

    Those rows are one index range, ordered by trace: a probe reads one entry of it, the
    merge of ``tagfilter_merge`` reads several ranges side by side.
    """
    numeric = isinstance(node.value, float)
    tags = _TAGS_BY_NUMBER if numeric else _TAGS_BY_TEXT
    value_column = tags.c.value_num if numeric else tags.c.value_text
    return tags, [tags.c.project_id == project_id, tags.c.name == node.name, value_column == node.value]


def _equality_probe(node: Comparison, project_id: str, key: Any) -> Select[Any]:
    numeric = isinstance(node.value, float)
    tags = _TAGS_BY_NUMBER if numeric else _TAGS_BY_TEXT
    value_column = tags.c.value_num if numeric else tags.c.value_text
    probe = (
        select(literal(1))
        .select_from(tags)
        .where(
            tags.c.project_id == project_id,
            tags.c.name == node.name,
            value_column == node.value,
            tags.c.trace_pk == key,
        )
    )
    return probe


# -- planning ------------------------------------------------------------------------------------
def necessary_conditions(tree: Node) -> list[Comparison | HasTag]:
    """The tag conditions every matching trace must satisfy: the filter itself or its top-level ``&&`` terms."""
    terms = tree.operands if isinstance(tree, And) else (tree,)
    return [t for t in terms if isinstance(t, Comparison | HasTag)]


def capped_match_count(
    session: Session, project_id: str, node: Comparison | HasTag, text_collation: str | None = None
) -> int:
    """How many tag rows ``node`` matches, counted through the tags index and never past the cap + 1."""
    where = tag_row_conditions(node, project_id, text_collation)
    capped = select(literal(1)).where(*where).limit(MATCH_COUNT_CAP + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def rarest_condition(
    session: Session,
    project_id: str,
    candidates: Sequence[Comparison | HasTag],
    text_collation: str | None = None,
) -> tuple[Comparison | HasTag, int] | None:
    """The candidate matching the fewest rows (of the first few, by capped count; the first on a tie)."""
    best: tuple[Comparison | HasTag, int] | None = None
    for node in candidates[:MAX_CONDITIONS_COUNTED]:
        count = capped_match_count(session, project_id, node, text_collation)
        if best is None or count < best[1]:
            best = (node, count)
    return best


def rare_tag_hint(
    session: Session, project_id: str, tree: Node | None, text_collation: str | None = None
) -> list[ColumnElement[bool]]:
    """``[traces.id IN (traces of the rarest condition)]`` when one is under the cap, else ``[]``.

    The clause is implied by the filter (every match satisfies each of its ``&&``-ed
    conditions), so adding it never changes the answer, only the plan.
    """
    if tree is None:
        return []
    rarest = rarest_condition(session, project_id, necessary_conditions(tree), text_collation)
    if rarest is None or rarest[1] > MATCH_COUNT_CAP:
        return []
    where = tag_row_conditions(rarest[0], project_id, text_collation)
    return [Trace.id.in_(select(Tag.trace_pk).where(*where))]


def split_driver(
    session: Session, project_id: str, tree: Node | None, text_collation: str | None = None
) -> tuple[Comparison | None, Node | None]:
    """The ``==`` condition to read a received-order page from (the rarest top-level one) and the rest."""
    if tree is None:
        return None, None
    terms = list(tree.operands) if isinstance(tree, And) else [tree]
    candidates = [t for t in terms if isinstance(t, Comparison) and t.op == "=="]
    if not candidates:
        return None, tree
    driver = candidates[0]
    if len(candidates) > 1:
        rarest = rarest_condition(session, project_id, candidates, text_collation)
        assert rarest is not None and isinstance(rarest[0], Comparison)
        driver = rarest[0]
    rest = [t for t in terms if t is not driver]
    if not rest:
        return driver, None
    return driver, rest[0] if len(rest) == 1 else And(tuple(rest))
