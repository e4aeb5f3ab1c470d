"""Issues: feed a window's check results to the state machine, keep the issues, decide who is told.

``observe`` runs in the reduce pass's write transaction, once per (reducer, slice, window):
it groups the window's result rows per (component or score, check), steps each issue's
state machine (``engine.issues``), records every transition in the issue's history (with the
window values behind it) and answers the ``IssueEvent``\\ s to notify. The rest answers the
issue routes: list, get (with history), ack, mute and tune.

Who is told (the events ``observe`` answers): an event of an acknowledged issue, of an issue
muted until later than now, or of a non-global slice's issue while the global slice has an
open issue of the same (reducer, component, check) is recorded (history: ``notified`` false,
``suppressed`` why) and not answered. Evaluation goes on regardless. This module never sends
anything and never writes SQL (``store.issues`` does).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from raymon.server.backend import Backend
from raymon.server.engine import issues as machine
from raymon.server.engine.events import IssueEvent
from raymon.server.engine.manifest import IssueSettings
from raymon.server.engine.profile_reducer import EXAMPLE_VALUE
from raymon.server.services import tagfilter
from raymon.server.services.errors import InvalidInputError, NotFoundError
from raymon.server.store import issues as store
from raymon.server.store.db import Session

ExampleTraces = Callable[[str, str], Sequence[str]] | Mapping[str, Sequence[str]] | None
GLOBAL_SLICE = ""
MAX_WINDOW_COUNT = machine.MAX_RETAINED


def _now(clock: Backend | Callable[[], datetime]) -> datetime:
    return clock.clock() if isinstance(clock, Backend) else clock()


def issue_key(reducer: str, slicestr: str, component: str, check: str) -> str:
    """What makes two detections the same issue: a digest of (reducer, slice, component, check)."""
    text = "\x1f".join((reducer, slicestr, component, check))
    return hashlib.sha256(text.encode()).hexdigest()


def event_id(project_id: str, key: str, seq: int) -> str:
    """Unique and stable: the same (project, issue key, transition number) always gives the same id."""
    digest = hashlib.sha256(f"{project_id}\x1f{key}\x1f{seq}".encode()).hexdigest()
    return f"iss_{digest[:40]}"


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _metric(row: Mapping[str, Any]) -> machine.MetricResult:
    alert = row.get("alert")
    return machine.MetricResult(
        metric=str(row.get("metric") or ""),
        value=_float(row.get("value")),
        threshold=_float(row.get("threshold")),
        status=str(row.get("status") or ""),
        lower_bound=_float(row.get("lower_bound")),
        alert=None if alert is None else bool(alert),
    )


def rules_for(settings: IssueSettings, tuning: Mapping[str, Any] | None) -> machine.Rules:
    """The effective rules of an issue: the manifest's settings with the issue's tuning applied."""
    tuning = tuning or {}
    return machine.Rules(
        open_after=int(tuning.get("open_after") or settings.open_after),
        window_count=tuning.get("window_count") or settings.window_count,
        resolve_after=settings.resolve_after,
        close_factor=settings.close_factor,
        reopen_within=settings.reopen_within,
        thresholds=dict(tuning.get("thresholds") or {}),
    )


def _display_status(state: machine.IssueState, opened_at: datetime | None) -> str:
    """The row's status: the machine's, except that an issue that opened and is over shows as resolved."""
    if opened_at is not None and state.status in ("normal", "pending"):
        return "resolved"
    return state.status


def _examples(
    session: Session,
    given: ExampleTraces,
    project_id: str,
    reducer: str,
    slicestr: str,
    component: str,
    check: str,
    window_start: datetime,
    window_end: datetime,
    example_value: str | None = None,
) -> list[str]:
    if callable(given):
        return [str(t) for t in given(component, check)][: store.EXAMPLE_LIMIT]
    if given is not None:
        return [str(t) for t in given.get(component, ())][: store.EXAMPLE_LIMIT]
    tree = tagfilter.parse(slicestr) if slicestr.strip() else None
    return store.example_trace_ids(
        session, project_id, reducer, component, window_start, window_end, tree, value_text=example_value
    )


def issue_json(row: store.IssueRow) -> dict[str, Any]:
    """An issue as ``issues_ls`` answers it."""
    return {
        "issue_id": row.id,
        "slice": row.slice,
        "slice_name": row.slice_name,
        "reducer": row.reducer,
        "component": row.component,
        "check": row.check,
        "metric": row.metric,
        "value": row.value,
        "threshold": row.threshold,
        "status": row.status,
        "priority": round(row.priority, 6),
        "opened_at": _time(row.opened_at),
        "updated_at": _time(row.updated_at),
        "resolved_at": _time(row.resolved_at),
        "window_start": _time(row.window_start),
        "window_end": _time(row.window_end),
        "acked_at": _time(row.acked_at),
        "acked_by": row.acked_by,
        "muted_until": _time(row.muted_until),
        "tuning": row.tuning,
        "example_trace_ids": list(row.example_trace_ids or []),
    }


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def observe(
    session: Session,
    clock: Backend | Callable[[], datetime],
    project_id: str,
    reducer: str,
    slicestr: str,
    slice_name: str | None,
    window_start: datetime,
    window_end: datetime,
    rows: Sequence[Mapping[str, Any]],
    settings: IssueSettings,
    example_trace_ids: ExampleTraces = None,
) -> list[IssueEvent]:
    """Step the issues of one (reducer, slice) with one window's results; answer the events to notify.

    ``rows``: the window's contrast rows, dicts with ``component``, ``check`` (drift, integrity,
    performance; a score's rows are ``performance``), ``metric``, ``value``, ``threshold``,
    ``alert``, ``status`` and optionally ``lower_bound``. Rows of one (component, check) are one
    issue. ``example_trace_ids``: a callable ``(component, check) -> trace ids``, a dict
    ``component -> trace ids``, or None to query the store (traces of the window and slice with
    the component's error tag, then its most extreme values, or for a categorical drift those
    with the category that grew most: the ``example_value`` its rows carry). Runs in the caller's transaction;
    answers only the events to notify (see the module docstring); every transition, notified or
    not, is in the history. Call it for the global slice (``""``) before the other slices of a
    window, so that its open issues inhibit theirs in the same pass.
    """
    now = _now(clock)
    groups: dict[tuple[str, str], list[machine.MetricResult]] = {}
    example_values: dict[tuple[str, str], str] = {}
    for row in rows:
        component, check = str(row.get("component") or ""), str(row.get("check") or "")
        if check not in machine.CHECKS or not component:
            continue
        groups.setdefault((component, check), []).append(_metric(row))
        if row.get(EXAMPLE_VALUE) is not None:
            example_values[(component, check)] = str(row[EXAMPLE_VALUE])
    index = int(window_start.timestamp())
    events: list[IssueEvent] = []
    keys = {group: issue_key(reducer, slicestr, *group) for group in groups}
    currents = store.current_for_keys(session, project_id, keys.values())
    for (component, check), metrics in sorted(groups.items()):
        events += _observe_one(
            session, now, project_id, reducer, slicestr, slice_name, window_start, window_end,
            component, check, machine.Observation(index, tuple(metrics)), settings, example_trace_ids,
            currents.get(keys[(component, check)]), example_values.get((component, check)),
        )  # fmt: skip
    return events


def _observe_one(
    session: Session,
    now: datetime,
    project_id: str,
    reducer: str,
    slicestr: str,
    slice_name: str | None,
    window_start: datetime,
    window_end: datetime,
    component: str,
    check: str,
    observation: machine.Observation,
    settings: IssueSettings,
    given_examples: ExampleTraces,
    current: store.IssueRow | None,
    example_value: str | None = None,
) -> list[IssueEvent]:
    """One issue's step; ``current``: its newest row, read (and locked) by the caller."""
    key = issue_key(reducer, slicestr, component, check)
    rules = rules_for(settings, current.tuning if current else None)
    state = machine.IssueState.from_json(current.machine if current else None)
    newest = state.newest is None or observation.window_index >= state.newest
    new_state, transitions = machine.step(state, observation, rules)
    if current is None and new_state.pristine and not transitions:
        return []
    headline = machine.headline(observation, rules)
    verdict = machine.judge(observation, rules)
    fields: dict[str, Any] = {"machine": new_state.to_json(), "updated_at": now}
    if newest:
        fields |= {"window_start": window_start, "window_end": window_end, "slice_name": slice_name}
        if headline is not None:
            fields |= {
                "metric": headline.metric,
                "value": headline.judged,
                "threshold": _threshold(headline, rules),
            }
    if verdict == "breach" and headline is not None:
        fields["priority"] = machine.priority(check, machine.magnitude(headline, rules))
    opens = [t for t in transitions if t.event in ("opened", "reopened")]
    # An open issue without examples looks again in each new window it breaches (the window it
    # opened in may have had none yet), not at every pass over the same window: a reduce pass
    # runs every few seconds, and the query reads the window's traces (bench/README.md, "Engine:
    # drift per slice against Evidently": a third of a pass's time when it ran every pass).
    looked_here = current is not None and current.window_start == window_start
    if opens or (
        verdict == "breach" and current is not None and not current.example_trace_ids and not looked_here
    ):
        fields["example_trace_ids"] = _examples(
            session, given_examples, project_id, reducer, slicestr, component, check, window_start, window_end,
            example_value,
        )  # fmt: skip
    starts_new = current is None or any(
        t.event == "opened" and current.opened_at is not None for t in transitions
    )
    opened_at = None if starts_new else current.opened_at if current else None
    resolved_at = None if starts_new else current.resolved_at if current else None
    for t in transitions:
        if t.event in ("opened", "reopened"):
            opened_at = opened_at if t.event == "reopened" and opened_at else now
            resolved_at = None
        elif t.event == "resolved":
            resolved_at = now
    fields |= {
        "status": _display_status(new_state, opened_at),
        "opened_at": opened_at,
        "resolved_at": resolved_at,
    }
    if starts_new:
        fields.setdefault("priority", 0.0)
        fields.setdefault("example_trace_ids", [])
        fields.setdefault("metric", headline.metric if headline else None)
        episode = current.episode + 1 if current is not None else 1
        issue_id = store.insert_issue(
            session, project_id, now, key=key, episode=episode, reducer=reducer, slice=slicestr,
            component=component, check=check, tuning=current.tuning if current else None,
            muted_until=current.muted_until if current else None, **fields,
        )  # fmt: skip
    else:
        assert current is not None
        issue_id = current.id
        store.update_issue(session, project_id, issue_id, **fields)
    row = store.get_issue(session, project_id, issue_id)
    assert row is not None
    details = {
        "verdict": verdict,
        "metrics": [_metric_json(m, rules) for m in observation.metrics],
        "rules": {
            "open_after": rules.open_after,
            "window_count": rules.count_of,
            "resolve_after": rules.resolve_after,
        },
    }
    events: list[IssueEvent] = []
    for t in transitions:
        suppressed = _suppressed(session, row, now) if t.event else None
        eid = event_id(project_id, key, t.seq) if t.event else None
        store.add_history(
            session, issue_id, project_id, now, "transition", from_status=t.from_status, to_status=t.to_status,
            event=t.event, event_id=eid, notified=(suppressed is None) if t.event else None, suppressed=suppressed,
            window_start=window_start, window_end=window_end, details={**details, "revision": t.revision},
        )  # fmt: skip
        if t.event and eid and suppressed is None:
            events.append(
                IssueEvent(
                    event_id=eid,
                    type=t.event,
                    project_id=project_id,
                    issue=issue_json(row),
                    at=now,
                    extra={"window_start": _time(window_start), "window_end": _time(window_end)},
                )
            )
    return events


