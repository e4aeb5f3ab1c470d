"""Slices: the subsets of traces a reducer keeps separate state for.

A manifest's ``slices`` (``engine.manifest.SliceSpec``) give, besides the global
slice (every trace, slicestr ``""``):

- a ``slicestr``: one slice, the traces the trace filter's expression selects
  (``services.tagfilter``: ``client==Zillow && app==v2``), judged with its pure
  ``evaluate`` over the trace's tags;
- a ``space``: one slice per combination of the listed tags' values
  (``client==Zillow``, ``client==Zillow && app==v2``), for traces that have every
  listed tag. At most ``limit`` combinations (default ``settings.space_limit``)
  get their own slice; the rest share one "other" slice whose slicestr is the
  marker ``other(client,app)``: not a filter expression (it does not parse), so
  it never collides with a real slice.

Which combinations are kept is decided by *sticky admission*, so a slice never
changes meaning between windows: the kept set lives in the reducer's state
(``SpaceState``); a pass first counts the combinations of its traces, admits the
most frequent new ones (ties by slicestr) while the space has room, and then
assigns every trace with the set so frozen. A kept combination stays kept; once a
space is full, new combinations go to "other". (Frequencies of kept combinations
are counted for display; "other" combinations are not remembered, so a space over
a high-cardinality tag costs no state.)

A combination's slicestr writes text values bare when they read as words and
quoted when they would read as numbers or hold special characters, and numeric
values as numbers, so that ``evaluate(parse(slicestr), tags)`` selects the traces
of that combination. Cost per trace: each slicestr is evaluated once, each space
is one slicestr built and one dict lookup; never a loop over all combinations.

This module is pure: no database, no manifest loading.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raymon.server.engine.manifest import SliceSpec
from raymon.server.services import tagfilter

GLOBAL = ""
_BARE_RE = re.compile(r"[^\s\"'()!=<>&|]+")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _word(text: str) -> str:
    """``text`` as the filter language reads it back as the same text: bare if safe, else quoted."""
    if _BARE_RE.fullmatch(text) and not _NUMBER_RE.fullmatch(text) and text not in ("&&", "||"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def value_text(value: Any) -> str | None:
    """A tag value as it appears in a slicestr (None: the value cannot name a slice)."""
    if isinstance(value, str):
        return _word(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return _number(float(value))
    return None


def combination_slicestr(names: Sequence[str], values: Sequence[Any]) -> str | None:
    """``client==Zillow && app==v2`` for one combination; None when a value cannot name a slice."""
    parts = []
    for name, value in zip(names, values, strict=True):
        text = value_text(value)
        if text is None:
            return None
        parts.append(f"{_word(name)}=={text}")
    return " && ".join(parts)


def other_slicestr(names: Sequence[str]) -> str:
    """The marker of a space's "other" slice: ``other(client,app)`` (not a filter expression)."""
    return "other(" + ",".join(names) + ")"


def space_key(names: Sequence[str]) -> str:
    """How a space is keyed in the reducer's state: its tag names, comma-joined, in the manifest's order."""
    return ",".join(names)


@dataclass
class SpaceState:
    """A space's kept combinations (slicestr -> traces counted), in admission order: the reducer keeps it."""

    kept: dict[str, int] = field(default_factory=dict)

    def to_jcr(self) -> dict[str, Any]:
        return {"kept": [[s, n] for s, n in self.kept.items()]}

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any] | None) -> SpaceState:
        if not jcr:
            return cls()
        return cls({str(s): int(n) for s, n in jcr.get("kept", [])})


@dataclass(frozen=True)
class _Space:
    names: tuple[str, ...]
    limit: int
    key: str
    other: str


@dataclass(frozen=True)
class _Expression:
    slicestr: str
    node: tagfilter.Node


class SliceSet:
    """The slices of one manifest for one reducer pass: ``assign`` answers the slicestrs of a trace.

    ``spaces`` is the reducer's stored state of each space (``space_key`` -> ``SpaceState``);
    call ``admit`` with the pass's traces before ``assign``, then store ``spaces`` back.
    """

    def __init__(
        self,
        specs: Sequence[SliceSpec],
        space_limit: int,
        spaces: Mapping[str, SpaceState] | None = None,
    ) -> None:
        self.expressions: list[_Expression] = []
        self.space_specs: list[_Space] = []
        seen: set[str] = {GLOBAL}
        for spec in specs:
            if spec.slicestr is not None:
                text = spec.slicestr.strip()
                if text in seen:
                    continue
                seen.add(text)
                self.expressions.append(_Expression(text, tagfilter.parse(text)))
            elif spec.space:
                names = tuple(t.tag for t in spec.space)
                key = space_key(names)
                if key in seen:
                    continue
                seen.add(key)
                self.space_specs.append(_Space(names, spec.limit or space_limit, key, other_slicestr(names)))
        # A lowered limit keeps the first admitted combinations.
        self.spaces: dict[str, SpaceState] = {
            s.key: SpaceState(dict(list((spaces or {}).get(s.key, SpaceState()).kept.items())[: s.limit]))
            for s in self.space_specs
        }

    def tag_names(self) -> set[str]:
        """Every tag name membership depends on (what to read of a trace besides its validation tags)."""
        names: set[str] = set()
        for expression in self.expressions:
            names |= tagfilter.tag_names(expression.node)
        for space in self.space_specs:
            names |= set(space.names)
        return names

    def _combination(self, space: _Space, tags: Mapping[str, Any]) -> str | None:
        values = []
        for name in space.names:
            if name not in tags:
                return None
            values.append(tags[name])
        return combination_slicestr(space.names, values)

    def admit(self, traces: Iterable[Mapping[str, Any]]) -> None:
        """Count the combinations of ``traces`` and admit the most frequent new ones while there is room."""
        batch = list(traces)
        for space in self.space_specs:
            state = self.spaces[space.key]
            counts: Counter[str] = Counter()
            for tags in batch:
                combination = self._combination(space, tags)
                if combination is not None:
                    counts[combination] += 1
            room = space.limit - len(state.kept)
            if room > 0:
                new = sorted((c for c in counts if c not in state.kept), key=lambda c: (-counts[c], c))
                for combination in new[:room]:
                    state.kept[combination] = 0
            for combination, n in counts.items():
                if combination in state.kept:
                    state.kept[combination] += n

    def kept(self, key: str) -> list[str]:
        """The kept combinations of a space, in admission order."""
        return list(self.spaces[key].kept)

    def assign(self, tags: Mapping[str, Any]) -> list[str]:
        """The slicestrs of a trace with ``tags`` (name -> value), each once: the global slice first."""
        out = [GLOBAL]
        as_dict = tags if isinstance(tags, dict) else dict(tags)
        for expression in self.expressions:
            if tagfilter.evaluate(expression.node, as_dict):
                out.append(expression.slicestr)
        for space in self.space_specs:
            combination = self._combination(space, tags)
            if combination is None:
                continue
            chosen = combination if combination in self.spaces[space.key].kept else space.other
            if chosen not in out:  # a slicestr and a space's combination can be the same slice
                out.append(chosen)
        return out

    def spaces_jcr(self) -> dict[str, Any]:
        return {key: state.to_jcr() for key, state in self.spaces.items()}

    @staticmethod
    def spaces_from_jcr(jcr: Mapping[str, Any] | None) -> dict[str, SpaceState]:
        return {str(k): SpaceState.from_jcr(v) for k, v in (jcr or {}).items()}
