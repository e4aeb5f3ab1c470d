"""The issue state machine: one (reducer, slice, component or score, check), one window at a time.

Pure: no database, no clock, no I/O. ``step`` takes the machine's ``IssueState`` (JSON-ready,
stored by ``services.issues`` on the issue row), one window's ``Observation`` (the check's
metric rows of that window) and the issue's effective ``Rules`` (the manifest's
``IssueSettings`` with the issue's tuning applied), and answers the next state and the
transitions it made. It never decides who is notified (``services.issues`` does: ack, mute,
inhibition).

States: ``normal`` -> ``pending`` (breaches, fewer than ``open_after`` of the last
``window_count``) -> ``open`` (``open_after`` breaches of the last ``window_count``; event
``opened``) -> ``recovering`` (a clean window) -> ``resolved`` (``resolve_after`` clean windows
in a row; event ``resolved``). A window is:

- ``breach``: a metric alerts (the contrast's verdict, or the tuned threshold);
- ``clean``: every judged metric is on the good side of the *close* threshold, which is the
  threshold moved by ``1 - close_factor`` of its size towards "good" (``psi`` 0.2 and 0.8:
  clean below 0.16; ``ks_pvalue`` 0.01, which alerts *below*: clean above 0.012);
- ``band``: neither (between the two thresholds): it holds an open issue open and breaks a
  recovering issue's clean streak;
- ``unknown``: no metric could judge ("not enough data", no threshold, not comparable): the
  window is skipped, the state stays as it was.

A resolved issue that breaches (``open_after`` of the last ``window_count`` counted since it
resolved) within ``reopen_within`` windows after resolving is ``reopened`` (same issue);
later, the episode is over (``closed``: the state goes back to normal and the next opening is a
new issue, event ``opened`` with ``new_issue``).

Windows may be evaluated again (a late actual changes an old window's results):

- a window newer than every window seen is a normal step;
- the newest window again: its observation *replaces* the first one: the step is recomputed
  from the state before that window; an issue that the first evaluation opened is not
  un-opened (people may have been told; it resolves the normal way);
- an older window: its verdict replaces the old one in the breach count, and it may *open* an
  issue (late evidence of a breach counts) but never resolves or un-opens one. Windows older
  than the retained ones (``window_count``) change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from raymon.profiling.contrast import METRICS, STATUS_ALERT

IssueStatus = Literal["normal", "pending", "open", "recovering", "resolved"]
ISSUE_STATUSES: tuple[str, ...] = ("normal", "pending", "open", "recovering", "resolved")
Verdict = Literal["breach", "clean", "band", "unknown"]
TransitionEvent = Literal["opened", "reopened", "resolved"]
CHECKS: tuple[str, ...] = ("drift", "integrity", "performance")
# Priority: the check's rank (performance, which includes the scores, above integrity above drift)
# plus a magnitude in [0, 1): excess / (1 + excess), excess = how far past the threshold, relatively.
CHECK_RANK = {"performance": 2.0, "integrity": 1.0, "drift": 0.0}
MAX_RETAINED = 1000  # most windows any rules can look back on (window_count's cap)


@dataclass(frozen=True)
class MetricResult:
    """One metric row of a check in one window (as ``CheckResult`` / ``ContrastReport.to_frame()``)."""

    metric: str
    value: float | None
    threshold: float | None
    status: str  # alert, ok, no threshold, not enough data, not comparable
    lower_bound: float | None = None
    alert: bool | None = None  # None: alert == (status == "alert")

    @property
    def judged(self) -> float | None:
        """The number the contrast compared with the threshold (the lower bound where the metric alerts on it)."""
        spec = METRICS.get(self.metric)
        value = (
            self.lower_bound
            if (spec is not None and spec.uses_bound and self.lower_bound is not None)
            else self.value
        )
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return float(value)

    @property
    def direction(self) -> str:
        spec = METRICS.get(self.metric)
        return spec.direction if spec is not None else "above"


@dataclass(frozen=True)
class Observation:
    """One window's results of one issue's check (all its metric rows)."""

    window_index: int  # orders the windows: e.g. the window start's epoch seconds
    metrics: tuple[MetricResult, ...]


@dataclass(frozen=True)
class Rules:
    """The effective settings of one issue: the manifest's, with the issue's tuning applied."""

    open_after: int = 1
    window_count: int | None = None  # None: open_after
    resolve_after: int = 3
    close_factor: float = 0.8
    reopen_within: int | None = None  # None: resolve_after windows
    thresholds: Mapping[str, float] = field(default_factory=dict)  # tuned: metric -> threshold

    @property
    def count_of(self) -> int:
        return min(MAX_RETAINED, max(self.open_after, self.window_count or self.open_after))

    @property
    def reopen_horizon(self) -> int:
        return self.resolve_after if self.reopen_within is None else self.reopen_within


def close_threshold(threshold: float, direction: str, close_factor: float) -> float:
    """Where a metric counts as clean: ``threshold`` moved ``(1 - close_factor) * |threshold|`` towards good."""
    shift = abs(threshold) * (1.0 - close_factor)
    return threshold - shift if direction == "above" else threshold + shift


def judge_metric(result: MetricResult, rules: Rules) -> Verdict:
    """One metric's verdict under ``rules`` (a tuned threshold replaces the contrast's)."""
    value = result.judged
    tuned = rules.thresholds.get(result.metric)
    if tuned is None and result.status not in (STATUS_ALERT, "ok"):
        return "unknown"
    threshold = tuned if tuned is not None else result.threshold
    if value is None or threshold is None:
        return "unknown"
    above = result.direction == "above"
    if tuned is None:
        alert = result.alert if result.alert is not None else result.status == STATUS_ALERT
    else:
        alert = value > threshold if above else value < threshold
    if alert:
        return "breach"
    close = close_threshold(threshold, result.direction, rules.close_factor)
    clean = value < close if above else value > close
    return "clean" if clean else "band"


def judge(observation: Observation, rules: Rules) -> Verdict:
    """A window's verdict: breach if any metric breaches, clean if every judged one is clean, else band."""
    verdicts = [judge_metric(m, rules) for m in observation.metrics]
    judged = [v for v in verdicts if v != "unknown"]
    if not judged:
        return "unknown"
    if "breach" in judged:
        return "breach"
    return "clean" if all(v == "clean" for v in judged) else "band"


