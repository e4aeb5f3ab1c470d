"""Benchmark: build a ModelProfile of a 1,000,000 x 20 mixed frame, against the bare floor and whylogs.

Three timings on the same data in one run:
- floor: bare pandas/NumPy cost of the statistics a profile holds (count,
  missing, min, max, mean, std, quantiles, histogram, value counts);
- raymon: ``ModelProfile.build`` of the frame;
- whylogs 1.6 (``why.log(df)``) in its own venv (it needs NumPy < 2), fed the
  same frame through a Parquet file under bench/.data/.
Prints each time and its ratio to the floor. Target: raymon within 2x of the floor.

    python bench/profile_build.py [--rows 1000000] [--repeat 3] [--no-whylogs]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchor_venv import AnchorUnavailable, anchor_python, run_timed  # noqa: E402
from mixed_frame import frame_on_disk  # noqa: E402

WHYLOGS_REQUIREMENTS = ["whylogs==1.6.*", "numpy<2", "pandas<2.4", "pyarrow<19"]
QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
N_BINS = 20


def bare_floor(df: pd.DataFrame) -> dict[str, object]:
    """What a profile's statistics cost with plain pandas/NumPy and no bookkeeping."""
    out: dict[str, object] = {}
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col):
            values = col.to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            x = values[~missing]
            lo, hi = float(x.min()), float(x.max())
            out[name] = (
                x.size,
                int(missing.sum()),
                lo,
                hi,
                float(x.mean()),
                float(x.std()),
                np.quantile(x, QUANTILES),
                np.histogram(x, bins=N_BINS, range=(lo, hi))[0],
            )
        else:
            out[name] = col.value_counts(dropna=False)
    return out


def build_raymon(df: pd.DataFrame) -> object:
    """Build a ModelProfile with one input component per column (typed by the column's dtype)."""
    from raymon.profiling import ModelProfile, generate_components

    profile = ModelProfile("bench", "1.0.0", generate_components(df.dtypes))
    return profile.build(input=df, silent=True)


WHYLOGS_SCRIPT = """
import json, sys, time
import pandas as pd
import whylogs as why
df = pd.read_parquet({path!r})
times = []
for _ in range({repeat}):
    t = time.perf_counter()
    why.log(df).view()
    times.append(time.perf_counter() - t)
print(json.dumps({{"seconds": min(times), "version": why.__version__}}))
"""


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` timed calls, each after a full collection (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-whylogs", action="store_true", help="skip the whylogs anchor")
    args = parser.parse_args()

    path = frame_on_disk(args.rows)
    df = pd.read_parquet(path)
    print(f"frame: {len(df):,} rows x {df.shape[1]} columns ({path.name})")

    floor = best_of(lambda: bare_floor(df), args.repeat)
    ours = best_of(lambda: build_raymon(df), args.repeat)
    results: dict[str, object] = {"rows": len(df), "floor_s": floor, "raymon_s": ours}
    print(f"{'bare pandas/NumPy floor':<28}{floor:9.3f} s   1.00x")
    print(f"{'raymon ModelProfile.build':<28}{ours:9.3f} s {ours / floor:6.2f}x  (target <= 2x)")
    if not args.no_whylogs:
        try:
            python = anchor_python("whylogs", WHYLOGS_REQUIREMENTS)
            why = run_timed(python, WHYLOGS_SCRIPT.format(path=str(path), repeat=max(1, args.repeat - 1)))
            results["whylogs_s"] = why["seconds"]
            print(
                f"{'whylogs ' + why['version'] + ' why.log':<28}{why['seconds']:9.3f} s {why['seconds'] / floor:6.2f}x"
            )
        except AnchorUnavailable as exc:
            print(f"whylogs anchor unavailable: {exc}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
