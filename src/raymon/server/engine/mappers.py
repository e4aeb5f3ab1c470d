"""Mappers: which map jobs a batch of new objects makes, and the ``map`` job that runs a mapper on a trace.

The trigger (``MapTrigger``, ``map_jobs``) runs inside the ingest write transaction: for the
traces with a new object whose ref is an input of a map action it answers one job per mapper
and write: of one trace, keyed ``map:{project}:{mapper}:{trace_pk}:{object id}`` (the first such
object of the write), or of several (a *batch*: a request's traces, up to ``MAP_BATCH_MAX``),
keyed ``map:{project}:{mapper}:batch:{object id}``. The ingest path enqueues them in that same
transaction, so a crash can never store an input and lose its trigger; one row per request
instead of one per trace keeps the trigger cheap for ingest (bench/README.md, "Engine"). The
job (``handle_map``) checks, per trace, whether all the mapper's inputs are on it *when it runs*:

- never missed: the job of the last input to commit runs after every input is committed, so at
  least one job of a (trace, mapper) sees them all, in whatever order and from whichever
  logger they came;
- exactly once: the run writes a ``mapper_runs`` row (unique per project, mapper and trace) in
  the same transaction as the mapper's tags (``ctx.finishing()``), so a second job that sees
  all inputs too (a re-sent input, two inputs committed at once, two workers) writes nothing.

A batch job reads its traces' runs and inputs in two queries and writes all its runs, their
tags and its completion in one transaction. A trace whose mapper fails there in a way retrying
may cure gets a job of its own (its tries so far counted), so the rest of the batch is done.

A mapper's tags go on the trace in the *mapper's group*: the profile's ``name@version`` for an
action that names a profile (``profile_eval``: the profile reducer finds its eval tags next to
the validation tags), else the action's name. A mapper that keeps failing (it raised, a
webhook answered 5xx) is retried up to the action's ``max_attempts``; then, or at once for a
failure retrying cannot cure (an unknown data type, a malformed answer), the trace gets an
error tag ``<action name>_error`` in the mapper's group and the run is recorded as failed.

This module decides; the SQL is ``store.data_objects``, ``store.mapper_runs`` and
``store.writes``, the mapper functions come from the plugins (``hookspecs.Mapper``). It never
logs a webhook's URL or secret.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from raymon.exceptions import ProfileNameError
from raymon.profile_names import parse_profile_ref
from raymon.server.engine.jobs import JobContext, JobKind, JobSpec, PermanentFailure, RetryLater
from raymon.server.engine.manifest import Manifest, MapAction
from raymon.server.engine.worker import backoff_s
from raymon.server.store import data_objects, mapper_runs, profiles
from raymon.server.store import jobs as job_store
from raymon.server.store.writes import NewObject, write_tags_on_traces
from raymon.tags import Tag

if TYPE_CHECKING:
    from raymon.profiling.profile import ModelProfile
    from raymon.server.backend import Backend
    from raymon.server.store.db import Session

log = logging.getLogger("raymon.server.engine.mappers")

MAP_JOB = "map"  # the job kind
MAX_ATTEMPTS_CEILING = 50  # MapAction.max_attempts' upper bound: the kind's own limit stays above it
ERROR_TEXT_MAX = 500  # characters of an error kept in the error tag (a tag's text holds 1,024)
PROFILE_CACHE_SIZE = 64  # loaded profiles kept per backend
MAP_BATCH_MAX = 200  # traces per map job of one write (a request's traces for one mapper)
BATCH_HEARTBEAT_S = 10.0  # a batch job extends its lease this often while it runs
_rng = random.Random()


# --- the trigger ------------------------------------------------------------------------------


def job_key(project_id: str, mapper: str, trace_pk: int, object_id: str) -> str:
    """The map job of one arriving input: unique, so a re-enqueue of the same object inserts nothing."""
    return f"{MAP_JOB}:{project_id}:{mapper}:{trace_pk}:{object_id}"


class MapTrigger:
    """The map actions of one manifest, by input ref: which jobs new objects make."""

    def __init__(self, actions: Sequence[MapAction]) -> None:
        by_ref: dict[str, list[str]] = {}
        for action in actions:
            for ref in sorted(set(action.inputs.values())):
                by_ref.setdefault(ref, []).append(action.name)
        self._mappers_by_ref = by_ref
        self.refs: frozenset[str] = frozenset(by_ref)
        """Every ref that is an input of some mapper (only objects under these make jobs)."""

    def jobs(self, project_id: str, objects: Iterable[NewObject]) -> list[JobSpec]:
        """The ``map`` jobs of one write: per mapper, one job for the traces of its new inputs.

        Objects of one write commit together, so one job per (trace, mapper) per write sees what
        any of them would: both inputs in one batch make one job, not two. A mapper's traces of
        one write go in one job (a *batch*, up to ``MAP_BATCH_MAX`` traces, named by its first
        object), so a request of a hundred traces enqueues one row, not a hundred; a write with
        one trace for a mapper makes a job of that trace alone (``job_key``).
        """
        traces_of: dict[str, dict[int, NewObject]] = {}  # mapper -> trace_pk -> first object
        for obj in sorted(objects, key=lambda o: o.obj_id):
            for mapper in self._mappers_by_ref.get(obj.ref, ()):
                traces_of.setdefault(mapper, {}).setdefault(obj.trace_pk, obj)
        specs = []
        for mapper, firsts in traces_of.items():
            ordered = list(firsts.values())
            for start in range(0, len(ordered), MAP_BATCH_MAX):
                chunk = ordered[start : start + MAP_BATCH_MAX]
                specs.append(
                    _batch_spec(project_id, mapper, chunk)
                    if len(chunk) > 1
                    else _trace_spec(project_id, mapper, chunk[0])
                )
        return specs


def _trace_spec(project_id: str, mapper: str, obj: NewObject, **extra: Any) -> JobSpec:
    return JobSpec(
        kind=MAP_JOB,
        key=job_key(project_id, mapper, obj.trace_pk, obj.obj_id),
        project_id=project_id,
        payload={
            "mapper": mapper,
            "trace_pk": obj.trace_pk,
            "trace_id": obj.trace_id,
            "object_id": obj.obj_id,
            **extra,
        },
    )


def batch_job_key(project_id: str, mapper: str, first_object_id: str) -> str:
    """The map job of one write's traces for a mapper, named by the first of its objects."""
    return f"{MAP_JOB}:{project_id}:{mapper}:batch:{first_object_id}"


