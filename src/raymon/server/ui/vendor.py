"""Third-party browser assets shipped in the package, pinned by SHA-256, and the tool that vendors them.

The server never loads a script, a stylesheet or a font from another host: a
page works without internet access and shows what was reviewed. Each asset is
copied from a package of the npm registry (``npm pack NAME@VERSION``) into
``static/vendor/<name>-<version>/`` with its licence files, and
``static/vendor/HASHES.json`` records the SHA-256 of every copied file and the
registry's integrity of the tarball it came from. ``check_hashes()`` (run by
the test suite) proves the shipped files are those bytes.

Re-vendor (or add a package) with ``python -m raymon.server.ui.vendor``: it
needs ``npm`` and network access to the registry; the server never runs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"
HASHES_FILE = VENDOR_DIR / "HASHES.json"


@dataclass(frozen=True)
class VendoredPackage:
    """An npm package whose ``files`` (path in the tarball -> name here) the server ships."""

    name: str
    version: str
    files: dict[str, str]

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def directory(self) -> str:
        return f"{self.name}-{self.version}"

    def url(self, file: str) -> str:
        """Where the server serves ``file`` of this package."""
        return f"/static/vendor/{self.directory}/{file}"


SWAGGER_UI = VendoredPackage(
    "swagger-ui-dist",
    "5.35.0",
    {
        "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
        "package/swagger-ui.css": "swagger-ui.css",
        "package/favicon-32x32.png": "favicon-32x32.png",
        "package/LICENSE": "LICENSE",
        "package/NOTICE": "NOTICE",
        "package/swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
    },
)
# ReDoc 2.x: the 3.x line sends usage telemetry to its vendor unless told not to; 2.x sends nothing.
REDOC = VendoredPackage(
    "redoc",
    "2.5.4",
    {
        "package/bundles/redoc.standalone.js": "redoc.standalone.js",
        "package/bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
        "package/LICENSE": "LICENSE",
    },
)
# The web UI's two libraries: htmx 2.x (the pin; 4.x changed its attribute inheritance) and uPlot.
HTMX = VendoredPackage(
    "htmx.org",
    "2.0.11",
    {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "LICENSE"},
)
UPLOT = VendoredPackage(
    "uplot",
    "1.6.32",
    {
        "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
        "package/dist/uPlot.min.css": "uPlot.min.css",
        "package/LICENSE": "LICENSE",
    },
)
PACKAGES = (SWAGGER_UI, REDOC, HTMX, UPLOT)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_hashes(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Every difference between the shipped files and ``HASHES.json`` (an empty list: all as pinned)."""
    manifest = json.loads((vendor_dir / "HASHES.json").read_text())
    problems = []
    for package in PACKAGES:
        entry = manifest.get(package.spec)
        if entry is None:
            problems.append(f"{package.spec}: not in HASHES.json")
            continue
        pinned: dict[str, str] = entry["files"]
        if set(pinned) != set(package.files.values()):
            problems.append(f"{package.spec}: HASHES.json lists {sorted(pinned)}")
        for name, digest in pinned.items():
            path = vendor_dir / package.directory / name
            if not path.is_file():
                problems.append(f"{path}: missing")
            elif sha256_of(path) != digest:
                problems.append(f"{path}: SHA-256 {sha256_of(path)}, pinned {digest}")
    return problems


def vendor(package: VendoredPackage, vendor_dir: Path = VENDOR_DIR) -> dict[str, object]:
    """Fetch ``package`` with ``npm pack``, check the tarball's integrity, copy its files; answer its entry."""
    with tempfile.TemporaryDirectory() as tmp:
        info = json.loads(
            subprocess.run(
                ["npm", "pack", "--json", package.spec], cwd=tmp, check=True, capture_output=True, text=True
            ).stdout
        )[0]
        tarball = Path(tmp) / info["filename"]
        algorithm, _, expected = info["integrity"].partition("-")
        digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
        if digest != expected:
            raise RuntimeError(
                f"{package.spec}: tarball {algorithm} {digest} is not the registry's {expected}"
            )
        target = vendor_dir / package.directory
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tarfile.open(tarball) as archive:
            for member, name in package.files.items():
                source = archive.extractfile(member)
                if source is None:
                    raise RuntimeError(f"{package.spec}: {member} is not a file in the tarball")
                (target / name).write_bytes(source.read())
    files = {name: sha256_of(target / name) for name in sorted(package.files.values())}
    return {"directory": package.directory, "tarball_integrity": info["integrity"], "files": files}


def main() -> int:
    manifest = {package.spec: vendor(package) for package in PACKAGES}
    HASHES_FILE.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for package in PACKAGES:
        stale = [p for p in VENDOR_DIR.glob(f"{package.name}-*") if p.name != package.directory]
        for path in stale:
            shutil.rmtree(path)
    print(f"vendored {', '.join(p.spec for p in PACKAGES)} into {VENDOR_DIR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
