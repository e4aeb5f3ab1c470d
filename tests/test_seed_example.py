"""The original Raymon's documented example, as a new user would write it, logging to files."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
from PIL import Image

import raymon.types as rt
from raymon import RaymonFileLogger, Tag, Trace


def test_seed_docs_example_logs_valid_lines_and_every_object_round_trips(tmp_path, event_validator):
    logger = RaymonFileLogger(path=tmp_path / "logs", project_id="d6ac1bf0-4e22-43ae-a85e-3cb2c1e5da80")
    trace = Trace(logger=logger, trace_id=None)

    trace.info("You can log whatever you want here")
    tags = [
        {"name": "client", "value": "bigshot_client", "type": "label"},
        Tag(name="sdk_version", value="1.4.2", type="label"),
        Tag(name="prediction_time_ms", value="120", type="metric"),
    ]
    trace.tag(tags)

    img = Image.new("RGB", (32, 16), color=(200, 30, 60))
    arr = np.array([[1, 2], [3, 4]])
    df = pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0],
            "b": ["x", None, "z"],
            "when": pd.to_datetime(["2021-05-04 16:15", None, "2021-05-05 08:00"]).tz_localize("UTC"),
        }
    )
    objects = {
        "native-ref": rt.Native({"foo": "bar", "whatever": ["you", "want"], "all_native_types": 1}),
        "numpy-ref": rt.Numpy(arr),
        "pandas-ref": rt.DataFrame(df),
        "image-ref": rt.Image(img),
    }
    for ref, data in objects.items():
        trace.log(ref=ref, data=data)
    logger.close()

    lines = [
        line for f in sorted((tmp_path / "logs").glob("*.ndjson")) for line in f.read_bytes().splitlines()
    ]
    events = [orjson.loads(line) for line in lines]
    assert len(events) == 6
    for event in events:
        event_validator.validate(event)
        assert event["trace_id"] == trace.trace_id
    logged = {e["ref"]: rt.load_jcr(e["data"]).data for e in events if e["kind"] == "object"}
    assert logged["native-ref"] == objects["native-ref"].data
    np.testing.assert_array_equal(logged["numpy-ref"], arr)
    pd.testing.assert_frame_equal(logged["pandas-ref"], df)
    assert logged["image-ref"].tobytes() == img.tobytes()
    tag_event = next(e for e in events if e["kind"] == "tags")
    assert [t["name"] for t in tag_event["tags"]] == ["client", "sdk_version", "prediction_time_ms"]
