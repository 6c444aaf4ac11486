"""The web console in a real headless Chromium, on a real `hookgate serve` over HTTP.

Every page is screenshotted (laptop and phone, light and dark) into
`test-artifacts/console/` and checked by axe-core: no serious or critical violation.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.helpers.browser import chromium, screenshot, serious_violations
from tests.helpers.http_server import serve_http
from tests.helpers.served import Served, base_config, free_port, stripe_event, stripe_headers

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "console-admin-token-0123456789"
VIEWER_TOKEN = "console-viewer-token-0123456789"
ADMIN = f"""
[admin]
tokens = [
  {{ name = "ops", token = "env:E2E_ADMIN_TOKEN", role = "admin" }},
  {{ name = "support", token = "{VIEWER_TOKEN}", role = "viewer" }},
]
"""
#: `app` gets every event, at a port where nothing listens until a test starts a server
#: there: its deliveries die after one attempt, and a redrive then delivers them.
SINKS = """
[sinks.app]
type = "http"
url = "http://127.0.0.1:{app_port}/hooks"
retry_policy = {{ max_attempts = 1 }}

[sinks.bus]
type = "router"

[sinks.bus.rules.paid]
description = "paid invoices to the ledger"
event_pattern = '{{"detail-type": ["invoice.paid"]}}'

