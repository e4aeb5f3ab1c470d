"""Projects, API keys, users, roles and invitations: who may do what in which project.

API keys are ``rmn_`` + 32 random bytes (urlsafe base64) and are stored as
their SHA-256 only, with a hint of 4 characters after ``rmn_`` for people
(``key_hint``); they are listed and revoked by a random id. A key chosen by an
operator (``RAYMON_INIT_API_KEY``) must carry as much randomness
(``check_chosen_key``). A fast unsalted hash is the right tool here, unlike for
passwords: a key carries 256 bits of randomness, so no dictionary or
brute-force attack on a leaked hash is feasible however fast the hash is, and
a deterministic hash lets every request find its key with one indexed lookup.
Passwords are low-entropy and chosen by people, so they get argon2id with a
random salt (slow on purpose) instead (``services.passwords``); a hash of an
older kind is replaced at the next successful sign-in (``check_password``).

Scopes: ``ingest`` (write events), ``read`` (query), ``admin`` (keys, users,
projects; implies the other two). User roles: ``admin`` (all scopes) and
``viewer`` (read).

Users are global (one account per e-mail address, across projects), so a
project admin never learns whether an address is registered and never enrols
anyone directly: they invite (``services.invitations``) and change or remove
the roles of their project's members only, with the same answer for every
address that is not one. Only the operator, on the server's machine (CLI,
headless init), creates users and gives roles directly. Every text a
caller gives passes ``text_params.check_text`` (no NUL characters). This
module never parses HTTP, never logs a key or password and runs no SQL
(``store.accounts`` does).

Two kinds of function, one transaction convention: what routes and the CLI
call takes the ``Backend`` and opens one transaction (``backend.reading()`` /
``backend.writing()``); the steps those are made of (``create_project``,
``create_key``, ``set_role``, ...) take that transaction's session first, so
start-up and the demo can compose them in a transaction of their own.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from raymon.exceptions import WireFormatError
from raymon.server.services import passwords
from raymon.server.services.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from raymon.server.services.text_params import check_text
from raymon.server.store import accounts
from raymon.server.store.accounts import KeyRow, ProjectRow, UserRow
from raymon.server.store.db import Session
from raymon.wire import check_project_id as wire_check_project_id

if TYPE_CHECKING:
    from raymon.server.backend import Backend

SCOPES = ("ingest", "read", "admin")
ROLES: Mapping[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "viewer": frozenset({"read"}),
}
KEY_PREFIX = "rmn_"
CHOSEN_KEY_MIN_CHARS = 32  # after an optional "rmn_": 192 bits when random
CHOSEN_KEY_MIN_DISTINCT = 16
_URLSAFE_RE = re.compile(r"[A-Za-z0-9_-]+")
MIN_PASSWORD_LENGTH = passwords.MIN_PASSWORD_LENGTH
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")


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


# --- keys -------------------------------------------------------------------------------


def hash_key(key: str) -> str:
    """SHA-256 hex of an API key (see the module docstring for why not a slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hint(key: str) -> str:
    """What is stored of a key in plain text: ``rmn_`` and 4 characters, or 4 characters (24 bits of it)."""
    return key[: len(KEY_PREFIX) + 4] if key.startswith(KEY_PREFIX) else key[:4]


def check_chosen_key(key: str, setting: str = "RAYMON_INIT_API_KEY") -> str:
    """Refuse a chosen key with too little randomness to stand in for a generated one, naming ``setting``.

    The rule: at least 32 characters of ``A-Z a-z 0-9 _ -`` (not counting a leading ``rmn_``), at
    least 16 of them different. 32 random urlsafe characters hold 192 bits; a word with a few
    digits, which the rule refuses, was recovered from its hash in seconds.
    """
    body = key[len(KEY_PREFIX) :] if key.startswith(KEY_PREFIX) else key
    rule = (
        f"at least {CHOSEN_KEY_MIN_CHARS} characters of A-Z a-z 0-9 _ - (not counting a leading "
        f"{KEY_PREFIX!r}), at least {CHOSEN_KEY_MIN_DISTINCT} of them different; make one with: "
        "python -c \"import secrets; print('rmn_' + secrets.token_urlsafe(32))\""
    )
    if _URLSAFE_RE.fullmatch(body) is None or len(body) < CHOSEN_KEY_MIN_CHARS:
        raise InvalidInputError(f"{setting} is too weak ({len(body)} characters): it must be {rule}")
    if len(set(body)) < CHOSEN_KEY_MIN_DISTINCT:
        raise InvalidInputError(
            f"{setting} is too weak ({len(set(body))} different characters): it must be {rule}"
        )
    return key


# --- projects ----------------------------------------------------------------------------------


def check_project_id(project_id: str) -> str:
    """The wire format's project id rule (``raymon.wire.check_project_id``) as a 422."""
    try:
        return wire_check_project_id(project_id)
    except WireFormatError as exc:
        raise InvalidInputError(str(exc)) from None


def _check_name(name: str) -> str:
    check_text("name", name, 256)
    if not name.strip():
        raise InvalidInputError(f"a project name must be 1 to 256 characters, got {name!r}")
    return name.strip()


def slug(name: str) -> str:
    """The project id a name gives: ASCII letters and digits, lower-cased, joined by ``-`` ("House prices" -> "house-prices")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-") or "project"


def create_project(
    session: Session, name: str, project_id: str | None = None, now: datetime | None = None
) -> ProjectRow:
    """Create a project; its id defaults to ``slug(name)``. A taken id is refused, never suffixed.

    Without an explicit id, a name some project has already (in any case) is refused too,
    naming that project: running the same ``project create`` twice makes no second project.
    """
    name = _check_name(name)
    if project_id is None:
        same_name = accounts.project_named(session, name)
        if same_name is not None:
            raise ConflictError(f"a project named {same_name.name!r} exists already: {same_name.id!r}")
    project_id = check_project_id(project_id) if project_id is not None else slug(name)
    if accounts.get_project(session, project_id) is not None:
        raise ConflictError(f"project {project_id!r} exists already")
    return accounts.insert_project(session, project_id, name, now or _now())


def ensure_project(session: Session, project_id: str, name: str | None = None) -> tuple[ProjectRow, bool]:
    project = accounts.get_project(session, check_project_id(project_id))
    if project is not None:
        return project, False
    return create_project(session, name or project_id, project_id), True


def get_project(session: Session, project_id: str) -> ProjectRow:
    project = accounts.get_project(session, project_id)
    if project is None:
        raise NotFoundError(f"no project {project_id!r}")
    return project


def project_json(project: ProjectRow) -> dict[str, object]:
    return {"project_id": project.id, "name": project.name, "created_at": project.created_at.isoformat()}


# --- API keys ----------------------------------------------------------------------------------


def create_key(
    session: Session,
    project_id: str,
    scopes: str | Iterable[str],
    name: str = "",
    key: str | None = None,
    now: datetime | None = None,
) -> tuple[KeyRow, str]:
    """Create a key for ``project_id``; answers the row and the key itself (shown once, never stored)."""
    get_project(session, project_id)
    scope_list = parse_scopes(scopes)
    name = check_text("name", name, 256)
    key = new_key() if key is None else check_chosen_key(key)
    digest = hash_key(key)
    if accounts.key_by_hash(session, digest) is not None:
        raise ConflictError("that API key exists already")
    row = accounts.insert_key(
        session,
        key_id=uuid.uuid4().hex,
        project_id=project_id,
        name=name,
        key_prefix=key_hint(key),
        key_hash=digest,
        scopes=",".join(scope_list),
        created_at=now or _now(),
    )
    return row, key


def ensure_key(session: Session, project_id: str, key: str, scopes: str, name: str) -> bool:
    """Make sure ``key`` exists for ``project_id``; answer whether it was created now."""
    check_chosen_key(key)  # also when it exists already: a weak key in the environment is refused
    row = accounts.key_by_hash(session, hash_key(key))
    if row is not None:
        if row.project_id != project_id:
            raise ConflictError(f"that API key belongs to another project than {project_id!r}")
        return False
    create_key(session, project_id, scopes, name=name, key=key)
    return True


def key_json(row: KeyRow) -> dict[str, object]:
    return {
        "key_id": row.id,
        "project_id": row.project_id,
        "name": row.name,
        "key_prefix": row.key_prefix,
        "scopes": row.scopes.split(","),
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }


# --- users and roles ---------------------------------------------------------------------------


def check_email(email: str) -> str:
    email = check_text("email", email, 320).strip().lower()
    if _EMAIL_RE.fullmatch(email) is None:
        raise InvalidInputError(f"not an e-mail address: {email!r}")
    return email


def check_role(role: str) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def get_user(session: Session, email: str) -> UserRow:
    user = accounts.user_by_email(session, check_email(email))
    if user is None:
        raise NotFoundError(f"no user {email!r}")
    return user


def create_user(session: Session, email: str, password: str) -> UserRow:
    email = check_email(email)
    passwords.check_new_password(password)
    if accounts.user_by_email(session, email) is not None:
        raise ConflictError(f"user {email!r} exists already")
    return accounts.insert_user(session, uuid.uuid4().hex, email, passwords.hash_password(password), _now())


def ensure_user(session: Session, email: str, password: str) -> tuple[UserRow, bool]:
    """The user with ``email``, created with ``password`` if missing (an existing password is kept)."""
    try:
        return get_user(session, email), False
    except NotFoundError:
        return create_user(session, email, password), True


def set_role(session: Session, email: str, project_id: str, role: str) -> str:
    """Give a user a role in a project (replacing any role they had there); answer the role."""
    role = check_role(role)
    user = get_user(session, email)
    get_project(session, project_id)
    accounts.set_role(session, user.id, project_id, role)
    return role


@dataclass(frozen=True)
class SignInCheck:
    """A user whose password was right, and a new hash to store in place of an old-style one (or None)."""

    user: UserRow
    new_hash: str | None = None


def check_sign_in(session: Session, email: str, password: str) -> SignInCheck | None:
    """The user if ``password`` is theirs, else None; reads only (run it outside any write lock).

    An address of no account takes as long to refuse as a wrong password (no timing hint). When the
    stored hash is of an older kind (scrypt, or argon2 with other parameters) the answer carries its
    argon2id replacement, for ``save_rehash`` to store.
    """
    try:
        user = get_user(session, email)
    except (NotFoundError, InvalidInputError):
        passwords.spend_like_a_check(password if isinstance(password, str) else "")
        return None
    if not passwords.verify_password(password, user.password_hash):
        return None
    new_hash = passwords.hash_password(password) if passwords.needs_rehash(user.password_hash) else None
    return SignInCheck(user, new_hash)


def save_rehash(session: Session, check: SignInCheck) -> None:
    """Store ``check``'s replacement hash, unless the password changed since it was checked."""
    if check.new_hash is not None:
        accounts.set_password_hash(session, check.user.id, check.new_hash, replacing=check.user.password_hash)


def authenticate_user(session: Session, email: str, password: str) -> UserRow | None:
    """``check_sign_in`` and ``save_rehash`` in the caller's transaction: the user, or None."""
    check = check_sign_in(session, email, password)
    if check is None:
        return None
    save_rehash(session, check)
    return check.user


def check_password(session: Session, user: UserRow, password: str) -> bool:
    """Whether ``password`` is ``user``'s; when it is and the stored hash is of an older kind
    (scrypt, or argon2 with other parameters), the hash is replaced by a new argon2id one."""
    if not passwords.verify_password(password, user.password_hash):
        return False
    if passwords.needs_rehash(user.password_hash):
        save_rehash(session, SignInCheck(user, passwords.hash_password(password)))
    return True


def principal_for_user(session: Session, user_id: str) -> Principal | None:
    user = accounts.user_by_id(session, user_id)
    if user is None:
        return None
    roles = accounts.roles_of_user(session, user_id)
    return Principal(kind="user", id=user.id, grants={pid: ROLES[role] for pid, role in roles.items()})


def _now() -> datetime:
    return datetime.now(UTC)


# --- what routes and the CLI call: one transaction each ----------------------------------------


def principal_for_key(backend: Backend, key: str) -> Principal | None:
    """The caller holding ``key``, or None for an unknown or revoked key."""
    with backend.reading() as session:
        row = accounts.key_by_hash(session, hash_key(key))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(kind="key", id=row.id, grants={row.project_id: expand_scopes(row.scopes.split(","))})


def new_project(
    backend: Backend,
    name: str,
    project_id: str | None = None,
    *,
    key_name: str | None = None,
    admin_user_id: str | None = None,
) -> tuple[ProjectRow, KeyRow | None, str | None]:
    """Create a project with, unless ``key_name`` is None, an admin key (answered once).

    ``admin_user_id``: a user who becomes the project's admin (the one who created it).
    """
    with backend.writing() as session:
        project = create_project(session, name, project_id, now=backend.clock())
        key_row, key = (None, None)
        if key_name is not None:
            key_row, key = create_key(session, project.id, "admin", name=key_name, now=backend.clock())
        if admin_user_id is not None:
            user = accounts.user_by_id(session, admin_user_id)
            if user is not None:
                set_role(session, user.email, project.id, "admin")
    return project, key_row, key


def projects(backend: Backend, project_ids: Iterable[str] | None = None) -> list[ProjectRow]:
    """All projects (``project_ids=None``, for the CLI) or those named."""
    with backend.reading() as session:
        return accounts.list_projects(session, project_ids)


def project(backend: Backend, project_id: str) -> ProjectRow:
    with backend.reading() as session:
        return get_project(session, project_id)


def add_key(
    backend: Backend, project_id: str, scopes: str | Iterable[str], name: str = ""
) -> tuple[KeyRow, str]:
    """A new key of ``project_id``: its row and the key itself (shown once, never stored)."""
    with backend.writing() as session:
        return create_key(session, project_id, scopes, name=name, now=backend.clock())


MACHINE_SCOPES = "ingest,read"
MACHINE_KEY_NAME = "machine credentials (original Raymon client)"


def add_machine_credentials(backend: Backend, project_id: str) -> dict[str, dict[str, str]]:
    """A new ``ingest`` + ``read`` key of the project, in the original client's m2m shape.

    ``{project_id: {"client_id": <key id>, "client_secret": <the key>}}``: what the original's
    ``project_m2mclient_add`` answers, so its "create m2m credentials" script can save it. The key
    is shown only now, like every key; it is listed, and revoked, by its id (``client_id``).
    """
    row, key = add_key(backend, project_id, MACHINE_SCOPES, name=MACHINE_KEY_NAME)
    return {project_id: {"client_id": row.id, "client_secret": key}}


def keys(backend: Backend, project_id: str) -> list[KeyRow]:
    with backend.reading() as session:
        get_project(session, project_id)
        return accounts.list_keys(session, project_id)


def revoke_key(backend: Backend, key_id: str, project_id: str | None = None) -> KeyRow:
    """Revoke a key by its id (``key_id`` as listed; of ``project_id`` when given)."""
    check_text("key_id", key_id, 64)
    with backend.writing() as session:
        row = accounts.key_by_id(session, key_id, project_id)
        if row is None:
            where = f" in project {project_id!r}" if project_id else ""
            raise NotFoundError(f"no API key with id {key_id!r}{where} (keys are revoked by key_id)")
        return accounts.revoke_key(session, row.id, backend.clock())


def new_user(
    backend: Backend, email: str, password: str, project_id: str | None = None, role: str = "viewer"
) -> UserRow:
    """Create a user (with ``role`` in ``project_id`` when given): the operator's act (CLI), no invitation."""
    with backend.writing() as session:
        user = create_user(session, email, password)
        if project_id:
            set_role(session, email, project_id, role)
    return user


def role_set(backend: Backend, email: str, project_id: str, role: str) -> str:
    """Give any user a role in a project: the operator's act (CLI), no invitation needed."""
    with backend.writing() as session:
        return set_role(session, email, project_id, role)


def _not_a_member(email: str, project_id: str) -> NotFoundError:
    # The same words whether or not the address is registered elsewhere.
    return NotFoundError(f"{email!r} is not a member of project {project_id!r}")


def member_role_set(backend: Backend, project_id: str, email: str, role: str) -> str:
    """Change the role of a member of the project (a project admin's act); 404 for anyone else."""
    role = check_role(role)
    email = check_email(email)
    with backend.writing() as session:
        found = accounts.member_role(session, project_id, email)
        if found is None:
            raise _not_a_member(email, project_id)
        accounts.set_role(session, found[0], project_id, role)
    return role


def member_remove(backend: Backend, email: str, project_id: str) -> None:
    """Take a member's role in the project away (the user stays, with their other projects)."""
    email = check_email(email)
    with backend.writing() as session:
        found = accounts.member_role(session, project_id, email)
        if found is None or not accounts.delete_membership(session, found[0], project_id):
            raise _not_a_member(email, project_id)


def members(backend: Backend, project_id: str) -> list[dict[str, Any]]:
    """The project's users and their roles: ``[{"email", "role", "created_at"}]``."""
    with backend.reading() as session:
        get_project(session, project_id)
        rows = accounts.members(session, project_id)
    return [{"email": r.email, "role": r.role, "created_at": r.created_at.isoformat()} for r in rows]
