"""The trace list page (``/projects/{p}/traces``) on a real server, through HTTP and in Chromium.

The fast tier asserts the page's HTML over HTTP on both databases: filters, the
parser's error with its position, pages both ways, a preset range frozen into the
URL, text search, the capped count and the CSV export's formula guard. Two browser
tests (SQLite) filter by a tag expression and open a trace with j/k/Enter.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from query_events import QueryProject, event
from ui_browser import sign_in, ui_client

N_TRACES = 60
NOW = datetime.now(UTC).replace(microsecond=0)
CLIENTS = ["bigshot", "small", "other guy"]
HOSTILE = '=HYPERLINK("http://evil.example","x")'


def _at(i: int) -> str:
    """Trace ``t{i}`` began ``i`` hours ago (t00 is the newest)."""
    return (NOW - timedelta(hours=i, seconds=-1)).isoformat()


def _events() -> list[dict[str, Any]]:
    events = []
    for i in reversed(range(N_TRACES)):  # oldest first: received order = time order
        trace_id = f"t{i:02d}"
        tags = [
            {"name": "client", "value": CLIENTS[i % 3], "type": "label", "group": None},
            {"name": "app", "value": "v1" if i % 2 else "v2", "type": "label", "group": None},
            {"name": "latency_ms", "value": i * 10, "type": "metric", "group": None},
        ]
        if i % 7 == 0:
            tags.append({"name": "timeout", "value": "yes", "type": "error", "group": None})
        if i % 5 == 0:
            tags.append({"name": "price-drift", "value": 0.5, "type": "profile", "group": "prices@1.0.0"})
        if i == 4:
            tags.append({"name": "note", "value": HOSTILE, "type": "label", "group": None})
        events.append(event(trace_id, "tags", _at(i), tags=tags))
        message = "request TIMED OUT after 30 s" if i % 10 == 3 else f"processing request {i}"
        events.append(event(trace_id, "text", _at(i), level="info", message=message))
        if i < 3:
            data = {"type": "raymon.types.Native", "params": {"data": {"cell": HOSTILE if i == 1 else i}}}
            events.append(event(trace_id, "object", _at(i), ref="request", data=data))
    return events


@pytest.fixture(scope="module")
def project(server: Any) -> QueryProject:
    qp = QueryProject.create(server, "ui traces")
    events = _events()
    for i in reversed(range(N_TRACES)):  # one request per trace, oldest first: received order is time order
        qp.ingest([e for e in events if e["trace_id"] == f"t{i:02d}"])
    join(server, qp)
    return qp


def join(server: Any, project: QueryProject, role: str = "viewer") -> None:
    """Make the server's start-up user (the one ``ui_client`` signs in) a member of ``project``."""
    with server.client(project.admin_key) as client:
        invited = client.post(
            f"/api/v1/projects/{project.project_id}/users", json={"email": server.user_email, "role": role}
        )
        assert invited.status_code == 201, invited.text
        accepted = client.post(
            "/api/v1/invitations/accept",
            json={"email": server.user_email, "password": server.user_password},
            headers={"Authorization": f"Bearer {invited.json()['token']}"},
        )
        assert accepted.status_code == 200, accepted.text


def _url(project: QueryProject) -> str:
    return f"/projects/{project.project_id}/traces"


def _ids(html: str) -> list[str]:
    return re.findall(r'class="trace-link" href="[^"]*">(t\d\d)</a>', html)


def _get(client: Any, project: QueryProject, **params: Any) -> Any:
    return client.get(_url(project), params=params)


