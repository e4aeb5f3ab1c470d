"""Run a baseline library (whylogs, Evidently) in its own virtual environment, timed there.

Those libraries pin older NumPy/pandas than raymon, so each gets a venv under
bench/.venvs/ (git-ignored), made on first use with ``python -m venv`` and
pip. The timed code runs in a subprocess that prints one JSON line. If an
anchor cannot be installed, callers get the reason and report without it.
Never used by the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"


class AnchorUnavailable(RuntimeError):
    """The anchor library could not be installed or run; the message says why."""


def anchor_python(name: str, requirements: list[str]) -> Path:
    """The python of the venv for ``name``, created and pip-installed on first use."""
    venv = VENVS_DIR / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    wanted = "\n".join(requirements)
    if marker.exists() and marker.read_text() == wanted:
        return python
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    print(f"[bench] preparing the {name} venv ({' '.join(requirements)}); first time only", file=sys.stderr)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *requirements],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "")[-800:]
        raise AnchorUnavailable(f"{name}: install failed: {tail}") from exc
    except subprocess.TimeoutExpired as exc:
        raise AnchorUnavailable(f"{name}: install timed out") from exc
    marker.write_text(wanted)
    return python


def run_timed(python: Path, script: str, timeout: float = 3600) -> dict:
    """Run ``script`` with the venv's python; it must print one JSON object as its last line."""
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AnchorUnavailable(f"run failed ({proc.returncode}): {proc.stderr[-1500:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        raise AnchorUnavailable(f"no JSON result; stdout: {proc.stdout[-500:]} stderr: {proc.stderr[-500:]}")
    return json.loads(lines[-1])
