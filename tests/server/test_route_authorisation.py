"""Every API route authorises: proved over the app's whole route table, against a real server.

The cases are generated from ``create_app().routes`` (included routers flattened), so a route added later
(by anyone) is covered without editing this file, and a route that forgets
``require_scope`` fails ``test_every_api_route_declares_a_scope`` (one without a docstring,
``test_every_api_route_is_documented``).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from raymon.server.api.deps import required_scopes
from raymon.server.app import create_app
from raymon.server.settings import Settings

PUBLIC_PATHS = {"/healthz"}
_PARAM = re.compile(r"\{(\w+)(:[^}]*)?\}")


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    scopes: tuple[str, ...]
    description: str = ""  # the route's docstring (or explicit description): what /docs shows

    @property
    def project_bound(self) -> bool:
        return "{project_id}" in self.path

    def url(self, project_id: str) -> str:
        return _PARAM.sub(lambda m: project_id if m.group(1) == "project_id" else "x", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _route_table() -> list[RouteCase]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp)))
        cases = []
        for route in iter_route_contexts(app.routes):  # flattens included routers (FastAPI >= 0.16x)
            if not isinstance(route.original_route, APIRoute):
                continue
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                description = (route.original_route.description or "").strip()
                cases.append(
                    RouteCase(method, route.path, tuple(required_scopes(route.dependant)), description)
                )
        app.state.backend.close()
    return cases


ROUTES = _route_table()
API_ROUTES = [case for case in ROUTES if case.path.startswith("/api/")]
PROJECT_ROUTES = [case for case in API_ROUTES if case.project_bound]


def _lacking_key_scopes(case: RouteCase) -> str:
    """Scopes that are not enough for the route: everything but what it needs (admin implies all)."""
    needed = set(case.scopes)
    if "admin" in needed:
        return "ingest,read"
    if "read" in needed:
        return "ingest"
    return "read"


def _send(client, case: RouteCase, project_id: str):  # type: ignore[no-untyped-def]
    kwargs = {"json": {}} if case.method in ("POST", "PUT", "PATCH") else {}
    return client.request(case.method, case.url(project_id), **kwargs)


def test_the_route_table_holds_the_ingest_and_admin_routes() -> None:
    paths = {case.path for case in API_ROUTES}
    assert "/api/v1/projects/{project_id}/ingest" in paths
    assert "/api/v1/projects" in paths
    assert "/api/v1/projects/{project_id}/keys" in paths


@pytest.mark.parametrize("case", API_ROUTES, ids=str)
def test_every_api_route_is_documented(case: RouteCase) -> None:
    """A route without a docstring (or ``description=``) shows up bare in ``/docs``."""
    assert len(case.description) >= 10, f"{case} has no docstring: say what it does and answers"


@pytest.mark.parametrize("case", API_ROUTES, ids=str)
def test_every_api_route_declares_a_scope(case: RouteCase) -> None:
    assert case.scopes, f"{case} has no require_scope dependency"
    assert case.path not in PUBLIC_PATHS


@pytest.mark.parametrize("case", API_ROUTES, ids=str)
def test_a_request_without_a_key_is_refused_with_401(server, case: RouteCase) -> None:  # type: ignore[no-untyped-def]
    with server.client("") as client:
        response = _send(client, case, server.project_id)
    assert response.status_code == 401, response.text
    assert "detail" in response.json()


@pytest.mark.parametrize("case", API_ROUTES, ids=str)
def test_an_unknown_key_is_refused_with_401(server, case: RouteCase) -> None:  # type: ignore[no-untyped-def]
    with server.client("rmn_not_a_key_of_this_server_000000") as client:
        response = _send(client, case, server.project_id)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("case", PROJECT_ROUTES, ids=str)
def test_a_key_of_another_project_reads_and_writes_nothing(server, case: RouteCase) -> None:  # type: ignore[no-untyped-def]
    other = server.new_project()
    with server.client(other.admin_key) as client:  # admin of B: every scope, but in B
        response = _send(client, case, server.project_id)
    assert response.status_code == 403, response.text
    assert server.project_id in response.json()["detail"]


@pytest.mark.parametrize("case", API_ROUTES, ids=str)
def test_a_key_without_the_scope_is_refused_with_403(server, case: RouteCase) -> None:  # type: ignore[no-untyped-def]
    key = server.key(server.project_id, _lacking_key_scopes(case))
    with server.client(key) as client:
        response = _send(client, case, server.project_id)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("case", [c for c in PROJECT_ROUTES if "read" in c.scopes], ids=str)
def test_an_ingest_only_key_reads_nothing(server, case: RouteCase) -> None:  # type: ignore[no-untyped-def]
    key = server.key(server.project_id, "ingest")
    with server.client(key) as client:
        response = _send(client, case, server.project_id)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("case", PROJECT_ROUTES, ids=str)
def test_a_key_with_the_scope_gets_past_authorisation(server, case: RouteCase) -> None:  # type: ignore[no-untyped-def]
    """The other side of the coin: the right key is not refused (whatever the route then answers)."""
    scopes = ",".join(sorted(set(case.scopes)))
    key = server.key(server.project_id, scopes)
    with server.client(key) as client:
        response = _send(client, case, server.project_id)
    assert response.status_code not in (401, 403), response.text
