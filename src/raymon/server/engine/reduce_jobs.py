"""The ``reduce`` job: its scheduler (one job per reducer and interval tick) and its handler (one pass).

Every process calls ``reduce_scheduler(...)`` every tick; it answers, for each project's
``profile_reducer``, the job of the current interval, keyed ``reduce:{project}:{reducer}:{tick}``,
so however many processes answer, one job is enqueued (the key dedupes; no leader).

A pass (``run_pass``), inside the job's ``ctx.finishing()`` transaction:

1. locks the reducer's row and counts one more pass (``store.reduce.begin_pass``);
2. claims the reducer's new tags (its profile's group: their ``reduce_queue`` rows, deleted)
   in bounded batches, up to
   ``max_tags`` (the rest: a follow-up job, enqueued in the same transaction);
3. reads, in one query per chunk, the claimed traces' ``first_ts`` and the tags slice
   membership needs; admits new space combinations (``engine.slices``), assigns each trace
   its slices once, and its window (``engine.windows``, by ``first_ts``);
4. folds the tags into the touched (slice, window) states (``engine.profile_reducer``),
   loaded and locked, merged and written back, with the window's contrast rows recomputed;
5. hands each recomputed window's rows to ``on_results`` (the issues lane's
   ``services.issues.observe(session, project_id, reducer, slicestr, window_start,
   window_end, rows)``, wired by the engine runtime; a no-op by default), then tells
   ``after_pass`` that the pass's windows are all told (the runtime notifies the alert
   channels there: one evaluation, one message per check, whatever the slices). Before that,
   ``on_claimed`` (when wired: ``services.slices.cells_hook``) is given the claimed tags and
   their traces' windows, and adds them to slice discovery's cells.

The claim, the states, the results and ``on_results``' writes commit together with the
job's completion, or not at all. This module holds no SQL (``store.reduce`` does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from raymon.profiling.contrast import Thresholds
from raymon.profiling.errors import ProfileError
from raymon.server.engine.jobs import JobContext, JobHandler, JobKind, JobSpec, PermanentFailure, Scheduler
from raymon.server.engine.manifest import Manifest, ReduceAction
from raymon.server.engine.profile_reducer import (
    Accumulator,
    NotReducibleError,
    ProfileReducer,
    window_summary,
)
from raymon.server.engine.slices import SliceSet
from raymon.server.engine.windows import tick_of, window_start
from raymon.server.store import accounts as account_store
from raymon.server.store import jobs as job_store
from raymon.server.store import profiles as profile_store
from raymon.server.store import reduce as reduce_store

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.store.db import Session

log = logging.getLogger("raymon.server.engine.reduce")

REDUCE_KIND = "reduce"
PROFILE_REDUCER = "profile_reducer"
DEFAULT_BATCH_TAGS = 20_000
DEFAULT_MAX_TAGS = 400_000

ManifestOf = Callable[["Backend", str], "Manifest | None"]


class ResultsHook(Protocol):
    """Told of one recomputed window's check rows, in the pass's transaction (``services.issues.observe``)."""

    def __call__(
        self,
        session: Session,
        project_id: str,
        reducer: str,
        slicestr: str,
        window_start: datetime,
        window_end: datetime,
        rows: list[dict[str, Any]],
    ) -> Any: ...


class PassHook(Protocol):
    """Told that a pass has handed all its windows to ``on_results``, in the pass's transaction."""

    def __call__(self, session: Session, project_id: str, reducer: str) -> Any: ...


class ClaimedHook(Protocol):
    """Told of a pass's claimed tags and their traces' windows, in the pass's transaction (slice discovery's cells)."""

    def __call__(
        self,
        session: Session,
        project_id: str,
        manifest: Manifest,
        reducer_name: str,
        reducer: ProfileReducer,
        claimed: Sequence[reduce_store.ClaimedTag],
        windows: dict[int, datetime],
        now: datetime,
    ) -> Any: ...


def no_pass_hook(session: Session, project_id: str, reducer: str) -> None:
    """The default ``after_pass``: nothing."""


def no_results_hook(
    session: Session,
    project_id: str,
    reducer: str,
    slicestr: str,
    window_start: datetime,
    window_end: datetime,
    rows: list[dict[str, Any]],
) -> None:
    """The default ``on_results``: nothing (the engine runtime wires ``services.issues.observe``)."""


