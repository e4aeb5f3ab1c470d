"""The demo's traffic: a background thread that plays ``story.LiveStory`` against the server, live.

Two services log, each with its own API key (``ingest`` scope) through the ingest API, as a
deployment would: the pricing service (one trace per request: the request, its validation
tags, the prediction) and, ``actual_delay_s`` later, the labelling service (the actual and its
validation tags, in the same trace). Events carry the time they are sent, so the reducer's
windows are real-time windows. The story is paced by the monotonic clock, ``speed`` story
seconds per second (``RAYMON_DEMO_SPEED``), and loops (``LiveStory.cycle_s``).

``raymon server --demo`` starts it from the app's lifespan, after the engine, and stops it
first on shutdown. It never stops the server: a refused or failed batch is logged (at most one
warning a minute) and dropped; the demo goes on. After a stall (a laptop asleep) it skips what
it missed instead of sending a burst. It never touches the database: only HTTP.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from raymon.api import RaymonAPI
from raymon.server.demo import story as demo_story

if TYPE_CHECKING:
    from raymon import ModelProfile
    from raymon.wire import Event

log = logging.getLogger("raymon.server.demo")

BATCH_EVENTS = 500
WARN_EVERY_S = 60.0
QUIET_UNREACHABLE_S = 10.0


class QuietReplayAccess(logging.Filter):
    """Drops uvicorn's access-log lines of the replay's own accepted batches (two a second would bury the rest).

    A line is the replay's when it is a ``POST`` to the demo project's ingest path from this
    machine, answered 200; every other request, the demo's refused ones included, is logged.
    """

    def __init__(self, project_id: str) -> None:
        super().__init__()
        self.path = f"/api/v1/projects/{project_id}/ingest"

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, _, status = args
            local = str(client).startswith(("127.0.0.1:", "[::1]:", "::1:"))
            return not (local and method == "POST" and path == self.path and status == 200)
        return True


@dataclass
class ReplayStats:
    """What the replay did so far."""

    traces: int = 0  # pricing requests sent
    actuals: int = 0  # actuals sent
    skipped: int = 0  # requests not sent because the replay fell behind by more than ``max_lag_s``
    failed_batches: int = 0


class Replay:
    """Plays ``story`` against the server at ``url``: pricing with ``pricing_key``, actuals with ``labelling_key``."""

    def __init__(
        self,
        url: str,
        project_id: str,
        pricing_key: str,
        labelling_key: str,
        profile: ModelProfile,
        model: demo_story.Model,
        story: demo_story.LiveStory | None = None,
        *,
        speed: float = 1.0,
        tick_s: float = 0.5,
        max_lag_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.url = url
        self.project_id = project_id
        self.profile = profile
        self.model = model
        self.story = story or demo_story.LiveStory()
        self.speed = speed
        self.tick_s = tick_s
        self.max_lag_s = max_lag_s
        self.run = uuid.uuid4().hex[:8]
        self.stats = ReplayStats()
        self._clock = clock
        self._now = now
        self._pricing = RaymonAPI(url, api_key=pricing_key, timeout=30.0)
        self._labelling = RaymonAPI(url, api_key=labelling_key, timeout=30.0)
        self._requests = self.story.requests(self.run)
        self._next = next(self._requests)
        self._labels: list[tuple[float, int, str, float]] = []  # (due, seq, trace_id, price), a heap
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._last_warning = -WARN_EVERY_S
        self._unreachable_since: float | None = None
        self._quiet = QuietReplayAccess(project_id)

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> None:
        """Start playing (story second 0 is now)."""
        self._started_at = self._clock()
        logging.getLogger("uvicorn.access").addFilter(self._quiet)
        self._thread = threading.Thread(target=self._run, name="raymon-demo-replay", daemon=True)
        self._thread.start()
        log.info("demo replay %s started against %s (speed %s)", self.run, self.url, self.speed)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop playing (the batch being sent, if any, finishes first) and close the connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pricing.close()
        self._labelling.close()
        logging.getLogger("uvicorn.access").removeFilter(self._quiet)
        log.info("demo replay %s stopped: %s", self.run, self.stats)

    def story_now(self) -> float:
        """Story seconds since ``start``."""
        return (self._clock() - self._started_at) * self.speed

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.step(self.story_now())
            except Exception:  # a bug in one step must not end the demo: say so and go on
                log.exception("demo replay step failed")

    # -- one step ---------------------------------------------------------------------------
    def step(self, story_now: float) -> None:
        """Send every request and actual due by ``story_now`` (story seconds)."""
        pricing: list[Event] = []
        while self._next.at <= story_now:
            request = self._next
            self._next = next(self._requests)
            if request.at < story_now - self.max_lag_s:
                self.stats.skipped += 1
                continue
            pricing += demo_story.pricing_events(
                self.project_id,
                self.profile,
                self.model,
                request.trace_id,
                request.client,
                request.app,
                request.request,
                self._now(),
            )
            # Due ``actual_delay_s`` after it is sent (not after it was planned: a late step sends late).
            due = story_now + self.story.actual_delay_s
            heapq.heappush(self._labels, (due, self._seq, request.trace_id, request.price))
            self._seq += 1
            self.stats.traces += 1
        labelling: list[Event] = []
        while self._labels and self._labels[0][0] <= story_now:
            _, _, trace_id, price = heapq.heappop(self._labels)
            labelling += demo_story.labelling_events(
                self.project_id, self.profile, trace_id, price, self._now()
            )
            self.stats.actuals += 1
        self._send(self._pricing, pricing, "pricing")
        self._send(self._labelling, labelling, "labelling")

    def _send(self, api: RaymonAPI, events: list[Event], service: str) -> None:
        import httpx

        for start in range(0, len(events), BATCH_EVENTS):
            batch = events[start : start + BATCH_EVENTS]
            try:
                response = api.ingest(self.project_id, batch)
            except httpx.HTTPError as exc:
                self._failed(f"the {service} service cannot reach {self.url}: {exc}", unreachable=True)
                continue
            if response.status_code != 200:
                self._failed(
                    f"the {service} service's batch was refused ({response.status_code}): {response.text[:300]}"
                )
            elif response.json().get("rejected"):
                self._failed(
                    f"the {service} service's events were refused: {response.json()['rejected'][:3]}"
                )
            else:
                self._unreachable_since = None

    def _failed(self, message: str, unreachable: bool = False) -> None:
        """Count a lost batch; warn (at most once a minute), but not of a server unreachable only briefly."""
        self.stats.failed_batches += 1
        moment = self._clock()
        if unreachable:
            if self._unreachable_since is None:
                self._unreachable_since = moment
            if moment - self._unreachable_since < QUIET_UNREACHABLE_S:
                return  # starting or shutting down: the server comes (or goes) in a moment
        if self._stop.is_set():
            return
        if moment - self._last_warning >= WARN_EVERY_S:
            self._last_warning = moment
            log.warning("demo replay: %s (%d batches lost so far)", message, self.stats.failed_batches)
