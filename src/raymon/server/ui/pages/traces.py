"""The trace list (``/projects/{project_id}/traces``): the page users live in.

A table of traces newest first (time in the viewer's zone, ``tz=utc`` for UTC; the
trace id linking to the trace page; tags as chips coloured by type), filtered by a
tag expression (the parser's error shown with its position), a time range (presets
frozen to absolute ``begin``/``end`` in the URL), a free-text search in the texts
(bounded per request), keyset pages both ways, a capped count ("10,000+", fetched
after the table by htmx so it never delays it) and exports of everything that
matches (NDJSON, Parquet, CSV). The query string is the whole state: the filter
form swaps only the results block and pushes its URL, so reload, back and a shared
link show the same page.

Routes parse and answer; ``services.traces`` and ``services.exports`` decide. Nothing
here changes anything (every route is a GET).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from raymon.server.api.deps import get_backend
from raymon.server.api.reading import attachment
from raymon.server.services import exports, tagfilter, tags, traces
from raymon.server.services.errors import InvalidInputError
from raymon.server.services.text_params import check_text
from raymon.server.services.time_text import parse_time
from raymon.server.services.traces import FilterProblem, TraceFilter
from raymon.server.ui.auth import ProjectPage, project_page
from raymon.server.ui.templating import is_htmx, iso, render

router = APIRouter(include_in_schema=False)

PRESETS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
PRESET_LABELS = [
    ("", "Any time"),
    ("1h", "Last 1 h"),
    ("24h", "Last 24 h"),
    ("7d", "Last 7 d"),
    ("custom", "Custom"),
]
LIMITS = (25, 50, 100, 250)
DEFAULT_LIMIT = 50
STATE_NAMES = ("filter", "text", "begin", "end", "tz", "limit")  # what a link keeps
_BARE_WORD = re.compile(r"[^\s()!=<>&|\"']+")


@dataclass
class ListState:
    """The page's state as the query string holds it, checked; ``problems`` are shown in the form."""

    filter: str = ""
    text: str = ""
    begin: datetime | None = None
    end: datetime | None = None
    tz: str = ""
    limit: int = DEFAULT_LIMIT
    after: str = ""
    before: str = ""
    preset: str = ""
    frozen: bool = False  # a preset was turned into begin/end: the URL to show differs from the request's
    filter_problem: FilterProblem | None = None
    problems: list[str] = field(default_factory=list)

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "filter": self.filter,
            "text": self.text,
            "begin": iso(self.begin),
            "end": iso(self.end),
            "tz": self.tz,
            "limit": "" if self.limit == DEFAULT_LIMIT else self.limit,
            "after": self.after,
            "before": self.before,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    @property
    def trace_filter(self) -> TraceFilter:
        return TraceFilter(
            expression=self.filter or None, begin=self.begin, end=self.end, text=self.text or None
        )

    @property
    def filtered(self) -> bool:
        return bool(self.filter or self.text or self.begin or self.end)


def read_state(request: Request, now: datetime | None = None) -> ListState:
    """The page's state from the query string; a preset range becomes absolute begin/end (``frozen``)."""
    q = request.query_params
    state = ListState()
    for name in ("filter", "text", "after", "before"):
        raw = q.get(name, "")
        try:
            setattr(state, name, check_text(name, raw).strip() if raw else "")
        except InvalidInputError as exc:
            state.problems.append(str(exc))
    state.tz = "utc" if q.get("tz") == "utc" else ""
    try:
        state.limit = int(q.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        state.problems.append(f"limit: {q.get('limit')!r} is not a number")
    if state.limit not in LIMITS:
        state.limit = min(LIMITS, key=lambda n: abs(n - state.limit))
    preset = q.get("range", "")
    if preset in PRESETS:
        end = (now or datetime.now(UTC)).replace(microsecond=0)
        state.begin, state.end, state.frozen = end - PRESETS[preset], end, True
        state.after = state.before = ""  # a new range starts at its newest trace
    elif "range" in q and preset == "":
        state.preset = ""  # the form's "Any time": begin and end left in its inputs do not count
    else:
        for name in ("begin", "end"):
            raw = q.get(name, "").strip()
            if raw:
                try:
                    setattr(state, name, parse_time(name, raw))
                except InvalidInputError as exc:
                    state.problems.append(str(exc))
        state.preset = "custom" if preset == "custom" or state.begin or state.end else ""
    if state.begin and state.end and state.begin >= state.end:
        state.problems.append(f"begin ({iso(state.begin)}) must be before end ({iso(state.end)})")
    state.filter_problem = traces.filter_problem(state.filter)
    return state


def condition_text(name: str, value: Any) -> str:
    """The filter condition ``name == value`` as a user would type it (quoted only where needed)."""
    shown = _number(value) if isinstance(value, int | float) else _word(str(value))
    return f"{_word(name)}=={shown}"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value!r}"


