"""The ``raymon`` command line: run the backend and manage projects, API keys and users.

Management commands act on the database directly, through the same settings
as the server (``RAYMON_DATA_DIR``, ``RAYMON_DATABASE_URL``, ...), so they work
before any key exists; they refuse a data directory (or database) that holds
no Raymon database instead of creating an empty one. This module imports only
click at import time: the server (FastAPI, SQLAlchemy) is imported when a
server command runs, so the client stays light and a missing ``server`` extra
gives a clear message.

Every command fails the same way (``RaymonGroup``): a known error (a bad
setting, an unreachable database, a refused request, a missing extra, a
directory that cannot be written) is one line ``raymon: error: ...`` and exit
code 1; ``--debug`` (or ``RAYMON_DEBUG=1``) shows its traceback instead. An
unexpected exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from raymon.server.app import Background
    from raymon.server.backend import Backend
    from raymon.server.settings import Settings

_SERVER_EXTRA_HINT = 'the Raymon server is not installed: pip install "raymon[server]"'
# Top-level modules of the server extra: an ImportError naming one means the extra is missing.
_SERVER_MODULES = ("alembic", "fastapi", "sqlalchemy", "starlette", "uvicorn", "psycopg", "pydantic", "tqdm")
_SETTINGS_KEY = "raymon.settings"


class RaymonError(click.ClickException):
    """A known failure, shown as one line ``raymon: error: <message>`` (exit code 1)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"raymon: error: {self.format_message()}", err=True, file=file)


def _shown_url(url: str) -> str:
    """A database URL with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # a SQLAlchemy DBAPIError: the driver's own message
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _database_setting(ctx: click.Context) -> str:
    settings: Settings | None = ctx.meta.get(_SETTINGS_KEY)
    if settings is None:
        return "the database"
    if settings.database_url:
        return f"the database {_shown_url(settings.database_url)} (RAYMON_DATABASE_URL)"
    return f"the database {settings.sqlite_path} (RAYMON_DATA_DIR / --data-dir)"


def explain(exc: BaseException, ctx: click.Context) -> str | None:
    """The one-line message of a known error; ``None`` for an unexpected one (a bug)."""
    modules = sys.modules
    settings = modules.get("raymon.server.settings")
    errors = modules.get("raymon.server.services.errors")
    plugins = modules.get("raymon.server.plugins")
    sa_exc = modules.get("sqlalchemy.exc")
    if settings is not None and isinstance(exc, settings.SettingsError):
        return str(exc)
    if errors is not None and isinstance(exc, errors.ServiceError):
        return str(exc)
    if plugins is not None and isinstance(exc, plugins.PluginError):
        return str(exc)
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return f"cannot use {_database_setting(ctx)}: {_first_line(exc)}"
    if sa_exc is not None and isinstance(exc, sa_exc.ArgumentError):
        return f"{_database_setting(ctx)}: {_first_line(exc)}"
    if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] in _SERVER_MODULES:
        return f"{_SERVER_EXTRA_HINT} ({exc})"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


class _OrderedGroup(click.Group):
    """A group whose help lists its commands in the order they are defined (a workflow's order)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class RaymonGroup(_OrderedGroup):
    """The top-level group: every command's known errors become one line (see the module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            message = explain(exc, ctx)
            if message is None or ctx.find_root().params.get("debug"):
                raise
            raise RaymonError(message) from None


def _require_server() -> None:
    try:
        import alembic  # noqa: F401
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise RaymonError(f"{_SERVER_EXTRA_HINT} ({exc})") from None


def _settings(**overrides: Any) -> Settings:
    """The settings (env vars, then these flags), checked; kept on the context for error messages."""
    _require_server()
    from raymon.server.settings import Settings

    settings = Settings.from_env(**overrides)
    click.get_current_context().meta[_SETTINGS_KEY] = settings
    return settings


def _require_database(settings: Settings, backend: Backend | None = None) -> None:
    """Refuse a data directory or database without Raymon's schema (a mistyped path, a wrong URL)."""
    hint = "start `raymon server` there once, or run `raymon migrate --create`"
    path = settings.sqlite_path
    if backend is None:
        if path is not None and not path.is_file():
            raise RaymonError(f"no Raymon database at {path} (RAYMON_DATA_DIR / --data-dir): {hint}")
        return
    if not backend.database.has_schema():
        raise RaymonError(
            f"{_database_setting(click.get_current_context())} holds no Raymon database: {hint}"
        )


@contextmanager
def _backend(data_dir: str | None, *, create: bool = False) -> Iterator[Backend]:
    """The backend of the configured settings, its database migrated (it must exist unless ``create``)."""
    settings = _settings(data_dir=data_dir)
    if create:
        settings.check_directories()
    else:
        _require_database(settings)
    from raymon.server.backend import build_backend

    backend = build_backend(settings)
    try:
        if not create:
            _require_database(settings, backend)
        backend.database.migrate()
        yield backend
    finally:
        backend.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to and listening on ``host:port`` (before anything is created), or one clean error."""
    where = f"cannot listen on {host}:{port} (RAYMON_HOST / --host, RAYMON_PORT / --port)"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise RaymonError(f"{where}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise RaymonError(f"{where}: {exc.strerror or exc}") from None
    return sock


def _example(*lines: str) -> str:
    """An ``Examples:`` block for a command's help (kept as written by click)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data directory (env RAYMON_DATA_DIR, default ./raymon-data).",
)


