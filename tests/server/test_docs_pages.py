"""/docs and /redoc work without the internet: vendored, pinned assets, no outside URL, rendered in a browser.

The pages are fetched from a real server; every asset they reference is
fetched from the same server (200); the vendored files are the bytes pinned
in HASHES.json; the built wheel ships them; and headless Chromium (when
installed) renders the operations with the network limited to the server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import raymon.server.ui
from raymon.server.ui.vendor import HTMX, PACKAGES, UPLOT, VENDOR_DIR, check_hashes

REPO = Path(__file__).resolve().parents[2]
_URL = re.compile(r"""https?://[^\s"'<>)]+""")
_ASSET = re.compile(r"""(?:href|src)=["']([^"']+)["']""")


def test_the_vendored_files_are_the_pinned_bytes() -> None:
    assert check_hashes() == []


def test_a_changed_vendored_file_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, copy)
    target = copy / PACKAGES[0].directory / "swagger-ui-bundle.js"
    target.write_bytes(target.read_bytes() + b"\n// tampered")
    problems = check_hashes(copy)
    assert len(problems) == 1 and "swagger-ui-bundle.js" in problems[0]


def test_each_vendored_package_ships_its_licence() -> None:
    for package in PACKAGES:
        assert (VENDOR_DIR / package.directory / "LICENSE").is_file(), package.spec


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_name_no_other_host_and_their_assets_load(server: Any, page: str) -> None:
    with server.client("") as client:  # no key: the pages and the document are public
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        outside = [url for url in _URL.findall(html) if not url.startswith(server.url)]
        assert outside == [], f"{page} references {outside}"
        assets = _ASSET.findall(html)
        assert any(a.endswith(".js") for a in assets), html
        for asset in assets:
            assert asset.startswith("/static/vendor/"), asset
            loaded = client.get(asset)
            assert loaded.status_code == 200, asset
            assert len(loaded.content) > 0
        assert "/openapi.json" in html
        assert client.get("/openapi.json").status_code == 200


def test_the_redoc_page_loads_no_google_fonts(server: Any) -> None:
    with server.client("") as client:
        html = client.get("/redoc").text
    assert "fonts.googleapis" not in html and "fonts.gstatic" not in html


def _can_build_without_isolation() -> bool:
    """The running environment has the build backend pyproject.toml asks for (setuptools>=68, wheel)."""
    try:
        import setuptools
        import wheel  # noqa: F401
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 68


def test_the_built_wheel_ships_the_vendored_files_and_the_ui(tmp_path: Path) -> None:
    """A real wheel build (10 to 40 s): the package-data rules must take every static file along.

    The vendored packages (Swagger UI, ReDoc, htmx, uPlot) with their hashes, and the web UI's
    every template (a template in a directory the globs miss would be absent), app.js and app.css.
    """
    isolation = [] if not _can_build_without_isolation() else ["--no-build-isolation"]
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        *isolation,
        "-q",
        "-w",
        str(tmp_path),
        str(REPO),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("raymon-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        for file in package.files.values():
            assert f"raymon/server/ui/static/vendor/{package.directory}/{file}" in names
    assert "raymon/server/ui/static/vendor/HASHES.json" in names
    assert HTMX in PACKAGES and UPLOT in PACKAGES  # the UI's libraries are among the packages checked above
    ui = Path(raymon.server.ui.__file__).parent
    templates = sorted(path.relative_to(ui).as_posix() for path in (ui / "templates").rglob("*.html"))
    assert "templates/base.html" in templates and len(templates) >= 5
    expected = [f"raymon/server/ui/{name}" for name in [*templates, "static/app.js", "static/app.css"]]
    assert [name for name in expected if name not in names] == []


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install -y chromium)")
def test_swagger_ui_renders_every_operation_offline(server: Any, tmp_path: Path) -> None:
    """Chromium may reach only the server: a CDN or font host would fail and leave the page blank."""
    chromium = _chromium()
    assert chromium is not None
    port = server.url.rsplit(":", 1)[1]
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        # Every host name but the loopback resolves nowhere: only the server can answer.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--dump-dom",
        f"http://127.0.0.1:{port}/docs",
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    assert 'class="swagger-ui' in dom, dom[:2000]
    for path in ("/api/v1/projects/{project_id}/ingest", "/api/v1/projects/{project_id}/traces"):
        assert path.replace("{", "").replace("}", "") in dom.replace("\u200b", "").replace("{", "").replace(
            "}", ""
        ), path
    assert "Authorize" in dom
