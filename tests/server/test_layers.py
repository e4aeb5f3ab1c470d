"""The layers hold: routes and services never reach SQL; the store owns every statement.

A static scan of each module's imports (``import`` and ``from`` statements anywhere in the file,
``TYPE_CHECKING`` blocks included), as ``tests/test_client_is_light.py`` guards the client:

- ``server/api/`` and ``server/ui/`` (routes and pages) import neither SQLAlchemy nor anything of ``raymon.server.store``:
  store types reach a route only as what a service answers;
- ``server/services/`` and ``server/engine/`` import neither SQLAlchemy nor the ORM models
  (``raymon.server.store.models``); they call the store's functions and get typed rows back;
- ``server/demo/`` (the demo's story and traffic replay) imports neither SQLAlchemy nor the
  store: it reaches the server over HTTP, as a deployment would.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import raymon.server

SERVER = Path(raymon.server.__file__).parent
SQL = ("sqlalchemy",)
MODELS = ("raymon.server.store.models",)
STORE = ("raymon.server.store",)
RULES: dict[str, tuple[str, ...]] = {
    "api": SQL + STORE,
    "services": SQL + MODELS,
    "engine": SQL + MODELS,
    "ui": SQL + STORE,  # pages are routes: they call services
    "demo": SQL + STORE,  # the demo's story and replay: HTTP and the client library only
}


def _imported_names(path: Path, server_dir: Path) -> list[tuple[int, str]]:
    """Every module name ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``), with its line."""
    names: list[tuple[int, str]] = []
    package = ".".join(("raymon", "server", *path.relative_to(server_dir).parts[:-1]))
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names.append((node.lineno, base))
            names += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return names


def violations(server_dir: Path) -> list[str]:
    """``file:line imports name`` for each import a layer under ``server_dir`` must not make."""
    found = []
    for layer, banned in RULES.items():
        for path in sorted((server_dir / layer).rglob("*.py")):
            for line, name in _imported_names(path, server_dir):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    found.append(f"{path.relative_to(server_dir)}:{line} imports {name}")
    return found


def test_routes_and_services_import_neither_sqlalchemy_nor_the_orm_models() -> None:
    assert violations(SERVER) == []


def test_the_scan_covers_every_module_of_the_guarded_layers() -> None:
    scanned = {p.parent.name for layer in RULES for p in (SERVER / layer).rglob("*.py")}
    assert {"api", "services", "demo"} <= scanned
    assert len(list((SERVER / "services").glob("*.py"))) >= 10


@pytest.mark.parametrize(
    ("layer", "statement"),
    [
        ("services", "from sqlalchemy import select"),
        ("services", "import sqlalchemy.orm"),
        ("services", "from raymon.server.store.models import Trace"),
        ("services", "from raymon.server.store import models"),
        ("services", "if TYPE_CHECKING:\n    from sqlalchemy.orm import Session"),
        ("api", "from raymon.server.store.traces import TraceRow"),
        ("api", "from ..store import db"),
        ("engine", "import sqlalchemy"),
    ],
)
def test_a_planted_violation_is_caught(tmp_path: Path, layer: str, statement: str) -> None:
    copy = tmp_path / "raymon" / "server"
    shutil.copytree(SERVER, copy, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    (copy / layer).mkdir(exist_ok=True)
    (copy / layer / "planted.py").write_text(f"from typing import TYPE_CHECKING\n{statement}\n")
    assert {v.split(":")[0] for v in violations(copy)} == {f"{layer}/planted.py"}
