"""Dataset exports: every object of one ref on the traces a filter selects (NDJSON, Parquet, CSV),
and the list of those traces itself (``trace_list_stream``: ids, times, tags).

For building training and evaluation sets from production data. An export is
a generator of bytes that reads the objects in batches by keyset (object time,
id) and encodes them as it goes, so memory stays at one batch (NDJSON) or one
row group (Parquet) whatever the export's size. Rows carry the trace id and
the trace's tags next to the object's data. It never parses HTTP, never
writes to the store and runs no SQL (``store.data_objects.export_batch`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, Literal

import orjson

from raymon.server.services.errors import NotFoundError
from raymon.server.services.objects import read_body
from raymon.server.services.paging import QueryError
from raymon.server.services.tags import tag_value
from raymon.server.services.traces import TraceFilter, selection
from raymon.server.store import data_objects
from raymon.server.store import tags as tag_store
from raymon.server.store.data_objects import StoredBody
from raymon.server.store.traces import TraceSelection

if TYPE_CHECKING:
    from raymon.server.backend import Backend

ExportFormat = Literal["ndjson", "parquet", "csv"]
FORMATS: tuple[str, ...] = ("ndjson", "parquet")  # the API's export route
UI_FORMATS: tuple[str, ...] = ("ndjson", "parquet", "csv")  # the web UI's export links
MEDIA_TYPES = {
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8",
}
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TRACE_PAGE = 1000
BATCH_ROWS = 200
REFS_LISTED = 20  # refs named in the answer to a ref no object has
ROW_GROUP_ROWS = 2_000
ROW_GROUP_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExportRow:
    trace_id: str
    obj_id: str
    ref: str
    ts: datetime
    data_type: str
    tags: dict[str, Any]
    data: bytes  # the jcr as JSON bytes, as stored


def export_rows(
    backend: Backend, project_id: str, ref: str, flt: TraceFilter, batch_rows: int = BATCH_ROWS
) -> Iterator[ExportRow]:
    """Every object logged under ``ref`` on a trace ``flt`` selects, oldest first, batch by batch.

    Each batch is its own short read transaction, so a long export never holds
    the database; objects logged while it runs are included if they sort after
    the batch being read. The filter is checked here, before the first row is read.
    An object whose body is gone from the object store ends the export with a
    ``NotFoundError`` naming it (the stream breaks off: the file is visibly incomplete).
    A ref no object of the project has is a ``NotFoundError`` naming the refs there are
    (a ref whose objects the filter all leaves out is an empty export).
    """
    sel = selection(flt)
    check_ref(backend, project_id, ref)
    return _rows(backend, project_id, ref, sel, batch_rows)


def check_ref(backend: Backend, project_id: str, ref: str) -> None:
    """``NotFoundError`` when no object of the project has ``ref``, listing (up to 20 of) the refs there are."""
    with backend.reading() as session:
        if data_objects.has_ref(session, project_id, ref):
            return
        refs = data_objects.some_refs(session, project_id, REFS_LISTED + 1)
    listed = ", ".join(refs[:REFS_LISTED]) + (", ..." if len(refs) > REFS_LISTED else "") if refs else "none"
    raise NotFoundError(f"no object in project {project_id!r} has ref {ref!r}; refs: {listed}")


def object_refs(backend: Backend, project_id: str, limit: int = REFS_LISTED) -> list[str]:
    """Up to ``limit`` refs the project's objects were logged under (what an object export can name)."""
    with backend.reading() as session:
        return data_objects.distinct_refs(session, project_id, limit)


def _rows(
    backend: Backend, project_id: str, ref: str, sel: TraceSelection, batch_rows: int
) -> Iterator[ExportRow]:
    after: tuple[datetime, str] | None = None
    while True:
        with backend.reading() as session:
            rows = data_objects.export_batch(session, project_id, ref, sel, after, batch_rows)
            tags = tag_store.tags_by_trace(session, project_id, sorted({row.trace_pk for row in rows}))
        for row in rows:
            yield ExportRow(
                trace_id=row.trace_id,
                obj_id=row.id,
                ref=ref,
                ts=row.ts,
                data_type=row.data_type,
                tags={t.name: tag_value(t.value_num, t.value_text) for t in tags.get(row.trace_pk, [])},
                data=read_body(backend, StoredBody(row.id, row.body, row.store_key)),
            )
        if len(rows) < batch_rows:
            return
        after = (rows[-1].ts, rows[-1].id)


