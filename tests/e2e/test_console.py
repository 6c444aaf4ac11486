"""The web console in a real headless Chromium, on a real `hookgate serve` over HTTP.

Every page is screenshotted (laptop and phone, light and dark) into
`test-artifacts/console/` and checked by axe-core: no serious or critical violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.browser import chromium, screenshot, serious_violations
from tests.helpers.served import Served, base_config, free_port

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
PAGES = ["/", "/sources", "/events", "/requests", "/dead-letters", "/replays", "/rules", "/live"]
PHONE = {"width": 390, "height": 844}


class ConsoleServed(Served):
    def env(self) -> dict[str, str]:
        return {**super().env(), "E2E_ADMIN_TOKEN": ADMIN_TOKEN}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("console")
    port = free_port()
    config = tmp / "hookgate.toml"
    config.write_text(base_config(tmp, port, extra=ADMIN))
    served = ConsoleServed(tmp, config, port)
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
    # uvicorn trusts X-Forwarded-Proto from the local address (its forwarded_allow_ips
    # default): a TLS-terminating proxy on the same host
    logged = httpx.post(
        f"{gateway.url}/console/login", data={"token": VIEWER_TOKEN}, headers={"X-Forwarded-Proto": "https"}
    )
    assert logged.status_code == 303
    cookie = logged.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_every_page_renders_accessibly_on_a_laptop_and_a_phone_in_light_and_dark(
    browser: Any, gateway: Served
) -> None:
    problems: dict[str, list[str]] = {}
    for scheme in ("light", "dark"):
        for device, viewport in (("laptop", {"width": 1280, "height": 800}), ("phone", PHONE)):
            context = browser.new_context(base_url=gateway.url, viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            log_in(page)
            for path in PAGES:
                page.goto(f"/console{path}")
                name = path.strip("/") or "overview"
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
