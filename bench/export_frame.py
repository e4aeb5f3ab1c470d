"""Decoding an export into one DataFrame (``RaymonAPI.export_frame``), against baselines in the same run.

The input is the bytes the server's exports send (made with the server's own
``parquet_chunks`` and ``ndjson_lines``, so the formats are exactly what ``export_frame`` reads), for
rows of the shipped house-price data: each object is ``rt.Series(df.iloc[i])``
of a mixed-dtype frame (an object Series of NumPy scalars and strings, what the
original Raymon's demo logs) or a one-row ``rt.DataFrame``, with three tags per trace.
Measured, best of ``--repeats``:

- ``read_table+to_pandas``: ``pyarrow.parquet.read_table(...).to_pandas()`` of the flat
  Parquet export, the floor of any Parquet reader;
- ``export_frame``: what ``RaymonAPI.export_frame`` does with the Parquet body
  (``raymon.frames.export_frame_from_parquet``);
- ``ndjson export_frame``: the path without pyarrow (``export_frame_from_ndjson``: parse the
  NDJSON lines, then decode column-wise, with the garbage collector paused);
- ``ndjson parse only``: ``orjson.loads`` of every line with the collector paused, the floor
  of any NDJSON decoder;
- ``server writes parquet``: the server's side, ``parquet_chunks`` of the export rows (for scale),
  next to ``server writes jcr pq`` (the jcr-column Parquet of before) and ``server writes ndjson``
  (bodies already read: the database reads are not in these);
- ``load_jcr per row``: parse, ``rt.load_jcr`` per row and one ``pd.DataFrame`` of the
  decoded rows, what a user writes without ``export_frame`` (on ``--naive-rows`` rows).

    python bench/export_frame.py [--rows 100000] [--repeats 3] [--columns 6|all]

Prints rows per second of each; the target is ``export_frame`` at 100,000 rows/s or more.
The rows and their bytes are made once, before the clock runs.
The figures are written in bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import UTC, datetime, timedelta
from importlib import resources

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import raymon.types as rt
from raymon.frames import export_frame, export_frame_from_ndjson, export_frame_from_parquet
from raymon.server.services.exports import ExportRow, _jcr_parquet_chunks, ndjson_lines, parquet_chunks

FEATURES = ["LotArea", "OverallQual", "YearBuilt", "GrLivArea", "Neighborhood", "LotFrontage"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def house_rows(columns: str) -> pd.DataFrame:
    path = resources.files("raymon").joinpath("demo_data/subset-cheap.csv")
    with path.open() as f:
        df = pd.read_csv(f)
    return df if columns == "all" else df[FEATURES]


def export_rows(df: pd.DataFrame, rows: int, shape: str) -> list[ExportRow]:
    """``rows`` export rows cycling over the frame's rows, as the server reads them."""
    jcrs = []
    for i in range(len(df)):
        wrapper = rt.Series(df.iloc[i]) if shape == "series" else rt.DataFrame(df.iloc[i : i + 1])
        jcrs.append(orjson.dumps(wrapper.to_jcr()))
    return [
        ExportRow(
            trace_id=f"t{i:07d}",
            obj_id=f"o{i:07d}",
            ref="request_data",
            ts=BASE + timedelta(milliseconds=i),
            data_type="raymon.types.Series" if shape == "series" else "raymon.types.DataFrame",
            tags={"client": "bigshot" if i % 3 else "small", "model": "v1", "latency_ms": i % 97},
            data=jcrs[i % len(jcrs)],
        )
        for i in range(rows)
    ]


def parquet_bytes(rows: list[ExportRow]) -> bytes:
    return b"".join(parquet_chunks(iter(rows)))


def jcr_parquet_bytes(rows: list[ExportRow]) -> bytes:
    """The Parquet file of the jcr shape (one ``data`` JSON column), what the server wrote before."""
    return b"".join(_jcr_parquet_chunks(iter(rows), 2_000, 32 * 1024 * 1024))


def ndjson_bytes(rows: list[ExportRow]) -> bytes:
    return b"".join(ndjson_lines(iter(rows)))


def read_parquet(body: bytes) -> pd.DataFrame:
    return pq.read_table(pa.BufferReader(body)).to_pandas()


def parse(body: bytes) -> list[dict]:
    return [orjson.loads(line) for line in body.splitlines() if line]


def parse_gc_paused(body: bytes) -> list[dict]:
    gc.disable()
    try:
        return parse(body)
    finally:
        gc.enable()


def naive(body: bytes) -> pd.DataFrame:
    records = []
    for row in parse(body):
        data = rt.load_jcr(row["data"]).data
        record = data.to_dict() if isinstance(data, pd.Series) else data.iloc[0].to_dict()
        records.append({"trace_id": row["trace_id"], **row["tags"], **record})
    return pd.DataFrame(records)


def best_of(repeats: int, fn, *args) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--naive-rows", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--columns", choices=["6", "all"], default="6")
    args = parser.parse_args()
    df = house_rows(args.columns)
    print(f"{args.rows} rows, {df.shape[1]} columns per object, best of {args.repeats}")
    print(f"{'shape':10} {'decoder':24} {'rows/s':>12} {'vs floor':>9}")
    for shape in ("series", "dataframe"):
        rows = export_rows(df, args.rows, shape)
        parquet = parquet_bytes(rows)
        ndjson = ndjson_bytes(rows)
        small = ndjson_bytes(rows[: args.naive_rows])
        floor = args.rows / best_of(args.repeats, read_parquet, parquet)
        fast = args.rows / best_of(args.repeats, export_frame_from_parquet, parquet)
        old = args.rows / best_of(args.repeats, export_frame_from_ndjson, ndjson)
        parse_paused = args.rows / best_of(args.repeats, parse_gc_paused, ndjson)
        written = args.rows / best_of(1, parquet_bytes, rows)
        written_jcr = args.rows / best_of(1, jcr_parquet_bytes, rows)
        written_ndjson = args.rows / best_of(1, ndjson_bytes, rows)
        slow = args.naive_rows / best_of(args.repeats, naive, small)
        frame = export_frame_from_parquet(parquet)
        assert len(frame) == args.rows and set(df.columns) <= set(frame.columns)
        assert frame["data"].isna().all() if "data" in frame.columns else True
        pd.testing.assert_frame_equal(
            frame.head(args.naive_rows), export_frame(parse(small)), check_exact=True
        )
        rates = (
            ("read_table+to_pandas", floor),
            ("export_frame", fast),
            ("ndjson export_frame", old),
            ("ndjson parse only", parse_paused),
            ("load_jcr per row", slow),
            ("server writes parquet", written),
            ("server writes jcr pq", written_jcr),
            ("server writes ndjson", written_ndjson),
        )
        for name, rate in rates:
            print(f"{shape:10} {name:24} {rate:12,.0f} {rate / floor:8.2f}x")
        print(
            f"{shape:10} export_frame is {fast / old:.1f}x the NDJSON path, {fast / slow:.0f}x load_jcr per row; "
            f"target 100,000 rows/s {'met' if fast >= 100_000 else 'NOT met'}; parquet {len(parquet):,} bytes"
        )


if __name__ == "__main__":
    main()
