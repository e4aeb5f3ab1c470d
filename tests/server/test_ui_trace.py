"""The trace page (the original's eye icon): tags by group, the text log, every object visualised, downloads.

Real server processes; the fast tier through HTTP on both databases (page HTML and
headers, as Datasette's tests do), the browser tests in Debian's Chromium on SQLite.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from PIL import Image
from query_events import QueryProject, event
from ui_browser import sign_in, ui_client
from ui_trace_data import apply_manifest, member_project, object_event, objects_of, trace

import raymon.types as rt
from raymon import Tag

MANIFEST = """
project_id: PROJECT
actions:
  visualize:
    - name: show_frame
      function: pandas2html
      inputs:
        data: frame
    - name: side_by_side
      function: native2html
      inputs:
        left: prediction
        right: missing-ref
"""
FRAME = pd.DataFrame({"price": [1.5, 2.0, None], "city": ["Gent", "Leuven", "Brugge"]})
LONG = pd.DataFrame({"i": range(120), "square": [i * i for i in range(120)]})
PICTURE = Image.fromarray(np.arange(64 * 48, dtype="uint8").reshape(48, 64) % 251)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'


@pytest.fixture(scope="module")
def project(server: Any) -> QueryProject:
    project = member_project(server, "trace page")
    apply_manifest(project, MANIFEST)
    t = trace(project, "req-1")
    t.info("request received")
    t.warning("price looks high")
    t.tag([Tag("client", "bigshot", "label"), Tag("latency", 0.25, "metric")])
    t.tag([Tag("price_err", 3.5, "error", "houses@1.0.0"), Tag("price", 12.0, "metric", "houses@1.0.0")])
    t.log(ref="frame", data=rt.DataFrame(FRAME))
    t.log(ref="long", data=rt.DataFrame(LONG))
    t.log(ref="picture", data=rt.Image(PICTURE))
    t.log(ref="prediction", data=rt.Native({"price": 123.5, "ok": True}))
    t.log(ref="matrix", data=rt.Numpy(np.arange(12, dtype="float64").reshape(3, 4)))
    t.log(ref="series", data=rt.Series(pd.Series([1, 2, 3], name="counts")))
    ts = "2026-01-01T00:00:00.000000+00:00"
    forged = {
        "type": "raymon.types.Image",
        "params": {"mode": "L", "size": [1, 1], "png": base64.b64encode(SVG).decode()},
    }
    project.ingest(
        [
            object_event("req-1", ts, "unregistered", {"type": "mypackage.Secret", "params": {"x": 1}}),
            object_event("req-1", ts, "forged-image", forged),
        ]
    )
    trace(project, "req-2").log(ref="frame", data=rt.DataFrame(FRAME))
    return project


def _page(project: QueryProject, path: str = "", **kwargs: Any) -> Any:
    with ui_client(project.server) as client:
        return client.get(f"/projects/{project.project_id}/traces/req-1{path}", **kwargs)


def _card(html: str, ref: str) -> str:
    """The HTML of one object's card on the trace page."""
    start = html.index(f'<code class="ref">{ref}</code>')
    end = html.find('<section class="card object"', start)
    return html[start : end if end > 0 else len(html)]


def test_the_trace_page_lists_tags_by_group_with_chips_by_type(project: QueryProject) -> None:
    response = _page(project)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    assert '<span class="chip group">houses@1.0.0</span>' in html
    assert re.search(
        r'class="chip label" title="label"><span class="tag-name">client</span> <span class="tag-value">bigshot',
        html,
    )
    assert re.search(r'class="chip metric" title="metric"><span class="tag-name">latency</span>', html)
    assert re.search(r'class="chip error" title="error"><span class="tag-name">price_err</span>', html)
    assert html.index("No group") < html.index("houses@1.0.0")  # ungrouped tags first


def test_the_text_log_shows_each_message_with_its_time_and_level(project: QueryProject) -> None:
    html = _page(project).text
    rows = re.findall(
        r'<tr class="level-(\w+)"><td class="when"><time datetime="([^"]+)">.*?</time></td><td>\w+</td><td class="message">([^<]*)</td>',
        html,
    )
    assert [(level, message) for level, _, message in rows] == [
        ("info", "request received"),
        ("warning", "price looks high"),
    ]
    assert all(datetime.fromisoformat(moment).utcoffset() == timedelta(0) for _, moment, _ in rows)