def _word(text: str) -> str:
    """``text`` bare when it reads back as the same text, else quoted."""
    if _BARE_WORD.fullmatch(text):
        try:
            float(text)
        except ValueError:
            return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def narrowing(expression: str) -> Any:
    """A function ``condition -> expression && condition`` (bracketed when needed): a chip's link.

    The expression is parsed once per page, not once per chip.
    """
    if not expression:
        return lambda condition: condition
    try:
        tree = tagfilter.parse(expression)
    except tagfilter.TagFilterError:
        return lambda condition: condition
    left = f"({expression})" if isinstance(tree, tagfilter.Or) else expression
    return lambda condition: f"{left} && {condition}"


def describe(expression: str) -> str:
    """A filter in words, for an empty result: ``client is "bigshot" and app is not "v1"``."""
    try:
        return _describe(tagfilter.parse(expression))
    except tagfilter.TagFilterError:
        return expression


def _describe(node: tagfilter.Node) -> str:
    words = {"==": "is", "!=": "is not", "<": "<", ">": ">", "<=": "≤", ">=": "≥"}
    if isinstance(node, tagfilter.Comparison):
        value = f"{node.value:g}" if isinstance(node.value, float) else f'"{node.value}"'
        return f"tag {node.name} {words[node.op]} {value}"
    if isinstance(node, tagfilter.HasTag):
        return f"a tag named {node.name}"
    if isinstance(node, tagfilter.Not):
        return f"not ({_describe(node.operand)})"
    joiner = " and " if isinstance(node, tagfilter.And) else " or "
    return "(" + joiner.join(_describe(op) for op in node.operands) + ")"


def chip_class(tag: dict[str, Any]) -> str:
    """The chip's colour by the tag's type: error, metric, a profile group, or a plain label."""
    if tag.get("type") == "error" or str(tag.get("type", "")).endswith("-error"):
        return "error"
    if tag.get("group"):
        return "group"
    if tag.get("type") == "metric":
        return "metric"
    return "label"


@dataclass(frozen=True, slots=True)
class Chip:
    """A tag as the table shows it: its colour class, the link narrowing the filter to it, its tooltip."""

    name: str
    value: Any
    css: str
    href: str
    title: str


def chip_maker(page: ProjectPage, state: ListState) -> Any:
    """``tag -> Chip``, memoised for the page: a page's chips repeat (500 tags, a few dozen distinct)."""
    narrow = narrowing(state.filter)
    others = urlencode(state.params(filter=None, after=None, before=None))
    base = f"/projects/{page.project_id}/traces?"
    made: dict[tuple[str, Any, str, str | None], Chip] = {}

    def chip(tag: dict[str, Any]) -> Chip:
        key = (tag["name"], tag["value"], tag["type"], tag.get("group"))
        found = made.get(key)
        if found is None:
            cond = condition_text(tag["name"], tag["value"])
            query = urlencode({"filter": narrow(cond)}) + ("&" + others if others else "")
            title = tag["type"] + (f" · {tag['group']}" if tag.get("group") else "")
            found = made[key] = Chip(tag["name"], tag["value"], chip_class(tag), base + query, title)
        return found

    return chip


