"""The issue state machine (engine.issues): opening, hysteresis, resolving, reopening, re-evaluated windows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from raymon.server.engine.issues import (
    IssueState,
    MetricResult,
    Observation,
    Rules,
    Transition,
    close_threshold,
    judge,
    priority,
    step,
)

PSI = 0.2


def psi(value: float | None, status: str | None = None) -> MetricResult:
    """A psi row as the contrast makes it (alerts above 0.2)."""
    if status is None:
        status = "alert" if value is not None and value > PSI else "ok"
    return MetricResult("psi", value, PSI, status)


def obs(i: int, *metrics: MetricResult) -> Observation:
    return Observation(i, metrics)


def run(
    values: list[float | None], rules: Rules | None = None, state: IssueState | None = None
) -> tuple[IssueState, list[tuple[int, str | None, str]]]:
    """Feed psi values window after window; answer the final state and (window, event) of every transition."""
    rules = rules or Rules()
    state = state or IssueState()
    events: list[tuple[int, str | None, str]] = []
    for i, v in enumerate(values):
        m = psi(v, "not enough data") if v is None else psi(v)
        state, ts = step(state, obs(i, m), rules)
        events += [(t.window_index, t.event, t.to_status) for t in ts]
    return state, events


def test_one_breaching_window_opens_an_issue_by_default() -> None:
    state, events = run([0.1, 0.5])
    assert state.status == "open"
    assert events == [(1, "opened", "open")]


def test_open_after_two_of_three_goes_pending_first_and_opens_on_the_second_breach() -> None:
    rules = Rules(open_after=2, window_count=3)
    state, events = run([0.5, 0.1, 0.5], rules)
    assert events == [(0, None, "pending"), (2, "opened", "open")]
    state, events = run([0.5, 0.1, 0.1, 0.1], rules)
    assert state.status == "normal"  # the breach fell out of the last 3 windows
    assert events == [(0, None, "pending"), (3, None, "normal")]


def test_an_open_issue_resolves_only_after_resolve_after_clean_windows_in_a_row() -> None:
    state, events = run([0.5, 0.1, 0.1, 0.5, 0.1, 0.1, 0.1])
    assert [e for e in events if e[1]] == [(0, "opened", "open"), (6, "resolved", "resolved")]
    assert (3, None, "open") in events  # the flapping window sent it back from recovering to open


def test_a_window_between_close_and_open_threshold_holds_the_issue_open() -> None:
    # 0.18 is under the threshold 0.2 but over the close threshold 0.16: not clean
    state, events = run([0.5, 0.18, 0.18, 0.18, 0.18])
    assert state.status == "open"
    assert events == [(0, "opened", "open")]


def test_not_enough_data_keeps_the_last_state() -> None:
    state, events = run([0.5, None, None, None, None])
    assert state.status == "open"
    state, events = run([0.5, 0.1, None, 0.1, None, 0.1])
    assert state.status == "resolved"


def test_a_breach_soon_after_resolving_reopens_and_a_late_one_opens_a_new_issue() -> None:
    _, events = run([0.5, 0.1, 0.1, 0.1, 0.5])
    assert [e[1] for e in events if e[1]] == ["opened", "resolved", "reopened"]
    state, events = run([0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5])  # reopen_within: 3 windows
    assert [e[1] for e in events if e[1]] == ["opened", "resolved", "opened"]
    assert state.episodes == 2


def test_a_metric_that_alerts_below_its_threshold_mirrors_the_close_threshold() -> None:
    assert close_threshold(0.01, "below", 0.8) == 0.012
    assert close_threshold(0.2, "above", 0.8) == 0.16000000000000003
    low = MetricResult("ks_pvalue", 0.001, 0.01, "alert")
    band = MetricResult("ks_pvalue", 0.011, 0.01, "ok")
    clean = MetricResult("ks_pvalue", 0.5, 0.01, "ok")
    assert judge(obs(0, low), Rules()) == "breach"
    assert judge(obs(0, band), Rules()) == "band"
    assert judge(obs(0, clean), Rules()) == "clean"


def test_the_lower_bound_is_what_is_judged_where_the_metric_alerts_on_it() -> None:
    # ks_statistic alerts on its lower bound: a large value with a small bound is not a breach
    row = MetricResult("ks_statistic", 0.5, 0.1, "ok", lower_bound=0.05)
    assert judge(obs(0, row), Rules()) == "clean"
    assert judge(obs(0, row), Rules(thresholds={"ks_statistic": 0.04})) == "breach"


def test_a_tuned_threshold_replaces_the_profiles() -> None:
    rules = Rules(thresholds={"psi": 1.0})
    assert judge(obs(0, psi(0.5)), rules) == "clean"
    assert judge(obs(0, psi(1.5)), rules) == "breach"


def test_any_breaching_metric_breaches_the_check() -> None:
    assert judge(obs(0, psi(0.1), MetricResult("ks_pvalue", 0.001, 0.01, "alert")), Rules()) == "breach"
    assert judge(obs(0, psi(0.1), MetricResult("ks_pvalue", None, None, "no threshold")), Rules()) == "clean"


def test_priority_ranks_performance_above_integrity_above_drift_then_by_magnitude() -> None:
    assert priority("performance", 0.01) > priority("integrity", 100.0) > priority("drift", 1e9)
    assert priority("drift", 2.0) > priority("drift", 0.5)
    assert 0 <= priority("drift", 0) < 1


def test_reevaluating_the_newest_window_replaces_its_observation() -> None:
    rules = Rules()
    state, _ = step(IssueState(), obs(0, psi(0.1)), rules)
    state, ts = step(state, obs(1, psi(None, "not enough data")), rules)
    assert state.status == "normal" and ts == []
    state, ts = step(state, obs(1, psi(0.6)), rules)  # the window's actuals arrived: it breaches
    assert state.status == "open"
    assert [(t.event, t.revision) for t in ts] == [("opened", True)]
    state, ts = step(state, obs(1, psi(0.1)), rules)  # evaluated once more, clean: not un-opened
    assert state.status == "open" and ts == []


def test_reevaluating_an_older_window_can_open_but_never_resolves() -> None:
    rules = Rules(open_after=2, window_count=3)
    state, _ = run([0.5, 0.1, 0.1], rules)
    assert state.status == "pending"
    state, ts = step(state, obs(1, psi(0.6)), rules)  # window 1 turned out to breach: 2 of the last 3
    assert state.status == "open"
    assert [t.event for t in ts] == ["opened"]
    state2, ts = step(state, obs(0, psi(0.1)), rules)
    assert state2.status == "open" and ts == []


def test_the_state_survives_its_json_form() -> None:
    state, _ = run([0.5, 0.1, 0.18, None, 0.1], Rules(open_after=1, window_count=4))
    assert IssueState.from_json(state.to_json()) == state


# --- invariants over arbitrary sequences --------------------------------------------------------

values = st.one_of(st.none(), st.floats(min_value=0, max_value=1, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(
    seq=st.lists(values, max_size=40),
    open_after=st.integers(1, 4),
    extra=st.integers(0, 3),
    resolve_after=st.integers(1, 4),
)
def test_invariants_hold_for_any_sequence_of_windows(
    seq: list[float | None], open_after: int, extra: int, resolve_after: int
) -> None:
    rules = Rules(open_after=open_after, window_count=open_after + extra, resolve_after=resolve_after)
    state = IssueState()
    judged: list[str] = []  # verdicts of the judged windows since the last resolution
    since_resolved: int | None = None
    clean_run = 0
    seqs: list[int] = []
    for i, v in enumerate(seq):
        m = psi(v, "not enough data") if v is None else psi(v)
        verdict = judge(obs(i, m), rules)
        before = state
        state, ts = step(state, obs(i, m), rules)
        if verdict == "unknown":
            assert state.status == before.status and ts == []  # not enough data keeps the state
            continue
        judged.append(verdict)
        clean_run = clean_run + 1 if verdict == "clean" else 0
        if since_resolved is not None:
            since_resolved += 1
        for t in ts:
            seqs.append(t.seq)
            assert isinstance(t, Transition) and t.from_status != t.to_status
            if t.event in ("opened", "reopened"):
                window = judged[-rules.count_of :]
                assert window.count("breach") >= open_after  # never open without open_after breaches
                assert verdict == "breach"
                assert (t.event == "reopened") == (
                    since_resolved is not None and since_resolved <= rules.reopen_horizon
                )
            if t.event == "resolved":
                assert t.from_status in ("open", "recovering")
                assert clean_run >= resolve_after  # never resolved without resolve_after clean windows
                judged, since_resolved = [], 0
        if before.is_open and not state.is_open:
            assert state.status == "resolved" or (state.status == "normal" and rules.reopen_horizon == 0)
        if state.is_open and not before.is_open:
            assert any(t.event in ("opened", "reopened") for t in ts)
        if since_resolved is not None and since_resolved > rules.reopen_horizon:
            since_resolved = None
    assert seqs == sorted(set(seqs))  # transition numbers are unique and increasing (stable event ids)


@settings(max_examples=300, deadline=None)
@given(
    moves=st.lists(st.tuples(st.integers(-3, 1), values), max_size=40),
    open_after=st.integers(1, 3),
    resolve_after=st.integers(1, 3),
)
def test_events_alternate_and_stay_numbered_when_windows_are_evaluated_again(
    moves: list[tuple[int, float | None]], open_after: int, resolve_after: int
) -> None:
    """Windows in any order (a step of 1: the next window; 0: the newest again; below: an older one)."""
    rules = Rules(open_after=open_after, window_count=open_after + 1, resolve_after=resolve_after)
    state, newest = IssueState(), -1
    last_seq = 0
    for delta, v in moves:
        index = max(0, newest + delta) if delta <= 0 else newest + 1
        newest = max(newest, index)
        m = psi(v, "not enough data") if v is None else psi(v)
        before = state
        state, ts = step(state, obs(index, m), rules)
        assert IssueState.from_json(state.to_json()) == state
        for t in ts:
            assert t.seq == last_seq + 1  # every transition numbered once, in order: stable event ids
            last_seq = t.seq
            if t.event in ("opened", "reopened"):
                assert not before.is_open and state.is_open
            if t.event == "resolved":
                assert before.is_open and state.status == "resolved"
        assert state.seq == last_seq
        if before.is_open and not state.is_open:
            assert any(t.event == "resolved" for t in ts)  # an open issue ends only by resolving