def _batch_spec(project_id: str, mapper: str, firsts: Sequence[NewObject]) -> JobSpec:
    return JobSpec(
        kind=MAP_JOB,
        key=batch_job_key(project_id, mapper, firsts[0].obj_id),
        project_id=project_id,
        payload={"mapper": mapper, "traces": [[o.trace_pk, o.trace_id] for o in firsts]},
    )


def map_trigger(manifest: Manifest | None) -> MapTrigger | None:
    """The trigger of a manifest's map actions; ``None`` when it has none (ingest then does nothing extra)."""
    if manifest is None or not manifest.actions.map:
        return None
    return MapTrigger(manifest.actions.map)


def map_jobs(manifest: Manifest | None, project_id: str, objects: Iterable[NewObject]) -> list[JobSpec]:
    """The map jobs new objects of ``project_id`` make under ``manifest`` (to enqueue in their transaction)."""
    trigger = map_trigger(manifest)
    return [] if trigger is None else trigger.jobs(project_id, objects)


def current_manifest(backend: Backend, project_id: str) -> Manifest | None:
    """The manifest in force for the project (``Backend.current_manifest``; None: no manifest)."""
    lookup = backend.current_manifest
    return None if lookup is None else lookup(backend, project_id)


# --- the job ----------------------------------------------------------------------------------


def mapper_group(action: MapAction) -> str:
    """The group of a mapper's tags: the profile's ``name@version`` when the action names one, else its name."""
    return action.profile or action.name


def error_tag_name(action: MapAction) -> str:
    return f"{action.name}_error"


class MapperFailed(Exception):
    """The mapper cannot succeed on this trace by retrying (record the error on the trace now)."""


