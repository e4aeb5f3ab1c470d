"""Discovery cells: what a reduce pass adds, per window and combination of explored tag values, for discovery.

A *cell* is one combination of the explored tags' values (``[["camera", "c3"], ["site", "s1"]]``,
tag names sorted, a tag the trace lacks absent). Per (window, cell, component) a pass adds
additive counts (``CellAdd``): traces with a tag of the component (``rows``), those with its
error tag (``errors``), and count, sum, sum of squares and max of its numeric values. Any
conjunction of up to three conditions is then a sum of cells (``engine.slice_discovery``).

Which tags: the manifest's ``settings.explore.tags``, else every *label* tag with at most
``max_values`` values (a tag seen with more, an id-like tag, is dropped from exploration).
Values are capped by sticky admission like a space's combinations (``Vocab``): a tag keeps
the first ``max_values`` values admitted (most frequent of a pass first); later new values
count as ``"other"``, so cells stay bounded whatever the traffic.

This module is pure: the pass's hook (``services.slices.cells_hook``) reads and writes the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from raymon.server.engine.manifest import ExploreSettings

OTHER = "other"  # the value a tag's values past its cap count as


@dataclass
class TagVocab:
    values: list[str] = field(default_factory=list)
    overflow: bool = False  # more distinct values were seen than the cap


@dataclass
class Vocab:
    """The explored tags' kept values (the reducer keeps it between passes)."""

    tags: dict[str, TagVocab] = field(default_factory=dict)

    def to_jcr(self) -> dict[str, Any]:
        return {name: {"values": v.values, "overflow": v.overflow} for name, v in sorted(self.tags.items())}

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any] | None) -> Vocab:
        return cls(
            {
                str(name): TagVocab([str(x) for x in v.get("values", [])], bool(v.get("overflow")))
                for name, v in (jcr or {}).items()
            }
        )

    def admit(self, traces: Iterable[Mapping[str, str]], settings: ExploreSettings) -> None:
        """Count each tag's values over ``traces`` and admit the most frequent new ones while there is room."""
        counts: dict[str, Counter[str]] = {}
        for tags in traces:
            for name, value in tags.items():
                counts.setdefault(name, Counter())[value] += 1
        for name, seen in counts.items():
            vocab = self.tags.setdefault(name, TagVocab())
            kept = set(vocab.values)
            new = sorted((v for v in seen if v not in kept), key=lambda v: (-seen[v], v))
            room = settings.max_values - len(vocab.values)
            vocab.values += new[: max(room, 0)]
            if len(new) > max(room, 0):
                vocab.overflow = True

    def explored(self, settings: ExploreSettings) -> list[str]:
        """The tags discovery explores now, sorted: the configured ones, else label tags that never overflowed."""
        if settings.tags is not None:
            names = sorted(set(settings.tags))
        else:
            names = sorted(n for n, v in self.tags.items() if not v.overflow)
        return names[: settings.max_tags]

    def cell_of(self, tags: Mapping[str, str], explored: Iterable[str]) -> str:
        """The canonical cell key of a trace's explored tag values (capped values; absent tags left out)."""
        return self.cells_of([tags], list(explored))[0]

    def cells_of(self, traces: Iterable[Mapping[str, str]], explored: Sequence[str]) -> list[str]:
        """``cell_of`` for many traces: each distinct combination is encoded once."""
        kept = [
            (name, frozenset(self.tags[name].values) if name in self.tags else frozenset())
            for name in explored
        ]
        keys: dict[tuple[str | None, ...], str] = {}
        out = []
        for tags in traces:
            combo = tuple(
                None if (v := tags.get(name)) is None else v if v in values else OTHER
                for name, values in kept
            )
            key = keys.get(combo)
            if key is None:
                pairs = [[name, v] for (name, _), v in zip(kept, combo, strict=True) if v is not None]
                key = keys[combo] = orjson.dumps(pairs).decode()
            out.append(key)
        return out


def parse_cell(cell: str) -> dict[str, str]:
    """A cell key back as {tag: value}."""
    return {str(name): str(value) for name, value in orjson.loads(cell)}


