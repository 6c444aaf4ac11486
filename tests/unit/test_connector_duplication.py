"""No two connector modules share a block of six or more lines: pylint's duplicate-code
check (its similarity checker) over `connectors/` finds nothing. Shared shapes belong in
`connectors.toolkit`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: Blocks this long or longer count; comments, docstrings and imports are ignored, the
#: signatures of functions are not.
MIN_LINES = 6


def duplicates(*paths: Path) -> list[dict[str, Any]]:
    """The duplicate-code findings of pylint over `paths`."""
    command = [
        sys.executable,
        "-m",
        "pylint",
        "--rcfile=",
        "--disable=all",
        "--enable=duplicate-code",
        f"--min-similarity-lines={MIN_LINES}",
        "--ignore-comments=y",
        "--ignore-docstrings=y",
        "--ignore-imports=y",
        "--ignore-signatures=n",
        "--output-format=json2",
        "--score=n",
        *map(str, paths),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)
    assert done.returncode in (0, 8), done.stderr  # 8: refactoring messages were found
    messages: list[dict[str, Any]] = json.loads(done.stdout)["messages"]
    return [m for m in messages if m["symbol"] == "duplicate-code"]


def test_no_two_connector_modules_share_a_block() -> None:
    found = duplicates(ROOT / "connectors")
    assert not found, "\n\n".join(m["message"] for m in found)


def test_the_scan_finds_a_copied_block(tmp_path: Path) -> None:
    package = tmp_path / "copies"
    package.mkdir()
    (package / "__init__.py").write_text('"""Two copies."""\n')
    shutil.copy(ROOT / "connectors" / "plaid.py", package / "one.py")
    shutil.copy(ROOT / "connectors" / "plaid.py", package / "two.py")
    [finding] = duplicates(package)
    assert "Similar lines in 2 files" in finding["message"]
    assert "copies.one" in finding["message"]
    assert "copies.two" in finding["message"]