def handle_map(ctx: JobContext) -> None:
    """Run one mapper on the job's trace(s) where all its inputs are stored and it has not run yet (see the module doc)."""
    backend, job = ctx.backend, ctx.job
    project_id = job.project_id or ""
    mapper_name = str(job.payload["mapper"])
    manifest = current_manifest(backend, project_id)
    action = _action(manifest, mapper_name)
    if action is None:  # the mapper left the manifest since the input arrived: nothing to do
        with ctx.finishing():
            return
    if "traces" in job.payload:
        _handle_batch(ctx, project_id, action, [(int(pk), str(tid)) for pk, tid in job.payload["traces"]])
        return
    trace_pk = int(job.payload["trace_pk"])
    trace_id = str(job.payload["trace_id"])
    # a trace's own job may continue the tries of a batch it failed in (``tries_before``)
    attempt = job.attempt + int(job.payload.get("tries_before", 0))
    with backend.reading() as session:
        if mapper_runs.has_run(session, project_id, mapper_name, trace_pk):
            objects = None
        else:
            objects = data_objects.latest_of_refs(session, project_id, trace_pk, set(action.inputs.values()))
    if objects is None or any(ref not in objects for ref in action.inputs.values()):
        with ctx.finishing():  # ran already, or an input is still to come (its own job will run then)
            return

    group = mapper_group(action)
    tags: list[dict[str, Any]]
    error: str | None = None
    try:
        tags = _run(
            backend, project_id, action, objects, group, _params(backend, project_id, action), trace_id
        )
    except MapperFailed as exc:
        error = str(exc)
    except Exception as exc:  # the mapper's own code: anything it raises is retried, then recorded
        reason = _reason(exc, action)
        if attempt < action.max_attempts:
            _log_retry(action, trace_id, project_id, attempt, reason)
            after_s = exc.after_s if isinstance(exc, RetryLater) else None
            raise RetryLater(reason, after_s) from None
        error = f"failed after {attempt} attempts: {reason}"
    if error is not None:
        tags = _failed_tags(action, error, trace_id, project_id, group)
        error = _redacted(error, action)
    now = backend.clock()
    with ctx.finishing() as session:
        _record(session, project_id, action, [(trace_pk, tags, error)], attempt, now)


def _handle_batch(
    ctx: JobContext, project_id: str, action: MapAction, traces: Sequence[tuple[int, str]]
) -> None:
    """A write's traces for one mapper: run it on each ready trace, record them all in one transaction.

    Reads which traces it ran on and their inputs in two queries, runs the mapper trace by
    trace (heartbeating the lease on long batches), then writes every run, its tags and the job's
    completion together. A trace whose mapper failed in a way a retry may cure gets a job of its
    own (``tries_before``: this attempt counts), retried after the kind's backoff, so one flaky
    trace holds up neither the batch nor the rest of its traces; a hopeless failure is recorded
    at once, as for one trace.
    """
    backend, job = ctx.backend, ctx.job
    refs = set(action.inputs.values())
    pks = [pk for pk, _ in traces]
    with backend.reading() as session:
        ran = mapper_runs.ran_among(session, project_id, action.name, pks)
        objects = data_objects.latest_of_refs_on_traces(
            session, project_id, [p for p in pks if p not in ran], refs
        )
    group = mapper_group(action)
    params = _params(backend, project_id, action) if objects else {}
    runs: list[tuple[int, list[dict[str, Any]], str | None]] = []
    retries: list[JobSpec] = []
    last_beat = time.monotonic()
    for trace_pk, trace_id in traces:
        inputs = objects.get(trace_pk, {})
        if trace_pk in ran or any(ref not in inputs for ref in refs):
            continue  # ran already, or an input is still to come (its own job will run then)
        error: str | None = None
        try:
            tags = _run(backend, project_id, action, inputs, group, params, trace_id)
        except MapperFailed as exc:
            error = str(exc)
        except Exception as exc:  # the mapper's own code: retried on a job of the trace's own
            reason = _reason(exc, action)
            if job.attempt < action.max_attempts:
                _log_retry(action, trace_id, project_id, job.attempt, reason)
                after_s = exc.after_s if isinstance(exc, RetryLater) else None
                delay = after_s if after_s is not None else backoff_s(MAP_JOB_KIND, job.attempt, _rng)
                first = NewObject(f"retry-{job.id}-{job.attempt}", trace_id, trace_pk, "")
                spec = _trace_spec(project_id, action.name, first, tries_before=job.attempt)
                retries.append(replace(spec, run_at=backend.clock() + timedelta(seconds=delay)))
                continue
            error = f"failed after {job.attempt} attempts: {reason}"
        if error is not None:
            tags = _failed_tags(action, error, trace_id, project_id, group)
            error = _redacted(error, action)
        runs.append((trace_pk, tags, error))
        if time.monotonic() - last_beat > BATCH_HEARTBEAT_S:
            ctx.heartbeat()
            last_beat = time.monotonic()
    now = backend.clock()
    with ctx.finishing() as session:
        _record(session, project_id, action, runs, job.attempt, now)
        if retries:
            job_store.enqueue(session, retries, now=now)


