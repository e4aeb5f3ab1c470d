"""services.tags.recent_tag_stats on a real database: a recent count answers again, a fresh one on request, one count at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jobs_backend import migrated_backend

from raymon.server.backend import Backend, build_backend
from raymon.server.services.paging import QueryError
from raymon.server.services.tags import recent_tag_stats
from raymon.server.settings import Settings, SettingsError
from raymon.server.store.models import Tag, Trace

TS = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def env(backend: str, postgres_databases: Any, tmp_path: Path) -> Iterator[Backend]:
    with migrated_backend(backend, postgres_databases, tmp_path, projects=("a", "b")) as instance:
        yield instance


def _add(backend: Backend, project: str, first: int, n: int, client: str) -> None:
    with backend.writing() as session:
        for i in range(first, first + n):
            trace = Trace(project_id=project, trace_id=f"{project}{i}", first_ts=TS, last_ts=TS)
            session.add(trace)
            session.flush()
            session.add(Tag(project_id=project, trace_pk=trace.id, name="client", type="label",
                            value_text=client, ts=TS))  # fmt: skip


def _counts(stats: list[dict[str, Any]]) -> dict[str, int]:
    (client,) = stats
    return {v["value"]: v["count"] for v in client["values"]}


def test_a_recent_count_answers_again_until_it_is_too_old_or_a_fresh_one_is_asked(env: Backend) -> None:
    backend = env
    _add(backend, "a", 0, 3, "zillow")
    first = recent_tag_stats(backend, "a", max_age=60)
    assert _counts(first.stats) == {"zillow": 3} and first.age < 5
    _add(backend, "a", 3, 2, "remax")
    again = recent_tag_stats(backend, "a", max_age=60)
    assert again.stats == first.stats and again.age >= first.age  # the same count, a little older
    fresh = recent_tag_stats(backend, "a", max_age=0)
    assert _counts(fresh.stats) == {"zillow": 3, "remax": 2}
    # the fresh count is kept for the requests after it
    assert recent_tag_stats(backend, "a", max_age=60).stats == fresh.stats
    _add(backend, "a", 5, 1, "sothebys")
    # too old for a smaller max_age: counted again, and kept
    assert _counts(recent_tag_stats(backend, "a", max_age=1e-9).stats) == {
        "zillow": 3,
        "remax": 2,
        "sothebys": 1,
    }
    assert _counts(recent_tag_stats(backend, "a", max_age=60).stats) == {
        "zillow": 3,
        "remax": 2,
        "sothebys": 1,
    }


def test_a_count_answers_only_its_own_project_and_query(env: Backend) -> None:
    backend = env
    _add(backend, "a", 0, 4, "zillow")
    _add(backend, "b", 0, 2, "remax")
    assert _counts(recent_tag_stats(backend, "a", max_age=60).stats) == {"zillow": 4}
    assert _counts(recent_tag_stats(backend, "b", max_age=60).stats) == {"remax": 2}
    assert _counts(recent_tag_stats(backend, "a", sample=2, max_age=60).stats) == {"zillow": 2}
    assert recent_tag_stats(backend, "a", name="other", max_age=60).stats == []
    (one,) = recent_tag_stats(backend, "a", values=0, max_age=60).stats
    assert one["values"] == [] and one["count"] == 4
    with pytest.raises(QueryError, match="sample"):
        recent_tag_stats(backend, "a", sample=-1, max_age=60)


def test_requests_for_a_query_being_counted_wait_for_that_count(env: Backend) -> None:
    backend = env
    _add(backend, "a", 0, 200, "zillow")
    start = threading.Barrier(6)
    answers: list[Any] = []

    def ask() -> None:
        start.wait()
        answers.append(recent_tag_stats(backend, "a", max_age=60))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 6 and all(_counts(a.stats) == {"zillow": 200} for a in answers)
    assert len({id(a.stats) for a in answers}) == 1  # one count's answer for the six requests


def test_the_setting_is_checked_and_zero_counts_every_time(env: Backend, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="RAYMON_TAG_STATS_MAX_AGE_SECONDS"):
        Settings.from_env({"RAYMON_TAG_STATS_MAX_AGE_SECONDS": "-1"})
    assert Settings.from_env({}).tag_stats_max_age_seconds == 30
    backend = build_backend(Settings(data_dir=tmp_path, tag_stats_max_age_seconds=0), database=env.database)
    _add(backend, "a", 0, 1, "zillow")
    assert _counts(recent_tag_stats(backend, "a").stats) == {"zillow": 1}
    _add(backend, "a", 1, 1, "remax")
    assert _counts(recent_tag_stats(backend, "a").stats) == {"zillow": 1, "remax": 1}
