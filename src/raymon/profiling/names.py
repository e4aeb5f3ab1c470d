"""How component and score names are compared: the one rule, used wherever a profile looks one up.

A component or score is stored and tagged under its name lower-cased (as the
original Raymon's tags were, so dashboards built on them carry over), and every
lookup by name (``profile.components[...]``, ``profile.scores[...]``, a
score's ``inputs``, ``build(domains=...)``, contrast thresholds) compares
names case-insensitively, through ``name_key``. So ``MeanScore("MAE", ...)``
is ``profile.scores["MAE"]`` and ``profile.scores["mae"]`` alike. This module
never validates a name (``components.normalize_name`` does) and knows nothing
of profiles' own ``name@version`` (``raymon.profile_names``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

V = TypeVar("V")


def name_key(name: Any) -> str:
    """The form a component or score name is stored and compared in: stripped and lower-cased."""
    return str(name).strip().lower()


class ByName(MutableMapping[str, V]):
    """A mapping of components (or scores) by name whose lookups ignore case.

    Keys are kept as ``name_key`` makes them (lower case); ``m["MAE"]``, ``"MAE" in m`` and
    ``m.get("MAE")`` find the entry stored as ``"mae"``. A missing name raises ``KeyError``
    naming the names there are. ``what`` ("component", "score") is used in that message.
    """

    def __init__(self, items: Mapping[str, V] | Iterable[tuple[str, V]] = (), what: str = "name") -> None:
        self._data: dict[str, V] = {}
        self._what = what
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            self[key] = value

    def __getitem__(self, name: str) -> V:
        try:
            return self._data[name_key(name)]
        except KeyError:
            raise KeyError(
                f"no {self._what} named {name!r} (names are compared case-insensitively); "
                f"there are: {sorted(self._data)}"
            ) from None

    def __setitem__(self, name: str, value: V) -> None:
        self._data[name_key(name)] = value

    def __delitem__(self, name: str) -> None:
        del self._data[name_key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name_key(name) in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ByName({self._data!r})"
