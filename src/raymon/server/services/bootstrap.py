"""First-start initialisation: headless (``RAYMON_INIT_*``) or a default project with a printed key.

Idempotent: every start may run it; it only creates what is missing. It never
changes an existing key, user password or role, and never logs a secret (the
caller decides whether to print a newly created key once). It runs no SQL
itself: the steps of ``services.auth`` do, in the one transaction it opens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from raymon.server.services import auth
from raymon.server.store import accounts

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.settings import Settings

DEFAULT_PROJECT_ID = "default"


@dataclass
class BootstrapReport:
    """What start-up created; ``new_key`` is set only when a key was made (to be shown once)."""

    project_id: str | None = None
    new_key: str | None = None
    created: list[str] = field(default_factory=list)


def startup_project_id(settings: Settings) -> str:
    """The project start-up makes: ``RAYMON_INIT_PROJECT_ID``, else ``default``."""
    return settings.init_project_id or DEFAULT_PROJECT_ID


def bootstrap(backend: Backend) -> BootstrapReport:
    settings = backend.settings
    report = BootstrapReport()
    with backend.writing() as session:
        if settings.init_requested:
            project, created = auth.ensure_project(
                session, settings.init_project_id, settings.init_project_name or settings.init_project_id
            )
            report.project_id = project.id
            if created:
                report.created.append(f"project {project.id}")
            if auth.ensure_key(session, project.id, settings.init_api_key, "admin", name="init"):
                report.created.append("admin API key (RAYMON_INIT_API_KEY)")
            user, user_created = auth.ensure_user(
                session, settings.init_user_email, settings.init_user_password
            )
            if user_created:
                report.created.append(f"user {settings.init_user_email}")
            if accounts.role_of(session, user.id, project.id) is None:
                auth.set_role(session, user.email, project.id, "admin")
            return report
        if not accounts.any_project(session):
            project = auth.create_project(session, "Default project", DEFAULT_PROJECT_ID, now=backend.clock())
            _, key = auth.create_key(session, project.id, "admin", name="first start", now=backend.clock())
            report.project_id, report.new_key = project.id, key
            report.created += [f"project {project.id}", "admin API key"]
    return report