def _threshold(result: machine.MetricResult, rules: machine.Rules) -> float | None:
    tuned = rules.thresholds.get(result.metric)
    return tuned if tuned is not None else result.threshold


def _metric_json(result: machine.MetricResult, rules: machine.Rules) -> dict[str, Any]:
    return {
        "metric": result.metric,
        "value": result.value,
        "lower_bound": result.lower_bound,
        "threshold": result.threshold,
        "tuned_threshold": rules.thresholds.get(result.metric),
        "status": result.status,
        "verdict": machine.judge_metric(result, rules),
    }


def _suppressed(session: Session, row: store.IssueRow, now: datetime) -> str | None:
    """Why an event of ``row`` is not notified (None: it is)."""
    if row.acked_at is not None:
        return "acknowledged"
    if row.muted_until is not None and row.muted_until > now:
        return "muted"
    if row.slice != GLOBAL_SLICE and store.open_on_slice(
        session, row.project_id, row.reducer, GLOBAL_SLICE, row.component, row.check
    ):
        return "inhibited by the global slice"
    return None


# --- the routes' services ---------------------------------------------------------------------


def _issue_or_404(session: Session, project_id: str, issue_id: int) -> store.IssueRow:
    row = store.get_issue(session, project_id, issue_id)
    if row is None:
        raise NotFoundError(f"no issue {issue_id} in project {project_id!r}")
    return row