def job_key(project_id: str, reducer: str, tick: int) -> str:
    return f"reduce:{project_id}:{reducer}:{tick}"


def _all_project_ids(backend: Backend) -> list[str]:
    with backend.reading() as session:
        return [p.id for p in account_store.list_projects(session)]


def profile_reducers(manifest: Manifest) -> Iterator[ReduceAction]:
    """The manifest's reduce actions (each of a registered ``reducer_type``: the manifest checks that)."""
    yield from manifest.actions.reduce


def reduce_scheduler(
    manifest_of: ManifestOf, project_ids: Callable[[Backend], Iterable[str]] = _all_project_ids
) -> Scheduler:
    """The scheduler of reduce jobs: for each project's profile reducers, the current tick's job."""

    def schedule(backend: Backend, now: datetime) -> Iterator[JobSpec]:
        for project_id in project_ids(backend):
            manifest = manifest_of(backend, project_id)
            if manifest is None:
                continue
            default_s = manifest.settings.default_interval_s()
            pass_s = backend.settings.reduce_pass_seconds
            for action in profile_reducers(manifest):
                every = action.interval_s(default_s)
                tick = tick_of(now, min(every, pass_s) if pass_s > 0 else every)
                yield JobSpec(
                    REDUCE_KIND,
                    job_key(project_id, action.name, tick),
                    project_id,
                    {"reducer": action.name, "tick": tick},
                )

    return schedule


@dataclass
class PassReport:
    """What one pass did."""

    pass_no: int
    n_tags: int = 0
    n_traces: int = 0
    windows: list[tuple[str, datetime]] = field(default_factory=list)  # (slicestr, window_start) recomputed
    more: bool = False  # it stopped at ``max_tags``: tags are left for a follow-up pass


def load_reducer(backend: Backend, session: Session, project_id: str, reducer: str) -> ProfileReducer:
    """The ``ProfileReducer`` of ``name@version`` from the stored reference profile; ``PermanentFailure`` if absent."""
    name, _, version = reducer.rpartition("@")
    row = profile_store.find(session, project_id, name, version) if name else None
    if row is None:
        raise PermanentFailure(
            f"reducer {reducer!r}: profile {reducer!r} is not stored in project {project_id!r}"
        )
    try:
        return ProfileReducer(backend.plugins.load_profile(row.body), row.body)
    except (ProfileError, NotReducibleError) as exc:
        raise PermanentFailure(f"reducer {reducer!r}: {exc}") from exc


def run_pass(
    session: Session,
    backend: Backend,
    project_id: str,
    manifest: Manifest,
    action: ReduceAction,
    reducer: ProfileReducer,
    now: datetime,
    on_results: ResultsHook = no_results_hook,
    batch_tags: int = DEFAULT_BATCH_TAGS,
    max_tags: int = DEFAULT_MAX_TAGS,
    heartbeat: Callable[[], None] = lambda: None,
    after_pass: PassHook = no_pass_hook,
    on_claimed: ClaimedHook | None = None,
) -> PassReport:
    """One reduce pass of ``action`` in the caller's transaction; see the module docstring."""
    start = reduce_store.begin_pass(session, project_id, action.name, now)
    report = PassReport(start.pass_no)
    batches: list[reduce_store.TagColumns] = []
    n_claimed = 0
    while n_claimed < max_tags:
        want = min(batch_tags, max_tags - n_claimed)
        batch = reduce_store.claim_tags(session, project_id, reducer.group, start.pass_no, want)
        batches.append(batch)
        n_claimed += batch.taken
        if batch.taken < want:
            break
    else:
        report.more = True
    heartbeat()
    claimed = reduce_store.TagColumns.concat(batches)
    if not claimed:
        return report
    computed = _compute(
        session, backend, project_id, manifest, action, reducer, claimed, start.spaces, True, heartbeat
    )
    _write(session, project_id, action, computed, start.pass_no, now, on_results, after_pass, on_claimed)
    report.n_tags, report.n_traces = computed.n_tags, computed.n_traces
    report.windows = [(w.slice, w.window_start) for w in computed.writes]
    return report


