"""Nothing a user logged runs in the UI: hostile HTML in every field is rendered as text.

A trace is logged through the API with three payloads (a ``<script>``, an ``<img onerror>``
and a ``</script>`` that would close a script block) in its texts, tag values, tag types,
DataFrame cells, column names and index labels, a Native value, a NumPy string array, an
object's data type, and the manifest's action names. Tag names, groups and object refs
refuse ``<`` and ``"`` at the API (checked here too), so they carry the most hostile
characters they allow. Each page is then

- fetched over HTTP (the fast tier, both databases): the raw payloads are nowhere in the
  HTML, their escaped forms are;
- opened in Chromium (SQLite): ``window.__xss`` stays undefined, no dialog opens, no CSP
  violation is reported (the ``ui_page`` fixture), and the payload text is visible as text.

``PAGES`` lists the pages that show the trace: the trace list, the trace page and one object's page.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from query_events import QueryProject, event
from ui_browser import sign_in, ui_client
from ui_trace_data import apply_manifest, member_project, object_event, objects_of, trace

import raymon.types as rt
from raymon import Tag

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
CLOSE = "</script><script>window.__xss=1</script>"
PAYLOADS = (SCRIPT, IMG, CLOSE)
# The most hostile text a tag name, a group or a ref may hold (no "<", ">", '"' or "'").
NAME_LIKE = "x onerror=window.__xss(1) /[a]#b"
TRACE_ID = "xss-trace"
TS = "2026-01-02T03:04:05.000000+00:00"

MANIFEST = """
project_id: PROJECT
actions:
  visualize:
    - name: frame_by_pandas
      function: pandas2html
      inputs:
        data: frame-pandas
"""

PAGES = [
    "/projects/{project_id}/traces/{trace_id}",
    "/projects/{project_id}/traces/{trace_id}/objects/{frame_id}?all=1",  # one object as a page
    "/projects/{project_id}/traces",  # the trace list: tags as chips
]


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame({payload: [payload, 1] for payload in PAYLOADS})
    frame.index = pd.Index([SCRIPT, IMG], name=CLOSE)
    return frame


@pytest.fixture(scope="module")
def hostile(server: Any) -> QueryProject:
    project = member_project(server, "xss")
    apply_manifest(project, MANIFEST)
    t = trace(project, TRACE_ID)
    for payload in PAYLOADS:
        t.info(payload)
    t.tag([Tag(f"value {i}", payload, "label") for i, payload in enumerate(PAYLOADS)])
    t.tag([Tag(f"typed {i}", 1.0, payload[:64]) for i, payload in enumerate(PAYLOADS)])
    t.tag([Tag(NAME_LIKE, SCRIPT, "error", NAME_LIKE)])
    t.log(ref="frame", data=rt.DataFrame(_frame()))  # dataframe_table, the default
    t.log(ref="frame-pandas", data=rt.DataFrame(_frame()))  # pandas2html, named by the manifest
    t.log(ref="series", data=rt.Series(pd.Series(list(PAYLOADS), name=SCRIPT)))
    t.log(ref="native", data=rt.Native({SCRIPT: list(PAYLOADS)}))
    t.log(ref="strings", data=rt.Numpy(np.array([list(PAYLOADS)], dtype=object)))
    t.log(ref=NAME_LIKE, data=rt.Native(IMG))
    project.ingest([object_event(TRACE_ID, TS, "typed", {"type": IMG, "params": {CLOSE: SCRIPT}})])
    return project


def _pages(project: QueryProject) -> list[str]:
    frame_id = objects_of(project, TRACE_ID)["frame"]["obj_id"]
    return [
        page.format(project_id=project.project_id, trace_id=TRACE_ID, frame_id=frame_id) for page in PAGES
    ]


def test_tag_names_groups_and_refs_refuse_html_at_the_api(hostile: QueryProject) -> None:
    refused = [
        event("refused", "tags", TS, tags=[{"name": SCRIPT, "value": 1, "type": "label", "group": None}]),
        event("refused", "tags", TS, tags=[{"name": "ok", "value": 1, "type": "label", "group": IMG}]),
        object_event("refused", TS, CLOSE, rt.Native(1).to_jcr()),
    ]
    with hostile.api() as api:
        for one in refused:
            body = api.ingest(hostile.project_id, [{**one, "project_id": hostile.project_id}])
            assert body.status_code == 400 or body.json().get("rejected"), body.text
    with hostile.server.client(hostile.admin_key) as client:
        assert client.get(f"/api/v1/projects/{hostile.project_id}/traces/refused").status_code == 404


def test_every_page_has_the_payloads_only_in_their_escaped_form(hostile: QueryProject) -> None:
    with ui_client(hostile.server) as client:
        for path in _pages(hostile):
            response = client.get(path)
            assert response.status_code == 200, path
            html = response.text
            for payload in PAYLOADS:
                assert payload not in html, (path, payload)
            assert "<script>window" not in html and "<img src=x" not in html  # no tag, only its text
            assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
            assert re.search(r"&lt;img src=x onerror=(&#34;|&quot;)window.__xss=1(&#34;|&quot;)&gt;", html)
            assert "&lt;/script&gt;&lt;script&gt;window.__xss=1&lt;/script&gt;" in html


def test_the_trace_page_escapes_each_field_where_it_shows_it(hostile: QueryProject) -> None:
    with ui_client(hostile.server) as client:
        html = client.get(_pages(hostile)[0]).text
    script = "&lt;script&gt;window.__xss=1&lt;/script&gt;"
    assert f'<td class="message">{script}</td>' in html  # the text log
    assert f'<span class="tag-value">{script}</span>' in html  # a tag value
    assert 'title="&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;"' in html  # a tag type
    assert f'<th scope="col">{script}</th>' in html  # a column name (dataframe_table)
    assert f'<th scope="row">{script}</th>' in html  # an index label
    assert f"<th>{script}</th>" in html  # a column name (pandas2html; it leaves quotes, safe in text)
    assert f"<td>{script}</td>" in html  # a cell
    assert "&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt; &middot;" in html  # a data type
    assert f'<code class="ref">{NAME_LIKE}</code>' in html  # a ref


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_in_a_browser_no_payload_runs_and_each_shows_as_text(hostile: QueryProject, ui_page: Any) -> None:
    dialogs: list[str] = []
    ui_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(ui_page, hostile.server)
    for path in _pages(hostile):
        ui_page.goto(hostile.server.url + path)
        ui_page.wait_for_load_state("networkidle")
        assert ui_page.evaluate("typeof window.__xss") == "undefined", path
        assert ui_page.evaluate("document.querySelectorAll('img[src=x], img[onerror]').length") == 0
        text = ui_page.locator("main").inner_text()
        for payload in PAYLOADS:
            assert payload in text, (path, payload)
        scripts = ui_page.evaluate("[...document.scripts].map(s => [s.src, s.type])")
        assert all(
            src.startswith(hostile.server.url + "/static/") or kind == "application/json"
            for src, kind in scripts
        )
    assert dialogs == []


def test_a_download_of_a_hostile_ref_gets_a_safe_file_name(hostile: QueryProject) -> None:
    obj_id = objects_of(hostile, TRACE_ID)[NAME_LIKE]["obj_id"]
    with ui_client(hostile.server) as client:
        response = client.get(f"/projects/{hostile.project_id}/traces/{TRACE_ID}/objects/{obj_id}/download")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="x_onerror_window.__xss_1_a_b-{obj_id}.json"'
    )
