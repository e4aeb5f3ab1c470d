"""Tags: small, validated name/value facts attached to a trace.

Tags are what the backend filters, slices and reduces on, so they are checked
once here, where they enter, and trusted everywhere after. NaN and infinite
values are refused: a tag value must be comparable and reducible, and the
profile validators report such values as ``<component>-error`` tags instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from raymon.exceptions import TagError

NAME_MAX_LEN = 128
TYPE_MAX_LEN = 64
GROUP_MAX_LEN = 128
TEXT_VALUE_MAX_LEN = 1024

# Letters, digits (any script), and _ - . : / @ + = # ( ) [ ] and inner spaces.
_NAME_RE = re.compile(r"[\w\-.:/@+=#()\[\] ]+")

TagValue = str | int | float


# Tag names, groups and types repeat from request to request: remember the ones
# already checked so validation stays off the hot path. Bounded, cleared when full.
_CHECKED: dict[str, set[str]] = {"name": set(), "group": set(), "type": set()}
_CHECKED_NAMES, _CHECKED_GROUPS, _CHECKED_TYPES = _CHECKED["name"], _CHECKED["group"], _CHECKED["type"]
_CHECKED_MAX = 50_000


def _check_label(kind: str, text: Any, max_len: int) -> str:
    if type(text) is str and text in _CHECKED[kind]:
        return text
    if not isinstance(text, str):
        raise TagError(f"tag {kind} must be a string, got {type(text).__name__}: {text!r}")
    if not text:
        raise TagError(f"tag {kind} must not be empty")
    if len(text) > max_len:
        raise TagError(
            f"tag {kind} is {len(text)} characters long, the maximum is {max_len}: {text[:40]!r}..."
        )
    if _NAME_RE.fullmatch(text) is None or text[0] == " " or text[-1] == " ":
        raise TagError(
            f"tag {kind} {text!r} has characters that are not allowed: use letters, digits, "
            "spaces inside the name and _ - . : / @ + = # ( ) [ ]"
        )
    _remember(kind, text)
    return text


def _remember(kind: str, text: str) -> None:
    checked = _CHECKED[kind]
    if len(checked) >= _CHECKED_MAX:
        checked.clear()
    checked.add(text)


# Control characters and line/paragraph separators: a fixed set, unlike str.isprintable(), whose answer
# for a code point changes with the Python's Unicode version (schema/event.schema.json says the same).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_type(name: str, type_: Any) -> str:
    if type(type_) is str and type_ in _CHECKED_TYPES:
        return type_
    if (
        not isinstance(type_, str)
        or not type_
        or len(type_) > TYPE_MAX_LEN
        or _UNPRINTABLE.search(type_) is not None
    ):
        raise TagError(
            f"tag {name!r}: type must be 1 to {TYPE_MAX_LEN} characters without control characters "
            f"or line breaks, got {type_!r}"
        )
    _remember("type", type_)
    return type_


INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # the wire's integers are 64-bit (orjson on both ends)


def tag_fields_to_jcr(name: Any, value: Any, type_: Any = "label", group: Any = None) -> dict[str, Any]:
    """Validate one tag's fields and answer its wire form: the one check every tag passes."""
    _check_label("name", name, NAME_MAX_LEN)
    cls = type(value)
    if (
        cls is not str
        and cls is not int
        and cls is not float
        or cls is float
        and not math.isfinite(value)
        or cls is int
        and not INT_MIN <= value <= INT_MAX
    ):
        value = check_value(name, value)
    elif cls is str and (len(value) > TEXT_VALUE_MAX_LEN or "\x00" in value):
        check_value(name, value)
    _check_type(name, type_)
    if group is not None:
        _check_label("group", group, GROUP_MAX_LEN)
    return {"name": name, "value": value, "type": type_, "group": group}


