"""The issues and settings pages, on real issues: the walkthrough's story fed to an engine-running server.

One server per module and database (``RAYMON_ENGINE=on``, a reduce pass every second) gets the
house-prices walkthrough (raymon.server.demo.story): client ``zillow``'s app update breaks two
features, so issues open on its slice. Its manifest has two alert channels with real receivers
(alert_receiver.py): a signed webhook (its secret must never reach a page) and a Slack one.
The fast tier reads the pages through HTTP as the start-up admin (a member of the project) and
as an invited viewer; one test drives Chromium: open the issues, open one, acknowledge it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from test_alerts_end_to_end import ReceiverProcess
from test_walkthrough import send, wait_for
from ui_browser import SCREENSHOTS, sign_in, ui_client

from raymon import RaymonAPI
from raymon.server.demo import story

pytestmark = pytest.mark.timeout(600)

WINDOWS, PER_CLIENT_WINDOW, BROKEN_FROM = 6, 45, 3
SECRET = "whsec_dWktaXNzdWVzLXNlY3JldC1uZXZlci1vbi1hLXBhZ2U="
SLACK_TOKEN = "uiIssuesSlackToken0123456789"
BROKEN = story.slice_of(story.BROKEN_CLIENT)
VIEWER_PASSWORD = "a viewer's long password"


@dataclass
class Story:
    server: Any
    api: RaymonAPI
    pid: str
    hook: ReceiverProcess
    slack: ReceiverProcess
    viewer_email: str

    def issues(self, **params: Any) -> list[dict[str, Any]]:
        answer = self.api.issues_ls(self.pid, **params)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["issues"])

    def issue(self, issue_id: int) -> dict[str, Any]:
        answer = self.api.issue_get(self.pid, issue_id)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def broken(self) -> list[dict[str, Any]]:
        return self.issues(slicestr=BROKEN)


def manifest(pid: str, hook: ReceiverProcess, slack: ReceiverProcess) -> str:
    """The walkthrough's manifest with a signed webhook and a Slack channel."""
    alerts = (
        "  alert:\n"
        "    - name: ops_hook\n"
        "      type: webhook\n"
        f"      url: {hook.url('/raymon')}\n"
        f"      secret: {SECRET}\n"
        "    - name: team_slack\n"
        "      type: slack\n"
        f"      webhook: {slack.url(f'/services/T000/B000/{SLACK_TOKEN}')}\n"
    )
    head, tail = story.MANIFEST.format(project_id=pid).split("slices:\n", 1)
    return head + alerts + "slices:\n" + tail


def invite_viewer(server: Any, pid: str) -> str:
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    with server.client() as client:
        invited = client.post(f"/api/v1/projects/{pid}/users", json={"email": email, "role": "viewer"})
        assert invited.status_code == 201, invited.text
    with server.client(invited.json()["token"]) as client:
        accepted = client.post(
            "/api/v1/invitations/accept", json={"email": email, "password": VIEWER_PASSWORD}
        )
        assert accepted.status_code == 200, accepted.text
    return email


