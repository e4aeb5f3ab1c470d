"""HTTP routes, thin: parse, authorise (``deps.require_scope``), call a service, respond.

``ROUTERS`` is the list ``app.py`` mounts; add a router with a one-line edit.
Routes never talk SQL.
"""

from __future__ import annotations

from fastapi import APIRouter

from raymon.server.api import (
    admin,
    alerts,
    exports,
    ingest,
    issues,
    jobs,
    manifests,
    oauth,
    objects,
    original_client,
    profiles,
    results,
    slices,
    tags,
    traces,
)

ROUTERS: list[APIRouter] = [
    admin.router,
    ingest.router,
    traces.router,
    objects.router,
    tags.router,
    exports.router,
    profiles.router,
    jobs.router,
    manifests.router,
    results.router,
    slices.router,
    issues.router,
    alerts.router,
    original_client.router,  # the original client's route shapes, after ours (docs/migration.md)
    oauth.router,
]
