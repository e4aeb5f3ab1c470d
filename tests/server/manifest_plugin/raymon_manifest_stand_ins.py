"""Stand-ins for the built-in action names the original documents use, for the manifest tests.

A directory put on a server's ``PYTHONPATH`` (with its ``.dist-info``, so it is a ``raymon``
entry point like an installed package). It registers ``img2html``, ``pandas2html``,
``profile_eval``, ``webhook`` (mapper), ``profile_reducer``, ``slack`` and ``webhook``
(alert channel) only where Raymon's own plugin (``default_plugins``) does not register
that name yet, so it keeps working, registering less, as the engine's lanes add the real ones.
"""

from __future__ import annotations

from typing import Any

from raymon.server import default_plugins
from raymon.server.plugins import AlertChannel, Mapper, Reducer, Visualisation, hookimpl


def _nothing(*_args: Any) -> None:
    return None


def _missing(hook: str, specs: list[Any]) -> list[Any]:
    builtin = getattr(default_plugins, hook, None)
    taken = {spec.name for spec in (builtin() or [])} if builtin is not None else set()
    return [spec for spec in specs if spec.name not in taken]


@hookimpl
def register_visualisations() -> list[Visualisation]:
    names = ("img2html", "pandas2html", "native2html")
    return _missing("register_visualisations", [Visualisation(name, _nothing) for name in names])


@hookimpl
def register_mappers() -> list[Mapper]:
    return _missing("register_mappers", [Mapper("profile_eval", _nothing), Mapper("webhook", _nothing)])


@hookimpl
def register_reducers() -> list[Reducer]:
    return _missing("register_reducers", [Reducer("profile_reducer", _nothing)])


@hookimpl
def register_alert_channels() -> list[AlertChannel]:
    specs = [AlertChannel("slack", _nothing), AlertChannel("webhook", _nothing)]
    return _missing("register_alert_channels", specs)