def check_format(fmt: str, formats: tuple[str, ...] = FORMATS) -> ExportFormat:
    if fmt not in formats:
        raise QueryError("format", f"must be one of {list(formats)}, got {fmt!r}")
    return fmt  # type: ignore[return-value]


# -- CSV -----------------------------------------------------------------------------------------
def csv_cell(value: Any) -> str | int | float:
    """A value as a CSV cell that no spreadsheet runs as a formula.

    Text starting with ``= + - @``, a tab or a carriage return gets a leading apostrophe
    (OWASP's advice against CSV injection), so ``=HYPERLINK(...)`` shows as text. Numbers
    (tag values stored as numbers) stay numbers: their text is never a formula. None is empty.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _LineBuffer:
    """What ``csv.writer`` writes, handed on as bytes one batch at a time."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def take(self) -> bytes:
        out = "".join(self.parts).encode()
        self.parts.clear()
        return out


def _csv_chunks(header: list[str], rows: Iterator[list[Any]], batch: int = BATCH_ROWS) -> Iterator[bytes]:
    import csv

    buffer = _LineBuffer()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header])
    for i, row in enumerate(rows, 1):
        writer.writerow([csv_cell(value) for value in row])
        if i % batch == 0:
            yield buffer.take()
    yield buffer.take()


def csv_lines(rows: Iterator[ExportRow]) -> Iterator[bytes]:
    """The objects as CSV: ``trace_id, obj_id, ref, ts, data_type, tags`` (JSON) and ``data`` (the jcr, JSON).

    Every text cell passes ``csv_cell``, so a logged ``=cmd|...`` cannot run in a spreadsheet.
    """
    header = ["trace_id", "obj_id", "ref", "ts", "data_type", "tags", "data"]
    return _csv_chunks(
        header,
        (
            [
                row.trace_id,
                row.obj_id,
                row.ref,
                row.ts.astimezone(UTC).isoformat(timespec="microseconds"),
                row.data_type,
                orjson.dumps(row.tags).decode(),
                row.data.decode(),
            ]
            for row in rows
        ),
    )


def ndjson_lines(rows: Iterator[ExportRow]) -> Iterator[bytes]:
    """One JSON object per line: ``trace_id``, ``obj_id``, ``ref``, ``ts``, ``data_type``, ``tags``, ``data``."""
    for row in rows:
        head = orjson.dumps(
            {
                "trace_id": row.trace_id,
                "obj_id": row.obj_id,
                "ref": row.ref,
                "ts": row.ts.astimezone(UTC).isoformat(timespec="microseconds"),
                "data_type": row.data_type,
                "tags": row.tags,
            }
        )
        yield head[:-1] + b',"data":' + row.data + b"}\n"


def parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("trace_id", pa.string()),
            ("obj_id", pa.string()),
            ("ref", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("data_type", pa.string()),
            ("tags", pa.string()),
            ("data", pa.string()),
        ],
        metadata={
            b"raymon.export": b"1",
            b"raymon.tags": b"JSON object name->value",
            b"raymon.data": b"jcr JSON",
        },
    )