@click.group(
    cls=RaymonGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_example(
        "raymon server --demo", 'raymon project create "House prices"', "raymon key ls house-prices"
    ),
)
@click.version_option(package_name="raymon")
@click.option(
    "--debug",
    is_flag=True,
    envvar="RAYMON_DEBUG",
    help="Show the traceback of an error instead of one line (env RAYMON_DEBUG).",
)
def main(debug: bool) -> None:
    """Raymon: observability for ML systems. Run the backend and manage its projects, keys and users.

    Every command reads the same settings as the server (RAYMON_* env vars, see docs/server.md).
    """


# --- server ------------------------------------------------------------------------------------


@main.command(
    short_help="Start the backend (ingest and query API).",
    epilog=_example("raymon server", "raymon server --demo --port 8080", "raymon server --host 0.0.0.0"),
)
@click.option("--host", default=None, help="Interface to listen on (env RAYMON_HOST, default 127.0.0.1).")
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port to listen on, 1 to 65535 (env RAYMON_PORT, default 8000).",
)
@_data_dir_option
@click.option(
    "--demo",
    is_flag=True,
    default=None,
    help="Run the live demo project 'demo': house-price traffic, drift and issues (env RAYMON_DEMO).",
)
@click.option(
    "--log-level",
    default=None,
    help="uvicorn log level: critical, error, warning, info, debug or trace (env RAYMON_LOG_LEVEL, default info).",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Server processes sharing the port, 1 to 64; above 1 needs PostgreSQL (env RAYMON_WORKERS, default 1).",
)
def server(
    host: str | None,
    port: int | None,
    data_dir: str | None,
    demo: bool | None,
    log_level: str | None,
    workers: int | None,
) -> None:
    """Start the backend: ingest and query API (SQLite in the data dir unless RAYMON_DATABASE_URL is set).

    Start-up checks the settings and binds the port before it creates anything (database,
    first project and key, demo), and prints where it listens only then.
    """
    settings = _settings(
        host=host, port=port, data_dir=data_dir, demo=demo, log_level=log_level, workers=workers
    )
    settings.check_directories()
    sock = _listening_socket(settings.host, settings.port)
    try:
        _serve(settings, sock)
    finally:
        sock.close()


def _serve(settings: Settings, sock: socket.socket) -> None:
    import uvicorn

    from raymon.server.app import create_app
    from raymon.server.backend import build_backend

    backend = build_backend(settings)
    click.echo(f"raymon: database {backend.database!r}, objects {backend.object_store!r}")
    report = backend.prepare()
    for item in report.created:
        click.echo(f"raymon: created {item}")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{host}:{settings.port}"
    if report.new_key:
        click.echo(
            f"raymon: project {report.project_id!r} has a new admin API key (shown only now, keep it):\n\n"
            f"    {report.new_key}\n"
        )
    background: list[Background] = []
    if settings.demo:
        background.append(_start_demo(backend, settings))
    click.echo(
        f"raymon: listening on {base}\n"
        f"raymon: authenticate with 'Authorization: Bearer <API key>', e.g.\n"
        f"    export RAYMON_URL={base} RAYMON_API_KEY=<key>\n"
        f'    curl -H "Authorization: Bearer $RAYMON_API_KEY" {base}/api/v1/projects'
    )
    if settings.demo:
        from raymon.server.services.demo import DEMO_USER_EMAIL

        click.echo(f"raymon: demo: open {base}/ and log in as {DEMO_USER_EMAIL}")
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,  # X-Forwarded-For/-Proto of a trusted proxy: client address, https (Secure cookie)
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,  # None: uvicorn's default (127.0.0.1)
    }
    if settings.workers > 1:
        _serve_workers(settings, backend, sock, options)
        return
    app = create_app(backend=backend, background=background)
    sys.stdout.flush()  # what start-up printed (keys, the demo login) is there before the first request
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])


