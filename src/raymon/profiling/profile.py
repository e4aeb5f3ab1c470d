"""``ModelProfile``: what a model's data looked like on reference data, and the validator of new data.

A profile is a named, versioned (``name@version``) set of components and
scores. ``build`` extracts every component from reference data in one
vectorised pass per component and keeps mergeable stats; the ``validate_*``
methods turn new data into tags (the original Raymon's tag scheme, see
docs/profiles.md); ``save``/``load`` keep it as versioned JSON. Contrasts and
HTML reports live in ``contrast``/``report_html`` and are reached through thin
methods here. This module never computes statistics itself (``stats`` and
``components`` do) and never sends tags anywhere (a ``Trace`` does).
"""

from __future__ import annotations

import gc
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import orjson
import pandas as pd
from tqdm.auto import tqdm

from raymon.exceptions import TagError
from raymon.profile_names import check_profile_ref
from raymon.profiling.components import (
    EXTRACTOR_ERROR,
    Component,
    Domain,
    EvalComponent,
)
from raymon.profiling.errors import NotBuiltError, ProfileError
from raymon.profiling.extractors.base import batch_length, iter_samples
from raymon.profiling.extractors.structured.element import ElementExtractor
from raymon.profiling.names import ByName, name_key
from raymon.profiling.scores import Score
from raymon.profiling.stats import DEFAULT_NBINS, Stats
from raymon.registry import ClassTable
from raymon.tags import Tag, tag_fields_to_jcr

PROFILE_FORMAT = 1
PROGRESS_MIN_ROWS = 10_000
ROLES = ("input", "output", "actual", "eval")
TagFormat = Literal["jcr", "tag", "simple"]
TAG_FORMATS = ("jcr", "tag", "simple")

log = logging.getLogger("raymon.profiling")


def is_batch(data: Any) -> bool:
    """Whether ``data`` holds many samples (rather than one) when the caller does not say.

    A DataFrame of more (or fewer) than one row, a 2-D or higher array, and an empty list
    or a list or tuple of non-scalars (dicts, rows, images) are batches; a dict, a Series, a 1-D
    array, a list of scalars, an image or a scalar is one sample.
    """
    if isinstance(data, pd.DataFrame):
        return len(data) != 1
    if isinstance(data, np.ndarray):
        return data.ndim >= 2
    if isinstance(data, (list, tuple)):
        return len(data) == 0 or not isinstance(data[0], (int, float, str, bool, np.generic, type(None)))
    return False


def _one_sample(data: Any, by_label: bool) -> Any:
    """One sample in the shape extractors look up fastest.

    A one-row DataFrame becomes a dict of its columns. A Series becomes a dict too when every
    extractor of the role looks values up by label (``by_label``): a label lookup on a Series
    costs microseconds, on a dict nanoseconds (83 -> 41 us for a row of 20 features). Otherwise a
    Series stays one, for extractors that take positions or use the Series itself.
    """
    if isinstance(data, pd.DataFrame):
        if data.columns.is_unique:
            row = data.iloc[0]  # one row of every column, then plain Python values: 3x faster than iat
            return dict(zip(row.index.tolist(), row.tolist(), strict=True))
        columns = data.columns
        return {columns[i]: data.iat[0, i] for i in range(len(columns))}
    if by_label and isinstance(data, pd.Series) and data.index.is_unique:
        return dict(zip(data.index.tolist(), data.tolist(), strict=True))
    return data


class _Plan(NamedTuple):
    """What validating one component needs, looked up once per profile (``ModelProfile._compile``)."""

    extract: Callable[..., Any]
    check: Callable[[Any], tuple[Any, str | None]]
    name: str
    tag_type: str
    error_tag_name: str
    error_tag_type: str
    component: Component


def _format_tags(tags: list[dict[str, Any]], tag_format: str) -> Any:
    if tag_format == "jcr":
        return tags
    if tag_format == "simple":
        return {t["name"]: t["value"] for t in tags}
    return [Tag(t["name"], t["value"], t["type"], t["group"]) for t in tags]


