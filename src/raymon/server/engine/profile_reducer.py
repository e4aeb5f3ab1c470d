"""The ``profile_reducer``'s state: production stats of a profile's components, per slice and window.

A profile's validation tags (docs/profiles.md, "Validating: the tag scheme") are
the reducer's input: in the profile's group ``name@version``, a value tag named
after a component carries its value, an error tag ``<component>-error`` the kind
of a bad value. ``WindowState`` folds them into the *same* mergeable stats classes
``ModelProfile`` keeps (``NumericStats``/``CategoricalStats``, ``empty_like`` the
reference's, so they share bins and domain) plus error counts by kind:

- a value tag: ``stats.update`` with its value (a numeric component given text
  counts as a ``Type Error``);
- ``Value None``/``Value NaN``: ``stats.missing`` and the error count, as
  ``Component.build_from_values`` counts them;
- any other error kind: its count (bound and domain errors come with a value tag
  too, counted in the stats' outer bins or ``unseen``, as the reference does).

States merge (``merge``) exactly as their stats do, so the state of many passes,
windows or slices is one merge away, and ``production_jcr`` turns one into a
production ``ModelProfile`` document (the reference's components and scores with
production stats, errors and score results) that ``reference.contrast`` reads.
``production_from_tags`` is the pure reference implementation the incremental path
is tested against. This module never reads the database.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import pandas as pd

from raymon.profiling.components import MISSING_KINDS, TYPE_ERROR
from raymon.profiling.contrast import CheckResult
from raymon.profiling.profile import ModelProfile
from raymon.profiling.stats import CategoricalStats, NumericStats, Stats, stats_from_jcr
from raymon.registry import ClassTable

if TYPE_CHECKING:
    from raymon.server.store.reduce import TagColumns

STATE_FORMAT = 1
# On a drifting categorical component's drift rows: the category whose share grew most (its examples carry it).
EXAMPLE_VALUE = "example_value"


def _empty_like(stats: Stats) -> Stats:
    if isinstance(stats, NumericStats):
        return NumericStats.empty_like(stats)
    return CategoricalStats.empty_like(stats)


class ComponentState:
    """One component's production stats and error counts (kind -> n)."""

    __slots__ = ("stats", "errors")

    def __init__(self, stats: Stats, errors: dict[str, int] | None = None) -> None:
        self.stats = stats
        self.errors: dict[str, int] = dict(errors or {})

    def merge(self, other: ComponentState) -> ComponentState:
        errors = dict(self.errors)
        for kind, n in other.errors.items():
            errors[kind] = errors.get(kind, 0) + n
        return ComponentState(self.stats.merge(other.stats), errors)  # type: ignore[arg-type]

    @property
    def rows(self) -> int:
        """Values seen: counted, missing, or refused before counting."""
        refused = sum(n for kind, n in self.errors.items() if kind not in MISSING_KINDS and kind in _REFUSED)
        return int(self.stats.count) + int(self.stats.missing) + refused


_REFUSED = frozenset({TYPE_ERROR, "Extractor Error"})


class Accumulator:
    """Values and error kinds of one (slice, window), gathered tag by tag (or column by column) and folded in at once."""

    __slots__ = ("values", "errors", "n_tags")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}  # component -> a list of values, or a NumPy array
        self.errors: dict[str, list[str]] = {}
        self.n_tags = 0

    def add(self, classified: tuple[bool, str, Any]) -> None:
        """Add one ``ProfileReducer.classify`` answer."""
        is_error, component, payload = classified
        bucket = self.errors if is_error else self.values
        found = bucket.get(component)
        if found is None:
            bucket[component] = [payload]
        else:
            found.append(payload)
        self.n_tags += 1