class _ChunkSink:
    """A write-only file that keeps what was written until ``drain`` hands it on."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed = False
        self.position = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def parquet_chunks(
    rows: Iterator[ExportRow], row_group_rows: int = ROW_GROUP_ROWS, row_group_bytes: int = ROW_GROUP_BYTES
) -> Iterator[bytes]:
    """A Parquet file, written one row group at a time and handed on as each group is done.

    A ref of ``rt.DataFrame``/``rt.Series``/``rt.Native`` dict objects has flat columns
    (``export_columns``: ``trace_id``, ``obj_id``, ``ts``, ``tags.<name>``, one column per
    field, and ``tags``/``data`` JSON text for rows kept whole), its schema read off the first
    row group's rows. Any other ref: ``trace_id``, ``obj_id``, ``ref``, ``ts`` (UTC),
    ``data_type``, ``tags`` (JSON text: name -> value) and ``data`` (the jcr as JSON text, for
    ``rt.load_jcr(json.loads(...))``).
    """
    from raymon.server.services import export_columns

    first: list[tuple[ExportRow, list[export_columns.Record] | None]] = []
    first_bytes = 0
    for row in rows:  # the first row group, held to read the schema off it
        records = export_columns.flat_records(orjson.loads(row.data)) if _may_go_flat(row) else None
        first.append((row, records))
        first_bytes += len(row.data)
        if len(first) >= row_group_rows or first_bytes >= row_group_bytes:
            break
    schema = export_columns.derive((row.tags, records) for row, records in first)
    if schema is None:
        yield from _jcr_parquet_chunks(
            chain((row for row, _ in first), rows), row_group_rows, row_group_bytes
        )
        return
    shaped = chain(
        first,
        (
            (row, export_columns.flat_records(orjson.loads(row.data)) if _may_go_flat(row) else None)
            for row in rows
        ),
    )
    yield from _flat_parquet_chunks(schema, shaped, row_group_rows, row_group_bytes)


def _may_go_flat(row: ExportRow) -> bool:
    from raymon.server.services.export_columns import FLAT_TYPES

    return row.data_type in FLAT_TYPES


def _flat_parquet_chunks(
    schema: Any,
    shaped: Iterator[tuple[ExportRow, Any]],
    row_group_rows: int,
    row_group_bytes: int,
) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from raymon.server.services.export_columns import FlatColumns

    arrow_schema = schema.arrow_schema()
    sink = _ChunkSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), arrow_schema, compression="zstd")
    columns = FlatColumns(schema)
    pending_bytes = 0
    try:
        for row, records in shaped:
            columns.add(row.trace_id, row.obj_id, row.ts, row.tags, records, row.data.decode())
            pending_bytes += len(row.data)
            if columns.rows >= row_group_rows or pending_bytes >= row_group_bytes:
                writer.write_table(pa.Table.from_pydict(columns.take(), schema=arrow_schema))
                pending_bytes = 0
                chunk = sink.drain()
                if chunk:
                    yield chunk
        if columns.rows:
            writer.write_table(pa.Table.from_pydict(columns.take(), schema=arrow_schema))
    finally:
        writer.close()
    yield sink.drain()


def _jcr_parquet_chunks(
    rows: Iterator[ExportRow], row_group_rows: int, row_group_bytes: int
) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    sink = _ChunkSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    pending_bytes = 0

    def flush() -> None:
        nonlocal pending_bytes
        writer.write_table(pa.Table.from_pydict(columns, schema=schema))
        for values in columns.values():
            values.clear()
        pending_bytes = 0

    try:
        for row in rows:
            columns["trace_id"].append(row.trace_id)
            columns["obj_id"].append(row.obj_id)
            columns["ref"].append(row.ref)
            columns["ts"].append(row.ts)
            columns["data_type"].append(row.data_type)
            columns["tags"].append(orjson.dumps(row.tags).decode())
            columns["data"].append(row.data.decode())
            pending_bytes += len(row.data)
            if len(columns["obj_id"]) >= row_group_rows or pending_bytes >= row_group_bytes:
                flush()
                chunk = sink.drain()
                if chunk:
                    yield chunk
        if columns["obj_id"]:
            flush()
    finally:
        writer.close()
    yield sink.drain()


def export_stream(
    backend: Backend, project_id: str, ref: str, flt: TraceFilter, fmt: ExportFormat
) -> Iterator[bytes]:
    """The export's bytes in ``fmt``; call it before sending headers so a bad filter is refused up front."""
    rows = export_rows(backend, project_id, ref, flt)
    if fmt == "csv":
        return csv_lines(rows)
    return ndjson_lines(rows) if fmt == "ndjson" else parquet_chunks(rows)


