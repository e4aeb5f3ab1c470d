"""``raymon server --workers N``: N server processes on one listening socket, under uvicorn's supervisor.

Why: one server process runs its Python (decoding, checking, building rows) on one core at a
time, whatever the machine has; with PostgreSQL, which takes writers in parallel, N processes
use N cores (docs/server.md, "Several server processes"). uvicorn's ``Multiprocess`` supervisor
already spawns the workers, pings them, starts a new one when one dies and stops them all on a
signal, so this module only hands it the app and the settings.

Each worker builds its own backend from the environment (``app.worker_app``): the settings the
parent resolved (its command-line flags over the environment) go into the environment first.
This module must never migrate or initialise anything: the parent has done it before it bound
the socket.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from raymon.server.settings import Settings


def serve_workers(settings: Settings, sock: socket.socket, options: dict[str, Any]) -> None:
    """Serve ``settings.workers`` processes on ``sock`` with uvicorn ``options``; returns when they are stopped."""
    from uvicorn import Config
    from uvicorn.supervisors import Multiprocess

    os.environ.update(
        RAYMON_HOST=settings.host,
        RAYMON_PORT=str(settings.port),
        RAYMON_DATA_DIR=str(settings.data_dir),
        RAYMON_LOG_LEVEL=settings.log_level,
        RAYMON_WORKERS=str(settings.workers),
    )
    config = Config("raymon.server.app:worker_app", factory=True, workers=settings.workers, **options)
    Multiprocess(config, sockets=[sock]).run()
