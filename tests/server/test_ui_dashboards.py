"""The profile and dashboard pages, fed by the house-prices walkthrough on an engine-running server.

One server per backend for the module (``RAYMON_ENGINE=on``, passes every second) gets the
walkthrough's profile, manifest and hour of traffic (raymon.server.demo.story: client zillow's
app update breaks two features); the pages are asserted through HTTP as a signed-in
browser would fetch them, and once in Chromium (SQLite): the dashboard draws its charts and
a click on a point opens the traces of that window and slice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from test_walkthrough import BROKEN_FROM, PER_CLIENT_WINDOW, WINDOWS, send, wait_for
from ui_browser import SCREENSHOTS, sign_in, ui_client

from raymon.server.demo import story

pytestmark = pytest.mark.timeout(600)

BROKEN = story.slice_of(story.BROKEN_CLIENT)
HEALTHY = story.slice_of("remax")


@dataclass
class Story:
    server: Any
    project_id: str
    start: datetime
    profile: Any
    key: str  # admin, ingest, read

    def url(self, path: str) -> str:
        return f"/projects/{self.project_id}{path}"


def join(server: Any, project_id: str, admin_key: str) -> None:
    """Make the UI's test user an admin of ``project_id`` (invite and accept, as a person would)."""
    with server.client(admin_key) as client:
        invited = client.post(
            f"/api/v1/projects/{project_id}/users", json={"email": server.user_email, "role": "admin"}
        )
        assert invited.status_code == 201, invited.text
    with server.client(invited.json()["token"]) as client:
        accepted = client.post(
            "/api/v1/invitations/accept", json={"email": server.user_email, "password": server.user_password}
        )
        assert accepted.status_code == 200, accepted.text


@pytest.fixture(scope="module")
def walkthrough(make_module_server: Any) -> Story:
    server = make_module_server(
        RAYMON_ENGINE="on", RAYMON_REDUCE_PASS_SECONDS="1", RAYMON_WORKER_POLL_SECONDS="0.2"
    )
    project = server.new_project("houseprices")
    join(server, project.project_id, project.admin_key)
    key = server.key(project, "admin,ingest,read")
    api = server.api(key)
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

    def broken_drift() -> bool:
        series = api.results(project.project_id, story.PROFILE_REF, slicestr=BROKEN).json()["series"]
        return any(
            s["component"] in story.BROKEN_FEATURES and any(p["alert"] for p in s["points"]) for s in series
        )

    wait_for("drift alerts on the broken slice", broken_drift)

    def every_window_reduced() -> bool:  # the last windows of every client are in
        windows = api.results(project.project_id, story.PROFILE_REF).json()["windows"]
        return len({(w["slice"], w["window_start"]) for w in windows}) >= WINDOWS * (len(story.CLIENTS) + 1)

    wait_for("every window of every slice", every_window_reduced)
    return Story(server, project.project_id, start, profile, key)


def chart_rows(html: str, check: str) -> list[tuple[str, bool]]:
    """(series label, alerting) of one chart's series table."""
    section = html.split(f'id="chart-{check}"', 1)[1].split("</section>", 1)[0]
    table = section.split('class="dash-series"', 1)[1].split("</table>", 1)[0]
    return [
        (label.strip(), "alerting" in attrs)
        for attrs, label in re.findall(r"<tr([^>]*)><td>([^<]*)", table.split("<tbody>", 1)[1])
    ]


def dash_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="dash-data">(.*?)</script>', html, re.S)
    assert found, "no chart data on the page"
    return dict(json.loads(found.group(1)))


# --- dashboards ------------------------------------------------------------------------------------


def test_the_dashboards_page_lists_the_manifests_profile_reducer(walkthrough: Story) -> None:
    with ui_client(walkthrough.server) as client:
        page = client.get(walkthrough.url("/dashboards"))
    assert page.status_code == 200
    assert f'href="/projects/{walkthrough.project_id}/dashboards/{quote(story.PROFILE_REF)}"' in page.text
    assert "windows of 10 min" in page.text


def test_a_project_without_a_manifest_is_told_to_apply_one_with_a_profile_reducer(walkthrough: Story) -> None:
    server = walkthrough.server
    project = server.new_project("bare")
    join(server, project.project_id, project.admin_key)
    with ui_client(server) as client:
        page = client.get(f"/projects/{project.project_id}/dashboards")
        profiles_page = client.get(f"/projects/{project.project_id}/profiles")
    assert page.status_code == 200
    assert "apply a manifest with a <code>profile_reducer</code> (docs/manifest.md)" in page.text
    assert "No profile uploaded yet" in profiles_page.text


