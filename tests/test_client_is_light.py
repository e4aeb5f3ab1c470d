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
