"""Finding the worst slices nobody configured: SliceLine's lattice search over roll-up cells.

Input: the cells of a time range summed per cell (``engine.slice_cells``: one combination of
the explored tags' values each) for one metric, as per-cell weight ``w`` (values, or traces
for a rate), sum ``s``, sum of squares ``sq`` and max ``mx``. A slice is a conjunction of up
to ``max_level`` conditions ``tag == value`` on different tags; its statistics are the sums of
the cells it covers, computed per tag combination at once (one ``bincount`` over the cells).

Scoring follows SliceLine (Sagadeeva & Boehm, SIGMOD 2021): with ``ē`` the average error
over all traffic, ``N`` the traffic's size, ``|S|`` and ``ē_S`` a slice's size and average,

    score(S) = α (ē_S / ē - 1) - (1 - α) (N / |S| - 1)

(``α`` weighs error against size: a slice must be both bad and big to rank high). Slices below
the minimum support ``σ`` are dropped, and so are their descendants. The lattice is pruned
with SliceLine's upper bounds: a child of parents ``P`` has size at most ``min |P|``, error sum
at most ``min e_P`` and max at most ``min m_P``, so its score is at most

    max over ss in [σ, min |P|] of α (min(e_P, ss m_P) / ss / ē - 1) - (1 - α) (N / ss - 1),

and a slice whose bound is below the current K-th best score (or not positive) is neither
kept nor expanded. This bound needs nonnegative errors (abs errors, rates); a metric with
negative values is searched with support pruning only.

Every slice that was scored is also *tested* against the rest of the traffic (Welch's t from
the sums, or the two-proportion/Fisher test for rates, ``engine.slice_stats``) and the p-values
of all of them are adjusted together (Benjamini-Yekutieli): the top K by score come with effect
size, interval, n and an adjusted p-value, and only those under ``q`` are ``significant``.

The cost is bounded: per level, one pass over the cells per combination of that many explored
tags (``C(tags, level)``), at most ``max_tags`` tags and ``max_values`` values each. This
module is pure (NumPy and the stats module; no database).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raymon.server.engine import slice_stats
from raymon.server.engine.slice_cells import OTHER
from raymon.server.engine.slices import combination_slicestr

Q = 0.05  # the false-discovery level a finding is significant at


@dataclass(frozen=True)
class CellTable:
    """Cells as arrays: ``codes[i, t]`` the value index of explored tag ``t`` in cell ``i`` (-1: absent)."""

    tags: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]  # per tag, its values (index -> text)
    codes: np.ndarray  # int64, cells x tags
    w: np.ndarray  # float64 weights (values or traces)
    s: np.ndarray  # sums
    sq: np.ndarray  # sums of squares
    mx: np.ndarray  # maxima (NaN: none)

    @classmethod
    def build(
        cls,
        tags: Sequence[str],
        cells: Sequence[tuple[dict[str, str], float, float, float, float | None]],
    ) -> CellTable:
        """From ``(values by tag, w, s, sq, mx)`` per cell; tags outside ``tags`` are summed over."""
        index: list[dict[str, int]] = [{} for _ in tags]
        codes = np.full((len(cells), len(tags)), -1, dtype=np.int64)
        w, s, sq, mx = (np.zeros(len(cells)) for _ in range(4))
        for i, (values, wi, si, sqi, mxi) in enumerate(cells):
            for t, name in enumerate(tags):
                v = values.get(name)
                if v is not None:
                    codes[i, t] = index[t].setdefault(v, len(index[t]))
            w[i], s[i], sq[i] = wi, si, sqi
            mx[i] = math.nan if mxi is None else mxi
        return cls(
            tuple(tags),
            tuple(tuple(sorted(ix, key=ix.__getitem__)) for ix in index),
            codes,
            w,
            s,
            sq,
            mx,
        )


@dataclass(frozen=True)
class SearchSettings:
    max_level: int = 3
    min_support: int | None = None  # None: max(30, 1% of the weight)
    alpha: float = 0.99
    top: int = 10
    rate: bool = False  # the metric is a rate (s counts errors of w trials)
    prune: bool = True  # False: support pruning only (the exhaustive reference the bound is tested against)


@dataclass
class Finding:
    conditions: tuple[tuple[str, str], ...]
    size: float
    total: float
    total_sq: float
    max: float
    score: float
    test: dict[str, Any] = field(default_factory=dict)
    p_value: float | None = None
    p_adjusted: float | None = None

    def to_json(self) -> dict[str, Any]:
        names = [t for t, _ in self.conditions]
        return {
            "conditions": [{"tag": t, "value": v} for t, v in self.conditions],
            "slicestr": combination_slicestr(names, [v for _, v in self.conditions]),
            "n": int(self.size),
            "score": self.score,
            **self.test,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "significant": self.p_adjusted is not None and self.p_adjusted < Q,
        }


@dataclass
class SearchReport:
    findings: list[Finding]
    n: float
    average: float | None
    min_support: int
    evaluated: int  # slices scored and tested
    pruned: int  # slices dropped by the upper bound
    levels: int

    def to_json(self) -> dict[str, Any]:
        return {
            "n": int(self.n),
            "average": self.average,
            "min_support": self.min_support,
            "evaluated": self.evaluated,
            "pruned": self.pruned,
            "levels": self.levels,
            "slices": [f.to_json() for f in self.findings],
        }


def _score(alpha: float, size: np.ndarray, err: np.ndarray, n: float, avg: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return alpha * ((err / size) / avg - 1.0) - (1.0 - alpha) * (n / size - 1.0)


def _upper_bound(
    alpha: float,
    sigma: float,
    size_ub: np.ndarray,
    err_ub: np.ndarray,
    max_ub: np.ndarray,
    n: float,
    avg: float,
) -> np.ndarray:
    """SliceLine's bound of any descendant's score, at the candidate sizes where its maximum lies."""
    best = np.full(size_ub.shape, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        knee = np.where(max_ub > 0, err_ub / max_ub, size_ub)
    for ss in (np.full(size_ub.shape, sigma), np.clip(knee, sigma, size_ub), size_ub):
        ok = ss >= sigma
        err = np.minimum(err_ub, ss * max_ub)
        val = _score(alpha, ss, err, n, avg)
        best = np.where(ok & (val > best), val, best)
    return best


def search(table: CellTable, settings: SearchSettings) -> SearchReport:
    """The top ``settings.top`` slices by SliceLine score, each tested against the rest (see the module docstring)."""
    n, total, total_sq = float(table.w.sum()), float(table.s.sum()), float(table.sq.sum())
    sigma = settings.min_support or max(30, math.ceil(0.01 * n))
    if n <= 0 or total <= 0:
        return SearchReport([], n, None if n <= 0 else total / n, sigma, 0, 0, 0)
    avg = total / n
    prune = settings.prune and bool(np.nanmin(table.mx, initial=0.0) >= 0 and (table.s >= 0).all())
    alpha, top = settings.alpha, settings.top
    tags = range(len(table.tags))
    radix = [len(v) + 1 for v in table.values]
    other_code = [table.values[t].index(OTHER) if OTHER in table.values[t] else -2 for t in tags]
    # expandable[level]: {(tag indices) -> {value codes tuple -> (size, err, max)}}
    expandable: dict[tuple[int, ...], dict[tuple[int, ...], tuple[float, float, float]]] = {}
    scored: list[Finding] = []
    kth = -math.inf  # the K-th best score so far
    evaluated = pruned = levels = 0
    for level in range(1, settings.max_level + 1):
        next_expandable: dict[tuple[int, ...], dict[tuple[int, ...], tuple[float, float, float]]] = {}
        for combo in itertools.combinations(tags, level):
            if level > 1 and any(sub not in expandable for sub in itertools.combinations(combo, level - 1)):
                continue
            cols = table.codes[:, combo]
            present = (cols >= 0).all(axis=1)
            if not present.any():
                continue
            key = np.zeros(int(present.sum()), dtype=np.int64)
            for j, t in enumerate(combo):
                key = key * radix[t] + cols[present, j]
            uniq, inverse = np.unique(key, return_inverse=True)
            size = np.bincount(inverse, table.w[present])
            err = np.bincount(inverse, table.s[present])
            sq = np.bincount(inverse, table.sq[present])
            mx = np.full(len(uniq), -np.inf)
            np.maximum.at(mx, inverse, np.nan_to_num(table.mx[present], nan=-np.inf))
            codes = np.zeros((len(uniq), level), dtype=np.int64)
            rest = uniq.copy()
            for j in range(level - 1, -1, -1):
                codes[:, j] = rest % radix[combo[j]]
                rest //= radix[combo[j]]
            ok = size >= sigma
            for j, t in enumerate(combo):
                ok &= codes[:, j] != other_code[t]
            if level > 1:  # every parent must have been expandable
                for drop in range(level):
                    sub = tuple(c for k, c in enumerate(combo) if k != drop)
                    parents = expandable[sub]
                    sub_codes = np.delete(codes, drop, axis=1)
                    ok &= np.fromiter((tuple(r) in parents for r in sub_codes.tolist()), bool, len(uniq))
            idx = np.flatnonzero(ok)
            if not len(idx):
                continue
            levels = max(levels, level)
            scores = _score(alpha, size[idx], err[idx], n, avg)
            evaluated += len(idx)
            for i, sc in zip(idx.tolist(), scores.tolist(), strict=True):
                conditions = tuple(
                    (table.tags[t], table.values[t][int(codes[i, j])]) for j, t in enumerate(combo)
                )
                scored.append(
                    Finding(conditions, float(size[i]), float(err[i]), float(sq[i]), float(mx[i]), sc)
                )
            best = sorted((f.score for f in scored), reverse=True)
            kth = best[top - 1] if len(best) >= top else -math.inf
            if level == settings.max_level:
                continue
            if prune:
                ub = _upper_bound(alpha, sigma, size[idx], err[idx], np.maximum(mx[idx], 0.0), n, avg)
                keep = (ub > 0) & (ub >= kth)
                pruned += int((~keep).sum())
                idx = idx[keep]
            if len(idx):
                next_expandable[combo] = {
                    tuple(codes[i].tolist()): (float(size[i]), float(err[i]), float(mx[i]))
                    for i in idx.tolist()
                }
        expandable = next_expandable
        if not expandable:
            break
    _p_values(scored, n, total, total_sq, settings.rate)
    adjusted = slice_stats.adjust([f.p_value for f in scored])
    for f, q in zip(scored, adjusted, strict=True):
        f.p_adjusted = q
    findings = sorted((f for f in scored if f.score > 0), key=lambda f: (-f.score, f.conditions))[:top]
    for f in findings:
        if f.size >= 2 and n - f.size >= 2:
            f.test = _detail(f, n, total, total_sq, settings.rate)[0]
    return SearchReport(findings, n, avg, sigma, evaluated, pruned, levels)


def _p_values(found: list[Finding], n: float, total: float, total_sq: float, rate: bool) -> None:
    """Every scored slice's p-value against the rest of the traffic, vectorised (Fisher one by one where needed)."""
    if not found:
        return
    size = np.array([f.size for f in found])
    s = np.array([f.total for f in found])
    rest_n, rest_s = n - size, total - s
    with np.errstate(divide="ignore", invalid="ignore"):
        if rate:
            pooled = total / n
            se = np.sqrt(pooled * (1 - pooled) * (1 / size + 1 / rest_n))
            z = (s / size - rest_s / rest_n) / se
            p = 2.0 * slice_stats.sps.norm.sf(np.abs(z))
            expected = np.minimum(np.minimum(size, rest_n) * pooled, np.minimum(size, rest_n) * (1 - pooled))
            small = expected < slice_stats.FISHER_BELOW
        else:
            sq = np.array([f.total_sq for f in found])
            mean1, mean2 = s / size, rest_s / rest_n
            var1 = np.maximum(sq - s * mean1, 0.0) / (size - 1)
            var2 = np.maximum((total_sq - sq) - rest_s * mean2, 0.0) / (rest_n - 1)
            p = slice_stats.welch_arrays(size, mean1, var1, rest_n, mean2, var2)[2]
            small = np.zeros(len(found), dtype=bool)
    for i, f in enumerate(found):
        if small[i] and size[i] >= 1 and rest_n[i] >= 1:
            f.p_value = _detail(f, n, total, total_sq, rate)[1]
        elif math.isfinite(float(p[i])):
            f.p_value = float(p[i])


def _detail(
    f: Finding, n: float, total: float, total_sq: float, rate: bool
) -> tuple[dict[str, Any], float | None]:
    """One slice's full test against the rest: its JSON and p-value."""
    if rate:
        result = slice_stats.two_proportions(
            int(round(f.total)), int(round(f.size)), int(round(total - f.total)), int(round(n - f.size))
        )
    else:
        part = slice_stats.Moments.from_sums(int(round(f.size)), f.total, f.total_sq)
        whole = slice_stats.Moments.from_sums(int(round(n)), total, total_sq)
        result = slice_stats.welch(part, whole.minus(part))
    return _test_json(result), result.p_value


def _test_json(result: slice_stats.TestResult) -> dict[str, Any]:
    j = result.to_json()
    return {
        "test": j["test"],
        "value": j["value_a"],
        "rest_value": j["value_b"],
        "difference": j["difference"],
        "ci_low": j["ci_low"],
        "ci_high": j["ci_high"],
        "effect_size": j["effect_size"],
        "effect_ci_low": j["effect_ci_low"],
        "effect_ci_high": j["effect_ci_high"],
        "rest_n": j["n_b"],
    }