@dataclass
class _Computed:
    """What a pass computed from its tags: the windows to write, their rows, the spaces after it."""

    n_tags: int
    n_traces: int
    writes: list[reduce_store.WindowWrite]
    results: list[tuple[str, datetime, datetime, list[dict[str, Any]]]]
    spaces: Any
    seen: dict[tuple[str, datetime], int | None]  # each touched window's ``last_pass`` as read (None: new)
    manifest: Manifest  # what the pass was computed with (its slices; ``on_claimed`` reads its settings)
    reducer: ProfileReducer
    claimed: Sequence[reduce_store.ClaimedTag]  # the pass's tags (for ``on_claimed``)
    windows: dict[int, datetime]  # each claimed trace's window start


def _compute(
    session: Session,
    backend: Backend,
    project_id: str,
    manifest: Manifest,
    action: ReduceAction,
    reducer: ProfileReducer,
    claimed: Sequence[reduce_store.ClaimedTag],
    spaces: Any,
    lock: bool,
    heartbeat: Callable[[], None],
) -> _Computed:
    """Steps 3 and 4 of a pass (see the module docstring), writing nothing."""
    slices = SliceSet(manifest.slices, manifest.settings.space_limit, SliceSet.spaces_from_jcr(spaces))
    pks = (
        claimed.trace_pk.tolist()
        if isinstance(claimed, reduce_store.TagColumns)
        else [t.trace_pk for t in claimed]
    )
    contexts = reduce_store.trace_contexts(session, pks, slices.tag_names())
    slices.admit(c.tags for c in contexts.values())
    interval_s = action.interval_s(manifest.settings.default_interval_s())
    membership: dict[int, tuple[datetime, list[str]]] = {
        pk: (window_start(c.first_ts, interval_s), slices.assign(c.tags)) for pk, c in contexts.items()
    }
    accumulators = _accumulate(reducer, claimed, membership)
    heartbeat()
    stored = reduce_store.lock_windows(session, project_id, action.name, {k[1] for k in accumulators}, lock)
    thresholds = Thresholds.from_config(action.thresholds)
    classes = backend.plugins.classes
    computed = _Computed(
        len(claimed),
        len(contexts),
        [],
        [],
        slices.spaces_jcr(),
        {},
        manifest,
        reducer,
        claimed,
        {pk: placed[0] for pk, placed in membership.items()},
    )
    for (slicestr, start_at), acc in sorted(accumulators.items()):
        row = stored.get((slicestr, start_at))
        computed.seen[(slicestr, start_at)] = None if row is None else row.last_pass
        state = reducer.state_from_jcr(None if row is None else row.state)
        state.fold(acc)
        rows = reducer.contrast_rows(state, thresholds, classes)
        end_at = start_at + (row.window_end - row.window_start if row else timedelta(seconds=interval_s))
        n_alerts = sum(1 for r in rows if r["alert"])
        computed.writes.append(
            reduce_store.WindowWrite(
                None if row is None else row.id,
                slicestr,
                start_at,
                end_at,
                state.to_jcr(),
                {"rows": rows},
                state.n_tags,
                n_alerts,
                window_summary(rows, reducer.scores(state)),
            )
        )
        computed.results.append((slicestr, start_at, end_at, rows))
    heartbeat()
    return computed


def _accumulate(
    reducer: ProfileReducer,
    claimed: Sequence[reduce_store.ClaimedTag],
    membership: dict[int, tuple[datetime, list[str]]],
) -> dict[tuple[str, datetime], Accumulator]:
    """The pass's tags gathered per (slice, window): per column when the reducer can (``accumulate``), else per tag."""
    if isinstance(claimed, reduce_store.TagColumns) and hasattr(reducer, "accumulate"):
        keys = {pk: [(s, start_at) for s in slicestrs] for pk, (start_at, slicestrs) in membership.items()}
        return reducer.accumulate(claimed, keys)  # type: ignore[return-value]
    accumulators: dict[tuple[str, datetime], Accumulator] = {}
    for tag in claimed:
        placed = membership.get(tag.trace_pk)
        if placed is None:  # the trace was deleted meanwhile
            continue
        classified = reducer.classify(tag.name, tag.type, tag.value)
        if classified is None:
            continue
        start_at, slicestrs = placed
        for slicestr in slicestrs:
            key = (slicestr, start_at)
            acc = accumulators.get(key)
            if acc is None:
                acc = accumulators[key] = Accumulator()
            acc.add(classified)
    return accumulators


