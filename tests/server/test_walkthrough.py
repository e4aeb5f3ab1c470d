"""The original Raymon's house-prices walkthrough, end to end, against a real server (SQLite and PostgreSQL).

A profile is uploaded and the walkthrough's manifest applied (a ``profile_eval`` mapper,
a ``profile_reducer`` with 10-minute windows, slices per client). An hour of traffic from
three clients follows, in which client ``zillow``'s app update breaks two features
(``raymon.server.demo.story``, what ``raymon server --demo`` replays live); a labelling service logs the actual prices later, through another
logger. The engine runs inside the server (``RAYMON_ENGINE=on``, passes every second).
What must come out: issues open for the slice that changed, on the two broken features,
and for no other client's slice; the evaluation tags appear once the actuals arrive, and
with them the scores.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from raymon import RaymonAPI
from raymon.server.demo import story

pytestmark = pytest.mark.timeout(600)

WINDOWS, PER_CLIENT_WINDOW, BROKEN_FROM = 6, 45, 3


def wait_for(what: str, probe: Any, timeout: float = 180.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


def send(api: RaymonAPI, project_id: str, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 500):
        resp = api.ingest(project_id, events[start : start + 500])
        assert resp.status_code == 200, resp.text
        assert not resp.json().get("rejected"), resp.json()


def score_rows(api: RaymonAPI, project_id: str, slicestr: str) -> list[dict[str, Any]]:
    resp = api.results(project_id, story.PROFILE_REF, slicestr=slicestr)
    assert resp.status_code == 200, resp.text
    return [
        point
        for series in resp.json()["series"]
        if series["component"] == "mae"
        for point in series["points"]
        if point.get("value") is not None
    ]


def test_the_house_prices_walkthrough_opens_issues_for_the_broken_client_only(make_server: Any) -> None:
    server = make_server(RAYMON_ENGINE="on", RAYMON_REDUCE_PASS_SECONDS="1", RAYMON_WORKER_POLL_SECONDS="0.2")
    project = server.new_project("houseprices")
    api = server.api(server.key(project, "admin,ingest,read"))
    data = story.houses()
    model = story.Model.fit(data)
    profile = story.build_profile(data, model)
    assert api.profile_create(project.project_id, profile).status_code in (200, 201)
    applied = api.orchestration_apply(
        project.project_id, story.MANIFEST.format(project_id=project.project_id)
    )
    assert applied.status_code in (200, 201), applied.text

    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).replace(minute=(now.minute // 10) * 10, second=0, microsecond=0)
    traffic = list(
        story.service_traffic(
            project.project_id, profile, model, start, WINDOWS, PER_CLIENT_WINDOW, BROKEN_FROM
        )
    )
    send(api, project.project_id, [e for _, _, events in traffic for e in events])

    # Before any actual: no evaluation tags, so no score anywhere.
    wait_for(
        "the first reduce results",
        lambda: api.results(project.project_id, story.PROFILE_REF, slicestr="").json()["series"],
    )
    assert score_rows(api, project.project_id, "") == []

    # The labelling service, another logger, logs the actuals later (trace time: 5 minutes on).
    labels = [
        e
        for trace_id, price, events in traffic
        for e in story.labelling_events(
            project.project_id,
            profile,
            trace_id,
            price,
            datetime.fromisoformat(events[0]["ts"]) + timedelta(minutes=5),
        )
    ]
    send(RaymonAPI(server.url, server.key(project, "ingest")), project.project_id, labels)

    def scored() -> bool:
        return bool(score_rows(api, project.project_id, story.slice_of("remax"))) and bool(
            score_rows(api, project.project_id, story.slice_of(story.BROKEN_CLIENT))
        )

    wait_for("the scores of the actuals", scored)
    evaluated = api.tags_ls(project.project_id) if hasattr(api, "tags_ls") else None
    assert evaluated is None or evaluated.status_code == 200

    def broken_issues() -> list[tuple[str, str, str]] | None:
        issues = api.issues_ls(project.project_id).json()["issues"]
        found = {
            (i["component"], i["check"]) for i in issues if i["slice"] == story.slice_of(story.BROKEN_CLIENT)
        }
        if all(any(c == f for c, _ in found) for f in story.BROKEN_FEATURES):
            return story.summary(issues)
        return None

    summary = wait_for("issues on the broken client's two features", broken_issues)
    healthy = {story.slice_of(c) for c in story.CLIENTS if c != story.BROKEN_CLIENT}
    assert not [s for s in summary if s[0] in healthy], summary
    broken_components = {c for s, c, _ in summary if s == story.slice_of(story.BROKEN_CLIENT)}
    assert set(story.BROKEN_FEATURES) <= broken_components
    # Nothing else of the inputs the update did not touch is flagged on the broken slice.
    untouched = {f.lower() for f in story.NUMERIC} - set(story.BROKEN_FEATURES)
    assert not (untouched & broken_components), summary

    issue = next(
        i
        for i in api.issues_ls(project.project_id, slicestr=story.slice_of(story.BROKEN_CLIENT)).json()[
            "issues"
        ]
        if i["component"] == "lotfrontage"
    )
    assert issue["status"] == "open"
    assert issue["example_trace_ids"], issue
    detail = api.issue_get(project.project_id, issue["issue_id"]).json()
    assert detail["history"], detail