def magnitude(result: MetricResult, rules: Rules | None = None) -> float:
    """How far past its threshold a metric is, relatively (0 at or inside the threshold)."""
    tuned = rules.thresholds.get(result.metric) if rules is not None else None
    threshold = tuned if tuned is not None else result.threshold
    value = result.judged
    if value is None or threshold is None:
        return 0.0
    if result.direction == "above":
        excess = (value - threshold) / abs(threshold) if threshold else (math.inf if value > 0 else 0.0)
    else:
        excess = (threshold - value) / abs(threshold) if threshold else (math.inf if value < 0 else 0.0)
    return max(0.0, excess)


def priority(check: str, excess: float) -> float:
    """The issue's rank: ``CHECK_RANK[check] + excess / (1 + excess)`` (in [rank, rank + 1))."""
    rank = CHECK_RANK.get(check, 0.0)
    if math.isinf(excess):
        return rank + 0.999999
    return rank + excess / (1.0 + excess)


def headline(observation: Observation, rules: Rules) -> MetricResult | None:
    """The metric an issue shows: the breaching one furthest past its threshold, else the first judged one."""
    judged = [m for m in observation.metrics if judge_metric(m, rules) != "unknown"]
    breaching = [m for m in judged if judge_metric(m, rules) == "breach"]
    if breaching:
        return max(breaching, key=lambda m: magnitude(m, rules))
    return judged[0] if judged else None


