"""The trace query API over HTTP on a real server: filters, ordering, time range, pagination, one trace, tag stats."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from query_events import QueryProject, event, tags_event

from raymon.server.services.tagfilter import evaluate, parse

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
N_TRACES = 40
CLIENTS = ["bigshot", "small", "other guy"]


def _ts(i: int, extra_ms: int = 0) -> str:
    return (BASE + timedelta(seconds=i, milliseconds=extra_ms)).isoformat()


def _trace_tags(i: int) -> dict[str, Any]:
    tags: dict[str, Any] = {
        "client": CLIENTS[i % 3],
        "app": "v1.0.0" if i % 2 else "v2.0.0",
        "latency_ms": i * 10,
        "score": (i % 5) / 4,
    }
    if i % 4 == 0:
        tags["version"] = "10"  # text that looks like a number
    if i % 6 == 0:
        tags["version"] = 9
    return tags


TAGS = {f"t{i:02d}": _trace_tags(i) for i in range(N_TRACES)}


def _events() -> list[dict[str, Any]]:
    events = []
    for i in range(N_TRACES):
        trace_id = f"t{i:02d}"
        events.append(event(trace_id, "text", _ts(i), level="info", message=f"processing request {i}"))
        if i % 10 == 3:
            events.append(event(trace_id, "text", _ts(i, 1), level="warning", message="cache 50%_full"))
        events.append(tags_event(trace_id, _ts(i, 2), TAGS[trace_id]))
        if i % 7 == 0:
            events.append(tags_event(trace_id, _ts(i, 3), {"timeout": "yes"}, type_="error"))
    return events


@pytest.fixture(scope="module")
def project(server: Any) -> QueryProject:
    """A project on the shared real server holding the traces above (and nothing else)."""
    qp = QueryProject.create(server, "trace queries")
    qp.ingest(_events())
    return qp


def _list(project: QueryProject, expression: str | None = None, **kwargs: Any) -> list[str]:
    with project.api() as api:
        resp = api.trace_ls(project.project_id, expression, limit=1000, **kwargs)
    assert resp.status_code == 200, resp.text
    return [t["trace_id"] for t in resp.json()["traces"]]


def _expected(expression: str) -> list[str]:
    tree = parse(expression)
    both = {**TAGS}
    for i in range(0, N_TRACES, 7):  # the error tags
        both[f"t{i:02d}"] = {**TAGS[f"t{i:02d}"], "timeout": "yes"}
    return sorted((t for t, tags in both.items() if evaluate(tree, tags)), reverse=True)


@pytest.mark.parametrize(
    "expression",
    [
        "client==bigshot",
        "client==bigshot && app==v1.0.0",
        'client=="other guy"',
        "client!=bigshot",
        "latency_ms<100",
        "latency_ms>350",
        "latency_ms<=100",
        "latency_ms>=100 && latency_ms<=120",
        "score==0.5",
        "app<v2",
        "app>=v2.0.0",
        "client==bigshot || client==small && app==v1.0.0",
        "(client==bigshot || client==small) && app==v1.0.0",
        "!(client==bigshot) && !timeout",
        "timeout",
        "version==10",
        'version=="10"',
        "version<10",
        "nosuch==1 || (latency_ms>10 && latency_ms<40)",
    ],
)
def test_filters_select_the_traces_the_expression_describes(project: QueryProject, expression: str) -> None:
    assert _list(project, expression) == _expected(expression)


def test_a_blank_filter_selects_every_trace_newest_first(project: QueryProject) -> None:
    assert _list(project, "  ") == sorted(TAGS, reverse=True)
    assert _list(project) == sorted(TAGS, reverse=True)


def test_ascending_order_lists_oldest_first(project: QueryProject) -> None:
    assert _list(project, "client==small", order="asc") == sorted(_expected("client==small"))


def test_time_range_keeps_traces_that_began_inside_it(project: QueryProject) -> None:
    got = _list(project, begin=BASE + timedelta(seconds=10), end=BASE + timedelta(seconds=15))
    assert got == ["t14", "t13", "t12", "t11", "t10"]
    assert _list(project, begin=_ts(38)) == ["t39", "t38"]


def test_tag_type_and_text_search_filter_traces(project: QueryProject) -> None:
    assert _list(project, tag_type="error") == [f"t{i:02d}" for i in range(35, -1, -7)]
    assert _list(project, text="50%_FULL") == ["t33", "t23", "t13", "t03"]
    assert _list(project, text="%") == ["t33", "t23", "t13", "t03"]  # a literal %, not a wildcard
    assert _list(project, "client==bigshot", text="request 2") == ["t27", "t24", "t21"]


@pytest.mark.parametrize(
    ("expression", "position"),
    [("client=bigshot", 7), ("client==bigshot &&", 19), ("(a==1", 6), ("a==1)", 5), ('a=="x', 4)],
)
def test_bad_filters_are_refused_with_422_naming_the_position(
    project: QueryProject, expression: str, position: int
) -> None:
    with project.api() as api:
        resp = api.trace_ls(project.project_id, expression)
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert detail.startswith("filter: bad tag filter") and f"position {position}" in detail


def test_pages_follow_the_cursor_without_gaps_or_duplicates(project: QueryProject) -> None:
    seen: list[str] = []
    cursor = None
    with project.api() as api:
        while True:
            page = api.trace_ls(
                project.project_id, "app==v1.0.0 || latency_ms<100", limit=3, cursor=cursor
            ).json()
            assert len(page["traces"]) <= 3
            seen += [t["trace_id"] for t in page["traces"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == _expected("app==v1.0.0 || latency_ms<100")


def test_new_traces_arriving_while_paging_neither_repeat_nor_hide_the_older_ones(
    project: QueryProject,
) -> None:
    walk = f"walk-{project.backend}"
    # Twelve traces, some with equal start times (the id breaks the tie), before the walk begins.
    project.ingest([tags_event(f"{walk}-{i:02d}", _ts(-1000 + i // 2), {"batch": walk}) for i in range(12)])
    before = _list(project, f"batch=={walk}")
    assert len(before) == 12
    seen: list[str] = []
    cursor = None
    with project.api() as api:
        for n in range(100):
            page = api.trace_ls(project.project_id, f"batch=={walk}", limit=5, cursor=cursor).json()
            seen += [t["trace_id"] for t in page["traces"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            # Newer traces of the same batch arrive between pages.
            project.ingest(
                [tags_event(f"{walk}-new{n}-{k}", _ts(100 + k), {"batch": walk}) for k in range(3)]
            )
    assert seen == before
    assert len(_list(project, f"batch=={walk}")) > 12


def test_concurrent_readers_each_get_complete_pages(project: QueryProject) -> None:
    errors: list[str] = []

    def walk() -> None:
        with project.api() as api:
            got: list[str] = []
            cursor = None
            while True:
                page = api.trace_ls(project.project_id, "client==bigshot", limit=5, cursor=cursor).json()
                got += [t["trace_id"] for t in page["traces"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        if got[: len(_expected("client==bigshot"))] != _expected("client==bigshot")[: len(got)]:
            errors.append(f"{got}")

    threads = [threading.Thread(target=walk) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"begin": "yesterday"}, "begin"),
        ({"filter": "a==\x00"}, "NUL"),
    ],
)
def test_bad_parameters_are_refused_with_422_naming_them(
    project: QueryProject, params: dict[str, Any], words: str
) -> None:
    with project.api() as api:
        resp = api.get(f"/api/v1/projects/{project.project_id}/traces", params=params)
    assert resp.status_code == 422, resp.text
    assert words in resp.text


def test_a_cursor_made_for_one_order_is_refused_for_the_other(project: QueryProject) -> None:
    with project.api() as api:
        cursor = api.trace_ls(project.project_id, limit=2).json()["next_cursor"]
        resp = api.trace_ls(project.project_id, limit=2, cursor=cursor, order="asc")
    assert resp.status_code == 422
    assert "order=desc" in resp.json()["detail"]


def test_trace_get_answers_tags_texts_and_object_references(project: QueryProject) -> None:
    with project.api() as api:
        trace = api.trace_get(project.project_id, "t03").json()
        tags = api.tags_get(project.project_id, "t03").json()
    assert trace["trace_id"] == "t03"
    assert {t["name"]: t["value"] for t in trace["tags"]} == TAGS["t03"]
    assert [(t["level"], t["message"]) for t in trace["texts"]] == [
        ("info", "processing request 3"),
        ("warning", "cache 50%_full"),
    ]
    assert trace["objects"] == []
    assert trace["first_ts"] == datetime.fromisoformat(_ts(3)).isoformat(timespec="microseconds")
    assert tags == trace["tags"]


def test_unknown_traces_answer_404(project: QueryProject) -> None:
    with project.api() as api:
        assert api.trace_get(project.project_id, "nope").status_code == 404
        assert api.tags_get(project.project_id, "nope").status_code == 404
        assert "nope" in api.trace_get(project.project_id, "nope").json()["detail"]


def test_tag_stats_count_names_types_and_values(project: QueryProject) -> None:
    with project.api() as api:
        stats = {s["name"]: s for s in api.tags_ls(project.project_id, values=3).json()}
        client = api.tags_ls(project.project_id, name="client").json()
    assert {"client", "app", "latency_ms", "score", "version", "timeout"} <= set(stats)
    assert stats["timeout"]["types"] == {"error": 6}
    assert stats["latency_ms"]["numeric"] == {"count": N_TRACES, "min": 0, "max": 390}
    assert stats["app"]["distinct_values"] == 2
    assert len(stats["latency_ms"]["values"]) == 3
    assert [s["name"] for s in client] == ["client"]
    counts = {v["value"]: v["count"] for v in client[0]["values"]}
    assert counts["bigshot"] == sum(1 for t in TAGS.values() if t["client"] == "bigshot")
    assert client[0]["count"] >= N_TRACES


def test_reads_need_a_key_with_access_to_the_project(project: QueryProject) -> None:
    other = project.server.new_project("another project")
    ingest_only = project.new_key("ingest")
    read_only = project.new_key("read")
    with project.api(key="") as api:
        assert api.trace_ls(project.project_id).status_code == 401
    with project.api(key=other.admin_key) as api:
        assert api.trace_ls(project.project_id).status_code == 403
        assert api.trace_get(project.project_id, "t01").status_code == 403
        assert api.trace_ls(other.project_id).json()["traces"] == []
    with project.api(key=ingest_only) as api:
        assert api.trace_ls(project.project_id).status_code == 403
        assert api.tags_ls(project.project_id).status_code == 403
    with project.api(key=read_only) as api:
        assert len(api.trace_ls(project.project_id).json()["traces"]) >= N_TRACES


def test_trace_iter_follows_the_cursor_through_every_page(project: QueryProject) -> None:
    with project.api() as api:
        got = [t["trace_id"] for t in api.trace_iter(project.project_id, "app==v1.0.0", limit=4)]
        naive = datetime(2026, 3, 1)
        with pytest.raises(ValueError, match="timezone-aware"):
            api.trace_ls(project.project_id, begin=naive)
    assert got == _expected("app==v1.0.0")


def test_received_order_and_time_order_differ_for_a_trace_logged_late(project: QueryProject) -> None:
    late = f"late-{project.backend}"
    # Received after every other trace, but logged with the oldest time of all.
    project.ingest([tags_event(late, _ts(-5000), {"lateness": "late", "client": "bigshot"})])
    with project.api() as api:
        received = [
            t["trace_id"]
            for t in api.trace_ls(project.project_id, "client==bigshot", limit=3).json()["traces"]
        ]
        by_time = api.trace_ls(
            project.project_id, "client==bigshot", sort="time", order="asc", limit=3
        ).json()
        bad = api.trace_ls(project.project_id, sort="sideways")
    assert received[0] == late  # newest received first
    assert by_time["traces"][0]["trace_id"] == late  # oldest logged time first
    assert received[1:] == _expected("client==bigshot")[:2]
    assert bad.status_code == 422 and "sort" in bad.text


@pytest.mark.parametrize("sort", ["received", "time"])
@pytest.mark.parametrize(
    "expression", ["client==bigshot && app==v1.0.0", "latency_ms<200 && client!=small", ""]
)
def test_both_sorts_page_through_the_same_traces(project: QueryProject, sort: str, expression: str) -> None:
    with project.api() as api:
        got = [t["trace_id"] for t in api.trace_iter(project.project_id, expression, limit=3, sort=sort)]
        assert len(got) == len(set(got))
        assert set(got) == {
            t["trace_id"] for t in api.trace_ls(project.project_id, expression, limit=1000).json()["traces"]
        }


def test_tag_stats_count_over_the_latest_traces_when_sampled(project: QueryProject) -> None:
    sample = f"sample-{project.backend}"
    project.ingest([tags_event(f"{sample}-{i}", _ts(200 + i), {"sampled": f"s{i % 2}"}) for i in range(6)])
    with project.api() as api:
        latest = {s["name"]: s for s in api.tags_ls(project.project_id, sample=4).json()}
        everything = {s["name"]: s for s in api.tags_ls(project.project_id, sample=0).json()}
        bad = api.tags_ls(project.project_id, sample=-1)
    assert set(latest) == {"sampled"}  # the 4 latest received traces carry only this tag
    assert latest["sampled"]["count"] == 4 and latest["sampled"]["sample_traces"] == 4
    assert latest["sampled"]["values"] == [{"value": "s0", "count": 2}, {"value": "s1", "count": 2}]
    assert everything["sampled"]["count"] == 6 and everything["sampled"]["sample_traces"] is None
    assert everything["client"]["count"] >= N_TRACES
    assert bad.status_code == 422


def test_tag_stats_say_their_age_and_are_counted_afresh_on_no_cache(project: QueryProject) -> None:
    import httpx

    name = f"aged-{project.backend}"
    project.ingest([tags_event(f"{name}-0", _ts(300), {"aged": "first"})])
    url = f"{project.server.url}/api/v1/projects/{project.project_id}/tags"
    auth = {"Authorization": f"Bearer {project.admin_key}"}
    params = {"name": "aged"}
    first = httpx.get(url, params=params, headers=auth)
    assert first.status_code == 200 and first.json()[0]["count"] == 1
    assert first.headers["age"] == "0" and "no-cache" in first.headers["cache-control"]
    project.ingest([tags_event(f"{name}-1", _ts(301), {"aged": "second"})])
    kept = httpx.get(url, params=params, headers=auth)  # counted under 30 s ago: the same answer
    assert kept.json() == first.json() and int(kept.headers["age"]) >= 0
    fresh = httpx.get(url, params=params, headers={**auth, "Cache-Control": "no-cache"})
    assert fresh.json()[0]["count"] == 2 and fresh.headers["age"] == "0"