# -- the trace list itself -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TraceListRow:
    trace_id: str
    first_ts: str
    last_ts: str
    tags: dict[str, Any]


def trace_list_rows(
    backend: Backend, project_id: str, flt: TraceFilter, page: int = TRACE_PAGE
) -> Iterator[TraceListRow]:
    """Every trace ``flt`` selects, newest received first, read page by page by keyset (a short read each).

    The filter is checked here, before the first row is read.
    """
    from raymon.server.services.traces import list_traces

    selection(flt)

    def rows() -> Iterator[TraceListRow]:
        cursor: str | None = None
        while True:
            found = list_traces(backend, project_id, flt, limit=page, cursor=cursor)
            for trace in found["traces"]:
                tags = {tag["name"]: tag["value"] for tag in trace["tags"]}
                yield TraceListRow(trace["trace_id"], trace["first_ts"], trace["last_ts"], tags)
            cursor = found["next_cursor"]
            if not cursor:
                return

    return rows()


def trace_list_stream(
    backend: Backend, project_id: str, flt: TraceFilter, fmt: ExportFormat
) -> Iterator[bytes]:
    """The matching traces as NDJSON (``trace_id, first_ts, last_ts, tags``), Parquet (``tags`` as JSON
    text) or CSV (one ``tags.<name>`` column per tag name of the first page, ``other_tags`` as JSON
    for names first seen later). Call it before sending headers: a bad filter is refused up front.
    """
    rows = trace_list_rows(backend, project_id, flt)
    if fmt == "ndjson":
        return (orjson.dumps(_trace_json(row)) + b"\n" for row in rows)
    if fmt == "parquet":
        return _trace_list_parquet(rows)
    return _trace_list_csv(rows)


def _trace_json(row: TraceListRow) -> dict[str, Any]:
    return {"trace_id": row.trace_id, "first_ts": row.first_ts, "last_ts": row.last_ts, "tags": row.tags}


def _trace_list_csv(rows: Iterator[TraceListRow]) -> Iterator[bytes]:
    first = [row for _, row in zip(range(TRACE_PAGE), rows, strict=False)]
    names = sorted({name for row in first for name in row.tags})
    known = set(names)
    header = ["trace_id", "first_ts", "last_ts", *(f"tags.{name}" for name in names), "other_tags"]

    def cells(row: TraceListRow) -> list[Any]:
        other = {k: v for k, v in row.tags.items() if k not in known}
        return [
            row.trace_id,
            row.first_ts,
            row.last_ts,
            *(row.tags.get(name) for name in names),
            orjson.dumps(other).decode() if other else None,
        ]

    return _csv_chunks(header, (cells(row) for row in chain(first, rows)))


def _trace_list_parquet(rows: Iterator[TraceListRow]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("trace_id", pa.string()),
            ("first_ts", pa.timestamp("us", tz="UTC")),
            ("last_ts", pa.timestamp("us", tz="UTC")),
            ("tags", pa.string()),
        ],
        metadata={b"raymon.export": b"traces", b"raymon.tags": b"JSON object name->value"},
    )
    sink = _ChunkSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    try:
        for row in rows:
            columns["trace_id"].append(row.trace_id)
            columns["first_ts"].append(datetime.fromisoformat(row.first_ts))
            columns["last_ts"].append(datetime.fromisoformat(row.last_ts))
            columns["tags"].append(orjson.dumps(row.tags).decode())
            if len(columns["trace_id"]) >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_pydict(columns, schema=schema))
                for values in columns.values():
                    values.clear()
                chunk = sink.drain()
                if chunk:
                    yield chunk
        if columns["trace_id"]:
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
    finally:
        writer.close()
    yield sink.drain()


__all__ = [
    "ExportRow",
    "check_format",
    "csv_cell",
    "csv_lines",
    "export_rows",
    "export_stream",
    "ndjson_lines",
    "parquet_chunks",
    "trace_list_stream",
]