class ClassifiedColumns(NamedTuple):
    """``ProfileReducer.classify`` of a batch of tags, as columns.

    ``component``: the index into ``components`` per tag, -1 for a tag of no component;
    ``number``: a numeric value tag's value (NaN otherwise, and for a type error);
    ``payload``: a category's text or an error's kind (else the tag's text or None).
    """

    components: list[str]
    component: np.ndarray
    is_error: np.ndarray
    number: np.ndarray
    payload: np.ndarray


def _factorize(values: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The distinct values and each value's index among them (None, NaN: values too)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return list(uniques), np.asarray(codes, np.int64)


class NotReducibleError(ValueError):
    """A profile a reducer cannot use as its reference (it is not built: no reference stats)."""


class ProfileReducer:
    """What reducing a profile's tags needs, looked up once: which tag feeds which component.

    ``reference`` is the loaded reference profile, ``reference_jcr`` its stored document
    (the skeleton of every production profile).
    """

    def __init__(self, reference: ModelProfile, reference_jcr: Mapping[str, Any] | None = None) -> None:
        if not reference.components or any(c.stats is None for c in reference.components.values()):
            raise NotReducibleError(
                f"profile {reference.group_idfr!r} is not built (no reference stats): "
                "it cannot be a reducer's reference"
            )
        self.reference = reference
        self.reference_jcr = dict(reference_jcr) if reference_jcr is not None else reference.to_jcr()
        self.group = reference.group_idfr
        self.values: dict[str, str] = {c.name: c.name for c in reference.components.values()}
        self.error_names: dict[str, str] = {c.error_tag_name: c.name for c in reference.components.values()}
        self.numeric = {c.name: isinstance(c.stats, NumericStats) for c in reference.components.values()}

    def _rule(self, name: str, type_: str | None) -> tuple[str | None, str]:
        """What a tag of ``name`` and ``type_`` is: ``("error" | "num" | "cat", component)``, or ``(None, "")``."""
        component = self.error_names.get(name)
        if component is not None and (type_ is None or type_.endswith("-error") or name not in self.values):
            return "error", component
        component = self.values.get(name)
        if component is None:
            return None, ""
        return ("num" if self.numeric[component] else "cat"), component

    def classify(self, name: str, type_: str | None, value: Any) -> tuple[bool, str, Any] | None:
        """What one tag of the profile's group adds: ``(is_error, component, value or error kind)``; None: no component."""
        kind, component = self._rule(name, type_)
        if kind is None:
            return None
        if kind == "error":
            return True, component, str(value)
        if kind == "num":
            if isinstance(value, str) or value is None or isinstance(value, bool):
                return True, component, TYPE_ERROR
            return False, component, float(value)
        return False, component, value if isinstance(value, str) else str(value)

    def classify_columns(self, tags: TagColumns) -> ClassifiedColumns:
        """``classify`` of every tag of a batch at once: a rule per distinct (name, type), NumPy for the rest.

        Kept in ``tags.memo``: the pass and its cells hook classify the same batch once.
        """
        memo = tags.memo.get(("classified", id(self)))
        if memo is not None:
            return memo
        n = len(tags)
        names, name_codes = _factorize(tags.name)
        types, type_codes = _factorize(tags.type)
        pairs, pair_of_tag = np.unique(name_codes * (len(types) + 1) + type_codes, return_inverse=True)
        components: list[str] = []
        comp_of_pair = np.full(len(pairs), -1, np.int64)
        kind_of_pair = np.zeros(len(pairs), np.int8)  # 0 none, 1 error, 2 num, 3 cat
        for j, pair in enumerate(pairs.tolist()):
            rule, name = self._rule(names[pair // (len(types) + 1)], types[pair % (len(types) + 1)])
            if rule is None:
                continue
            if name not in components:
                components.append(name)
            comp_of_pair[j] = components.index(name)
            kind_of_pair[j] = {"error": 1, "num": 2, "cat": 3}[rule]
        component = comp_of_pair[pair_of_tag.reshape(n)]
        kind = kind_of_pair[pair_of_tag.reshape(n)]
        has_text = np.not_equal(tags.value_text, cast(Any, None)).astype(bool, copy=False).reshape(n)
        type_error = (kind == 2) & (has_text | tags.num_null)
        is_error = (kind == 1) | type_error
        number = np.where((kind == 2) & ~type_error, tags.value_num, np.nan)
        payload = np.array(tags.value_text, dtype=object, copy=True)  # a category's text, an error's kind
        payload[type_error] = TYPE_ERROR
        untexted = np.flatnonzero(((kind == 3) | (kind == 1)) & ~has_text)
        for i, null, num in zip(
            untexted.tolist(),
            tags.num_null[untexted].tolist(),
            tags.value_num[untexted].tolist(),
            strict=True,
        ):
            payload[i] = str(None if null else num)
        out = tags.memo[("classified", id(self))] = ClassifiedColumns(
            components, component, is_error, number, payload
        )
        return out

    def accumulate(
        self, tags: TagColumns, keys_of: Mapping[int, Sequence[Hashable]]
    ) -> dict[Hashable, Accumulator]:
        """``classify`` and ``Accumulator.add`` of every tag into each key of its trace (``keys_of[trace_pk]``), per column.

        The same accumulators as adding tag by tag, values in the same order (what a sketch's
        state may depend on), but each (key, component)'s values gathered as one NumPy array.
        Tags of traces without keys are skipped.
        """
        out: dict[Hashable, Accumulator] = {}
        if not len(tags):
            return out
        c = self.classify_columns(tags)
        traces, trace_of_tag = np.unique(tags.trace_pk, return_inverse=True)
        trace_of_tag = trace_of_tag.reshape(len(tags))
        key_ids: dict[Hashable, int] = {}
        flat: list[int] = []
        counts = np.zeros(len(traces), np.int64)
        for t, pk in enumerate(traces.tolist()):
            keys = keys_of.get(pk, ())
            counts[t] = len(keys)
            flat += [key_ids.setdefault(k, len(key_ids)) for k in keys]
        keys_list = list(key_ids)
        ptr = np.concatenate([[0], np.cumsum(counts)[:-1]])
        selected = np.flatnonzero((c.component >= 0) & (counts[trace_of_tag] > 0))
        per_tag = counts[trace_of_tag[selected]]
        rep = np.repeat(selected, per_tag)  # each tag once per key of its trace, in tag order
        offset = np.arange(len(rep)) - np.repeat(np.cumsum(per_tag) - per_tag, per_tag)
        rep_key = np.asarray(flat, np.int64)[ptr[trace_of_tag[rep]] + offset] if len(rep) else rep
        n_comp = len(c.components)
        code = (rep_key * n_comp + c.component[rep]) * 2 + c.is_error[rep]
        order = np.argsort(code, kind="stable")  # stable: each group's values keep the tags' order
        code, rep = code[order], rep[order]
        if not len(code):
            return out
        bounds = np.flatnonzero(np.diff(code)) + 1
        for lo, hi in zip([0, *bounds.tolist()], [*bounds.tolist(), len(code)], strict=True):
            g = int(code[lo])
            key, component, error = keys_list[g // 2 // n_comp], c.components[g // 2 % n_comp], g % 2
            acc = out.get(key)
            if acc is None:
                acc = out[key] = Accumulator()
            idx = rep[lo:hi]
            if error:
                acc.errors[component] = [str(k) for k in c.payload[idx].tolist()]
            elif self.numeric[component]:
                acc.values[component] = c.number[idx]
            else:
                acc.values[component] = c.payload[idx]
            acc.n_tags += hi - lo
        return out

    def add_tag(self, acc: Accumulator, name: str, type_: str | None, value: Any) -> bool:
        """Fold one tag of the profile's group into ``acc``; False when it names no component."""
        classified = self.classify(name, type_, value)
        if classified is None:
            return False
        acc.add(classified)
        return True

    def empty(self) -> WindowState:
        """A state with the reference's bins and domains and no data."""
        return WindowState(
            {
                name: ComponentState(_empty_like(c.stats))  # type: ignore[arg-type]
                for name, c in self.reference.components.items()
            }
        )

    def state_from_jcr(self, jcr: Mapping[str, Any] | None) -> WindowState:
        """A stored state, or an empty one for ``None``; components added to the profile since start empty."""
        if not jcr:
            return self.empty()
        state = WindowState.from_jcr(jcr)
        for name, c in self.reference.components.items():
            if name not in state.components:
                state.components[name] = ComponentState(_empty_like(c.stats))  # type: ignore[arg-type]
        return state

    # --- the production profile ----------------------------------------------------------------

    def scores(self, state: WindowState) -> dict[str, float | None]:
        stats = {name: cs.stats for name, cs in state.components.items()}
        out: dict[str, float | None] = {}
        for name, score in self.reference.scores.items():
            try:
                out[name] = score.compute(stats)
            except (KeyError, ValueError, ZeroDivisionError):
                out[name] = None
        return out

    def production_jcr(self, state: WindowState) -> dict[str, Any]:
        """The production ``ModelProfile`` document of ``state``: the reference's with production stats.

        A component the state has no stats of (a state merged from windows stored without it) gets
        empty stats with the reference's bins and domain, never the reference's own: the production
        profile saw none of its values, and ``contrast`` says "not enough data" for it instead of
        comparing the reference with itself.
        """
        jcr = copy.deepcopy(self.reference_jcr)
        empty = self.empty().components
        complete = WindowState(
            {name: state.components.get(name) or empty[name] for name in empty}, state.n_tags
        )
        for component in jcr["components"]:
            cs = complete.components.get(component["name"])
            if cs is None:
                continue
            component["stats"] = cs.stats.to_jcr()
            component["errors"] = dict(cs.errors)
        state = complete
        results = self.scores(state)
        for score in jcr.get("scores", []):
            score["result"] = results.get(score["name"])
        jcr["n_samples"] = max((cs.rows for cs in state.components.values()), default=0)
        return jcr

    def production_profile(self, state: WindowState, classes: ClassTable | None = None) -> ModelProfile:
        """``state`` as a production ``ModelProfile`` (same components, production stats, scores from them)."""
        return ModelProfile.from_jcr(self.production_jcr(state), classes)

    def contrast_rows(
        self, state: WindowState, thresholds: Any = None, classes: ClassTable | None = None
    ) -> list[dict[str, Any]]:
        """``reference.contrast(production)`` as JSON rows (component, role, check, metric, value, ...)."""
        report = self.reference.contrast(self.production_profile(state, classes), thresholds)
        rows = [check_row(r) for r in report.rows]
        drifting = {r["component"] for r in rows if r["check"] == "drift" and r["alert"]}
        grown = self.grown_categories(state, drifting)
        for row in rows:
            if row["check"] == "drift" and row["component"] in grown:
                row[EXAMPLE_VALUE] = grown[row["component"]]
        return rows

    def grown_categories(self, state: WindowState, components: Iterable[str]) -> dict[str, str]:
        """Per categorical component of ``components``: the category whose share grew most against the reference.

        What a categorical drift's example traces carry (``EXAMPLE_VALUE`` on its drift rows):
        a numeric component's examples are its most extreme values, a category's those of the
        value that took the most room (ties: the first in text order).
        """
        out: dict[str, str] = {}
        for name in sorted(components):
            held = state.components.get(name)
            reference = self.reference.components.get(name)
            if self.numeric.get(name, True) or held is None or reference is None:
                continue
            if not isinstance(held.stats, CategoricalStats) or not isinstance(
                reference.stats, CategoricalStats
            ):
                continue
            production, before = held.stats.frequencies(), reference.stats.frequencies()
            n_production, n_before = sum(production.values()), sum(before.values())
            if not n_production:
                continue
            out[name] = min(
                production,
                key=lambda v: (before.get(v, 0) / max(n_before, 1) - production[v] / n_production, v),
            )
        return out


def check_row(row: CheckResult) -> dict[str, Any]:
    """One contrast row as stored: NaN and infinities as None; ``n`` the production count."""
    out: dict[str, Any] = {}
    for key, value in asdict(row).items():
        if isinstance(value, float) and not np.isfinite(value):
            value = None
        out[key] = value
    out["n"] = out["n_other"]
    return out


SUMMARY_FORMAT = 1
SUMMARY_METRICS = frozenset(
    {"ks_statistic", "total_variation", "missing_rate", "error_rate", "mean_worsening", "score_worsening"}
)
SCORE_CHECK = "score"  # a summary key's check for a production score's own value (mae, ...)


class WindowSummary(NamedTuple):
    """A window's dashboard numbers: ``values`` (JSON text) in the order its ``layout`` names.

    ``keys``: JSON text ``{"format", "keys": "check\tmetric\tcomponent|...", "thresholds": [...]}``,
    the same for every window of a reducer while its profile and thresholds stay; ``layout``: its
    digest, what a stored window refers to. ``values``: the values as little-endian float32,
    base64 (NaN where a check had not enough data), then ``;`` and the indexes of the alerting
    ones, comma-separated: a week of windows reads back with one ``numpy.frombuffer``, no JSON.
    """

    layout: str
    keys: str
    values: str


def window_summary(rows: Iterable[Mapping[str, Any]], scores: Mapping[str, float | None]) -> WindowSummary:
    """A window's dashboard numbers (``store.reduce`` keeps them beside the window).

    The headline metrics (``SUMMARY_METRICS``, and any other metric with a threshold) of ``rows``
    (``contrast_rows``), then each production score's value under check ``score``. A value is None
    where the check had not enough data. Names cannot hold a tab or ``|`` (the tag name rule), so
    the keys are one string.
    """
    keys: list[str] = []
    values: list[float | None] = []
    thresholds: list[float | None] = []
    alerts: list[int] = []
    for r in rows:
        metric = r["metric"]
        if metric not in SUMMARY_METRICS and (r.get("threshold") is None or metric == "component_present"):
            continue
        if r.get("alert"):
            alerts.append(len(keys))
        keys.append(f"{r['check']}\t{metric}\t{r['component']}")
        values.append(_compact(r.get("value")))
        thresholds.append(_compact(r.get("threshold")))
    for name, value in sorted(scores.items()):
        keys.append(f"{SCORE_CHECK}\t{name}\t{name}")
        values.append(_compact(value))
        thresholds.append(None)
    layout = json.dumps(
        {"format": SUMMARY_FORMAT, "keys": "|".join(keys), "thresholds": thresholds},
        separators=(",", ":"),
        allow_nan=False,
    )
    return WindowSummary(
        hashlib.sha256(layout.encode()).hexdigest()[:32],
        layout,
        base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode("ascii")
        + ";"
        + ",".join(str(i) for i in alerts),
    )


def _compact(value: Any) -> float | None:
    """A finite number to 6 significant digits (a chart needs no more), else None."""
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return float(f"{number:.6g}")


class WindowState:
    """The production stats of every component of one (reducer, slice, window), and its tag count."""

    def __init__(self, components: dict[str, ComponentState], n_tags: int = 0) -> None:
        self.components = components
        self.n_tags = n_tags

    def fold(self, acc: Accumulator) -> None:
        """Add what ``acc`` gathered (one ``update`` per component; values as lists or NumPy arrays)."""
        for name, values in acc.values.items():
            cs = self.components.get(name)
            if cs is not None and len(values):
                cs.stats.update(
                    np.asarray(values, dtype=np.float64) if isinstance(values[0], float) else values
                )
        for name, kinds in acc.errors.items():
            cs = self.components.get(name)
            if cs is None:
                continue
            for kind in kinds:
                cs.errors[kind] = cs.errors.get(kind, 0) + 1
                if kind in MISSING_KINDS:
                    cs.stats.missing += 1
        self.n_tags += acc.n_tags

    def merge(self, other: WindowState) -> WindowState:
        """A new state describing both; neither changes. Components of only one side are kept as they are."""
        components: dict[str, ComponentState] = {}
        for name in self.components.keys() | other.components.keys():
            a, b = self.components.get(name), other.components.get(name)
            one = a if b is None else b if a is None else None
            if one is not None:  # a copy (the sketches copy through their documented serialisation)
                components[name] = ComponentState(stats_from_jcr(one.stats.to_jcr()), dict(one.errors))
            elif a is not None and b is not None:
                components[name] = a.merge(b)
        return WindowState(components, self.n_tags + other.n_tags)

    def to_jcr(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "n_tags": self.n_tags,
            "components": {
                name: {"stats": cs.stats.to_jcr(), "errors": dict(cs.errors)}
                for name, cs in sorted(self.components.items())
            },
        }

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any]) -> WindowState:
        if jcr.get("format", STATE_FORMAT) > STATE_FORMAT:
            raise ValueError(f"reduce state format {jcr.get('format')} is newer than this raymon reads")
        components = {
            str(name): ComponentState(
                stats_from_jcr(c["stats"]), {str(k): int(v) for k, v in c["errors"].items()}
            )
            for name, c in jcr["components"].items()
        }
        return cls(components, int(jcr.get("n_tags", 0)))


def production_from_tags(
    reference: ModelProfile, tags: Iterable[Mapping[str, Any]], classes: ClassTable | None = None
) -> ModelProfile:
    """The reference implementation: the production profile of ``tags`` (dicts with name, value, type, group).

    Every component's values in one list and one ``update``; error kinds counted; tags of
    other groups ignored. The incremental path (``WindowState``) must equal it.
    """
    group = reference.group_idfr
    values: dict[str, list[Any]] = {name: [] for name in reference.components}
    errors: dict[str, dict[str, int]] = {name: {} for name in reference.components}
    for tag in tags:
        if tag.get("group") != group:
            continue
        name, value = tag["name"], tag["value"]
        component = (
            reference.components.get(name) if not str(tag.get("type", "")).endswith("-error") else None
        )
        if component is None and name.endswith("-error") and name[: -len("-error")] in reference.components:
            kinds = errors[name[: -len("-error")]]
            kinds[str(value)] = kinds.get(str(value), 0) + 1
            continue
        if component is None:
            continue
        if isinstance(component.stats, NumericStats) and isinstance(value, str):
            errors[name][TYPE_ERROR] = errors[name].get(TYPE_ERROR, 0) + 1
            continue
        values[name].append(float(value) if isinstance(component.stats, NumericStats) else str(value))
    jcr = reference.to_jcr()
    stats_by_name: dict[str, Stats] = {}
    for component_jcr in jcr["components"]:
        name = component_jcr["name"]
        stats = _empty_like(reference.components[name].stats)  # type: ignore[arg-type]
        if values[name]:
            stats.update(values[name])
        stats.missing += sum(n for kind, n in errors[name].items() if kind in MISSING_KINDS)
        stats_by_name[name] = stats
        component_jcr["stats"] = stats.to_jcr()
        component_jcr["errors"] = errors[name]
    for score_jcr in jcr["scores"]:
        score = reference.scores[score_jcr["name"]]
        score_jcr["result"] = score.compute(stats_by_name)
    jcr["n_samples"] = max(
        (ComponentState(stats_by_name[name], errors[name]).rows for name in stats_by_name), default=0
    )
    return ModelProfile.from_jcr(jcr, classes)


def merge_states(states: Iterable[WindowState]) -> WindowState | None:
    """The merge of ``states`` (None when there are none)."""
    out: WindowState | None = None
    for state in states:
        out = state if out is None else out.merge(state)
    return out