def _serve_workers(
    settings: Settings, backend: Backend, sock: socket.socket, options: dict[str, Any]
) -> None:
    """Serve from ``settings.workers`` processes on ``sock``; this process only supervises them."""
    from raymon.server.workers import serve_workers

    backend.close()  # this process serves nothing: the workers open their own connections
    click.echo(f"raymon: {settings.workers} server processes share the port")
    sys.stdout.flush()
    serve_workers(settings, sock, options)


def _own_url(settings: Settings) -> str:
    """The address the server's own background parts reach it at (a wildcard host means loopback)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(settings.host, settings.host)
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def _start_demo(backend: Backend, settings: Settings) -> Background:
    """Set the demo project up, say what it is and how to log in; answer its traffic replay (not started)."""
    import time

    from raymon.server.demo import story
    from raymon.server.services.demo import DEMO_KEY_SCOPES, demo_replay, start_demo

    began = time.perf_counter()
    demo = start_demo(backend)
    replay = demo_replay(backend, demo, _own_url(settings))
    live = replay.story
    click.echo(
        f"raymon: demo project {demo.project_id!r} ({'created' if demo.created else 'kept'}, ready in "
        f"{time.perf_counter() - began:.1f} s): the original Raymon's house-prices walkthrough, live. "
        f"Profile {story.PROFILE_REF} (built on {story.TRAINING_SHARE:.0%} of the cheap houses), a "
        f"profile_eval mapper, a {story.DEMO_INTERVAL_S} s profile reducer, slices by client and app."
    )
    click.echo(
        f"raymon: demo traffic from {', '.join(live.clients)} ({live.per_client_per_s:g} per second each"
        + (f", {settings.demo_speed:g}x faster (RAYMON_DEMO_SPEED)" if settings.demo_speed != 1 else "")
        + f"): {story.EXPENSIVE_CLIENT} sends the expensive houses; {story.BROKEN_CLIENT}'s app update v2 "
        f"ships after {live.update_at:g} s and zeroes two features; the labelling service logs each actual "
        f"{live.actual_delay_s:g} s after its prediction; the story restarts every {live.cycle_s / 60:g} min."
    )
    if not settings.engine_in_process:
        click.echo(
            "raymon: demo: this server runs no engine (RAYMON_ENGINE): start `raymon worker` on the same "
            "database for the demo's results and issues"
        )
    if demo.password:
        click.echo(
            f"raymon: demo login for the web UI (shown only now):\n\n    {demo.user_email}  {demo.password}\n"
        )
    else:
        click.echo(
            f"raymon: the demo login {demo.user_email} was printed at the first start with --demo "
            "(raymon demo reset, then --demo again, makes a new one)"
        )
    if demo.key:
        click.echo(f"raymon: demo API key ({DEMO_KEY_SCOPES}; shown only now):\n\n    {demo.key}\n")
    else:
        click.echo(
            f"raymon: the demo API key ({DEMO_KEY_SCOPES}) was printed at the first start with --demo; "
            f"another: raymon key create {demo.project_id} --scopes {DEMO_KEY_SCOPES}"
        )
    click.echo(
        f"raymon: an admin key of the demo project: raymon key create {demo.project_id} --scopes admin\n"
        "raymon: remove the demo (its project, data, keys and user): raymon demo reset"
    )
    return replay


@main.command(
    short_help="Run the engine's jobs (mappers, reducers, alerts, cleanups).",
    epilog=_example(
        "RAYMON_DATABASE_URL=postgresql+psycopg://raymon@db/raymon raymon worker",
        "raymon worker --concurrency 8 --poll-interval 0.5",
        "raymon worker --once",
        "raymon worker --nice 10",
    ),
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Jobs run at once, one thread each (env RAYMON_WORKER_CONCURRENCY, default 2).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between looks for due jobs when idle (env RAYMON_WORKER_POLL_SECONDS, default 1).",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="On SIGTERM/SIGINT, seconds running jobs get to finish before they are released to other workers.",
)
@click.option(
    "--nice",
    "niceness",
    type=click.IntRange(min=0, max=19),
    default=0,
    show_default=True,
    envvar="RAYMON_WORKER_NICE",
    help="Lower the worker's CPU priority by this much (Unix nice; env RAYMON_WORKER_NICE) so that, "
    "on a machine it shares with `raymon server`, requests get the CPU first and the engine the rest.",
)
@click.option("--once", is_flag=True, help="Run the jobs due now one after another, then exit.")
@_data_dir_option
def worker(
    concurrency: int | None,
    poll_interval: float | None,
    grace: float,
    niceness: int,
    once: bool,
    data_dir: str | None,
) -> None:
    """Run the engine: claim due jobs from the database and run them, until SIGTERM or SIGINT.

    Start any number of workers (and servers) on one PostgreSQL: jobs are claimed with leases,
    so none runs twice at once, and a killed worker's jobs are taken over when their leases
    expire. With SQLite, `raymon server` runs the engine itself (RAYMON_ENGINE=auto); a worker
    is not needed. On the first SIGTERM/SIGINT the worker stops claiming, lets running jobs
    finish for --grace seconds and gives the rest back; a second signal stops it at once.
    See docs/engine.md, "Workers".
    """
    import logging
    import signal

    from raymon.server.engine.runtime import build_worker

    if niceness:
        if not hasattr(os, "nice"):
            raise click.UsageError("--nice needs a Unix system (os.nice)")
        os.nice(niceness)
    with _backend(data_dir) as backend:
        level = backend.settings.log_level.upper()
        logging.basicConfig(
            level=getattr(logging, level, logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        engine = build_worker(
            backend, concurrency=concurrency, poll_interval_s=poll_interval, shutdown_grace_s=grace
        )
        if once:
            ran = engine.run_due()
            click.echo(f"raymon worker: ran {ran} job(s)")
            return
        signals = {"seen": 0}

        def _on_signal(signum: int, _frame: Any) -> None:
            signals["seen"] += 1
            if signals["seen"] > 1:
                engine.shutdown_grace_s = 0.0
            engine.request_stop()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        click.echo(
            f"raymon worker {engine.worker_id}: database {backend.database!r}, {engine.concurrency} thread(s), "
            f"kinds {', '.join(sorted(engine.kinds))}",
        )
        engine.run()
        click.echo(f"raymon worker {engine.worker_id}: stopped ({engine.stats.done} job(s) done)")


@main.command(
    short_help="Apply database migrations and exit.",
    epilog=_example("raymon migrate", "raymon migrate --create --data-dir /var/lib/raymon"),
)
@click.option("--create", is_flag=True, help="Create the database if there is none yet.")
@_data_dir_option
def migrate(create: bool, data_dir: str | None) -> None:
    """Apply database migrations and exit (the server also does this on start-up).

    Without --create, a data directory or database that holds no Raymon database is refused.
    """
    with _backend(data_dir, create=create):
        pass
    click.echo("raymon: the database schema is up to date")


# --- projects ----------------------------------------------------------------------------------


@main.group(cls=_OrderedGroup, short_help="Create and list projects.", epilog=_example("raymon project ls"))
def project() -> None:
    """Create and list projects."""


@project.command(
    "create",
    short_help="Create a project and print its id and an admin key.",
    epilog=_example('raymon project create "House prices"', 'raymon project create "House prices" --id hp'),
)
@click.argument("name")
@click.option("--id", "project_id", default=None, help="Project id (default: a slug of NAME).")
@click.option("--no-key", is_flag=True, help="Do not create an admin key for the project.")
@_data_dir_option
def project_create(name: str, project_id: str | None, no_key: bool, data_dir: str | None) -> None:
    """Create project NAME and print its id and a new admin API key.

    The id is a slug of NAME ("House prices" -> house-prices) unless --id gives one; an id
    or (without --id) a name that exists already is refused.
    """
    from raymon.server.services import auth
    from raymon.server.services.errors import ConflictError

    with _backend(data_dir) as backend:
        try:
            created, _, key = auth.new_project(backend, name, project_id, key_name=None if no_key else "cli")
        except ConflictError as exc:
            raise RaymonError(f"{exc} (choose an id with --id)") from None
    click.echo(f"project_id: {created.id}")
    if key:
        click.echo(f"admin key:  {key}  (shown only now)")


@project.command("ls", short_help="List all projects.", epilog=_example("raymon project ls"))
@_data_dir_option
def project_ls(data_dir: str | None) -> None:
    """List all projects: id, name and creation time, tab-separated."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        for row in auth.projects(backend):
            click.echo(f"{row.id}\t{row.name}\t{row.created_at.isoformat()}")