def _write(
    session: Session,
    project_id: str,
    action: ReduceAction,
    computed: _Computed,
    pass_no: int,
    now: datetime,
    on_results: ResultsHook,
    after_pass: PassHook,
    on_claimed: ClaimedHook | None,
) -> None:
    """Step 5 and the writes of a pass."""
    reduce_store.save_windows(session, project_id, action.name, computed.writes, pass_no, now)
    reduce_store.save_spaces(session, project_id, action.name, computed.spaces)
    if on_claimed is not None:
        on_claimed(
            session,
            project_id,
            computed.manifest,
            action.name,
            computed.reducer,
            computed.claimed,
            computed.windows,
            now,
        )
    for slicestr, start_at, end_at, rows in computed.results:
        on_results(session, project_id, action.name, slicestr, start_at, end_at, rows)
    after_pass(session, project_id, action.name)


@dataclass
class PreparedPass:
    """A pass computed in a read transaction (``prepare_pass``), to write with ``commit_prepared`` if nothing moved."""

    last_pass: int  # the reducer's last pass when read
    spaces: Any  # its kept space combinations when read
    tag_ids: list[int]
    computed: _Computed | None  # None: no new tags
    more: bool


def prepare_pass(
    session: Session,
    backend: Backend,
    project_id: str,
    manifest: Manifest,
    action: ReduceAction,
    reducer: ProfileReducer,
    max_tags: int = DEFAULT_MAX_TAGS,
    heartbeat: Callable[[], None] = lambda: None,
) -> PreparedPass:
    """A pass's reading, folding and contrasting, in a *read* transaction: no write lock held meanwhile.

    The expensive part of a pass (the contrasts of its windows: most of its time) then runs while
    ingest and map runs keep writing; ``commit_prepared`` writes the outcome in a short write
    transaction if the tags, windows and reducer it read are as they were.
    """
    position = reduce_store.reducer_position(session, project_id, action.name)
    peeked = reduce_store.peek_tags(session, project_id, reducer.group, max_tags)
    heartbeat()
    prepared = PreparedPass(
        position.pass_no,
        position.spaces,
        [] if peeked.ids is None else peeked.ids.tolist(),
        None,
        len(peeked) >= max_tags,
    )
    if peeked:
        prepared.computed = _compute(
            session,
            backend,
            project_id,
            manifest,
            action,
            reducer,
            peeked,
            position.spaces,
            False,
            heartbeat,
        )
    return prepared


def commit_prepared(
    session: Session,
    project_id: str,
    action: ReduceAction,
    prepared: PreparedPass,
    now: datetime,
    on_results: ResultsHook = no_results_hook,
    after_pass: PassHook = no_pass_hook,
    on_claimed: ClaimedHook | None = None,
) -> PassReport | None:
    """Write a prepared pass in the caller's write transaction, or ``None`` (nothing written) if anything moved.

    Moved: another pass of the reducer ran (its pass number or kept spaces changed), one of the
    tags was taken or deleted, or one of the touched windows was written (its ``last_pass``
    changed, or a window read as new now exists). The checks lock what they read (the reducer's
    row, the tags, the windows: ``FOR UPDATE`` on PostgreSQL; SQLite's write transaction holds
    the database), so what they saw is what is written over. The caller then runs ``run_pass``.
    """
    computed = prepared.computed
    if computed is None:
        return None
    position = reduce_store.reducer_position(session, project_id, action.name, lock=True, now=now)
    if position.pass_no != prepared.last_pass or position.spaces != prepared.spaces:
        return None
    if reduce_store.untaken(session, project_id, computed.reducer.group, prepared.tag_ids) != len(
        prepared.tag_ids
    ):
        return None
    stored = reduce_store.lock_windows(session, project_id, action.name, {k[1] for k in computed.seen})
    if any(
        (None if (row := stored.get(key)) is None else row.last_pass) != seen
        for key, seen in computed.seen.items()
    ):
        return None
    start = reduce_store.begin_pass(session, project_id, action.name, now)
    taken = reduce_store.take_tags(
        session, project_id, computed.reducer.group, prepared.tag_ids, start.pass_no
    )
    if taken != len(prepared.tag_ids):  # cannot be (they were locked and unclaimed): refuse all the same
        raise RuntimeError(
            f"reduce pass {start.pass_no}: {taken} of {len(prepared.tag_ids)} prepared tags taken"
        )
    _write(session, project_id, action, computed, start.pass_no, now, on_results, after_pass, on_claimed)
    return PassReport(
        start.pass_no,
        computed.n_tags,
        computed.n_traces,
        [(w.slice, w.window_start) for w in computed.writes],
        prepared.more,
    )


