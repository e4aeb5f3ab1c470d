"""Projects, API keys, users and roles: who may do what in which project.

API keys are ``rmn_`` + 32 random bytes (urlsafe base64) and are stored as
their SHA-256 only. A fast unsalted hash is the right tool here, unlike for
passwords: a key carries 256 bits of randomness, so no dictionary or
brute-force attack on a leaked hash is feasible however fast the hash is, and
a deterministic hash lets every request find its key with one indexed lookup.
Passwords are low-entropy and chosen by people, so they get ``hashlib.scrypt``
with a random salt (slow on purpose) instead.

Scopes: ``ingest`` (write events), ``read`` (query), ``admin`` (keys, users,
projects; implies the other two). User roles: ``admin`` (all scopes) and
``viewer`` (read). This module never parses HTTP and never logs a key or password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from raymon.exceptions import WireFormatError
from raymon.server.services.errors import ConflictError, InvalidInputError, NotFoundError
from raymon.server.store.coltypes import utcnow
from raymon.server.store.models import ApiKey, Membership, Project, User
from raymon.wire import check_id

SCOPES = ("ingest", "read", "admin")
ROLES: Mapping[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "viewer": frozenset({"read"}),
}
KEY_PREFIX = "rmn_"
MIN_KEY_LENGTH = 16
MIN_PASSWORD_LENGTH = 8
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


# --- principals: the caller of a request -------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who is calling and which scopes they hold in which project.

    Made from an API key (one project) or, for the UI, from a user (their memberships).
    """

    kind: str  # "key" or "user"
    id: str
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, project_id: str, scope: str) -> bool:
        return scope in self.grants.get(project_id, frozenset())

    def has_scope_anywhere(self, scope: str) -> bool:
        return any(scope in scopes for scopes in self.grants.values())

    @property
    def project_ids(self) -> list[str]:
        return sorted(self.grants)


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """``admin`` implies ``read`` and ``ingest``."""
    result = set(scopes)
    if "admin" in result:
        result.update(SCOPES)
    return frozenset(result)


def parse_scopes(scopes: str | Iterable[str]) -> list[str]:
    """Answer the scopes in canonical order, or raise naming the unknown one."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    cleaned = {s.strip() for s in items if s and s.strip()}
    if not cleaned:
        raise InvalidInputError(f"scopes must name at least one of {', '.join(SCOPES)}")
    unknown = sorted(cleaned - set(SCOPES))
    if unknown:
        raise InvalidInputError(f"unknown scope(s) {unknown}: use {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in cleaned]


# --- keys and passwords ----------------------------------------------------------------------


def hash_key(key: str) -> str:
    """SHA-256 hex of an API key (see the module docstring for why not a slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algo != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
        maxmem=2**27,
    )
    return hmac.compare_digest(actual, expected)


# --- projects ----------------------------------------------------------------------------------


def check_project_id(project_id: str) -> str:
    try:
        return check_id("project_id", project_id)
    except WireFormatError as exc:
        raise InvalidInputError(str(exc)) from None


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise InvalidInputError(f"a project name must be 1 to 256 characters, got {name!r}")
    return name.strip()


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"{slug or 'project'}-{secrets.token_hex(3)}"


def create_project(session: Session, name: str, project_id: str | None = None) -> Project:
    """Create a project; its id defaults to a slug of the name plus a random suffix."""
    name = _check_name(name)
    project_id = check_project_id(project_id) if project_id is not None else _slug(name)
    if session.get(Project, project_id) is not None:
        raise ConflictError(f"project {project_id!r} exists already")
    project = Project(id=project_id, name=name, created_at=utcnow())
    session.add(project)
    session.flush()
    return project


def ensure_project(session: Session, project_id: str, name: str | None = None) -> tuple[Project, bool]:
    project = session.get(Project, check_project_id(project_id))
    if project is not None:
        return project, False
    return create_project(session, name or project_id, project_id), True


def get_project(session: Session, project_id: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"no project {project_id!r}")
    return project


def list_projects(session: Session, project_ids: Iterable[str] | None = None) -> list[Project]:
    """All projects (``project_ids=None``, for the CLI) or those named."""
    query = select(Project).order_by(Project.created_at, Project.id)
    if project_ids is not None:
        query = query.where(Project.id.in_(list(project_ids)))
    return list(session.scalars(query))


def project_json(project: Project) -> dict[str, object]:
    return {"project_id": project.id, "name": project.name, "created_at": project.created_at.isoformat()}


# --- API keys ----------------------------------------------------------------------------------


