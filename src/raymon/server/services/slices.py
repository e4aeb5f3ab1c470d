"""Slice analytics: rank slices against the rest, A/B test two versions, discover the worst slices, promote one.

- ``rank``: every slice of a reducer (configured slicestrs and space members) against the
  rest of the traffic on one metric, from the stored window states (``Moments`` merged over
  the windows; the rest is the global slice minus the slice), BY-adjusted p-values.
- ``ab_test``: two values of a tag (two slices, or two groups of discovery cells), per score
  and component, with the sample-ratio-mismatch check; ``tag="profile"`` compares two
  profile versions scoring the same traces (shadow deployment) with paired tests, the one
  analysis the states cannot answer (it reads the pairs' evaluation tags).
- ``cells_hook``: the reduce pass's ``on_claimed``: adds the pass's tags to the discovery cells.
- ``discover`` (the ``discover`` job and ``POST .../slices/discover``) searches the cells of the
  lookback (``engine.slice_discovery``) and stores the findings; ``discovered`` answers them.
- ``promote``: a found slice becomes a tracked one: the manifest's next version lists it.

Statistics are ``engine.slice_stats``'s, the lattice ``engine.slice_discovery``'s; SQL is the
store's (``store.slices``, ``store.reduce``). This module never parses HTTP.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import yaml

from raymon.profiling.components import MISSING_KINDS, EvalComponent
from raymon.profiling.errors import ProfileError
from raymon.profiling.names import name_key
from raymon.profiling.scores import AccuracyScore, MeanScore, PrecisionScore, RecallScore
from raymon.profiling.stats import CategoricalStats, stats_from_jcr
from raymon.server.engine import slice_cells, slice_discovery, slice_stats
from raymon.server.engine.jobs import JobContext, JobKind, JobSpec, Scheduler
from raymon.server.engine.manifest import ExploreSettings, Manifest
from raymon.server.engine.profile_reducer import NotReducibleError, ProfileReducer
from raymon.server.engine.slices import GLOBAL, combination_slicestr, space_key
from raymon.server.engine.windows import tick_of
from raymon.server.services import manifests as manifest_service
from raymon.server.services import tagfilter
from raymon.server.services.errors import ConflictError, InvalidInputError, NotFoundError
from raymon.server.services.profiles import parse_profile_ref
from raymon.server.store import accounts as account_store
from raymon.server.store import profiles as profile_store
from raymon.server.store import reduce as reduce_store
from raymon.server.store import slices as slice_store

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.store.db import Session
    from raymon.server.store.reduce import ClaimedTag

log = logging.getLogger("raymon.server.slices")

DEFAULT_MIN_N = 30
DISCOVER_KIND = "discover"
PAIRED_TAG = "profile"
_REFUSED = frozenset({"Type Error", "Extractor Error"})
_CORRECT, _WRONG = frozenset({"TP", "TN"}), frozenset({"FP", "FN"})


# --- metrics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """What is compared: the mean of a numeric component, an error rate, or a proportion of a confusion component."""

    name: str
    component: str
    kind: str  # "mean" | "rate" | "proportion"
    preference: str  # "low" | "high": which way is better; "none": neither (a feature's drift)
    hits: frozenset[str] = frozenset()  # proportion: the values counted
    of: frozenset[str] = frozenset()  # proportion: the values it is a share of


def _score_metric(name: str, score: Any) -> Metric | None:
    comp = score.inputs[0]
    if isinstance(score, MeanScore):
        return Metric(name, comp, "mean", score.preference)
    if isinstance(score, AccuracyScore):
        return Metric(name, comp, "proportion", score.preference, _CORRECT, _CORRECT | _WRONG)
    if isinstance(score, PrecisionScore):
        return Metric(name, comp, "proportion", score.preference, frozenset({"TP"}), frozenset({"TP", "FP"}))
    if isinstance(score, RecallScore):
        return Metric(name, comp, "proportion", score.preference, frozenset({"TP"}), frozenset({"TP", "FN"}))
    return None


def metrics_of(reducer: ProfileReducer) -> dict[str, Metric]:
    """Every metric a reducer's states can compare: its scores, numeric components, and components' error rates."""
    out: dict[str, Metric] = {}
    for name, score in reducer.reference.scores.items():
        metric = _score_metric(name, score)
        if metric is not None:
            out[name] = metric
    for name, component in reducer.reference.components.items():
        if reducer.numeric[name]:
            out.setdefault(
                name, Metric(name, name, "mean", "low" if isinstance(component, EvalComponent) else "none")
            )
        error_name = component.error_tag_name
        out.setdefault(error_name, Metric(error_name, name, "rate", "low"))
    return out


def resolve_metric(reducer: ProfileReducer, metric: str) -> Metric:
    """The metric named ``metric`` (names compare as the profile's do: ``MAE`` is the score ``mae``)."""
    known = metrics_of(reducer)
    found = known.get(metric)
    if found is None:
        found = next((m for name, m in known.items() if name_key(name) == name_key(metric)), None)
    if found is None:
        raise InvalidInputError(
            f"metric {metric!r} is not one of reducer {reducer.group!r}'s: scores (mean, accuracy, precision, "
            f"recall), numeric components, or '<component>-error' error rates: {sorted(metrics_of(reducer))}"
        )
    return found


def ranking_metrics(backend: Backend, project_id: str, reducer: str) -> list[str]:
    """The metrics a page offers to rank ``reducer``'s slices on: scores first, then error rates, then means."""
    profile = load_reducer(backend, project_id, reducer)
    known = metrics_of(profile)
    rank_of = {"rate": 1, "mean": 2, "proportion": 2}
    return sorted(
        known, key=lambda name: (0 if name in profile.reference.scores else rank_of[known[name].kind], name)
    )


def load_reducer(backend: Backend, project_id: str, reducer: str) -> ProfileReducer:
    """The reducer's profile (``name@version``) as a ``ProfileReducer``; 404 / 409 when it is not there or not built."""
    try:
        name, version = parse_profile_ref(reducer)
    except InvalidInputError as exc:
        raise NotFoundError(f"no reducer {reducer!r} in project {project_id!r}: {exc}") from exc
    with backend.reading() as session:
        row = profile_store.find(session, project_id, name, version)
    if row is None:
        raise NotFoundError(
            f"reducer {reducer!r}: profile {name}@{version} not found in project {project_id!r}"
        )
    try:
        return ProfileReducer(backend.plugins.load_profile(row.body), row.body)
    except (ProfileError, NotReducibleError) as exc:
        raise ConflictError(f"reducer {reducer!r} cannot be reduced: {exc}") from exc


# --- summaries of stored window states ----------------------------------------------------------


@dataclass
class Summary:
    """One slice's summary of one metric over windows: moments (mean), or hits of trials (rate, proportion)."""

    moments: slice_stats.Moments = slice_stats.Moments.empty()
    hits: int = 0
    trials: int = 0
    traces: int = 0  # the most rows of any component: how many traces the slice had

    def add(self, other: Summary) -> None:
        self.moments = self.moments.merge(other.moments)
        self.hits += other.hits
        self.trials += other.trials
        self.traces += other.traces


def _component_summary(state: Mapping[str, Any], metric: Metric) -> Summary:
    components = state.get("components", {})
    traces = 0
    for c in components.values():
        st, errors = c["stats"], c.get("errors", {})
        refused = sum(int(v) for k, v in errors.items() if k in _REFUSED and k not in MISSING_KINDS)
        traces = max(traces, int(st.get("count", 0)) + int(st.get("missing", 0)) + refused)
    found = components.get(metric.component)
    out = Summary(traces=traces)
    if found is None:
        return out
    st, errors = found["stats"], found.get("errors", {})
    if metric.kind == "mean":
        n = int(st.get("finite", 0))
        out.moments = slice_stats.Moments(n, float(st["mean"]) if n else 0.0, float(st.get("m2", 0.0)))
    elif metric.kind == "rate":
        refused = sum(int(v) for k, v in errors.items() if k in _REFUSED and k not in MISSING_KINDS)
        out.trials = int(st.get("count", 0)) + int(st.get("missing", 0)) + refused
        out.hits = sum(int(v) for v in errors.values())
        out.hits = min(out.hits, out.trials)
    else:
        stats = stats_from_jcr(st)
        freq = stats.frequencies() if isinstance(stats, CategoricalStats) else {}
        out.hits = sum(int(freq.get(k, 0)) for k in metric.hits)
        out.trials = sum(int(freq.get(k, 0)) for k in metric.of)
    return out


def _value(s: Summary, kind: str) -> float | None:
    if kind == "mean":
        return s.moments.mean if s.moments.n else None
    return s.hits / s.trials if s.trials else None


def _compare(a: Summary, b: Summary, kind: str, min_n: int) -> tuple[dict[str, Any], float | None]:
    """``a`` against ``b``: the test's JSON (or "not enough data") and its p-value."""
    n_a, n_b = (a.moments.n, b.moments.n) if kind == "mean" else (a.trials, b.trials)
    if n_a < max(min_n, 2) or n_b < max(min_n, 2):
        return {
            "status": "not enough data",
            "value": _value(a, kind),
            "rest_value": _value(b, kind),
            "n": n_a,
            "rest_n": n_b,
            "min_n": min_n,
        }, None
    if kind == "mean":
        result = slice_stats.welch(a.moments, b.moments)
    else:
        result = slice_stats.two_proportions(a.hits, a.trials, b.hits, b.trials)
    j = result.to_json()
    return {
        "status": "ok",
        "test": j["test"],
        "value": j["value_a"],
        "rest_value": j["value_b"],
        "difference": j["difference"],
        "ci_low": j["ci_low"],
        "ci_high": j["ci_high"],
        "effect_size": j["effect_size"],
        "effect_ci_low": j["effect_ci_low"],
        "effect_ci_high": j["effect_ci_high"],
        "statistic": j["statistic"],
        "df": j["df"],
        "n": j["n_a"],
        "rest_n": j["n_b"],
    }, result.p_value


def _in_space(slicestr: str, names: Sequence[str]) -> bool:
    """Whether ``slicestr`` is a member (or the rest) of the space over ``names``."""
    if slicestr == "other(" + space_key(names) + ")":
        return True
    parts = slicestr.split(" && ")
    if len(parts) != len(names):
        return False
    prefixes = [(combination_slicestr([n], ["x"]) or "")[:-1] for n in names]  # 'client=='
    return all(p.startswith(prefix) for prefix, p in zip(prefixes, parts, strict=True))


def _states(
    backend: Backend, project_id: str, reducer: str, begin: datetime | None, end: datetime | None
) -> list[reduce_store.WindowRow]:
    with backend.reading() as session:
        return reduce_store.windows(session, project_id, reducer, None, begin, end, with_state=True)


def _summaries(
    rows: Sequence[reduce_store.WindowRow], metric: Metric, only: set[str] | None = None
) -> dict[str, Summary]:
    """Per slice, ``metric``'s summary merged over the windows ``rows``."""
    out: dict[str, Summary] = {}
    for row in rows:
        if not row.state or (only is not None and row.slice not in only):
            continue
        out.setdefault(row.slice, Summary()).add(_component_summary(row.state, metric))
    return out


def rank(
    backend: Backend,
    project_id: str,
    reducer: str,
    metric: str,
    begin: datetime | None = None,
    end: datetime | None = None,
    space: str | None = None,
    min_n: int = DEFAULT_MIN_N,
) -> dict[str, Any]:
    """Every slice of ``reducer`` against the rest of the traffic on ``metric`` (see the module docstring).

    Slices are ranked worst first: the significant ones (adjusted p below 0.05) by how far their
    effect lies on the metric's bad side, then the others, then those without enough data.
    """
    profile = load_reducer(backend, project_id, reducer)
    m = resolve_metric(profile, metric)
    with backend.reading() as session:
        parts = slice_store.component_windows(session, project_id, reducer, m.component, begin, end)
    summaries: dict[str, Summary] = {}
    for part in parts:
        if part.component is not None:
            state = {"components": {m.component: part.component}}
            summaries.setdefault(part.slice, Summary()).add(_component_summary(state, m))
    whole = summaries.pop(GLOBAL, Summary())
    names = [s.strip() for s in space.split(",")] if space else None
    rows: list[dict[str, Any]] = []
    p_values: list[float | None] = []
    for slicestr, summary in sorted(summaries.items()):
        if names is not None and not _in_space(slicestr, names):
            continue
        rest = Summary(
            whole.moments.minus(summary.moments),
            whole.hits - summary.hits,
            whole.trials - summary.trials,
            whole.traces - summary.traces,
        )
        result, p = _compare(summary, rest, m.kind, min_n)
        rows.append({"slice": slicestr, **result})
        p_values.append(p)
    sign = {"low": 1.0, "high": -1.0}.get(m.preference)
    for row, p, q in zip(rows, p_values, slice_stats.adjust(p_values), strict=True):
        row["p_value"] = p
        row["p_adjusted"] = q
        row["significant"] = q is not None and q < slice_discovery.Q
        diff = row.get("difference")
        row["worse"] = None if diff is None or sign is None else sign * diff > 0

    def order(row: dict[str, Any]) -> tuple[int, float, str]:
        if row["status"] != "ok":
            return (2, 0.0, row["slice"])
        effect = row.get("effect_size") or 0.0
        badness = abs(effect) if sign is None else sign * effect
        return (0 if row["significant"] else 1, -badness, row["slice"])

    rows.sort(key=order)
    return {
        "reducer": reducer,
        "metric": m.name,
        "kind": m.kind,
        "component": m.component,
        "preference": m.preference,
        "overall": _value(whole, m.kind),
        "n": whole.moments.n if m.kind == "mean" else whole.trials,
        "min_n": min_n,
        "slices": rows,
    }


# --- A/B -------------------------------------------------------------------------------------


def _cell_summaries(
    backend: Backend,
    project_id: str,
    reducer: str,
    tag: str,
    values: Sequence[str],
    begin: datetime | None,
    end: datetime | None,
) -> dict[str, dict[str, tuple[int, int, float, float, int]]]:
    """Per value of ``tag``, per component: (rows, n, sum, sum of squares, errors) from the discovery cells."""
    with backend.reading() as session:
        cells = slice_store.rolled_up_cells(session, project_id, reducer, begin, end)
    out: dict[str, dict[str, list[float]]] = {v: {} for v in values}
    for c in cells:
        value = slice_cells.parse_cell(c.cell).get(tag)
        if value not in out:
            continue
        acc = out[value].setdefault(c.component, [0, 0, 0.0, 0.0, 0])
        acc[0] += c.rows
        acc[1] += c.n
        acc[2] += c.total
        acc[3] += c.total_sq
        acc[4] += c.errors
    return {
        v: {k: (int(a[0]), int(a[1]), a[2], a[3], int(a[4])) for k, a in comps.items()}
        for v, comps in out.items()
    }


def ab_test(
    backend: Backend,
    project_id: str,
    reducer: str,
    tag: str,
    a: str,
    b: str,
    begin: datetime | None = None,
    end: datetime | None = None,
    expected_share_a: float = 0.5,
    min_n: int = DEFAULT_MIN_N,
) -> dict[str, Any]:
    """Versions ``a`` and ``b`` (values of ``tag``) compared on every metric; see the module docstring."""
    if not 0.0 < expected_share_a < 1.0:
        raise InvalidInputError(f"expected_share_a must lie strictly between 0 and 1, got {expected_share_a}")
    profile = load_reducer(backend, project_id, reducer)  # an unknown reducer is a 404 before anything else
    if a == b:
        raise InvalidInputError(f"a and b must differ, both are {a!r}")
    if tag == PAIRED_TAG:
        return _paired(backend, project_id, reducer, a, b, begin, end, min_n)
    metrics = metrics_of(profile)
    slice_a, slice_b = combination_slicestr([tag], [a]), combination_slicestr([tag], [b])
    if slice_a is None or slice_b is None:
        raise InvalidInputError(f"tag {tag!r} with values {a!r} and {b!r} cannot name slices")
    results: list[dict[str, Any]] = []
    p_values: list[float | None] = []
    states = [r for r in _states(backend, project_id, reducer, begin, end) if r.slice in (slice_a, slice_b)]
    found = _summaries(states, next(iter(metrics.values())))
    source = "slices"
    if slice_a in found and slice_b in found:
        traces_a, traces_b = found[slice_a].traces, found[slice_b].traces
        for m in metrics.values():
            sums = _summaries(states, m)
            result, p = _compare(sums[slice_a], sums[slice_b], m.kind, min_n)
            results.append({"metric": m.name, "kind": m.kind, "component": m.component, **_arms(result)})
            p_values.append(p)
    else:
        cells = _cell_summaries(backend, project_id, reducer, tag, [a, b], begin, end)
        if not cells[a] or not cells[b]:
            raise NotFoundError(
                f"no data for {slice_a!r} and {slice_b!r}: neither configured slices of reducer {reducer!r} "
                f"(manifest slices) nor values of an explored tag (settings.explore) in the time range"
            )
        source = "cells"
        traces_a = max(r for r, *_ in cells[a].values())
        traces_b = max(r for r, *_ in cells[b].values())
        for m in metrics.values():
            if m.kind == "proportion" or m.component not in cells[a] or m.component not in cells[b]:
                continue
            ca, cb = cells[a][m.component], cells[b][m.component]
            sa, sb = Summary(traces=ca[0]), Summary(traces=cb[0])
            if m.kind == "mean":
                sa.moments = slice_stats.Moments.from_sums(ca[1], ca[2], ca[3])
                sb.moments = slice_stats.Moments.from_sums(cb[1], cb[2], cb[3])
            else:
                sa.hits, sa.trials, sb.hits, sb.trials = ca[4], ca[0], cb[4], cb[0]
            result, p = _compare(sa, sb, m.kind, min_n)
            results.append({"metric": m.name, "kind": m.kind, "component": m.component, **_arms(result)})
            p_values.append(p)
    _adjusted(results, p_values)
    return {
        "reducer": reducer,
        "tag": tag,
        "a": a,
        "b": b,
        "paired": False,
        "source": source,
        "n_a": traces_a,
        "n_b": traces_b,
        "sample_ratio": slice_stats.sample_ratio(traces_a, traces_b, expected_share_a).to_json(),
        "metrics": results,
    }


_ARMS = {"value": "value_a", "rest_value": "value_b", "n": "n_a", "rest_n": "n_b"}


def _arms(result: dict[str, Any]) -> dict[str, Any]:
    """A slice-against-rest answer in the A/B's words (value_a, value_b, n_a, n_b)."""
    return {_ARMS.get(k, k): v for k, v in result.items()}


def _adjusted(results: list[dict[str, Any]], p_values: list[float | None]) -> None:
    for row, p, q in zip(results, p_values, slice_stats.adjust(p_values), strict=True):
        row["p_value"] = p
        row["p_adjusted"] = q


def _profile_ref(reducer: str, version: str) -> str:
    """``a``/``b`` of a paired test: a full ``name@version``, or a version of the reducer's profile."""
    name, _ = parse_profile_ref(reducer)
    ref = version if "@" in version else f"{name}@{version}"
    try:
        name, ver = parse_profile_ref(ref)
    except InvalidInputError as exc:
        raise NotFoundError(f"no profile {ref!r} to compare in project: {exc}") from exc
    return f"{name}@{ver}"


def _paired(
    backend: Backend,
    project_id: str,
    reducer: str,
    a: str,
    b: str,
    begin: datetime | None,
    end: datetime | None,
    min_n: int,
) -> dict[str, Any]:
    """Two profile versions scoring the same traces: paired t on numeric evaluations, McNemar on correctness."""
    ref_a, ref_b = _profile_ref(reducer, a), _profile_ref(reducer, b)
    prof_a = load_reducer(backend, project_id, ref_a)
    prof_b = load_reducer(backend, project_id, ref_b)
    results: list[dict[str, Any]] = []
    p_values: list[float | None] = []
    n_pairs = 0
    for name, name_b in _paired_components(prof_a, prof_b):
        with backend.reading() as session:
            pairs = slice_store.paired_values(session, project_id, ref_a, name, ref_b, name_b, begin, end)
        n_pairs = max(n_pairs, len(pairs))
        if prof_a.numeric[name]:
            diffs = [float(x) - float(y) for _, x, y in pairs if _number(x) and _number(y)]
            xs = [float(x) for _, x, y in pairs if _number(x) and _number(y)]
            ys = [float(y) for _, x, y in pairs if _number(x) and _number(y)]
            if len(diffs) < max(min_n, 2):
                results.append(
                    {
                        "metric": name,
                        "kind": "mean",
                        "status": "not enough data",
                        "n": len(diffs),
                        "min_n": min_n,
                    }
                )
                p_values.append(None)
                continue
            r = slice_stats.paired_mean(slice_stats.Moments.of(diffs), sum(xs) / len(xs), sum(ys) / len(ys))
        else:
            judged = [
                (str(x) in _CORRECT, str(y) in _CORRECT)
                for _, x, y in pairs
                if str(x) in _CORRECT | _WRONG and str(y) in _CORRECT | _WRONG
            ]
            if len(judged) < max(min_n, 1):
                results.append(
                    {
                        "metric": name,
                        "kind": "proportion",
                        "status": "not enough data",
                        "n": len(judged),
                        "min_n": min_n,
                    }
                )
                p_values.append(None)
                continue
            only_a = sum(1 for x, y in judged if x and not y)
            only_b = sum(1 for x, y in judged if y and not x)
            r = slice_stats.mcnemar(
                only_a, only_b, len(judged), sum(x for x, _ in judged), sum(y for _, y in judged)
            )
        j = r.to_json()
        results.append(
            {
                "metric": name,
                "kind": "mean" if prof_a.numeric[name] else "proportion",
                "status": "ok",
                "test": j["test"],
                "value_a": j["value_a"],
                "value_b": j["value_b"],
                "difference": j["difference"],
                "ci_low": j["ci_low"],
                "ci_high": j["ci_high"],
                "effect_size": j["effect_size"],
                "statistic": j["statistic"],
                "n": j["n_a"],
            }
        )
        p_values.append(r.p_value)
    _adjusted(results, p_values)
    return {
        "reducer": reducer,
        "tag": PAIRED_TAG,
        "a": ref_a,
        "b": ref_b,
        "paired": True,
        "source": "tags",
        "n_a": n_pairs,
        "n_b": n_pairs,
        "sample_ratio": None,
        "metrics": results,
    }


def _paired_components(a: ProfileReducer, b: ProfileReducer) -> list[tuple[str, str]]:
    """Which evaluation component of ``b`` each of ``a``'s is compared with: the same name, else the same position.

    A trace holds one tag per name, so two versions logging on one trace name their
    evaluation tags apart (``abs_error``, ``abs_error_shadow``): then the i-th evaluation
    component of each (in the profiles' order) are paired.
    """
    evals_a = [n for n, c in a.reference.components.items() if isinstance(c, EvalComponent)]
    evals_b = [n for n, c in b.reference.components.items() if isinstance(c, EvalComponent)]
    out = []
    for i, name in enumerate(evals_a):
        if name in evals_b:
            out.append((name, name))
        elif i < len(evals_b) and evals_b[i] not in evals_a and a.numeric[name] == b.numeric[evals_b[i]]:
            out.append((name, evals_b[i]))
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- discovery cells (the reduce pass's hook) ---------------------------------------------------


def cells_hook(
    session: Session,
    project_id: str,
    manifest: Manifest,
    reducer_name: str,
    reducer: ProfileReducer,
    claimed: Sequence[ClaimedTag],
    windows: dict[int, datetime],
    now: datetime,
) -> None:
    """The reduce pass's ``on_claimed``: add the pass's tags to the discovery cells, in the pass's transaction."""
    settings = manifest.settings.explore
    if settings.max_tags == 0 or not windows:
        return
    stored = slice_store.load_explore(session, project_id, reducer_name)
    vocab = slice_cells.Vocab.from_jcr(stored.vocab)
    before = vocab.to_jcr()
    raw = slice_store.label_tags(session, windows.keys(), settings.tags)
    texts: dict[int, dict[str, str]] = {}
    for pk, tags in raw.items():
        row = {}
        for name, value in tags.items():
            text = slice_cells.value_text(value)
            if text is not None:
                row[name] = text
        texts[pk] = row
    vocab.admit(texts.values(), settings)
    explored = vocab.explored(settings)
    pks = list(windows)
    empty: dict[str, str] = {}
    cells = dict(zip(pks, vocab.cells_of((texts.get(pk, empty) for pk in pks), explored), strict=True))
    if isinstance(claimed, reduce_store.TagColumns) and hasattr(reducer, "classify_columns"):  # per column
        cols = reducer.classify_columns(claimed)
        adds = slice_cells.fold_columns(
            claimed.trace_pk, cols.components, cols.component, cols.is_error, cols.number, windows, cells
        )
    else:
        classified = (
            (t.trace_pk, c) for t in claimed if (c := reducer.classify(t.name, t.type, t.value)) is not None
        )
        adds = slice_cells.fold(classified, windows, cells)
    slice_store.add_cells(session, project_id, reducer_name, adds)
    if vocab.to_jcr() != before:
        slice_store.save_vocab(session, project_id, reducer_name, vocab.to_jcr(), now)


# --- discovery ---------------------------------------------------------------------------------


def _discovery_metrics(reducer: ProfileReducer) -> list[Metric]:
    """What discovery searches: the means of numeric evaluation components, and every component's error rate."""
    out = [
        Metric(name, name, "mean", "low")
        for name, c in reducer.reference.components.items()
        if isinstance(c, EvalComponent) and reducer.numeric[name]
    ]
    out += [Metric(c.error_tag_name, name, "rate", "low") for name, c in reducer.reference.components.items()]
    return out


def search_cells(
    cells: Sequence[slice_store.CellSum], explored: Sequence[str], metric: Metric, settings: ExploreSettings
) -> slice_discovery.SearchReport:
    """One metric's discovery over rolled-up cells (projected on the explored tags)."""
    rate = metric.kind == "rate"
    merged: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for c in cells:
        if c.component != metric.component:
            continue
        values = slice_cells.parse_cell(c.cell)
        key = tuple((t, values[t]) for t in explored if t in values)
        acc = merged.setdefault(key, [0.0, 0.0, 0.0, -math.inf])
        if rate:
            acc[0] += c.rows
            acc[1] += c.errors
            acc[2] += c.errors
            acc[3] = max(acc[3], 1.0 if c.errors else 0.0)
        else:
            acc[0] += c.n
            acc[1] += c.total
            acc[2] += c.total_sq
            acc[3] = max(acc[3], c.value_max if c.value_max is not None else -math.inf)
    table = slice_discovery.CellTable.build(
        explored,
        [(dict(k), w, s, sq, None if mx == -math.inf else mx) for k, (w, s, sq, mx) in merged.items()],
    )
    return slice_discovery.search(
        table,
        slice_discovery.SearchSettings(
            settings.max_level, settings.min_support, settings.alpha, settings.top, rate
        ),
    )


def discover(backend: Backend, project_id: str, reducer: str, now: datetime | None = None) -> dict[str, Any]:
    """Search the reducer's cells of the lookback for every discovery metric and store the findings."""
    now = now or backend.clock()
    findings = find(backend, project_id, reducer, now)
    with backend.writing() as session:
        slice_store.save_findings(session, project_id, reducer, findings, now)
    return findings


def find(backend: Backend, project_id: str, reducer: str, now: datetime) -> dict[str, Any]:
    """What ``discover`` stores: per discovery metric, the top slices of the cells of the lookback."""
    manifest = manifest_service.current(backend, project_id)
    if manifest is None or not any(a.name == reducer for a in manifest.actions.reduce):
        raise NotFoundError(f"reducer {reducer!r} is not in project {project_id!r}'s manifest")
    profile = load_reducer(backend, project_id, reducer)
    settings = manifest.settings.explore
    begin = now - timedelta(seconds=settings.lookback_s)
    with backend.reading() as session:
        stored = slice_store.load_explore(session, project_id, reducer)
        cells = slice_store.rolled_up_cells(session, project_id, reducer, begin, None)
    explored = slice_cells.Vocab.from_jcr(stored.vocab).explored(settings)
    findings: dict[str, Any] = {
        "reducer": reducer,
        "discovered_at": now.isoformat(),
        "begin": begin.isoformat(),
        "explored": explored,
        "metrics": {},
    }
    for metric in _discovery_metrics(profile):
        report = search_cells(cells, explored, metric, settings)
        if report.n > 0:
            findings["metrics"][metric.name] = {
                "kind": metric.kind,
                "component": metric.component,
                **report.to_json(),
            }
    return findings


def discovered(backend: Backend, project_id: str, reducer: str, metric: str, top: int = 10) -> dict[str, Any]:
    """The last discovery run's top slices of ``metric`` (a score reads as its component)."""
    profile = load_reducer(backend, project_id, reducer)
    m = resolve_metric(profile, metric)
    with backend.reading() as session:
        stored = slice_store.load_explore(session, project_id, reducer)
    findings = stored.findings or {}
    key = m.component if m.kind == "mean" else m.name
    found = (findings.get("metrics") or {}).get(key)
    return {
        "reducer": reducer,
        "metric": m.name,
        "discovered_at": findings.get("discovered_at"),
        "explored": findings.get("explored", []),
        **(
            {k: v for k, v in found.items() if k != "slices"}
            if found
            else {"kind": m.kind, "component": m.component}
        ),
        "slices": (found or {}).get("slices", [])[:top],
    }


def discover_job_key(project_id: str, reducer: str, tick: int) -> str:
    return f"discover:{project_id}:{reducer}:{tick}"


def discover_scheduler() -> Scheduler:
    """Every process's scheduler of discovery runs: one job per (project, reducer, ``explore.interval_s`` tick)."""

    def schedule(backend: Backend, now: datetime) -> Iterator[JobSpec]:
        with backend.reading() as session:
            project_ids = [p.id for p in account_store.list_projects(session)]
        for project_id in project_ids:
            manifest = manifest_service.current(backend, project_id)
            if manifest is None or manifest.settings.explore.max_tags == 0:
                continue
            tick = tick_of(now, manifest.settings.explore.interval_s)
            for action in manifest.actions.reduce:
                yield JobSpec(
                    DISCOVER_KIND,
                    discover_job_key(project_id, action.name, tick),
                    project_id,
                    {"reducer": action.name, "tick": tick},
                )

    return schedule


def _discover_handler(ctx: JobContext) -> None:
    project_id = ctx.job.project_id or ""
    reducer = str(ctx.job.payload.get("reducer", ""))
    now = ctx.backend.clock()
    try:
        findings: dict[str, Any] | None = find(ctx.backend, project_id, reducer, now)
    except (
        NotFoundError,
        ConflictError,
    ) as exc:  # the reducer left the manifest, or its profile is not built
        log.info("discover job %s: %s", ctx.job.key, exc)
        findings = None
    ctx.heartbeat()
    with ctx.finishing() as session:  # the findings and the job's completion commit together
        if findings is not None:
            slice_store.save_findings(session, project_id, reducer, findings, now)


DISCOVER_JOB_KIND = JobKind(DISCOVER_KIND, _discover_handler, max_attempts=3, lease_s=600.0, backoff_s=30.0)


# --- promotion ---------------------------------------------------------------------------------


def promote(
    backend: Backend, project_id: str, slicestr: str, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """Add ``slicestr`` to the manifest's slices (its next version); a slice already tracked changes nothing."""
    text = slicestr.strip()
    source = manifest_service.current_text(backend, project_id)
    if source is None:
        raise NotFoundError(f"project {project_id!r} has no manifest to add slice {text!r} to")
    try:
        tagfilter.parse(text)
    except tagfilter.TagFilterError as exc:
        raise InvalidInputError(f"slicestr {slicestr!r} is not a filter expression: {exc}") from exc
    document = yaml.safe_load(source) or {}
    if not isinstance(document, dict):
        raise ConflictError(f"project {project_id!r}'s manifest is not a mapping")
    slices = document.setdefault("slices", []) or []
    document["slices"] = slices
    if any(isinstance(s, dict) and str(s.get("slicestr", "")).strip() == text for s in slices):
        applied = manifest_service.apply_manifest(backend, project_id, source)
        return {**applied.as_dict(), "slicestr": text, "promoted": False}
    entry: dict[str, Any] = {"slicestr": text}
    if name:
        entry["name"] = name
    if description:
        entry["description"] = description
    slices.append(entry)
    applied = manifest_service.apply_manifest(
        backend, project_id, yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    )
    return {**applied.as_dict(), "slicestr": text, "promoted": True}
