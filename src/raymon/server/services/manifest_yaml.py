"""A manifest's YAML text read with the line and column of every node, and edited in place.

``load`` parses with PyYAML's safe loader (no Python tags, nothing imported)
and keeps the composed node tree, so every error can point at the line and
column of the key or value at fault (``LoadedYaml.position``).
``replace_scalars`` rewrites chosen scalar values in the text itself, keeping
comments and layout: that is how secrets are redacted for display and put back
when a redacted manifest is applied again. A document with more than
``MAX_NODES`` nodes (counting an alias each time it is used: a "billion laughs"
document) or nested too deeply is refused, not expanded. This module knows
nothing of what a manifest means, and never touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_NODES = 20_000

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column in the YAML text."""

    line: int
    column: int


class YamlProblem(Exception):
    """The text is not one YAML document that can be read (``position`` says where)."""

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass
class LoadedYaml:
    """The document as Python data, with the nodes it was read from (by path)."""

    data: Any
    values: dict[Path, Node] = field(default_factory=dict)
    keys: dict[Path, Node] = field(default_factory=dict)
    duplicates: list[tuple[Path, Position, Position]] = field(default_factory=list)

    def position(self, path: Path, *, at_key: bool = False) -> Position:
        """Where ``path`` is written (its key with ``at_key``); the nearest enclosing node when it is not."""
        if at_key and path in self.keys:
            return _start(self.keys[path])
        for end in range(len(path), -1, -1):
            node = self.values.get(path[:end])
            if node is not None:
                return _start(node)
        return Position(1, 1)


def _start(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def load(text: str) -> LoadedYaml:
    """The one document of ``text``; ``YamlProblem`` for a syntax error, no document, or too many nodes."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlProblem("the manifest is empty", Position(1, 1))
        loaded = LoadedYaml(data=None)
        _index(node, (), loaded, [0])
        loaded.data = loader.construct_document(node)
        return loaded
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1)
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlProblem(f"YAML syntax: {problem or exc}", where) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML: {exc}", Position(1, 1)) from None
    except RecursionError:
        raise YamlProblem("the YAML is nested too deeply", Position(1, 1)) from None
    finally:
        loader.dispose()


def _index(node: Node, path: Path, loaded: LoadedYaml, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise YamlProblem(
            f"the manifest has more than {MAX_NODES} values (an alias counts each time it is used)",
            _start(node),
        )
    loaded.values.setdefault(path, node)
    if isinstance(node, MappingNode):
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.value == "<<":
                continue
            key = key_node.value
            if key in seen:
                loaded.duplicates.append((path + (key,), _start(key_node), _start(seen[key])))
                continue
            seen[key] = key_node
            loaded.keys[path + (key,)] = key_node
            _index(value_node, path + (key,), loaded, count)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), loaded, count)


def replace_scalars(text: str, loaded: LoadedYaml, replacements: Mapping[Path, str]) -> str:
    """``text`` with the scalar at each path replaced by the given YAML text (e.g. a quoted string).

    Paths that are not scalars are left as they are. Line breaks that ended a block scalar are kept.
    """
    spans: dict[tuple[int, int], str] = {}  # an anchored node reached through aliases is one span
    for path, new_text in replacements.items():
        node = loaded.values.get(path)
        if isinstance(node, ScalarNode):
            spans[(node.start_mark.index, node.end_mark.index)] = new_text
    out = text
    for (start, end), new_text in sorted(spans.items(), reverse=True):
        old = out[start:end]
        properties = _PROPERTIES.match(old)  # an anchor (&name) or tag (!tag) before the value stays
        head = properties.group() if properties else ""
        tail = old[len(old.rstrip()) :] if "\n" in old else ""
        out = out[:start] + head + new_text + tail + out[end:]
    return out


_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)+")


def quoted(value: str) -> str:
    """``value`` as a YAML double-quoted scalar (JSON's string syntax, which YAML reads the same)."""
    import json

    return json.dumps(value, ensure_ascii=False)