def list_issues(
    backend: Backend, project_id: str, status: str | None = None, slicestr: str | None = None
) -> dict[str, Any]:
    """``{"issues": [...]}``: open ones first, each group by priority (highest first)."""
    if status is not None and status not in machine.ISSUE_STATUSES:
        raise InvalidInputError(f"status: {status!r} is not one of {', '.join(machine.ISSUE_STATUSES)}")
    with backend.reading() as session:
        rows = store.list_issues(session, project_id, status, slicestr)
    return {"issues": [issue_json(r) for r in rows]}


def get_issue(backend: Backend, project_id: str, issue_id: int) -> dict[str, Any]:
    """The issue with its history (every transition and user action, with the window values behind it)."""
    with backend.reading() as session:
        row = _issue_or_404(session, project_id, issue_id)
        history = store.history_of(session, issue_id)
    return {
        **issue_json(row),
        "history": [
            {
                "at": _time(h.at),
                "kind": h.kind,
                "from_status": h.from_status,
                "to_status": h.to_status,
                "event": h.event,
                "event_id": h.event_id,
                "notified": h.notified,
                "suppressed": h.suppressed,
                "window_start": _time(h.window_start),
                "window_end": _time(h.window_end),
                "details": h.details,
            }
            for h in history
        ],
    }


