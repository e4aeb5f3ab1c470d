"""Tag statistics (counted over a sample's trace range) answer what folding every tag row of the sample gives."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from throwaway_databases import throwaway_postgres_database

from raymon.server.backend import Backend, build_backend
from raymon.server.services.tags import tag_stats, tag_value
from raymon.server.settings import Settings
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import Project, Tag, Trace

PROJECT = "stats"
TS = datetime(2026, 5, 1, tzinfo=UTC)


def _value(rng: random.Random, name: str) -> tuple[str, str | None, float | None]:
    """(type, text, number): ties between values, numbers and texts under one name, non-ASCII text."""
    if name == "mixed":
        return rng.choice(
            [("label", "a", None), ("metric", None, 2.0), ("label", "b", None), ("label", "é", None)]
        )
    if name == "num":
        return ("metric", None, float(rng.randint(-3, 5)) / 2)
    if name == "user":
        return ("label", f"u{rng.randint(0, 60)}", None)
    return (rng.choice(["label", "error"]), rng.choice(["x", "y", "Z", "ä"]), None)


def _fill(db: Database) -> None:
    rng = random.Random(5)
    with db.session() as session:
        session.add(Project(id=PROJECT, name=PROJECT))
        session.flush()
        for i in range(200):
            trace = Trace(project_id=PROJECT, trace_id=f"t{i}", first_ts=TS, last_ts=TS)
            session.add(trace)
            session.flush()
            for name in ("mixed", "num", "user", "kind"):
                if rng.random() < 0.8:
                    type_, text, number = _value(rng, name)
                    session.add(
                        Tag(
                            project_id=PROJECT,
                            trace_pk=trace.id,
                            name=name,
                            type=type_,
                            value_text=text,
                            value_num=number,
                            ts=TS,
                        )
                    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    tmp = Path(tmp_path_factory.mktemp("tagstats"))
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp / "raymon.db"))
        db.migrate()
        _fill(db)
        yield build_backend(Settings(data_dir=tmp), database=db)
        db.dispose()
    else:
        with throwaway_postgres_database(request.getfixturevalue("postgres_url"), "raymon_tagstats") as db:
            db.migrate()
            _fill(db)
            yield build_backend(Settings(data_dir=tmp), database=db)


def _reference(backend: Backend, values: int, from_pk: int | None) -> list[dict[str, Any]]:
    """The statistics folded in Python from every tag row (what ``tag_stats`` did before)."""
    with backend.reading() as session:
        stmt = select(Tag.name, Tag.type, Tag.value_text, Tag.value_num).where(Tag.project_id == PROJECT)
        if from_pk is not None:
            stmt = stmt.where(Tag.trace_pk >= from_pk)
        rows = list(session.execute(stmt))
    out: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[tuple[str | None, float | None], int]] = {}
    for name, type_, text, number in rows:
        entry = out.setdefault(name, {"name": name, "types": {}, "count": 0, "numeric": None})
        entry["types"][type_] = entry["types"].get(type_, 0) + 1
        entry["count"] += 1
        by_value = counts.setdefault(name, {})
        by_value[(text, number)] = by_value.get((text, number), 0) + 1
        if number is not None:
            numeric = entry["numeric"] or {"count": 0, "min": number, "max": number}
            numeric["count"] += 1
            numeric["min"], numeric["max"] = min(numeric["min"], number), max(numeric["max"], number)
            entry["numeric"] = numeric
    for name, entry in out.items():
        by_value = counts[name]
        entry["distinct_values"] = len(by_value)
        top = sorted(by_value.items(), key=lambda kv: (-kv[1], kv[0][0] or "", kv[0][1] or 0.0))[:values]
        entry["values"] = [{"value": tag_value(number, text), "count": n} for (text, number), n in top]
    return sorted(out.values(), key=lambda e: e["name"])


@pytest.mark.parametrize("values", [0, 1, 3, 20])
@pytest.mark.parametrize("sample", [0, 50])
def test_the_statistics_are_those_of_every_tag_row(backend: Backend, values: int, sample: int) -> None:
    got = tag_stats(backend, PROJECT, values=values, sample=sample)
    from_pk = None
    if sample:
        with backend.reading() as session:
            pks = sorted(session.scalars(select(Trace.id).where(Trace.project_id == PROJECT)), reverse=True)
        from_pk = pks[sample - 1]
    expected = _reference(backend, values, from_pk)
    assert [{k: v for k, v in e.items() if k != "sample_traces"} for e in got] == expected
    assert all(e["sample_traces"] == (sample or None) for e in got)


def test_one_name(backend: Backend) -> None:
    (only,) = tag_stats(backend, PROJECT, name="mixed", values=2, sample=0)
    assert only["name"] == "mixed" and only["distinct_values"] == 4 and len(only["values"]) == 2
