"""Slice analytics with known answers, through a real server (SQLite and PostgreSQL).

Traffic goes into the server's database through the store's writer (``store_events``) and the
reduce pass and discovery job run as the engine runs them (the jobs' handlers, with the
runtime's hooks); every answer is read over HTTP with the Python client. The data are
synthetic with a known truth: one broken camera among 20; one bad combination of two tags
whose single tags look normal; clean traffic (20 seeds); two app versions with a known
difference, and two model versions scoring the same traces. SciPy on the same raw values is
the reference the answers must agree with.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reduce_context import context_for, tag_event
from reduce_profiles import reference_profile
from scipy import stats as sps

from raymon.server.backend import Backend, build_backend
from raymon.server.engine.reduce_jobs import reduce_handler, reduce_scheduler
from raymon.server.services import manifests as manifest_service
from raymon.server.services import slices as slice_service
from raymon.server.services.ingest import store_events
from raymon.server.settings import Settings

REFERENCE = reference_profile()
GROUP = REFERENCE.group_idfr
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
T0 = NOW - timedelta(hours=3)

pytestmark = pytest.mark.timeout(900)

MANIFEST = """
actions:
  reduce:
    - name: {group}
      reducer_type: profile_reducer
      reducer_interval_s: 3600
slices:
{slices}
settings:
  explore:
    min_support: 40
{explore}
"""


def manifest(slices: str = "  - space:\n      - tag: camera", explore: str = "") -> str:
    return MANIFEST.format(group=GROUP, slices=slices, explore=explore)


@pytest.fixture
def store_backend(server: Any) -> Iterator[Backend]:
    """A Backend on the server's database: the store's writers and the engine's handlers run on it."""
    backend = build_backend(Settings(data_dir=Path(tempfile.mkdtemp())), database=server.database())
    yield backend
    backend.close()


def start_project(server: Any, cfg: str, profiles: tuple[Any, ...] = (REFERENCE,)) -> tuple[str, Any]:
    project = server.new_project()
    api = server.api(server.key(project, "admin,read,ingest"))
    for profile in profiles:
        assert api.profile_create(project.project_id, profile).status_code == 201
    applied = api.orchestration_apply(project.project_id, cfg)
    assert applied.status_code in (200, 201), applied.text
    return project.project_id, api


