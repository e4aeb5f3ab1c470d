"""The original Raymon client (``raymon==0.0.39`` from the package index), unmodified, against a real server.

What a team with a service in production does (docs/migration.md): the original's own
"create m2m credentials" script (docs: M2M communication) makes and saves machine credentials,
then the original documentation's tracing example (docs: Tracing prediction requests) logs text,
tags as dicts and ``Tag``s, and Native/NumPy/DataFrame/image objects through a
``RaymonAPILogger(batch_size=20)`` and ``flush()``, and reads them back with
``RaymonAPI.object_search`` and ``load_jcr``. Each runs in its own Python process, in a
virtual environment of the original client.

The environment is made once and kept under ``~/.cache/raymon-tests/`` (``RAYMON_TEST_CACHE``
to move it): the original is installed ``--no-deps`` (its pins, ``onnxruntime==1.8.0`` and
``msgpack==1.0.0``, do not install on current Python) with the modules it imports at start-up.
The tests skip, saying so, only when the package index cannot be reached; with
``RAYMON_TEST_REQUIRE_ORIGINAL_CLIENT=1`` (CI) they fail then instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

ORIGINAL = "raymon==0.0.39"
# What the original imports at start-up (``import raymon``, ``raymon.types``), without its pins.
START_UP_MODULES = [
    "pyyaml",
    "msgpack",
    "pendulum",
    "click",
    "pandas<3",  # the original's DataFrame.from_jcr reads literal JSON with pd.read_json: gone in pandas 3
    "requests",
    "Pillow",
    "scipy",
    "scikit-learn",
    "imagehash",
    "setuptools<81",  # raymon.profiling.profiles imports pkg_resources
]
PIP_TIMEOUT = 900
# The first test of a session on a fresh machine makes the environment (minutes on a cold pip cache).
pytestmark = pytest.mark.timeout(2 * PIP_TIMEOUT)


def _cache_dir() -> Path:
    root = Path(os.environ.get("RAYMON_TEST_CACHE") or Path.home() / ".cache" / "raymon-tests")
    # Named by what is installed: a change of START_UP_MODULES makes a new environment.
    recipe = hashlib.sha256("\n".join([ORIGINAL, *START_UP_MODULES]).encode()).hexdigest()[:8]
    return root / f"original-client-0.0.39-py{sys.version_info.major}{sys.version_info.minor}-{recipe}"


def _unreachable(reason: str) -> None:
    if os.environ.get("RAYMON_TEST_REQUIRE_ORIGINAL_CLIENT") == "1":
        pytest.fail(f"RAYMON_TEST_REQUIRE_ORIGINAL_CLIENT=1 but {reason}")
    pytest.skip(reason)


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def original_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a virtual environment holding the original client (made once, then cached)."""
    venv = _cache_dir()
    if (venv / "READY").exists():
        return _venv_python(venv)
    wheels = tmp_path_factory.mktemp("original-wheel")
    download = _pip(Path(sys.executable), "download", "--no-deps", "-d", str(wheels), ORIGINAL)
    if download.returncode != 0:
        _unreachable(f"the package index cannot be reached to fetch {ORIGINAL}: {download.stderr[-500:]}")
    building = venv.with_name(f"{venv.name}.{uuid.uuid4().hex[:8]}")
    building.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=300)
    python = _venv_python(building)
    wheel = next(wheels.glob("raymon-0.0.39-*.whl"))
    for args in (("install", "--no-deps", str(wheel)), ("install", *START_UP_MODULES)):
        result = _pip(python, *args)
        assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    check = subprocess.run(
        [str(python), "-c", "import raymon, raymon.types; print(raymon.__version__)"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.stdout.strip() == "0.0.39", check.stderr[-3000:]
    (building / "READY").write_text("raymon 0.0.39 and its start-up modules\n")
    try:
        building.rename(venv)  # atomic: a concurrent session made it first -> use theirs
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return _venv_python(venv)


class OriginalService:
    """A home directory and a working directory for scripts run with the original client."""

    def __init__(self, python: Path, root: Path) -> None:
        self.python = python
        self.home = root / "home"
        self.workdir = root / "service"
        self.home.mkdir(parents=True)
        self.workdir.mkdir(parents=True)

    @property
    def secrets(self) -> Path:
        """The original's default credentials file (``~/.raymon/secrets.json``) in this home."""
        return self.home / ".raymon" / "secrets.json"

    def write_secrets(self, credentials: dict[str, Any]) -> None:
        self.secrets.parent.mkdir(parents=True, exist_ok=True)
        self.secrets.write_text(json.dumps(credentials, indent=4))

    def run(self, script: str, **variables: str) -> dict[str, Any]:
        """Run ``script`` after ``variables`` are set; answer what it wrote with ``report(...)``."""
        results = self.workdir / f"results-{uuid.uuid4().hex[:8]}.json"
        preamble = "".join(f"{name} = {value!r}\n" for name, value in variables.items())
        preamble += (
            "import json as _json\n"
            f"def report(**values):\n    open({str(results)!r}, 'w').write(_json.dumps(values))\n"
        )
        path = self.workdir / "script.py"
        path.write_text(preamble + textwrap.dedent(script))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAYMON_", "PYTHON"))}
        env["HOME"] = str(self.home)
        done = subprocess.run(
            [str(self.python), str(path)],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (
            f"the original client failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        )
        assert results.exists(), f"the script reported nothing:\n{done.stdout[-3000:]}"
        return dict(json.loads(results.read_text()))


def m2m_entry(server_url: str, client_id: str, secret: str) -> dict[str, Any]:
    """One project's entry in the original's credentials file, as its ``save_m2m_config`` writes it."""
    config = {
        "auth_url": server_url,
        "audience": "raymon-backend-api",
        "client_id": client_id,
        "grant_type": "client_credentials",
    }
    return {"config": config, "secret": secret}


# The original's docs, "M2M communication": make machine credentials and save them. Changed: the URL,
# the project id and the file's place (variables), and the auth endpoint (this server, not Auth0).
CREATE_M2M_SCRIPT = """
from pathlib import Path
from raymon import RaymonAPI

from raymon.auth import m2m
from raymon.auth import DEFAULT_ENV

api = RaymonAPI(url=URL, project_id=PROJECT_ID)

resp = api.project_m2mclient_get(project_id=PROJECT_ID)
if resp.ok:
    print(f"M2M creds found")
    m2mcreds = resp.json()
else:
    print(f"Creating m2m creds")
    resp = api.project_m2mclient_add(project_id=PROJECT_ID)
    m2mcreds = resp.json()

outpath = Path(OUTPATH).resolve()

print(f"Saving creds to {outpath.resolve()}")

m2m.save_m2m_config(
    existing={},
    project_id=PROJECT_ID,
    auth_endpoint=AUTH_URL,
    audience=DEFAULT_ENV["audience"],
    client_id=m2mcreds[PROJECT_ID]["client_id"],
    client_secret=m2mcreds[PROJECT_ID]["client_secret"],
    grant_type="client_credentials",
    out=outpath,
)
report(found=resp.status_code, client_id=m2mcreds[PROJECT_ID]["client_id"])
"""

# The original's docs, "Tracing prediction requests", statement for statement; then its fetch example
# for every ref. Added: the logger's URL and batch_size=20, flush(), and the checks reported back.
TRACING_SCRIPT = """
from raymon import Trace, RaymonAPILogger

logger = RaymonAPILogger(project_id=project_id, url=URL, batch_size=20)
trace = Trace(logger=logger, trace_id=None)

trace.info("You can log whatever you want here")

from raymon import Tag

tags = [
    # Using a dict
    {
        "name": "client",
        "value": "bigshot_client",
        "type": "label"
    },
    # Using the Tag object
    Tag(name="sdk_version", value="1.4.2", type="label"),
    Tag(name="prediction_time_ms", value="120", type="metric")
]
trace.tag(tags)

import pandas as pd
import numpy as np
from PIL import Image

import raymon.types as rt


img = Image.open("./data_sample/castinginspection/def_front/cast_def_0_0.jpeg")
arr = np.array([[1, 2], [3, 4]])
df = pd.DataFrame(arr, columns=['a', 'b'])

trace.log(ref="native-ref", data=rt.Native(
    {"foo": "bar",
    "whatever": ["you", "want"],
    "all_native_types": 1}))
trace.log(ref="numpy-ref", data=rt.Numpy(arr))
trace.log(ref="pandas-ref", data=rt.DataFrame(df))
trace.log(ref="image-ref", data=rt.Image(img))
unsent = len(logger.buffer)
logger.flush()

from raymon import RaymonAPI

api = RaymonAPI(url=URL, project_id=project_id)
resp = api.object_search(project_id=project_id, trace_id=trace.trace_id, ref="numpy-ref")

if not resp.ok:
    raise Exception("Something wrong.")

data = resp.json()
obj_id = data["obj_id"]
obj_data = data["obj_data"]

raymon_wrapped = rt.load_jcr(obj_data)
orig = raymon_wrapped.data

def fetched(ref):
    resp = api.object_search(project_id=project_id, trace_id=trace.trace_id, ref=ref)
    if not resp.ok:
        raise Exception(f"Something wrong: {resp.status_code} {resp.text}")
    return rt.load_jcr(resp.json()["obj_data"]).data

back_df = fetched("pandas-ref")
back_img = fetched("image-ref")
report(
    trace_id=trace.trace_id,
    unsent_before_flush=unsent,
    left_after_flush=len(logger.buffer),
    numpy_equal=bool(np.array_equal(orig, arr)) and orig.dtype == arr.dtype,
    native=fetched("native-ref"),
    dataframe_equal=bool(back_df.equals(df)),
    image_size=list(back_img.size),
    image_mean_difference=float(np.abs(np.asarray(back_img, dtype=float) - np.asarray(img, dtype=float)).mean()),
    trace_status=api.trace_get(project_id=project_id, trace_id=trace.trace_id).status_code,
    tags_status=api.tags_get(project_id=project_id, trace_id=trace.trace_id).status_code,
    tags_ls_status=api.tags_ls(project_id=project_id).status_code,
    refs_status=api.refs_ls(project_id, None, None, None).status_code,
    trace_ls=api.trace_ls(project_id, "client==bigshot_client", None, None).json()["traces"][0]["trace_id"],
)
"""


def _sample_image(service: OriginalService) -> None:
    """The image the tracing example opens, at the path it names (a small generated JPEG)."""
    folder = service.workdir / "data_sample" / "castinginspection" / "def_front"
    folder.mkdir(parents=True)
    subprocess.run(
        [
            str(service.python),
            "-c",
            "from PIL import Image; import numpy as np; "
            "a = (np.indices((48, 64)).sum(axis=0) * 2).astype('uint8'); "
            f"Image.fromarray(np.stack([a, 255 - a, a // 2], -1)).save({str(folder / 'cast_def_0_0.jpeg')!r})",
        ],
        check=True,
        timeout=120,
    )


def test_the_original_clients_tracing_example_runs_unmodified(
    original_python: Path, server: Any, tmp_path: Path
) -> None:
    project = server.new_project()
    pid = project.project_id
    service = OriginalService(original_python, tmp_path)
    # A person with the project's admin key runs the original's "create m2m credentials" script.
    service.write_secrets({"m2m": {pid: m2m_entry(server.url, "admin", project.admin_key)}, "user": {}})
    outpath = service.workdir / "m2mcreds.json"
    made = service.run(
        CREATE_M2M_SCRIPT,
        URL=f"{server.url}/api/v1",
        PROJECT_ID=pid,
        OUTPATH=str(outpath),
        AUTH_URL=server.url,
    )
    assert made["found"] == 201  # there were none to show: made now
    saved = json.loads(outpath.read_text())
    assert saved["m2m"][pid]["config"]["client_id"] == made["client_id"]
    # The service runs with those credentials as its ~/.raymon/secrets.json.
    service.write_secrets(saved)
    _sample_image(service)
    result = service.run(TRACING_SCRIPT, URL=f"{server.url}/api/v1", project_id=pid)

    assert result["unsent_before_flush"] == 6 and result["left_after_flush"] == 0
    assert result["numpy_equal"] is True and result["dataframe_equal"] is True
    assert result["native"] == {"foo": "bar", "whatever": ["you", "want"], "all_native_types": 1}
    assert result["image_size"] == [64, 48] and result["image_mean_difference"] < 8  # JPEG, quality 95
    assert result["trace_status"] == result["tags_status"] == result["tags_ls_status"] == 200
    assert result["refs_status"] == 200 and result["trace_ls"] == result["trace_id"]
    with server.client(project.admin_key) as client:
        stored = client.get(f"/api/v1/projects/{pid}/traces/{result['trace_id']}").json()
    assert {t["name"]: t["value"] for t in stored["tags"]} == {
        "client": "bigshot_client",
        "sdk_version": "1.4.2",
        "prediction_time_ms": "120",
    }
    assert [t["message"] for t in stored["texts"]] == ["You can log whatever you want here"]
    assert sorted(o["ref"] for o in stored["objects"]) == [
        "image-ref",
        "native-ref",
        "numpy-ref",
        "pandas-ref",
    ]


def test_the_original_client_without_machine_credentials_is_told_to_use_them(
    original_python: Path, server: Any, tmp_path: Path
) -> None:
    service = OriginalService(original_python, tmp_path)
    result = service.run(
        """
        import requests
        from raymon.auth.user import code_request
        resp = code_request(route=AUTH_URL + "/oauth/device/code", data={"client_id": "x", "audience": "a"}, headers={})
        report(status=resp.status_code, body=resp.json())
        """,
        AUTH_URL=server.url,
    )
    assert result["status"] == 400 and "machine credentials" in result["body"]["error_description"]


# The original's orchestration_apply (PUT projects/{id} {"config"}) and orchestration_get
# (GET projects/{id} -> {"config"}) go through the manifest service.
MANIFEST = """\
slices:
  - space:
      - tag: client
"""


def test_the_original_client_applies_and_reads_the_manifest(
    original_python: Path, server: Any, tmp_path: Path
) -> None:
    project = server.new_project()
    pid = project.project_id
    service = OriginalService(original_python, tmp_path)
    service.write_secrets({"m2m": {pid: m2m_entry(server.url, "admin", project.admin_key)}, "user": {}})
    result = service.run(
        """
        from raymon import RaymonAPI
        api = RaymonAPI(url=URL, project_id=PROJECT_ID)
        resp = api.orchestration_apply(project_id=PROJECT_ID, cfg=CFG)
        report(apply_status=resp.status_code, config=api.orchestration_get(project_id=PROJECT_ID))
        """,
        URL=f"{server.url}/api/v1",
        PROJECT_ID=pid,
        CFG=MANIFEST,
    )
    assert result["apply_status"] == 200
    assert result["config"] == MANIFEST
