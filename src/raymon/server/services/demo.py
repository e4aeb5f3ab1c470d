"""The demo project of ``raymon server --demo``: set it up (idempotent), or remove it (``raymon demo reset``).

``start_demo`` makes what the live demo needs and answers it: the project ``demo``; the demo's
user ``demo@raymon.local`` (admin of it, with a generated password answered only when the user
is created, to be shown once), a login for the web UI; the ``ingest,read`` key ``demo`` (answered
only when made: the first start, or after it was revoked); one ``ingest`` key each for the
replay's two services (new at every start, the previous ones revoked: a key is stored hashed, so
the replay cannot reuse one); the profile ``houseprices@1.0.0``, built on part of the cheap houses
when the project has none (else the stored one is used, so tags stay consistent across
restarts); the demo manifest, applied when the project has no manifest (an edited one is kept).
When the project is created, the admins of the start-up project (the ``RAYMON_INIT_*`` user)
become its admins too. ``demo_replay`` builds the traffic thread (``demo.replay``).

The demo's data is marked by its names: the project id ``demo``, the user ``demo@raymon.local``,
the keys named ``demo`` and ``demo ... service``. ``reset_demo`` deletes the project ``demo``
with everything of it (traces, tags, texts, objects, results, issues, manifests, profiles, jobs,
keys, memberships) and the demo user unless another project has given it a role. It never
touches another project's data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from raymon.server.demo import story
from raymon.server.services import auth, manifests, profiles
from raymon.server.services.bootstrap import startup_project_id
from raymon.server.services.errors import NotFoundError
from raymon.server.store import accounts, project_deletion

if TYPE_CHECKING:
    import pandas as pd

    from raymon import ModelProfile
    from raymon.server.backend import Backend
    from raymon.server.demo.replay import Replay

DEMO_PROJECT_ID = "demo"
DEMO_PROJECT_NAME = "Demo: house prices"
DEMO_USER_EMAIL = "demo@raymon.local"
DEMO_KEY_NAME = "demo"
DEMO_KEY_SCOPES = "ingest,read"
PRICING_KEY_NAME = "demo pricing service"
LABELLING_KEY_NAME = "demo labelling service"
REPLAY_KEY_SCOPES = "ingest"


@dataclass(frozen=True)
class DemoStart:
    """What ``start_demo`` made or found; ``key`` and ``password`` are set only when new (show them once)."""

    project_id: str
    created: bool  # the project was created now
    key: str | None
    user_email: str
    password: str | None
    pricing_key: str
    labelling_key: str
    profile: ModelProfile
    model: story.Model
    manifest_applied: bool  # the demo manifest was applied now (the project had none)


@dataclass(frozen=True)
class DemoReset:
    """What ``reset_demo`` deleted: rows per table, and whether the demo user went too."""

    found: bool
    deleted: dict[str, int] = field(default_factory=dict)
    user_deleted: bool = False


def start_demo(backend: Backend) -> DemoStart:
    """Make (or find) the demo project, its user, keys, profile and manifest; see the module docstring."""
    key: str | None = None
    password: str | None = None
    now = backend.clock()
    with backend.writing() as session:
        _, created = auth.ensure_project(session, DEMO_PROJECT_ID, DEMO_PROJECT_NAME)
        if created:
            for member in accounts.members(session, startup_project_id(backend.settings)):
                if member.role == "admin":
                    auth.set_role(session, member.email, DEMO_PROJECT_ID, "admin")
        if accounts.user_by_email(session, DEMO_USER_EMAIL) is None:
            password = secrets.token_urlsafe(12)
            auth.create_user(session, DEMO_USER_EMAIL, password)
        user = auth.get_user(session, DEMO_USER_EMAIL)
        if accounts.role_of(session, user.id, DEMO_PROJECT_ID) is None:
            auth.set_role(session, DEMO_USER_EMAIL, DEMO_PROJECT_ID, "admin")
        keys = accounts.list_keys(session, DEMO_PROJECT_ID)
        if not any(row.name == DEMO_KEY_NAME and row.revoked_at is None for row in keys):
            _, key = auth.create_key(session, DEMO_PROJECT_ID, DEMO_KEY_SCOPES, name=DEMO_KEY_NAME, now=now)
        for row in keys:
            if row.name in (PRICING_KEY_NAME, LABELLING_KEY_NAME) and row.revoked_at is None:
                accounts.revoke_key(session, row.id, now)
        _, pricing_key = auth.create_key(
            session, DEMO_PROJECT_ID, REPLAY_KEY_SCOPES, name=PRICING_KEY_NAME, now=now
        )
        _, labelling_key = auth.create_key(
            session, DEMO_PROJECT_ID, REPLAY_KEY_SCOPES, name=LABELLING_KEY_NAME, now=now
        )
    training = story.training_houses()
    model = story.Model.fit(training)
    profile = _demo_profile(backend, training, model)
    applied = False
    if manifests.current_text(backend, DEMO_PROJECT_ID) is None:
        manifests.apply_manifest(
            backend, DEMO_PROJECT_ID, story.DEMO_MANIFEST.format(project_id=DEMO_PROJECT_ID)
        )
        applied = True
    return DemoStart(
        DEMO_PROJECT_ID,
        created,
        key,
        DEMO_USER_EMAIL,
        password,
        pricing_key,
        labelling_key,
        profile,
        model,
        applied,
    )


def _demo_profile(backend: Backend, training: pd.DataFrame, model: story.Model) -> ModelProfile:
    """The stored demo profile, or a new one built on ``training`` and stored."""
    from raymon import ModelProfile

    try:
        return ModelProfile.from_jcr(profiles.get_profile(backend, DEMO_PROJECT_ID, story.PROFILE_REF))
    except NotFoundError:
        pass
    profile = story.build_profile(training, model)
    profiles.create_profile(backend, DEMO_PROJECT_ID, profile.to_jcr())
    return profile


def demo_replay(backend: Backend, start: DemoStart, url: str) -> Replay:
    """The demo's traffic against the server at ``url``, at ``RAYMON_DEMO_SPEED`` (not started)."""
    from raymon.server.demo.replay import Replay

    return Replay(
        url,
        start.project_id,
        start.pricing_key,
        start.labelling_key,
        start.profile,
        start.model,
        speed=backend.settings.demo_speed,
    )


def reset_demo(backend: Backend) -> DemoReset:
    """Delete the demo project with everything of it, and the demo user unless it has a role elsewhere."""
    with backend.writing() as session:
        found = accounts.get_project(session, DEMO_PROJECT_ID) is not None
        deleted = project_deletion.delete_project(session, backend.object_store, DEMO_PROJECT_ID)
        user = accounts.user_by_email(session, DEMO_USER_EMAIL)
        user_deleted = False
        if user is not None and not accounts.roles_of_user(session, user.id):
            user_deleted = accounts.delete_user(session, user.id)
    manifests.forget(backend, DEMO_PROJECT_ID)  # this process's cache: gone now, not within its TTL
    return DemoReset(found, deleted, user_deleted)
