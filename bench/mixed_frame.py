"""The synthetic data the profiling benchmarks share: a mixed frame of numeric and categorical columns.

Deterministic for a seed, so every anchor (ours, the bare floor, whylogs,
Evidently) profiles the very same values. Never used by the test suite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
N_NUMERIC = 14
N_CATEGORICAL = 6
NAN_SHARE = 0.01


def mixed_frame(n_rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """14 numeric columns (about 1% NaN) and 6 categorical ones.

    ``shift`` moves the distributions of half the columns (numeric means by
    ``shift`` standard deviations, categorical weights towards the last
    categories) so a contrast has something to find.
    """
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(N_NUMERIC):
        moved = shift if i % 2 == 0 else 0.0
        kind = i % 3
        if kind == 0:
            values = rng.normal(10.0 * i + moved, 1.0, n_rows)
        elif kind == 1:
            values = rng.gamma(2.0, 1.0 + moved, n_rows)
        else:
            values = rng.integers(0, 100 + int(50 * moved), n_rows).astype(np.float64)
        values[rng.random(n_rows) < NAN_SHARE] = np.nan
        cols[f"num_{i:02d}"] = values
    for j in range(N_CATEGORICAL):
        k = 4 + 3 * j
        weights = np.linspace(1.0, 2.0, k)
        if j % 2 == 0 and shift:
            weights = weights ** (1.0 + 6.0 * shift)
        weights /= weights.sum()
        labels = np.array([f"cat{j}_{c}" for c in range(k)], dtype=object)
        cols[f"cat_{j}"] = labels[rng.choice(k, size=n_rows, p=weights)]
    return pd.DataFrame(cols)


def frame_on_disk(n_rows: int, seed: int = 0, shift: float = 0.0) -> Path:
    """The frame written once as Parquet under bench/.data/ (git-ignored), for the anchors' venvs."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"mixed-{n_rows}-{seed}-{shift:g}.parquet"
    if not path.exists():
        mixed_frame(n_rows, seed, shift).to_parquet(path, index=False)
    return path
