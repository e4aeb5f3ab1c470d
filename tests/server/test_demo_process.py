"""``raymon server --demo`` as a user runs it: a real server process, its printed login and key, its live traffic.

With the replay sped up (``RAYMON_DEMO_SPEED``) and reduce passes every two seconds, the story
plays out within a minute or two: issues open on the slices of the client whose app update
zeroes two features and of the client sending expensive houses, never on the healthy clients';
reduce results appear; the actuals arrive later than their predictions; the printed login is the
demo user's. ``raymon demo reset`` then removes exactly the demo's data (a second project keeps
all of its), and ``--demo`` afterwards starts the demo afresh. The pieces (story, set-up, reset
of every table) are tested in tests/server/services/test_demo.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest
from server_helpers import counts, obj, tags, text
from sqlalchemy import func, select

from raymon import RaymonAPI
from raymon.server.demo import story
from raymon.server.services import auth
from raymon.server.services.demo import DEMO_USER_EMAIL
from raymon.server.store import accounts
from raymon.server.store.models import (
    ApiKey,
    DataObject,
    Issue,
    Manifest,
    Membership,
    Profile,
    Project,
    ReduceResult,
    Trace,
)

pytestmark = pytest.mark.timeout(600)

KEY_RE = re.compile(r"demo API key \(ingest,read; shown only now\):\s+(rmn_[A-Za-z0-9_-]{20,})")
LOGIN_RE = re.compile(r"demo login for the web UI \(shown only now\):\s+demo@raymon\.local  (\S+)")
SPEED = 3.0  # story seconds per second: zillow's update ships 10 s in, actuals come 10 s late
LIVE = {"RAYMON_DEMO_SPEED": str(SPEED), "RAYMON_REDUCE_PASS_SECONDS": "2"}
HEALTHY = ("remax", "redfin")


def wait_for(what: str, probe: Any, timeout: float = 240.0, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


def scalar(server: Any, statement: Any) -> Any:
    database = server.database()
    try:
        with database.session() as session:
            return session.scalar(statement)
    finally:
        database.dispose()


def demo_traces(server: Any) -> int:
    return int(scalar(server, select(func.count()).select_from(Trace).where(Trace.project_id == "demo")) or 0)


def authenticates(server: Any, password: str) -> bool:
    database = server.database()
    try:
        with database.session() as session:
            user = auth.authenticate_user(session, DEMO_USER_EMAIL, password)
            return user is not None and accounts.role_of(session, user.id, "demo") == "admin"
    finally:
        database.dispose()


def test_the_live_demo_opens_issues_on_the_drifting_clients_only_with_late_actuals(
    make_server: Any, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the demo's engine runs inside the server on SQLite (RAYMON_ENGINE=auto)")
    started = time.monotonic()
    server = make_server("--demo", **LIVE)
    up_s = time.monotonic() - started
    log = server.log()
    key, password = KEY_RE.search(log).group(1), LOGIN_RE.search(log).group(1)  # type: ignore[union-attr]
    assert f"open {server.url}/ and log in as {DEMO_USER_EMAIL}" in log
    assert authenticates(server, password) and not authenticates(server, password + "x")
    api = RaymonAPI(server.url, key)
    broken = story.slice_of(story.BROKEN_CLIENT, "v2")
    expensive = story.slice_of(story.EXPENSIVE_CLIENT)

    def drifting() -> list[dict[str, Any]] | None:
        issues = api.issues_ls("demo", status="open").json()["issues"]
        on_broken = {i["component"] for i in issues if i["slice"] == broken}
        on_expensive = {(i["component"], i["check"]) for i in issues if i["slice"] == expensive}
        if set(story.BROKEN_FEATURES) <= on_broken and ("mae", "performance") in on_expensive:
            return issues  # the last needs the actuals: the labelling service's, through the mapper
        return None

    wait_for("open issues on zillow's v2 features and on the expensive client's score", drifting)
    opened_s = time.monotonic() - started
    everything = api.issues_ls("demo").json()["issues"]
    assert not [i for i in everything if any(c in i["slice"] for c in HEALTHY)], story.summary(everything)
    assert {story.slice_of(story.BROKEN_CLIENT)} <= {i["slice"] for i in everything}

    results = api.results("demo", story.PROFILE_REF, slicestr=broken).json()["series"]
    assert {s["component"] for s in results} >= {"grlivarea", "lotfrontage", "mae"}
    assert any(p.get("value") is not None for s in results for p in s["points"])

    # The actuals came from the labelling service, actual_delay_s (story time) after the predictions.
    database = server.database()
    with database.session() as session:
        rows = session.execute(
            select(DataObject.trace_pk, DataObject.ref, DataObject.ts).where(
                DataObject.project_id == "demo", DataObject.ref.in_(["price_pred", "price"])
            )
        ).all()
    database.dispose()
    at: dict[int, dict[str, Any]] = {}
    for trace_pk, ref, moment in rows:
        at.setdefault(trace_pk, {})[ref] = moment
    labelled = [t for t in at.values() if len(t) == 2]
    delay = story.LiveStory().actual_delay_s / SPEED
    assert labelled and len(labelled) < len(at)  # the newest predictions wait for their actuals
    assert min((t["price"] - t["price_pred"]).total_seconds() for t in labelled) >= delay - 1.0
    print(f"demo: up in {up_s:.1f} s, issues open {opened_s:.1f} s after start (speed {SPEED})")


def run_cli(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = server.environment()
    result = subprocess.run(
        [sys.executable, "-m", "raymon.cli", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env={**env, "PATH": os.environ.get("PATH", "")},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_demo_reset_removes_exactly_the_demo_s_data_and_the_demo_starts_afresh(make_server: Any) -> None:
    server = make_server("--demo", RAYMON_DEMO_SPEED="5")
    first_password = LOGIN_RE.search(server.log()).group(1)  # type: ignore[union-attr]
    other = server.new_project("Other")
    pid = other.project_id
    events = [text(pid, "t1"), tags(pid, "t1", {"client": "zillow"}), obj(pid, "t1", "big", "x" * 70_000)]
    with server.client(other.admin_key) as client:
        assert client.post(f"/api/v1/projects/{pid}/ingest", json=events).json()["accepted"] == 3
    wait_for("demo traffic", lambda: demo_traces(server) >= 50)
    server.stop()
    other_before = counts(server, pid)
    other_keys = scalar(server, select(func.count()).select_from(ApiKey).where(ApiKey.project_id == pid))

    out = run_cli(server, "demo", "reset").stdout
    assert out.startswith("deleted the demo project 'demo': ") and "traces" in out
    assert f"deleted the demo user {DEMO_USER_EMAIL}" in out
    for model in (Trace, DataObject, ReduceResult, Issue, Manifest, Profile, ApiKey, Membership):
        assert scalar(server, select(func.count()).select_from(model).where(model.project_id == "demo")) == 0
    assert scalar(server, select(func.count()).where(Project.id == "demo")) == 0
    assert not authenticates(server, first_password)
    assert counts(server, pid) == other_before and other_before["objects"] == 1
    assert (
        scalar(server, select(func.count()).select_from(ApiKey).where(ApiKey.project_id == pid)) == other_keys
    )
    store_key = scalar(server, select(DataObject.store_key).where(DataObject.project_id == pid))
    assert store_key and (server.data_dir / "objects" / store_key).is_file()  # its big object's file stays
    assert "no demo project 'demo' here" in run_cli(server, "demo", "reset").stdout

    server.start("--demo", "--log-level", "warning")
    second = server.log().split("raymon: demo project")[-1]
    password = LOGIN_RE.search(second).group(1)  # type: ignore[union-attr]
    assert KEY_RE.search(second) and password != first_password
    assert authenticates(server, password)
    wait_for("demo traffic after the reset", lambda: demo_traces(server) > 0)