def _reason(exc: Exception, action: MapAction) -> str:
    return _redacted(
        f"{type(exc).__name__}: {exc}" if not isinstance(exc, RetryLater) else exc.reason, action
    )


def _log_retry(action: MapAction, trace_id: str, project_id: str, attempt: int, reason: str) -> None:
    log.warning(
        "mapper %s on trace %s of project %s failed (attempt %d of %d), retrying: %s",
        action.name,
        trace_id,
        project_id,
        attempt,
        action.max_attempts,
        reason,
    )


def _failed_tags(
    action: MapAction, error: str, trace_id: str, project_id: str, group: str
) -> list[dict[str, Any]]:
    error = _redacted(error, action)
    log.warning("mapper %s on trace %s of project %s failed: %s", action.name, trace_id, project_id, error)
    return [_error_tag(action, _cut(error), group)]


def _record(
    session: Session,
    project_id: str,
    action: MapAction,
    runs: Sequence[tuple[int, list[dict[str, Any]], str | None]],
    attempt: int,
    now: datetime,
) -> None:
    """The runs of (trace_pk, tags, error) and their tags, in one write for the batch.

    A trace another run of the mapper was recorded on first keeps that run's tags: its own are
    dropped (``mapper_runs.record_many``).
    """
    first = mapper_runs.record_many(
        session,
        project_id,
        action.name,
        [
            mapper_runs.NewRun(pk, "failed" if error is not None else "done", len(tags), error)
            for pk, tags, error in runs
        ],
        attempt=attempt,
        finished_at=now,
    )
    write_tags_on_traces(session, project_id, {pk: tags for pk, tags, _ in runs if pk in first}, now)


def _error_tag(action: MapAction, text: str, group: str) -> dict[str, Any]:
    """The error tag of a failed run; a name or group the tag rules refuse falls back to ``mapper_error``."""
    from raymon.exceptions import TagError

    try:
        return Tag(error_tag_name(action), text, type="error", group=group).to_jcr()
    except TagError:
        return Tag("mapper_error", text, type="error").to_jcr()


def _action(manifest: Manifest | None, name: str) -> MapAction | None:
    if manifest is None:
        return None
    return next((a for a in manifest.actions.map if a.name == name), None)


def _run(
    backend: Backend,
    project_id: str,
    action: MapAction,
    objects: Mapping[str, data_objects.TraceObject],
    group: str,
    params: Mapping[str, Any],
    trace_id: str,
) -> list[dict[str, Any]]:
    """Load the inputs, call the mapper, answer its tags (jcr, in ``group``); ``MapperFailed`` when hopeless."""
    from raymon.exceptions import RaymonError

    plugins = backend.plugins
    try:
        mapper = plugins.mapper(action.mapper_type)
    except LookupError as exc:
        raise MapperFailed(str(exc)) from None
    inputs: dict[str, Any] = {}
    for name, ref in action.inputs.items():
        obj = objects[ref]
        try:
            jcr = orjson.loads(data_objects.read_body(backend.object_store, obj.stored))
            inputs[name] = plugins.load_object(jcr)
        except (data_objects.ObjectBodyMissing, RaymonError, ValueError, TypeError) as exc:
            raise MapperFailed(
                f"input {name!r} (ref {ref!r}, object {obj.obj_id}) cannot be loaded: {exc}"
            ) from None
    try:
        answer = mapper.function(inputs, {**params, "trace_id": trace_id})
    except PermanentFailure as exc:
        raise MapperFailed(str(exc)) from None
    return answered_tags(answer, group, action.name)