def value_text(value: Any) -> str | None:
    """A tag value as a cell holds it (text; integers without ``.0``; None for no usable value)."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


@dataclass
class CellAdd:
    """What one pass adds to one (window, cell, component)."""

    rows: int = 0
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    value_max: float | None = None
    errors: int = 0


CellKey = tuple[datetime, str, str]  # (window_start, cell, component)


def fold(
    classified: Iterable[tuple[int, tuple[bool, str, Any]]],
    windows: Mapping[int, datetime],
    cells: Mapping[int, str],
) -> dict[CellKey, CellAdd]:
    """Sum a pass's classified tags (``(trace_pk, ProfileReducer.classify(...))``) into cell additions.

    A trace counts once per component in ``rows`` and ``errors`` (whatever its number of tags of
    it); numeric values go to n, sum, sum of squares and max.
    """
    per_trace: dict[tuple[int, str], list[Any]] = {}
    for pk, (is_error, component, payload) in classified:
        entry = per_trace.get((pk, component))
        if entry is None:
            entry = per_trace[(pk, component)] = [False, []]
        if is_error:
            entry[0] = True
        elif isinstance(payload, float):
            entry[1].append(payload)
    out: dict[CellKey, CellAdd] = {}
    for (pk, component), (had_error, values) in per_trace.items():
        start, cell = windows.get(pk), cells.get(pk)
        if start is None or cell is None:
            continue
        add = out.get((start, cell, component))
        if add is None:
            add = out[(start, cell, component)] = CellAdd()
        add.rows += 1
        add.errors += int(had_error)
        for v in values:
            if v != v or v in (float("inf"), float("-inf")):
                continue
            add.n += 1
            add.total += v
            add.total_sq += v * v
            add.value_max = v if add.value_max is None else max(add.value_max, v)
    return out


def fold_columns(
    trace_pk: np.ndarray,
    components: Sequence[str],
    component: np.ndarray,
    is_error: np.ndarray,
    number: np.ndarray,
    windows: Mapping[int, datetime],
    cells: Mapping[int, str],
) -> dict[CellKey, CellAdd]:
    """``fold`` of a batch classified as columns (``ProfileReducer.classify_columns``), with NumPy.

    The same additions: a trace counts once per component in ``rows`` and ``errors``; the finite
    numbers of its value tags go to n, sum, sum of squares and max (sums added in another order
    than ``fold``'s, so equal up to rounding).
    """
    out: dict[CellKey, CellAdd] = {}
    if not len(trace_pk):
        return out
    traces, trace_of_tag = np.unique(trace_pk, return_inverse=True)
    trace_of_tag = trace_of_tag.reshape(len(trace_pk))
    places: dict[tuple[datetime, str], int] = {}
    place_of_trace = np.full(len(traces), -1, np.int64)
    for t, pk in enumerate(traces.tolist()):
        start, cell = windows.get(pk), cells.get(pk)
        if start is not None and cell is not None:
            place_of_trace[t] = places.setdefault((start, cell), len(places))
    n_comp = max(len(components), 1)
    selected = np.flatnonzero((component >= 0) & (place_of_trace[trace_of_tag] >= 0))
    if not len(selected):
        return out
    pairs, pair_of_tag = np.unique(trace_of_tag[selected] * n_comp + component[selected], return_inverse=True)
    pair_of_tag = pair_of_tag.reshape(len(selected))
    had_error = np.zeros(len(pairs), np.int64)
    np.maximum.at(had_error, pair_of_tag, is_error[selected].astype(np.int64))
    code_of_pair = place_of_trace[pairs // n_comp] * n_comp + pairs % n_comp
    n_codes = len(places) * n_comp
    rows = np.bincount(code_of_pair, minlength=n_codes)
    errors = np.bincount(code_of_pair, weights=had_error, minlength=n_codes)
    values = number[selected]
    finite = np.isfinite(values) & ~is_error[selected]
    value_code = code_of_pair[pair_of_tag[finite]]
    values = values[finite]
    n = np.bincount(value_code, minlength=n_codes)
    total = np.bincount(value_code, weights=values, minlength=n_codes)
    with np.errstate(over="ignore"):  # a huge value's square is inf, as in ``fold``
        total_sq = np.bincount(value_code, weights=values * values, minlength=n_codes)
    value_max = np.full(n_codes, -np.inf)
    np.maximum.at(value_max, value_code, values)
    place_list = list(places)
    for code in np.flatnonzero(rows).tolist():
        start, cell = place_list[code // n_comp]
        out[(start, cell, components[code % n_comp])] = CellAdd(
            int(rows[code]),
            int(n[code]),
            float(total[code]),
            float(total_sq[code]),
            float(value_max[code]) if n[code] else None,
            int(errors[code]),
        )
    return out
