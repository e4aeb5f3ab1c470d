"""Fixtures for the logger tests: a real ingest receiver process (see receiver_process.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from receiver_process import ReceiverProcess


@pytest.fixture
def make_receiver(tmp_path: Path) -> Iterator[Any]:
    started: list[ReceiverProcess] = []

    def make(*extra_args: str, port: int | None = None, db: str = "events.sqlite") -> ReceiverProcess:
        receiver = ReceiverProcess(tmp_path / db, port=port, extra_args=extra_args)
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(make_receiver: Any) -> ReceiverProcess:
    return make_receiver().start()  # type: ignore[no-any-return]
