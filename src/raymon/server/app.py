"""The application factory: ``create_app(settings)`` wires settings, store, object store and routes.

Building the app does no I/O beyond creating the engine object; start-up work
(migrations, first-start initialisation) happens in ``prepare`` — called by
``raymon server`` before it listens, and by the lifespan otherwise — so a test
can build an app just to read its route table. No route logic lives here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from raymon.server.api import ROUTERS
from raymon.server.api.deps import resolve_api_key
from raymon.server.api.docs_pages import install_docs_pages
from raymon.server.api.errors import install_error_handlers
from raymon.server.api.openapi import install_openapi
from raymon.server.api.params import UnknownQueryParameters
from raymon.server.services.bootstrap import BootstrapReport, bootstrap
from raymon.server.services.errors import ServiceError
from raymon.server.services.ingest_gate import IngestGate
from raymon.server.settings import Settings
from raymon.server.store.db import Database
from raymon.server.store.objects import open_object_store

log = logging.getLogger("raymon.server")


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings if settings is not None else Settings.from_env()
    if database is None:
        database = Database(settings.effective_database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not app.state.prepared:
            prepare(app)
        yield
        database.dispose()

    app = FastAPI(
        title="Raymon",
        version=_version(),
        description="Observability for ML systems: ingest traces, tags and objects; query them.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by api.docs_pages, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.object_store = open_object_store(settings)
    app.state.ingest_gate = IngestGate(settings.ingest_max_inflight, settings.ingest_slot_wait_seconds)
    app.state.principal_resolvers = [resolve_api_key]
    app.state.ingest_listeners = []  # services.ingest.IngestListener: told of newly stored events
    app.state.prepared = False
    app.state.bootstrap_report = None

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness for load balancers and test fixtures: no auth, no database."""
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    install_docs_pages(app)
    install_openapi(app)
    app.add_middleware(UnknownQueryParameters, api=app)
    return app


def prepare(app: FastAPI) -> BootstrapReport:
    """Apply migrations and the first-start initialisation (idempotent); answer what was created."""
    database: Database = app.state.database
    database.migrate()
    report = bootstrap(database, app.state.settings)
    app.state.prepared = True
    app.state.bootstrap_report = report
    return report


def _version() -> str:
    from raymon import __version__

    return __version__
