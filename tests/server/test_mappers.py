"""Mappers run once per (trace, mapper) when the last of their inputs is stored, whatever the order.

Real databases (SQLite and PostgreSQL), the real ingest path (``ingest_records``) enqueueing the
map jobs in its write transaction, and the real ``handle_map`` run by a stand-in worker
(``mappers_context``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mappers_context import Outcomes, jobs_of, pending_jobs, plugins_with, run_jobs, run_one
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

import raymon.types as rt
from raymon.server.backend import Backend, build_backend
from raymon.server.engine.jobs import PermanentFailure
from raymon.server.engine.manifest import Actions, Manifest, MapAction
from raymon.server.engine.mappers import handle_map, map_jobs, mapper_group
from raymon.server.hookspecs import Mapper, hookimpl
from raymon.server.services import auth
from raymon.server.services.ingest import ingest_records
from raymon.server.settings import Settings
from raymon.server.store import mapper_runs
from raymon.server.store.models import DataObject, Tag, Trace
from raymon.server.store.writes import NewObject
from raymon.wire import Event, object_event, tags_event

PID = "p"


class AddMappers:
    """Test mappers: ``add`` sums inputs a and b; ``flaky`` fails ``fail_times`` first; ``bad`` answers junk."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.fail_times = 0
        self.permanent = False

    def _add(self, inputs: dict[str, Any], params: dict[str, Any]) -> list[Any]:
        with self.lock:
            self.calls.append(params["trace_id"])
        return [
            {
                "name": "sum",
                "value": inputs["a"].data + inputs["b"].data,
                "type": "metric",
                "group": "ignored",
            }
        ]

    def _flaky(self, inputs: dict[str, Any], params: dict[str, Any]) -> list[Any]:
        with self.lock:
            self.calls.append(params["trace_id"])
            failing = len(self.calls) <= self.fail_times
        if self.permanent:
            raise PermanentFailure("this input can never be mapped")
        if failing:
            raise ZeroDivisionError(f"flaky failure number {len(self.calls)}")
        return [rt_tag("ok", 1)]

    def _bad(self, inputs: dict[str, Any], params: dict[str, Any]) -> Any:
        return [{"name": "no good\x00name", "value": 1}]

    @hookimpl
    def register_mappers(self) -> list[Mapper]:
        return [Mapper("add", self._add), Mapper("flaky", self._flaky), Mapper("bad", self._bad)]


def rt_tag(name: str, value: Any) -> Any:
    from raymon.tags import Tag as RTag

    return RTag(name, value, "metric")


def manifest(*actions: MapAction) -> Manifest:
    return Manifest(project_id=PID, actions=Actions(map=list(actions)))


SUMMER = MapAction(name="summer", mapper_type="add", inputs={"a": "left", "b": "right"})


@pytest.fixture
def database_url(backend: str, postgres_databases: Any, tmp_path: Path) -> Iterator[str]:
    if backend == "postgresql":
        url = postgres_databases.create()
        yield url
        postgres_databases.drop(url)
    else:
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"


@pytest.fixture
def mappers() -> AddMappers:
    return AddMappers()


class Lookups:
    """The manifest in force, and how often the ingest path and the engine asked for it."""

    def __init__(self, current: Manifest | None) -> None:
        self.current = current
        self.asked = 0

    def __call__(self, backend: Backend, project_id: str) -> Manifest | None:
        self.asked += 1
        return self.current if project_id == PID else None


@pytest.fixture
def engine(database_url: str, tmp_path: Path, mappers: AddMappers) -> Iterator[tuple[Backend, Lookups]]:
    backend = build_backend(
        Settings(data_dir=tmp_path, database_url=database_url), plugins=plugins_with(mappers)
    )
    backend.database.migrate()
    with backend.writing() as session:
        auth.create_project(session, PID, PID)
    lookups = Lookups(manifest(SUMMER))
    backend.current_manifest = lookups
    yield backend, lookups
    backend.close()


def obj(trace: str, ref: str, value: Any) -> Event:
    return object_event(PID, trace, ref, rt.Native(value).to_jcr())


def tags_of(backend: Backend, trace_id: str) -> dict[str, tuple[Any, ...]]:
    with backend.reading() as session:
        rows = session.execute(
            select(Tag.name, Tag.type, Tag.grp, Tag.value_num, Tag.value_text)
            .join(Trace, Trace.id == Tag.trace_pk)
            .where(Trace.project_id == PID, Trace.trace_id == trace_id)
        ).all()
    return {r.name: (r.type, r.grp, r.value_num, r.value_text) for r in rows}