@pytest.fixture(scope="module")
def told(make_module_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("receivers")
    hook, slack = ReceiverProcess(directory, "hook").start(), ReceiverProcess(directory, "slack").start()
    try:
        server = make_module_server(
            RAYMON_ENGINE="on", RAYMON_REDUCE_PASS_SECONDS="1", RAYMON_WORKER_POLL_SECONDS="0.2"
        )
        pid = server.project_id  # the start-up user is its admin: the UI signs in as them
        api = server.api()
        data = story.houses()
        model = story.Model.fit(data)
        profile = story.build_profile(data, model)
        assert api.profile_create(pid, profile).status_code in (200, 201)
        applied = api.orchestration_apply(pid, manifest(pid, hook, slack))
        assert applied.status_code in (200, 201), applied.text
        now = datetime.now(UTC)
        start = (now - timedelta(hours=1)).replace(minute=(now.minute // 10) * 10, second=0, microsecond=0)
        traffic = story.service_traffic(pid, profile, model, start, WINDOWS, PER_CLIENT_WINDOW, BROKEN_FROM)
        send(api, pid, [e for _, _, events in traffic for e in events])
        found = Story(server, api, pid, hook, slack, invite_viewer(server, pid))

        def broken_issues() -> list[dict[str, Any]] | None:
            issues = found.broken()
            return issues if {i["component"] for i in issues} >= set(story.BROKEN_FEATURES) else None

        wait_for("issues on the broken client's two features", broken_issues, timeout=180)

        def delivered() -> bool:
            log = api.alert_deliveries(pid).json()["deliveries"]
            return bool(log) and all(d["status"] == "delivered" for d in log)

        wait_for("the deliveries of the opened issues", delivered, timeout=120)
        yield found
    finally:
        hook.stop()
        slack.stop()


def issue_links(html: str, pid: str) -> list[int]:
    return [int(i) for i in re.findall(rf'href="/projects/{re.escape(pid)}/issues/(\d+)"', html)]


def script_json(html: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert found, f"no {element_id} data on the page"
    return json.loads(found.group(1))


def pick(story_: Story, component: str) -> dict[str, Any]:
    """One of the broken slice's issues of ``component`` (each test acts on its own)."""
    return next(i for i in story_.broken() if i["component"] == component)


# --- the list -------------------------------------------------------------------------------------


def test_the_issue_list_is_ordered_by_priority_and_filtered_by_status_and_slice(told: Story) -> None:
    with ui_client(told.server) as client:
        page = client.get(f"/projects/{told.pid}/issues")
        assert page.status_code == 200
        assert issue_links(page.text, told.pid) == [i["issue_id"] for i in told.issues()]
        listed = told.issues()
        assert [i["priority"] for i in listed if i["status"] == "open"] == sorted(
            (i["priority"] for i in listed if i["status"] == "open"), reverse=True
        )
        for feature in story.BROKEN_FEATURES:
            assert f">{feature}</a>" in page.text

        on_slice = client.get(f"/projects/{told.pid}/issues", params={"slice": BROKEN})
        assert issue_links(on_slice.text, told.pid) == [i["issue_id"] for i in told.broken()]
        rows = re.findall(r"<tr class=\"issue-[a-z]+\">(.*?)</tr>", on_slice.text, re.S)
        assert rows and all(BROKEN in unescape(row) for row in rows)
        assert all(story.slice_of(c) not in unescape(" ".join(rows)) for c in ("remax", "redfin"))

        partial = client.get(
            f"/projects/{told.pid}/issues", params={"slice": BROKEN}, headers={"HX-Request": "true"}
        )
        assert partial.text.lstrip().startswith('<section id="issues">') and "<html" not in partial.text
        assert issue_links(partial.text, told.pid) == issue_links(on_slice.text, told.pid)

        global_only = client.get(f"/projects/{told.pid}/issues", params={"slice": "(global)"})
        assert issue_links(global_only.text, told.pid) == [i["issue_id"] for i in told.issues(slicestr="")]

        for status in ("open", "resolved", "pending"):
            shown = client.get(f"/projects/{told.pid}/issues", params={"status": status, "slice": BROKEN})
            expected = [i["issue_id"] for i in told.issues(status=status, slicestr=BROKEN)]
            assert issue_links(shown.text, told.pid) == expected, status

        refused = client.get(f"/projects/{told.pid}/issues", params={"status": "sleeping"})
        assert refused.status_code == 422 and "&#39;sleeping&#39; is not one of" in refused.text


# --- one issue's evidence -------------------------------------------------------------------------


def test_an_issue_page_shows_the_values_that_opened_it_the_distributions_and_its_traces(told: Story) -> None:
    issue = told.issue(pick(told, "grlivarea")["issue_id"])
    with ui_client(told.server) as client:
        page = client.get(f"/projects/{told.pid}/issues/{issue['issue_id']}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1><code>grlivarea</code> · {issue['check']} on <code>{BROKEN}</code></h1>" in unescape(html)

    # The metric over the windows around the opening: chart data and the same numbers in a table.
    chart = script_json(html, "issue-values")
    assert chart["metric"] == issue["metric"]
    values = chart["series"][0]
    assert values["metric"] == issue["metric"] and len(values["t"]) >= BROKEN_FROM + 1
    opened = next(h for h in issue["history"] if h["event"] == "opened")
    opened_at = datetime.fromisoformat(opened["window_start"].replace("Z", "+00:00")).timestamp()
    assert chart["opened"] == opened_at and opened_at in values["t"]
    assert html.count('<tr class="opened">') == 1 and '<span class="chip error">opened</span>' in html
    breach = values["value"][values["t"].index(opened_at)]
    assert f"{breach:.4g}" in html

    # The reference against the slice's production in the opening window.
    histogram = script_json(html, "issue-distribution")
    assert histogram["kind"] == "numeric"
    assert len(histogram["labels"]) == len(histogram["reference"]) == len(histogram["production"])
    assert abs(sum(histogram["reference"]) - 1) < 1e-9 and abs(sum(histogram["production"]) - 1) < 1e-9
    assert histogram["reference"] != histogram["production"]  # square metres: another distribution
    production = told.api.profile_reduce(
        told.pid, story.PROFILE_NAME, story.PROFILE_VERSION,
        begin=opened["window_start"], end=opened["window_end"], slicestr=BROKEN,
    )  # fmt: skip
    assert production.status_code == 200, production.text
    stats = next(c for c in production.json()["components"] if c["name"].lower() == "grlivarea")["stats"]
    reference = told.api.get(f"/api/v1/projects/{told.pid}/profiles/{story.PROFILE_REF}").json()
    ref_stats = next(c for c in reference["components"] if c["name"].lower() == "grlivarea")["stats"]
    counts = re.search(
        r'<tr><th>count</th><td class="num">([^<]*)</td><td class="num">([^<]*)</td></tr>', html
    )
    assert counts and counts.groups() == (f"{ref_stats['count']:.4g}", f"{stats['count']:.4g}")
    means = re.search(r'<tr><th>mean</th><td class="num">([^<]*)</td><td class="num">([^<]*)</td></tr>', html)
    assert means and means.groups() == (f"{ref_stats['mean']:.4g}", f"{stats['mean']:.4g}")

    # Its example traces, and the traces of the breaching window and slice.
    assert issue["example_trace_ids"]
    for trace_id in issue["example_trace_ids"]:
        assert f'href="/projects/{told.pid}/traces/{trace_id}"' in html
    window_link = f"/projects/{told.pid}/traces?" + str(
        httpx.QueryParams({"filter": BROKEN, "begin": opened["window_start"], "end": opened["window_end"]})
    )
    assert html.count(f'href="{window_link.replace("&", "&amp;")}"') == 2  # its table row and the link below

    # Its history of transitions.
    assert "normal → open" in html or "pending → open" in html


def test_an_issue_of_no_project_of_the_viewer_or_no_issue_is_not_found(told: Story) -> None:
    with ui_client(told.server) as client:
        missing = client.get(f"/projects/{told.pid}/issues/999999")
        assert missing.status_code == 404 and "no issue 999999" in missing.text
        assert client.get("/projects/someone-elses/issues/1").status_code == 404


# --- actions --------------------------------------------------------------------------------------


def test_acknowledging_muting_and_tuning_through_the_forms_change_what_the_api_answers(told: Story) -> None:
    issue = pick(told, "lotfrontage")
    iid, base = issue["issue_id"], f"/projects/{told.pid}/issues/{issue['issue_id']}"
    with ui_client(told.server) as client:
        page = client.get(base)
        for action in ("ack", "mute", "tune"):
            assert f'action="{base}/{action}"' in page.text

        acked = client.post(f"{base}/ack")
        assert acked.status_code == 303 and acked.headers["location"] == base
        answer = told.issue(iid)
        assert answer["acked_at"] and answer["acked_by"] == told.server.user_email
        assert answer["history"][-1]["kind"] == "acked"
        listed = client.get(f"/projects/{told.pid}/issues", params={"status": "acknowledged"})
        assert iid in issue_links(listed.text, told.pid)

        before = datetime.now(UTC)
        assert client.post(f"{base}/mute", data={"preset": "1h"}).status_code == 303
        until = datetime.fromisoformat(told.issue(iid)["muted_until"].replace("Z", "+00:00"))
        assert before + timedelta(minutes=59) < until < datetime.now(UTC) + timedelta(minutes=61)
        assert iid in issue_links(client.get(f"/projects/{told.pid}/issues?status=muted").text, told.pid)
        assert client.post(f"{base}/mute", data={"until": "2030-01-02T03:04"}).status_code == 303
        assert told.issue(iid)["muted_until"] == "2030-01-02T03:04:00Z"  # no offset given: UTC
        east = client.post(f"{base}/mute", data={"until": "2030-01-02T03:04", "offset_minutes": "120"})
        assert east.status_code == 303 and told.issue(iid)["muted_until"] == "2030-01-02T01:04:00Z"
        bad_zone = client.post(f"{base}/mute", data={"until": "2030-01-02T03:04", "offset_minutes": "9999"})
        assert bad_zone.status_code == 422 and "is not a time zone's offset" in unescape(bad_zone.text)
        assert client.post(f"{base}/mute", data={"preset": "off"}).status_code == 303
        assert iid not in issue_links(client.get(f"/projects/{told.pid}/issues?status=muted").text, told.pid)
        bad_time = client.post(f"{base}/mute", data={"until": "tomorrow"})
        assert bad_time.status_code == 422 and "until: 'tomorrow' is not a time" in unescape(bad_time.text)

        tuned = client.post(
            f"{base}/tune", data={"threshold": "0.75", "open_after": "2", "window_count": "3"}
        )
        assert tuned.status_code == 303
        tuning = told.issue(iid)["tuning"]
        assert tuning == {"thresholds": {issue["metric"]: 0.75}, "open_after": 2, "window_count": 3}
        page = client.get(base).text
        assert 'name="threshold" value="0.75"' in page and 'name="open_after" value="2"' in page
        assert 'name="window_count" value="3"' in page and "(tuned)" in page

        refused = client.post(f"{base}/tune", data={"open_after": "5", "window_count": "3"})
        assert refused.status_code == 422 and "cannot exceed window_count" in refused.text
        not_a_number = client.post(f"{base}/tune", data={"threshold": "high"})
        assert not_a_number.status_code == 422 and "is not a number" in not_a_number.text
        assert told.issue(iid)["tuning"] == tuning  # nothing changed by the refused ones


def test_a_viewer_sees_no_action_buttons_and_is_refused_every_action(told: Story) -> None:
    issue = next(i for i in told.issues() if not i["acked_at"])
    base = f"/projects/{told.pid}/issues/{issue['issue_id']}"
    with ui_client(told.server, told.viewer_email, VIEWER_PASSWORD) as client:
        page = client.get(base)
        assert page.status_code == 200 and "issue-values" in page.text
        assert 'method="post"' not in page.text.replace('method="post" action="/logout"', "")
        for action, data in (("ack", {}), ("mute", {"preset": "1h"}), ("tune", {"threshold": "1"})):
            refused = client.post(f"{base}/{action}", data=data)
            assert refused.status_code == 403 and "admin" in refused.text, action
        settings = client.get(f"/projects/{told.pid}/settings")
        assert settings.status_code == 200 and "Redeliver" not in settings.text
        delivery = told.api.alert_deliveries(told.pid).json()["deliveries"][0]["delivery_id"]
        redeliver = client.post(f"/projects/{told.pid}/settings/deliveries/{delivery}/redeliver")
        assert redeliver.status_code == 403
    after = told.issue(issue["issue_id"])
    assert after["acked_at"] is None and after["tuning"] == issue["tuning"]
    assert after["muted_until"] == issue["muted_until"]


# --- settings -------------------------------------------------------------------------------------


def test_settings_show_the_manifest_redacted_its_versions_channels_and_delivery_log(told: Story) -> None:
    with ui_client(told.server) as client:
        page = client.get(f"/projects/{told.pid}/settings")
        assert page.status_code == 200
        html = page.text
        for secret in (SECRET, SLACK_TOKEN, told.hook.url("/raymon"), f"127.0.0.1:{told.hook.port}"):
            assert secret not in html and secret not in unescape(html)
        text = unescape(re.search(r'<pre class="manifest"><code>(.*?)</code></pre>', html, re.S).group(1))
        assert 'secret: "<redacted>"' in text and 'webhook: "<redacted>"' in text
        assert "reducer_type: profile_reducer" in text
        assert f'href="/projects/{told.pid}/settings/keys"' in html and 'href="/docs"' in html
        assert "<code>ops_hook</code>" in html and "<code>team_slack</code>" in html
        assert '<span class="chip">signed</span>' in html

        log = told.api.alert_deliveries(told.pid).json()["deliveries"]
        rows = re.findall(r'<tr class="delivery-([a-z]+)">', html)
        assert len(rows) == len(log) and set(rows) == {"delivered"}
        assert html.count(">Redeliver</button>") == len({d["delivery_id"] for d in log})
        hook_only = client.get(f"/projects/{told.pid}/settings", params={"channel": "ops_hook"}).text
        assert len(re.findall(r'<tr class="delivery-', hook_only)) == len(
            [d for d in log if d["channel"] == "ops_hook"]
        )

        # A second version: both listed, the first still viewable (redacted too).
        again = told.api.orchestration_apply(told.pid, manifest(told.pid, told.hook, told.slack) + "# v2\n")
        assert again.status_code in (200, 201) and again.json()["changed"], again.text
        versions = told.api.manifest_history(told.pid).json()["versions"]
        assert len(versions) >= 2
        page = client.get(f"/projects/{told.pid}/settings").text
        assert f"Manifest version {versions[0]['version']} (current)" in page
        assert f"?version={versions[-1]['version']}#manifest" in page
        old = client.get(f"/projects/{told.pid}/settings", params={"version": versions[-1]["version"]}).text
        assert f"Manifest version {versions[-1]['version']} (not the current one" in old
        assert SECRET not in old and "# v2" not in old
        assert client.get(f"/projects/{told.pid}/settings", params={"version": 999}).status_code == 404


def test_redelivering_from_the_settings_page_sends_the_same_webhook_again(told: Story) -> None:
    log = told.api.alert_deliveries(told.pid, "ops_hook").json()["deliveries"]
    delivery = log[0]["delivery_id"]
    sent_before = [r for r in told.hook.requests() if r["headers"]["webhook-id"] == delivery]
    with ui_client(told.server) as client:
        answer = client.post(f"/projects/{told.pid}/settings/deliveries/{delivery}/redeliver")
    assert answer.status_code == 303 and answer.headers["location"].endswith("/settings#deliveries")

    def sent_again() -> bool:
        return len([r for r in told.hook.requests() if r["headers"]["webhook-id"] == delivery]) > len(
            sent_before
        )

    wait_for("the redelivery", sent_again, timeout=60)
    attempts = [
        d
        for d in told.api.alert_deliveries(told.pid, "ops_hook").json()["deliveries"]
        if d["delivery_id"] == delivery
    ]
    assert len(attempts) == len([d for d in log if d["delivery_id"] == delivery]) + 1


# --- in a browser ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_in_a_browser_open_the_issues_open_one_and_acknowledge_it(told: Story, ui_page: Any) -> None:
    issue = next(i for i in told.broken() if not i["acked_at"])
    sign_in(ui_page, told.server)
    ui_page.goto(f"{told.server.url}/projects/{told.pid}/issues")
    assert ui_page.locator("h1").inner_text() == "Issues"
    ui_page.click(f'a[href="/projects/{told.pid}/issues/{issue["issue_id"]}"]')
    ui_page.wait_for_url(f"**/issues/{issue['issue_id']}")
    ui_page.wait_for_selector("[data-issue-chart] canvas")  # uPlot drew the values
    ui_page.wait_for_selector("[data-issue-histogram] canvas")
    ui_page.click("button[name=ack]")
    ui_page.wait_for_selector("text=acknowledged by")
    assert told.issue(issue["issue_id"])["acked_at"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_in_a_browser_filter_the_issues_by_slice_and_see_the_settings(told: Story, ui_page: Any) -> None:
    sign_in(ui_page, told.server)
    ui_page.goto(f"{told.server.url}/projects/{told.pid}/issues")
    ui_page.select_option("select[name=slice]", BROKEN)
    ui_page.click("text=Show")  # htmx swaps the table in and pushes the filter into the URL
    ui_page.wait_for_url(re.compile(r".*slice=client%3D%3Dzillow.*"))
    ui_page.screenshot(path=str(SCREENSHOTS / "issues_list.png"), full_page=True)
    rows = ui_page.locator("#issues tbody tr")
    assert rows.count() == len(told.broken())
    ui_page.goto(f"{told.server.url}/projects/{told.pid}/settings")
    assert "<redacted>" in ui_page.locator("pre.manifest").inner_text()
    log = told.api.alert_deliveries(told.pid).json()["deliveries"]
    assert ui_page.locator("#deliveries tbody tr").count() == len(log)


# --- a project with nothing yet (the shared server, no engine) ------------------------------------


def test_a_project_without_manifest_issues_or_deliveries_says_so(server: Any) -> None:
    project = server.new_project()
    with server.client(project.admin_key) as client:
        invited = client.post(
            f"/api/v1/projects/{project.project_id}/users", json={"email": server.user_email, "role": "admin"}
        )
    with server.client(invited.json()["token"]) as client:
        accepted = client.post(
            "/api/v1/invitations/accept", json={"email": server.user_email, "password": server.user_password}
        )
        assert accepted.status_code == 200, accepted.text
    with ui_client(server) as client:
        issues = client.get(f"/projects/{project.project_id}/issues")
        assert issues.status_code == 200 and "No issues." in issues.text
        settings = client.get(f"/projects/{project.project_id}/settings")
        assert settings.status_code == 200
        assert "No manifest applied yet" in settings.text and "Nothing delivered yet." in settings.text
        assert "has no <code>actions.alert</code> channels" in settings.text
        assert client.get(f"/projects/{project.project_id}/settings?version=1").status_code == 404