def reduce_handler(
    manifest_of: ManifestOf,
    on_results: ResultsHook = no_results_hook,
    batch_tags: int = DEFAULT_BATCH_TAGS,
    max_tags: int = DEFAULT_MAX_TAGS,
    after_pass: PassHook = no_pass_hook,
    on_claimed: ClaimedHook | None = None,
) -> JobHandler:
    """The ``reduce`` job's handler: one pass of the payload's reducer inside ``ctx.finishing()``.

    A reducer no longer in the manifest finishes the job doing nothing; a pass that stopped
    at ``max_tags`` enqueues a follow-up job (key ``...:{tick}:p{pass}``) in its transaction.
    """
    cache: dict[tuple[int, str, str], ProfileReducer] = {}

    def handle(ctx: JobContext) -> None:
        backend, job = ctx.backend, ctx.job
        project_id = job.project_id or ""
        reducer_name = str(job.payload.get("reducer", ""))
        manifest = manifest_of(backend, project_id)
        action = (
            None
            if manifest is None
            else next((a for a in profile_reducers(manifest) if a.name == reducer_name), None)
        )
        if manifest is None or action is None:
            log.info(
                "reduce job %s: reducer %r is not in project %s's manifest", job.key, reducer_name, project_id
            )
            with ctx.finishing():
                return
        key = (id(backend), project_id, reducer_name)  # profiles never change under a name@version
        reducer = cache.get(key)
        if reducer is None:
            build = backend.plugins.reducer(action.reducer_type).function
            with backend.reading() as session:
                reducer = cache[key] = build(backend, session, project_id, reducer_name)
        # Read, fold and contrast outside the write lock; write it if nothing moved meanwhile, else
        # (another pass, a window written) run the pass again inside the write transaction.
        with backend.reading() as session:
            prepared = prepare_pass(
                session, backend, project_id, manifest, action, reducer, max_tags, ctx.heartbeat
            )
        with ctx.finishing() as session:
            now = backend.clock()
            report = commit_prepared(
                session, project_id, action, prepared, now, on_results, after_pass, on_claimed
            )
            if report is None:
                if prepared.computed is not None:
                    log.info("reduce job %s: its prepared pass was overtaken, running it again", job.key)
                report = run_pass(
                    session,
                    backend,
                    project_id,
                    manifest,
                    action,
                    reducer,
                    now,
                    on_results,
                    batch_tags,
                    max_tags,
                    ctx.heartbeat,
                    after_pass,
                    on_claimed,
                )
            if report.more:
                job_store.enqueue(
                    session,
                    [
                        JobSpec(
                            REDUCE_KIND,
                            f"{job.key}:p{report.pass_no}",
                            project_id,
                            {"reducer": reducer_name, "tick": job.payload.get("tick")},
                        )
                    ],
                )

    return handle


def reduce_job_kind(handler: JobHandler, lease_s: float = 300.0) -> JobKind:
    """The ``reduce`` job kind the worker runs."""
    return JobKind(REDUCE_KIND, handler, max_attempts=10, lease_s=lease_s, backoff_s=5.0, backoff_max_s=600.0)


def spec_for(project_id: str, reducer: str, tick: int) -> JobSpec:
    """The job of one reducer's tick (what the scheduler answers)."""
    return JobSpec(
        REDUCE_KIND, job_key(project_id, reducer, tick), project_id, {"reducer": reducer, "tick": tick}
    )


__all__: Sequence[str] = (
    "REDUCE_KIND",
    "ClaimedHook",
    "PassReport",
    "PassHook",
    "ResultsHook",
    "no_pass_hook",
    "no_results_hook",
    "reduce_handler",
    "reduce_job_kind",
    "reduce_scheduler",
    "run_pass",
    "spec_for",
)
