"""The application factory: ``create_app(settings)`` mounts the routes on a ``Backend``.

The parts (database, object store, ingest gate, clock, ...) come from
``backend.build_backend``, so the CLI and the worker build the same ones;
``app.state`` holds the backend (``app.state.backend``) and nothing else.
Building the app does no I/O beyond creating the engine object; start-up work
(migrations, first-start initialisation) happens in ``prepare`` — called by
``raymon server`` before it listens, and by the lifespan otherwise — so a test
can build an app just to read its route table. No route logic lives here.

``background`` are the server process's own background parts (the demo's traffic replay): the
lifespan starts them after the in-process engine and stops them, newest first, before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from raymon.server.api import ROUTERS
from raymon.server.api.body_limit import RequestBodyLimits
from raymon.server.api.deps import resolve_api_key
from raymon.server.api.docs_pages import install_docs_pages
from raymon.server.api.errors import install_error_handlers
from raymon.server.api.openapi import install_openapi
from raymon.server.api.params import OriginalQueryNames, UnknownQueryParameters
from raymon.server.backend import Backend, build_backend
from raymon.server.services.bootstrap import BootstrapReport
from raymon.server.settings import Settings
from raymon.server.ui.pages import install_ui
from raymon.server.ui.security import CrossSiteRequests, SecurityHeaders

log = logging.getLogger("raymon.server")


class Background(Protocol):
    """A part that runs beside the server for as long as it serves (``start`` must not block)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(
    settings: Settings | None = None, backend: Backend | None = None, background: Sequence[Background] = ()
) -> FastAPI:
    """The web app over ``backend`` (default: one built from ``settings``, or from the environment)."""
    if backend is None:
        backend = build_backend(settings)
    if resolve_api_key not in backend.principal_resolvers:
        backend.principal_resolvers.insert(0, resolve_api_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not backend.prepared:
            backend.prepare()
        engine = None
        if backend.settings.engine_in_process:  # SQLite (RAYMON_ENGINE): the engine runs in this process
            from raymon.server.engine.runtime import build_worker, wake_on_objects

            engine = build_worker(backend, shutdown_grace_s=10.0).start()
            wake = wake_on_objects(engine)  # map jobs run as soon as their input is stored
            backend.ingest_listeners.append(wake)
        running: list[Background] = []
        try:
            for part in background:
                part.start()
                running.append(part)
            yield
        finally:
            for part in reversed(running):  # off the event loop: a part may wait for its last request
                await asyncio.to_thread(part.stop)
            if engine is not None:
                backend.ingest_listeners.remove(wake)
                engine.stop()
            backend.close()

    app = FastAPI(
        title="Raymon",
        version=_version(),
        description="Observability for ML systems: ingest traces, tags and objects; query them.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by api.docs_pages, not from a CDN
        redoc_url=None,
    )
    app.state.backend = backend

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness for load balancers and test fixtures: no auth, no database."""
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    install_docs_pages(app)
    install_ui(app)  # the web UI's pages; answers a ServiceError as JSON on the API, as a page elsewhere
    install_openapi(app)
    app.openapi()  # built now: a route the document cannot describe stops start-up, not every request
    app.add_middleware(UnknownQueryParameters, api=app)
    app.add_middleware(OriginalQueryNames, api=app)  # added after: runs before UnknownQueryParameters
    app.add_middleware(CrossSiteRequests)  # CSRF: a state-changing request from another site is refused
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        RequestBodyLimits,
        max_bytes=backend.settings.max_request_bytes,
        read_timeout=backend.settings.request_read_timeout_seconds,
    )
    return app


def worker_app() -> FastAPI:
    """The app of one of ``raymon server --workers N``'s processes (uvicorn calls it in each).

    Its settings come from the environment, which the parent process completed with its
    command-line flags before it started the workers. The parent applied the migrations and the
    first-start initialisation before it bound the port, so a worker never runs them: N workers
    starting at once must not race on the schema or on the first project's key.
    """
    backend = build_backend()
    backend.bootstrap_report = BootstrapReport()  # prepared by the parent (nothing created here)
    return create_app(backend=backend)


def prepare(app: FastAPI) -> BootstrapReport:
    """Apply migrations and the first-start initialisation (idempotent); answer what was created."""
    backend: Backend = app.state.backend
    return backend.prepare()


def _version() -> str:
    from raymon import __version__

    return __version__