def _list_url(page: ProjectPage, params: dict[str, str]) -> str:
    base = f"/projects/{page.project_id}/traces"
    return f"{base}?{urlencode(params)}" if params else base


@router.get("/projects/{project_id}/traces")
def trace_list(request: Request, page: ProjectPage = Depends(project_page)) -> Response:  # noqa: B008
    """The trace list page, its results block (htmx), its count (``part=count``) or an export (``export=``)."""
    state = read_state(request)
    backend = get_backend(request)
    htmx = is_htmx(request)
    export = request.query_params.get("export")
    if export and not state.problems and not state.filter_problem:
        return _export(request, page, state, export)
    if request.query_params.get("part") == "count":
        return _count(request, page, state)
    if state.frozen and not htmx:  # a shared link holds the absolute range, never "last 24 h"
        return RedirectResponse(_list_url(page, state.params()), status_code=303)

    context: dict[str, Any] = {
        "project": page.project,
        "nav": "traces",
        "state": state,
        "link": lambda **changes: _list_url(page, state.params(**changes)),
        "presets": PRESET_LABELS,
        "limits": LIMITS,
        "chip": chip_maker(page, state),
        "result": None,
        "refs": [],
        "described": describe(state.filter) if state.filter else "",
        "unknown_names": [],
        "base_url": f"/projects/{page.project_id}/traces",
        "trace_url": lambda trace_id: f"/projects/{page.project_id}/traces/{quote(trace_id, safe='')}",
    }
    status = 200
    if state.problems or state.filter_problem:
        status = 200 if htmx else 422
    else:
        try:
            result = traces.browse_traces(
                backend,
                page.project_id,
                state.trace_filter,
                limit=state.limit,
                after=state.after or None,
                before=state.before or None,
            )
        except InvalidInputError as exc:
            state.problems.append(str(exc))
            status = 200 if htmx else 422
        else:
            context["result"] = result
            context["refs"] = exports.object_refs(backend, page.project_id)
            if not result.traces and state.filter and not result.window_used_up:
                context["unknown_names"] = _unknown_names(backend, page.project_id, state.filter)
    # htmx pushes this page's canonical URL: no empty fields, a preset frozen to begin/end
    headers = {"Vary": "HX-Request"}  # the same URL answers a page or its results block
    if htmx:
        headers["HX-Push-Url"] = _list_url(page, state.params())
    return render(
        request,
        "traces/list.html",
        context,
        block="results" if htmx else None,
        status_code=status,
        headers=headers,
    )


def _unknown_names(backend: Any, project_id: str, expression: str) -> list[str]:
    """The tag names the filter mentions that no trace of the project has (a typo, most likely)."""
    return tags.unknown_names(backend, project_id, tagfilter.tag_names(tagfilter.parse(expression)))


def _count(request: Request, page: ProjectPage, state: ListState) -> Response:
    counted = None
    if not state.problems and not state.filter_problem:
        try:
            counted = traces.count_traces(get_backend(request), page.project_id, state.trace_filter)
        except InvalidInputError:
            counted = None
    return render(request, "traces/count.html", {"counted": counted, "state": state})


def _export(request: Request, page: ProjectPage, state: ListState, fmt_text: str) -> Response:
    fmt = exports.check_format(fmt_text, exports.UI_FORMATS)
    backend = get_backend(request)
    ref = request.query_params.get("ref", "").strip()
    if ref:
        check_text("ref", ref)
        chunks = exports.export_stream(backend, page.project_id, ref, state.trace_filter, fmt)
        name = f"{page.project_id}-{ref}.{fmt}"
    else:
        chunks = exports.trace_list_stream(backend, page.project_id, state.trace_filter, fmt)
        name = f"{page.project_id}-traces.{fmt}"
    return StreamingResponse(
        chunks,
        media_type=exports.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": attachment(name), "X-Content-Type-Options": "nosniff"},
    )
