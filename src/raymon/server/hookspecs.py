"""Every extension point of the server in one place: pluggy hook specifications and what they answer.

A plugin is a module (or object) with functions of these names marked
``@hookimpl``; a package makes it known through an entry point in the ``raymon``
group (see docs/plugins.md). Raymon's own data types, extractors and scores are
a plugin of the same hooks (``raymon.server.default_plugins``). Every hook takes
no argument and answers a list; ``raymon.server.plugins.Plugins`` collects the
answers, refuses two plugins giving the same name for the same kind, and is
what the server asks "which visualisation is called X?" or "may this class be
loaded?".

Two sorts of answers:

- Named actions, each a small frozen spec: ``Visualisation``, ``Mapper``,
  ``Reducer``, ``AlertChannel`` (a name the manifest uses, the callable, a
  description). The engine and UI issues call them; their calling conventions
  are written on each spec.
- Loadable classes: ``RaymonDataType``, extractor and ``Score`` subclasses a
  document may name. They are known by their qualified name (``module.Class``,
  ``raymon.registry``); only these load on the server, nothing a document names
  is ever imported.

This module declares; it never loads plugins or calls hooks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from raymon.profiling.extractors.base import ExtractorBase
    from raymon.profiling.scores import Score
    from raymon.server.engine.jobs import JobKind
    from raymon.types import RaymonDataType

PROJECT_NAME = "raymon"  # the pluggy project and the entry-point group
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

ACTION_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class NamedAction:
    """What every named action has: the name a manifest refers to it by, the callable, a description."""

    name: str
    function: Callable[..., Any]
    description: str = ""

    def __post_init__(self) -> None:
        kind = type(self).__name__
        if not isinstance(self.name, str) or ACTION_NAME_RE.fullmatch(self.name) is None:
            raise ValueError(
                f"{kind} name must be 1 to 64 lower-case letters, digits or '_', starting with a letter; "
                f"got {self.name!r}"
            )
        if not callable(self.function):
            raise TypeError(f"{kind} {self.name!r}: function must be callable, got {self.function!r}")
        if not isinstance(self.description, str):
            raise TypeError(f"{kind} {self.name!r}: description must be a string")


@dataclass(frozen=True)
class Visualisation(NamedAction):
    """Turns a trace's objects into HTML for the trace page (manifest ``visualize``, ``function: <name>``).

    Called as ``function(inputs, params) -> str``: ``inputs`` maps each input name of the
    action to the loaded data type (``RaymonDataType``), ``params`` is the action's
    ``params`` (a dict, maybe empty) plus what the trace page adds: ``limit`` (how many rows
    or items to show; ``None``: all) and ``urls`` (input name -> the URL the page serves an
    image input at). The answer is HTML inserted into the page as it is, so it must escape
    everything taken from the data, and it may hold no ``style`` attribute or script (the
    pages' Content-Security-Policy blocks both).
    """


@dataclass(frozen=True)
class Mapper(NamedAction):
    """Turns a trace's objects into tags once all its inputs are stored (manifest ``map``, ``mapper_type``).

    Called as ``function(inputs, params) -> list[raymon.Tag]`` (``Tag`` objects or tag dicts
    ``{"name", "value", "type"}``) by the engine's ``map`` job (``engine.mappers``), once per
    (trace, mapper), when every input is stored: ``inputs`` maps each input name to the loaded
    data type (``RaymonDataType``; only registered types load); ``params`` is the action's
    entry in the manifest as a dict (``name``, ``mapper_type``, ``inputs``, ``profile``,
    ``url``, ``secret``, ``timeout_s``, ``max_attempts``, ``params``) plus ``trace_id`` and
    ``project_id``, and ``model_profile``: the loaded ``ModelProfile`` when the action names a
    ``profile``. The tags are stored on the trace in the mapper's group (the profile's
    ``name@version`` for an action naming a profile, else the action's name), whatever group
    the function gave them. Raise ``engine.jobs.RetryLater`` to be tried again later (any other
    exception is retried too), ``engine.jobs.PermanentFailure`` when retrying cannot help:
    after the action's ``max_attempts``, or at once for ``PermanentFailure``, the trace gets an
    error tag ``<name>_error``. ``params`` holds secrets (a webhook's ``secret``): never log it.
    """


@dataclass(frozen=True)
class Reducer(NamedAction):
    """Aggregates tags over windows and slices into results and issues (manifest ``reduce``, ``reducer_type``).

    Called as ``function(backend, session, project_id, name) -> reducer`` when a reduce pass
    starts (``name`` is the action's ``name``; built once per process and cached). The built
    reducer offers what a pass needs, as ``engine.profile_reducer.ProfileReducer`` (the
    built-in ``profile_reducer``) does: ``group`` (the tag group it reads), ``classify(name,
    type, value)``, ``state_from_jcr(jcr)`` (a mergeable window state with ``fold``,
    ``to_jcr``, ``n_tags``) and ``contrast_rows(state, thresholds, classes)``. Raise
    ``engine.jobs.PermanentFailure`` when it cannot be built (a missing profile).
    """


@dataclass(frozen=True)
class AlertChannel(NamedAction):
    """Tells people of issue events (manifest ``alert``, ``type``): builds the HTTP request, never sends it.

    Called as ``function(message, action, settings) -> OutgoingRequest``
    (``raymon.server.engine.alerts.channels``): ``message`` is an ``AlertMessage``, the events
    of one (project, check, event type) of one evaluation (``events``: ``IssueEvent.to_json()``
    each, the issue as ``issues_ls`` shows it), its stable ``delivery_id`` (the same on every
    retry) and this attempt's ``sent_at``; ``action`` is the channel's ``AlertAction`` from the
    manifest, secrets included; ``settings`` the server's (``settings.ui_url`` for links). The
    answer is the POST to make: ``url``, ``body`` bytes, ``headers``. The engine sends it, with
    one timeout, retry and logging policy for every channel (docs/alerts.md), so the function
    must be pure and quick, must not do I/O, and must never log the action (it holds secrets).
    Raise ``ValueError`` for an entry it cannot use: the delivery fails without a retry.
    """


# The hooks. Each answers a list; a plugin implements only those it needs.


@hookspec
def register_visualisations() -> Sequence[Visualisation]:  # type: ignore[empty-body]
    """Visualisations this plugin offers."""


@hookspec
def register_mappers() -> Sequence[Mapper]:  # type: ignore[empty-body]
    """Mappers this plugin offers."""


@hookspec
def register_reducers() -> Sequence[Reducer]:  # type: ignore[empty-body]
    """Reducers this plugin offers."""


@hookspec
def register_alert_channels() -> Sequence[AlertChannel]:  # type: ignore[empty-body]
    """Alert channels this plugin offers."""


@hookspec
def register_data_types() -> Sequence[type[RaymonDataType]]:  # type: ignore[empty-body]
    """``raymon.types.RaymonDataType`` subclasses whose logged objects the server may load."""


@hookspec
def register_extractors() -> Sequence[type[ExtractorBase]]:  # type: ignore[empty-body]
    """Extractor classes (``Extractor``/``EvalExtractor`` subclasses) a stored profile may use."""


@hookspec
def register_scores() -> Sequence[type[Score]]:  # type: ignore[empty-body]
    """``Score`` subclasses a stored profile may use."""


@hookspec
def register_job_kinds() -> Sequence[JobKind]:  # type: ignore[empty-body]
    """Kinds of engine job (``raymon.server.engine.jobs.JobKind``) the workers run besides the built-in ones.

    A kind's name must be unique among all kinds; a worker runs every registered kind.
    """


ACTION_HOOKS: Mapping[str, tuple[str, type[NamedAction]]] = {
    "visualisation": ("register_visualisations", Visualisation),
    "mapper": ("register_mappers", Mapper),
    "reducer": ("register_reducers", Reducer),
    "alert_channel": ("register_alert_channels", AlertChannel),
}
CLASS_HOOKS: Mapping[str, str] = {
    "data_type": "register_data_types",
    "extractor": "register_extractors",
    "score": "register_scores",
}
