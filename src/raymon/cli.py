"""The ``raymon`` command line: run the backend and manage projects, API keys and users.

Management commands act on the database directly, through the same settings
as the server (``RAYMON_DATA_DIR``, ``RAYMON_DATABASE_URL``, ...), so they work
before any key exists. This module imports only click at import time: the
server (FastAPI, SQLAlchemy) is imported when a server command runs, so the
client stays light and a missing ``server`` extra gives a clear message.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.settings import Settings

_SERVER_EXTRA_HINT = 'the Raymon server is not installed: pip install "raymon[server]"'


def _require_server() -> None:
    try:
        import alembic  # noqa: F401
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(f"{_SERVER_EXTRA_HINT} ({exc})") from None


def _settings(**overrides: Any) -> Settings:
    _require_server()
    from raymon.server.settings import Settings

    try:
        return Settings.from_env(**overrides)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _backend(data_dir: str | None) -> Iterator[Backend]:
    """The backend of the configured settings (database migrated first), service errors made readable."""
    settings = _settings(data_dir=data_dir)
    from raymon.server.backend import build_backend
    from raymon.server.services.errors import ServiceError

    backend = build_backend(settings)
    try:
        backend.database.migrate()
        yield backend
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        backend.close()


_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data directory (env RAYMON_DATA_DIR, default ./raymon-data).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="raymon")
def main() -> None:
    """Raymon: observability for ML systems. Run the backend and manage its projects, keys and users."""


# --- server ------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Interface to listen on (env RAYMON_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (env RAYMON_PORT, default 8000).")
@_data_dir_option
@click.option("--demo", is_flag=True, default=None, help="Load a demo project with house-price traces.")
@click.option("--log-level", default=None, help="uvicorn log level (env RAYMON_LOG_LEVEL, default info).")
def server(
    host: str | None, port: int | None, data_dir: str | None, demo: bool | None, log_level: str | None
) -> None:
    """Start the backend: ingest and query API (SQLite in the data dir unless RAYMON_DATABASE_URL is set)."""
    settings = _settings(host=host, port=port, data_dir=data_dir, demo=demo, log_level=log_level)
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from raymon.server.app import create_app
    from raymon.server.backend import build_backend
    from raymon.server.services.errors import ServiceError

    try:
        backend = build_backend(settings)
        app = create_app(backend=backend)
        click.echo(f"raymon: database {backend.database!r}, objects {backend.object_store!r}")
        report = backend.prepare()
    except (ServiceError, SQLAlchemyError, ValueError, RuntimeError) as exc:
        raise click.ClickException(f"cannot start: {exc}") from None
    for item in report.created:
        click.echo(f"raymon: created {item}")
    base = f"http://{settings.host}:{settings.port}"
    if report.new_key:
        click.echo(
            f"raymon: project {report.project_id!r} has a new admin API key (shown only now, keep it):\n\n"
            f"    {report.new_key}\n"
        )
    if settings.demo:
        from raymon.server.services.demo import load_demo

        demo_info = load_demo(backend, progress=True)
        click.echo(
            f"raymon: demo project {demo_info.project_id!r}: {demo_info.traces} traces "
            f"({demo_info.accepted} new events); API key (read, ingest):\n\n    {demo_info.key}\n"
        )
    click.echo(
        f"raymon: listening on {base}\n"
        f"raymon: authenticate with 'Authorization: Bearer <API key>', e.g.\n"
        f"    export RAYMON_URL={base} RAYMON_API_KEY=<key>\n"
        f'    curl -H "Authorization: Bearer $RAYMON_API_KEY" {base}/api/v1/projects'
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())


@main.command()
@_data_dir_option
def migrate(data_dir: str | None) -> None:
    """Apply database migrations and exit (the server also does this on start-up)."""
    with _backend(data_dir):
        pass
    click.echo("raymon: the database schema is up to date")


# --- projects ----------------------------------------------------------------------------------


@main.group()
def project() -> None:
    """Create and list projects."""


@project.command("create")
@click.argument("name")
@click.option("--id", "project_id", default=None, help="Project id (default: a slug of NAME).")
@click.option("--no-key", is_flag=True, help="Do not create an admin key for the project.")
@_data_dir_option
def project_create(name: str, project_id: str | None, no_key: bool, data_dir: str | None) -> None:
    """Create project NAME and print its id and a new admin API key."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        created, _, key = auth.new_project(backend, name, project_id, key_name=None if no_key else "cli")
    click.echo(f"project_id: {created.id}")
    if key:
        click.echo(f"admin key:  {key}  (shown only now)")


@project.command("ls")
@_data_dir_option
def project_ls(data_dir: str | None) -> None:
    """List all projects."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        for row in auth.projects(backend):
            click.echo(f"{row.id}\t{row.name}\t{row.created_at.isoformat()}")


# --- keys --------------------------------------------------------------------------------------


@main.group()
def key() -> None:
    """Create, list and revoke API keys."""


@key.command("create")
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


@key.command("ls")
@click.argument("project_id")
@_data_dir_option
def key_ls(project_id: str, data_dir: str | None) -> None:
    """List the keys of PROJECT_ID (ids and prefixes; the keys themselves are not stored)."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        for row in auth.keys(backend, project_id):
            state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.key_prefix}...\t{row.scopes}\t{state}\t{row.name}")


@key.command("revoke")
@click.argument("key_id")
@_data_dir_option
def key_revoke(key_id: str, data_dir: str | None) -> None:
    """Revoke the key KEY_ID (its id, the first column of `raymon key ls`)."""
    from raymon.server.services import auth

    with _backend(data_dir) as backend:
        row = auth.revoke_key(backend, key_id)
    click.echo(f"revoked key {row.id} ({row.key_prefix}...) of project {row.project_id}")


# --- users -------------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Create users and give them roles in projects."""


@user.command("create")
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


@user.command("role")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