def check_value(name: str, value: Any) -> TagValue:
    """Answer ``value`` as a plain str, int or float, or raise ``TagError``."""
    if isinstance(value, str):
        if len(value) > TEXT_VALUE_MAX_LEN:
            raise TagError(
                f"tag {name!r}: text value is {len(value)} characters long, the maximum is {TEXT_VALUE_MAX_LEN}"
            )
        if "\x00" in value:
            raise TagError(
                f"tag {name!r}: text value contains a NUL character (U+0000), which is not allowed"
            )
        return value
    if isinstance(value, bool) or value is None:
        raise TagError(f"tag {name!r}: value must be a string or a finite number, got {value!r}")
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise TagError(
                f"tag {name!r}: integer value {value} is outside the 64-bit range the wire carries"
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TagError(f"tag {name!r}: value must be a finite number, got {value!r}")
        return value
    # NumPy scalars and other numbers.Real implementations.
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("i", "u"):
        return check_value(name, int(value))
    if kind == "f":
        return check_value(name, float(value))
    raise TagError(
        f"tag {name!r}: value must be a string or a finite number, got {type(value).__name__}: {value!r}"
    )


@dataclass(frozen=True, slots=True)
class Tag:
    """A named, typed value on a trace, optionally in a group (e.g. a profile's ``name@version``).

    ``type`` is any short label (``label``, ``metric``, ``error``, ...); the UI colours some.
    """

    name: str
    value: TagValue
    type: str = "label"
    group: str | None = None

    def __post_init__(self) -> None:
        checked = tag_fields_to_jcr(self.name, self.value, self.type, self.group)
        object.__setattr__(self, "value", checked["value"])

    def to_jcr(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "type": self.type, "group": self.group}

    @classmethod
    def from_jcr(cls, jcr: Mapping[str, Any]) -> Tag:
        if not isinstance(jcr, Mapping):
            raise TagError(
                f"a tag must be a Tag or a dict with name, value and type, got {type(jcr).__name__}: {jcr!r}"
            )
        unknown = set(jcr) - {"name", "value", "type", "group"}
        if unknown:
            raise TagError(f"tag {jcr.get('name')!r} has unknown fields {sorted(unknown)}")
        for field in ("name", "value"):
            if field not in jcr:
                raise TagError(f"tag {jcr!r} has no {field!r}")
        return cls(
            name=jcr["name"], value=jcr["value"], type=jcr.get("type", "label"), group=jcr.get("group")
        )

    def __str__(self) -> str:
        group = f" [{self.group}]" if self.group else ""
        return f"{self.name}={self.value!r} ({self.type}){group}"


def tags_to_jcr(tags: Iterable[Tag | Mapping[str, Any]] | Tag | Mapping[str, Any]) -> list[dict[str, Any]]:
    """Validate a list of ``Tag`` objects and/or dicts and answer their wire form."""
    if isinstance(tags, (Tag, Mapping)):
        tags = [tags]
    out = []
    for tag in tags:
        if type(tag) is dict and len(tag) <= 4:
            # Fast path, taken when every label was checked before and the value is a plain
            # str, int or finite float: the same answer as tag_fields_to_jcr, without the calls.
            name = tag.get("name")
            value = tag.get("value", _MISSING)
            type_ = tag.get("type", "label")
            group = tag.get("group")
            cls = type(value)
            if (
                type(name) is str
                and name in _CHECKED_NAMES
                and type(type_) is str
                and type_ in _CHECKED_TYPES
                and (group is None or type(group) is str and group in _CHECKED_GROUPS)
                and (
                    cls is int
                    and INT_MIN <= value <= INT_MAX
                    or cls is float
                    and value - value == 0.0
                    or cls is str
                    and len(value) <= TEXT_VALUE_MAX_LEN
                    and "\x00" not in value
                )
                and len(tag) == 2 + ("type" in tag) + ("group" in tag)
            ):
                out.append({"name": name, "value": value, "type": type_, "group": group})
                continue
        if isinstance(tag, Tag):
            out.append(tag.to_jcr())
        elif (
            isinstance(tag, dict)
            and "name" in tag
            and "value" in tag
            and len(tag) <= 4
            and tag.keys() <= _TAG_FIELDS
        ):
            out.append(
                tag_fields_to_jcr(tag["name"], tag["value"], tag.get("type", "label"), tag.get("group"))
            )
        else:
            out.append(Tag.from_jcr(tag).to_jcr())
    return out


def known_plain_tags(tags: list[Any]) -> bool:
    """True when ``tags_to_jcr(tags)`` would answer ``tags`` itself, element for element.

    That is: every tag is a dict of exactly name, value, type and group, whose labels
    were checked before (they are in the caches) and whose value is a plain str,
    int or finite float. A logger then serialises the caller's list as it is,
    without copying a dict per tag (its keys then keep the caller's order, which JSON
    gives no meaning); anything else (``False``) takes ``tags_to_jcr``,
    which fills the defaults and raises a clear ``TagError`` for what is wrong. The
    answer holds for the list as it is now: serialise it before the caller can change it.

    This runs once per ``trace.tag`` call of the file and batch loggers, on every tag, so it
    is written for the common shape: float values (finite when their sum is: an infinity or
    a NaN makes the sum one; a sum that overflows is re-checked value by value) and one type
    and group shared by the tags (the object of the tag before, checked then, is taken by
    identity, without a set look-up).
    """
    names, types, groups = _CHECKED_NAMES, _CHECKED_TYPES, _CHECKED_GROUPS
    known_type = known_group = _MISSING  # the previous tag's type and group (checked)
    total = 0.0  # the sum of the float values
    try:
        for tag in tags:
            if type(tag) is dict and len(tag) == 4:  # with the four keys below: no other key
                value = tag["value"]
                if (
                    tag["name"] in names
                    and ((type_ := tag["type"]) is known_type or type_ in types)
                    and ((group := tag["group"]) is known_group or group is None or group in groups)
                ):
                    known_type, known_group = type_, group
                    cls = type(value)
                    if cls is float:
                        total += value
                        continue
                    if cls is int:
                        if INT_MIN <= value <= INT_MAX:
                            continue
                    elif cls is str and len(value) <= TEXT_VALUE_MAX_LEN and "\x00" not in value:
                        continue
            return False
    except (KeyError, TypeError):  # a key missing, or a label that cannot be hashed
        return False
    # finite: inf - inf and nan - nan are nan; an overflowing sum of finite values is re-checked
    return total - total == 0.0 or _floats_finite(tags)


def tag_objects_to_jcr(tags: list[Any]) -> list[dict[str, Any]] | None:
    """The wire form of a list of ``Tag`` objects themselves (no subclass), or None if one is not.

    A ``Tag`` is frozen and its fields were checked by ``__post_init__`` when it was made (its value
    made a plain str, int or finite float), so nothing is checked again: the same dicts as
    ``tags_to_jcr``, a quarter cheaper. Lists of Tags are what the profiles' ``validate_*`` answer.
    (orjson could dump the dataclasses as they are, but takes about 1.3 us a Tag for it, against
    0.25 us for building the dict; the dict is ``Tag.to_jcr``'s, written out to spare a method call
    per tag on this path.)
    """
    out = []
    for tag in tags:
        if type(tag) is not Tag:
            return None
        out.append({"name": tag.name, "value": tag.value, "type": tag.type, "group": tag.group})
    return out


def _floats_finite(tags: list[dict[str, Any]]) -> bool:
    """True when every float value of ``tags`` is finite (its own function: no closure in the loop above)."""
    for tag in tags:
        value = tag["value"]
        if type(value) is float and value - value != 0.0:
            return False
    return True


_TAG_FIELDS = frozenset({"name", "value", "type", "group"})
_MISSING = object()
