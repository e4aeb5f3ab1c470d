"""Applied manifests: one row per (project, version), every SQL statement about them.

A version is never changed once written: applying a manifest inserts the next
version (``insert_next``), and "the project's manifest" is its highest version.
``source`` is the YAML text as applied (secrets included: redacting is
``services.manifests``'s job, and this module never decides what is shown);
``parsed`` is the validated model as JSON. Functions take the caller's session
first and answer typed rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from raymon.server.store.models import Manifest


class VersionTaken(Exception):
    """Another transaction inserted this (project, version) first (the transaction is spent)."""


class ManifestRow(NamedTuple):
    project_id: str
    version: int
    source: str
    parsed: Any
    created_at: datetime


class ManifestVersion(NamedTuple):
    version: int
    created_at: datetime


def _row(manifest: Manifest) -> ManifestRow:
    return ManifestRow(
        manifest.project_id, manifest.version, manifest.source, manifest.parsed, manifest.created_at
    )


def latest_version(session: Session, project_id: str) -> int | None:
    """The project's highest version number (one index lookup), None when it never had a manifest."""
    value = session.scalar(select(func.max(Manifest.version)).where(Manifest.project_id == project_id))
    return None if value is None else int(value)


def latest(session: Session, project_id: str) -> ManifestRow | None:
    """The project's current manifest (its highest version)."""
    manifest = session.scalars(
        select(Manifest).where(Manifest.project_id == project_id).order_by(Manifest.version.desc()).limit(1)
    ).first()
    return None if manifest is None else _row(manifest)


def find(session: Session, project_id: str, version: int) -> ManifestRow | None:
    manifest = session.scalars(
        select(Manifest).where(Manifest.project_id == project_id, Manifest.version == version)
    ).first()
    return None if manifest is None else _row(manifest)


def versions(session: Session, project_id: str) -> list[ManifestVersion]:
    """Every applied version of the project, newest first."""
    rows = session.execute(
        select(Manifest.version, Manifest.created_at)
        .where(Manifest.project_id == project_id)
        .order_by(Manifest.version.desc())
    )
    return [ManifestVersion(int(version), created_at) for version, created_at in rows]


def insert_next(
    session: Session, project_id: str, source: str, parsed: Any, created_at: datetime
) -> ManifestRow:
    """Store the project's next version; ``VersionTaken`` when a concurrent apply took that number."""
    current = latest_version(session, project_id)
    manifest = Manifest(
        project_id=project_id,
        version=(current or 0) + 1,
        source=source,
        parsed=parsed,
        created_at=created_at,
    )
    session.add(manifest)
    try:
        session.flush()
    except IntegrityError as exc:
        raise VersionTaken(f"{project_id} v{manifest.version}") from exc
    return _row(manifest)
