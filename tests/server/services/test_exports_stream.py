"""Exports stream: Parquet leaves row group by row group, batches are read by keyset, nothing is held whole."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from raymon.server.backend import Backend, build_backend
from raymon.server.services.errors import NotFoundError
from raymon.server.services.exports import export_rows, ndjson_lines, parquet_chunks
from raymon.server.services.paging import QueryError
from raymon.server.services.traces import TraceFilter
from raymon.server.settings import Settings
from raymon.server.store.db import Database, sqlite_url
from raymon.server.store.models import DataObject, Project, Tag, Trace

BASE = datetime(2026, 5, 1, tzinfo=UTC)
N = 57


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    tmp = Path(tmp_path_factory.mktemp("exports"))
    database = Database(sqlite_url(tmp / "raymon.sqlite3"))
    database.migrate()
    with database.session() as session:
        session.add(Project(id="p", name="p"))
        session.flush()
        for i in range(N):
            ts = BASE + timedelta(seconds=i // 2)  # pairs share a timestamp: the id breaks ties
            trace = Trace(project_id="p", trace_id=f"t{i:02d}", first_ts=ts, last_ts=ts)
            session.add(trace)
            session.flush()
            session.add(
                Tag(
                    project_id="p",
                    trace_pk=trace.id,
                    name="k",
                    type="label",
                    value_text=str(i % 2),
                    value_num=float(i % 2),
                    ts=ts,
                )
            )
            body = {"type": "raymon.types.Native", "params": {"data": i}}
            obj = DataObject(
                id=f"o{i:03d}",
                project_id="p",
                trace_pk=trace.id,
                ref="r",
                ts=ts,
                data_type="raymon.types.Native",
                size=len(orjson.dumps(body)),
                body=orjson.dumps(body).decode(),
            )
            session.add(obj)
    yield build_backend(Settings(data_dir=tmp), database=database)
    database.dispose()


def test_batches_by_keyset_return_every_object_once_in_time_order(db: Backend) -> None:
    rows = list(export_rows(db, "p", "r", TraceFilter(), batch_rows=4))
    assert [r.obj_id for r in rows] == [f"o{i:03d}" for i in range(N)]
    assert [orjson.loads(r.data)["params"]["data"] for r in rows] == list(range(N))


def test_parquet_is_written_and_handed_on_one_row_group_at_a_time(db: Backend) -> None:
    chunks = list(parquet_chunks(export_rows(db, "p", "r", TraceFilter("k==1"), batch_rows=5), 6))
    assert len(chunks) >= 4  # the file leaves as it is written, not in one piece at the end
    data = b"".join(chunks)
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.num_row_groups == -(-len(range(1, N, 2)) // 6)
    table = parquet.read()
    assert table.column("obj_id").to_pylist() == [f"o{i:03d}" for i in range(1, N, 2)]
    assert {orjson.loads(t)["k"] for t in table.column("tags").to_pylist()} == {"1"}


def test_ndjson_lines_come_one_per_object(db: Backend) -> None:
    lines = list(ndjson_lines(export_rows(db, "p", "r", TraceFilter("k==0"), batch_rows=7)))
    assert len(lines) == len(range(0, N, 2))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)


def test_a_bad_filter_is_refused_before_any_row_is_read(db: Backend) -> None:
    with pytest.raises(QueryError, match="position 2"):
        export_rows(db, "p", "r", TraceFilter("k=1"))


def test_an_empty_export_is_still_a_readable_parquet_file(db: Backend) -> None:
    nothing = TraceFilter(expression="no_such_tag==x")  # the ref exists; no trace matches
    data = b"".join(parquet_chunks(export_rows(db, "p", "r", nothing)))
    assert pq.read_table(io.BytesIO(data)).num_rows == 0


def test_a_body_gone_from_the_object_store_ends_the_export_naming_the_object(db: Backend) -> None:
    with db.writing() as session:
        trace_pk = session.scalar(select(Trace.id).where(Trace.trace_id == "t00"))
        session.add(
            DataObject(
                id="gone1",
                project_id="p",
                trace_pk=trace_pk,
                ref="gone",
                ts=BASE,
                data_type="raymon.types.Native",
                size=100,
                body=None,
                store_key="p/go/gone1.json",
            )
        )
    with pytest.raises(NotFoundError, match="'gone1' is missing from the object store"):
        list(export_rows(db, "p", "gone", TraceFilter()))