def test_the_broken_slices_dashboard_shows_drift_alerts_on_its_two_broken_features(
    walkthrough: Story,
) -> None:
    with ui_client(walkthrough.server) as client:
        page = client.get(walkthrough.url(f"/dashboards/{story.PROFILE_REF}"), params={"slice": BROKEN})
    assert page.status_code == 200, page.text[:500]
    rows = chart_rows(page.text, "drift") + chart_rows(page.text, "integrity")
    alerting = {label.split(" · ")[0] for label, alert in rows if alert}
    # app v2 zeroes the living area and the lot frontage: both drift
    untouched = {f.lower() for f in story.NUMERIC} - set(story.BROKEN_FEATURES)
    assert set(story.BROKEN_FEATURES) <= alerting and not alerting & untouched, rows
    assert dict(chart_rows(page.text, "drift"))["grlivarea"]
    assert dict(chart_rows(page.text, "drift"))["lotfrontage"]
    data = dash_data(page.text)
    assert data["filter"] == BROKEN and len(data["x"]) == len(data["ends"]) == WINDOWS
    drawn = {s["label"] for c in data["charts"] for s in c["series"]}
    assert {"grlivarea", "lotfrontage"} <= drawn
    # every point's row links to the traces of that window and slice
    links = re.findall(r'href="(/projects/[^"]+/traces\?[^"]+)"', page.text)
    assert links
    query = parse_qs(urlsplit(links[0].replace("&amp;", "&")).query)
    assert query["filter"] == [BROKEN]
    begin, end = (datetime.fromisoformat(query[k][0].replace("Z", "+00:00")) for k in ("begin", "end"))
    assert end - begin == timedelta(minutes=10) and begin == walkthrough.start


def test_a_healthy_slice_and_the_global_view_show_no_drift_on_the_untouched_features(
    walkthrough: Story,
) -> None:
    with ui_client(walkthrough.server) as client:
        healthy = client.get(walkthrough.url(f"/dashboards/{story.PROFILE_REF}"), params={"slice": HEALTHY})
        overall = client.get(walkthrough.url(f"/dashboards/{story.PROFILE_REF}"))
    rows = chart_rows(healthy.text, "drift") + chart_rows(healthy.text, "integrity")
    assert rows and not any(alerting for _, alerting in rows), rows
    assert "· global" in overall.text and dash_data(overall.text)["filter"] == ""


def test_the_slice_ranking_puts_the_broken_client_first_on_a_broken_feature(walkthrough: Story) -> None:
    base = walkthrough.url(f"/dashboards/{story.PROFILE_REF}")
    with ui_client(walkthrough.server) as client:
        page = client.get(base)
        ranking_url = re.search(r'id="slice-ranking" hx-get="([^"]+)"', page.text)
        assert ranking_url, "the dashboard loads no slice ranking"
        assert "part=ranking" in ranking_url.group(1)
        ranked = client.get(
            base, params={"part": "ranking", "rank": "grlivarea"}, headers={"HX-Request": "true"}
        )
        offered = client.get(base, params={"part": "ranking"}, headers={"HX-Request": "true"})
        wrong = client.get(base, params={"part": "ranking", "rank": "nope"}, headers={"HX-Request": "true"})
    assert ranked.status_code == 200 and "<html" not in ranked.text  # the partial only
    rows = re.findall(r'<tr( class="alerting")?>\s*<td><a href="[^"]+"><code>([^<]+)</code>', ranked.text)
    first_slice = unescape(rows[0][1])
    assert story.BROKEN_CLIENT in first_slice, rows
    assert not any(c in first_slice for c in ("remax", "redfin")), rows
    assert '<option value="grlivarea" selected>' in ranked.text
    assert '<select name="rank">' in offered.text and "<table" in offered.text
    assert "metric &#39;nope&#39; is not one of" in wrong.text


def test_the_default_range_starts_at_the_first_window_and_the_axis_spans_the_range(
    walkthrough: Story,
) -> None:
    """A young project fills its charts: the last 24 h, but no earlier than its first window."""
    with ui_client(walkthrough.server) as client:
        page = client.get(walkthrough.url(f"/dashboards/{story.PROFILE_REF}"))
        asked = client.get(
            walkthrough.url(f"/dashboards/{story.PROFILE_REF}"),
            params={"range": "24h"},
        )
    data = dash_data(page.text)
    assert data["begin"] == int(walkthrough.start.timestamp()) == data["x"][0]
    assert data["end"] > data["x"][-1]
    assert dash_data(asked.text)["begin"] < data["begin"]  # a preset asked for is kept as it is


