"""``Backend``: the one application object, built from ``Settings`` by ``build_backend``.

Everything the server's parts share lives here, typed: the settings, the
database, the object store, the plugins (one plugin manager per backend), the
ingest gate, the token endpoint's counts of failed requests, when API keys were
last used, the clock, and the extension lists (ingest listeners, principal resolvers). ``create_app``
puts the backend on ``app.state.backend`` and nothing else there; every CLI command, the demo
loader and the worker build their parts through ``build_backend`` too, so they
cannot drift from the web server. Services take the backend (or a session it
opens) instead of its parts one by one.

It never imports FastAPI, never parses HTTP and never runs SQL itself (the
store does; this only opens sessions on the database).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from raymon.server.plugins import Plugins
from raymon.server.services.access_tokens import FailedAttempts
from raymon.server.services.ingest_gate import IngestGate
from raymon.server.services.key_usage import KeyUsage
from raymon.server.services.login_attempts import LoginAttempts
from raymon.server.settings import Settings
from raymon.server.store.db import Database
from raymon.server.store.objects import ObjectStore, open_object_store

if TYPE_CHECKING:
    from raymon.server.engine.manifest import Manifest
    from raymon.server.services.auth import Principal
    from raymon.server.services.bootstrap import BootstrapReport
    from raymon.server.services.ingest import IngestListener
    from raymon.server.store.db import Session

# What "now" is: an aware UTC datetime. Tests and the engine pass their own to control time.
Clock = Callable[[], datetime]
# Finds the caller of a request (an API key, a UI session cookie...): ``(request, backend)`` ->
# the principal, ``None`` when the request carries no credential of that kind.
PrincipalResolver = Callable[[Any, "Backend"], "Principal | None"]


def utc_now() -> datetime:
    """The default clock: the current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(eq=False)
class Backend:
    """The server's parts, built once from ``settings`` (use ``build_backend``)."""

    settings: Settings
    database: Database
    object_store: ObjectStore
    plugins: Plugins
    ingest_gate: IngestGate
    # Failed ``POST /oauth/token`` requests per client address (services.access_tokens).
    token_failures: FailedAttempts
    # Failed sign-ins to the web UI per client address and per account (services.login_attempts).
    login_attempts: LoginAttempts
    clock: Clock = utc_now
    # When each API key was last used: at most one write per key a minute (services.key_usage).
    key_usage: KeyUsage = field(default_factory=KeyUsage)
    # Told of newly stored events after commit (services.ingest.IngestListener).
    ingest_listeners: list[IngestListener] = field(default_factory=list)
    # Tried in order for each request (api.deps.resolve_api_key first; the UI adds its cookie one).
    principal_resolvers: list[PrincipalResolver] = field(default_factory=list)
    bootstrap_report: BootstrapReport | None = None
    # The manifest in force for a project (``services.manifests.current``); None: no project has one.
    # The ingest path asks it per batch (map triggers) and the engine per job, so it must be cheap.
    current_manifest: Callable[[Backend, str], Manifest | None] | None = None

    @property
    def prepared(self) -> bool:
        """Whether ``prepare`` ran (migrations applied, first-start initialisation done)."""
        return self.bootstrap_report is not None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One read transaction (the services' convention: one ``with`` per service call)."""
        with self.database.session() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction, committed when the block ends (rolled back on an exception)."""
        with self.database.write_session() as session:
            yield session

    def prepare(self) -> BootstrapReport:
        """Apply migrations and the first-start initialisation (idempotent); answer what was created."""
        from raymon.server.services.bootstrap import bootstrap

        self.database.migrate()
        self.bootstrap_report = bootstrap(self)
        return self.bootstrap_report

    def close(self) -> None:
        """Write the queued key-use times, then release the database's connections."""
        self.key_usage.close(self)
        self.database.dispose()


def build_backend(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    plugins: Plugins | None = None,
) -> Backend:
    """The backend for ``settings`` (default: from the environment); no I/O beyond making the engine.

    Loading the plugins (``RAYMON_PLUGINS``) happens here, so a duplicate or broken plugin stops
    every command before it touches the database.
    """
    from raymon.server.services import manifests

    settings = settings if settings is not None else Settings.from_env()
    plugins = plugins if plugins is not None else Plugins.load(settings)
    if database is None:
        database = Database.from_settings(settings)
    return Backend(
        settings=settings,
        database=database,
        object_store=open_object_store(settings),
        plugins=plugins,
        ingest_gate=IngestGate.from_settings(settings),
        token_failures=FailedAttempts(settings.token_failures_per_minute),
        login_attempts=LoginAttempts(
            settings.login_failures_per_minute, settings.login_account_failures_per_hour
        ),
        clock=clock or utc_now,
        current_manifest=manifests.current,
    )
