"""The per-column fold of a pass equals the per-tag fold it replaced, on any batch of tags.

``ProfileReducer.accumulate`` (a batch of claimed tags as NumPy columns) against ``classify`` +
``Accumulator.add`` tag by tag, and ``slice_cells.fold_columns`` against ``slice_cells.fold``:
the same window states (to their stored JSON: the values reach each sketch in the same order) and
the same discovery cells. Pure: the columns are built as ``store.reduce`` builds them from rows.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reduce_profiles import reference_profile

from raymon.server.engine import slice_cells
from raymon.server.engine.profile_reducer import Accumulator, ProfileReducer
from raymon.server.store.reduce import ClaimedTag, TagColumns

REDUCER = ProfileReducer(reference_profile())
COMPONENTS = sorted(REDUCER.reference.components)
NAMES = [*COMPONENTS, *REDUCER.error_names, "unknown", "client"]
TYPES = ["profile-input", "profile-output", "profile-input-error", "profile-eval", "label"]
KEYS = [
    (s, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=10 * w)) for s in ("", "c==1") for w in range(3)
]

_num = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-5, 5).map(float),
)
_text = st.one_of(st.none(), st.sampled_from(["a", "b", "zz", "Value None", "Value NaN", "Bound Error"]))
_row = st.tuples(st.integers(1, 12), st.sampled_from(NAMES), st.sampled_from(TYPES), _num, _text)


def _per_tag(tags: list[ClaimedTag], keys_of: dict[int, list[Any]]) -> dict[Any, Accumulator]:
    out: dict[Any, Accumulator] = {}
    for tag in tags:
        classified = REDUCER.classify(tag.name, tag.type, tag.value)
        if classified is None:
            continue
        for key in keys_of.get(tag.trace_pk, []):
            out.setdefault(key, Accumulator()).add(classified)
    return out


def _state_jcr(acc: Accumulator) -> dict[str, Any]:
    state = REDUCER.empty()
    state.fold(acc)
    return state.to_jcr()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, max_size=80), seed=st.integers(0, 2**16))
def test_the_column_fold_equals_the_fold_tag_by_tag(rows: list[tuple[Any, ...]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    # traces in no key (deleted meanwhile), one key, or several (the global slice and others)
    keys_of = {
        pk: [KEYS[i] for i in sorted(rng.choice(len(KEYS), rng.integers(0, 3), replace=False))]
        for pk in range(1, 13)
    }
    columns = TagColumns.from_rows(rows)
    tags = list(columns)
    assert [repr(t) for t in tags] == [
        repr(ClaimedTag(pk, n, t, x if x is not None else num)) for pk, n, t, num, x in rows
    ]
    fast = REDUCER.accumulate(columns, keys_of)
    slow = _per_tag(tags, keys_of)
    assert fast.keys() == slow.keys()
    for key, acc in slow.items():
        assert fast[key].n_tags == acc.n_tags
        assert _state_jcr(fast[key]) == _state_jcr(acc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, max_size=80), seed=st.integers(0, 2**16))
def test_the_column_cells_equal_the_cells_tag_by_tag(rows: list[tuple[Any, ...]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = {
        pk: start + timedelta(minutes=10 * int(rng.integers(0, 2)))
        for pk in range(1, 13)
        if rng.random() < 0.9
    }
    cells = {pk: f'[["client","c{rng.integers(0, 2)}"]]' for pk in range(1, 13) if rng.random() < 0.9}
    columns = TagColumns.from_rows(rows)
    classified = (
        (t.trace_pk, c) for t in columns if (c := REDUCER.classify(t.name, t.type, t.value)) is not None
    )
    slow = slice_cells.fold(classified, windows, cells)
    c = REDUCER.classify_columns(columns)
    fast = slice_cells.fold_columns(
        columns.trace_pk, c.components, c.component, c.is_error, c.number, windows, cells
    )
    assert fast.keys() == slow.keys()
    for key, a in slow.items():
        b = fast[key]
        assert (b.rows, b.n, b.errors, b.value_max) == (a.rows, a.n, a.errors, a.value_max), key
        for x, y in ((b.total, a.total), (b.total_sq, a.total_sq)):
            assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6) or (math.isinf(x) and x == y), key


def test_columns_read_back_as_the_rows_they_were_made_of() -> None:
    rows = [
        (7, "f0", "profile-input", 1.5, None),
        (7, "f2", "profile-input", None, "a"),
        (8, "f0", "x", None, None),
    ]
    columns = TagColumns.from_rows(rows)
    assert len(columns) == 3 and columns[1] == ClaimedTag(7, "f2", "profile-input", "a")
    assert columns[-1] == ClaimedTag(8, "f0", "x", None) and columns[0:2] == list(columns)[0:2]
    both = TagColumns.concat([columns, TagColumns.from_rows(rows[:1])])
    assert list(both) == [*list(columns), ClaimedTag(7, "f0", "profile-input", 1.5)]
    assert len(TagColumns.from_rows([])) == 0 and REDUCER.accumulate(TagColumns.from_rows([]), {}) == {}