def ack(backend: Backend, project_id: str, issue_id: int, by: str | None) -> dict[str, Any]:
    """Acknowledge: the issue's further events are not notified (it is still evaluated)."""
    with backend.writing() as session:
        _issue_or_404(session, project_id, issue_id)
        now = backend.clock()
        store.update_issue(session, project_id, issue_id, acked_at=now, acked_by=by)
        store.add_history(session, issue_id, project_id, now, "acked", details={"by": by})
    return get_issue(backend, project_id, issue_id)


def mute(backend: Backend, project_id: str, issue_id: int, until: datetime | None) -> dict[str, Any]:
    """Mute until ``until`` (None: until unmuted; a past time unmutes): no notifications, evaluation goes on."""
    if until is not None and until.tzinfo is None:
        raise InvalidInputError(
            f"until: give a time with its offset (e.g. 2026-06-01T12:00:00Z), got {until}"
        )
    with backend.writing() as session:
        _issue_or_404(session, project_id, issue_id)
        now = backend.clock()
        forever = datetime(9999, 12, 31, tzinfo=UTC)
        store.update_issue(session, project_id, issue_id, muted_until=until or forever)
        store.add_history(session, issue_id, project_id, now, "muted", details={"until": _time(until)})
    return get_issue(backend, project_id, issue_id)


def tune(
    backend: Backend,
    project_id: str,
    issue_id: int,
    threshold: float | None = None,
    open_after: int | None = None,
    window_count: int | None = None,
) -> dict[str, Any]:
    """Set the issue's threshold (for its metric) and/or open after ``open_after`` of the last ``window_count``.

    Takes effect on the issue's next evaluation; past windows are not judged again.
    """
    with backend.writing() as session:
        row = _issue_or_404(session, project_id, issue_id)
        _check_tuning(threshold, open_after, window_count, row.tuning or {})
        tuning: dict[str, Any] = dict(row.tuning or {})
        if threshold is not None:
            if row.metric is None:
                raise InvalidInputError("threshold: this issue has no metric yet to tune")
            tuning["thresholds"] = {**tuning.get("thresholds", {}), row.metric: threshold}
        if open_after is not None:
            tuning["open_after"] = open_after
        if window_count is not None:
            tuning["window_count"] = window_count
        now = backend.clock()
        store.update_issue(session, project_id, issue_id, tuning=tuning)
        store.add_history(session, issue_id, project_id, now, "tuned", details=tuning)
    return get_issue(backend, project_id, issue_id)


def _check_tuning(
    threshold: float | None, open_after: int | None, window_count: int | None, tuned: Mapping[str, Any]
) -> None:
    if threshold is not None and not math.isfinite(threshold):
        raise InvalidInputError(f"threshold: must be a finite number, got {threshold}")
    if open_after is not None and not 1 <= open_after <= MAX_WINDOW_COUNT:
        raise InvalidInputError(f"open_after: must be between 1 and {MAX_WINDOW_COUNT}, got {open_after}")
    if window_count is not None and not 1 <= window_count <= MAX_WINDOW_COUNT:
        raise InvalidInputError(f"window_count: must be between 1 and {MAX_WINDOW_COUNT}, got {window_count}")
    after = open_after if open_after is not None else tuned.get("open_after")
    count = window_count if window_count is not None else tuned.get("window_count")
    if after is not None and count is not None and after > count:
        raise InvalidInputError(f"open_after ({after}) cannot exceed window_count ({count})")
