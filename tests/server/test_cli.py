"""The ``raymon`` command line: help, management commands on the database, the missing-extra message."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

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


def test_help_lists_every_command() -> None:
    out = raymon("--help").stdout
    for command in ("server", "project", "key", "user", "migrate"):
        assert re.search(rf"^\s+{command}\s", out, re.M), out
    assert "--demo" in raymon("server", "--help").stdout
    key_help = raymon("key", "--help").stdout
    assert all(sub in key_help for sub in ("create", "ls", "revoke"))


def test_projects_keys_and_users_are_managed_from_the_cli(tmp_path: Path) -> None:
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


def test_cli_errors_name_the_problem(tmp_path: Path) -> None:
    result = raymon("key", "create", "no-such-project", data_dir=tmp_path, check=False)
    assert result.returncode == 1 and "no project 'no-such-project'" in result.stderr
    result = raymon("key", "create", "x", "--scopes", "root", data_dir=tmp_path, check=False)
    assert result.returncode == 1
    result = raymon("server", data_dir=tmp_path, env={"RAYMON_PORT": "eighty"}, check=False)
    assert result.returncode == 1 and "RAYMON_PORT must be an integer, got 'eighty'" in result.stderr


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


def test_without_the_server_extra_the_cli_says_what_to_install() -> None:
    code = "import sys; sys.modules['fastapi'] = None\nfrom raymon.cli import main\nmain(['server'])\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'pip install "raymon[server]"' in result.stderr


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