def _params(backend: Backend, project_id: str, action: MapAction) -> dict[str, Any]:
    """``mapper_params`` but ``trace_id`` (set per trace): built once per job."""
    params: dict[str, Any] = action.model_dump(mode="json")
    params["project_id"] = project_id
    if action.profile is not None:
        params["model_profile"] = profile_for(backend, project_id, action.profile)
    return params


def mapper_params(backend: Backend, project_id: str, trace_id: str, action: MapAction) -> dict[str, Any]:
    """What a mapper function gets as ``params`` (see ``hookspecs.Mapper``).

    The action's fields as in the manifest, plus ``trace_id`` and ``project_id``; when the action
    names a profile, ``model_profile`` is that profile, loaded (and cached) on this server.
    """
    return {**_params(backend, project_id, action), "trace_id": trace_id}


def answered_tags(answer: Any, group: str, mapper: str) -> list[dict[str, Any]]:
    """A mapper's answer (a list of ``Tag`` or tag dicts) as checked jcr tags in ``group``."""
    from raymon.exceptions import RaymonError

    if isinstance(answer, (str, bytes, Mapping)) or not isinstance(answer, Iterable):
        raise MapperFailed(f"mapper {mapper!r} answered {type(answer).__name__}, not a list of tags")
    tags = []
    for item in answer:
        try:
            tag = item if isinstance(item, Tag) else Tag.from_jcr(item)
            tags.append(Tag(tag.name, tag.value, tag.type, group).to_jcr())
        except (RaymonError, ValueError, TypeError) as exc:
            raise MapperFailed(f"mapper {mapper!r} answered a tag that is not valid: {exc}") from None
    return tags


# --- profiles, loaded once per backend ---------------------------------------------------------

_profile_caches: weakref.WeakKeyDictionary[Backend, _ProfileCache] = weakref.WeakKeyDictionary()
_profile_caches_lock = threading.Lock()


class _ProfileCache:
    """Loaded profiles by (project, name, version): a stored profile never changes, so none goes stale."""

    def __init__(self) -> None:
        self._profiles: OrderedDict[tuple[str, str, str], ModelProfile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, backend: Backend, project_id: str, name: str, version: str) -> ModelProfile:
        key = (project_id, name, version)
        with self._lock:
            if key in self._profiles:
                self._profiles.move_to_end(key)
                return self._profiles[key]
        with backend.reading() as session:
            row = profiles.find(session, project_id, name, version)
        if row is None:
            raise MapperFailed(f"profile {name}@{version} is not stored in project {project_id!r}")
        try:
            profile = backend.plugins.load_profile(row.body)
        except Exception as exc:
            raise MapperFailed(f"profile {name}@{version} cannot be loaded on this server: {exc}") from None
        with self._lock:
            self._profiles[key] = profile
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)
        return profile


def profile_for(backend: Backend, project_id: str, profile_ref: str) -> ModelProfile:
    """The stored profile ``name@version`` of the project, loaded through the plugins (cached per backend)."""
    try:
        name, version = parse_profile_ref(profile_ref)
    except ProfileNameError as exc:
        raise MapperFailed(str(exc)) from None
    with _profile_caches_lock:
        cache = _profile_caches.get(backend)
        if cache is None:
            cache = _profile_caches[backend] = _ProfileCache()
    return cache.get(backend, project_id, name, version)


# --- small things -----------------------------------------------------------------------------


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_TEXT_MAX else text[: ERROR_TEXT_MAX - 1] + "…"


def _redacted(text: str, action: MapAction) -> str:
    """``text`` with the action's secrets (webhook URL and secret) blotted out."""
    for secret in (action.url, action.secret):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


MAP_JOB_KIND = JobKind(
    name=MAP_JOB,
    handler=handle_map,
    max_attempts=MAX_ATTEMPTS_CEILING + 1,  # the action's max_attempts decides (handle_map records the error)
    lease_s=60.0,
    backoff_s=2.0,
    backoff_max_s=600.0,
)