def traffic(
    backend: Backend,
    pid: str,
    rows: list[tuple[dict[str, str], float]],
    group: str = GROUP,
    name: str = "abs_error",
) -> None:
    """One trace per row: its label tags and its evaluation tag ``name`` in ``group``, spread over two windows."""
    events = []
    for i, (labels, error) in enumerate(rows):
        ts = T0 + timedelta(seconds=(7200 * i) // max(len(rows), 1))
        tags = [{"name": k, "value": v, "type": "label"} for k, v in labels.items()]
        tags.append({"name": name, "value": error, "type": "profile-score", "group": group})
        events.append(tag_event(pid, f"t{i}", ts, tags))
    for i in range(0, len(events), 2000):
        store_events(backend, pid, events[i : i + 2000])


def reduce_all(backend: Backend, pid: str) -> None:
    """Reduce passes as the engine runs them (with the discovery cells hook) until no tag is left."""
    handler = reduce_handler(manifest_service.current, on_claimed=slice_service.cells_hook)
    for spec in reduce_scheduler(manifest_service.current, lambda b: [pid])(backend, NOW):
        handler(context_for(backend, spec))


def body(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_broken_camera_among_20_is_ranked_and_discovered_first_and_can_be_promoted(
    server: Any, store_backend: Backend
) -> None:
    pid, api = start_project(server, manifest())
    rng = np.random.default_rng(16)
    rows = []
    for i in range(2000):
        camera = f"c{i % 20:02d}"
        error = abs(float(rng.normal(0, 5))) * (2.0 if camera == "c07" else 1.0)
        rows.append(({"camera": camera, "site": f"s{int(rng.integers(0, 5))}"}, error))
    traffic(store_backend, pid, rows)
    reduce_all(store_backend, pid)

    ranked = body(api.slices_rank(pid, GROUP, "MAE", space="camera"))
    assert ranked["kind"] == "mean" and ranked["component"] == "abs_error" and ranked["n"] == 2000
    top = ranked["slices"][0]
    assert top["slice"] == "camera==c07" and top["significant"] and top["worse"]
    assert [s["slice"] for s in ranked["slices"] if s["significant"]] == ["camera==c07"]
    # the same Welch test SciPy makes on the raw values (the rest by subtraction from the global state)
    broken = np.array([e for labels, e in rows if labels["camera"] == "c07"])
    rest = np.array([e for labels, e in rows if labels["camera"] != "c07"])
    want = sps.ttest_ind(broken, rest, equal_var=False)
    ci = want.confidence_interval()
    assert top["n"] == 100 and top["rest_n"] == 1900
    assert top["p_value"] == pytest.approx(float(want.pvalue), rel=1e-6)
    assert (top["ci_low"], top["ci_high"]) == pytest.approx((float(ci.low), float(ci.high)), rel=1e-6)
    assert top["difference"] == pytest.approx(float(broken.mean() - rest.mean()), rel=1e-9)

    found = body(api.slices_discover(pid, GROUP, "MAE", refresh=True))
    assert found["explored"] == ["camera", "site"]
    assert found["slices"][0]["slicestr"] == "camera==c07" and found["slices"][0]["significant"]
    assert found["slices"][0]["n"] == 100
    assert found["slices"][0]["difference"] == pytest.approx(float(broken.mean() - rest.mean()), rel=1e-6)

    promoted = body(api.slice_promote(pid, "camera==c07", name="broken camera"))
    assert promoted["promoted"] and promoted["changed"]
    assert "slicestr: camera==c07" in api.orchestration_get(pid)
    again = body(api.slice_promote(pid, "camera==c07"))
    assert not again["promoted"] and not again["changed"] and again["version"] == promoted["version"]


def test_a_bad_combination_of_two_tags_is_found_first_though_its_single_tags_look_normal(
    server: Any, store_backend: Backend
) -> None:
    pid, api = start_project(server, manifest(), profiles=(REFERENCE,))
    rng = np.random.default_rng(7)
    rows = []
    for i in range(4000):
        site, shift, camera = f"s{i % 5}", f"h{(i // 5) % 5}", f"c{int(rng.integers(0, 20)):02d}"
        # (s1, h3) is twice as bad; the rest of s1 and of h3 is better, so both single tags average out
        factor = 2.0 if (site, shift) == ("s1", "h3") else 0.75 if site == "s1" or shift == "h3" else 1.0
        rows.append(({"site": site, "shift": shift, "camera": camera}, abs(float(rng.normal(0, 5))) * factor))
    traffic(store_backend, pid, rows)
    reduce_all(store_backend, pid)

    found = body(api.slices_discover(pid, GROUP, "abs_error", refresh=True))
    assert found["explored"] == ["camera", "shift", "site"]
    top = found["slices"][0]
    assert top["slicestr"] == "shift==h3 && site==s1" and top["significant"] and top["n"] == 160
    for single in ("site==s1", "shift==h3"):
        assert not any(s["slicestr"] == single and s["significant"] for s in found["slices"])
    assert found["evaluated"] > 0 and found["levels"] >= 2


def test_clean_traffic_finds_nothing_significant_in_at_most_the_expected_share_of_20_seeds(
    server: Any, store_backend: Backend
) -> None:
    with_findings = 0
    for seed in range(20):
        pid, api = start_project(server, manifest())
        rng = np.random.default_rng(1000 + seed)
        rows = [
            (
                {"camera": f"c{int(rng.integers(0, 20)):02d}", "site": f"s{int(rng.integers(0, 5))}"},
                abs(float(rng.normal(0, 5))),
            )
            for _ in range(1000)
        ]
        traffic(store_backend, pid, rows)
        reduce_all(store_backend, pid)
        found = body(api.slices_discover(pid, GROUP, "MAE", refresh=True))
        ranked = body(api.slices_rank(pid, GROUP, "MAE"))
        with_findings += any(s["significant"] for s in found["slices"]) or any(
            s["significant"] for s in ranked["slices"]
        )
    assert with_findings <= 1  # 5% false discoveries of 20 runs


def test_an_ab_test_of_two_app_versions_agrees_with_scipy_and_checks_the_sample_ratio(
    server: Any, store_backend: Backend
) -> None:
    cfg = manifest(slices="  - space:\n      - tag: app", explore="    tags: [app, model_version]")
    pid, api = start_project(server, cfg)
    rng = np.random.default_rng(3)
    rows = []
    for i in range(1300):
        app = "v1.0.0" if i % 2 else "v2.0.0"
        model = "m1" if i < 500 else "m2"  # an unbalanced split: 500 against 800
        error = abs(float(rng.normal(0, 5))) * (0.85 if app == "v2.0.0" else 1.0)
        rows.append(({"app": app, "model_version": model}, error))
    traffic(store_backend, pid, rows)
    reduce_all(store_backend, pid)

    ab = body(api.ab_test(pid, GROUP, "app", "v1.0.0", "v2.0.0"))
    assert ab["source"] == "slices" and not ab["paired"]
    assert (ab["n_a"], ab["n_b"]) == (650, 650) and not ab["sample_ratio"]["mismatch"]
    mae = next(m for m in ab["metrics"] if m["metric"] == "mae")
    a = np.array([e for labels, e in rows if labels["app"] == "v1.0.0"])
    b = np.array([e for labels, e in rows if labels["app"] == "v2.0.0"])
    want = sps.ttest_ind(a, b, equal_var=False)
    ci = want.confidence_interval()
    assert mae["test"] == "welch_t" and mae["p_value"] == pytest.approx(float(want.pvalue), rel=1e-6)
    assert (mae["ci_low"], mae["ci_high"]) == pytest.approx((float(ci.low), float(ci.high)), rel=1e-6)
    assert mae["value_a"] == pytest.approx(float(a.mean())) and mae["value_b"] == pytest.approx(
        float(b.mean())
    )

    # a tag that is no configured slice but an explored one: the discovery cells answer, as SciPy does
    cells = body(api.ab_test(pid, GROUP, "model_version", "m1", "m2"))
    assert cells["source"] == "cells" and (cells["n_a"], cells["n_b"]) == (500, 800)
    assert cells["sample_ratio"]["mismatch"]
    assert not body(api.ab_test(pid, GROUP, "model_version", "m1", "m2", expected_share_a=500 / 1300))[
        "sample_ratio"
    ]["mismatch"]
    m1 = np.array([e for labels, e in rows if labels["model_version"] == "m1"])
    m2 = np.array([e for labels, e in rows if labels["model_version"] == "m2"])
    by_cells = next(m for m in cells["metrics"] if m["metric"] == "abs_error")
    assert by_cells["p_value"] == pytest.approx(
        float(sps.ttest_ind(m1, m2, equal_var=False).pvalue), rel=1e-6
    )

    missing = api.ab_test(pid, GROUP, "client", "x", "y")
    assert missing.status_code == 404 and "settings.explore" in missing.text


def test_two_model_versions_scoring_the_same_traces_get_a_paired_test_agreeing_with_scipy(
    server: Any, store_backend: Backend
) -> None:
    v2 = reference_profile(version="2.0.0", eval_name="abs_error_shadow")  # one tag per name on a trace
    pid, api = start_project(server, manifest(), profiles=(REFERENCE, v2))
    rng = np.random.default_rng(5)
    a = np.abs(rng.normal(0, 5, 400))
    b = a * 0.95 + np.abs(rng.normal(0, 0.5, 400))  # the shadow model: close, slightly better
    traffic(store_backend, pid, [({}, float(x)) for x in a], group=GROUP)
    traffic(store_backend, pid, [({}, float(x)) for x in b], group=v2.group_idfr, name="abs_error_shadow")
    paired = body(api.ab_test(pid, GROUP, "profile", "1.0.0", "2.0.0"))
    assert paired["paired"] and paired["n_a"] == 400 and paired["a"] == GROUP
    (abs_error,) = [m for m in paired["metrics"] if m["metric"] == "abs_error"]
    want = sps.ttest_rel(a, b)
    assert abs_error["test"] == "paired_t"
    assert abs_error["p_value"] == pytest.approx(float(want.pvalue), rel=1e-6)
    assert abs_error["statistic"] == pytest.approx(float(want.statistic), rel=1e-6)


def test_small_slices_say_not_enough_data_and_bad_input_is_named(server: Any, store_backend: Backend) -> None:
    pid, api = start_project(server, manifest())
    rng = np.random.default_rng(1)
    rows = [({"camera": "c00" if i < 10 else "c01"}, abs(float(rng.normal(0, 5)))) for i in range(200)]
    traffic(store_backend, pid, rows)
    reduce_all(store_backend, pid)
    ranked = body(api.slices_rank(pid, GROUP, "MAE", min_n=30))
    small = next(s for s in ranked["slices"] if s["slice"] == "camera==c00")
    assert small["status"] == "not enough data" and small["n"] == 10 and small["p_adjusted"] is None
    assert ranked["slices"][-1]["status"] == "not enough data"

    unknown = api.slices_rank(pid, GROUP, "rmse")
    assert unknown.status_code == 422 and "'rmse'" in unknown.text and "'mae'" in unknown.text
    assert api.slices_rank(pid, "nope@1.0.0", "MAE").status_code == 404
    bad = api.slice_promote(pid, "camera==")
    assert bad.status_code == 422 and "camera==" in bad.text
    assert body(api.slices_discover(pid, GROUP, "MAE"))["discovered_at"] is None  # never ran yet


def test_the_scheduled_discovery_job_stores_what_slices_discover_answers(
    server: Any, store_backend: Backend
) -> None:
    pid, api = start_project(server, manifest())
    rng = np.random.default_rng(2)
    rows = []
    for i in range(1000):
        camera = f"c{i % 10}"
        rows.append(({"camera": camera}, abs(float(rng.normal(0, 5))) * (3.0 if camera == "c3" else 1.0)))
    traffic(store_backend, pid, rows)
    reduce_all(store_backend, pid)
    specs = [s for s in slice_service.discover_scheduler()(store_backend, NOW) if s.project_id == pid]
    assert [s.payload["reducer"] for s in specs] == [GROUP]
    slice_service.DISCOVER_JOB_KIND.handler(context_for(store_backend, specs[0]))
    found = body(api.slices_discover(pid, GROUP, "MAE", top=3))
    assert found["discovered_at"] is not None and len(found["slices"]) <= 3
    assert found["slices"][0]["slicestr"] == "camera==c3"
