"""First-start initialisation: headless (``RAYMON_INIT_*``) or a default project with a printed key.

Idempotent: every start may run it; it only creates what is missing. It never
changes an existing key, user password or role, and never logs a secret (the
caller decides whether to print a newly created key once).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from raymon.server.services import auth
from raymon.server.settings import Settings
from raymon.server.store.db import Database
from raymon.server.store.models import Membership, Project

DEFAULT_PROJECT_ID = "default"


@dataclass
class BootstrapReport:
    """What start-up created; ``new_key`` is set only when a key was made (to be shown once)."""

    project_id: str | None = None
    new_key: str | None = None
    created: list[str] = field(default_factory=list)


def bootstrap(database: Database, settings: Settings) -> BootstrapReport:
    report = BootstrapReport()
    with database.write_session() as session:
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
            if session.get(Membership, (user.id, project.id)) is None:
                auth.set_role(session, user.email, project.id, "admin")
            return report
        if session.scalar(select(Project.id).limit(1)) is None:
            project = auth.create_project(session, "Default project", DEFAULT_PROJECT_ID)
            _, key = auth.create_key(session, project.id, "admin", name="first start")
            report.project_id, report.new_key = project.id, key
            report.created += [f"project {project.id}", "admin API key"]
    return report
