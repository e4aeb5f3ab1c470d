"""The lattice search: SliceLine's pruning never changes the top slices, and planted slices come out first."""

from __future__ import annotations

import numpy as np
import pytest

from raymon.server.engine.slice_discovery import CellTable, SearchSettings, search


def table(seed: int, planted: dict[tuple[str, str], float] | None = None, n: int = 6000) -> CellTable:
    """Cells of ``n`` traces over tags a (4 values), b (6), c (8); errors |N(0, 1)| times the planted factors."""
    rng = np.random.default_rng(seed)
    values = {"a": rng.integers(0, 4, n), "b": rng.integers(0, 6, n), "c": rng.integers(0, 8, n)}
    err = np.abs(rng.normal(0, 1, n))
    for (tag, value), factor in (planted or {}).items():
        err[values[tag] == int(value)] *= factor
    cells: dict[tuple[int, int, int], list[float]] = {}
    for i in range(n):
        key = (int(values["a"][i]), int(values["b"][i]), int(values["c"][i]))
        acc = cells.setdefault(key, [0.0, 0.0, 0.0, 0.0])
        acc[0] += 1
        acc[1] += err[i]
        acc[2] += err[i] ** 2
        acc[3] = max(acc[3], err[i])
    return CellTable.build(
        ["a", "b", "c"],
        [({"a": str(k[0]), "b": str(k[1]), "c": str(k[2])}, *v) for k, v in cells.items()],
    )


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("alpha", [0.9, 0.99])
def test_pruning_by_the_upper_bound_keeps_the_exhaustive_top_slices(seed: int, alpha: float) -> None:
    cells = table(seed, {("b", "2"): 1.5, ("c", "5"): 1.3})
    settings = SearchSettings(min_support=40, alpha=alpha, top=10)
    pruned = search(cells, settings)
    exhaustive = search(cells, SearchSettings(min_support=40, alpha=alpha, top=10, prune=False))
    assert [(f.conditions, round(f.score, 12)) for f in pruned.findings] == [
        (f.conditions, round(f.score, 12)) for f in exhaustive.findings
    ]
    assert exhaustive.pruned == 0 and pruned.evaluated <= exhaustive.evaluated


def test_a_planted_single_value_and_a_planted_pair_come_out_first() -> None:
    single = search(table(1, {("b", "4"): 2.0}), SearchSettings(min_support=40))
    assert single.findings[0].conditions == (("b", "4"),)
    assert single.findings[0].to_json()["significant"]
    pair_cells = table(2)
    # a pair: double the errors of the cells where a == 1 and c == 3
    mask = (pair_cells.codes[:, 0] == pair_cells.values[0].index("1")) & (
        pair_cells.codes[:, 2] == pair_cells.values[2].index("3")
    )
    pair_cells.s[mask] *= 2.0
    pair_cells.sq[mask] *= 4.0
    pair_cells.mx[mask] *= 2.0
    found = search(pair_cells, SearchSettings(min_support=40))
    assert found.findings[0].conditions == (("a", "1"), ("c", "3"))


def test_clean_cells_score_nothing_significant_and_small_slices_are_never_scored() -> None:
    found = search(table(3), SearchSettings(min_support=200))
    assert not any(f.to_json()["significant"] for f in found.findings)
    assert all(f.size >= 200 for f in found.findings)
