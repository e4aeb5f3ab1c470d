"""What the trace page shows: a trace's tags by group, its text log, and each object with its visualisation.

An object is shown by the visualisation the manifest's ``visualize`` action names for its
ref (an action with one input), else by the built-in default for its type
(``DEFAULTS``: ``dataframe_table``, ``img2html``, ``native2html``, ``numpy2html``); an
action with several inputs is a view of its own once all of its refs are on the trace.
Objects load only as the registered data types (``Plugins.load_object``): one that does
not load, or a visualisation that fails, is shown as that error, never as a broken page.

Visualisations answer HTML that is inserted as it is (``hookspecs.Visualisation``); they
get the action's ``params`` plus ``limit`` (rows or items to show) and ``urls`` (each
input's image URL). Downloads are the stored bytes; only images whose bytes start as a
PNG, JPEG, WebP or GIF does (sniffed, never the declared type) are served for inline
display. This module only reads, never parses HTTP and runs no SQL.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from raymon.exceptions import DataTypeError
from raymon.server.services import manifests, objects, traces
from raymon.server.services.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.engine.manifest import VisualizeAction

SHOWN_ROWS = 50  # rows or items of an object shown at first
ALL_ROWS = 10_000  # "show all" shows at most this many; the download has everything
NO_GROUP = ""

# The visualisation an object gets when no action names its ref, by data type.
DEFAULTS: Mapping[str, str] = {
    "raymon.types.DataFrame": "dataframe_table",
    "raymon.types.Series": "dataframe_table",
    "raymon.types.Image": "img2html",
    "raymon.types.Native": "native2html",
    "raymon.types.Numpy": "numpy2html",
}
IMAGE_TYPE = "raymon.types.Image"
_PNG_MODES = {"1", "L", "LA", "RGB", "RGBA"}


def sniff_image(data: bytes) -> str | None:
    """The media type of an image the page may show inline, by its magic bytes; None for anything else (SVG too)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class View:
    """One visualisation on the page: its HTML (or the error that stopped it) and whether rows are hidden."""

    key: str  # the object id, or "action:<name>" for an action of several inputs
    title: str
    function: str | None
    html: str = ""
    error: str | None = None
    total: int | None = None  # rows or items of the largest input (None: not counted)
    truncated: bool = False


@dataclass(frozen=True)
class ObjectView:
    """An object of the trace: its reference (``objects.meta_json``) and how it is shown."""

    meta: dict[str, Any]
    view: View
    inline_image: bool


@dataclass(frozen=True)
class TagGroup:
    group: str  # NO_GROUP for tags without one
    tags: list[dict[str, Any]]


@dataclass(frozen=True)
class TracePage:
    trace_id: str
    first_ts: str | None
    last_ts: str | None
    tag_groups: list[TagGroup]
    texts: list[dict[str, Any]]
    objects: list[ObjectView]
    views: list[View] = field(default_factory=list)  # actions of several inputs


def tag_kind(tag_type: str) -> str:
    """The chip class of a tag type: ``error`` for error types, ``metric``, else ``label``."""
    lowered = tag_type.lower()
    if "error" in lowered:
        return "error"
    if lowered == "metric":
        return "metric"
    return "label"


def group_tags(tags: list[dict[str, Any]]) -> list[TagGroup]:
    """Tags by group (tags without a group first, then groups by name), each group by tag name."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for tag in tags:
        groups.setdefault(tag.get("group") or NO_GROUP, []).append(tag)
    return [TagGroup(g, sorted(groups[g], key=lambda t: t["name"])) for g in sorted(groups)]


def _size(value: Any) -> int | None:
    """How many rows or items ``value`` shows as (the unit ``limit`` counts); None when it has no such length."""
    import raymon.types as rt

    data: Any = getattr(value, "data", None)
    if isinstance(value, (rt.DataFrame, rt.Series)):
        return len(data)
    if isinstance(value, rt.Numpy):
        if data.ndim == 0:
            return None
        return int(data.shape[0]) if data.ndim == 1 else int(data.size // max(1, data.shape[-1]))
    if isinstance(value, rt.Native) and isinstance(data, (list, tuple, dict)):
        return len(data)
    return None


class _Loaded:
    """The trace's objects loaded on demand, each at most once (and its load error remembered)."""

    def __init__(self, backend: Backend, project_id: str) -> None:
        self.backend = backend
        self.project_id = project_id
        self._cache: dict[str, tuple[Any, str | None]] = {}

    def get(self, obj_id: str) -> tuple[Any, str | None]:
        if obj_id not in self._cache:
            try:
                jcr = orjson.loads(objects.object_body(self.backend, self.project_id, obj_id))
                self._cache[obj_id] = (self.backend.plugins.load_object(jcr), None)
            except NotFoundError as exc:
                self._cache[obj_id] = (None, str(exc))
            except DataTypeError as exc:  # an unregistered type, a jcr its class refuses
                self._cache[obj_id] = (None, f"this object does not load on the server: {exc}")
            except Exception as exc:  # noqa: BLE001 - a damaged jcr (bad base64, not an image...): shown, not raised
                self._cache[obj_id] = (
                    None,
                    f"this object does not load on the server: its data is damaged ({type(exc).__name__})",
                )
        return self._cache[obj_id]


