"""Data for the trace-page tests: a project the UI's user is a member of, a manifest, logged traces.

``member_project(server, name)`` makes a fresh project through the API and enrols the
start-up user (``admin@example.com``) as its admin by an invitation they accept, so
``ui_client(server)`` and ``sign_in`` see it. Traces are logged through the API with the
client library (``RaymonAPILogger``) or as raw wire events (``project.ingest``), never
written to the database by hand.
"""

from __future__ import annotations

from typing import Any

from query_events import QueryProject, event

from raymon import Trace
from raymon.loggers.api import RaymonAPILogger


def member_project(server: Any, name: str) -> QueryProject:
    """A new project whose admin is the UI's start-up user."""
    project = QueryProject.create(server, name)
    with server.client(project.admin_key) as client:
        invited = client.post(
            f"/api/v1/projects/{project.project_id}/users", json={"email": server.user_email, "role": "admin"}
        )
    assert invited.status_code == 201, invited.text
    with server.client(invited.json()["token"]) as client:
        accepted = client.post(
            "/api/v1/invitations/accept", json={"email": server.user_email, "password": server.user_password}
        )
    assert accepted.status_code in (200, 201), accepted.text
    return project


def apply_manifest(project: QueryProject, yaml_text: str) -> None:
    with project.server.client(project.admin_key) as client:
        response = client.put(
            f"/api/v1/projects/{project.project_id}/manifest",
            content=yaml_text.replace("PROJECT", project.project_id),
            headers={"Content-Type": "text/yaml"},
        )
    assert response.status_code == 200, response.text


def trace(project: QueryProject, trace_id: str) -> Trace:
    """A client-library trace that sends its events to the project at once (through the API)."""
    logger = RaymonAPILogger(url=project.server.url, project_id=project.project_id, api_key=project.admin_key)
    return Trace(logger=logger, trace_id=trace_id)


def object_event(trace_id: str, ts: str, ref: str, jcr: dict[str, Any]) -> dict[str, Any]:
    """A raw object event with any jcr (one no client would write: an unregistered type, a forged image)."""
    return event(trace_id, "object", ts, ref=ref, data=jcr)


def objects_of(project: QueryProject, trace_id: str) -> dict[str, dict[str, Any]]:
    """The trace's object references by ref, from the API."""
    with project.server.client(project.admin_key) as client:
        response = client.get(f"/api/v1/projects/{project.project_id}/traces/{trace_id}")
    assert response.status_code == 200, response.text
    return {o["ref"]: o for o in response.json()["objects"]}