[[sinks.bus.rules.paid.targets]]
id = "ledger"
type = "jsonl"
path = "ledger.jsonl"
"""
PAGES = ["/", "/sources", "/events", "/requests", "/dead-letters", "/replays", "/rules", "/schemas", "/live"]
PHONE = {"width": 390, "height": 844}
PAID = "hookgate.stripe@InvoicePaid"


class ConsoleServed(Served):
    app_port: int = 0

    def env(self) -> dict[str, str]:
        return {**super().env(), "E2E_ADMIN_TOKEN": ADMIN_TOKEN}

    def api(self, path: str, token: str = ADMIN_TOKEN, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.url}/api/v1{path}", params=params, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def send_stripe(self, event_id: str | None = None, kind: str = "invoice.paid", **fields: Any) -> str:
        """A signed Stripe delivery through the edge (`fields` added to its object); the id
        of the event it stored."""
        body = stripe_event(event_id, kind=kind)
        if fields:
            event = json.loads(body)
            event["data"]["object"].update(fields)
            body = json.dumps(event).encode()
        answer = httpx.post(f"{self.url}/webhooks/stripe", content=body, headers=stripe_headers(body))
        assert answer.status_code == 200, answer.text
        [stored] = answer.headers["x-hookgate-event-ids"].split(",")
        return stored


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the condition never held")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServed]:
    tmp = tmp_path_factory.mktemp("console")
    port = free_port()
    config = tmp / "hookgate.toml"
    app_port = free_port()
    text = base_config(tmp, port, extra=ADMIN + SINKS.format(app_port=app_port))
    # a TLS-terminating proxy on the same host
    config.write_text(text.replace("[server]\n", '[server]\ntrusted_proxies = ["127.0.0.1"]\n', 1))
    served = ConsoleServed(tmp, config, port)
    served.app_port = app_port
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, gateway: Served) -> Iterator[Any]:
    context = browser.new_context(base_url=gateway.url)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page: Any, token: str = ADMIN_TOKEN) -> None:
    page.goto("/console/")
    page.get_by_label("Admin API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/")


def test_the_console_is_off_without_tokens(served: Served) -> None:
    assert httpx.get(f"{served.url}/console/").status_code == 404
    assert httpx.get(f"{served.url}/console/login").status_code == 404


def test_a_wrong_token_is_refused_and_a_right_one_opens_a_session(page: Any, gateway: Served) -> None:
    page.goto("/console/events?source=stripe")
    assert "/console/login" in page.url
    screenshot(page, "login")
    assert serious_violations(page) == []
    page.get_by_label("Admin API token").fill("not-the-token-at-all")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "That token is not valid."
    page.get_by_label("Admin API token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/events?source=stripe")  # back where it was going
    assert page.get_by_text("ops (admin)").is_visible()
    [cookie] = page.context.cookies()
    assert cookie["name"] == "hookgate_console"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain HTTP here
    assert cookie["path"] == "/console"
    assert ADMIN_TOKEN not in cookie["value"]

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login")
    page.goto("/console/sources")
    assert "/console/login" in page.url  # the session is gone, not only the cookie
    # the old session id no longer opens anything
    stale = httpx.get(f"{gateway.url}/console/sources", cookies={"hookgate_console": cookie["value"]})
    assert stale.status_code == 303
    assert stale.headers["location"].startswith("/console/login")


def test_writes_need_the_session_csrf_token_and_this_origin(gateway: Served) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        logged = client.post("/console/login", data={"token": ADMIN_TOKEN})
        assert logged.status_code == 303
        page = client.get("/console/live")  # every page has the logout form
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]

        missing = client.post("/console/dead-letters", data={"action": "dry-run", "scope": "matching"})
        assert missing.status_code == 403
        wrong = client.post("/console/dead-letters", data={"csrf": csrf[::-1], "action": "dry-run"})
        assert wrong.status_code == 403
        cross = client.post(
            "/console/logout", data={"csrf": csrf}, headers={"Origin": "https://attacker.example"}
        )
        assert cross.status_code == 403
        assert client.get("/console/live").status_code == 200  # still logged in

        out = client.post("/console/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert client.get("/console/live").status_code == 303


def test_the_cookie_is_secure_behind_https(gateway: Served) -> None:
    # the gateway trusts X-Forwarded-Proto from the local address (`trusted_proxies`)
    logged = httpx.post(
        f"{gateway.url}/console/login", data={"token": VIEWER_TOKEN}, headers={"X-Forwarded-Proto": "https"}
    )
    assert logged.status_code == 303
    cookie = logged.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_the_pages_are_keyboard_reachable(page: Any) -> None:
    log_in(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto("/console/")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # Overview
    page.keyboard.press("Tab")  # Sources
    assert page.evaluate("document.activeElement.textContent") == "Sources"
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/sources")
    focus_ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focus_ring is not None


def test_artifacts_directory_is_ignored_by_git() -> None:
    import subprocess  # noqa: PLC0415

    from tests.helpers.browser import ARTIFACTS, ROOT  # noqa: PLC0415

    target = ARTIFACTS / "x.png"
    if not target.is_relative_to(ROOT):
        pytest.skip("the artifacts are written outside the checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", str(target)], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0
    assert Path(ARTIFACTS).name == "console"


def test_the_sources_page_copies_a_webhook_url_and_sends_a_signed_test(
    browser: Any, gateway: ConsoleServed
) -> None:
    context = browser.new_context(base_url=gateway.url, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page)
    page.get_by_role("link", name="Sources").click()
    card = page.get_by_role("region", name="stripe")
    assert card.locator("code").inner_text() == f"{gateway.url}/webhooks/stripe"
    card.get_by_role("button", name="Copy URL").click()
    assert card.get_by_role("button", name="Copied").is_visible()
    assert page.evaluate("navigator.clipboard.readText()") == f"{gateway.url}/webhooks/stripe"
    before = gateway.stored_count()
    card.get_by_role("button", name="Send test webhook").click()
    notice = page.get_by_role("status").inner_text()
    assert notice.startswith("Test webhook to stripe: 200 accepted; stored ")
    assert gateway.stored_count() == before + 1
    stored = notice.rsplit(" ", 1)[1]
    assert any(e["id"] == stored for e in gateway.sink_entries())
    screenshot(page, "sources-after-test")
    context.close()


def test_a_dead_letter_is_counted_then_redriven_and_delivered(page: Any, gateway: ConsoleServed) -> None:
    event_id = gateway.send_stripe()
    delivery = f"{event_id}/app"
    wait_until(lambda: any(d["id"] == delivery for d in gateway.api("/dead-letters")["items"]))
    log_in(page)
    page.get_by_role("link", name="Dead letters").click()
    row = page.get_by_role("row").filter(has=page.locator(f'input[value="{delivery}"]'))
    assert "dead" in row.inner_text()
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Count (dry run)").click()
    assert page.get_by_role("status").inner_text() == "1 dead letters would be redriven"
    assert any(d["id"] == delivery for d in gateway.api("/dead-letters")["items"])  # nothing moved
    with serve_http(gateway.app_port) as app:
        page.locator(f'input[value="{delivery}"]').check()
        page.get_by_role("button", name="Redrive", exact=True).click()
        assert page.get_by_role("status").inner_text() == "Redriven: 1 of 1"
        wait_until(lambda: any(event_id.encode() in r.body for r in app.received))

        def gone() -> bool:
            page.reload()
            return bool(page.locator(f'input[value="{delivery}"]').count() == 0)

        wait_until(gone)
    screenshot(page, "dead-letters-after-redrive")


def test_new_events_and_requests_appear_in_the_live_tail_without_reloading(
    page: Any, gateway: ConsoleServed
) -> None:
    log_in(page)
    page.get_by_role("link", name="Live tail").click()
    page.get_by_text("Connected.").wait_for()
    page.evaluate("window.notReloaded = true")
    event_id = gateway.send_stripe()
    link = page.locator(f'#live a[href="/console/events/{event_id}"]')
    link.wait_for(timeout=10_000)
    assert "stripe" in link.locator("xpath=..").inner_text()
    accepted = page.locator("#live li.request:not(.rejected)").filter(has_text="stripe")
    accepted.first.wait_for(timeout=10_000)
    assert "200" in accepted.first.inner_text()

    body = stripe_event()
    forged = httpx.post(
        f"{gateway.url}/webhooks/stripe",
        content=body,
        headers=stripe_headers(body, secret="whsec_not_the_configured_secret"),
    )
    assert forged.status_code == 401
    rejected = page.locator("#live li.request.rejected").filter(has_text="bad_signature")
    rejected.first.wait_for(timeout=10_000)
    text = rejected.first.inner_text()
    assert "stripe" in text
    assert "401" in text
    assert forged.request.headers["stripe-signature"].split(",v1=")[1] not in page.content()
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "live-with-an-event")


def test_a_replay_is_started_and_followed(page: Any, gateway: ConsoleServed) -> None:
    gateway.send_stripe()
    log_in(page)
    page.get_by_role("link", name="Replays").click()
    form = page.get_by_role("form", name="Start a replay")
    form.get_by_label("Name").fill("console-replay")
    form.get_by_label("From (time or age)").fill("1h")
    form.get_by_label("Rule").fill("bus/paid")
    form.get_by_role("button", name="Start replay").click()
    assert page.get_by_role("status").inner_text() == "Replay started: console-replay"

    def finished() -> bool:
        page.reload()
        return "done" in page.get_by_role("row").filter(has_text="console-replay").inner_text()

    wait_until(finished)
    row = page.get_by_role("row").filter(has_text="console-replay").inner_text()
    assert "bus/paid" in row
    screenshot(page, "replays-after-one")


def test_the_rules_tester_says_which_rule_matches_and_what_its_target_gets(page: Any) -> None:
    log_in(page, VIEWER_TOKEN)  # testing changes nothing: a viewer may
    page.get_by_role("link", name="Rules").click()
    assert page.get_by_role("heading", name="bus/paid").is_visible()
    assert "ledger" in page.get_by_role("region", name="Rule paid").inner_text()
    event = {
        "version": "0",
        "id": "1",
        "detail-type": "invoice.paid",
        "source": "hookgate.stripe",
        "account": "000000000000",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"payload": {"id": "evt_rules"}},
    }
    page.get_by_label("Event (JSON, EventBridge-shaped)").fill(json.dumps(event))
    page.get_by_role("button", name="Which rules match?").click()
    result = page.get_by_role("region", name="Test result")
    assert "bus/paid: matches" in result.inner_text().replace("\n", " ")
    result.get_by_text("ledger would receive").click()
    assert "evt_rules" in result.locator("pre").inner_text()
    page.get_by_label("Event (JSON, EventBridge-shaped)").fill("{not json")
    page.get_by_role("button", name="Which rules match?").click()
    assert page.get_by_role("alert").inner_text() == "The event is not JSON."
    screenshot(page, "rules-tested")


def test_a_viewer_sees_no_write_buttons_and_its_forged_write_is_refused(
    page: Any, gateway: ConsoleServed
) -> None:
    log_in(page, VIEWER_TOKEN)
    page.get_by_role("link", name="Sources").click()
    assert page.get_by_role("button", name="Copy URL").count() >= 1
    assert page.get_by_role("button", name="Send test webhook").count() == 0
    page.get_by_role("link", name="Dead letters").click()
    assert page.get_by_role("button", name="Redrive", exact=True).count() == 0
    # the form posted anyway (with the session's own CSRF token): the API's 403
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    answer = page.request.post(
        "/console/sources/stripe/test", form={"csrf": csrf}, headers={"Origin": gateway.url}
    )
    assert answer.status == 403
    assert "this needs the admin role" in answer.text()


def test_an_event_is_found_by_its_stripe_id_opened_and_redelivered_until_delivered(
    page: Any, gateway: ConsoleServed
) -> None:
    provider_id = f"evt_console_{uuid.uuid4().hex[:12]}"
    event_id = gateway.send_stripe(provider_id)
    wait_until(lambda: any(d["id"] == f"{event_id}/app" for d in gateway.api("/dead-letters")["items"]))
    gateway.wait_for_sink(lambda entries: any(e["id"] == event_id for e in entries))
    log_in(page)
    page.get_by_role("link", name="Events").click()
    page.get_by_label("Provider event id").fill(provider_id)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.rows tbody tr")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert provider_id in row
    assert "archive delivered" in row
    assert "app dead" in row
    screenshot(page, "events-found")

    rows.first.get_by_role("link").click()
    page.wait_for_url(f"**/console/events/{event_id}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Event {event_id}"
    payload = page.locator("details.payload").first
    assert payload.get_attribute("open") is not None
    assert f'"id": "{provider_id}"' in payload.inner_text()
    page.get_by_text("Payload", exact=True).click()  # collapses
    assert payload.get_attribute("open") is None
    app = page.get_by_role("region", name="Destination app")
    attempts = app.get_by_role("list", name="Attempts to app").get_by_role("listitem")
    assert attempts.count() == 1
    assert "#1 dead" in attempts.first.inner_text()
    assert "connection_error" in attempts.first.inner_text()
    archive = page.get_by_role("region", name="Destination archive")
    assert "#1 delivered" in archive.inner_text()
    screenshot(page, "event-dead")

    # a delivered destination is sent again too: the archive receives the event twice
    archive.get_by_role("button", name="Redeliver to archive").click()
    assert page.get_by_role("status").inner_text() == "Queued again: 1 deliveries"
    gateway.wait_for_sink(lambda entries: [e["id"] for e in entries].count(event_id) == 2)

    def archived_twice() -> bool:
        page.reload()
        shown = page.get_by_role("list", name="Attempts to archive").get_by_role("listitem")
        return shown.count() == 2 and all("#1 delivered" in t for t in shown.all_inner_texts())

    wait_until(archived_twice)
    app = page.get_by_role("region", name="Destination app")

    with serve_http(gateway.app_port) as received:
        app.get_by_role("button", name="Redeliver to app").click()
        assert page.get_by_role("status").inner_text() == "Queued again: 1 deliveries"

        def delivered() -> bool:
            page.reload()
            return (
                "delivered" in page.get_by_role("region", name="Destination app").locator("h3").inner_text()
            )

        wait_until(delivered)
        assert any(event_id.encode() in r.body for r in received.received)
    attempts = page.get_by_role("list", name="Attempts to app").get_by_role("listitem")
    assert attempts.count() == 2
    assert "#1 delivered" in attempts.nth(1).inner_text()  # a redrive starts a fresh budget
    screenshot(page, "event-redelivered")


def test_a_forged_request_is_shown_with_its_cause_and_the_fix(page: Any, gateway: ConsoleServed) -> None:
    body = stripe_event(f"evt_forged_{uuid.uuid4().hex[:8]}")
    forged = httpx.post(
        f"{gateway.url}/webhooks/stripe",
        content=body,
        headers=stripe_headers(body, secret="whsec_not_the_configured_secret"),
    )
    assert forged.status_code == 401
    log_in(page)
    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Outcome").select_option("rejected")
    with page.expect_navigation():  # the filtered page, loaded before it is reloaded
        page.get_by_role("button", name="Filter").click()

    def shown() -> Any:
        page.reload()
        found = page.locator("li.request.rejected").filter(has_text="bad_signature")
        return found.count() and found.first

    item = wait_until(shown)
    text = item.inner_text()
    assert "401" in text
    assert "stripe" in text
    assert "Cause: bad_signature" in text
    assert "Fix: copy the provider's secret again" in text
    assert "re-encoded body" in text  # the usual reasons: secret, proxy, URL
    item.get_by_text("Headers").click()
    headers = item.locator("table").inner_text()
    assert "stripe-signature" in headers
    assert "[redacted]" in headers
    assert forged.request.headers["stripe-signature"].split(",v1=")[1] not in page.content()
    screenshot(page, "requests-forged")


def test_the_overview_charts_accepted_and_rejected_requests_per_source(
    page: Any, gateway: ConsoleServed
) -> None:
    gateway.send_stripe()
    body = stripe_event()
    stale = stripe_headers(body, timestamp=int(time.time()) - 3600)
    assert httpx.post(f"{gateway.url}/webhooks/stripe", content=body, headers=stale).status_code == 401
    log_in(page)

    def counted() -> Any:
        page.reload()
        label = page.locator('figure svg[aria-label^="stripe, last hour"]').get_attribute("aria-label")
        match = re.match(r"stripe, last hour: (\d+) accepted, (\d+) rejected", label or "")
        return match and int(match[1]) >= 1 and int(match[2]) >= 1

    wait_until(counted)
    assert page.locator("figure").filter(has_text="github").count() == 1  # a quiet source too
    queue = page.get_by_role("region", name="Queue table")
    destinations = queue.locator("tbody tr td:first-child").all_inner_texts()
    assert sorted(destinations) == ["app", "archive", "bus/paid/ledger"]
    screenshot(page, "overview-with-traffic")


def test_a_discovered_schema_is_opened_diffed_and_its_python_binding_downloaded(
    page: Any, gateway: ConsoleServed, tmp_path: Path
) -> None:
    name = "hookgate.stripe@InvoiceFinalized"  # only this test sends invoice.finalized

    def latest() -> str | None:
        found = {s["name"]: s for s in gateway.api("/schemas", source="stripe")["schemas"]}
        return found[name]["latest_version"] if name in found else None

    sent = [gateway.send_stripe(kind="invoice.finalized")]
    wait_until(lambda: latest() == "1")
    sent.append(gateway.send_stripe(kind="invoice.finalized", discount_code="SPRING"))
    wait_until(lambda: latest() == "2")

    log_in(page)
    page.get_by_role("link", name="Schemas").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    assert "drift v2" in row.inner_text()  # a new property breaks BACKWARD, the default mode
    assert "v2" in row.get_by_role("cell").nth(3).inner_text()
    screenshot(page, "schemas-list")
    assert serious_violations(page) == []

    row.get_by_role("link", name=name).click()
    page.wait_for_url(f"**/console/schemas/{quote(name, safe='')}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Schema {name}"
    versions = page.get_by_role("region", name="Versions").locator("tbody tr")
    assert versions.count() == 2
    assert sent[1] in versions.nth(1).inner_text()  # the sample event of version 2
    shown = json.loads(page.locator("pre.schema").inner_text())
    assert shown["components"]["schemas"]["AWSEvent"]["x-amazon-events-detail-type"] == "invoice.finalized"
    assert "discount_code" in json.dumps(shown)  # the latest version, shown first

    form = page.get_by_role("form", name="Compare two versions")
    form.get_by_label("From").select_option("1")
    form.get_by_label("To").select_option("2")
    form.get_by_role("button", name="Compare").click()
    changes = page.get_by_role("region", name="Changes")
    text = changes.inner_text()
    assert "incompatible PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at /payload/data/object/discount_code" in (
        " ".join(text.split())
    )
    assert "Verdict: incompatible (BACKWARD)" in text
    screenshot(page, "schema-diffed")
    assert serious_violations(page) == []

    # the download, from the keyboard
    button = page.get_by_role("group", name="Download code bindings of version 2").get_by_role(
        "button", name="Python (pydantic)"
    )
    button.focus()
    with page.expect_download() as started:
        page.keyboard.press("Enter")
    download = started.value
    assert download.suggested_filename == f"{name}-v2-python-pydantic.zip"
    archive = tmp_path / download.suggested_filename
    download.save_as(archive)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path / "bindings")
    events = tmp_path / "finalized.jsonl"
    stored = [e for e in gateway.sink_entries() if e["detail-type"] == "invoice.finalized"]
    assert {e["id"] for e in stored} == set(sent)
    events.write_text("".join(json.dumps(e) + "\n" for e in stored))
    parsed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom schema.hookgate.stripe.invoicefinalized import InvoiceFinalized, parse\n"
            "print(sum(isinstance(parse(line).detail, InvoiceFinalized) for line in open(sys.argv[1])))",
            str(events),
        ],
        cwd=tmp_path / "bindings",
        capture_output=True,
        text=True,
        check=True,
    )
    assert parsed.stdout.strip() == "2"


# Last in the module: by now every page has something to show (events in each state,
# rejected requests, dead letters, a replay).
def test_every_page_renders_accessibly_on_a_laptop_and_a_phone_in_light_and_dark(
    browser: Any, gateway: ConsoleServed
) -> None:
    problems: dict[str, list[str]] = {}
    event_id = gateway.send_stripe()
    pages = [*PAGES, f"/events/{event_id}", f"/schemas/{quote(PAID, safe='')}?from=1&to=1"]
    wait_until(lambda: any(s["name"] == PAID for s in gateway.api("/schemas")["schemas"]))
    for scheme in ("light", "dark"):
        for device, viewport in (("laptop", {"width": 1280, "height": 800}), ("phone", PHONE)):
            context = browser.new_context(base_url=gateway.url, viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            log_in(page)
            for path in pages:
                page.goto(f"/console{path}")
                name = "event" if path.startswith("/events/") else path.strip("/") or "overview"
                name = "schema" if path.startswith("/schemas/") else name
                assert page.locator("h1").count() == 1, name
                screenshot(page, f"{name}-{device}-{scheme}")
                found = serious_violations(page)
                if found:
                    problems[f"{name} {device} {scheme}"] = found
                if device == "phone":  # nothing wider than the screen but what scrolls on purpose
                    wide = page.evaluate(
                        "[...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll, pre')"
                        " && e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName)"
                    )
                    assert wide == [], f"{name}: {wide}"
            context.close()
    assert problems == {}