def _render(
    backend: Backend,
    key: str,
    title: str,
    function: str,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any] | None,
    urls: Mapping[str, str],
    show_all: bool,
) -> View:
    sizes = [s for s in (_size(v) for v in inputs.values()) if s is not None]
    total = max(sizes) if sizes else None
    limit = ALL_ROWS if show_all else SHOWN_ROWS
    try:
        visualisation = backend.plugins.visualisation(function)
    except LookupError as exc:
        return View(key, title, function, error=str(exc), total=total)
    try:
        html = visualisation.function(dict(inputs), {**(params or {}), "limit": limit, "urls": dict(urls)})
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is shown on its card, the page still renders
        return View(
            key, title, function, error=f"{function} failed: {type(exc).__name__}: {exc}", total=total
        )
    if not isinstance(html, str):
        return View(key, title, function, error=f"{function} answered {type(html).__name__}, not HTML text")
    return View(key, title, function, html=html, total=total, truncated=total is not None and total > limit)


def _single_input_actions(actions: list[VisualizeAction]) -> dict[str, VisualizeAction]:
    by_ref: dict[str, VisualizeAction] = {}
    for action in actions:
        if len(action.inputs) == 1:
            by_ref.setdefault(next(iter(action.inputs.values())), action)
    return by_ref


def _object_view(
    backend: Backend,
    meta: dict[str, Any],
    loaded: _Loaded,
    action: VisualizeAction | None,
    image_url: Callable[[str], str],
    show_all: bool,
) -> ObjectView:
    obj_id, ref = meta["obj_id"], meta["ref"]
    inline = meta["data_type"] == IMAGE_TYPE
    value, error = loaded.get(obj_id)
    if error is not None:
        return ObjectView(meta, View(obj_id, ref, None, error=error), inline_image=False)
    if action is not None:
        name = next(iter(action.inputs))
        view = _render(
            backend,
            obj_id,
            ref,
            action.function,
            {name: value},
            action.params,
            {name: image_url(obj_id)} if inline else {},
            show_all,
        )
        return ObjectView(meta, view, inline)
    function = DEFAULTS.get(meta["data_type"])
    if function is None:
        return ObjectView(meta, View(obj_id, ref, None), inline_image=False)
    urls = {"data": image_url(obj_id)} if inline else {}
    return ObjectView(
        meta, _render(backend, obj_id, ref, function, {"data": value}, None, urls, show_all), inline
    )


def _actions(backend: Backend, project_id: str) -> list[VisualizeAction]:
    manifest = manifests.current(backend, project_id)
    return list(manifest.actions.visualize) if manifest is not None else []


def trace_page(
    backend: Backend,
    project_id: str,
    trace_id: str,
    image_url: Callable[[str], str],
) -> TracePage:
    """Everything the trace page shows; ``NotFoundError`` naming the trace when it does not exist.

    ``image_url(obj_id)`` is the URL the page serves an image object's bytes at.
    """
    trace = traces.get_trace(backend, project_id, trace_id)
    metas: list[dict[str, Any]] = trace["objects"]
    actions = _actions(backend, project_id)
    by_ref = _single_input_actions(actions)
    loaded = _Loaded(backend, project_id)
    shown = [_object_view(backend, m, loaded, by_ref.get(m["ref"]), image_url, False) for m in metas]
    latest = {m["ref"]: m for m in metas}  # time order: the last object of a ref wins
    views = []
    for action in actions:
        if len(action.inputs) < 2 or not all(ref in latest for ref in action.inputs.values()):
            continue
        views.append(_action_view(backend, action, latest, loaded, image_url, False))
    return TracePage(
        trace_id=trace["trace_id"],
        first_ts=trace["first_ts"],
        last_ts=trace["last_ts"],
        tag_groups=group_tags(trace["tags"]),
        texts=trace["texts"],
        objects=shown,
        views=views,
    )


