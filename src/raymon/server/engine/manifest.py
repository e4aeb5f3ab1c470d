"""The typed model of a project's manifest (YAML): actions, slices and settings.

The documents the original Raymon's users wrote load as they are (see
docs/manifest.md): ``project_id``, an optional ``version``, ``actions`` with
``visualize``, ``map``, ``reduce`` and ``alert`` lists, ``slices`` and ``settings``.
Unknown keys are refused (``extra="forbid"``), so a typo is an error rather than a
silently ignored setting. Which visualisation, mapper, reducer and alert types exist
is the plugin registry's business, and whether a profile was uploaded the store's:
those checks are ``services.manifests``'s, which also turns pydantic's errors into
``{"path", "line", "column", "message"}``. This module never reads YAML, the database
or the plugins.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_REDUCER_INTERVAL_S = 60


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VisualizeAction(_Strict):
    """Shown on the trace page when a user opens a trace (``function``: a registered visualisation)."""

    name: str
    function: str
    inputs: dict[str, str]  # input name -> ref
    params: dict[str, Any] | None = None


class MapAction(_Strict):
    """Runs once per trace when all its inputs are stored; answers tags (``mapper_type``: a registered mapper).

    ``profile_eval`` names ``profile`` (``name@version``) and takes ``output`` and ``actual``;
    ``webhook`` POSTs the inputs to ``url`` (signed with ``secret`` when given).
    """

    name: str
    mapper_type: str
    inputs: dict[str, str]  # input name -> ref
    profile: str | None = None
    url: str | None = None
    secret: str | None = None
    timeout_s: float = 10.0
    max_attempts: int = Field(default=5, ge=1, le=50)
    params: dict[str, Any] | None = None


class IssueSettings(_Strict):
    """When a check's breaches become an issue and when it resolves (hysteresis)."""

    open_after: int = Field(default=1, ge=1)  # breaching windows (of the last ``window_count``) to open
    window_count: int | None = Field(default=None, ge=1)  # None: the last ``open_after`` windows
    resolve_after: int = Field(default=3, ge=1)  # clean windows in a row to resolve
    close_factor: float = Field(default=0.8, gt=0, le=1)  # recovers below threshold * close_factor
    reopen_within: int | None = Field(
        default=None, ge=0
    )  # windows after resolving a breach reopens; None: resolve_after


class ReduceAction(_Strict):
    """Aggregates tags per window and slice (``reducer_type``: a registered reducer).

    A ``profile_reducer``'s ``name`` is the profile's ``name@version``. The interval is
    ``reducer_interval_s`` or ``reducer_interval_m`` (minutes); neither: the manifest's
    ``settings.reducer_interval_s``.
    """

    name: str
    reducer_type: str
    reducer_interval_s: int | None = Field(default=None, ge=1)
    reducer_interval_m: float | None = Field(default=None, gt=0)
    thresholds: dict[str, Any] | None = None  # as ModelProfile.contrast's thresholds
    issues: IssueSettings = IssueSettings()
    params: dict[str, Any] | None = None

    def interval_s(self, default_s: int) -> int:
        """This reducer's window length in seconds."""
        if self.reducer_interval_s is not None:
            return self.reducer_interval_s
        if self.reducer_interval_m is not None:
            return max(1, round(self.reducer_interval_m * 60))
        return default_s


class AlertAction(_Strict):
    """Tells people of issue events (``type``: a registered alert channel: ``slack``, ``webhook``)."""

    name: str
    type: str
    webhook: str | None = None  # slack: the incoming-webhook URL (a secret)
    url: str | None = None  # webhook: the receiver
    secret: str | None = None  # webhook: ``whsec_...``
    format: str | None = None  # webhook: None (Standard Webhooks JSON) or "alertmanager"
    checks: list[str] | None = None  # only these checks (drift, integrity, performance)
    slices: list[str] | None = None  # only these slicestrs ("" the global slice)
    min_priority: float | None = None


class Actions(_Strict):
    visualize: list[VisualizeAction] = []
    map: list[MapAction] = []
    reduce: list[ReduceAction] = []
    alert: list[AlertAction] = []


class SpaceTag(_Strict):
    tag: str


class SliceSpec(_Strict):
    """One slice (``slicestr``: the trace filter's language) or a space of slices (one per value combination)."""

    slicestr: str | None = None
    space: list[SpaceTag] | None = None
    name: str | None = None
    description: str | None = None
    limit: int | None = Field(
        default=None, ge=1
    )  # space: the most frequent combinations kept (rest: "other")

    @model_validator(mode="after")
    def _one_kind(self) -> SliceSpec:
        if (self.slicestr is None) == (self.space is None):
            raise ValueError("a slice has either slicestr or space, not both and not neither")
        if self.space is not None and not self.space:
            raise ValueError("space lists at least one tag")
        return self


class ExploreSettings(_Strict):
    """Which tags slice discovery explores, and how hard it looks (docs/slices.md)."""

    tags: list[str] | None = None  # None: the label tags with at most ``max_values`` values
    max_values: int = Field(default=50, ge=1, le=1000)  # values kept per tag (the rest: "other")
    max_tags: int = Field(default=10, ge=0, le=32)  # tags explored at most (0: discovery off)
    max_level: int = Field(default=3, ge=1, le=3)  # conditions per slice at most
    min_support: int | None = Field(default=None, ge=1)  # traces a slice needs; None: max(30, 1% of them)
    alpha: float = Field(default=0.99, gt=0, le=1)  # SliceLine's weight of error against size
    top: int = Field(default=10, ge=1, le=100)  # slices kept per metric
    interval_s: int = Field(default=3600, ge=1)  # how often the discovery job runs
    lookback_s: int = Field(default=7 * 24 * 3600, ge=1)  # the windows it looks at: the last ...


class ManifestSettings(_Strict):
    reducer_interval_s: int | None = Field(default=None, ge=1)
    reducer_interval: int | None = Field(default=None, ge=1)  # the original's name, in seconds
    retention_days: int | None = Field(default=None, ge=1)
    space_limit: int = Field(default=20, ge=1)  # default cap of combinations per space
    explore: ExploreSettings = ExploreSettings()  # slice discovery (docs/slices.md)

    def default_interval_s(self) -> int:
        """The reducers' window length when a reducer does not set its own."""
        return self.reducer_interval_s or self.reducer_interval or DEFAULT_REDUCER_INTERVAL_S


class Manifest(_Strict):
    """A project's manifest, as applied."""

    project_id: str
    version: str | int | None = None
    actions: Actions = Actions()
    slices: list[SliceSpec] = []
    settings: ManifestSettings = ManifestSettings()