def test_the_slice_selector_lists_the_reducers_slices(walkthrough: Story) -> None:
    with ui_client(walkthrough.server) as client:
        page = client.get(walkthrough.url(f"/dashboards/{story.PROFILE_REF}"), params={"slice": BROKEN})
    options = re.findall(r'<option value="([^"]*)"( selected)?>', page.text)
    values = [v.replace("&#61;", "=") for v, _ in options]
    assert {story.slice_of(c) for c in story.CLIENTS} | {""} <= set(values)
    assert [v for v, selected in options if selected] == [BROKEN]


def test_the_range_is_in_the_url_and_a_range_without_windows_says_where_they_are(walkthrough: Story) -> None:
    later = walkthrough.start + timedelta(days=2)
    with ui_client(walkthrough.server) as client:
        empty = client.get(
            walkthrough.url(f"/dashboards/{story.PROFILE_REF}"),
            params={"begin": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()},
        )
        narrowed = client.get(
            walkthrough.url(f"/dashboards/{story.PROFILE_REF}"),
            params={
                "slice": BROKEN,
                "begin": walkthrough.start.isoformat(),
                "end": (walkthrough.start + timedelta(minutes=20)).isoformat(),
            },
        )
        preset = client.get(walkthrough.url(f"/dashboards/{story.PROFILE_REF}"), params={"range": "7d"})
    assert empty.status_code == 200 and 'id="dash-empty"' in empty.text and "show them all" in empty.text
    assert len(dash_data(narrowed.text)["x"]) == 2
    assert (
        preset.status_code == 200
        and "range=" not in preset.text.split('id="dash-data"')[0].split("Link to this view")[0][-300:]
    )