def _action_view(
    backend: Backend,
    action: VisualizeAction,
    latest: Mapping[str, dict[str, Any]],
    loaded: _Loaded,
    image_url: Callable[[str], str],
    show_all: bool,
) -> View:
    key = f"action:{action.name}"
    inputs: dict[str, Any] = {}
    urls: dict[str, str] = {}
    for name, ref in action.inputs.items():
        meta = latest[ref]
        value, error = loaded.get(meta["obj_id"])
        if error is not None:
            return View(key, action.name, action.function, error=f"input {name!r} (ref {ref!r}): {error}")
        inputs[name] = value
        if meta["data_type"] == IMAGE_TYPE:
            urls[name] = image_url(meta["obj_id"])
    return _render(backend, key, action.name, action.function, inputs, action.params, urls, show_all)


def _meta_on_trace(backend: Backend, project_id: str, trace_id: str, obj_id: str) -> dict[str, Any]:
    meta = objects.object_meta(backend, project_id, obj_id)
    if meta["trace_id"] != trace_id:
        raise NotFoundError(f"trace {trace_id!r} has no object {obj_id!r}")
    return meta


def object_page(
    backend: Backend,
    project_id: str,
    trace_id: str,
    obj_id: str,
    image_url: Callable[[str], str],
    *,
    show_all: bool,
) -> ObjectView:
    """One object of a trace with its visualisation, its first rows or (``show_all``) up to ``ALL_ROWS``."""
    meta = _meta_on_trace(backend, project_id, trace_id, obj_id)
    action = _single_input_actions(_actions(backend, project_id)).get(meta["ref"])
    return _object_view(backend, meta, _Loaded(backend, project_id), action, image_url, show_all)


def action_page(
    backend: Backend,
    project_id: str,
    trace_id: str,
    name: str,
    image_url: Callable[[str], str],
    *,
    show_all: bool,
) -> View:
    """The view of the manifest's ``visualize`` action ``name`` (of several inputs) on one trace."""
    trace = traces.get_trace(backend, project_id, trace_id)
    latest = {m["ref"]: m for m in trace["objects"]}
    for action in _actions(backend, project_id):
        if action.name == name and len(action.inputs) > 1:
            missing = sorted(ref for ref in action.inputs.values() if ref not in latest)
            if missing:
                raise NotFoundError(f"trace {trace_id!r} has no object with ref {missing[0]!r}")
            return _action_view(backend, action, latest, _Loaded(backend, project_id), image_url, show_all)
    raise NotFoundError(f"the manifest has no visualize action {name!r} of several inputs")


def object_download(
    backend: Backend, project_id: str, trace_id: str, obj_id: str
) -> tuple[dict[str, Any], bytes]:
    """An object of a trace as stored: its reference and its jcr bytes (``NotFoundError`` when not on the trace)."""
    meta = _meta_on_trace(backend, project_id, trace_id, obj_id)
    return meta, objects.object_body(backend, project_id, obj_id)


def image_bytes(backend: Backend, project_id: str, trace_id: str, obj_id: str) -> tuple[bytes, str]:
    """An image object's picture and its media type, for showing inline.

    Only an ``rt.Image`` whose bytes sniff as PNG, JPEG, WebP or GIF is answered (a mode PNG
    cannot hold is converted first); anything else is an ``InvalidInputError``: download it.
    """
    meta, body = object_download(backend, project_id, trace_id, obj_id)
    refused = f"object {obj_id!r} is not an image shown inline (PNG, JPEG, WebP or GIF): download it"
    if meta["data_type"] != IMAGE_TYPE:
        raise InvalidInputError(refused)
    jcr = orjson.loads(body)
    params = jcr.get("params") if isinstance(jcr, dict) else None
    picture: bytes | None = None
    if isinstance(params, dict) and isinstance(params.get("png"), str):
        try:
            picture = base64.b64decode(params["png"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError(refused) from None
    else:
        picture = _converted(backend, jcr, refused)
    media_type = sniff_image(picture)
    if media_type is None:
        raise InvalidInputError(refused)
    return picture, media_type


def _converted(backend: Backend, jcr: Any, refused: str) -> bytes:
    """A raw image (a mode PNG cannot hold: CMYK, P with a palette...) as PNG."""
    try:
        image = backend.plugins.load_object(jcr).data
    except Exception:  # noqa: BLE001 - a damaged image is not shown, whatever broke
        raise InvalidInputError(refused) from None
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def trace_download(backend: Backend, project_id: str, trace_id: str) -> Iterator[bytes]:
    """The whole trace as one JSON document (``traces.download_trace``); ``NotFoundError`` before the first byte."""
    traces.get_trace(backend, project_id, trace_id)
    return traces.download_trace(backend, project_id, trace_id)
