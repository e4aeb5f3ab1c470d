"""The project picker (``/``) and a project's home (``/projects/{project_id}``: its traces)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from raymon.server.api.deps import get_backend
from raymon.server.services import auth
from raymon.server.services.ui_sessions import Viewer
from raymon.server.ui.auth import ProjectPage, project_page, viewer
from raymon.server.ui.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def picker(request: Request, who: Viewer = Depends(viewer)) -> Response:  # noqa: B008
    rows = auth.projects(get_backend(request), who.project_ids) if who.project_ids else []
    roles = {row.id: ("admin" if who.allows(row.id, "admin") else "viewer") for row in rows}
    return render(request, "pages/projects.html", {"projects": rows, "roles": roles})


@router.get("/projects/{project_id}")
def project_home(page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    return RedirectResponse(f"/projects/{page.project_id}/traces", status_code=303)