def test_a_bad_range_is_refused_naming_the_value(walkthrough: Story) -> None:
    with ui_client(walkthrough.server) as client:
        bad = client.get(walkthrough.url(f"/dashboards/{story.PROFILE_REF}"), params={"begin": "yesterday"})
        backwards = client.get(
            walkthrough.url(f"/dashboards/{story.PROFILE_REF}"),
            params={"begin": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        )
        unknown = client.get(walkthrough.url("/dashboards/nope@1"))
    assert bad.status_code == 422 and "begin: &#39;yesterday&#39; is not a time" in bad.text
    assert backwards.status_code == 422 and "must be after begin" in backwards.text
    assert unknown.status_code == 404 and "no profile reducer" in unknown.text


# --- profiles --------------------------------------------------------------------------------------


def test_the_profile_list_and_a_profiles_page_show_each_component_with_stats_and_histogram(
    walkthrough: Story,
) -> None:
    with ui_client(walkthrough.server) as client:
        listing = client.get(walkthrough.url("/profiles"))
        page = client.get(walkthrough.url(f"/profiles/{story.PROFILE_REF}"))
    assert story.PROFILE_REF in listing.text
    assert page.status_code == 200
    for name in walkthrough.profile.components:
        assert f'id="c-{name}"' in page.text
    data = json.loads(re.search(r'id="prof-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    assert len(data["histograms"]) == len(walkthrough.profile.components)
    grlivarea = list(walkthrough.profile.components).index("grlivarea")
    histogram = data["histograms"][grlivarea]
    assert histogram["kind"] == "numeric" and abs(sum(histogram["reference"]) - 1) < 1e-6
    assert histogram["other"] is None
    assert "<th>p50</th>" in page.text and "Scores" in page.text


def test_comparing_two_profiles_shows_a_drift_table_sorted_by_the_query(walkthrough: Story) -> None:
    data = story.houses()
    model = story.Model.fit(data)
    cheap = data[data["SalePrice"] < data["SalePrice"].median()].reset_index(drop=True)
    other = story.build_profile(cheap, model)
    other.version = "cheap"
    api = walkthrough.server.api(walkthrough.key)
    assert api.profile_create(walkthrough.project_id, other).status_code in (200, 201)
    params = {"reference": story.PROFILE_REF, "other": f"{story.PROFILE_NAME}@cheap"}
    with ui_client(walkthrough.server) as client:
        by_score = client.get(walkthrough.url("/profiles/compare"), params=params)
        by_name = client.get(
            walkthrough.url("/profiles/compare"), params=params | {"sort": "component", "order": "asc"}
        )
        wrong = client.get(walkthrough.url("/profiles/compare"), params=params | {"sort": "colour"})
    assert by_score.status_code == 200, by_score.text[:500]

    def order(html: str) -> list[str]:
        table = html.split('class="prof-drift"', 1)[1].split("</table>", 1)[0]
        return re.findall(r'<td><a href="#c-([^"]+)">', table)

    names = order(by_name.text)
    assert names == sorted(names) and set(names) >= {"grlivarea", "overallqual"}
    scores = [
        float(v) if v != "–" else None
        for v in re.findall(
            r'</code></td>\s*<td class="num">([^<]+)</td>',
            by_score.text.split('class="prof-drift"')[1].split("</table>")[0],
        )
    ]
    present = [s for s in scores if s is not None]
    assert present == sorted(present, reverse=True) and present
    assert "Verdict:" in by_score.text and 'data-histogram="0"' in by_score.text
    assert 'aria-sort="ascending"' in by_name.text
    assert wrong.status_code == 422 and "sort=&#39;colour&#39;" in wrong.text


def test_the_reference_against_the_broken_slices_production_alerts_on_the_broken_features(
    walkthrough: Story,
) -> None:
    begin = walkthrough.start
    end = walkthrough.start + timedelta(minutes=10 * WINDOWS)
    with ui_client(walkthrough.server) as client:
        broken = client.get(
            walkthrough.url(f"/profiles/{story.PROFILE_REF}/production"),
            params={"slice": BROKEN, "begin": begin.isoformat(), "end": end.isoformat()},
        )
        before = client.get(
            walkthrough.url(f"/profiles/{story.PROFILE_REF}/production"),
            params={
                "slice": BROKEN,
                "begin": begin.isoformat(),
                "end": (begin + timedelta(minutes=30)).isoformat(),
            },
        )
        nothing = client.get(
            walkthrough.url(f"/profiles/{story.PROFILE_REF}/production"),
            params={
                "slice": BROKEN,
                "begin": (end + timedelta(days=1)).isoformat(),
                "end": (end + timedelta(days=2)).isoformat(),
            },
        )
    assert broken.status_code == 200, broken.text[:500]
    verdict = re.search(r'<p class="verdict[^"]*">([^<]*)</p>', broken.text).group(1)  # type: ignore[union-attr]
    assert "alert" in verdict and all(f in verdict for f in story.BROKEN_FEATURES), verdict
    assert f"{PER_CLIENT_WINDOW * WINDOWS} samples" in broken.text
    first = re.search(r'class="prof-drift".*?<td><a href="#c-([^"]+)">', broken.text, re.S).group(1)  # type: ignore[union-attr]
    assert first in story.BROKEN_FEATURES
    before_verdict = re.search(r'<p class="verdict[^"]*">([^<]*)</p>', before.text).group(1)  # type: ignore[union-attr]
    assert not any(f in before_verdict for f in story.BROKEN_FEATURES), before_verdict
    assert 'id="prod-empty"' in nothing.text


# --- in a browser ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_dashboard_draws_its_charts_zooms_by_dragging_and_opens_a_points_traces(
    walkthrough: Story, ui_page: Any
) -> None:
    server = walkthrough.server
    sign_in(ui_page, server)
    # the profile's page draws a histogram per component (and violates no CSP rule)
    ui_page.goto(f"{server.url}{walkthrough.url(f'/profiles/{quote(story.PROFILE_REF)}')}")
    ui_page.wait_for_selector(".prof-hist.drawn canvas")
    assert ui_page.locator(".prof-hist.drawn").count() == len(walkthrough.profile.components)
    ui_page.goto(
        f"{server.url}{walkthrough.url(f'/dashboards/{quote(story.PROFILE_REF)}')}?slice={quote(BROKEN)}"
    )
    ui_page.wait_for_selector(".dash-plot.drawn canvas")
    assert ui_page.locator(".dash-plot.drawn canvas").count() >= 2  # drift and integrity at least
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui_page.screenshot(path=str(SCREENSHOTS / "dashboard-broken-slice.png"), full_page=True)
    over = ui_page.locator('[data-dash-chart="drift"] .u-over')
    box = over.bounding_box()
    assert box is not None
    # drag across the middle: the range goes into the URL
    ui_page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    ui_page.mouse.down()
    ui_page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2, steps=8)
    ui_page.mouse.up()
    ui_page.wait_for_url(re.compile(r".*begin=.*end=.*"))
    zoomed = parse_qs(urlsplit(ui_page.url).query)
    assert zoomed["slice"] == [BROKEN]
    ui_page.wait_for_selector(".dash-plot.drawn canvas")
    # a click on a point opens the traces of that window and slice
    over = ui_page.locator('[data-dash-chart="drift"] .u-over')
    box = over.bounding_box()
    assert box is not None
    ui_page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    ui_page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    ui_page.wait_for_url(re.compile(r".*/traces\?.*"))
    opened = parse_qs(urlsplit(ui_page.url).query)
    assert opened["filter"] == [BROKEN]
    begin, end = (datetime.fromisoformat(opened[k][0].replace("Z", "+00:00")) for k in ("begin", "end"))
    assert end - begin == timedelta(minutes=10)
