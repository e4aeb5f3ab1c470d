"""services.issue_evidence on a real database (SQLite and PostgreSQL): the page's list filters, and evidence
that explains itself when there is nothing to compare.

Issues are made by ``services.issues.observe`` as the reduce pass makes them (test_issues_observe.py's
helpers); no reduce windows or profile are stored, so the evidence must say why it has no values
or distribution instead of failing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import test_issues_observe as observed
from test_issues_observe import PROJECT, T0, WINDOW, feed, psi_row

from raymon.server.backend import Backend
from raymon.server.services import issue_evidence, issues
from raymon.server.services.errors import InvalidInputError

env = observed.env  # the fixture: a migrated database (SQLite or PostgreSQL) with the project, and its clock


def _made(backend: Backend) -> tuple[int, int]:
    """A global-slice issue and a slice issue, both opened in window 1."""
    for slicestr in ("", "client==zillow"):
        feed(backend, 0, [psi_row(0.1)], slicestr)
        feed(backend, 1, [psi_row(0.9)], slicestr)
    listed = {i["slice"]: i["issue_id"] for i in issues.list_issues(backend, PROJECT)["issues"]}
    return listed[""], listed["client==zillow"]


def test_the_list_narrows_to_a_flag_or_a_slice_and_names_every_slice_global_first(env) -> None:  # type: ignore[no-untyped-def]
    backend, clock = env
    global_issue, slice_issue = _made(backend)
    issues.ack(backend, PROJECT, slice_issue, "ana@example.com")
    issues.mute(backend, PROJECT, global_issue, clock.now + timedelta(hours=1))

    every = issue_evidence.issue_list(backend, PROJECT)
    assert every.slices == ["", "client==zillow"]
    assert {i["issue_id"] for i in every.issues} == {global_issue, slice_issue}
    acked = issue_evidence.issue_list(backend, PROJECT, "acknowledged")
    assert [i["issue_id"] for i in acked.issues] == [slice_issue] and acked.issues[0]["acknowledged"]
    muted = issue_evidence.issue_list(backend, PROJECT, "muted")
    assert [i["issue_id"] for i in muted.issues] == [global_issue]
    assert [i["issue_id"] for i in issue_evidence.issue_list(backend, PROJECT, None, "").issues] == [
        global_issue
    ]
    assert issue_evidence.issue_list(backend, PROJECT, "resolved").issues == []

    clock.now += timedelta(hours=2)  # the mute is over
    assert issue_evidence.issue_list(backend, PROJECT, "muted").issues == []
    with pytest.raises(InvalidInputError, match="'sleeping' is not one of open, pending"):
        issue_evidence.issue_list(backend, PROJECT, "sleeping")


def test_evidence_without_stored_windows_or_profile_says_why_and_keeps_the_tuned_rules(env) -> None:  # type: ignore[no-untyped-def]
    backend, _clock = env
    global_issue, _ = _made(backend)
    issues.tune(backend, PROJECT, global_issue, threshold=0.5, open_after=2, window_count=4)

    found = issue_evidence.evidence(backend, PROJECT, global_issue)
    assert (found.opened_start, found.opened_end) == (T0 + WINDOW, T0 + 2 * WINDOW)  # the opening window
    assert found.begin == T0 + WINDOW - issue_evidence.WINDOWS_BEFORE * WINDOW
    assert found.end == T0 + WINDOW + (issue_evidence.WINDOWS_AFTER + 1) * WINDOW
    assert found.series == []  # no reduce window stored
    assert found.distribution is None
    assert found.distribution_note and "HousePrices@3.0.0 not found" in found.distribution_note
    assert found.rules["open_after"] == 2 and found.rules["window_count"] == 4
    assert found.rules["threshold"] == 0.5 and found.rules["tuned_threshold"] is True
    assert found.rules["resolve_after"] == 3  # the manifest's, from the last evaluation
