"""What the engine runs: the job kinds and schedulers of every part, and the worker built on them.

``engine_parts(backend)`` is the one list of the engine's kinds and schedulers: the built-in
ones (mapper runs, reduce passes, alert deliveries and reminders, cleanups) plus the kinds
plugins register (``register_job_kinds``). It is also where the parts meet: a reduce pass's
window results go to the issues (``services.issues.observe``), and the issue events that
come out, once the pass has told every window (one evaluation: one message per check, whatever
the slices), to the project's alert channels (``services.alerts.notify``), in the pass's
transaction; its claimed tags to slice discovery's cells (``services.slices.cells_hook``). ``raymon worker`` and the in-process engine of
``raymon server`` both build their ``Worker`` through ``build_worker``, so they cannot
drift. Nothing here runs SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raymon.server.engine import cleanup, mappers, reduce_jobs
from raymon.server.engine.alerts import deliver, reminders
from raymon.server.engine.jobs import JobKind, Scheduler
from raymon.server.engine.worker import Worker
from raymon.server.services import alerts as alert_service
from raymon.server.services import issues as issue_service
from raymon.server.services import manifests as manifest_service
from raymon.server.services import slices as slice_service
from raymon.server.store import accounts as account_store

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.services.ingest import IngestListener
    from raymon.server.store.db import Session
    from raymon.wire import Event


def retention_of(backend: Backend) -> Callable[[str], int | None]:
    """A project's retention in days (manifest ``settings.retention_days``), ``None`` to keep everything."""

    def days(project_id: str) -> int | None:
        manifest = manifest_service.current(backend, project_id)
        return None if manifest is None else manifest.settings.retention_days

    return days


def _slice_name(manifest: Any, slicestr: str) -> str | None:
    """The name the manifest gives a slice (``slices: - slicestr: ..., name: ...``), if any."""
    if not slicestr:
        return "global"
    for spec in manifest.slices:
        if spec.slicestr is not None and spec.name and spec.slicestr.strip() == slicestr:
            return str(spec.name)
    return None


CLAIM_BATCH = 8  # jobs claimed per free thread in one transaction (``Worker.claim_batch``)
PASS_EVENTS = "raymon.pass_issue_events"  # the pass session's ``info`` key: its issue events so far


def window_results_to_issues(backend: Backend) -> reduce_jobs.ResultsHook:
    """The reduce pass's ``on_results``: step the window's issues, keep the events to notify for ``after_pass``.

    Runs in the pass's transaction, so the window's state, its issues' transitions and the
    deliveries they cause commit together or not at all. The events wait in the session's
    ``info`` until the pass has told every window (``pass_events_to_alerts``).
    """

    def on_results(
        session: Session,
        project_id: str,
        reducer: str,
        slicestr: str,
        window_start: datetime,
        window_end: datetime,
        rows: list[dict[str, Any]],
    ) -> None:
        manifest = manifest_service.current(backend, project_id)
        if manifest is None:
            return
        action = next((a for a in manifest.actions.reduce if a.name == reducer), None)
        if action is None:
            return
        events = issue_service.observe(
            session,
            backend,
            project_id,
            reducer,
            slicestr,
            _slice_name(manifest, slicestr),
            window_start,
            window_end,
            rows,
            action.issues,
        )
        if events:
            session.info.setdefault(PASS_EVENTS, []).extend(events)

    return on_results


def pass_events_to_alerts(backend: Backend) -> reduce_jobs.PassHook:
    """The reduce pass's ``after_pass``: the pass's issue events, all slices and windows, to the alert channels.

    One pass is one evaluation: ``services.alerts.notify`` groups its events into one message
    per (channel, check, event type), so a check breaking on several slices at once is one
    message ("+N more"), not one per slice.
    """

    def after_pass(session: Session, project_id: str, reducer: str) -> None:
        events = session.info.pop(PASS_EVENTS, [])
        if not events:
            return
        manifest = manifest_service.current(backend, project_id)
        if manifest is not None and manifest.actions.alert:
            alert_service.notify(session, backend, project_id, events, manifest.actions.alert)

    return after_pass


def open_issues(backend: Backend) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every project's open issues as ``issues_ls`` shows them (what reminders look at)."""
    with backend.reading() as session:
        project_ids = [p.id for p in account_store.list_projects(session)]
    for project_id in project_ids:
        for issue in issue_service.list_issues(backend, project_id, status="open")["issues"]:
            yield project_id, issue


def engine_parts(backend: Backend) -> tuple[list[JobKind], list[Scheduler]]:
    """Every job kind the engine runs and every scheduler it calls each tick."""
    kinds: list[JobKind] = [
        mappers.MAP_JOB_KIND,
        reduce_jobs.reduce_job_kind(
            reduce_jobs.reduce_handler(
                manifest_service.current,
                window_results_to_issues(backend),
                after_pass=pass_events_to_alerts(backend),
                on_claimed=slice_service.cells_hook,
            )
        ),
        slice_service.DISCOVER_JOB_KIND,
        deliver.deliver_kind(backend),
        reminders.alert_notify_kind(),
        *cleanup.cleanup_kinds(),
        *backend.plugins.job_kinds(),
    ]
    schedulers: list[Scheduler] = [
        reduce_jobs.reduce_scheduler(manifest_service.current),
        slice_service.discover_scheduler(),
        cleanup.retention_scheduler(retention_of(backend)),
        cleanup.jobs_cleanup_scheduler(),
    ]
    if backend.settings.alert_remind_after_seconds > 0:
        schedulers.append(reminders.reminder_scheduler(open_issues))
    return kinds, schedulers


def build_worker(
    backend: Backend,
    *,
    concurrency: int | None = None,
    poll_interval_s: float | None = None,
    worker_id: str | None = None,
    shutdown_grace_s: float = 30.0,
    claim_batch: int | None = None,
) -> Worker:
    """A worker over ``engine_parts(backend)``; unset values from the settings (RAYMON_WORKER_*)."""
    kinds, schedulers = engine_parts(backend)
    return Worker(
        backend,
        kinds,
        schedulers,
        worker_id,
        concurrency=concurrency or backend.settings.worker_concurrency,
        poll_interval_s=poll_interval_s or backend.settings.worker_poll_seconds,
        claim_batch=CLAIM_BATCH if claim_batch is None else claim_batch,
        shutdown_grace_s=shutdown_grace_s,
    )


def wake_on_objects(worker: Worker) -> IngestListener:
    """An ingest listener waking ``worker`` when new objects were stored (they may have enqueued map jobs).

    For the engine inside ``raymon server``: its worker then claims the jobs at once instead of at
    its next poll (``RAYMON_WORKER_POLL_SECONDS``); wakes while it ticks are coalesced into one tick.
    """

    def wake(_project_id: str, events: Sequence[Event]) -> None:
        if any(event.get("kind") == "object" for event in events):
            worker.wake()

    return wake
