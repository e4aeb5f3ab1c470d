"""The SQL a tag filter compiles to selects exactly the traces ``evaluate`` selects, on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from throwaway_databases import filled_database

from raymon.server.services.tagfilter import evaluate, parse
from raymon.server.store.db import Database
from raymon.server.store.models import Project, Tag, Trace
from raymon.server.store.tagfilter_sql import to_clause
from raymon.server.store.writes import numeric_reading

PROJECT = "p1"
OTHER_PROJECT = "p2"

# Each trace's tags: a name -> value dict, values text or numbers (the store splits them by type).
TRACE_TAGS: list[dict[str, Any]] = [
    {},
    {"a": "x"},
    {"a": "y", "b": 1},
    {"a": "x", "b": 2.5, "c": "10"},
    {"a": 10, "b": "x"},
    {"b": -3, "c": "x y"},
    {"a": "X", "c": 0},
    {"a": "x", "b": "x", "c": "x"},
    {"c": 1e6},
    {"a": "", "b": 2.5},
]


def _fill(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        session.add_all([Project(id=PROJECT, name=PROJECT), Project(id=OTHER_PROJECT, name=OTHER_PROJECT)])
        session.flush()
        for project in (PROJECT, OTHER_PROJECT):
            for i, tags in enumerate(TRACE_TAGS):
                trace = Trace(project_id=project, trace_id=f"t{i}", first_ts=now, last_ts=now)
                session.add(trace)
                session.flush()
                # The other project's traces carry every tag with value "x", so leaks would show.
                values = tags if project == PROJECT else {n: "x" for n in "abc"}
                for name, value in values.items():
                    session.add(
                        Tag(
                            project_id=project,
                            trace_pk=trace.id,
                            name=name,
                            type="label",
                            value_num=numeric_reading(value),  # as ingestion stores it
                            value_text=value if isinstance(value, str) else None,
                            ts=now,
                        )
                    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with filled_database(request, tmp_path_factory, "tagfilter", _fill) as db:
        yield db


def _selected(db: Database, expression: str) -> set[str]:
    collation = "C" if db.is_postgresql else None
    query = select(Trace.trace_id).where(
        Trace.project_id == PROJECT, to_clause(parse(expression), PROJECT, collation)
    )
    with db.session() as session:
        return set(session.scalars(query))


def _expected(expression: str) -> set[str]:
    tree = parse(expression)
    return {f"t{i}" for i, tags in enumerate(TRACE_TAGS) if evaluate(tree, tags)}


@pytest.mark.parametrize(
    "expression",
    [
        "a==x",
        "a!=x",
        "a<y",
        "a>x",
        "a<=x",
        "a>=X",
        "b==2.5",
        "b!=2.5",
        "b<2",
        "b>=1",
        "a==10",
        'c=="10"',
        "c==10",
        'c=="x y"',
        'a==""',
        "a",
        "!a",
        "!(a==x)",
        "a==x && b==2.5",
        "a==x || b==x",
        "a==x || b==1 && c",
        "(a==x || b==1) && c",
        "!(a==x || b) && c",
        "c>=1e6",
        "nosuchtag==1 || nosuchtag",
    ],
)
def test_each_operator_selects_what_the_reference_semantics_select(
    filled_db: Database, expression: str
) -> None:
    assert _selected(filled_db, expression) == _expected(expression)


_leaf = st.builds(
    lambda name, op, value: f"{name}{op}{value}",
    st.sampled_from("abcd"),
    st.sampled_from(["==", "!=", "<", ">", "<=", ">="]),
    st.sampled_from(["x", "y", "X", '"10"', "10", "2.5", "-3", "0", '""', '"x y"']),
) | st.sampled_from(["a", "b", "c", "d"])

_expressions = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        inner.map(lambda e: f"!({e})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} && {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"{p[0]} || {p[1]}"),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_expressions)
def test_random_expressions_select_what_the_reference_semantics_select(
    filled_db: Database, expression: str
) -> None:
    assert _selected(filled_db, expression) == _expected(expression)
