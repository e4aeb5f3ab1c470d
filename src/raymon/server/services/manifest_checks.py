"""Whether a manifest's YAML can be applied to a project: every error at once, each with its line and column.

``check_manifest`` reads the text (``manifest_yaml``), validates it into
``engine.manifest.Manifest`` and then makes the checks the model cannot: the
visualisation, mapper, reducer and alert types are names the server's plugins
registered; the profiles that map and reduce actions name were uploaded to the
project; slice strings parse in the trace filter's language; inputs are refs
(the wire format's rule; they need not have been logged yet); webhooks are
http(s) URLs; action names are unique per kind; ``project_id`` is the project's;
the original Raymon's ``lambda_hook`` actions are refused pointing to the
``webhook`` mapper. A value ``"<redacted>"`` of a secret field (what the API
shows back) keeps the secret of the action of the same kind and name in the
current manifest. Refusals are ``ManifestRefused`` holding every
``ManifestError``; messages never quote a secret's value. This module never
touches the database: the caller hands it the registry, the project's profile
refs and the current manifest.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from raymon.exceptions import ProfileNameError, WireFormatError
from raymon.profile_names import parse_profile_ref
from raymon.server.engine import manifest as model
from raymon.server.plugins import Plugins
from raymon.server.services import tagfilter
from raymon.server.services.errors import InvalidInputError
from raymon.server.services.manifest_yaml import (
    LoadedYaml,
    Path,
    Position,
    YamlProblem,
    load,
    quoted,
    replace_scalars,
)
from raymon.tags import _NAME_RE
from raymon.wire import check_ref

REDACTED = "<redacted>"
MAX_MANIFEST_CHARS = 1_000_000
# Action kind -> (plugin kind, the field naming the registered type).
ACTION_KINDS: dict[str, tuple[str, str]] = {
    "visualize": ("visualisation", "function"),
    "map": ("mapper", "mapper_type"),
    "reduce": ("reducer", "reducer_type"),
    "alert": ("alert_channel", "type"),
}
# The fields whose values are never shown back (per action kind).
SECRET_FIELDS: dict[str, tuple[str, ...]] = {"alert": ("webhook", "url", "secret"), "map": ("url", "secret")}
CHECKS = ("drift", "integrity", "performance")
ALERT_FORMATS = ("alertmanager",)
_TOP_KEYS = ("project_id", "version", "actions", "slices", "settings")
_TYPE_FIELDS = {"visual_type", "mapper_type", "seq_mapper_type"}


@dataclass(frozen=True)
class ManifestError:
    """One thing wrong with a manifest, where it is written (1-based line and column)."""

    path: str
    line: int
    column: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column, "message": self.message}


class ManifestRefused(InvalidInputError):
    """A manifest that cannot be applied; ``errors`` holds every reason (the previous one stays in force)."""

    def __init__(self, errors: list[ManifestError]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {e.line} column {e.column}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"the manifest has {len(errors)} error(s), nothing was applied: {shown}{more}")


@dataclass(frozen=True)
class CheckedManifest:
    manifest: model.Manifest
    source: str  # the text to store: redacted secrets put back


def path_text(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Errors:
    def __init__(self, loaded: LoadedYaml) -> None:
        self.loaded = loaded
        self.items: list[ManifestError] = []
        self.muted: list[Path] = []  # actions refused whole: their other errors are noise

    def add(
        self, path: Path, message: str, *, at_key: bool = False, position: Position | None = None
    ) -> None:
        if any(path[: len(m)] == m for m in self.muted):
            return
        where = position or self.loaded.position(path, at_key=at_key)
        error = ManifestError(path_text(path) or "(document)", where.line, where.column, message)
        if error not in self.items:
            self.items.append(error)


def check_manifest(
    text: str,
    project_id: str,
    *,
    plugins: Plugins,
    profiles: Collection[str],
    previous: model.Manifest | None,
) -> CheckedManifest:
    """The validated manifest and the source to store, or ``ManifestRefused`` with every error."""
    if len(text) > MAX_MANIFEST_CHARS:
        _refuse_one(f"the manifest is {len(text)} characters long, over the limit of {MAX_MANIFEST_CHARS}")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        _refuse_one("the manifest contains a NUL character (U+0000), which cannot be stored", line)
    try:
        loaded = load(text)
    except YamlProblem as problem:
        raise ManifestRefused(
            [ManifestError("(document)", problem.position.line, problem.position.column, problem.message)]
        ) from None
    errors = _Errors(loaded)
    for path, where, first in loaded.duplicates:
        errors.add(path, f"the key {path[-1]!r} is given twice (first at line {first.line})", position=where)
    if not isinstance(loaded.data, dict):
        errors.add((), f"a manifest is a mapping with the keys {', '.join(_TOP_KEYS)}")
        raise ManifestRefused(errors.items)
    data = copy.deepcopy(loaded.data)
    replacements = _prepare(data, project_id, previous, errors)
    manifest = None
    try:
        manifest = model.Manifest.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            _model_error(error, errors)
    _check_actions(data, plugins, set(profiles), errors)
    _check_slices(data.get("slices"), errors)
    _check_settings(data.get("settings"), errors)
    if errors.items or manifest is None:
        raise ManifestRefused(sorted(errors.items, key=lambda e: (e.line, e.column, e.path)))
    return CheckedManifest(manifest, replace_scalars(text, loaded, replacements))


def _refuse_one(message: str, line: int = 1) -> None:
    raise ManifestRefused([ManifestError("(document)", line, 1, message)])


# --- before the model: project id, lambda_hook, secrets put back ----------------------------------


def _prepare(
    data: dict[str, Any], project_id: str, previous: model.Manifest | None, errors: _Errors
) -> dict[Path, str]:
    given = data.get("project_id")
    if given is None:
        data["project_id"] = project_id  # applied to a project: the document need not repeat it
    elif given != project_id:
        errors.add(
            ("project_id",),
            f"project_id is {given!r} but the manifest is applied to project {project_id!r}",
        )
        data["project_id"] = project_id
    replacements: dict[Path, str] = {}
    actions = data.get("actions")
    if not isinstance(actions, dict):
        return replacements
    for kind, items in actions.items():
        for i, action in _action_items(items):
            path: Path = ("actions", kind, i)
            hook = next((f for f in _TYPE_FIELDS if action.get(f) == "lambda_hook"), None)
            if hook is not None:
                errors.add(path + (hook,), _LAMBDA_HOOK)
                errors.muted.append(path)
                continue
            for secret in SECRET_FIELDS.get(kind, ()):
                if action.get(secret) != REDACTED:
                    continue
                kept = _previous_secret(previous, kind, action.get("name"), secret)
                if kept is None:
                    errors.add(
                        path + (secret,),
                        f"{secret} is {REDACTED!r} (as the server shows it) but the current manifest has no "
                        f"{kind} action named {action.get('name')!r} with a {secret} to keep: give the value",
                    )
                    continue
                action[secret] = kept
                replacements[path + (secret,)] = quoted(kept)
    return replacements


_LAMBDA_HOOK = (
    "'lambda_hook' (AWS Lambda) actions are not supported: use a mapper with mapper_type: webhook and the "
    "url of your function (e.g. an AWS Lambda function URL); it receives the same inputs (as jcr) and "
    "answers the same tags (docs/manifest.md, 'webhook')"
)


def _action_items(items: Any) -> Iterable[tuple[int, dict[str, Any]]]:
    if isinstance(items, list):
        for i, action in enumerate(items):
            if isinstance(action, dict):
                yield i, action


def _previous_secret(previous: model.Manifest | None, kind: str, name: Any, secret: str) -> str | None:
    if previous is None or not isinstance(name, str):
        return None
    for action in getattr(previous.actions, kind, []):
        if action.name == name:
            value = getattr(action, secret, None)
            return value if isinstance(value, str) else None
    return None


# --- the model's errors in the user's words ---------------------------------------------------------


def _all_fields() -> set[str]:
    classes: list[type[BaseModel]] = [
        model.Manifest,
        model.Actions,
        model.VisualizeAction,
        model.MapAction,
        model.ReduceAction,
        model.AlertAction,
        model.SliceSpec,
        model.SpaceTag,
        model.ManifestSettings,
        model.IssueSettings,
    ]
    return {name for cls in classes for name in cls.model_fields}


_FIELDS = _all_fields()


def _is_secret(path: Path) -> bool:
    return len(path) >= 4 and path[0] == "actions" and path[3] in SECRET_FIELDS.get(str(path[1]), ())


def _model_error(error: Any, errors: _Errors) -> None:
    loc: Path = tuple(error.get("loc") or ())
    kind = str(error.get("type", ""))
    if loc[:1] == ("version",):
        loc = ("version",)
        if kind in ("string_type", "int_type"):
            errors.add(loc, "version must be a string or an integer")
            return
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        errors.add(loc, _unknown_key(loc), at_key=True)
        return
    if kind == "missing":
        errors.add(loc, f"{name!r} is required", position=errors.loaded.position(loc[:-1]))
        return
    if kind == "list_type" and len(loc) == 2 and loc[0] == "actions":
        message = f"actions.{name} must be a list of {name} actions (each item starting with '- name: ...')"
        value = error.get("input")
        if isinstance(value, dict) and set(value) & set(ACTION_KINDS):
            misplaced = sorted(set(value) & set(ACTION_KINDS))
            message += f"; {', '.join(misplaced)} belongs under actions, next to {name}, not inside it"
        errors.add(loc, message)
        return
    message = _rule(error)
    shown = error.get("input")
    if not _is_secret(loc) and isinstance(shown, str | int | float) and not isinstance(shown, bool):
        text = repr(shown) if isinstance(shown, str) else str(shown)
        message += f", got {text[:80]}"
    errors.add(loc, f"{name} {message}" if loc and isinstance(loc[-1], str) else message)


def _unknown_key(loc: Path) -> str:
    key = str(loc[-1])
    if len(loc) == 1:
        return f"unknown key {key!r}: a manifest has {', '.join(_TOP_KEYS)}"
    if len(loc) == 2 and loc[0] == "actions":
        return f"unknown action kind {key!r}: the kinds are {', '.join(ACTION_KINDS)}"
    close = difflib.get_close_matches(key, sorted(_FIELDS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}"


def _rule(error: Any) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    bounds = {"less_than_equal": "<=", "less_than": "<", "greater_than_equal": ">=", "greater_than": ">"}
    if kind in bounds:
        return f"must be {bounds[kind]} {next(iter(ctx.values()), '?')}"
    if kind == "string_type":
        return "must be a string"
    if kind.startswith("int_"):
        return "must be an integer"
    if kind.startswith("float_"):
        return "must be a number"
    if kind.startswith("bool_"):
        return "must be true or false"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping (key: value lines)"
    if kind == "list_type":
        return "must be a list (lines starting with '- ')"
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


# --- what the model cannot know ---------------------------------------------------------------------


def _check_actions(data: dict[str, Any], plugins: Plugins, profiles: set[str], errors: _Errors) -> None:
    actions = data.get("actions")
    if not isinstance(actions, dict):
        return
    for kind, (plugin_kind, type_field) in ACTION_KINDS.items():
        known = plugins.names(plugin_kind)
        names: dict[str, int] = {}
        for i, action in _action_items(actions.get(kind)):
            path: Path = ("actions", kind, i)
            chosen = action.get(type_field)
            if isinstance(chosen, str) and chosen not in known and chosen != "lambda_hook":
                words = plugin_kind.replace("_", " ")
                errors.add(
                    path + (type_field,),
                    f"unknown {words} type {chosen!r}; known: {', '.join(known) or 'none'} "
                    "(a plugin registers more, see docs/plugins.md)",
                )
            name = action.get("name")
            if isinstance(name, str):
                if name in names:
                    first = errors.loaded.position(("actions", kind, names[name]))
                    errors.add(
                        path + ("name",),
                        f"a second {kind} action named {name!r} (the first is at line {first.line}): "
                        "names are unique per kind",
                    )
                else:
                    names[name] = i
            if "inputs" in action:
                _check_inputs(action["inputs"], path + ("inputs",), errors)
            for field in ("url", "webhook"):
                if isinstance(action.get(field), str) and action[field] != REDACTED:
                    _check_url(action[field], path + (field,), errors)
            if kind == "map":
                _check_map(action, path, profiles, errors)
            elif kind == "reduce":
                _check_reduce(action, path, profiles, errors)
            elif kind == "alert":
                _check_alert(action, path, errors)


def _check_inputs(inputs: Any, path: Path, errors: _Errors) -> None:
    if not isinstance(inputs, dict):
        return
    if not inputs:
        errors.add(path, "an action needs at least one input (input name: ref)")
    for name, ref in inputs.items():
        if isinstance(ref, str):
            try:
                check_ref(ref)
            except WireFormatError as exc:
                errors.add(path + (name,), f"input {name!r}: {exc}")


def _check_url(value: str, path: Path, errors: _Errors) -> None:
    parts = urlsplit(value) if value.strip() == value else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        shown = "" if _is_secret(path) else f", got {value[:80]!r}"
        errors.add(path, f"{path[-1]} must be an http(s) URL such as https://example.com/hook{shown}")


def _check_profile(ref: Any, path: Path, profiles: set[str], errors: _Errors, what: str) -> None:
    if not isinstance(ref, str):
        return
    try:
        name, version = parse_profile_ref(ref)
    except ProfileNameError as exc:
        errors.add(path, f"{what} must name a profile as name@version: {exc}")
        return
    if f"{name}@{version}" not in profiles:
        uploaded = ", ".join(sorted(profiles)[:10]) or "none"
        errors.add(
            path,
            f"profile {ref!r} was never uploaded to this project (uploaded: {uploaded}); "
            "upload it first (RaymonAPI.profile_create)",
        )


def _check_map(action: dict[str, Any], path: Path, profiles: set[str], errors: _Errors) -> None:
    mapper = action.get("mapper_type")
    if "profile" in action:
        _check_profile(action["profile"], path + ("profile",), profiles, errors, "profile")
    if mapper == "profile_eval":
        if action.get("profile") is None:
            errors.add(path, "a profile_eval mapper needs 'profile' (the profile's name@version)")
        inputs = action.get("inputs")
        if isinstance(inputs, dict):
            lacking = [name for name in ("output", "actual") if name not in inputs]
            if lacking:
                errors.add(
                    path + ("inputs",),
                    f"a profile_eval mapper takes the inputs output and actual; {', '.join(lacking)} missing",
                )
    if mapper == "webhook" and action.get("url") is None:
        errors.add(path, "a webhook mapper needs 'url' (where the inputs are POSTed)")


def _check_reduce(action: dict[str, Any], path: Path, profiles: set[str], errors: _Errors) -> None:
    if action.get("reducer_type") == "profile_reducer":
        _check_profile(action.get("name"), path + ("name",), profiles, errors, "a profile_reducer's name")
    if action.get("reducer_interval_s") is not None and action.get("reducer_interval_m") is not None:
        errors.add(path + ("reducer_interval_m",), "give reducer_interval_s or reducer_interval_m, not both")


def _check_alert(action: dict[str, Any], path: Path, errors: _Errors) -> None:
    channel = action.get("type")
    if channel == "slack" and action.get("webhook") is None:
        errors.add(path, "a slack alert needs 'webhook' (the Slack incoming-webhook URL)")
    if channel == "webhook" and action.get("url") is None:
        errors.add(path, "a webhook alert needs 'url' (where issue events are POSTed)")
    checks = action.get("checks")
    if isinstance(checks, list):
        for i, check in enumerate(checks):
            if isinstance(check, str) and check not in CHECKS:
                errors.add(path + ("checks", i), f"unknown check {check!r}: one of {', '.join(CHECKS)}")
    slices = action.get("slices")
    if isinstance(slices, list):
        for i, slicestr in enumerate(slices):
            if isinstance(slicestr, str) and slicestr.strip():
                _check_slicestr(slicestr, path + ("slices", i), errors)
    fmt = action.get("format")
    if isinstance(fmt, str) and fmt not in ALERT_FORMATS:
        errors.add(
            path + ("format",), f"unknown format {fmt!r}: leave it out or use {', '.join(ALERT_FORMATS)}"
        )


def _check_slicestr(slicestr: str, path: Path, errors: _Errors) -> None:
    try:
        tagfilter.parse(slicestr)
    except tagfilter.TagFilterError as exc:
        node = errors.loaded.values.get(path)
        where = errors.loaded.position(path)
        style = getattr(node, "style", None)
        if node is not None and "\n" not in slicestr and style in (None, "'", '"'):
            where = Position(where.line, where.column + exc.position + (1 if style else 0))
        errors.add(path, f"bad slice: {exc.reason} (at character {exc.position + 1})", position=where)


def _check_slices(slices: Any, errors: _Errors) -> None:
    if not isinstance(slices, list):
        return
    for i, spec in enumerate(slices):
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("slicestr"), str):
            _check_slicestr(spec["slicestr"], ("slices", i, "slicestr"), errors)
        space = spec.get("space")
        if isinstance(space, list):
            for j, item in enumerate(space):
                tag = item.get("tag") if isinstance(item, dict) else None
                if isinstance(tag, str) and (
                    _NAME_RE.fullmatch(tag) is None or tag != tag.strip() or len(tag) > 128
                ):
                    errors.add(
                        ("slices", i, "space", j, "tag"),
                        f"{tag!r} is no tag name: letters, digits, inner spaces and _ - . : / @ + = # ( ) [ ]",
                    )


def _check_settings(settings: Any, errors: _Errors) -> None:
    if isinstance(settings, dict) and None not in (
        settings.get("reducer_interval_s"),
        settings.get("reducer_interval"),
    ):
        errors.add(("settings", "reducer_interval"), "give reducer_interval_s or reducer_interval, not both")
