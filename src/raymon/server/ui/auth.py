"""Who is looking at a page: FastAPI dependencies over the session cookie.

``viewer`` answers the signed-in person or sends the browser to ``/login``
(``LoginRequired``, answered 303 with where to come back to); ``project_page``
adds the project of the path, answering 404 for a project the viewer is no
member of (the same answer as for one that does not exist), and
``require(page, scope)`` checks a scope for an action (403). Scopes are the
API's: a viewer reads, an admin also changes settings and keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from raymon.server.api.deps import get_backend
from raymon.server.services import auth, ui_sessions
from raymon.server.services.auth import ProjectRow
from raymon.server.services.errors import NotFoundError, PermissionDeniedError
from raymon.server.services.ui_sessions import Viewer


class LoginRequired(Exception):
    """No live session: the page answers a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def login_redirect(exc: LoginRequired) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)


def session_token(request: Request) -> str:
    return request.cookies.get(ui_sessions.COOKIE, "")


def optional_viewer(request: Request) -> Viewer | None:
    """The signed-in person, or None (for the login page)."""
    found = getattr(request.state, "viewer", None)
    if found is None:
        found = ui_sessions.viewer(get_backend(request), session_token(request))
        request.state.viewer = found
    return found


def viewer(request: Request) -> Viewer:
    """The signed-in person; without a live session the browser goes to ``/login``."""
    found = optional_viewer(request)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return found


@dataclass(frozen=True)
class ProjectPage:
    """A page of one project: who looks and at which project, with their scopes there."""

    viewer: Viewer
    project: ProjectRow

    @property
    def project_id(self) -> str:
        return self.project.id

    def allows(self, scope: str) -> bool:
        return self.viewer.allows(self.project.id, scope)


def project_page(project_id: str, request: Request, who: Viewer = Depends(viewer)) -> ProjectPage:  # noqa: B008
    """The project of the path if the viewer may read it (404 otherwise: no hint that it exists)."""
    if not who.allows(project_id, "read"):
        raise NotFoundError(f"no project {project_id!r}")
    return ProjectPage(viewer=who, project=auth.project(get_backend(request), project_id))


def require(page: ProjectPage, scope: str) -> None:
    """Refuse an action the viewer's role does not allow (403 naming the scope)."""
    if not page.allows(scope):
        raise PermissionDeniedError(f"this needs the {scope!r} scope in project {page.project_id!r}")