def test_every_object_is_shown_by_its_manifest_action_or_the_default_for_its_type(
    project: QueryProject,
) -> None:
    html = _page(project).text
    frame = _card(html, "frame")
    assert "pandas2html" in frame and 'class="dataframe raymon-table"' in frame  # the manifest's action
    assert "<td>Leuven</td>" in frame and 'style="' not in html  # pandas' header style is gone (CSP)
    series = _card(html, "series")
    assert "dataframe_table" in series and '<th scope="col">counts</th>' in series
    picture = _card(html, "picture")
    obj_id = objects_of(project, "req-1")["picture"]["obj_id"]
    assert f'src="/projects/{project.project_id}/traces/req-1/objects/{obj_id}/image"' in picture
    assert "native2html" in _card(html, "prediction") and "&quot;price&quot;: 123.5" in _card(
        html, "prediction"
    )
    matrix = _card(html, "matrix")
    assert "numpy2html" in matrix and "shape (3, 4), dtype float64" in matrix
    assert 'class="raymon-heatmap"' in matrix and 'src="data:image/png;base64,' in matrix
    assert '<td class="num">11.0</td>' in matrix


def test_an_object_of_an_unregistered_type_is_shown_as_that_error_not_a_broken_page(
    project: QueryProject,
) -> None:
    card = _card(_page(project).text, "unregistered")
    assert '<p class="error">this object does not load on the server:' in card and "mypackage.Secret" in card
    assert "not registered" in card


def test_an_action_of_several_inputs_shows_only_when_all_its_refs_are_on_the_trace(
    project: QueryProject,
) -> None:
    html = _page(project).text
    assert "side_by_side" not in html  # missing-ref was never logged


def test_a_large_object_shows_its_first_rows_and_the_rest_on_demand(project: QueryProject) -> None:
    card = _card(_page(project).text, "long")
    assert card.count('<th scope="row">') == 50 and "70 more rows not shown" in card
    obj_id = objects_of(project, "req-1")["long"]["obj_id"]
    url = f"/projects/{project.project_id}/traces/req-1/objects/{obj_id}?all=1"
    assert f'hx-get="{url}"' in card and "Show all 120 rows" in card
    partial = _page(project, f"/objects/{obj_id}", params={"all": "1"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and partial.headers["vary"] == "HX-Request"
    assert partial.text.lstrip().startswith('<div class="object-view">') and "<html" not in partial.text
    assert partial.text.count('<th scope="row">') == 120 and "Show all" not in partial.text
    whole = _page(project, f"/objects/{obj_id}", params={"all": "1"})  # without htmx: the object as a page
    assert "<html" in whole.text and whole.text.count('<th scope="row">') == 120


def test_an_object_downloads_as_stored_and_is_never_rendered_by_the_browser(project: QueryProject) -> None:
    obj_id = objects_of(project, "req-1")["frame"]["obj_id"]
    response = _page(project, f"/objects/{obj_id}/download")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="frame-{obj_id}.json"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"].split("; ")
    with project.server.client(project.admin_key) as client:
        stored = client.get(f"/api/v1/projects/{project.project_id}/objects/{obj_id}").json()["obj_data"]
    assert orjson.loads(response.content) == stored
    pd.testing.assert_frame_equal(rt.load_jcr(orjson.loads(response.content)).data, FRAME)


def test_the_whole_trace_downloads_as_one_json_document(project: QueryProject) -> None:
    response = _page(project, "/download")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="trace-req-1.json"'
    assert (
        "sandbox" in response.headers["content-security-policy"]
        and response.headers["x-content-type-options"] == "nosniff"
    )
    document = orjson.loads(response.content)
    assert (
        document["trace_id"] == "req-1" and [t["message"] for t in document["texts"]][0] == "request received"
    )
    by_ref = {o["ref"]: o for o in document["objects"]}
    assert by_ref["prediction"]["obj_data"] == rt.Native({"price": 123.5, "ok": True}).to_jcr()


def test_an_image_is_served_inline_only_when_its_bytes_are_an_image(project: QueryProject) -> None:
    refs = objects_of(project, "req-1")
    response = _page(project, f"/objects/{refs['picture']['obj_id']}/image")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(response.content)).tobytes() == PICTURE.tobytes()
    forged = _page(project, f"/objects/{refs['forged-image']['obj_id']}/image")  # SVG behind a PNG label
    assert forged.status_code == 422 and "<svg" not in forged.text and "download it" in forged.text
    frame = _page(project, f"/objects/{refs['frame']['obj_id']}/image")
    assert frame.status_code == 422


def test_an_unknown_trace_or_an_object_of_another_trace_is_a_not_found_page(project: QueryProject) -> None:
    with ui_client(project.server) as client:
        missing = client.get(f"/projects/{project.project_id}/traces/no-such-trace")
        other = objects_of(project, "req-2")["frame"]["obj_id"]
        elsewhere = client.get(f"/projects/{project.project_id}/traces/req-1/objects/{other}/download")
    assert missing.status_code == 404 and "Trace not found" in missing.text
    assert "trace &#39;no-such-trace&#39; not found" in missing.text
    assert f'href="/projects/{project.project_id}/traces"' in missing.text
    assert elsewhere.status_code == 404


def test_the_trace_page_needs_a_member_of_the_project(project: QueryProject, server: Any) -> None:
    with ui_client(server) as client:
        outsider = server.new_project()  # made by key: the UI's user is no member
        trace(QueryProject(server, outsider.project_id, outsider.admin_key), "req-1").info("hello")
        response = client.get(f"/projects/{outsider.project_id}/traces/req-1")
    assert response.status_code == 404 and "hello" not in response.text


# --- in the browser ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_in_a_browser_the_trace_page_shows_tables_and_the_image_and_expands_and_downloads(
    project: QueryProject, ui_page: Any
) -> None:
    sign_in(ui_page, project.server)
    ui_page.goto(f"{project.server.url}/projects/{project.project_id}/traces/req-1")
    assert ui_page.locator("h1").inner_text().startswith("Trace")
    image = ui_page.locator(
        "#object-" + objects_of(project, "req-1")["picture"]["obj_id"] + " img.raymon-image"
    )
    ui_page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 48]
    long_card = ui_page.locator("#object-" + objects_of(project, "req-1")["long"]["obj_id"])
    assert long_card.locator("tbody tr").count() == 50
    long_card.locator("a.show-all").click()
    ui_page.wait_for_function(
        "el => el.querySelectorAll('tbody tr').length === 120", arg=long_card.element_handle()
    )
    assert long_card.locator("a.show-all").count() == 0
    with ui_page.expect_download() as download:
        ui_page.locator("#object-" + objects_of(project, "req-1")["frame"]["obj_id"] + " a.download").click()
    saved = download.value
    assert saved.suggested_filename.startswith("frame-") and saved.suggested_filename.endswith(".json")
    assert rt.load_jcr(orjson.loads(open(saved.path(), "rb").read())).data.equals(FRAME)


