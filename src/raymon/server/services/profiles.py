"""Model profiles stored by the backend, one JSON document per ``name@version`` and project.

A profile is what ``ModelProfile.to_jcr()`` answers; the backend keeps it as
given and only checks that it names itself (``name`` and ``version``, or a
``name`` written ``name@version``). A stored version is never overwritten:
sending the same document again is a no-op, a different one under the same
``name@version`` is refused (publish a new version instead), so reducers and
reports that refer to ``name@version`` always mean the same thing. This module
never parses HTTP.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from raymon.server.services.errors import ConflictError, InvalidInputError, NotFoundError
from raymon.server.store.db import Database
from raymon.server.store.models import Profile

NAME_MAX_LEN = 200
VERSION_MAX_LEN = 64
MAX_PROFILE_BYTES = 32 * 1024 * 1024  # the server passes settings.profile_limit
_PART_RE = re.compile(r"[A-Za-z0-9_\-.:+]+")


def parse_profile_ref(ref: str) -> tuple[str, str]:
    """Split ``"name@version"`` and check both parts; ``InvalidInputError`` names what is wrong."""
    if not isinstance(ref, str) or ref.count("@") != 1:
        raise InvalidInputError(f"a profile is named 'name@version' (one '@'), got {ref!r}")
    name, version = ref.split("@")
    return check_name(name), check_version(version)


def check_name(name: Any) -> str:
    if type(name) is not str or not 1 <= len(name) <= NAME_MAX_LEN or _PART_RE.fullmatch(name) is None:
        raise InvalidInputError(
            f"profile name must be 1 to {NAME_MAX_LEN} letters, digits or _ - . : +, got {name!r}"
        )
    return name


def check_version(version: Any) -> str:
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)
    if (
        type(version) is not str
        or not 1 <= len(version) <= VERSION_MAX_LEN
        or _PART_RE.fullmatch(version) is None
    ):
        raise InvalidInputError(
            f"profile version must be 1 to {VERSION_MAX_LEN} letters, digits or _ - . : +, got {version!r}"
        )
    return version


def profile_identity(body: Any) -> tuple[str, str]:
    """The ``(name, version)`` a profile document names itself by.

    Accepts ``{"name": "n", "version": "v", ...}``, ``{"name": "n@v", ...}``, and the same
    inside a jcr's ``params`` (``{"type": ..., "params": {"name": ..., ...}}``).
    """
    if not isinstance(body, dict):
        raise InvalidInputError(f"a profile must be a JSON object, got {type(body).__name__}")
    source = body
    if "name" not in body and isinstance(body.get("params"), dict):
        source = body["params"]
    name = source.get("name")
    version = source.get("version")
    if name is None:
        raise InvalidInputError(
            "a profile needs a 'name' (and a 'version', or a name written 'name@version')"
        )
    if version is None:
        if not isinstance(name, str) or "@" not in name:
            raise InvalidInputError(
                f"profile {name!r} has no 'version': add one or write the name as 'name@version'"
            )
        return parse_profile_ref(name)
    if isinstance(name, str) and "@" in name:
        given_name, given_version = parse_profile_ref(name)
        if given_version != check_version(version):
            raise InvalidInputError(
                f"profile name {name!r} says version {given_version!r} but 'version' is {version!r}"
            )
        return given_name, given_version
    return check_name(name), check_version(version)


def _summary(row: Profile) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "ref": f"{row.name}@{row.version}",
        "created_at": row.created_at.isoformat(timespec="microseconds"),
    }


def create_profile(
    db: Database, project_id: str, body: Any, max_bytes: int = MAX_PROFILE_BYTES
) -> tuple[dict[str, Any], bool]:
    """Store a profile; answers its summary and whether it was new (False: the identical one was there)."""
    name, version = profile_identity(body)
    size = len(orjson.dumps(body))
    if size > max_bytes:
        raise InvalidInputError(
            f"profile {name}@{version} is {size} bytes, over the limit max_profile_bytes={max_bytes} "
            "(RAYMON_MAX_PROFILE_BYTES)"
        )
    existing = _find(db, project_id, name, version)
    if existing is not None:
        return _same_or_conflict(existing, body)
    try:
        with db.write_session() as session:
            row = Profile(project_id=project_id, name=name, version=version, body=body)
            session.add(row)
            session.flush()
            summary = _summary(row)
    except IntegrityError:  # another request stored the same name@version just now
        existing = _find(db, project_id, name, version)
        if existing is None:
            raise
        return _same_or_conflict(existing, body)
    return summary, True


def _same_or_conflict(existing: Profile, body: Any) -> tuple[dict[str, Any], bool]:
    if orjson.dumps(existing.body, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        body, option=orjson.OPT_SORT_KEYS
    ):
        return _summary(existing), False
    raise ConflictError(
        f"profile {existing.name}@{existing.version} exists with different content; "
        "store the new one under a new version"
    )


def _find(db: Database, project_id: str, name: str, version: str) -> Profile | None:
    with db.session() as session:
        return session.scalars(
            select(Profile).where(
                Profile.project_id == project_id, Profile.name == name, Profile.version == version
            )
        ).first()


def list_profiles(db: Database, project_id: str, name: str | None = None) -> list[dict[str, Any]]:
    """Every stored profile of the project (optionally of one name), by name then creation time."""
    stmt = select(Profile).where(Profile.project_id == project_id)
    if name is not None:
        stmt = stmt.where(Profile.name == check_name(name))
    with db.session() as session:
        rows = session.scalars(stmt.order_by(Profile.name, Profile.created_at, Profile.id)).all()
    return [_summary(row) for row in rows]


def get_profile(db: Database, project_id: str, ref: str) -> Any:
    """The stored JSON document of ``name@version``."""
    name, version = parse_profile_ref(ref)
    row = _find(db, project_id, name, version)
    if row is None:
        raise NotFoundError(f"profile {name}@{version} not found in project {project_id!r}")
    return row.body
