"""The client library a production service installs must not pull in the backend."""

import subprocess
import sys


def test_importing_the_client_loads_no_web_framework_or_database_driver():
    code = (
        "import sys, raymon, raymon.types, raymon.loggers\n"
        "from raymon import Trace, Tag, RaymonAPI, RaymonFileLogger, RaymonAPILogger\n"
        "heavy = [m for m in ('fastapi', 'starlette', 'uvicorn', 'sqlalchemy', 'alembic', 'psycopg', 'raymon.server')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


HEAVY_FOR_A_LOGGING_SERVICE = ("numpy", "pandas", "PIL", "scipy", "sklearn", "datasketches", "httpx")


def _loaded_after(code: str, *modules: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('loaded:' + ','.join(m for m in {modules!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    last_line = out.stdout.rstrip("\n").rsplit("\n", 1)[-1]
    return [m for m in last_line.removeprefix("loaded:").split(",") if m]


def test_importing_raymon_loads_neither_numpy_nor_pandas():
    assert _loaded_after("import raymon", *HEAVY_FOR_A_LOGGING_SERVICE) == []


def test_logging_text_and_tags_to_a_file_loads_neither_numpy_nor_pandas(tmp_path):
    code = (
        "import raymon, raymon.types as rt\n"
        "from raymon import RaymonFileLogger, RaymonBatchLogger, Trace, Tag\n"
        f"logger = RaymonFileLogger(path={str(tmp_path)!r}, project_id='light')\n"
        "trace = Trace(logger=logger)\n"
        "trace.info('served')\n"
        "trace.tag([Tag(name='latency_ms', value=12.5, type='metric')])\n"
        "trace.log(ref='request', data=rt.Native({'text': 'hello', 'n': 3}))\n"
        "logger.close()\n"
    )
    assert _loaded_after(code, "numpy", "pandas", "PIL") == []
    assert len(list(tmp_path.glob("*.ndjson"))) == 1


def test_the_command_line_help_loads_neither_numpy_nor_pandas_nor_the_server():
    code = (
        "import sys\nfrom raymon.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    )
    loaded = _loaded_after(code, "numpy", "pandas", "fastapi", "sqlalchemy", "raymon.server.app")
    assert loaded == []
    assert "Usage:" in subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout


def test_model_profile_still_imports_from_raymon_on_first_use():
    code = "import raymon\nprint(raymon.ModelProfile.__module__, raymon.InputComponent.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["raymon.profiling.profile", "InputComponent"]


BLOCK_PACKAGE = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == {package!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocked())
"""


def test_without_the_profiles_extra_model_profile_says_what_to_install():
    code = BLOCK_PACKAGE.format(package="scipy") + (
        "import raymon\ntry:\n    raymon.ModelProfile\nexcept ModuleNotFoundError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "raymon[profiles]"' in out.stdout
    assert "'scipy' is not installed" in out.stdout


def test_without_pandas_the_logging_client_still_logs_and_says_what_a_dataframe_needs(tmp_path):
    code = BLOCK_PACKAGE.format(package="pandas") + (
        "import raymon.types as rt\nfrom raymon import RaymonFileLogger, Trace\n"
        f"logger = RaymonFileLogger(path={str(tmp_path)!r}, project_id='light')\n"
        "Trace(logger=logger).log(ref='x', data=rt.Native([1, 2]))\n"
        "try:\n    rt.DataFrame({'a': [1]})\n"
        "except rt.DataTypeError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "rt.DataFrame needs a pandas.DataFrame, got dict" in out.stdout


def test_the_base_install_requires_only_what_logging_needs_and_the_extras_include_what_they_load():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {r.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip() for r in requirements}

    assert names(project["dependencies"]) <= {"orjson", "httpx", "click", "tqdm"}
    extras = project["optional-dependencies"]
    assert {"numpy", "pandas", "scipy", "scikit-learn", "datasketches", "pillow"} <= names(extras["profiles"])
    assert "raymon[profiles]" in extras["server"]  # the server loads and validates profiles
    assert any(r.startswith("raymon[server") for r in extras["test"])
