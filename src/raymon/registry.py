"""The one registry of classes a saved document may name: data types, extractors and scores.

A logged object's jcr names its wrapper (``{"type": "module.Class", ...}``), a saved
profile names its extractors and scores (``{"class": "module.Class", ...}``). Every
subclass of ``RaymonDataType``, ``ExtractorBase`` and ``Score`` registers here when
it is defined, under one key rule: its qualified name, ``module.Class``
(``qualified_name``). Documents written before that rule named scores by their
short class name (``"MeanScore"``); those still resolve (``ClassTable.get``).

Two ways to resolve a name (``resolve``):

- In a user's own process (no table given): the classes defined so far, and when
  the name is not among them the module it names is imported, so a profile finds
  a user's extractor without an explicit import.
- Against a ``ClassTable`` (the server's, filled by its plugins): only the classes
  in it; a name outside it is refused with ``UnknownClassError`` and nothing is
  imported. The server never imports a module named in data.

This module never imports NumPy, pandas or anything of the server.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Literal, get_args

from raymon.exceptions import RaymonError

Kind = Literal["data_type", "extractor", "score"]
KINDS: tuple[Kind, ...] = get_args(Kind)
_LABELS: dict[str, str] = {"data_type": "data type", "extractor": "extractor", "score": "score"}
# Where the short names of documents written before the qualified-name rule point first.
_LEGACY_SHORT_NAME_MODULES: dict[str, str] = {"score": "raymon.profiling.scores"}


class UnknownClassError(RaymonError, LookupError):
    """A document names a class that is not registered (and, on the server, is never imported)."""

    def __init__(self, message: str, kind: str, name: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


def qualified_name(cls: type) -> str:
    """The one key of a class in every registry: ``module.Class`` (``module.Outer.Inner`` when nested)."""
    return f"{cls.__module__}.{cls.__qualname__}"


def kind_label(kind: str) -> str:
    """The kind in words, for messages: ``"data type"``, ``"extractor"``, ``"score"``."""
    return _LABELS.get(kind, kind)


class ClassTable:
    """Classes by kind and qualified name. Looking up never imports anything."""

    def __init__(self) -> None:
        self._classes: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}

    def add(self, kind: Kind, cls: type) -> str:
        """Register ``cls`` under its qualified name (a later class of the same name replaces it)."""
        name = qualified_name(cls)
        self._table(kind)[name] = cls
        return name

    def remove(self, kind: Kind, name: str) -> None:
        self._table(kind).pop(name, None)

    def names(self, kind: Kind) -> list[str]:
        return sorted(self._table(kind))

    def get(self, kind: Kind, name: str) -> type | None:
        """The class registered as ``name``, or None.

        A score's name without a dot comes from a document written before the qualified-name rule
        (scores were saved as ``"F1Score"``): it means the built-in of that name when there is
        one, else the one registered class of that short name; never a guess between several.
        """
        table = self._table(kind)
        if not isinstance(name, str):
            return None
        cls = table.get(name)
        if cls is not None or "." in name:
            return cls
        legacy_module = _LEGACY_SHORT_NAME_MODULES.get(kind)
        if legacy_module is None:
            return None
        if f"{legacy_module}.{name}" in table:
            return table[f"{legacy_module}.{name}"]
        same_short = [c for c in table.values() if c.__qualname__ == name]
        return same_short[0] if len(same_short) == 1 else None

    def resolve(self, kind: Kind, name: str) -> type:
        """The class registered as ``name``; ``UnknownClassError`` when there is none (nothing imported)."""
        cls = self.get(kind, name)
        if cls is None:
            label = kind_label(kind)
            raise UnknownClassError(
                f"unknown {label} class {name!r}: it is not registered, and a module named in a "
                "document is never imported here; register the class with a server plugin (docs/plugins.md)",
                kind,
                str(name),
            )
        return cls

    def _table(self, kind: str) -> dict[str, type]:
        try:
            return self._classes[kind]
        except KeyError:
            raise ValueError(f"unknown registry kind {kind!r}: one of {list(KINDS)}") from None


# Every class defined in this process, registered by the base classes' __init_subclass__.
defined = ClassTable()


def register(kind: Kind, cls: type) -> str:
    """Called when a data type, extractor or score class is defined; answers its key."""
    return defined.add(kind, cls)


def resolve(kind: Kind, name: str, classes: ClassTable | None = None) -> type:
    """The class ``name`` of ``kind``: from ``classes`` only when given, else by the client's rule.

    The client's rule: a class defined in this process, else the one defined by importing the
    longest importable module the name starts with (``pkg.mod.Class`` imports ``pkg.mod``).
    """
    if classes is not None:
        return classes.resolve(kind, name)
    cls = defined.get(kind, name)
    if cls is not None:
        return cls
    label = kind_label(kind)
    if not isinstance(name, str) or "." not in name or "<locals>" in name:
        raise UnknownClassError(
            f"unknown {label} class {name!r}: no class of that name is defined; "
            "import the module that defines it first",
            kind,
            str(name),
        )
    tried: list[str] = []
    for module in _modules_of(name):
        try:
            importlib.import_module(module)
        except ImportError:
            tried.append(module)
            continue
        cls = defined.get(kind, name)
        if cls is not None:
            return cls
    raise UnknownClassError(
        f"unknown {label} class {name!r}: no class of that name is defined"
        + (f" and module {tried[0]!r} cannot be imported" if tried else "")
        + "; import the module that defines it first",
        kind,
        name,
    )


def _modules_of(name: str) -> Iterable[str]:
    """``a.b.C`` -> ``a.b``, ``a``: the modules a qualified name may live in, longest first."""
    parts = name.split(".")[:-1]
    for end in range(len(parts), 0, -1):
        yield ".".join(parts[:end])