# --- keys --------------------------------------------------------------------------------------


@main.group(
    cls=_OrderedGroup, short_help="Create, list and revoke API keys.", epilog=_example("raymon key ls demo")
)
def key() -> None:
    """Create, list and revoke API keys."""


@key.command(
    "create",
    short_help="Create an API key of a project and print it.",
    epilog=_example(
        "raymon key create demo --scopes admin", "raymon key create shop --scopes ingest --name shipper"
    ),
)
@click.argument("project_id")
@click.option(
    "--scopes", default="ingest,read", show_default=True, help="Comma-separated: ingest, read, admin."
)
@click.option("--name", default="", help="A note saying what the key is for.")
@_data_dir_option
def key_create(project_id: str, scopes: str, name: str, data_dir: str | None) -> None:
    """Create an API key for PROJECT_ID and print it (it is stored hashed: shown only now)."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        row, secret = auth.add_key(backend, project_id, scopes, name=name)
    click.echo(f"key_id: {row.id}\nscopes: {row.scopes}\nkey:    {secret}  (shown only now)")


@key.command("ls", short_help="List the keys of a project.", epilog=_example("raymon key ls demo"))
@click.argument("project_id")
@_data_dir_option
def key_ls(project_id: str, data_dir: str | None) -> None:
    """List the keys of PROJECT_ID (ids and prefixes; the keys themselves are not stored)."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        for row in auth.keys(backend, project_id):
            state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.key_prefix}...\t{row.scopes}\t{state}\t{row.name}")