@dataclass(frozen=True)
class Transition:
    """A change of state made by one window (``event`` when people may want to hear of it)."""

    window_index: int
    from_status: str
    to_status: str
    event: TransitionEvent | None
    verdict: Verdict
    seq: int  # the issue's transition counter after this one: unique per issue key
    new_issue: bool = False  # an ``opened`` after an earlier episode: a new issue
    revision: bool = False  # made by a window evaluated again


@dataclass(frozen=True)
class IssueState:
    """The machine's state for one key; JSON-ready through ``to_json``/``from_json``."""

    status: IssueStatus = "normal"
    # The last retained judged windows (index, verdict), oldest first; reset when an issue resolves.
    windows: tuple[tuple[int, str], ...] = ()
    clean_streak: int = 0
    since_resolved: int | None = None  # judged windows since resolving; None: never, or past the horizon
    newest: int | None = None  # the newest window index seen (judged or not)
    before_newest: IssueState | None = None  # the state before the newest window (for its re-evaluation)
    seq: int = 0
    episodes: int = 0  # how many times this key opened (not counting reopenings)

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "recovering")

    @property
    def pristine(self) -> bool:
        """Nothing worth remembering: normal, never opened, no breach counted."""
        return (
            self.status == "normal" and self.episodes == 0 and not any(v == "breach" for _, v in self.windows)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "windows": [list(w) for w in self.windows],
            "clean_streak": self.clean_streak,
            "since_resolved": self.since_resolved,
            "newest": self.newest,
            "before_newest": self.before_newest.to_json() if self.before_newest is not None else None,
            "seq": self.seq,
            "episodes": self.episodes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> IssueState:
        if not data:
            return cls()
        before = data.get("before_newest")
        return cls(
            status=data.get("status", "normal"),
            windows=tuple((int(i), str(v)) for i, v in data.get("windows", [])),
            clean_streak=int(data.get("clean_streak", 0)),
            since_resolved=data.get("since_resolved"),
            newest=data.get("newest"),
            before_newest=cls.from_json(before) if before else None,
            seq=int(data.get("seq", 0)),
            episodes=int(data.get("episodes", 0)),
        )


def _breaches(windows: Sequence[tuple[int, str]], rules: Rules) -> int:
    return sum(1 for _, v in windows[-rules.count_of :] if v == "breach")


def _advance(
    state: IssueState, index: int, verdict: Verdict, rules: Rules
) -> tuple[IssueState, Transition | None]:
    """One new window (newer than every one seen) applied to ``state``."""
    if verdict == "unknown":
        return replace(state, newest=index), None
    windows = (*state.windows, (index, verdict))[-rules.count_of :]
    since = state.since_resolved
    if since is not None:
        since += 1
    status: IssueStatus = state.status
    streak = state.clean_streak
    event: TransitionEvent | None = None
    new_issue = False
    if status in ("normal", "pending", "resolved"):
        if verdict == "breach" and _breaches(windows, rules) >= rules.open_after:
            status, streak = "open", 0
            if since is not None and since <= rules.reopen_horizon:
                event = "reopened"
            else:
                event, new_issue = "opened", state.episodes > 0
            since = None
        elif verdict == "breach":
            status = "pending" if state.status != "resolved" else "resolved"
        elif state.status == "pending" and _breaches(windows, rules) == 0:
            status = "normal"
    elif verdict == "clean":
        streak += 1
        if streak >= rules.resolve_after:
            status, event, streak, since, windows = "resolved", "resolved", 0, 0, ()
        else:
            status = "recovering"
    else:  # breach or band on an open or recovering issue
        status, streak = "open", 0
    if since is not None and since > rules.reopen_horizon:
        since = None
        if status == "resolved":
            status = "normal"  # the episode is over; the next opening is a new issue
    episodes = state.episodes + (1 if event == "opened" else 0)
    changed = status != state.status
    seq = state.seq + (1 if changed else 0)
    new = IssueState(
        status=status,
        windows=windows,
        clean_streak=streak,
        since_resolved=since,
        newest=index,
        before_newest=None,
        seq=seq,
        episodes=episodes,
    )
    if not changed:
        return new, None
    return new, Transition(index, state.status, status, event, verdict, seq, new_issue)


def step(state: IssueState, observation: Observation, rules: Rules) -> tuple[IssueState, list[Transition]]:
    """The state after ``observation``, and the transitions it made (see the module docstring)."""
    index = observation.window_index
    verdict = judge(observation, rules)
    if state.newest is None or index > state.newest:
        new, transition = _advance(state, index, verdict, rules)
        new = replace(new, before_newest=_without_before(state))
        return new, [transition] if transition else []
    if index == state.newest:
        return _reevaluate_newest(state, index, verdict, rules)
    return _revise_older(state, index, verdict, rules)


def _reevaluate_newest(
    state: IssueState, index: int, verdict: Verdict, rules: Rules
) -> tuple[IssueState, list[Transition]]:
    """The newest window again: recompute its step from the state before it (no un-opening)."""
    base = state.before_newest if state.before_newest is not None else IssueState()
    episodes_before = state.episodes - (1 if _opened_last(state) else 0)
    recomputed, transition = _advance(
        replace(base, seq=state.seq, episodes=episodes_before), index, verdict, rules
    )
    recomputed = replace(recomputed, before_newest=state.before_newest, seq=state.seq)
    if state.is_open and not recomputed.is_open and recomputed.status != "resolved":
        # no un-opening: keep the state the first evaluation made (only the verdict is replaced)
        windows = tuple((i, verdict if i == index else v) for i, v in state.windows)
        return replace(state, windows=windows), []
    if recomputed.status == state.status:
        return replace(recomputed, episodes=state.episodes), []
    event: TransitionEvent | None = None
    new_issue = False
    if recomputed.is_open and not state.is_open:
        if transition is not None and transition.event in ("opened", "reopened"):
            event, new_issue = transition.event, transition.new_issue
        else:
            event = "reopened" if state.status == "resolved" else "opened"
    elif recomputed.status == "resolved" and state.is_open:
        event = "resolved"
    episodes = state.episodes + (1 if event == "opened" else 0)
    recomputed = replace(recomputed, seq=state.seq + 1, episodes=episodes)
    moved = Transition(index, state.status, recomputed.status, event, verdict, state.seq + 1, new_issue, True)
    return recomputed, [moved]


def _opened_last(state: IssueState) -> bool:
    before = state.before_newest
    return before is not None and state.episodes > before.episodes


def _without_before(state: IssueState) -> IssueState:
    return replace(state, before_newest=None)


def _revise_older(
    state: IssueState, index: int, verdict: Verdict, rules: Rules
) -> tuple[IssueState, list[Transition]]:
    """An older window evaluated again: replaces its verdict; may open, never resolves or un-opens."""
    if verdict == "unknown":
        return state, []
    known = [i for i, _ in state.windows]
    if index in known:
        windows = tuple((i, verdict if i == index else v) for i, v in state.windows)
    elif known and index > known[0]:
        windows = tuple(sorted((*state.windows, (index, verdict))))[-rules.count_of :]
    else:
        return state, []  # older than the retained windows: changes nothing
    new = replace(state, windows=windows)
    if state.status in ("normal", "pending", "resolved") and verdict == "breach":
        if _breaches(windows, rules) >= rules.open_after:
            since = state.since_resolved
            reopen = since is not None and since <= rules.reopen_horizon
            event: TransitionEvent = "reopened" if reopen else "opened"
            new = replace(
                new,
                status="open",
                clean_streak=0,
                since_resolved=None,
                seq=state.seq + 1,
                episodes=state.episodes + (0 if reopen else 1),
            )
            new_issue = not reopen and state.episodes > 0
            return new, [Transition(index, state.status, "open", event, verdict, new.seq, new_issue, True)]
        if state.status == "normal":
            new = replace(new, status="pending", seq=state.seq + 1)
            return new, [Transition(index, "normal", "pending", None, verdict, new.seq, False, True)]
    return new, []
