"""Stored model profiles: one JSON document per (project, name, version); every SQL statement about them.

Functions take the caller's session first and answer typed rows. A second
insert of the same (project, name, version) is ``ProfileExists``: whether that
is a no-op or a conflict is ``services.profiles``'s to decide.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from raymon.server.store.models import Profile


class ProfileExists(Exception):
    """Another transaction stored this (project, name, version) first."""


class ProfileRow(NamedTuple):
    name: str
    version: str
    created_at: datetime
    body: Any  # the JSON document as stored


def _row(profile: Profile) -> ProfileRow:
    return ProfileRow(profile.name, profile.version, profile.created_at, profile.body)


def find(session: Session, project_id: str, name: str, version: str) -> ProfileRow | None:
    profile = session.scalars(
        select(Profile).where(
            Profile.project_id == project_id, Profile.name == name, Profile.version == version
        )
    ).first()
    return None if profile is None else _row(profile)


def insert(session: Session, project_id: str, name: str, version: str, body: Any) -> ProfileRow:
    """Store a new profile; ``ProfileExists`` when the name and version are taken (the transaction is then spent)."""
    profile = Profile(project_id=project_id, name=name, version=version, body=body)
    session.add(profile)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ProfileExists(f"{name}@{version}") from exc
    return _row(profile)


def list_all(session: Session, project_id: str, name: str | None = None) -> list[ProfileRow]:
    """The project's profiles (of one ``name`` or all), by name then creation time."""
    stmt = select(Profile).where(Profile.project_id == project_id)
    if name is not None:
        stmt = stmt.where(Profile.name == name)
    return [_row(p) for p in session.scalars(stmt.order_by(Profile.name, Profile.created_at, Profile.id))]
