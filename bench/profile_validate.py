"""Benchmark: validate data against a ModelProfile of 20 features (14 numeric, 6 categorical).

- one row (a dict, as a production service has it): time per ``validate_input``
  call; target under 50 us. Also shown: the same rows as a pandas Series
  (``df.iloc[i]``) and as a one-row DataFrame (``df.iloc[[i]]``). Baseline in the same run: a hand-written loop that
  does the same minimum work (look up each feature, check missing / bounds /
  domain, make the tag dicts) with no generality;
- a 100,000-row frame: rows per second of ``validate_input(df)``, against a
  hand-written vectorised floor (NumPy checks per column, the same tag dicts).

    python bench/profile_validate.py [--rows 100000] [--calls 20000]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mixed_frame import mixed_frame  # noqa: E402
from profile_build import best_of, build_raymon  # noqa: E402


def floor_plan(profile: Any) -> list[tuple[str, str, Any, Any]]:
    """(name, kind, bounds or domain, group) per component: what the hand-written floor checks."""
    plan = []
    for name, c in profile.components.items():
        if c.dtype == "CAT":
            plan.append((name, "cat", frozenset(c.stats.domain or ()), None))
        else:
            plan.append((name, "num", c.bounds, None))
    return plan


def floor_one_row(
    row: dict[str, Any], plan: list[tuple[str, str, Any, Any]], group: str
) -> list[dict[str, Any]]:
    tags = []
    for name, kind, rule, _ in plan:
        v = row.get(name)
        if kind == "num":
            if v is None or v != v:
                tags.append(
                    {
                        "name": name + "-error",
                        "value": "Value NaN",
                        "type": "profile-input-error",
                        "group": group,
                    }
                )
                continue
            lo, hi = rule
            tags.append({"name": name, "value": v, "type": "profile-input", "group": group})
            if v < lo or v > hi:
                tags.append(
                    {"name": name + "-error", "value": "Bound", "type": "profile-input-error", "group": group}
                )
        else:
            tags.append({"name": name, "value": v, "type": "profile-input", "group": group})
            if v not in rule:
                tags.append(
                    {
                        "name": name + "-error",
                        "value": "Domain",
                        "type": "profile-input-error",
                        "group": group,
                    }
                )
    return tags


def floor_batch(
    df: pd.DataFrame, plan: list[tuple[str, str, Any, Any]], group: str
) -> list[list[dict[str, Any]]]:
    columns = []
    for name, kind, rule, _ in plan:
        col = df[name]
        if kind == "num":
            arr = col.to_numpy(dtype=np.float64)
            values = arr.astype(object)
            values[np.isnan(arr)] = None
        else:
            values = col.to_numpy(dtype=object)
            col.isin(rule).to_numpy()
        columns.append(
            [{"name": name, "value": v, "type": "profile-input", "group": group} for v in values.tolist()]
        )
    return [list(r) for r in zip(*columns, strict=True)]


def per_call_us(fn: Any, rows: list[Any], calls: int) -> float:
    """Median over 5 runs of the mean time per call, in microseconds."""
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(calls):
            fn(rows[i % len(rows)])
        runs.append((time.perf_counter() - t) / calls * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    reference = build_raymon(mixed_frame(args.rows, seed=1))
    data = mixed_frame(args.rows, seed=2, shift=0.2)
    group = reference.group_idfr  # type: ignore[attr-defined]
    plan = floor_plan(reference)
    rows = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in data.iloc[:2000].to_dict("records")
    ]

    validate = reference.validate_input  # type: ignore[attr-defined]
    ours_us = per_call_us(validate, rows, args.calls)
    floor_us = per_call_us(lambda r: floor_one_row(r, plan, group), rows, args.calls)
    print(f"one row of {data.shape[1]} features (dict):")
    print(f"  {'hand-written floor':<26}{floor_us:8.1f} us   1.00x")
    print(f"  {'raymon validate_input':<26}{ours_us:8.1f} us {ours_us / floor_us:6.2f}x   (target < 50 us)")
    series_us = per_call_us(validate, [data.iloc[i] for i in range(500)], args.calls // 4)
    frame_us = per_call_us(validate, [data.iloc[[i]] for i in range(500)], args.calls // 4)
    print(f"  {'the row as a Series':<26}{series_us:8.1f} us {series_us / floor_us:6.2f}x")
    print(f"  {'as a one-row DataFrame':<26}{frame_us:8.1f} us {frame_us / floor_us:6.2f}x")

    floor_s = best_of(lambda: floor_batch(data, plan, group), args.repeat)
    ours_s = best_of(lambda: validate(data), args.repeat)
    print(f"frame of {len(data):,} rows:")
    print(f"  {'hand-written floor':<26}{len(data) / floor_s:12,.0f} rows/s   1.00x time")
    print(
        f"  {'raymon validate_input(df)':<26}{len(data) / ours_s:12,.0f} rows/s {ours_s / floor_s:6.2f}x time"
    )
    print(
        json.dumps(
            {
                "one_row_us": ours_us,
                "one_row_floor_us": floor_us,
                "one_row_series_us": series_us,
                "one_row_frame_us": frame_us,
                "batch_rows_per_s": len(data) / ours_s,
                "batch_floor_rows_per_s": len(data) / floor_s,
            }
        )
    )


if __name__ == "__main__":
    main()
