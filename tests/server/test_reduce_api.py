"""Reduce results over HTTP, from a real server: time series per slice, and production profiles to contrast locally."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from reduce_context import context_for, tag_event
from reduce_profiles import reference_profile, sample_tags

from raymon.profiling.profile import ModelProfile
from raymon.server.backend import build_backend
from raymon.server.engine.manifest import Manifest
from raymon.server.engine.reduce_jobs import reduce_handler, reduce_scheduler
from raymon.server.services.ingest import store_events
from raymon.server.settings import Settings

REFERENCE = reference_profile()
GROUP = REFERENCE.group_idfr
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_results_and_production_profiles_answer_what_the_passes_reduced(server: Any) -> None:
    project = server.new_project()
    pid = project.project_id
    api = server.api(project.admin_key)
    assert api.profile_create(pid, REFERENCE).status_code == 201
    manifest = Manifest.model_validate(
        {
            "project_id": pid,
            "actions": {
                "reduce": [{"name": GROUP, "reducer_type": "profile_reducer", "reducer_interval_s": 600}]
            },
            "slices": [{"space": [{"tag": "client"}]}],
        }
    )
    backend = build_backend(Settings(data_dir=Path(tempfile.mkdtemp())), database=server.database())
    rng = np.random.default_rng(7)
    events = []
    for i in range(120):  # two windows; Remax's f0 drifts
        client = "Zillow" if i % 2 else "Remax"
        tags = sample_tags(REFERENCE, rng, shift=3.0 if client == "Remax" else 0.0)
        ts = T0 + timedelta(seconds=10 * i)
        events.append(
            tag_event(pid, f"t{i}", ts, [*tags, {"name": "client", "value": client, "type": "label"}])
        )
    store_events(backend, pid, events)
    (spec,) = reduce_scheduler(lambda b, p: manifest, lambda b: [pid])(backend, T0)
    reduce_handler(lambda b, p: manifest)(context_for(backend, spec))
    backend.close()

    every = api.results(pid, GROUP)
    assert every.status_code == 200, every.text
    body = every.json()
    assert {w["slice"] for w in body["windows"]} == {"", "client==Zillow", "client==Remax"}
    assert {w["window_start"] for w in body["windows"]} == {
        T0.isoformat(),
        (T0 + timedelta(minutes=10)).isoformat(),
    }
    remax = api.results(pid, GROUP, slicestr="client==Remax").json()
    drift = next(s for s in remax["series"] if s["component"] == "f0" and s["metric"] == "ks_statistic")
    assert [p["alert"] for p in drift["points"]] == [True, True]
    zillow = next(
        s
        for s in api.results(pid, GROUP, slicestr="client==Zillow").json()["series"]
        if s["component"] == "f0" and s["metric"] == "ks_statistic"
    )
    assert [p["alert"] for p in zillow["points"]] == [False, False]
    only_first = api.results(pid, GROUP, slicestr="", begin=T0, end=T0 + timedelta(minutes=10)).json()
    assert [w["window_start"] for w in only_first["windows"]] == [T0.isoformat()]

    resp = api.profile_reduce(pid, "shop", "1.0.0", slicestr="client==Remax")
    assert resp.status_code == 200, resp.text
    production = ModelProfile.from_jcr(resp.json())
    assert production.components["f0"].stats.count == 60
    assert REFERENCE.contrast(production).row("f0", "ks_statistic").alert
    whole = ModelProfile.from_jcr(api.profile_reduce(pid, "shop", "1.0.0").json())
    assert whole.components["f1"].stats.count == 120
    assert api.profile_reduce(pid, "shop", "9.9.9").status_code == 404
    assert api.results(pid, GROUP, begin=T0, end=T0).json()["windows"] == []


def test_a_stored_profile_that_is_not_built_cannot_be_reduced_and_says_so(server: Any) -> None:
    project = server.new_project()
    api = server.api(project.admin_key)
    unbuilt = reference_profile().to_jcr()
    unbuilt["version"] = "0.1.0"
    for component in unbuilt["components"]:
        component["stats"] = None
    assert api.profile_create(project.project_id, unbuilt).status_code == 201
    resp = api.profile_reduce(project.project_id, "shop", "0.1.0")
    assert resp.status_code == 409 and "not built" in resp.text