def test_a_raw_event_with_a_tag_of_type_error_shows_as_an_error_chip(server: Any) -> None:
    project = member_project(server, "error chips")
    project.ingest(
        [
            event(
                "t-1",
                "tags",
                "2026-01-01T00:00:00.000000+00:00",
                tags=[{"name": "model_error", "value": "boom", "type": "profile-error", "group": "g"}],
            )
        ]
    )
    with ui_client(server) as client:
        html = client.get(f"/projects/{project.project_id}/traces/t-1").text
    assert 'class="chip error" title="profile-error"><span class="tag-name">model_error</span>' in html


# --- a user's plugin visualisation ------------------------------------------------------------

PLUGIN_PACKAGE = Path(__file__).parent / "plugin_package"
PLUGIN_MANIFEST = """
project_id: PROJECT
actions:
  visualize:
    - name: show_text
      function: text_html
      inputs:
        data: words
    - name: words_and_count
      function: side_by_side
      inputs:
        left: words
        right: count
"""


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """tests/server/plugin_package installed (as tests/server/test_plugins.py does), uninstalled after."""
    source = tmp_path_factory.mktemp("plugin") / "plugin_package"
    shutil.copytree(PLUGIN_PACKAGE, source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "raymon-example-plugin"], capture_output=True, timeout=300)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the plugin registry, not the database
def test_a_users_plugin_visualisation_shows_on_the_trace_page_as_the_built_ins_do(
    example_plugin: None, make_server: Any
) -> None:
    server = make_server(RAYMON_ENGINE="off")
    project = member_project(server, "plugin page")
    apply_manifest(project, PLUGIN_MANIFEST)
    logged = trace(project, "req-1")
    logged.log(ref="words", data=rt.Native("<b>three</b> small words"))
    logged.log(ref="count", data=rt.Native(3))
    with ui_client(server) as client:
        html = client.get(f"/projects/{project.project_id}/traces/req-1").text
        partial = client.get(
            f"/projects/{project.project_id}/traces/req-1/views/words_and_count",
            headers={"HX-Request": "true"},
        )
    card = _card(html, "words")
    assert "text_html" in card
    assert '<div class="visualisation"><pre>&lt;b&gt;three&lt;/b&gt; small words</pre></div>' in card
    pair = "<table><tr><td><pre>&lt;b&gt;three&lt;/b&gt; small words</pre></td><td><pre>3</pre></td></tr></table>"
    views = html[html.index('id="views-heading"') : html.index('id="objects-heading"')]
    assert "words_and_count" in views and pair in views  # an action of several inputs: a view of its own
    assert partial.status_code == 200 and pair in partial.text and "<html" not in partial.text
