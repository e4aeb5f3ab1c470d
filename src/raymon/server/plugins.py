"""The plugin registry of one server: which visualisations, mappers, reducers, alert channels and classes exist.

``Plugins.load(settings)`` builds one per server instance (never a module
global): a pluggy manager with the hooks of ``hookspecs``, Raymon's own plugin
(``default_plugins``) and every package with an entry point in the ``raymon``
group, or only those ``settings.plugins`` names. It asks every plugin its hooks
once, at start-up, and refuses to start when two plugins give the same name for
the same kind, naming both.

It is also the only way the server turns a document into objects:
``load_object`` (a logged object's jcr) and ``load_profile`` (a stored
profile) resolve only the classes the plugins registered and never import a
module a document names. This module never talks HTTP or SQL.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from raymon import registry
from raymon.server import hookspecs
from raymon.server.hookspecs import (
    ACTION_HOOKS,
    CLASS_HOOKS,
    AlertChannel,
    Mapper,
    Reducer,
    Visualisation,
    hookimpl,
)
from raymon.server.settings import Settings

if TYPE_CHECKING:
    from raymon.profiling.profile import ModelProfile
    from raymon.server.engine.jobs import JobKind
    from raymon.types import RaymonDataType

__all__ = [
    "Plugins",
    "PluginInfo",
    "PluginError",
    "hookimpl",
    "Visualisation",
    "Mapper",
    "Reducer",
    "AlertChannel",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_NAME = "raymon"
# Raymon's own plugins, by name: registered first, whatever RAYMON_PLUGINS says.
DEFAULT_PLUGINS: Mapping[str, str] = {BUILTIN_NAME: "raymon.server.default_plugins"}


class PluginError(Exception):
    """A plugin cannot be loaded, breaks a hook's rules, or clashes with another plugin."""


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: its entry-point name, the distribution that ships it, its module."""

    name: str
    distribution: str | None
    module: str
    builtin: bool = False

    def describe(self) -> str:
        if self.builtin:
            return f"{self.name!r} (built in)"
        if self.distribution is None:
            return f"{self.name!r} ({self.module})"
        return f"{self.name!r} (distribution {self.distribution!r})"


def allowed_names(setting: str) -> frozenset[str]:
    """The names in ``RAYMON_PLUGINS`` (comma-separated), normalised; empty: every installed plugin."""
    return frozenset(_normalise(part) for part in setting.split(",") if part.strip())


def _normalise(name: str) -> str:
    """Compare names as pip does: case-insensitive, ``-``, ``_`` and ``.`` alike (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


class Plugins:
    """The loaded plugins and what they registered; ask it by kind and name."""

    def __init__(self, manager: pluggy.PluginManager, infos: Mapping[str, PluginInfo]) -> None:
        self._manager = manager
        self._infos = dict(infos)
        self._actions: dict[str, dict[str, hookspecs.NamedAction]] = {kind: {} for kind in ACTION_HOOKS}
        self.classes = registry.ClassTable()
        """The classes documents may name on this server (``raymon.registry.ClassTable``)."""
        self._collect()

    @classmethod
    def load(cls, settings: Settings, entry_points: Iterable[metadata.EntryPoint] | None = None) -> Plugins:
        """Raymon's own plugin plus the installed ones ``settings.plugins`` allows (empty: all).

        ``entry_points`` defaults to the installed ``raymon`` entry points (read from the
        installed packages' metadata). Raises ``PluginError`` naming the plugin at fault.
        """
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        infos: dict[str, PluginInfo] = {}
        for name, module_name in DEFAULT_PLUGINS.items():
            manager.register(importlib.import_module(module_name), name=name)
            infos[name] = PluginInfo(name, None, module_name, builtin=True)
        allowed = allowed_names(settings.plugins)
        found: set[str] = set()
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
        for ep in sorted(eps, key=lambda e: e.name):
            distribution = ep.dist.name if ep.dist is not None else None
            names = {_normalise(ep.name)} | ({_normalise(distribution)} if distribution else set())
            found |= names
            if allowed and not names & allowed:
                continue
            info = PluginInfo(ep.name, distribution, ep.value)
            if ep.name in infos:
                raise PluginError(
                    f"two plugins are named {ep.name!r}: {infos[ep.name].describe()} and {info.describe()}; "
                    "uninstall one, or leave one out of RAYMON_PLUGINS"
                )
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(f"plugin {info.describe()} failed to load ({ep.value}): {exc!r}") from exc
            try:
                manager.register(plugin, name=ep.name)
            except (ValueError, pluggy.PluginValidationError) as exc:
                raise PluginError(f"plugin {info.describe()} cannot be registered: {exc}") from exc
            infos[ep.name] = info
        unknown = sorted(allowed - found - {_normalise(name) for name in DEFAULT_PLUGINS})
        if unknown:
            raise PluginError(
                f"RAYMON_PLUGINS names {unknown}, which no installed package provides as a "
                f"{ENTRY_POINT_GROUP!r} entry point (installed: {sorted(found) or 'none'})"
            )
        try:
            manager.check_pending()
        except pluggy.PluginValidationError as exc:
            name = manager.get_name(exc.plugin) or repr(exc.plugin)
            raise PluginError(
                f"plugin {infos[name].describe() if name in infos else name} implements a hook that "
                f"does not exist: {exc}"
            ) from exc
        return cls(manager, infos)

    # --- what was registered --------------------------------------------------------------------

    @property
    def loaded(self) -> list[PluginInfo]:
        """Every loaded plugin, built-in first."""
        return list(self._infos.values())

    def names(self, kind: str) -> list[str]:
        """The names registered for ``kind``: visualisation, mapper, reducer, alert_channel, data_type,
        extractor, score."""
        if kind in self._actions:
            return sorted(self._actions[kind])
        if kind in CLASS_HOOKS:
            return self.classes.names(kind)  # type: ignore[arg-type]
        raise KeyError(f"unknown plugin kind {kind!r}: one of {[*ACTION_HOOKS, *CLASS_HOOKS]}")

    def visualisation(self, name: str) -> Visualisation:
        return self._action("visualisation", name)  # type: ignore[return-value]

    def mapper(self, name: str) -> Mapper:
        return self._action("mapper", name)  # type: ignore[return-value]

    def reducer(self, name: str) -> Reducer:
        return self._action("reducer", name)  # type: ignore[return-value]

    def alert_channel(self, name: str) -> AlertChannel:
        return self._action("alert_channel", name)  # type: ignore[return-value]

    def job_kinds(self) -> list[JobKind]:
        """The job kinds plugins registered (``register_job_kinds``), in registration order."""
        from raymon.server.engine.jobs import JobKind

        kinds: list[JobKind] = []
        for info, item in self._answers("register_job_kinds"):
            if not isinstance(item, JobKind):
                raise PluginError(
                    f"plugin {info.describe()}: register_job_kinds() must answer JobKind objects, got {item!r}"
                )
            kinds.append(item)
        return kinds

    def _action(self, kind: str, name: str) -> hookspecs.NamedAction:
        try:
            return self._actions[kind][name]
        except KeyError:
            known = sorted(self._actions[kind]) or "none"
            raise LookupError(
                f"unknown {kind.replace('_', ' ')} {name!r}: registered are {known} "
                "(a plugin registers more, see docs/plugins.md)"
            ) from None

    # --- loading documents: only registered classes, nothing imported ------------------------------

    def load_object(self, jcr: dict[str, Any]) -> RaymonDataType:
        """A logged object from its jcr; a type not registered raises ``UnknownDataTypeError``."""
        from raymon.types import load_jcr

        return load_jcr(jcr, self.classes)

    def load_profile(self, document: Mapping[str, Any]) -> ModelProfile:
        """A stored profile; an extractor or score class not registered raises ``UnknownProfileClassError``."""
        from raymon.profiling.profile import ModelProfile

        return ModelProfile.from_jcr(document, self.classes)

    # --- collecting the hooks' answers --------------------------------------------------------------

    def _answers(self, hook_name: str) -> Iterable[tuple[PluginInfo, Any]]:
        hook = getattr(self._manager.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: built-in first
            info = self._infos.get(impl.plugin_name, PluginInfo(impl.plugin_name, None, "?"))
            try:
                answer = impl.function()
            except Exception as exc:
                raise PluginError(f"plugin {info.describe()} failed in {hook_name}(): {exc!r}") from exc
            if answer is None:
                continue
            if isinstance(answer, (str, bytes)) or not isinstance(answer, Iterable):
                raise PluginError(
                    f"plugin {info.describe()}: {hook_name}() must answer a list, got {type(answer).__name__}"
                )
            for item in answer:
                yield info, item

    def _collect(self) -> None:
        owners: dict[tuple[str, str], PluginInfo] = {}

        def claim(kind: str, name: str, info: PluginInfo) -> bool:
            """False when ``info`` registered this name already; PluginError when another plugin did."""
            other = owners.setdefault((kind, name), info)
            if other is info:
                return True
            if other.name == info.name:
                return False
            raise PluginError(
                f"two plugins register the {kind.replace('_', ' ')} {name!r}: {other.describe()} and "
                f"{info.describe()}; uninstall one, or leave one out of RAYMON_PLUGINS"
            )

        for kind, (hook_name, spec_type) in ACTION_HOOKS.items():
            for info, item in self._answers(hook_name):
                if not isinstance(item, spec_type):
                    raise PluginError(
                        f"plugin {info.describe()}: {hook_name}() must answer {spec_type.__name__} objects, "
                        f"got {item!r}"
                    )
                if claim(kind, item.name, info):
                    self._actions[kind][item.name] = item
        bases = _class_bases()
        for kind, hook_name in CLASS_HOOKS.items():
            base = bases[kind]
            for info, item in self._answers(hook_name):
                if not (isinstance(item, type) and issubclass(item, base)):
                    raise PluginError(
                        f"plugin {info.describe()}: {hook_name}() must answer subclasses of "
                        f"{base.__module__}.{base.__qualname__}, got {item!r}"
                    )
                if claim(kind, registry.qualified_name(item), info):
                    self.classes.add(kind, item)  # type: ignore[arg-type]


def _class_bases() -> dict[str, type]:
    from raymon.profiling.extractors.base import ExtractorBase
    from raymon.profiling.scores import Score
    from raymon.types import RaymonDataType

    return {"data_type": RaymonDataType, "extractor": ExtractorBase, "score": Score}