def _cursor(html: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    if found is None:
        return None
    query = parse_qs(urlsplit(found.group(1).replace("&amp;", "&")).query)
    return query["after" if rel == "next" else "before"][0]


def test_the_list_shows_traces_newest_first_with_links_and_chips_by_type(
    server: Any, project: QueryProject
) -> None:
    with ui_client(server) as client:
        response = _get(client, project)
    assert response.status_code == 200
    html = response.text
    assert _ids(html) == [f"t{i:02d}" for i in range(50)]  # 50 per page
    assert f'href="/projects/{project.project_id}/traces/t00"' in html
    assert 'class="chip error"' in html and 'class="chip metric"' in html and 'class="chip group"' in html
    assert "<time datetime=" in html and 'aria-current="page">Traces' in html
    assert "<option>request</option>" in html  # the refs an object export can name
    assert (
        f'href="/projects/{project.project_id}/traces?filter=client%3D%3D%22other+guy%22"' in html
    )  # a chip
    assert "&#34;http://evil.example&#34;" in html or "&quot;http://evil.example&quot;" in html  # escaped


def test_a_tag_expression_filters_the_list(server: Any, project: QueryProject) -> None:
    with ui_client(server) as client:
        html = _get(client, project, filter="client==bigshot && app==v1").text
        numeric = _get(client, project, filter="latency_ms>=550 || timeout").text
    chip = "/traces?filter=%28latency_ms%3E%3D550+%7C%7C+timeout%29+%26%26+app%3D%3Dv1"
    assert chip in numeric  # a chip narrows the filter, bracketing an ||
    expected = [f"t{i:02d}" for i in range(N_TRACES) if i % 3 == 0 and i % 2 == 1]
    assert _ids(html) == expected
    assert _ids(numeric) == [f"t{i:02d}" for i in range(N_TRACES) if i >= 55 or i % 7 == 0]


def test_a_bad_filter_shows_the_parsers_error_and_marks_its_position(
    server: Any, project: QueryProject
) -> None:
    with ui_client(server) as client:
        page = _get(client, project, filter="client==bigshot && (app=v1")
        partial = client.get(
            _url(project), params={"filter": "client==bigshot && (app=v1"}, headers={"HX-Request": "true"}
        )
    assert page.status_code == 422
    assert "Bad tag filter at position 24: a single &#39;=&#39; is not an operator" in page.text
    assert "client==bigshot &amp;&amp; (app<mark>=</mark>v1\n" + " " * 23 + "^" in page.text
    assert 'aria-invalid="true"' in page.text and "trace-link" not in page.text
    assert partial.status_code == 200 and "<html" not in partial.text  # htmx swaps only the results block
    assert partial.text.lstrip().startswith('<section id="results"') and "position 24" in partial.text


def test_the_filter_form_answers_htmx_with_only_the_results_block(server: Any, project: QueryProject) -> None:
    with ui_client(server) as client:
        form = {
            "filter": "app==v2",
            "text": "",
            "range": "",
            "begin": "2099-01-01T00:00Z",
            "end": "",
            "limit": "50",
        }
        response = client.get(_url(project), params=form, headers={"HX-Request": "true"})
        restore = client.get(
            _url(project),
            params={"filter": "app==v2"},
            headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
        )
    assert response.status_code == 200 and "<form" not in response.text.split('id="results"')[0]
    assert "<html" not in response.text and response.headers["vary"] == "HX-Request"
    assert _ids(response.text) == [f"t{i:02d}" for i in range(0, N_TRACES, 2)]  # "Any time": begin ignored
    assert response.headers["hx-push-url"] == f"{_url(project)}?filter=app%3D%3Dv2"  # no empty fields
    assert "<html" in restore.text  # back/forward restores the whole page
    assert restore.headers["vary"] == "HX-Request"


def test_pages_go_forward_and_back_by_keyset_cursors_in_the_url(server: Any, project: QueryProject) -> None:
    with ui_client(server) as client:
        first = _get(client, project, limit=25).text
        after = _cursor(first, "next")
        assert after and _cursor(first, "prev") is None
        second = _get(client, project, limit=25, after=after).text
        third = _get(client, project, limit=25, after=_cursor(second, "next")).text
        assert _cursor(third, "next") is None
        back_to_second = _get(client, project, limit=25, before=_cursor(third, "prev")).text
        back_to_first = _get(client, project, limit=25, before=_cursor(back_to_second, "prev")).text
    assert _ids(first) == [f"t{i:02d}" for i in range(25)]
    assert _ids(second) == [f"t{i:02d}" for i in range(25, 50)]
    assert _ids(third) == [f"t{i:02d}" for i in range(50, 60)]
    assert _ids(back_to_second) == _ids(second) and _ids(back_to_first) == _ids(first)
    assert _cursor(back_to_first, "prev") is None


def test_a_preset_range_is_frozen_to_absolute_times_in_the_url(server: Any, project: QueryProject) -> None:
    with ui_client(server) as client:
        redirect = _get(client, project, range="24h", filter="app==v2")
        assert redirect.status_code == 303
        location = redirect.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert "range" not in query and query["filter"] == ["app==v2"]
        begin = datetime.fromisoformat(query["begin"][0])
        end = datetime.fromisoformat(query["end"][0])
        assert end - begin == timedelta(hours=24) and abs(end - datetime.now(UTC)) < timedelta(minutes=5)
        page = client.get(location)
        partial = client.get(_url(project), params={"range": "1h"}, headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert _ids(page.text) == [f"t{i:02d}" for i in range(0, 24, 2)]
    pushed = parse_qs(urlsplit(partial.headers["hx-push-url"]).query)
    assert set(pushed) == {"begin", "end"} and _ids(partial.text) == ["t00"]


def test_a_bad_time_is_named_in_the_form(server: Any, project: QueryProject) -> None:
    with ui_client(server) as client:
        response = _get(client, project, begin="yesterday")
    assert response.status_code == 422
    assert "begin: &#39;yesterday&#39; is not a time" in response.text


def test_free_text_search_finds_traces_by_their_texts_in_any_case(server: Any, project: QueryProject) -> None:
    with ui_client(server) as client:
        html = _get(client, project, text="timed out").text
        both = _get(client, project, text="TIMED", filter="app==v1").text
        none = _get(client, project, text="no such words").text
    assert _ids(html) == [f"t{i:02d}" for i in range(N_TRACES) if i % 10 == 3]
    assert _ids(both) == _ids(html)  # every i % 10 == 3 is odd: app v1
    assert "No traces match" in none and "whose texts contain <q>no such words</q>" in none


def test_the_count_comes_after_the_table_and_is_exact_under_the_cap(
    server: Any, project: QueryProject
) -> None:
    with ui_client(server) as client:
        page = _get(client, project, filter="client==bigshot").text
        count_url = re.search(r'id="trace-count" hx-get="([^"]+)"', page)
        assert count_url is not None and "counting" in page
        count = client.get(count_url.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
        everything = _get(client, project, part="count").text
    assert count.status_code == 200 and "<strong>20</strong> traces" in count.text
    assert "<strong>60</strong> traces" in everything


def test_an_empty_result_says_what_the_filter_looked_for(server: Any, project: QueryProject) -> None:
    with ui_client(server) as client:
        html = _get(client, project, filter="clinet==bigshot && app!=v1").text
    assert "No traces match" in html
    assert "where (tag clinet is &#34;bigshot&#34; and tag app is not &#34;v1&#34;)" in html
    assert "No trace has a tag named <code>clinet</code>" in html


def test_the_csv_export_of_matching_traces_guards_against_formulas(
    server: Any, project: QueryProject
) -> None:
    with ui_client(server) as client:
        response = _get(client, project, export="csv", filter="latency_ms<100")
        objects = _get(client, project, export="csv", ref="request")
        ndjson = _get(client, project, export="ndjson", filter="app==v2")
        parquet = _get(client, project, export="parquet")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert (
        response.headers["content-disposition"] == f'attachment; filename="{project.project_id}-traces.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["trace_id"] for row in rows] == [f"t{i:02d}" for i in range(10)]
    assert {row["tags.note"] for row in rows} == {"", "'" + HOSTILE}  # shown as text, never run
    assert rows[0]["tags.latency_ms"] == "0" and rows[0]["tags.client"] == "bigshot"
    cells = list(csv.DictReader(io.StringIO(objects.text)))
    assert objects.headers["content-disposition"].startswith("attachment;")
    assert [row["trace_id"] for row in cells] == ["t02", "t01", "t00"]
    assert all(not row["data"].startswith(("=", "+", "-", "@")) for row in cells)
    assert len(ndjson.text.splitlines()) == 30 and ndjson.headers["content-disposition"].startswith(
        "attachment"
    )
    assert parquet.content[:4] == b"PAR1" and parquet.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_filtering_by_a_tag_expression_in_the_browser_swaps_the_table_and_pushes_the_url(
    server: Any, project: QueryProject, ui_page: Any
) -> None:
    from playwright.sync_api import expect

    sign_in(ui_page, server)
    ui_page.goto(f"{server.url}{_url(project)}")
    ui_page.fill("[data-trace-filter]", "client==small && (timeout")
    ui_page.press("[data-trace-filter]", "Enter")
    ui_page.wait_for_selector(".filter-error")
    assert "position 26" in ui_page.locator(".filter-error p").inner_text()
    expect(ui_page.locator("[data-trace-filter]")).to_have_attribute("aria-invalid", "true")
    ui_page.fill("[data-trace-filter]", "client==small && timeout")
    ui_page.press("[data-trace-filter]", "Enter")
    ui_page.wait_for_url(re.compile(r".*filter=client%3D%3Dsmall.*"))
    expect(ui_page.locator("a.trace-link")).to_have_count(3)  # (no wait_for_function: the CSP forbids eval)
    expect(ui_page.locator("[data-trace-filter]")).not_to_have_attribute("aria-invalid", "true")
    ids = ui_page.locator("a.trace-link").all_inner_texts()
    assert ids == [f"t{i:02d}" for i in range(N_TRACES) if i % 3 == 1 and i % 7 == 0]
    ui_page.wait_for_selector("#trace-count strong")
    assert ui_page.locator("#trace-count").inner_text() == "3 traces"
    ui_page.reload()
    assert ui_page.locator("[data-trace-filter]").input_value() == "client==small && timeout"
    assert ui_page.locator("a.trace-link").all_inner_texts() == ids


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_j_k_and_enter_open_the_selected_trace(server: Any, project: QueryProject, ui_page: Any) -> None:
    sign_in(ui_page, server)
    ui_page.goto(f"{server.url}{_url(project)}?filter=app%3D%3Dv1")
    ui_page.keyboard.press("j")
    ui_page.keyboard.press("j")
    ui_page.keyboard.press("j")
    ui_page.keyboard.press("k")
    selected = ui_page.locator("tr.selected a.trace-link")
    assert selected.inner_text() == "t03"
    ui_page.keyboard.press("Enter")
    ui_page.wait_for_url(f"**{_url(project)}/t03")
