"""Traces: the trace-list pages (received order from a tag index, time order with a hint), one trace, its texts.

What the trace list costs is decided here, by the SQL: a page costs about the
page, not the project (see ``page_by_received`` and ``page_by_time``, and the
planner in ``tagfilter_sql``). Functions take the caller's session first and
answer typed rows; a missing trace is ``None``, never an HTTP error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, exists, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from raymon.server.services.tagfilter import Node, Or
from raymon.server.store import tag_terms, tagfilter_merge, tagfilter_sql, text_search
from raymon.server.store.keyset import Order, after
from raymon.server.store.models import Tag, TextLine, Trace


class TraceRow(NamedTuple):
    id: int  # the surrogate key: the order traces were first received in
    trace_id: str
    first_ts: datetime
    last_ts: datetime


class TextRow(NamedTuple):
    ts: datetime
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class TraceSelection:
    """Which traces, as the store takes it: a parsed tag filter, a UTC range on ``first_ts``, a tag type, a text."""

    tree: Node | None = None
    begin: datetime | None = None
    end: datetime | None = None
    tag_type: str | None = None
    text: str | None = None


_TRACE_COLUMNS = (Trace.id, Trace.trace_id, Trace.first_ts, Trace.last_ts)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _collation(session: Session) -> str | None:
    """``"C"`` on PostgreSQL: text ``<``/``>`` by code point, as SQLite and ``evaluate`` compare."""
    return "C" if _is_postgresql(session) else None


def selection_conditions(session: Session, project_id: str, sel: TraceSelection) -> list[ColumnElement[bool]]:
    """The WHERE conditions on ``traces`` for ``sel`` (the project's traces only)."""
    conditions: list[ColumnElement[bool]] = [Trace.project_id == project_id]
    if sel.tree is not None:
        is_pg = _is_postgresql(session)
        conditions.append(
            tagfilter_sql.to_clause(sel.tree, project_id, _collation(session), fenced_probes=is_pg)
        )
    conditions += _time_conditions(sel)
    conditions += _other_probes(project_id, sel, Trace.id, fenced=_is_postgresql(session))
    return conditions


def _time_conditions(sel: TraceSelection) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if sel.begin is not None:
        conditions.append(Trace.first_ts >= sel.begin)
    if sel.end is not None:
        conditions.append(Trace.first_ts < sel.end)
    return conditions


def _other_probes(
    project_id: str, sel: TraceSelection, trace_key: Any, *, fenced: bool
) -> list[ColumnElement[bool]]:
    """The tag type and text conditions, as probes of the trace whose key is ``trace_key``.

    ``fenced`` (PostgreSQL) keeps each a subquery run per candidate (``OFFSET 0``, as the tag
    filter's probes): at 10M traces PostgreSQL otherwise planned a text search's walk as a merge
    join with every matching text of the project, read through the trigram index (300 ms for a word
    in 0.5 % of the traces, where the walk's own probes of 10,000 candidates take a fraction).
    """
    conditions: list[ColumnElement[bool]] = []
    if sel.tag_type:
        probe = select(literal(1)).where(
            Tag.trace_pk == trace_key, Tag.project_id == project_id, Tag.type == sel.tag_type
        )
        conditions.append(exists(probe.offset(0) if fenced else probe))
    if sel.text:
        probe = select(literal(1)).where(TextLine.trace_pk == trace_key, text_search.text_matches(sel.text))
        conditions.append(exists(probe.offset(0) if fenced else probe))
    return conditions


def page_by_time(
    session: Session,
    project_id: str,
    sel: TraceSelection,
    order: Order,
    limit: int,
    after_key: tuple[datetime, int] | None,
) -> list[TraceRow]:
    """Up to ``limit`` traces by (first_ts, id) after ``after_key``, each one's tags tested.

    Cost ~ page / share matching, or, when a condition of the filter is rare, the
    rows of that condition (``tagfilter_sql.rare_tag_hint``), or, on PostgreSQL, when its
    common ``==`` conditions match few traces together, those traces (``_time_page_of``).
    """
    hint = tagfilter_sql.rare_tag_hint(session, project_id, sel.tree, _collation(session))
    if not hint:
        pks = _terms_candidates(session, project_id, sel)
        if pks is not None:
            page = _time_page_of(session, project_id, sel, order, limit, after_key, pks)
            if page is not None:
                return page
            hint = [_any_of(pks)]  # the same traces, sorted after every one is probed
    conditions = selection_conditions(session, project_id, sel)
    if after_key is not None:
        conditions.append(after((Trace.first_ts, Trace.id), after_key, order))
    ts_key: Any = Trace.first_ts
    if hint and not _is_postgresql(session):
        # Sort by an expression the time index cannot deliver, so that SQLite (without planner
        # statistics: the server never runs ANALYZE) starts from the rare tag's few traces
        # instead of walking the whole project in time order (1M traces: 210 ms -> 15 ms).
        ts_key = func.coalesce(Trace.first_ts, Trace.first_ts)
    sort = (ts_key.desc(), Trace.id.desc()) if order == "desc" else (ts_key, Trace.id)
    stmt = select(*_TRACE_COLUMNS).where(*conditions, *hint).order_by(*sort).limit(limit)
    return [TraceRow._make(row) for row in session.execute(stmt)]


def _terms_candidates(session: Session, project_id: str, sel: TraceSelection) -> list[int] | None:
    """Every trace that may match ``sel``'s common ``==`` conditions, from the index of terms, when the
    terms plan expects and finds at most ``tag_terms.MAX_CANDIDATES``; else ``None``."""
    terms_plan = tag_terms.plan(session, project_id, sel.tree, "desc", None, tag_terms.MAX_CANDIDATES)
    return None if terms_plan is None else tag_terms.candidates(session, project_id, terms_plan)


def _time_page_of(
    session: Session,
    project_id: str,
    sel: TraceSelection,
    order: Order,
    limit: int,
    after_key: tuple[datetime, int] | None,
    pks: list[int],
) -> list[TraceRow] | None:
    """The time-ordered page among ``pks`` (a superset of the matches): sorted first, then probed in that
    order until the page is full (1M traces, ``weak`` by time: 2.6 s walking the project, 14 ms so).

    The sorted candidates are a fenced subquery (``OFFSET 0``) read in their order without an
    outer ORDER BY, so the probes stop after the page; the order is checked, as the merge's
    is (``None`` when it did not hold: the caller then sorts after probing).
    """
    if not pks:
        return []
    where = [Trace.project_id == project_id, _any_of(pks), *_time_conditions(sel)]
    if after_key is not None:
        where.append(after((Trace.first_ts, Trace.id), after_key, order))
    sort = (Trace.first_ts.desc(), Trace.id.desc()) if order == "desc" else (Trace.first_ts, Trace.id)
    ordered = select(*_TRACE_COLUMNS).where(*where).order_by(*sort).offset(0).subquery("by_time")
    check = replace(_candidate_checks(session, project_id, sel, sel.tree), driven=False)  # time: above
    stmt = select(*ordered.c).where(*check.conditions(ordered.c.id)).limit(limit)
    rows = [TraceRow._make(row) for row in session.execute(stmt)]
    keys = [(row.first_ts, row.id) for row in rows]
    if keys != sorted(keys, reverse=order == "desc"):  # never seen; the answer must not depend on it
        return None
    return rows


def _any_of(pks: list[int]) -> ColumnElement[bool]:
    """``traces.id = ANY(pks)``: one array parameter, however many keys."""
    return Trace.id == any_(bindparam("term_candidates", pks, type_=ARRAY(BigInteger)))


def page_by_received(
    session: Session,
    project_id: str,
    sel: TraceSelection,
    order: Order,
    limit: int,
    after_pk: int | None,
) -> list[TraceRow]:
    """Up to ``limit`` traces in the order they were first received (their id), after ``after_pk``.

    Several common ``==`` conditions among the filter's top-level ``&&`` terms are read
    together, as a merge of their index ranges that stops after one page, and the rest
    of the filter is probed on what the merge lets through (``store.tagfilter_merge``);
    an ``||`` of such conjunctions is the union of their pages. Otherwise, with an ``==``
    condition among the top-level ``&&`` terms (the rarest of them, by a capped count),
    the page is read from that condition's index, which is ordered by trace id within
    one value: the other conditions are probed only for those traces, and the walk
    stops after one page. Otherwise the project's traces are walked by id and probed.
    Either way the cost follows the page, not the project.
    """
    return _rows_of(session, _received_keys(session, project_id, sel, order, limit, after_pk))


def _received_keys(
    session: Session, project_id: str, sel: TraceSelection, order: Order, limit: int, after_pk: int | None
) -> list[int]:
    merged = _merged_keys(session, project_id, sel, order, limit, after_pk)
    if merged is not None:
        return merged
    plan = _received_plan(session, project_id, sel)
    key = plan.key
    conditions = [*plan.candidates, *plan.conditions(key)]
    if after_pk is not None:
        conditions.append(key < after_pk if order == "desc" else key > after_pk)
    sort_key = key
    if not plan.driven:
        # No ``==`` to read from: a rare range or ``!=`` condition (under the planner's cap)
        # gives the candidates instead (``rare_tag_hint``), read from its index and sorted.
        hint = tagfilter_sql.rare_tag_hint(session, project_id, sel.tree, _collation(session))
        if hint:
            conditions += hint
            if not _is_postgresql(session):  # as in page_by_time: SQLite would walk the id index
                sort_key = key + 0
    page = (
        select(key).where(*conditions).order_by(sort_key.desc() if order == "desc" else sort_key).limit(limit)
    )
    return list(session.scalars(page))


def _merged_keys(
    session: Session, project_id: str, sel: TraceSelection, order: Order, limit: int, after_pk: int | None
) -> list[int] | None:
    """The page's keys read from the index of terms (``tag_terms``) or by a merge of index ranges
    (``tagfilter_merge``), or ``None`` when neither pays."""
    if isinstance(sel.tree, Or) and any(tagfilter_merge.mergeable(op) for op in sel.tree.operands):
        # The first ``limit`` of a union are among the first ``limit`` of each operand.
        keys: set[int] = set()
        for operand in sel.tree.operands:
            keys.update(
                _received_keys(session, project_id, replace(sel, tree=operand), order, limit, after_pk)
            )
        return sorted(keys, reverse=order == "desc")[:limit]
    terms_plan = tag_terms.plan(session, project_id, sel.tree, order, after_pk)
    if terms_plan is not None:
        found = _terms_keys(session, project_id, sel, terms_plan, limit)
        if found is not None:
            return found
    plan = tagfilter_merge.plan_merge(session, project_id, sel.tree, order, after_pk)
    if plan is None:
        return None
    rest = _candidate_checks(session, project_id, sel, plan.rest)
    return tagfilter_merge.page_keys(session, project_id, plan, limit, rest.conditions)


def _candidate_checks(
    session: Session, project_id: str, sel: TraceSelection, rest: Node | None
) -> _ReceivedPlan:
    """How traces read from an index (a merge's, the terms') are tested: ``rest`` of the filter probed on each,
    with the time range (those traces are not yet restricted to it), the text and the tag type."""
    return _ReceivedPlan(
        key=None,
        candidates=[],
        rest=rest,
        sel=sel,
        project_id=project_id,
        collation=_collation(session),
        fenced=_is_postgresql(session),
        driven=True,
    )


def _terms_keys(
    session: Session, project_id: str, sel: TraceSelection, terms_plan: tag_terms.TermsPlan, limit: int
) -> list[int] | None:
    """The page's keys among the traces the index of terms gives (``tag_terms``), newest first, each tested
    against the whole filter (the terms may hold more than a trace's tags); ``None`` when it gives too many."""
    found = tag_terms.candidates(session, project_id, terms_plan)
    if found is None:
        return None
    if not found:
        return []
    # No ORDER BY: the fenced list is read in its order and the probes stop after the page.
    keys = [
        int(k) for k in session.scalars(_matching_candidates(session, project_id, sel, found).limit(limit))
    ]
    if keys != sorted(keys, reverse=True):  # never seen; the answer must not depend on it
        return None
    return keys


def _matching_candidates(session: Session, project_id: str, sel: TraceSelection, pks: list[int]) -> Any:
    """SELECT of those of ``pks`` (in their order) that satisfy all of ``sel``, each probed: the whole filter,
    the time range, the text and tag type."""
    check = _candidate_checks(session, project_id, sel, sel.tree)
    listed = tag_terms.keys_subquery(pks)
    return select(listed.c.k).where(*check.conditions(listed.c.k))


def _rows_of(session: Session, pks: list[int]) -> list[TraceRow]:
    if not pks:
        return []
    found = {row.id: row for row in session.execute(select(*_TRACE_COLUMNS).where(Trace.id.in_(pks)))}
    return [TraceRow._make(found[pk]) for pk in pks if pk in found]


@dataclass(frozen=True, slots=True)
class _ReceivedPlan:
    """How a received-order list reads: a stream of candidate trace keys, then conditions on each."""

    key: Any  # the candidates' trace key column (a driver tag row's trace_pk, or traces.id)
    candidates: list[ColumnElement[bool]]  # what makes a row a candidate (the driver's index range)
    rest: Node | None  # the filter's conditions not implied by the candidates
    sel: TraceSelection
    project_id: str
    collation: str | None
    fenced: bool
    driven: bool  # candidates come from a tag index (time conditions are then probed too)

    def conditions(self, key: Any) -> list[ColumnElement[bool]]:
        """The conditions a candidate whose trace key is ``key`` must also satisfy."""
        out: list[ColumnElement[bool]] = []
        time_conditions = _time_conditions(self.sel)
        if time_conditions and self.driven:  # otherwise the candidates are traces already in range
            out.append(exists(select(literal(1)).where(Trace.id == key, *time_conditions)))
        if self.rest is not None:
            out.append(
                tagfilter_sql.to_clause(
                    self.rest, self.project_id, self.collation, fenced_probes=self.fenced, trace_key=key
                )
            )
        return out + _other_probes(self.project_id, self.sel, key, fenced=self.fenced)


def _received_plan(session: Session, project_id: str, sel: TraceSelection) -> _ReceivedPlan:
    collation = _collation(session)
    driver, rest = tagfilter_sql.split_driver(session, project_id, sel.tree, collation)
    candidates: list[ColumnElement[bool]]
    if driver is not None:
        by_value = aliased(Tag, name="driver")
        value = by_value.value_num if isinstance(driver.value, float) else by_value.value_text
        key: Any = by_value.trace_pk
        candidates = [by_value.project_id == project_id, by_value.name == driver.name, value == driver.value]
    else:
        key = Trace.id
        candidates = [Trace.project_id == project_id, *_time_conditions(sel)]
    return _ReceivedPlan(
        key=key,
        candidates=candidates,
        rest=rest,
        sel=sel,
        project_id=project_id,
        collation=collation,
        fenced=_is_postgresql(session),
        driven=driver is not None,
    )


class WindowPage(NamedTuple):
    """A page read from a bounded window of candidates: the rows, and where the window ended."""

    rows: list[TraceRow]
    window_end: int | None  # the last candidate key examined when the window was used up, else None


def _window(plan: _ReceivedPlan, after_pk: int | None, size: int) -> Any:
    """The first ``size`` candidate keys after ``after_pk``, newest first, as a subquery with column ``k``."""
    conditions = list(plan.candidates)
    if after_pk is not None:
        conditions.append(plan.key < after_pk)
    return select(plan.key.label("k")).where(*conditions).order_by(plan.key.desc()).limit(size).subquery()


# A text search first walks this many candidates newest first: a word that fills a page among them
# is common, and its page is found there; otherwise the index of texts is asked (``text_search``).
PROBE_WINDOW = 2_000
# A word in at most this many texts of the project is read from the index (exact, no window); a
# more common one fills a page of 50 within ~50 x traces / 5,000 walked (10,000 at 1M traces).
RARE_TEXTS = 5_000


def _likely_common(session: Session, project_id: str, found: int, probe_window: int, rare_texts: int) -> bool:
    """Whether ``found`` matches among the newest ``probe_window`` candidates make the word likely to be in
    more than half ``rare_texts`` traces: the density seen, times the project's newest trace key (at least
    its number of traces). A matching trace has one text or more (two on average in the benchmark's data),
    so the index would likely read ``rare_texts`` texts in vain: the walk goes on instead (at 1M traces a
    word in 0.5 % of them: 80 ms with the index's read, 32 ms without, bench/server_search.py)."""
    if not found:
        return False
    newest = (
        session.scalar(
            select(Trace.id).where(Trace.project_id == project_id).order_by(Trace.id.desc()).limit(1)
        )
        or 0
    )
    return 2 * found * newest > rare_texts * probe_window


def _index_pays(session: Session, sel: TraceSelection) -> bool:
    """Whether the index of texts may answer ``sel``'s text search (there is a text, one it can look up, an index)."""
    return (
        bool(sel.text) and text_search.indexable(session, sel.text or "") and text_search.available(session)
    )


def page_in_window(
    session: Session,
    project_id: str,
    sel: TraceSelection,
    limit: int,
    after_pk: int | None,
    window: int,
    *,
    probe_window: int | None = None,
    rare_texts: int | None = None,
) -> WindowPage:
    """Up to ``limit`` traces, newest received first, among the next ``window`` candidates after ``after_pk``.

    For conditions whose matches may be anywhere or nowhere (a text search: a LIKE over
    the texts of each candidate trace): the candidates are the driver's index entries or
    the project's traces by id, as in ``page_by_received``, but never more than
    ``window`` of them are examined, so a request costs at most ``window`` index entries
    plus their probes (the texts of each candidate trace), whatever the project's size.
    When the page is not full and the window was used up, ``window_end`` is the last key
    examined: the caller continues after it.

    With the index of texts (``text_search``) the walk is a density probe first: the
    first ``PROBE_WINDOW`` candidates are walked, and a page they fill is the answer (a
    common word). Otherwise, unless the density they show makes the word likely to be in
    more than half ``RARE_TEXTS`` traces (``_likely_common``: then the walk goes on at once),
    the index is asked for the traces with a matching text: when
    the word is in at most ``RARE_TEXTS`` texts of the project (rare or absent) the page
    is read from those traces, whole and exact (no window to continue); when it is in
    more, the walk goes on through the rest of the window. The traces and their order are
    those of the walk whichever way the page was found. ``probe_window`` and ``rare_texts``
    (tests) replace ``PROBE_WINDOW`` and ``RARE_TEXTS``.
    """
    probe_window = PROBE_WINDOW if probe_window is None else probe_window
    rare_texts = RARE_TEXTS if rare_texts is None else rare_texts
    if not _index_pays(session, sel) or window <= probe_window:
        return _walk_window(session, project_id, sel, limit, after_pk, window)
    first = _walk_window(session, project_id, sel, limit, after_pk, probe_window)
    if len(first.rows) >= limit or first.window_end is None:
        return first
    pks = None
    if not _likely_common(session, project_id, len(first.rows), probe_window, rare_texts):
        pks = text_search.matching_trace_pks(session, project_id, sel.text or "", rare_texts)
    if pks is not None:
        return WindowPage(
            _rows_of(session, _keys_among(session, project_id, sel, pks, limit, after_pk)), None
        )
    rest = _walk_window(
        session, project_id, sel, limit - len(first.rows), first.window_end, window - probe_window
    )
    return WindowPage(first.rows + rest.rows, rest.window_end)


def _keys_among(
    session: Session, project_id: str, sel: TraceSelection, pks: list[int], limit: int, after_pk: int | None
) -> list[int]:
    """The first ``limit`` of the traces ``pks`` (newest first) after ``after_pk`` that satisfy ``sel``.

    Tested a thousand at a time, newest first, stopping once the page is full: the
    conditions (the text's LIKE included, so the answer never rests on the index alone)
    are probed on those traces only.
    """
    keys = [pk for pk in pks if after_pk is None or pk < after_pk]
    conditions = selection_conditions(session, project_id, sel)
    out: list[int] = []
    for start in range(0, len(keys), 1_000):
        chunk = keys[start : start + 1_000]
        stmt = (
            select(Trace.id)
            .where(Trace.id.in_(chunk), *conditions)
            .order_by(Trace.id.desc())
            .limit(limit - len(out))
        )
        out += session.scalars(stmt)
        if len(out) >= limit:
            break
    return out


def _walk_window(
    session: Session, project_id: str, sel: TraceSelection, limit: int, after_pk: int | None, window: int
) -> WindowPage:
    plan = _received_plan(session, project_id, sel)
    candidates = _window(plan, after_pk, window)
    key = candidates.c.k
    stmt = select(key).where(*plan.conditions(key)).order_by(key.desc()).limit(limit)
    pks = list(session.scalars(stmt))
    window_end = None
    if len(pks) < limit:
        examined, last = session.execute(select(func.count(), func.min(key))).one()
        if examined >= window and last is not None:
            window_end = int(last)
    return WindowPage(_rows_of(session, pks), window_end)


def count_in_window(
    session: Session,
    project_id: str,
    sel: TraceSelection,
    cap: int,
    window: int,
    *,
    probe_window: int | None = None,
    rare_texts: int | None = None,
) -> tuple[int, bool]:
    """How many of the newest ``window`` candidates match (never counting past ``cap`` + 1), and whether
    that is the exact number of matching traces (under the cap, and the window held every candidate).

    Bounded like ``page_in_window``: at most ``window`` index entries and their probes. On
    PostgreSQL, common ``==`` conditions that the index of terms expects to match together at
    most ``tag_terms.MAX_CANDIDATES`` traces are counted exactly from its candidates. A
    text search with the index of texts counts the first ``PROBE_WINDOW`` candidates
    first; a word rare there (``_likely_common`` says no) and in at most
    ``RARE_TEXTS`` texts of the project is counted exactly from the index instead.
    """
    probe_window = PROBE_WINDOW if probe_window is None else probe_window
    rare_texts = RARE_TEXTS if rare_texts is None else rare_texts
    pks = _terms_candidates(session, project_id, sel)
    if pks is not None:
        # Every match is among the index's candidates: the count of those matching is exact.
        matching = _matching_candidates(session, project_id, sel, pks).limit(cap + 1).subquery()
        found = int(session.scalar(select(func.count()).select_from(matching)) or 0) if pks else 0
        return found, found <= cap
    if _index_pays(session, sel) and window > probe_window:
        found, exact = _count_window(session, project_id, sel, cap, probe_window)
        if exact or found > cap:
            return found, exact
        if not _likely_common(session, project_id, found, probe_window, rare_texts):
            pks = text_search.matching_trace_pks(session, project_id, sel.text or "", rare_texts)
            if pks is not None:
                found = len(_keys_among(session, project_id, sel, pks, cap + 1, None))
                return found, found <= cap
    return _count_window(session, project_id, sel, cap, window)


def _count_window(
    session: Session, project_id: str, sel: TraceSelection, cap: int, window: int
) -> tuple[int, bool]:
    plan = _received_plan(session, project_id, sel)
    candidates = _window(plan, None, window)
    key = candidates.c.k
    matching = select(key).where(*plan.conditions(key)).limit(cap + 1).subquery()
    found = int(session.scalar(select(func.count()).select_from(matching)) or 0)
    if found > cap:
        return found, False
    examined = int(session.scalar(select(func.count()).select_from(candidates)) or 0)
    return found, examined < window


def trace_by_id(session: Session, project_id: str, trace_id: str) -> TraceRow | None:
    """The trace ``trace_id`` of the project, ``None`` when there is none."""
    row = session.execute(
        select(*_TRACE_COLUMNS).where(Trace.project_id == project_id, Trace.trace_id == trace_id)
    ).first()
    return None if row is None else TraceRow._make(row)


def texts_of(session: Session, trace_pk: int) -> list[TextRow]:
    """The texts logged on a trace, in time order."""
    rows = session.execute(
        select(TextLine.ts, TextLine.level, TextLine.message)
        .where(TextLine.trace_pk == trace_pk)
        .order_by(TextLine.ts, TextLine.id)
    )
    return [TextRow._make(row) for row in rows]


def latest_received(session: Session, project_id: str, n: int) -> tuple[int | None, int]:
    """The id of the ``n``-th latest received trace and ``n``; ``(None, how many)`` when there are fewer."""
    first = session.scalar(
        select(Trace.id)
        .where(Trace.project_id == project_id)
        .order_by(Trace.id.desc())
        .offset(n - 1)
        .limit(1)
    )
    if first is None:
        return None, int(session.scalar(select(func.count()).where(Trace.project_id == project_id)) or 0)
    return int(first), n