def create_key(
    session: Session, project_id: str, scopes: str | Iterable[str], name: str = "", key: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key for ``project_id``; answers the row and the key itself (shown once, never stored)."""
    get_project(session, project_id)
    scope_list = parse_scopes(scopes)
    if key is None:
        key = new_key()
    elif len(key) < MIN_KEY_LENGTH:
        raise InvalidInputError(f"an API key must be at least {MIN_KEY_LENGTH} characters long")
    digest = hash_key(key)
    if session.scalar(select(ApiKey.id).where(ApiKey.key_hash == digest)) is not None:
        raise ConflictError("that API key exists already")
    row = ApiKey(
        id=uuid.uuid4().hex,
        project_id=project_id,
        name=name[:256],
        key_prefix=key[:12],
        key_hash=digest,
        scopes=",".join(scope_list),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, key


def ensure_key(session: Session, project_id: str, key: str, scopes: str, name: str) -> bool:
    """Make sure ``key`` exists for ``project_id``; answer whether it was created now."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is not None:
        if row.project_id != project_id:
            raise ConflictError(f"that API key belongs to another project than {project_id!r}")
        return False
    create_key(session, project_id, scopes, name=name, key=key)
    return True


def list_keys(session: Session, project_id: str) -> list[ApiKey]:
    get_project(session, project_id)
    return list(
        session.scalars(select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.created_at))
    )


def revoke_key(session: Session, key_id: str, project_id: str | None = None) -> ApiKey:
    """Revoke a key by id (or by its shown prefix, when that is unambiguous)."""
    query = select(ApiKey).where((ApiKey.id == key_id) | (ApiKey.key_prefix == key_id))
    if project_id is not None:
        query = query.where(ApiKey.project_id == project_id)
    rows = list(session.scalars(query))
    if not rows:
        where = f" in project {project_id!r}" if project_id else ""
        raise NotFoundError(f"no API key {key_id!r}{where}")
    if len(rows) > 1:
        raise ConflictError(f"{key_id!r} matches {len(rows)} keys: give the key id")
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def key_json(row: ApiKey) -> dict[str, object]:
    return {
        "key_id": row.id,
        "project_id": row.project_id,
        "name": row.name,
        "key_prefix": row.key_prefix,
        "scopes": row.scopes.split(","),
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def principal_for_key(session: Session, key: str) -> Principal | None:
    """The caller holding ``key``, or None for an unknown or revoked key."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(kind="key", id=row.id, grants={row.project_id: expand_scopes(row.scopes.split(","))})


# --- users and roles ---------------------------------------------------------------------------


def _check_email(email: str) -> str:
    email = email.strip().lower() if isinstance(email, str) else email
    if not isinstance(email, str) or len(email) > 320 or _EMAIL_RE.fullmatch(email) is None:
        raise InvalidInputError(f"not an e-mail address: {email!r}")
    return email


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == _check_email(email)))
    if user is None:
        raise NotFoundError(f"no user {email!r}")
    return user


def create_user(session: Session, email: str, password: str) -> User:
    email = _check_email(email)
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ConflictError(f"user {email!r} exists already")
    user = User(id=uuid.uuid4().hex, email=email, password_hash=hash_password(password), created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def ensure_user(session: Session, email: str, password: str) -> tuple[User, bool]:
    """The user with ``email``, created with ``password`` if missing (an existing password is kept)."""
    try:
        return get_user(session, email), False
    except NotFoundError:
        return create_user(session, email, password), True


def set_role(session: Session, email: str, project_id: str, role: str) -> Membership:
    """Give a user a role in a project (replacing any role they had there)."""
    role = _check_role(role)
    user = get_user(session, email)
    get_project(session, project_id)
    membership = session.get(Membership, (user.id, project_id))
    if membership is None:
        membership = Membership(user_id=user.id, project_id=project_id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def grant_user_role(session: Session, user_id: str, project_id: str, role: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        set_role(session, user.email, project_id, role)


def add_member(
    session: Session, project_id: str, email: str, password: str | None, role: str
) -> tuple[Membership, bool]:
    """Give ``email`` a role in a project, creating the user (with ``password``) if missing.

    An existing user's password is never changed here: a project admin must not
    be able to take over an account that other projects trust.
    """
    _check_role(role)
    get_project(session, project_id)
    created = False
    try:
        get_user(session, email)
    except NotFoundError:
        if password is None:
            raise InvalidInputError(
                f"user {email!r} does not exist yet: give a password to create it"
            ) from None
        create_user(session, email, password)
        created = True
    return set_role(session, email, project_id, role), created


def remove_member(session: Session, email: str, project_id: str) -> None:
    user = get_user(session, email)
    membership = session.get(Membership, (user.id, project_id))
    if membership is None:
        raise NotFoundError(f"user {email!r} has no role in project {project_id!r}")
    session.delete(membership)


def list_members(session: Session, project_id: str) -> list[dict[str, object]]:
    get_project(session, project_id)
    rows = session.execute(
        select(User.email, Membership.role, User.created_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id)
        .order_by(User.email)
    )
    return [
        {"email": email, "role": role, "created_at": created.isoformat()} for email, role, created in rows
    ]


def authenticate_user(session: Session, email: str, password: str) -> User | None:
    """The user if ``password`` is theirs, else None (for the UI's login)."""
    try:
        user = get_user(session, email)
    except (NotFoundError, InvalidInputError):
        return None
    return user if verify_password(password, user.password_hash) else None


def principal_for_user(session: Session, user_id: str) -> Principal | None:
    user = session.get(User, user_id)
    if user is None:
        return None
    memberships = session.scalars(select(Membership).where(Membership.user_id == user_id))
    return Principal(kind="user", id=user.id, grants={m.project_id: ROLES[m.role] for m in memberships})
