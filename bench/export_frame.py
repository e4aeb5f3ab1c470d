"""Decoding an export into one DataFrame (``RaymonAPI.export_frame``), against baselines in the same run.

The input is the bytes the server's NDJSON export sends (made with the server's
own ``ndjson_lines``, so the format is exactly what ``export_frame`` reads), for
rows of the shipped house-price data: each object is ``rt.Series(df.iloc[i])``
of a mixed-dtype frame (an object Series of NumPy scalars and strings, what the
original Raymon's demo logs) or a one-row ``rt.DataFrame``, with three tags per trace.
Measured, best of ``--repeats``:

- ``parse only``: ``orjson.loads`` of every line, the floor any decoder pays;
- ``export_frame``: what ``RaymonAPI.export_frame`` does with the body
  (``raymon.frames.export_frame_from_ndjson``: parse, then decode column-wise, with
  the garbage collector paused);
- ``parse, gc paused``: the floor under the same condition as ``export_frame``;
- ``load_jcr per row``: parse, ``rt.load_jcr`` per row and one ``pd.DataFrame`` of the
  decoded rows, what a user writes without ``export_frame`` (on ``--naive-rows`` rows).

    python bench/export_frame.py [--rows 100000] [--repeats 3] [--columns 6|all]

Prints rows per second of each; the target is ``export_frame`` at 100,000 rows/s or more.
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

import raymon.types as rt
from raymon.frames import export_frame, export_frame_from_ndjson
from raymon.server.services.exports import ExportRow, ndjson_lines

FEATURES = ["LotArea", "OverallQual", "YearBuilt", "GrLivArea", "Neighborhood", "LotFrontage"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def house_rows(columns: str) -> pd.DataFrame:
    path = resources.files("raymon").joinpath("demo_data/subset-cheap.csv")
    with path.open() as f:
        df = pd.read_csv(f)
    return df if columns == "all" else df[FEATURES]


def export_bytes(df: pd.DataFrame, rows: int, shape: str) -> bytes:
    """``rows`` export lines cycling over the frame's rows, as the server writes them."""
    jcrs = []
    for i in range(len(df)):
        wrapper = rt.Series(df.iloc[i]) if shape == "series" else rt.DataFrame(df.iloc[i : i + 1])
        jcrs.append(orjson.dumps(wrapper.to_jcr()))
    export_rows = (
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
    )
    return b"".join(ndjson_lines(export_rows))


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
    print(f"{'shape':10} {'decoder':18} {'rows/s':>12} {'vs parse only':>14}")
    for shape in ("series", "dataframe"):
        body = export_bytes(df, args.rows, shape)
        small = export_bytes(df, args.naive_rows, shape)
        floor = args.rows / best_of(args.repeats, parse, body)
        floor_paused = args.rows / best_of(args.repeats, parse_gc_paused, body)
        fast = args.rows / best_of(args.repeats, export_frame_from_ndjson, body)
        slow = args.naive_rows / best_of(args.repeats, naive, small)
        frame = export_frame(parse(small))
        assert len(frame) == args.naive_rows and set(df.columns) <= set(frame.columns)
        rates = (
            ("parse only", floor),
            ("parse, gc paused", floor_paused),
            ("export_frame", fast),
            ("load_jcr per row", slow),
        )
        for name, rate in rates:
            print(f"{shape:10} {name:18} {rate:12,.0f} {rate / floor:13.2f}x")
        print(
            f"{shape:10} export_frame is {fast / slow:.0f}x load_jcr per row; "
            f"target 100,000 rows/s {'met' if fast >= 100_000 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