class ModelProfile:
    """A model's reference profile: components by role, scores, and (after ``build``) their stats.

    ``ModelProfile(name, version, components=[...], scores=[...])``; identified as
    ``name@version``, which is also the group of every tag it makes.
    """

    def __init__(
        self,
        name: str,
        version: str,
        components: Sequence[Component] = (),
        scores: Sequence[Score] = (),
    ) -> None:
        name, version = check_profile_ref(name, version)  # the rule the backend applies too
        self.name = name
        self.version = version
        try:
            tag_fields_to_jcr("profile", 0, "label", self.group_idfr)
        except TagError as exc:
            raise ProfileError(f"profile {self.group_idfr!r} cannot be a tag group: {exc}") from exc
        self.components: ByName[Component] = ByName(what="component")
        for component in components:
            if not isinstance(component, Component):
                raise ProfileError(
                    f"profile components must be InputComponent, OutputComponent, ActualComponent or "
                    f"EvalComponent, got {type(component).__name__}: {component!r}"
                )
            if component.name in self.components:
                raise ProfileError(
                    f"two components are named {component.name!r} (names are case-insensitive)"
                )
            component.group = self.group_idfr
            if component.stats is not None:
                component.compile()
            self.components[component.name] = component
        self.scores: ByName[Score] = ByName(what="score")
        for score in scores:
            if not isinstance(score, Score):
                raise ProfileError(
                    f"profile scores must be Score objects, got {type(score).__name__}: {score!r}"
                )
            if score.name in self.scores:
                raise ProfileError(f"two scores are named {score.name!r}")
            unknown = [i for i in score.inputs if i not in self.components]
            if unknown:
                raise ProfileError(
                    f"score {score.name!r} reads components {unknown}, which the profile does not have "
                    f"(it has {sorted(self.components)})"
                )
            self.scores[score.name] = score
        self.n_samples: int | None = None
        self._plans: dict[str, list[_Plan]] = {}
        self._by_label: dict[str, bool] = {}
        if self.is_built:
            self._compile()

    @property
    def group_idfr(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def is_built(self) -> bool:
        return bool(self.components) and all(c.is_built for c in self.components.values())

    def components_of(self, role: str) -> list[Component]:
        return [c for c in self.components.values() if c.role == role]

    def __repr__(self) -> str:
        roles = ", ".join(f"{r}={len(self.components_of(r))}" for r in ROLES)
        built = "built" if self.is_built else "not built"
        return f"ModelProfile({self.group_idfr!r}, {roles}, scores={len(self.scores)}, {built})"

    # --- building ------------------------------------------------------------------------------

    def build(
        self,
        input: Any = None,
        output: Any = None,
        actual: Any = None,
        domains: Mapping[str, Domain] | None = None,
        silent: bool = False,
        nbins: int = DEFAULT_NBINS,
    ) -> ModelProfile:
        """Extract every component from reference data and keep its stats; answers the profile.

        ``input``, ``output`` and ``actual`` are batches (DataFrame, array, list of
        samples or images) of equal length. ``domains`` fixes a component's valid domain:
        ``(min, max)`` for a numeric one, a list of allowed values for a categorical one.
        If any component fails, the profile keeps its previous state.
        """
        data = {"input": input, "output": output, "actual": actual}
        lengths = {role: batch_length(d) for role, d in data.items() if d is not None}
        if len(set(lengths.values())) > 1:
            raise ProfileError(f"input, output and actual must hold as many samples each, got {lengths}")
        domains = {name_key(k): v for k, v in (domains or {}).items()}
        unknown = sorted(set(domains) - set(self.components))
        if unknown:
            raise ProfileError(
                f"domains names unknown components {unknown}; the profile has {sorted(self.components)}"
            )
        for component in self.components.values():
            needs = ("output", "actual") if component.role == "eval" else (component.role,)
            for role in needs:
                if data[role] is None:
                    raise ProfileError(
                        f"{type(component).__name__} {component.name!r} needs {role}=: pass it to build()"
                    )
        if not self.components:
            raise ProfileError("the profile has no components to build")
        n = next(iter(lengths.values()))
        staged: list[tuple[Component, Component]] = []
        progress = tqdm(
            total=len(self.components),
            desc=f"building {self.group_idfr}",
            unit="component",
            disable=silent or n < PROGRESS_MIN_ROWS,
        )
        with progress:
            for component in self.components.values():
                progress.set_postfix_str(component.name, refresh=False)
                args = (output, actual) if isinstance(component, EvalComponent) else (data[component.role],)
                try:
                    component.extractor.fit(*args)
                    values = component.extractor.extract_batch(*args)
                except ProfileError:
                    raise
                except Exception as exc:
                    raise ProfileError(
                        f"component {component.name!r}: {type(component.extractor).__name__} failed on the "
                        f"reference data: {type(exc).__name__}: {exc}"
                    ) from exc
                if batch_length(values if not isinstance(values, pd.Index) else list(values)) != n:
                    raise ProfileError(
                        f"component {component.name!r}: the extractor answered {batch_length(values)} values "
                        f"for {n} samples"
                    )
                target = type(component)(component.name, component.extractor, component.declared_dtype)
                target.group = self.group_idfr
                target.build_from_values(values, domain=domains.get(component.name), nbins=nbins)
                staged.append((component, target))
                progress.update(1)
        for component, built in staged:
            component.dtype, component.stats, component.bounds = built.dtype, built.stats, built.bounds
            component.errors, component.domain_fixed = built.errors, built.domain_fixed
            component.compile()
        self._build_scores()
        self.n_samples = n
        self._compile()
        return self

    def _build_scores(self) -> None:
        stats: dict[str, Stats] = {n: c.stats for n, c in self.components.items() if c.stats is not None}
        for score in self.scores.values():
            score.build(stats)

    def _compile(self) -> None:
        """Per role, the plan of each component, so one row costs a few lookups per component."""
        self._by_label = {
            role: all(
                type(c.extractor) is ElementExtractor and isinstance(c.extractor.element, str)
                for c in self.components_of(role)
            )
            for role in ROLES
        }
        self._plans = {
            role: [
                _Plan(
                    c.extractor.extract,
                    c.check,
                    c.name,
                    c.tag_type,
                    c.error_tag_name,
                    c.error_tag_type,
                    c,
                )
                for c in self.components_of(role)
            ]
            for role in ROLES
        }

    # --- validating ----------------------------------------------------------------------------

    def validate_input(self, data: Any, tag_format: TagFormat = "jcr", batch: bool | None = None) -> Any:
        """Tags for the input components of one sample, or one list of tags per sample of a batch."""
        return self._validate("input", (data,), tag_format, batch)

    def validate_output(self, data: Any, tag_format: TagFormat = "jcr", batch: bool | None = None) -> Any:
        """Tags for the output components; see ``validate_input``."""
        return self._validate("output", (data,), tag_format, batch)

    def validate_actual(self, data: Any, tag_format: TagFormat = "jcr", batch: bool | None = None) -> Any:
        """Tags for the actual components; see ``validate_input``."""
        return self._validate("actual", (data,), tag_format, batch)

    def validate_eval(
        self, output: Any, actual: Any, tag_format: TagFormat = "jcr", batch: bool | None = None
    ) -> Any:
        """Tags for the evaluation components of an output and its actual."""
        if batch is None:
            batch = is_batch(output)
        return self._validate("eval", (output, actual), tag_format, batch)

    def validate_all(
        self,
        input: Any = None,
        output: Any = None,
        actual: Any = None,
        tag_format: TagFormat = "jcr",
        batch: bool | None = None,
    ) -> Any:
        """The tags of every role given (evaluations when both output and actual are), in that order.

        Whether the data is one sample or a batch is decided on the first role given
        (input, else output, else actual), unless ``batch`` says.
        """
        parts: list[tuple[str, tuple[Any, ...]]] = [
            (role, (d,))
            for role, d in (("input", input), ("output", output), ("actual", actual))
            if d is not None
        ]
        if output is not None and actual is not None:
            parts.append(("eval", (output, actual)))
        if not parts:
            raise ProfileError("validate_all needs at least one of input=, output= and actual=")
        if batch is None:  # the first role given decides: a list of actual labels alone is ambiguous
            batch = is_batch(parts[0][1][0])
        if batch:
            lengths = {
                role: batch_length(d)
                for role, d in (("input", input), ("output", output), ("actual", actual))
                if d is not None
            }
            if len(set(lengths.values())) > 1:
                raise ProfileError(f"input, output and actual must hold as many samples each, got {lengths}")
        results = [self._validate(role, args, "jcr", batch) for role, args in parts]
        if not batch:
            return _format_tags([t for r in results for t in r], tag_format)
        return [_format_tags([t for r in row for t in r], tag_format) for row in zip(*results, strict=True)]

    def _validate(self, role: str, args: tuple[Any, ...], tag_format: str, batch: bool | None) -> Any:
        if tag_format not in TAG_FORMATS:
            raise ProfileError(f"tag_format must be one of {TAG_FORMATS}, got {tag_format!r}")
        if not self._plans:
            if not self.is_built:
                raise NotBuiltError(
                    f"profile {self.group_idfr!r} is not built: call build() or load a built one"
                )
            self._compile()
        if batch is None:
            batch = is_batch(args[0])
        if batch:
            return self._validate_batch(role, args, tag_format)
        group = self.group_idfr
        by_label = self._by_label[role]
        samples = tuple(_one_sample(a, by_label) for a in args)
        tags: list[dict[str, Any]] = []
        append = tags.append
        for extract, check, name, type_, error_name, error_type, _component in self._plans[role]:
            error: str | None
            try:
                raw = extract(*samples)
            except Exception as exc:  # a user's extractor may raise anything; the tag says so
                log.debug("extractor of %s failed: %r", name, exc)
                value, error = None, EXTRACTOR_ERROR
            else:
                value, error = check(raw)
            if value is not None:
                append({"name": name, "value": value, "type": type_, "group": group})
            if error is not None:
                append({"name": error_name, "value": error, "type": error_type, "group": group})
        return tags if tag_format == "jcr" else _format_tags(tags, tag_format)

    def _validate_batch(self, role: str, args: tuple[Any, ...], tag_format: str) -> list[Any]:
        lengths = {batch_length(a) for a in args}
        if len(lengths) != 1:
            raise ProfileError(f"output and actual must hold as many samples each, got {sorted(lengths)}")
        n = lengths.pop()
        group = self.group_idfr
        checked: list[tuple[_Plan, np.ndarray, np.ndarray]] = []
        dirty = np.zeros(n, dtype=bool)  # rows with a missing value tag or an error tag
        for plan in self._plans[role]:
            values, errors = self._check_component_batch(plan.component, args, n)
            dirty |= (values == None) | (errors != None)  # noqa: E711 (elementwise on object arrays)
            checked.append((plan, values, errors))
        # Clean rows (the common case) are zipped from one list of value tags per component;
        # the few dirty rows are assembled tag by tag, in the same order as a single sample.
        # Millions of new dicts would trigger the cyclic garbage collector over and over (none of
        # them can form a cycle), so it is paused while the tags are made.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            columns = [
                [
                    {"name": plan.name, "value": v, "type": plan.tag_type, "group": group}
                    for v in values.tolist()
                ]
                for plan, values, _ in checked
            ]
            rows: list[list[dict[str, Any]]] = (
                [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(n)]
            )
            for i in np.flatnonzero(dirty).tolist():
                row = []
                for (_e, _c, name, type_, error_name, error_type, _component), values, errors in checked:
                    value, error = values[i], errors[i]
                    if value is not None:
                        row.append({"name": name, "value": value, "type": type_, "group": group})
                    if error is not None:
                        row.append({"name": error_name, "value": error, "type": error_type, "group": group})
                rows[i] = row
            return rows if tag_format == "jcr" else [_format_tags(r, tag_format) for r in rows]
        finally:
            if gc_was_enabled:
                gc.enable()

    @staticmethod
    def _check_component_batch(
        component: Component, args: tuple[Any, ...], n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised extraction and check; if the extractor fails on the batch, find the failing samples."""
        try:
            extracted = component.extractor.extract_batch(*args)
            if batch_length(extracted if not isinstance(extracted, pd.Index) else list(extracted)) != n:
                raise ProfileError(f"extractor answered {batch_length(extracted)} values for {n} samples")
        except Exception as exc:
            log.debug("batch extraction of %s failed (%r); extracting sample by sample", component.name, exc)
            values = np.full(n, None, dtype=object)
            errors = np.full(n, None, dtype=object)
            extract: Callable[..., Any] = component.extractor.extract
            for i, samples in enumerate(zip(*(iter_samples(a) for a in args), strict=True)):
                try:
                    values[i], errors[i] = component.check(extract(*samples))
                except Exception:
                    values[i], errors[i] = None, EXTRACTOR_ERROR
            return values, errors
        return component.check_batch_arrays(extracted)

    # --- saving --------------------------------------------------------------------------------

    def to_jcr(self) -> dict[str, Any]:
        """The profile as versioned JSON (see docs/profiles.md, "Save format")."""
        return {
            "profile_format": PROFILE_FORMAT,
            "name": self.name,
            "version": self.version,
            "n_samples": self.n_samples,
            "components": [c.to_jcr() for c in self.components.values()],
            "scores": [s.to_jcr() for s in self.scores.values()],
        }

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any], classes: ClassTable | None = None) -> ModelProfile:
        """The profile ``to_jcr`` answered; ``classes`` (the server's): only its extractors and scores load."""
        if not isinstance(jcr, Mapping) or "profile_format" not in jcr:
            raise ProfileError("not a saved ModelProfile: the document has no 'profile_format'")
        if not isinstance(jcr["profile_format"], int) or jcr["profile_format"] > PROFILE_FORMAT:
            raise ProfileError(
                f"profile format {jcr['profile_format']!r} is newer than this raymon reads ({PROFILE_FORMAT}): "
                "upgrade raymon"
            )
        try:
            components = [Component.from_jcr(c, classes) for c in jcr["components"]]
            scores = [Score.from_jcr(s, classes) for s in jcr.get("scores", [])]
            results = [s.result for s in scores]
            profile = cls(jcr["name"], jcr["version"], components=components, scores=scores)
        except (KeyError, TypeError) as exc:
            raise ProfileError(f"malformed saved profile: {exc!r}") from exc
        for score, result in zip(profile.scores.values(), results, strict=True):
            score.result = result
        n = jcr.get("n_samples")
        profile.n_samples = None if n is None else int(n)
        return profile

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``name@version.json`` into the directory ``path`` (or to ``path`` if it ends in .json)."""
        target = Path(path)
        if target.suffix != ".json":
            target = target / f"{self.group_idfr}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        body = orjson.dumps(self.to_jcr(), option=orjson.OPT_INDENT_2)
        # Written next to the target and renamed over it: a reader never sees half a profile.
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "xb") as fh:
                fh.write(body)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ModelProfile:
        """Read a profile written by ``save``."""
        source = Path(path)
        if source.is_dir():
            raise ProfileError(
                f"{source} is a directory: give the profile file, e.g. {source}/name@version.json"
            )
        try:
            jcr = orjson.loads(source.read_bytes())
        except FileNotFoundError as exc:
            raise ProfileError(f"no profile file at {source}") from exc
        except orjson.JSONDecodeError as exc:
            raise ProfileError(f"{source} is not valid JSON: {exc}") from exc
        return cls.from_jcr(jcr)

    # --- contrasts and reports (engineer B's modules, imported when used) ---------------------

    def contrast(self, other: ModelProfile, thresholds: Any = None) -> Any:
        """Contrast ``other`` with this profile as the reference: drift, integrity and performance checks."""
        from raymon.profiling.contrast import contrast_profiles

        return contrast_profiles(self, other, thresholds)

    def contrast_alternatives(self, a: ModelProfile, b: ModelProfile, thresholds: Any = None) -> Any:
        """Contrast two alternatives (e.g. two model versions) each with this profile and compare their scores."""
        from raymon.profiling.contrast import contrast_alternatives

        return contrast_alternatives(self, a, b, thresholds)

    def _repr_html_(self) -> str:
        """The profile's report inline in a notebook: self-contained, escaped HTML, no outside URLs."""
        from raymon.profiling.report_html import profile_fragment

        return profile_fragment(self)

    def view(self, path: str | Path | None = None) -> Path:
        """Write this profile's HTML report and answer its path."""
        from raymon.profiling.report_html import write_profile_html

        return write_profile_html(self, path)

    def view_contrast(self, other: ModelProfile, path: str | Path | None = None) -> Path:
        """Write the HTML report contrasting ``other`` with this profile and answer its path."""
        from raymon.profiling.report_html import write_contrast_html

        return write_contrast_html(self, other, path)