@key.command(
    "revoke",
    short_help="Revoke an API key.",
    epilog=_example("raymon key revoke 3f2c9a...  # a key id from `raymon key ls`"),
)
@click.argument("key_id")
@_data_dir_option
def key_revoke(key_id: str, data_dir: str | None) -> None:
    """Revoke the key KEY_ID (its id, the first column of `raymon key ls`)."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        row = auth.revoke_key(backend, key_id)
    click.echo(f"revoked key {row.id} ({row.key_prefix}...) of project {row.project_id}")


# --- users -------------------------------------------------------------------------------------


@main.group(
    cls=_OrderedGroup,
    short_help="Create users and give them roles in projects.",
    epilog=_example("raymon user role ana@example.com demo viewer"),
)
def user() -> None:
    """Create users and give them roles in projects."""


@user.command(
    "create",
    short_help="Create a user (with a role in a project).",
    epilog=_example(
        "RAYMON_USER_PASSWORD=... raymon user create ana@example.com --project demo --role admin"
    ),
)
@click.argument("email")
@click.option("--project", "project_id", default=None, help="Give the user a role in this project.")
@click.option("--role", default="viewer", show_default=True, type=click.Choice(["admin", "viewer"]))
@click.password_option(
    envvar="RAYMON_USER_PASSWORD", help="Password (prompted; or env RAYMON_USER_PASSWORD)."
)
@_data_dir_option
def user_create(email: str, project_id: str | None, role: str, password: str, data_dir: str | None) -> None:
    """Create the user EMAIL (with a role in --project if given), without an invitation.

    An operator's act: it runs on the server's machine with the database's credentials. Through
    the API a project admin can only invite (POST /api/v1/projects/{p}/users).
    """
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        auth.new_user(backend, email, password, project_id, role)
    click.echo(f"created user {email}" + (f" ({role} of {project_id})" if project_id else ""))


@user.command(
    "role",
    short_help="Set a user's role in a project.",
    epilog=_example("raymon user role ana@example.com demo viewer"),
)
@click.argument("email")
@click.argument("project_id")
@click.argument("role", type=click.Choice(["admin", "viewer"]))
@_data_dir_option
def user_role(email: str, project_id: str, role: str, data_dir: str | None) -> None:
    """Set the ROLE of user EMAIL in PROJECT_ID."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        auth.role_set(backend, email, project_id, role)
    click.echo(f"{email} is {role} of {project_id}")


# --- manifests ---------------------------------------------------------------------------------


@main.group(
    cls=_OrderedGroup,
    short_help="Apply, show and list a project's manifest.",
    epilog=_example("raymon manifest apply manifest.yaml --project demo"),
)
def manifest() -> None:
    """Apply, show and list a project's manifest (docs/manifest.md)."""


