"""services.issues.observe on a real database (SQLite and PostgreSQL): states, events, history, who is told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jobs_backend import migrated_backend
from sqlalchemy import func, select

from raymon.server.backend import Backend
from raymon.server.engine.manifest import IssueSettings
from raymon.server.services import issues
from raymon.server.store import issues as store
from raymon.server.store.models import IssueHistory, Tag, Trace

PROJECT = "issues"
REDUCER = "HousePrices@3.0.0"
T0 = datetime(2026, 7, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=1)
DEFAULTS = IssueSettings()


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def env(backend: str, postgres_databases: Any, tmp_path: Path) -> Iterator[tuple[Backend, Clock]]:
    clock = Clock()
    with migrated_backend(
        backend, postgres_databases, tmp_path, projects=(PROJECT,), clock=clock
    ) as instance:
        yield instance, clock


def psi_row(value: float | None, component: str = "lotarea", check: str = "drift") -> dict[str, Any]:
    if value is None:
        return {"component": component, "check": check, "metric": "psi", "value": None, "threshold": 0.2,
                "alert": False, "status": "not enough data"}  # fmt: skip
    return {"component": component, "check": check, "metric": "psi", "value": value, "threshold": 0.2,
            "alert": value > 0.2, "status": "alert" if value > 0.2 else "ok"}  # fmt: skip


def feed(
    backend: Backend,
    window: int,
    rows: list[dict[str, Any]],
    slicestr: str = "",
    settings: IssueSettings = DEFAULTS,
    examples: Any = None,
) -> list[Any]:
    start = T0 + window * WINDOW
    with backend.writing() as session:
        return issues.observe(
            session, backend, PROJECT, REDUCER, slicestr, slicestr or None, start, start + WINDOW, rows, settings,
            examples if examples is not None else {},
        )  # fmt: skip


def the_issue(backend: Backend, slicestr: str = "") -> dict[str, Any]:
    listed = issues.list_issues(backend, PROJECT, slicestr=slicestr)["issues"]
    assert len(listed) == 1, listed
    return issues.get_issue(backend, PROJECT, listed[0]["issue_id"])


def test_a_breaching_window_opens_an_issue_and_records_the_window_values(env: tuple[Backend, Clock]) -> None:
    backend, _ = env
    assert feed(backend, 0, [psi_row(0.1)]) == []
    with backend.reading() as session:
        assert store.list_issues(session, PROJECT) == []  # nothing to remember: no issue row
    events = feed(backend, 1, [psi_row(0.5)], examples={"lotarea": ["t1", "t2"]})
    assert [e.type for e in events] == ["opened"]
    issue = the_issue(backend)
    assert events[0].issue["issue_id"] == issue["issue_id"]
    assert events[0].event_id.startswith("iss_")
    assert issue | {"history": None} == issue | {
        "status": "open", "reducer": REDUCER, "slice": "", "component": "lotarea", "check": "drift",
        "metric": "psi", "value": 0.5, "threshold": 0.2, "example_trace_ids": ["t1", "t2"], "history": None,
    }  # fmt: skip
    assert issue["opened_at"] is not None and issue["resolved_at"] is None
    assert 0.5 < issue["priority"] < 1  # drift, magnitude (0.5 - 0.2) / 0.2
    (transition,) = issue["history"]
    assert (transition["from_status"], transition["to_status"], transition["event"]) == (
        "normal",
        "open",
        "opened",
    )
    assert transition["details"]["metrics"][0]["value"] == 0.5 and transition["notified"] is True


def test_it_resolves_after_three_clean_windows_and_reopens_a_breach_soon_after(
    env: tuple[Backend, Clock],
) -> None:
    backend, _ = env
    feed(backend, 0, [psi_row(0.5)])
    assert feed(backend, 1, [psi_row(0.1)]) == []
    assert the_issue(backend)["status"] == "recovering"
    feed(backend, 2, [psi_row(None)])  # not enough data: keeps the state
    assert the_issue(backend)["status"] == "recovering"
    assert feed(backend, 3, [psi_row(0.1)]) == []
    events = feed(backend, 4, [psi_row(0.1)])
    assert [e.type for e in events] == ["resolved"]
    issue = the_issue(backend)
    assert issue["status"] == "resolved" and issue["resolved_at"] is not None
    events = feed(backend, 5, [psi_row(0.9)])
    assert [e.type for e in events] == ["reopened"]
    assert the_issue(backend)["issue_id"] == issue["issue_id"]
    history = [(h["to_status"], h["event"]) for h in the_issue(backend)["history"]]
    assert history == [
        ("open", "opened"),
        ("recovering", None),
        ("resolved", "resolved"),
        ("open", "reopened"),
    ]


def test_a_breach_long_after_resolving_is_a_new_issue(env: tuple[Backend, Clock]) -> None:
    backend, _ = env
    feed(backend, 0, [psi_row(0.5)])
    for w in range(1, 10):
        feed(backend, w, [psi_row(0.1)])
    events = feed(backend, 10, [psi_row(0.5)])
    assert [e.type for e in events] == ["opened"]
    listed = issues.list_issues(backend, PROJECT)["issues"]
    assert [i["status"] for i in listed] == ["open", "resolved"]
    assert listed[0]["issue_id"] != listed[1]["issue_id"]


def test_pending_until_open_after_of_window_count_breach(env: tuple[Backend, Clock]) -> None:
    backend, _ = env
    rules = IssueSettings(open_after=2, window_count=3)
    assert feed(backend, 0, [psi_row(0.5)], settings=rules) == []
    assert the_issue(backend)["status"] == "pending"
    assert feed(backend, 1, [psi_row(0.1)], settings=rules) == []
    assert [e.type for e in feed(backend, 2, [psi_row(0.6)], settings=rules)] == ["opened"]


def test_event_ids_are_stable_when_a_pass_is_rolled_back_and_run_again(env: tuple[Backend, Clock]) -> None:
    backend, _ = env
    start = T0
    with pytest.raises(RuntimeError), backend.writing() as session:
        first = issues.observe(session, backend, PROJECT, REDUCER, "", None, start, start + WINDOW,
                               [psi_row(0.5)], IssueSettings(), {})  # fmt: skip
        raise RuntimeError("the pass failed after observing")
    again = feed(backend, 0, [psi_row(0.5)])
    assert [e.event_id for e in again] == [e.event_id for e in first]
    events = (
        feed(backend, 1, [psi_row(0.1)]) + feed(backend, 2, [psi_row(0.1)]) + feed(backend, 3, [psi_row(0.1)])
    )
    events += feed(backend, 4, [psi_row(0.5)])
    ids = [e.event_id for e in again + events]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_acknowledged_and_muted_issues_are_evaluated_but_not_notified(env: tuple[Backend, Clock]) -> None:
    backend, clock = env
    feed(backend, 0, [psi_row(0.5)])
    issue_id = the_issue(backend)["issue_id"]
    issues.mute(backend, PROJECT, issue_id, clock.now + timedelta(hours=1))
    for w in (1, 2):
        feed(backend, w, [psi_row(0.1)])
    assert feed(backend, 3, [psi_row(0.1)]) == []  # resolved while muted: not told
    assert the_issue(backend)["status"] == "resolved"
    clock.now += timedelta(hours=2)  # the mute is over
    assert [e.type for e in feed(backend, 4, [psi_row(0.5)])] == ["reopened"]
    issues.ack(backend, PROJECT, issue_id, "someone")
    for w in (5, 6):
        feed(backend, w, [psi_row(0.1)])
    assert feed(backend, 7, [psi_row(0.1)]) == []
    history = the_issue(backend)["history"]
    told = [(h["event"], h["notified"], h["suppressed"]) for h in history if h["event"]]
    assert told == [("opened", True, None), ("resolved", False, "muted"), ("reopened", True, None),
                    ("resolved", False, "acknowledged")]  # fmt: skip
    assert [h["kind"] for h in history if h["kind"] != "transition"] == ["muted", "acked"]


def test_an_open_issue_on_the_global_slice_inhibits_the_same_check_on_other_slices(
    env: tuple[Backend, Clock],
) -> None:
    backend, _ = env
    assert [e.type for e in feed(backend, 0, [psi_row(0.5)])] == ["opened"]
    assert feed(backend, 0, [psi_row(0.5)], slicestr="client==Zillow") == []  # inhibited, still evaluated
    other = feed(backend, 0, [psi_row(0.5, component="yearbuilt")], slicestr="client==Zillow")
    assert [e.type for e in other] == ["opened"]  # another component: not inhibited
    listed = issues.list_issues(backend, PROJECT, slicestr="client==Zillow")["issues"]
    assert sorted(i["component"] for i in listed) == ["lotarea", "yearbuilt"]
    lot = next(i for i in listed if i["component"] == "lotarea")
    history = issues.get_issue(backend, PROJECT, lot["issue_id"])["history"]
    assert history[0]["suppressed"] == "inhibited by the global slice"


def test_tuning_takes_effect_on_the_next_evaluation(env: tuple[Backend, Clock]) -> None:
    backend, _ = env
    feed(backend, 0, [psi_row(0.5)])
    issue_id = the_issue(backend)["issue_id"]
    issues.tune(backend, PROJECT, issue_id, threshold=1.0, open_after=2, window_count=2)
    for w in (1, 2):
        feed(backend, w, [psi_row(0.5)])  # under the tuned threshold 1.0 (and its close threshold 0.8)
    assert [e.type for e in feed(backend, 3, [psi_row(0.5)])] == ["resolved"]
    assert feed(backend, 4, [psi_row(1.5)]) == []  # one breach: tuned to 2 of the last 2
    assert [e.type for e in feed(backend, 5, [psi_row(1.5)])] == ["reopened"]
    issue = the_issue(backend)
    assert issue["threshold"] == 1.0 and issue["tuning"] == {"thresholds": {"psi": 1.0}, "open_after": 2,
                                                               "window_count": 2}  # fmt: skip


def test_scores_rank_above_drift_and_the_bigger_excess_first(env: tuple[Backend, Clock]) -> None:
    backend, _ = env
    score = {"component": "abs_error", "check": "performance", "metric": "mean_worsening", "value": 0.15,
             "threshold": 0.1, "alert": True, "status": "alert", "lower_bound": 0.12}  # fmt: skip
    feed(backend, 0, [psi_row(0.9), psi_row(0.3, component="yearbuilt"), score])
    listed = issues.list_issues(backend, PROJECT)["issues"]
    assert [i["component"] for i in listed] == ["abs_error", "lotarea", "yearbuilt"]
    assert listed[0]["value"] == 0.12  # the lower bound: what was judged


def test_example_traces_come_from_the_window_and_slice_with_the_error_tag_first(
    env: tuple[Backend, Clock],
) -> None:
    backend, _ = env
    with backend.writing() as session:
        for i in range(12):
            ts = T0 + timedelta(seconds=5 * i) if i < 10 else T0 + timedelta(hours=1)  # 10, 11: outside
            trace = Trace(project_id=PROJECT, trace_id=f"t{i}", first_ts=ts, last_ts=ts)
            session.add(trace)
            session.flush()
            client = "Zillow" if i % 2 == 0 else "Other"
            session.add(Tag(project_id=PROJECT, trace_pk=trace.id, name="client", type="label",
                            value_text=client, ts=ts))  # fmt: skip
            session.add(Tag(project_id=PROJECT, trace_pk=trace.id, name="lotarea", type="profile-input",
                            grp=REDUCER, value_num=float(i), ts=ts))  # fmt: skip
            if i in (4, 5, 10):
                session.add(Tag(project_id=PROJECT, trace_pk=trace.id, name="lotarea-error",
                                type="profile-input-error", grp=REDUCER, value_text="UpperBoundError", ts=ts))  # fmt: skip
    start = T0
    with backend.writing() as session:
        issues.observe(session, backend, PROJECT, REDUCER, "client==Zillow", "Zillow", start, start + WINDOW,
                       [psi_row(0.5)], IssueSettings(), None)  # fmt: skip
    issue = the_issue(backend, "client==Zillow")
    # t4 has the error tag; then the highest values of the slice's traces in the window
    assert issue["example_trace_ids"] == ["t4", "t8", "t6", "t2", "t0"]


def test_rows_without_judgement_make_no_issue(env: tuple[Backend, Clock]) -> None:
    backend, _ = env
    feed(backend, 0, [psi_row(None), {"component": "x", "check": "bogus", "metric": "psi", "value": 1.0,
                                      "threshold": 0.2, "alert": True, "status": "alert"}])  # fmt: skip
    with backend.reading() as session:
        assert session.scalar(select(func.count()).select_from(IssueHistory)) == 0
        assert store.list_issues(session, PROJECT, status="normal") == []


def test_an_open_issue_without_examples_looks_for_them_once_per_window_not_at_every_pass(
    env: tuple[Backend, Clock],
) -> None:
    backend, _ = env
    asked: list[tuple[str, str]] = []

    def none_yet(component: str, check: str) -> list[str]:
        asked.append((component, check))
        return []

    feed(backend, 0, [psi_row(0.5)], examples=none_yet)
    assert asked == [("lotarea", "drift")]  # opened: looked, found none
    for _ in range(3):  # later passes over the same window: not asked again
        feed(backend, 0, [psi_row(0.6)], examples=none_yet)
    assert len(asked) == 1
    assert the_issue(backend)["example_trace_ids"] == []
    feed(
        backend,
        1,
        [psi_row(0.6)],
        examples=lambda component, check: asked.append((component, check)) or ["t7"],
    )
    assert len(asked) == 2  # a new window breaching: looked again, and found
    assert the_issue(backend)["example_trace_ids"] == ["t7"]
    feed(backend, 1, [psi_row(0.7)], examples=none_yet)
    assert len(asked) == 2  # it has examples now
