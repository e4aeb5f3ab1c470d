"""The HTTP API's contract, through a real server: one error shape, the OpenAPI document, strict times.

- Every refusal is ``{"detail": "<message>"}``; a bad parameter's message
  names the parameter, the rule and the value (no FastAPI validation list).
- A 405 carries ``Allow`` with every method of the path.
- ``begin``/``end`` are RFC 3339 date-times: bare numbers, naive times and
  times out of range once in UTC are a 422 naming the parameter, on every
  route that takes them; so is a forged cursor holding such a time.
- The document declares the bearer scheme, ``security`` on every operation
  that needs a key, one ``Error`` schema for every 4xx, the ingest bodies and
  the export's media types.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from query_events import QueryProject, event, tags_event

import raymon.types as rt
from raymon.server.api.deps import required_scopes
from raymon.server.app import create_app
from raymon.server.settings import Settings

TIME_ROUTES = ["traces", "export?ref=features"]
BAD_TIMES = [
    ("1767225600", "RFC 3339"),  # a Unix time: pydantic alone would take it
    ("1767225600.5", "RFC 3339"),
    ("2026-06-01T12:00:00", "RFC 3339"),  # no offset
    ("2026-06-01", "RFC 3339"),
    ("0001-01-01T00:00:00+01:00", "out of range"),
    ("9999-12-31T23:59:59-01:00", "out of range"),
]


@pytest.fixture(scope="module")
def project(server: Any) -> QueryProject:
    project = QueryProject.create(server, "contract")
    project.ingest([tags_event(f"c{i}", f"2026-06-01T00:00:0{i}+00:00", {"n": i}) for i in range(3)])
    project.ingest(
        [event("c1", "object", "2026-06-01T00:00:01+00:00", ref="features", data=rt.Native([1]).to_jcr())]
    )
    return project


@pytest.fixture(scope="module")
def document(server: Any) -> dict[str, Any]:
    with server.client("") as client:
        body: dict[str, Any] = client.get("/openapi.json").json()
    return body


def _get(project: QueryProject, path: str, **params: Any) -> Any:
    with project.server.client(project.admin_key) as client:
        return client.get(f"/api/v1/projects/{project.project_id}/{path}", params=params)


def test_a_bad_query_parameter_answers_one_sentence_naming_it(project: QueryProject) -> None:
    response = _get(project, "traces", limit=5000)
    assert response.status_code == 422
    assert response.json() == {"detail": "query parameter 'limit': must be <= 1000, got 5000"}


def test_several_bad_parameters_are_named_in_one_detail(project: QueryProject) -> None:
    response = _get(project, "traces", limit="many", order="sideways")
    detail = response.json()["detail"]
    assert response.status_code == 422 and isinstance(detail, str)
    assert "query parameter 'limit': must be an integer, got many" in detail
    assert "query parameter 'order': must be one of 'desc' or 'asc', got sideways" in detail


def test_a_bad_body_field_is_named(server: Any) -> None:
    with server.client() as client:
        response = client.post("/api/v1/projects", json={"project_id": "x"})
        assert response.json() == {"detail": "body field 'name': is required"}
        response = client.post(
            "/api/v1/projects", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("the request body: is not valid JSON (")


@pytest.mark.parametrize("route", TIME_ROUTES)
@pytest.mark.parametrize(("value", "rule"), BAD_TIMES)
def test_begin_and_end_take_only_rfc3339_times_in_range(
    project: QueryProject, route: str, value: str, rule: str
) -> None:
    path, _, query = route.partition("?")
    extra = dict([query.split("=")]) if query else {}
    for param in ("begin", "end"):
        response = _get(project, path, **{param: value}, **extra)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert detail.startswith(f"query parameter '{param}': ") and rule in detail, detail


@pytest.mark.parametrize("route", TIME_ROUTES)
def test_a_time_with_an_offset_is_taken(project: QueryProject, route: str) -> None:
    path, _, query = route.partition("?")
    extra = dict([query.split("=")]) if query else {}
    response = _get(project, path, begin="2026-06-01T01:00:01+01:00", end="2026-06-01T00:00:02z", **extra)
    assert response.status_code == 200, response.text
    if path == "traces":
        assert [t["trace_id"] for t in response.json()["traces"]] == ["c1"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "not a time"])
def test_a_forged_cursor_with_a_time_out_of_range_is_a_422_naming_the_cursor(
    project: QueryProject, moment: str
) -> None:
    first = _get(project, "traces", sort="time", limit=1).json()
    raw = orjson.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    raw[3] = moment  # [version, kind, order, first_ts, id]
    forged = base64.urlsafe_b64encode(orjson.dumps(raw)).decode().rstrip("=")
    response = _get(project, "traces", sort="time", limit=1, cursor=forged)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("cursor: ")


def test_a_method_the_path_does_not_have_is_a_405_with_every_allowed_method(server: Any) -> None:
    with server.client() as client:
        response = client.patch("/api/v1/projects")
        keys = client.put(f"/api/v1/projects/{server.project_id}/keys")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json() == {"detail": "PATCH is not allowed on /api/v1/projects: use GET, POST"}
    assert keys.status_code == 405 and keys.headers["allow"] == "GET, POST"


def test_the_document_declares_the_bearer_key_scheme(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert list(schemes.values()) == [schemes["apiKey"]]
    assert schemes["apiKey"]["type"] == "http" and schemes["apiKey"]["scheme"] == "bearer"


def _route_scopes() -> dict[tuple[str, str], list[str]]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp)))
        table = {}
        for route in iter_route_contexts(app.routes):
            if isinstance(route.original_route, APIRoute) and route.original_route.include_in_schema:
                for method in route.methods or ():
                    table[(method.lower(), str(route.path))] = required_scopes(route.dependant)
        app.state.backend.close()
    return table


def test_every_operation_that_needs_a_key_says_so_and_which_scope(document: dict[str, Any]) -> None:
    table = _route_scopes()
    assert table
    for (method, path), scopes in table.items():
        operation = document["paths"][path][method]
        assert scopes, f"{method} {path}"
        assert operation["security"] == [{"apiKey": []}], f"{method} {path}"
        assert all(f"`{scope}`" in operation["description"] for scope in scopes), f"{method} {path}"
        assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"


def test_every_4xx_answer_is_the_one_error_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Error"]["required"] == ["detail"]
    assert schemas["Error"]["properties"]["detail"]["type"] == "string"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("4"):
                    continue
                schema = response["content"]["application/json"]["schema"]
                expected = (
                    "IngestResult"
                    if path.endswith(("/ingest", "/ingest_batch")) and status == "422"
                    else "ManifestRefusal"  # Error's detail plus every error's line and column
                    if path.endswith("/manifest") and method == "put" and status == "422"
                    else "Error"
                )
                assert schema == {"$ref": f"#/components/schemas/{expected}"}, f"{method} {path} {status}"


def test_the_ingest_routes_document_their_bodies_and_answers(document: dict[str, Any]) -> None:
    for path in ("/api/v1/projects/{project_id}/ingest", "/api/v1/projects/{project_id}/ingest_batch"):
        operation = document["paths"][path]["post"]
        content = operation["requestBody"]["content"]
        assert set(content) == {"application/json", "application/x-ndjson"}
        assert {"$ref": "#/components/schemas/Event"} in content["application/json"]["schema"]["oneOf"]
        assert {"200", "207", "413", "415", "422", "429"} <= set(operation["responses"])
    event = document["components"]["schemas"]["Event"]
    assert event["required"] == ["v", "event_id", "project_id", "trace_id", "ts", "kind"]
    assert "$defs" not in orjson.dumps(document).decode()  # every wire-format $ref resolves in the document


def test_the_export_documents_its_media_types(document: dict[str, Any]) -> None:
    content = document["paths"]["/api/v1/projects/{project_id}/export"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/x-ndjson", "application/vnd.apache.parquet"}


def test_a_query_parameter_the_route_does_not_take_is_named(project: QueryProject) -> None:
    response = _get(project, "traces", limt=5)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("unknown query parameter 'limt': this route takes ") and "limit" in detail


def test_an_event_from_before_the_year_1000_is_stored_and_read_back(server: Any) -> None:
    """SQLite keeps times as text: an unpadded year ('427-08-31') could not be read back (500 on every list)."""
    old = QueryProject.create(server, "old times")
    old.ingest([tags_event("ancient", "0427-08-31T00:05:08Z", {"n": 1})])
    response = _get(old, "traces", sort="time")
    assert response.status_code == 200, response.text
    (trace,) = response.json()["traces"]
    assert trace["trace_id"] == "ancient" and trace["first_ts"].startswith("0427-08-31T00:05:08")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/projects", {"name": "a\x00b"}),
        ("/api/v1/projects/{p}/users", {"email": "a\x00@example.com", "role": "viewer"}),
        ("/api/v1/projects/{p}/keys", {"scopes": "read", "name": "k\x00"}),
    ],
)
def test_a_nul_in_a_body_text_is_a_422_naming_the_field(server: Any, path: str, body: dict[str, Any]) -> None:
    with server.client() as client:
        response = client.post(path.replace("{p}", server.project_id), json=body)
    assert response.status_code == 422, response.text
    assert "must not contain NUL characters" in response.json()["detail"]
