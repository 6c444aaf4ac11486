"""The TypeScript compiler for the code bindings' tests.

`.ci/run` installs `typescript` from the npm registry and names its `tsc` in
`HOOKGATE_TEST_TSC`; elsewhere a `tsc` on PATH does. Without one the tests are skipped, with
the reason, except in CI (`CI` set), where they fail: CI must not pass by skipping them.
"""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["require_node", "require_tsc"]


def _missing(what: str) -> None:
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI requires {what}", pytrace=False)
    pytest.skip(what)


def require_tsc() -> str:
    """The `tsc` to run; skips the test (fails it in CI) when there is none."""
    tsc = os.environ.get("HOOKGATE_TEST_TSC") or shutil.which("tsc")
    if not tsc or not os.access(tsc, os.X_OK):
        _missing(
            "the TypeScript compiler: set HOOKGATE_TEST_TSC to a tsc "
            "(npm install --prefix DIR typescript@5; DIR/node_modules/.bin/tsc) or put one on PATH"
        )
    assert tsc is not None
    return tsc


def require_node() -> str:
    """The `node` that runs the compiled programs (and `tsc` itself)."""
    node = shutil.which("node")
    if node is None:
        _missing("Node.js (node on PATH) to run tsc and the compiled program")
    assert node is not None
    return node