_project_option = click.option("--project", "project_id", required=True, help="The project's id.")


@manifest.command(
    "apply",
    short_help="Apply a manifest file to a project.",
    epilog=_example("raymon manifest apply manifest.yaml --project demo"),
)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_project_option
@_data_dir_option
def manifest_apply(file: str, project_id: str, data_dir: str | None) -> None:
    """Apply the manifest FILE ("-": standard input) as the project's next version.

    A bad manifest is refused whole: every error is printed as FILE:LINE:COLUMN: message and
    the exit code is 1; the previous manifest stays in force.
    """
    from raymon.server.services import manifests

    with click.open_file(file, encoding="utf-8") as handle:
        text = handle.read()
    with _backend(data_dir) as backend:
        try:
            applied = manifests.apply_manifest(backend, project_id, text)
        except manifests.ManifestRefused as refused:
            for error in refused.errors:
                click.echo(f"{file}:{error.line}:{error.column}: {error.message}", err=True)
            click.echo(f"raymon: error: {file}: {len(refused.errors)} error(s), nothing applied", err=True)
            click.get_current_context().exit(1)
    state = "applied" if applied.changed else "unchanged (the same text as the current version)"
    click.echo(f"{file}: {state}: project {project_id} manifest version {applied.version}")


@manifest.command(
    "show",
    short_help="Print a project's manifest (secrets redacted).",
    epilog=_example("raymon manifest show --project demo", "raymon manifest show --project demo --version 2"),
)
@_project_option
@click.option("--version", type=click.IntRange(min=1), default=None, help="An earlier version.")
@_data_dir_option
def manifest_show(project_id: str, version: int | None, data_dir: str | None) -> None:
    """Print the YAML text of the project's manifest in force (or --version N), secrets as "<redacted>"."""
    from raymon.server.services import manifests

    with _backend(data_dir) as backend:
        shown = manifests.shown(backend, project_id, version)
    click.echo(shown["config"], nl=not shown["config"].endswith("\n"))


@manifest.command(
    "history",
    short_help="List the applied versions of a project's manifest.",
    epilog=_example("raymon manifest history --project demo"),
)
@_project_option
@_data_dir_option
def manifest_history(project_id: str, data_dir: str | None) -> None:
    """List every applied version, newest first: version and time applied, tab-separated."""
    from raymon.server.services import manifests

    with _backend(data_dir) as backend:
        listed = manifests.history(backend, project_id)
    for item in listed["versions"]:
        click.echo(f"{item['version']}\t{item['applied_at']}")


# --- the demo ------------------------------------------------------------------------------------


@main.group(
    cls=_OrderedGroup,
    short_help="Remove the demo project of raymon server --demo.",
    epilog=_example("raymon demo reset", "raymon demo reset --data-dir /srv/raymon-data"),
)
def demo() -> None:
    """The demo project of `raymon server --demo` (project 'demo', user demo@raymon.local)."""


@demo.command(
    "reset",
    short_help="Delete the demo project, its data, keys and user.",
    epilog=_example("raymon demo reset", "raymon demo reset && raymon server --demo"),
)
@_data_dir_option
def demo_reset(data_dir: str | None) -> None:
    """Delete the demo project 'demo' with all its data, and the demo user; nothing of other projects.

    Goes: the demo's traces, tags, texts and objects, reduce results, issues, manifests,
    profiles, jobs, API keys and memberships, then the project itself, and the user
    demo@raymon.local unless another project gave it a role. Stop the server first (a running
    `raymon server --demo` would keep sending traffic to a project that is gone); the next
    `raymon server --demo` starts the demo afresh, with a new login and key.
    """
    from raymon.server.services.demo import DEMO_PROJECT_ID, DEMO_USER_EMAIL, reset_demo

    with _backend(data_dir) as backend:
        reset = reset_demo(backend)
    if not reset.found:
        click.echo(f"no demo project {DEMO_PROJECT_ID!r} here: nothing of it to delete")
    else:
        rows = ", ".join(f"{n} {table}" for table, n in reset.deleted.items() if n and table != "projects")
        click.echo(f"deleted the demo project {DEMO_PROJECT_ID!r}" + (f": {rows}" if rows else ""))
    if reset.user_deleted:
        click.echo(f"deleted the demo user {DEMO_USER_EMAIL}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