def runs_of(backend: Backend, trace_id: str) -> list[mapper_runs.MapperRunRow]:
    with backend.reading() as session:
        return mapper_runs.runs_of_trace(session, PID, trace_id)


def test_the_trigger_makes_one_job_per_write_and_mapper_taking_a_ref_of_the_new_objects() -> None:
    other = MapAction(name="twice", mapper_type="add", inputs={"a": "left", "b": "left"})
    objects = [
        NewObject("e2", "t1", 7, "right"),
        NewObject("e1", "t1", 7, "left"),
        NewObject("e3", "t1", 7, "else"),
        NewObject("e4", "t2", 8, "right"),
    ]
    specs = {s.key: s for s in map_jobs(manifest(SUMMER, other), PID, objects)}
    assert sorted(specs) == [
        "map:p:summer:batch:e1",  # the write's two traces for summer: one job, named by the first object
        "map:p:twice:7:e1",  # one trace for twice (both inputs in one write): a job of that trace
    ]
    assert specs["map:p:summer:batch:e1"].payload == {"mapper": "summer", "traces": [[7, "t1"], [8, "t2"]]}
    assert specs["map:p:twice:7:e1"].payload == {
        "mapper": "twice",
        "trace_pk": 7,
        "trace_id": "t1",
        "object_id": "e1",
    }
    assert {s.kind for s in specs.values()} == {"map"} and all(s.project_id == PID for s in specs.values())
    assert map_jobs(manifest(), PID, objects) == [] and map_jobs(None, PID, objects) == []


