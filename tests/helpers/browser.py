"""A real headless Chromium for the web console's tests: the system's `chromium` package
driven by Playwright (no browser is ever downloaded), screenshots written as test
artifacts, and axe-core's accessibility check.

Without a `chromium` on PATH the tests are skipped with the reason, except in CI (`CI`
set), where they fail: CI must not pass by skipping them (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Where the screenshots of each page go (git-ignored), `HOOKGATE_TEST_ARTIFACTS` to move it.
ARTIFACTS = Path(os.environ.get("HOOKGATE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "console"
#: What Chromium needs to run headless in a container as root, and quietly: no network
#: of its own (updates, sync, first-run pages).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: axe-core impacts that fail a page.
FAILING_IMPACTS = frozenset({"serious", "critical"})


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> str:
    """The system's chromium; skips the test (fails it in CI) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "no chromium on PATH: apt-get install -y chromium (the browser tests never download one)"
        if in_ci():
            pytest.fail(f"CI requires chromium: {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright `Browser`)."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only where a browser runs

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot of `page` as `test-artifacts/console/NAME.png`."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on `page`, one line each (none: [])."""
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415

    result = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
        if v.get("impact") in FAILING_IMPACTS
    ]
