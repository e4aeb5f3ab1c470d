"""The demo loader's fast per-house jcrs equal what ``rt.DataFrame`` makes of each one-row frame."""

from __future__ import annotations

from importlib import resources

import pandas as pd

import raymon.types as rt
from raymon.server.services.demo import _row_jcrs, demo_events


def test_sliced_jcrs_equal_the_one_row_frames_jcrs_and_load_back() -> None:
    with resources.files("raymon").joinpath("demo_data/subset-exp.csv").open("rb") as fh:
        frame = pd.read_csv(fh).drop(columns=["SalePrice"])
    rows = [0, 1, 7, len(frame) - 1] + [i for i in range(len(frame)) if frame.iloc[i].isna().any()][:5]
    jcrs = list(_row_jcrs(frame))
    for i in rows:
        one = frame.iloc[[i]].reset_index(drop=True)
        assert jcrs[i] == rt.DataFrame(one).to_jcr()
        pd.testing.assert_frame_equal(rt.load_jcr(jcrs[i]).data, one)


def test_demo_events_are_stable_and_valid(event_validator) -> None:  # type: ignore[no-untyped-def]
    first = list(demo_events())
    ids = [e["event_id"] for e in first]
    assert len(ids) == len(set(ids)) == 3 * 1460
    assert [e["event_id"] for e in demo_events()] == ids
    for event in first[:30]:
        event_validator.validate(event)