def test_a_write_of_many_traces_makes_one_job_and_runs_the_mapper_on_each_ready_trace(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, _ = engine
    ingest_records(backend, PID, [obj(f"t{i}", "left", i) for i in range(5)])
    ingest_records(backend, PID, [obj(f"t{i}", "right", 10) for i in range(3)])  # t3, t4 wait for theirs
    assert [j.key.split(":")[3] for j in jobs_of(backend)] == ["batch", "batch"]
    run_jobs(backend, handle_map)
    assert sorted(mappers.calls) == ["t0", "t1", "t2"]
    assert [tags_of(backend, f"t{i}")["sum"][2] for i in range(3)] == [10.0, 11.0, 12.0]
    assert runs_of(backend, "t3") == [] and "sum" not in tags_of(backend, "t3")
    ingest_records(backend, PID, [obj("t3", "right", 10), obj("t4", "right", 10)])
    run_jobs(backend, handle_map)
    assert sorted(mappers.calls) == ["t0", "t1", "t2", "t3", "t4"]
    assert all(len(runs_of(backend, f"t{i}")) == 1 for i in range(5))


def test_a_trace_failing_in_a_batch_is_retried_on_its_own_job_and_the_rest_is_done(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, lookups = engine
    lookups.current = manifest(
        MapAction(name="flaky_one", mapper_type="flaky", inputs={"x": "left"}, max_attempts=2)
    )
    mappers.fail_times = 1  # the first call (t0) fails once
    ingest_records(backend, PID, [obj(f"t{i}", "left", 1) for i in range(3)])
    outcomes = run_jobs(backend, handle_map)
    assert outcomes.retried == [] and outcomes.parked == []
    batch, own = outcomes.done  # the batch job, then t0's own job
    assert batch.split(":")[3] == "batch" and own.split(":")[4].startswith("retry-")
    failed = mappers.calls[0]  # the batch's first trace, retried on its own job after the rest
    assert sorted(mappers.calls[:3]) == ["t0", "t1", "t2"] and mappers.calls[3:] == [failed]
    for i in range(3):
        [run] = runs_of(backend, f"t{i}")
        assert run.status == "done" and tags_of(backend, f"t{i}")["ok"][2] == 1.0
        assert run.attempt == (2 if f"t{i}" == failed else 1)  # the batch's try counted


def test_a_trace_failing_every_try_in_a_batch_and_on_its_own_job_gets_its_error_tag(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, lookups = engine
    lookups.current = manifest(
        MapAction(name="flaky_one", mapper_type="flaky", inputs={"x": "left"}, max_attempts=2)
    )
    mappers.fail_times = 100
    ingest_records(backend, PID, [obj(f"t{i}", "left", 1) for i in range(2)])
    run_jobs(backend, handle_map)
    assert sorted(mappers.calls) == ["t0", "t0", "t1", "t1"]  # max_attempts tries each, no more
    for i in range(2):
        [run] = runs_of(backend, f"t{i}")
        assert (run.status, run.attempt) == ("failed", 2)
        assert tags_of(backend, f"t{i}")["flaky_one_error"][3].startswith(
            "failed after 2 attempts: ZeroDivisionError"
        )


@pytest.mark.parametrize("order", [("left", "right"), ("right", "left")])
def test_a_mapper_runs_once_when_its_last_input_arrives_in_either_order(
    engine: tuple[Backend, Lookups], mappers: AddMappers, order: tuple[str, str]
) -> None:
    backend, _ = engine
    values = {"left": 2, "right": 40}
    first, second = order
    ingest_records(backend, PID, [obj("t1", first, values[first])])  # one logger, at request time
    run_jobs(backend, handle_map)
    assert "sum" not in tags_of(backend, "t1") and runs_of(backend, "t1") == [] and mappers.calls == []
    ingest_records(backend, PID, [obj("t1", second, values[second])])  # another logger, later
    outcomes = run_jobs(backend, handle_map)
    assert tags_of(backend, "t1")["sum"] == ("metric", "summer", 42.0, None)  # in the mapper's group
    assert mappers.calls == ["t1"] and outcomes.parked == [] and outcomes.retried == []
    assert [(r.mapper, r.status, r.n_tags) for r in runs_of(backend, "t1")] == [("summer", "done", 1)]
    assert [(key.rsplit(":", 1)[0], status) for key, status, _, _ in jobs_of(backend)] == [
        (f"map:p:summer:{runs_of(backend, 't1')[0].trace_pk}", "done")
    ] * 2  # one job per arriving input, both done


def test_both_inputs_in_one_batch_make_one_job_and_one_run(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, _ = engine
    ingest_records(backend, PID, [obj("t1", "left", 1), obj("t1", "right", 2), obj("t2", "left", 5)])
    run_jobs(backend, handle_map)
    assert len(jobs_of(backend)) == 1  # one for the write's two traces, t1's two inputs in it once
    assert (
        mappers.calls == ["t1"]
        and tags_of(backend, "t1")["sum"][2] == 3.0
        and "sum" not in tags_of(backend, "t2")
    )
    ingest_records(backend, PID, [obj("t2", "right", 5)])
    run_jobs(backend, handle_map)
    assert mappers.calls == ["t1", "t2"] and tags_of(backend, "t2")["sum"][2] == 10.0


def test_a_resent_input_neither_reruns_the_mapper_nor_changes_its_tags(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, _ = engine
    left, right = obj("t1", "left", 1), obj("t1", "right", 2)
    ingest_records(backend, PID, [left, right])
    run_jobs(backend, handle_map)
    ingest_records(backend, PID, [left, right])  # the same events again: duplicates, no job
    assert len(jobs_of(backend)) == 1
    ingest_records(backend, PID, [obj("t1", "right", 100)])  # a new object under an input ref: a job, a no-op
    outcomes = run_jobs(backend, handle_map)
    assert len(outcomes.done) == 1 and len(jobs_of(backend)) == 2
    assert mappers.calls == ["t1"] and tags_of(backend, "t1")["sum"][2] == 3.0
    assert len(runs_of(backend, "t1")) == 1


def test_only_objects_under_an_input_ref_make_jobs_and_a_batch_without_objects_asks_no_manifest(
    engine: tuple[Backend, Lookups],
) -> None:
    backend, lookups = engine
    ingest_records(
        backend, PID, [tags_event(PID, "t1", [{"name": "a", "value": 1, "type": "label", "group": None}])]
    )
    assert lookups.asked == 0  # the fast path: no objects, no manifest lookup
    ingest_records(backend, PID, [obj("t1", "unrelated", 1)])
    assert lookups.asked == 1 and jobs_of(backend) == []
    lookups.current = None  # no manifest at all
    ingest_records(backend, PID, [obj("t1", "left", 1), obj("t1", "right", 1)])
    assert jobs_of(backend) == []


def test_a_mapper_removed_from_the_manifest_before_its_job_runs_does_nothing(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, lookups = engine
    ingest_records(backend, PID, [obj("t1", "left", 1), obj("t1", "right", 2)])
    lookups.current = manifest()
    outcomes = run_jobs(backend, handle_map)
    assert len(outcomes.done) == 1 and mappers.calls == [] and runs_of(backend, "t1") == []


def test_a_failing_mapper_is_retried_then_succeeds(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, lookups = engine
    lookups.current = manifest(
        MapAction(name="flaky_one", mapper_type="flaky", inputs={"x": "left"}, max_attempts=3)
    )
    mappers.fail_times = 2
    ingest_records(backend, PID, [obj("t1", "left", 1)])
    outcomes = run_jobs(backend, handle_map)
    assert [reason.split(":")[0] for _, reason in outcomes.retried] == ["ZeroDivisionError"] * 2
    assert tags_of(backend, "t1")["ok"] == ("metric", "flaky_one", 1.0, None)
    assert "flaky_one_error" not in tags_of(backend, "t1")
    assert [(r.status, r.attempt) for r in runs_of(backend, "t1")] == [("done", 3)]


def test_a_mapper_failing_every_attempt_leaves_an_error_tag_and_a_failed_run(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, lookups = engine
    lookups.current = manifest(
        MapAction(name="flaky_one", mapper_type="flaky", inputs={"x": "left"}, max_attempts=2)
    )
    mappers.fail_times = 10
    ingest_records(backend, PID, [obj("t1", "left", 1)])
    outcomes = run_jobs(backend, handle_map)
    assert len(outcomes.retried) == 1 and outcomes.parked == [] and len(outcomes.done) == 1
    type_, group, _, text = tags_of(backend, "t1")["flaky_one_error"]
    assert (type_, group) == ("error", "flaky_one")
    assert text == "failed after 2 attempts: ZeroDivisionError: flaky failure number 2"
    [run] = runs_of(backend, "t1")
    assert (run.status, run.attempt, run.error) == ("failed", 2, text)
    assert mappers.calls == ["t1", "t1"]  # not retried forever


def test_a_permanent_failure_or_a_malformed_answer_is_recorded_at_once(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, lookups = engine
    lookups.current = manifest(
        MapAction(name="flaky_one", mapper_type="flaky", inputs={"x": "left"}),
        MapAction(name="junk", mapper_type="bad", inputs={"x": "left"}),
    )
    mappers.permanent = True
    ingest_records(backend, PID, [obj("t1", "left", 1)])
    outcomes = run_jobs(backend, handle_map)
    assert outcomes.retried == [] and len(outcomes.done) == 2
    tags = tags_of(backend, "t1")
    assert tags["flaky_one_error"][:2] == ("error", "flaky_one")
    assert tags["flaky_one_error"][3] == "this input can never be mapped"
    assert tags["junk_error"][3].startswith("mapper 'junk' answered a tag that is not valid:")
    assert {r.mapper: r.status for r in runs_of(backend, "t1")} == {"flaky_one": "failed", "junk": "failed"}


def test_an_input_of_an_unregistered_data_type_is_never_loaded_and_is_recorded_as_an_error(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, _ = engine
    evil = object_event(PID, "t1", "left", {"type": "os.system", "params": {"data": "echo hi"}})
    ingest_records(backend, PID, [evil, obj("t1", "right", 1)])
    run_jobs(backend, handle_map)
    text = tags_of(backend, "t1")["summer_error"][3]
    assert text.startswith("input 'a' (ref 'left', object ") and "not registered" in text
    assert mappers.calls == []


def test_the_mapper_group_is_the_profile_for_an_action_naming_one_else_its_name() -> None:
    assert mapper_group(SUMMER) == "summer"
    pe = MapAction(
        name="pe", mapper_type="profile_eval", profile="houses@1.0.0", inputs={"output": "o", "actual": "a"}
    )
    assert mapper_group(pe) == "houses@1.0.0"


def test_two_concurrent_ingests_of_a_traces_two_inputs_run_its_mapper_exactly_once(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    """Each trace's inputs come in two transactions at once (two loggers, two servers): never missed, never twice."""
    backend, _ = engine
    n = 30
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def logger(ref: str, value: int) -> None:
        try:
            for i in range(n):
                barrier.wait()
                ingest_records(backend, PID, [obj(f"t{i}", ref, value)])
        except BaseException as exc:  # noqa: BLE001 (the test reports it)
            errors.append(exc)

    threads = [
        threading.Thread(target=logger, args=("left", 1)),
        threading.Thread(target=logger, args=("right", 2)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(jobs_of(backend)) == 2 * n
    outcomes = run_jobs(backend, handle_map, threads=2)  # two workers take the jobs at once
    assert outcomes.parked == [] and len(outcomes.done) == 2 * n
    for i in range(n):
        assert tags_of(backend, f"t{i}")["sum"][2] == 3.0
        assert len(runs_of(backend, f"t{i}")) == 1
    assert sorted(set(mappers.calls)) == sorted(f"t{i}" for i in range(n))


def test_two_workers_running_both_batch_jobs_of_the_same_traces_at_once_write_their_tags_once(
    engine: tuple[Backend, Lookups], mappers: AddMappers
) -> None:
    backend, _ = engine
    n = 15
    ingest_records(backend, PID, [obj(f"t{i}", "left", i) for i in range(n)])
    ingest_records(backend, PID, [obj(f"t{i}", "right", 1) for i in range(n)])
    jobs = pending_jobs(backend, "map")
    assert len(jobs) == 2 and all(len(job.payload["traces"]) == n for job in jobs)
    outcomes = Outcomes()
    barrier = threading.Barrier(2)  # both jobs see both inputs of every trace: run them side by side

    def work(job: Any) -> None:
        barrier.wait()
        run_one(backend, handle_map, job, outcomes)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.parked == [] and len(outcomes.done) == 2
    for i in range(n):
        [run] = runs_of(backend, f"t{i}")
        assert run.status == "done" and tags_of(backend, f"t{i}")["sum"][2] == i + 1.0


def test_an_input_and_its_map_job_commit_together_or_not_at_all(engine: tuple[Backend, Lookups]) -> None:
    """The job is enqueued in the ingest transaction: if it cannot be written, the object is not stored either."""
    backend, _ = engine
    with backend.writing() as session:
        session.execute(text("ALTER TABLE jobs RENAME TO jobs_away"))
    with pytest.raises(DBAPIError):
        ingest_records(backend, PID, [obj("t1", "left", 1)])
    with backend.writing() as session:
        session.execute(text("ALTER TABLE jobs_away RENAME TO jobs"))
    with backend.reading() as session:
        assert session.execute(select(func.count()).select_from(DataObject)).scalar() == 0
    ingest_records(backend, PID, [obj("t1", "left", 1)])  # sent again by the logger: stored, with its job
    assert len(jobs_of(backend)) == 1


def test_recording_a_batch_of_runs_answers_only_the_traces_not_run_before_and_keeps_the_first_run(
    engine: tuple[Backend, Lookups],
) -> None:
    backend, _ = engine
    ingest_records(backend, PID, [obj(f"t{i}", "left", i) for i in range(4)])
    with backend.reading() as session:
        pks = dict(session.execute(select(Trace.trace_id, Trace.id).where(Trace.project_id == PID)).all())
    first_at = backend.clock()
    with backend.writing() as session:
        first = mapper_runs.record_many(
            session,
            PID,
            "summer",
            [
                mapper_runs.NewRun(pks["t2"], "done", 3, None),
                mapper_runs.NewRun(pks["t0"], "failed", 1, "boom"),
            ],
            attempt=2,
            finished_at=first_at,
        )
    assert first == {pks["t0"], pks["t2"]}
    with backend.writing() as session:
        again = mapper_runs.record_many(
            session,
            PID,
            "summer",
            [mapper_runs.NewRun(pks[f"t{i}"], "done", 9, None) for i in range(4)],
            attempt=1,
            finished_at=backend.clock(),
        )
        assert mapper_runs.record_many(session, PID, "summer", [], attempt=1, finished_at=first_at) == set()
    assert again == {pks["t1"], pks["t3"]}
    [t0] = runs_of(backend, "t0")
    assert (t0.status, t0.n_tags, t0.attempt, t0.error, t0.finished_at) == ("failed", 1, 2, "boom", first_at)
    [t2] = runs_of(backend, "t2")
    assert (t2.status, t2.n_tags, t2.error) == ("done", 3, None)
    assert [(r.status, r.n_tags) for i in (1, 3) for r in runs_of(backend, f"t{i}")] == [("done", 9)] * 2
