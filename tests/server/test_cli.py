"""The ``raymon`` command line: help, management commands on the database, the missing-extra message."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import click
import httpx
import pytest

KEY_RE = re.compile(r"rmn_[A-Za-z0-9_-]{20,}")


def raymon(
    *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RAYMON_")}
    if data_dir is not None:
        environment["RAYMON_DATA_DIR"] = str(data_dir)
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "raymon.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in group.commands.items():
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
    return paths


def test_help_lists_every_command_with_one_whole_line_each() -> None:
    out = raymon("--help").stdout
    for command in ("server", "project", "key", "user", "migrate"):
        line = re.search(rf"^\s+{command}\s+(.*)$", out, re.M)
        assert line and line.group(1).endswith(".") and "..." not in line.group(1), out
    assert "--demo" in raymon("server", "--help").stdout
    key_help = raymon("key", "--help").stdout
    assert all(sub in key_help for sub in ("create", "ls", "revoke"))


def test_every_command_s_help_has_an_example() -> None:
    from raymon.cli import main

    paths = _command_paths(main)
    assert ("key", "create") in paths and ("server",) in paths
    for path in [(), *paths]:
        out = raymon(*path, "--help").stdout
        examples = out.split("Examples:")[-1]
        assert "Examples:" in out and re.search(rf"^\s+(\w+=\S+ )?raymon {' '.join(path)}", examples, re.M), (
            path,
            out,
        )


def test_projects_keys_and_users_are_managed_from_the_cli(tmp_path: Path) -> None:
    raymon("migrate", "--create", data_dir=tmp_path)
    created = raymon("project", "create", "Shop", "--id", "shop", data_dir=tmp_path).stdout
    assert "project_id: shop" in created and KEY_RE.search(created)
    assert "shop\tShop" in raymon("project", "ls", data_dir=tmp_path).stdout

    out = raymon(
        "key", "create", "shop", "--scopes", "ingest,read", "--name", "svc", data_dir=tmp_path
    ).stdout
    key_id = re.search(r"key_id: (\w+)", out).group(1)  # type: ignore[union-attr]
    assert "scopes: ingest,read" in out
    listing = raymon("key", "ls", "shop", data_dir=tmp_path).stdout
    assert key_id in listing and "active" in listing
    assert "revoked key" in raymon("key", "revoke", key_id, data_dir=tmp_path).stdout
    assert "revoked" in raymon("key", "ls", "shop", data_dir=tmp_path).stdout

    out = raymon(
        "user",
        "create",
        "ops@example.com",
        "--project",
        "shop",
        "--role",
        "admin",
        data_dir=tmp_path,
        env={"RAYMON_USER_PASSWORD": "a good password"},
    ).stdout
    assert "created user ops@example.com (admin of shop)" in out
    assert "viewer" in raymon("user", "role", "ops@example.com", "shop", "viewer", data_dir=tmp_path).stdout


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed (exit code 1, nothing on stdout, no traceback)."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("raymon: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0]


def test_cli_errors_name_the_problem(tmp_path: Path) -> None:
    raymon("migrate", "--create", data_dir=tmp_path)
    result = raymon("key", "create", "no-such-project", data_dir=tmp_path, check=False)
    assert "no project 'no-such-project'" in one_error_line(result)
    result = raymon("key", "create", "x", "--scopes", "root", data_dir=tmp_path, check=False)
    assert result.returncode == 1
    result = raymon("server", data_dir=tmp_path, env={"RAYMON_PORT": "eighty"}, check=False)
    assert "RAYMON_PORT must be an integer, got 'eighty'" in one_error_line(result)


def _nothing_created(data_dir: Path) -> bool:
    return not data_dir.exists() or list(data_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "99999"], {}, "RAYMON_PORT (--port) must be a port from 1 to 65535, got 99999"),
        ([], {"RAYMON_PORT": "70000"}, "RAYMON_PORT (--port) must be a port from 1 to 65535, got 70000"),
        (["--log-level", "loud"], {}, "RAYMON_LOG_LEVEL (--log-level) must be one of critical, error"),
        ([], {"RAYMON_DATABASE_URL": "garbage"}, "RAYMON_DATABASE_URL is not a database URL: 'garbage'"),
        (["--host", "256.1.1.1"], {}, "cannot listen on 256.1.1.1:8000"),
    ],
)
def test_a_bad_start_is_one_line_naming_the_setting_and_creates_nothing(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    data_dir = tmp_path / "data"
    result = raymon("server", *args, data_dir=data_dir, env=env, check=False)
    assert message in one_error_line(result)
    assert _nothing_created(data_dir)


def test_an_impossible_data_dir_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = raymon("server", data_dir=tmp_path / "file" / "data", check=False)
    assert "RAYMON_DATA_DIR (--data-dir)" in one_error_line(result) and "not a directory" in result.stderr
    result = raymon("server", data_dir=Path("/proc/raymon-data"), check=False)
    assert "/proc/raymon-data cannot be created" in one_error_line(result)


def test_a_busy_port_is_refused_before_the_database_project_or_key_exist(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = raymon("server", "--port", str(port), data_dir=data_dir, check=False)
    line = one_error_line(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "in use" in line
    assert "listening" not in result.stdout and not KEY_RE.search(result.stdout + result.stderr)
    assert _nothing_created(data_dir)


def test_management_commands_refuse_a_data_dir_without_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "raymon-dta"
    for args in (["project", "ls"], ["key", "ls", "default"], ["migrate"], ["project", "create", "X"]):
        line = one_error_line(raymon(*args, data_dir=typo, check=False))
        assert f"no Raymon database at {typo / 'raymon.sqlite3'}" in line and "migrate --create" in line
    assert not typo.exists()
    assert "up to date" in raymon("migrate", "--create", data_dir=typo).stdout
    assert raymon("project", "ls", data_dir=typo).stdout == ""


def test_a_database_without_raymon_s_schema_is_refused_until_migrate_creates_it(  # type: ignore[no-untyped-def]
    backend, postgres_databases, tmp_path: Path
) -> None:
    database_url = postgres_databases.create() if backend == "postgresql" else ""
    env = {"RAYMON_DATABASE_URL": database_url} if database_url else {}
    if not database_url:
        (tmp_path / "raymon.sqlite3").write_bytes(b"")  # an empty file is no Raymon database either
    try:
        line = one_error_line(raymon("project", "ls", data_dir=tmp_path, env=env, check=False))
        assert "holds no Raymon database" in line and "migrate --create" in line
        assert "no Raymon database" in one_error_line(
            raymon("migrate", data_dir=tmp_path, env=env, check=False)
        )
        raymon("migrate", "--create", data_dir=tmp_path, env=env)
        raymon("project", "create", "Shop", data_dir=tmp_path, env=env)
        assert raymon("project", "ls", data_dir=tmp_path, env=env).stdout.startswith("shop\tShop")
    finally:
        if database_url:
            postgres_databases.drop(database_url)


def test_an_unreachable_database_is_one_line_for_every_command_and_a_traceback_with_debug(
    tmp_path: Path,
) -> None:
    env = {"RAYMON_DATABASE_URL": "postgresql+psycopg://ops:hunter2secret@127.0.0.1:1/raymon"}
    for args in (["project", "ls"], ["key", "ls", "p"], ["migrate"], ["user", "role", "a@b.c", "p", "admin"]):
        line = one_error_line(raymon(*args, data_dir=tmp_path, env=env, check=False))
        assert (
            "cannot use the database postgresql+psycopg://ops:***@127.0.0.1:1/raymon (RAYMON_DATABASE_URL)"
            in line
        )
        assert "refused" in line and "hunter2secret" not in line
    debug = raymon("--debug", "project", "ls", data_dir=tmp_path, env=env, check=False)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "OperationalError" in debug.stderr
    debug = raymon("project", "ls", data_dir=tmp_path, env={**env, "RAYMON_DEBUG": "1"}, check=False)
    assert "Traceback" in debug.stderr


def test_a_project_s_id_is_the_slug_of_its_name_and_a_second_one_is_refused(tmp_path: Path) -> None:
    raymon("migrate", "--create", data_dir=tmp_path)
    assert (
        "project_id: house-prices\n" in raymon("project", "create", "House prices", data_dir=tmp_path).stdout
    )
    again = one_error_line(raymon("project", "create", "house PRICES", data_dir=tmp_path, check=False))
    assert "a project named 'House prices' exists already: 'house-prices'" in again and "--id" in again
    raymon("project", "create", "Shop", "--id", "s1", data_dir=tmp_path)
    assert "'s1'" in one_error_line(raymon("project", "create", "Shop", data_dir=tmp_path, check=False))
    raymon("project", "create", "Other", "--id", "cafe", data_dir=tmp_path)
    taken = one_error_line(raymon("project", "create", "Café", data_dir=tmp_path, check=False))
    assert "project 'cafe' exists already (choose an id with --id)" in taken
    assert (
        "project_id: shop-2"
        in raymon("project", "create", "Shop", "--id", "shop-2", data_dir=tmp_path).stdout
    )
    listed = raymon("project", "ls", data_dir=tmp_path).stdout
    assert [line.split("\t")[0] for line in listed.splitlines()] == ["house-prices", "s1", "cafe", "shop-2"]


def test_a_key_revoked_from_the_cli_is_refused_by_the_running_server(make_server, backend) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    env = {"RAYMON_DATABASE_URL": server.database_url} if server.database_url else {}
    out = raymon(
        "key", "create", server.project_id, "--scopes", "read", data_dir=server.data_dir, env=env
    ).stdout
    key = KEY_RE.search(out).group(0)  # type: ignore[union-attr]
    key_id = re.search(r"key_id: (\w+)", out).group(1)  # type: ignore[union-attr]
    url = f"{server.url}/api/v1/projects"
    assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    raymon("key", "revoke", key_id, data_dir=server.data_dir, env=env)
    assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 401


@pytest.mark.parametrize("args", [["server"], ["project", "ls"], ["key", "ls", "p"], ["migrate"]])
def test_without_the_server_extra_every_command_says_what_to_install(args: list[str]) -> None:
    code = f"import sys; sys.modules['sqlalchemy'] = None\nfrom raymon.cli import main\nmain({args!r})\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (
        'raymon: error: the Raymon server is not installed: pip install "raymon[server]"'
        in one_error_line(result)
    )


def test_importing_the_cli_imports_no_server_dependency() -> None:
    code = (
        "import sys, raymon.cli\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'alembic') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
