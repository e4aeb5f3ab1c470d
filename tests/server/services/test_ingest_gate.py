"""IngestGate and IngestBuffer: bounded, and fair between projects (no tenant takes every slot or byte)."""

from __future__ import annotations

import asyncio

import pytest

from raymon.server.services.ingest_buffer import IngestBuffer
from raymon.server.services.ingest_gate import IngestGate
from raymon.server.settings import Settings


def test_a_project_alone_may_use_every_slot() -> None:
    async def scenario() -> None:
        gate = IngestGate(slots=4, wait_seconds=0.05, project_share=0.5)
        assert all([await gate.acquire("alone") for _ in range(4)])
        assert not await gate.acquire("alone")  # every slot is taken: it waits, then gets 429
        assert gate.held_by("alone") == 4

    asyncio.run(scenario())


def test_past_its_share_a_project_yields_the_next_free_slot_to_a_waiting_project() -> None:
    async def scenario() -> None:
        gate = IngestGate(slots=4, wait_seconds=2.0, project_share=0.5)
        assert gate.per_project == 2
        for _ in range(4):
            assert await gate.acquire("greedy")
        greedy_again = asyncio.create_task(gate.acquire("greedy"))  # waiting first
        await asyncio.sleep(0.01)
        other = asyncio.create_task(gate.acquire("other"))
        await asyncio.sleep(0.01)
        gate.release("greedy")
        assert await asyncio.wait_for(other, 1.0)  # the slot went to the project under its share
        await asyncio.sleep(0.01)
        assert not greedy_again.done()
        gate.release("greedy")  # greedy holds 2 = its share; nobody else waits: it may take it
        assert await asyncio.wait_for(greedy_again, 1.0)
        assert (gate.held_by("greedy"), gate.held_by("other")) == (3, 1)

    asyncio.run(scenario())


def test_a_project_under_its_share_is_never_kept_waiting_by_one_over_it() -> None:
    async def scenario() -> None:
        gate = IngestGate(slots=2, wait_seconds=0.2, project_share=0.5)
        assert await gate.acquire("a") and await gate.acquire("a")
        waiters = [asyncio.create_task(gate.acquire("a")) for _ in range(3)]
        waiters.append(asyncio.create_task(gate.acquire("b")))
        await asyncio.sleep(0.01)
        gate.release("a")
        await asyncio.sleep(0.01)
        assert waiters[-1].done() and waiters[-1].result()
        assert not any(w.done() for w in waiters[:-1])
        assert [await w for w in waiters[:-1]] == [False, False, False]  # timed out: 429

    asyncio.run(scenario())


def test_a_waiting_request_gets_the_slot_given_back_within_its_wait() -> None:
    async def scenario() -> None:
        gate = IngestGate(slots=1, wait_seconds=2.0, project_share=1.0)
        assert await gate.acquire("a")
        waiter = asyncio.create_task(gate.acquire("b"))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        gate.release("a")
        assert await asyncio.wait_for(waiter, 1.0)

    asyncio.run(scenario())


def test_a_project_cap_rounds_up_and_is_never_zero() -> None:
    assert IngestGate(5, 0, 0.5).per_project == 3
    assert IngestGate(1, 0, 0.5).per_project == 1
    assert IngestGate(4, 0, 0.25).per_project == 1
    assert IngestGate(4, 0, 1.0).per_project == 4


def test_the_buffer_refuses_bytes_over_its_limit_or_a_projects_share_and_takes_them_back() -> None:
    buffer = IngestBuffer(limit=100, project_share=0.5)
    assert buffer.take("a", 50) is None
    refusal = buffer.take("a", 1)
    assert refusal is not None and "share is 50 of 100" in refusal
    assert buffer.take("b", 50) is None
    refusal = buffer.take("c", 1)
    assert refusal is not None and "limit is 100" in refusal
    buffer.give_back("a", 50)
    assert buffer.take("c", 10) is None
    assert (buffer.held, buffer.held_by("a"), buffer.held_by("c")) == (60, 0, 10)


def test_the_gate_from_settings_uses_the_share_and_a_buffer_of_four_bodies_by_default() -> None:
    gate = IngestGate.from_settings(Settings(max_request_bytes=1000))
    assert (gate.slots, gate.per_project) == (4, 2)
    assert (gate.buffer.limit, gate.buffer.per_project) == (4000, 2000)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ingest_project_share": 0.0}, "RAYMON_INGEST_PROJECT_SHARE"),
        ({"ingest_project_share": 1.5}, "RAYMON_INGEST_PROJECT_SHARE"),
        ({"request_read_timeout_seconds": 0.0}, "RAYMON_REQUEST_READ_TIMEOUT_SECONDS"),
        ({"ingest_buffer_bytes": 1000, "max_request_bytes": 1000}, "RAYMON_MAX_REQUEST_BYTES=1000"),
        ({"max_profile_bytes": 2000, "max_request_bytes": 1000}, "RAYMON_MAX_PROFILE_BYTES=2000 is over"),
        ({"sqlite_synchronous": "OFF"}, "RAYMON_SQLITE_SYNCHRONOUS"),
    ],
)
def test_body_limit_settings_that_cannot_work_fail_start_up_naming_them(changes, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        Settings(**changes).check()


def test_the_profile_limit_defaults_to_the_request_limit() -> None:
    assert Settings(max_request_bytes=1000).profile_limit == 1000
    assert Settings(max_request_bytes=1000, max_profile_bytes=500).profile_limit == 500
