"""The profile reducer's window state equals the production profile built at once from the same tags.

Pure (no database): windows, slices, and the incremental state (many passes, stored as JSON
between them, merged across windows and slices) against ``production_from_tags``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reduce_profiles import reference_profile, sample_tags

from raymon.profiling.stats import NumericStats
from raymon.server.engine.manifest import SliceSpec, SpaceTag
from raymon.server.engine.profile_reducer import (
    Accumulator,
    ProfileReducer,
    WindowState,
    production_from_tags,
)
from raymon.server.engine.slices import GLOBAL, SliceSet, combination_slicestr
from raymon.server.engine.windows import window_of, window_start
from raymon.server.services import tagfilter

REFERENCE = reference_profile()
REDUCER = ProfileReducer(REFERENCE)


def _tag_value(tag: dict[str, Any]) -> Any:
    return tag["value"]


def _assert_same_production(a: Any, b: Any) -> None:
    for name, ca in a.components.items():
        cb = b.components[name]
        sa, sb = ca.stats, cb.stats
        assert (sa.count, sa.missing) == (sb.count, sb.missing), name
        assert {k: v for k, v in ca.errors.items() if v} == {k: v for k, v in cb.errors.items() if v}, name
        if isinstance(sa, NumericStats):
            assert sa.counts.tolist() == sb.counts.tolist(), name
            for x, y in ((sa.min, sb.min), (sa.max, sb.max), (sa.mean, sb.mean)):
                assert (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
            if 0 < sa.count <= 200:  # the KLL sketch keeps every value below its k
                assert sa.quantile(0.5) == sb.quantile(0.5)
        else:
            assert sa.frequencies() == sb.frequencies() and sa.unseen == sb.unseen, name
    for name, score in a.scores.items():
        ra, rb = score.result, b.scores[name].result
        assert (ra is None and rb is None) or math.isclose(ra, rb, rel_tol=1e-9), name
    assert a.n_samples == b.n_samples


def _fold(tags: list[dict[str, Any]]) -> WindowState:
    state = REDUCER.empty()
    acc = Accumulator()
    for tag in tags:
        REDUCER.add_tag(acc, tag["name"], tag["type"], _tag_value(tag))
    state.fold(acc)
    return state


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 60),
    cuts=st.lists(st.integers(0, 60), max_size=6),
    shift=st.floats(-3, 3),
)
def test_incremental_passes_merged_windows_and_slices_equal_the_profile_built_at_once(
    seed: int, n: int, cuts: list[int], shift: float
) -> None:
    rng = np.random.default_rng(seed)
    samples = [sample_tags(REFERENCE, rng, shift) for _ in range(n)]
    # some bad values: NaN, None, text for a number, out of the domain
    for i, tags in enumerate(samples):
        if i % 7 == 3:
            tags.append(
                {
                    "name": "f0-error",
                    "value": "Value NaN",
                    "type": "profile-input-error",
                    "group": "shop@1.0.0",
                }
            )
            tags[:] = [t for t in tags if t["name"] != "f0"]
        if i % 11 == 5:
            tags.append({"name": "f2", "value": "zzz", "type": "profile-input", "group": "shop@1.0.0"})
    flat = [t for tags in samples for t in tags]
    expected = production_from_tags(REFERENCE, flat)
    # the same tags in passes (cut anywhere), each pass's state stored as JSON and merged in,
    # spread over two "windows" and two "slices" that are merged at the end
    bounds = sorted({0, len(flat), *[min(c * 5, len(flat)) for c in cuts]})
    parts: dict[int, WindowState] = {}
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        key = i % 4
        stored = parts.get(key)
        state = REDUCER.state_from_jcr(None if stored is None else stored.to_jcr())
        parts[key] = state.merge(_fold(flat[lo:hi]))
    merged = REDUCER.empty()
    for state in parts.values():
        merged = WindowState.from_jcr(merged.merge(state).to_jcr())
    _assert_same_production(REDUCER.production_profile(merged), expected)
    assert merged.n_tags == len(flat)


def test_a_production_profile_contrasts_with_its_reference_into_checks_of_every_kind() -> None:
    rng = np.random.default_rng(1)
    drifted = [t for _ in range(300) for t in sample_tags(REFERENCE, rng, shift=2.0)]
    state = _fold(drifted)
    rows = REDUCER.contrast_rows(state)
    checks = {(r["component"], r["metric"]): r for r in rows}
    assert {r["check"] for r in rows} >= {"drift", "integrity", "performance"}
    assert checks[("f0", "ks_statistic")]["alert"] is True
    assert checks[("f1", "ks_statistic")]["alert"] is False
    assert checks[("mae", "score_worsening")]["status"] in ("ok", "alert")
    assert checks[("f0", "ks_statistic")]["n"] == 300
    # the jcr loads as a ModelProfile the reference contrasts locally, as a user would
    local = REFERENCE.contrast(type(REFERENCE).from_jcr(REDUCER.production_jcr(state)))
    assert local.row("f0", "ks_statistic").alert


def test_windows_are_floors_of_trace_time() -> None:
    t = datetime(2026, 12, 1, 10, 7, 31, tzinfo=UTC)
    assert window_start(t, 60) == datetime(2026, 12, 1, 10, 7, tzinfo=UTC)
    assert window_of(t, 600).end == datetime(2026, 12, 1, 10, 10, tzinfo=UTC)
    assert window_start(t - timedelta(microseconds=1), 3600) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        window_start(datetime(2026, 1, 1), 60)


def test_a_trace_lands_in_the_global_slice_its_slicestrs_and_one_slice_per_space() -> None:
    specs = [
        SliceSpec(slicestr="client==Zillow && app==v2"),
        SliceSpec(space=[SpaceTag(tag="client")], limit=2),
        SliceSpec(space=[SpaceTag(tag="client"), SpaceTag(tag="app")]),
    ]
    slices = SliceSet(specs, space_limit=20)
    traffic = [{"client": "Zillow", "app": "v2"}] * 5 + [{"client": "Remax", "app": "v1"}] * 3
    traffic += [{"client": "Redfin", "app": "v1"}, {"app": "v1"}]
    slices.admit(traffic)
    assert slices.assign(
        {"client": "Zillow", "app": "v2"}
    ) == [  # the space's combination is the slicestr's slice
        GLOBAL,
        "client==Zillow && app==v2",
        "client==Zillow",
    ]
    assert slices.assign({"client": "Redfin", "app": "v1"}) == [
        GLOBAL,
        "other(client)",
        "client==Redfin && app==v1",
    ]
    assert slices.assign({"app": "v1"}) == [GLOBAL]
    # sticky: a later flood of Redfin does not evict a kept client
    again = SliceSet(specs, space_limit=20, spaces=slices.spaces)
    again.admit([{"client": "Redfin", "app": "v1"}] * 50)
    assert again.kept("client") == ["client==Zillow", "client==Remax"]


@given(
    names=st.lists(
        st.sampled_from(["client", "app", "model version", "x"]), min_size=1, max_size=3, unique=True
    ),
    values=st.lists(
        st.one_of(
            st.text(min_size=1, max_size=8),
            st.integers(-1000, 1000),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
        ),
        min_size=3,
        max_size=3,
    ),
)
def test_a_combination_slicestr_parses_and_selects_its_own_traces(
    names: list[str], values: list[Any]
) -> None:
    tags = dict(zip(names, values, strict=False))
    text = combination_slicestr(list(tags), list(tags.values()))
    assert text is not None
    assert tagfilter.evaluate(tagfilter.parse(text), tags)


def test_a_production_profile_claims_no_reference_stats_for_a_component_it_never_saw() -> None:
    rng = np.random.default_rng(4)
    state = _fold([tag for _ in range(200) for tag in sample_tags(REFERENCE, rng)])
    missing = "f0"
    del state.components[missing]  # as in a state merged from windows stored without it
    jcr = REDUCER.production_jcr(state)
    stats = next(c for c in jcr["components"] if c["name"] == missing)["stats"]
    assert stats["count"] == 0 and stats["missing"] == 0, "the reference's stats were claimed"
    rows = [r for r in REDUCER.contrast_rows(state) if r["component"] == missing]
    assert rows and all(not r["alert"] for r in rows)
    assert {r["status"] for r in rows if r["check"] == "drift" and r["threshold"] is not None} == {
        "not enough data"
    }
    present = [
        r for r in REDUCER.contrast_rows(state) if r["component"] == "f1" and r["metric"] == "ks_statistic"
    ]
    assert present[0]["status"] != "not enough data"
