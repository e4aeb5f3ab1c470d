"""The demo's story, set-up and reset, on a real database (SQLite and PostgreSQL) through a ``Backend``.

The story's timeline is pure (``LiveStory``). ``start_demo`` is idempotent except for the replay's
own keys; ``reset_demo`` deletes the demo project with every row and object-store file of it and
the demo user, and nothing of another project: proved against a second project that has the same
kinds of data (traces, large objects, a profile, a manifest, reduce results, issues, jobs, keys,
members), both engines' work done by ``Worker.run_due``. The live process is in tests/server/test_demo.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import raymon.types as rt
from raymon.server.backend import Backend, build_backend
from raymon.server.demo import story
from raymon.server.engine.runtime import build_worker
from raymon.server.services import auth, demo, manifests, profiles
from raymon.server.services.ingest import ingest_records
from raymon.server.settings import Settings
from raymon.server.store import accounts
from raymon.server.store import models as m
from raymon.wire import object_event

OTHER = "other"
INIT_EMAIL = "ops@example.com"
# Every table with a project_id column, and how to count a project's rows in the others.
PROJECT_TABLES: dict[str, Any] = {
    "traces": m.Trace,
    "tags": m.Tag,
    "texts": m.TextLine,
    "objects": m.DataObject,
    "events": m.IngestedEvent,
    "profiles": m.Profile,
    "manifests": m.Manifest,
    "reducer_states": m.ReducerState,
    "reduce_results": m.ReduceResult,
    "issues": m.Issue,
    "issue_history": m.IssueHistory,
    "jobs": m.Job,
    "mapper_runs": m.MapperRun,
    "api_keys": m.ApiKey,
    "memberships": m.Membership,
    "invitations": m.Invitation,
}


def counts(backend: Backend, project_id: str) -> dict[str, int]:
    with backend.database.session() as session:
        found = {
            name: int(
                session.scalar(select(func.count()).select_from(model).where(model.project_id == project_id))
                or 0
            )
            for name, model in PROJECT_TABLES.items()
        }
        found["projects"] = int(session.scalar(select(func.count()).where(m.Project.id == project_id)) or 0)
    return found


@pytest.fixture
def demo_backend(backend: str, postgres_databases, tmp_path: Path) -> Iterator[Backend]:  # type: ignore[no-untyped-def]
    url = postgres_databases.create() if backend == "postgresql" else ""
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        inline_object_max_bytes=1024,  # the large objects below go to the object store
        init_project_id="ops",
        init_api_key="rmn_" + "abcdefghijklmnopqrstuvwxyz0123456789",
        init_user_email=INIT_EMAIL,
        init_user_password="a long password",
    )
    built = build_backend(settings)
    built.prepare()
    yield built
    built.close()
    if url:
        postgres_databases.drop(url)


# --- the story -----------------------------------------------------------------------------------


def test_zillow_runs_v2_from_the_update_on_and_the_story_starts_again_each_cycle() -> None:
    live = story.LiveStory(update_at=30, cycle_s=100)
    requests = []
    for request in live.requests("run"):
        if request.at >= 250:
            break
        requests.append(request)
    zillow = [r for r in requests if r.client == story.BROKEN_CLIENT]
    assert {r.app for r in zillow if r.at % 100 < 30} == {"v1"}
    assert {r.app for r in zillow if r.at % 100 >= 30} == {"v2"}
    v2 = [r for r in zillow if r.app == "v2"]
    assert all(
        float(r.request["GrLivArea"].iloc[0]) == 0 == float(r.request["LotFrontage"].iloc[0]) for r in v2
    )
    healthy = [r for r in requests if r.client != story.BROKEN_CLIENT]
    assert {r.app for r in healthy} == {"v1"}
    assert all(float(r.request["GrLivArea"].iloc[0]) > 0 for r in healthy)
    # Every client at the same rate, in time order; trace ids unique and naming the client and run.
    assert [r.at for r in requests] == sorted(r.at for r in requests)
    per_client = {c: sum(r.client == c for r in requests) for c in live.clients}
    assert (
        set(per_client.values()) == {250 * live.per_client_per_s}
        or max(per_client.values()) - min(per_client.values()) <= 1
    )
    assert len({r.trace_id for r in requests}) == len(requests)
    assert all(r.trace_id.startswith(f"{r.client}-run-") for r in requests)


def test_the_profile_s_houses_are_not_sent_and_sothebys_sends_the_expensive_ones() -> None:
    training, holdout = story.training_houses(), story.holdout_houses()
    assert set(training["Id"]).isdisjoint(holdout["Id"])
    assert len(training) + len(holdout) == 992 and len(training) == round(992 * story.TRAINING_SHARE)
    expensive_prices = set(story.expensive_houses()["SalePrice"])
    holdout_prices = set(holdout["SalePrice"])
    sent = [r for _, r in zip(range(400), story.LiveStory().requests("x"), strict=False)]
    assert {r.price for r in sent if r.client == story.EXPENSIVE_CLIENT} <= expensive_prices
    assert {r.price for r in sent if r.client != story.EXPENSIVE_CLIENT} <= holdout_prices


# --- set-up --------------------------------------------------------------------------------------


def test_start_demo_makes_the_project_login_keys_profile_and_manifest_once(demo_backend: Backend) -> None:
    first = demo.start_demo(demo_backend)
    assert first.created and first.key and first.password and first.manifest_applied
    with demo_backend.reading() as session:
        user = auth.authenticate_user(session, demo.DEMO_USER_EMAIL, first.password)
        assert user is not None and accounts.role_of(session, user.id, "demo") == "admin"
        init_user = accounts.user_by_email(session, INIT_EMAIL)
        assert init_user is not None and accounts.role_of(session, init_user.id, "demo") == "admin"
    assert auth.principal_for_key(demo_backend, first.key).allows("demo", "read")  # type: ignore[union-attr]
    for replay_key in (first.pricing_key, first.labelling_key):
        principal = auth.principal_for_key(demo_backend, replay_key)
        assert principal is not None and principal.grants == {"demo": frozenset({"ingest"})}
    assert "profile_eval" in (manifests.current_text(demo_backend, "demo") or "")
    assert [p["ref"] for p in profiles.list_profiles(demo_backend, "demo")] == [story.PROFILE_REF]

    second = demo.start_demo(demo_backend)
    assert not second.created and second.key is None and second.password is None
    assert not second.manifest_applied
    assert second.profile.to_jcr() == profiles.get_profile(demo_backend, "demo", story.PROFILE_REF)
    assert auth.principal_for_key(demo_backend, first.key) is not None  # the printed key still works
    # The replay's keys of the first start are revoked; only the new ones (and "demo") are active.
    assert auth.principal_for_key(demo_backend, first.pricing_key) is None
    assert auth.principal_for_key(demo_backend, first.labelling_key) is None
    active = sorted(k.name for k in auth.keys(demo_backend, "demo") if k.revoked_at is None)
    assert active == sorted([demo.DEMO_KEY_NAME, demo.PRICING_KEY_NAME, demo.LABELLING_KEY_NAME])


def test_an_edited_demo_manifest_is_kept_at_the_next_start(demo_backend: Backend) -> None:
    demo.start_demo(demo_backend)
    edited = story.DEMO_MANIFEST.format(project_id="demo").replace(
        f"reducer_interval_s: {story.DEMO_INTERVAL_S}", "reducer_interval_s: 90"
    )
    manifests.apply_manifest(demo_backend, "demo", edited)
    demo.start_demo(demo_backend)
    assert "reducer_interval_s: 90" in (manifests.current_text(demo_backend, "demo") or "")


# --- reset ---------------------------------------------------------------------------------------


def _traffic(backend: Backend, project_id: str, start: demo.DemoStart | None, n: int) -> None:
    """``n`` requests of the live story (zillow broken from the start) with their actuals, now."""
    training = story.training_houses()
    model = start.model if start else story.Model.fit(training)
    profile = start.profile if start else story.build_profile(training, model)
    now = datetime.now(UTC).replace(microsecond=0)
    events = []
    for _, request in zip(range(n), story.LiveStory(update_at=0).requests(project_id), strict=False):
        moment = now + timedelta(seconds=request.at / 100)
        events += story.pricing_events(
            project_id, profile, model, request.trace_id, request.client, request.app, request.request, moment
        )
        events += story.labelling_events(project_id, profile, request.trace_id, request.price, moment)
    big = rt.Native(["x" * 5000]).to_jcr()  # over inline_object_max_bytes: a file in the object store
    events.append(object_event(project_id, events[0]["trace_id"], "attachment", big))
    for begin in range(0, len(events), 1000):
        result = ingest_records(backend, project_id, events[begin : begin + 1000])
        assert not result.rejected, result.rejected[:3]


def _other_project(backend: Backend) -> None:
    """A second project with the same kinds of data as the demo: profile, manifest, traffic, keys, members."""
    auth.new_project(backend, "Other", OTHER)
    training = story.training_houses()
    model = story.Model.fit(training)
    profiles.create_profile(backend, OTHER, story.build_profile(training, model).to_jcr())
    manifests.apply_manifest(backend, OTHER, story.DEMO_MANIFEST.format(project_id=OTHER))
    auth.add_key(backend, OTHER, "ingest")
    auth.role_set(backend, INIT_EMAIL, OTHER, "viewer")
    _traffic(backend, OTHER, None, 240)


def _object_files(backend: Backend) -> set[Path]:
    return {p for p in Path(backend.settings.objects_dir).rglob("*") if p.is_file()}


def test_reset_deletes_the_demo_project_with_all_its_rows_and_files_and_nothing_of_another(
    demo_backend: Backend,
) -> None:
    start = demo.start_demo(demo_backend)
    _other_project(demo_backend)
    _traffic(demo_backend, "demo", start, 240)
    build_worker(demo_backend).run_due()  # mappers, reduce passes, issues: both projects
    before_demo, before_other = counts(demo_backend, "demo"), counts(demo_backend, OTHER)
    kinds = (
        "traces",
        "tags",
        "objects",
        "reduce_results",
        "issues",
        "manifests",
        "profiles",
        "jobs",
        "mapper_runs",
    )
    for name in kinds:
        assert before_demo[name] > 0 and before_other[name] > 0, (name, before_demo, before_other)
    with demo_backend.reading() as session:
        other_files = {
            Path(demo_backend.settings.objects_dir) / row
            for row in session.scalars(
                select(m.DataObject.store_key).where(
                    m.DataObject.project_id == OTHER, m.DataObject.store_key.is_not(None)
                )
            )
        }
    assert other_files and other_files < _object_files(demo_backend)

    reset = demo.reset_demo(demo_backend)

    assert reset.found and reset.user_deleted
    assert reset.deleted["traces"] == before_demo["traces"] and reset.deleted["projects"] == 1
    assert counts(demo_backend, "demo") == dict.fromkeys(before_demo, 0)
    assert counts(demo_backend, OTHER) == before_other
    assert _object_files(demo_backend) == other_files  # the demo's large objects' files are gone too
    with demo_backend.reading() as session:
        assert accounts.user_by_email(session, demo.DEMO_USER_EMAIL) is None
        init_user = accounts.user_by_email(session, INIT_EMAIL)
        assert init_user is not None and accounts.roles_of_user(session, init_user.id) == {
            "ops": "admin",
            OTHER: "viewer",
        }
    assert manifests.current(demo_backend, "demo") is None

    again = demo.start_demo(demo_backend)  # the demo starts afresh
    assert again.created and again.key and again.password and again.manifest_applied
    assert demo.reset_demo(demo_backend).found
    assert not demo.reset_demo(demo_backend).found  # nothing left to delete: still no error


def test_reset_keeps_a_demo_user_another_project_gave_a_role(demo_backend: Backend) -> None:
    demo.start_demo(demo_backend)
    auth.new_project(demo_backend, "Other", OTHER)
    auth.role_set(demo_backend, demo.DEMO_USER_EMAIL, OTHER, "viewer")
    reset = demo.reset_demo(demo_backend)
    assert reset.found and not reset.user_deleted
    with demo_backend.reading() as session:
        user = accounts.user_by_email(session, demo.DEMO_USER_EMAIL)
        assert user is not None and accounts.roles_of_user(session, user.id) == {OTHER: "viewer"}
    again = demo.start_demo(demo_backend)
    assert again.password is None  # the user kept their password; they are the demo's admin again
    with demo_backend.reading() as session:
        assert accounts.role_of(session, user.id, "demo") == "admin"


# --- the replay, without a server ------------------------------------------------------------------


def test_a_replay_that_fell_behind_skips_what_it_missed_and_survives_an_unreachable_server() -> None:
    import socket

    from raymon.server.demo.replay import Replay

    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    training = story.training_houses()
    model = story.Model.fit(training)
    live = story.LiveStory(per_client_per_s=1.0, actual_delay_s=5.0)
    replay = Replay(
        f"http://127.0.0.1:{port}",
        "demo",
        "k1",
        "k2",
        story.build_profile(training, model),
        model,
        live,
        max_lag_s=10,
    )
    replay.step(100.0)  # a stall of 100 story seconds: only the last 10 s are sent, not a burst
    assert replay.stats.skipped == 4 * 90
    assert replay.stats.traces == 41  # a request every 0.25 s from 90.0 up to 100.0, both included
    assert replay.stats.failed_batches == 1 and replay.stats.actuals == 0  # refused: counted, no exception
    replay.step(105.0)  # the actuals come actual_delay_s after their predictions were sent
    assert replay.stats.actuals == 41
    replay.stop()


def test_the_replay_s_own_accepted_batches_are_left_out_of_the_access_log() -> None:
    import logging

    from raymon.server.demo.replay import QuietReplayAccess

    quiet = QuietReplayAccess("demo")

    def line(client: str, method: str, path: str, status: int) -> logging.LogRecord:
        return logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            "",
            0,
            '%s - "%s %s HTTP/%s" %d',
            (client, method, path, "1.1", status),
            None,
        )

    assert not quiet.filter(line("127.0.0.1:5000", "POST", "/api/v1/projects/demo/ingest", 200))
    assert quiet.filter(line("127.0.0.1:5000", "POST", "/api/v1/projects/demo/ingest", 422))
    assert quiet.filter(line("10.0.0.7:5000", "POST", "/api/v1/projects/demo/ingest", 200))
    assert quiet.filter(line("127.0.0.1:5000", "POST", "/api/v1/projects/other/ingest", 200))
    assert quiet.filter(line("127.0.0.1:5000", "GET", "/api/v1/projects/demo/issues", 200))
