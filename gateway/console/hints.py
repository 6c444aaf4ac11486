"""What a rejected request's cause means and what fixes it, as docs/troubleshooting.md says.

The troubleshooting page is the one source: its tables (cause | [status |] usual reason |
fix) are read into `hints.json`, which ships with the package; a test checks the file is
current. Regenerate it after editing the page:

    python -m gateway.console.hints docs/troubleshooting.md
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Hint", "hint_for", "parse_troubleshooting"]

_FILE = Path(__file__).with_name("hints.json")
_CODE = re.compile(r"`([a-z_]+)`")


@dataclass(frozen=True, slots=True)
class Hint:
    cause: str
    #: The usual reason, and what fixes it (Markdown: `code` spans, links).
    reason: str
    fix: str


def parse_troubleshooting(markdown: str) -> dict[str, dict[str, str]]:
    """cause → {reason, fix} from the page's tables; the first table naming a cause wins
    (an edge cause's row before a payload cause's row of the same name)."""
    found: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: ") or "fix" not in header or "usual reason" not in header:
            continue
        row = dict(zip(header, cells, strict=False))
        for cause in _CODE.findall(cells[0]):
            found.setdefault(cause, {"reason": row["usual reason"], "fix": row["fix"]})
    return found


@cache
def _hints() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = json.loads(_FILE.read_text())
    return loaded


def hint_for(*causes: str | None) -> Hint | None:
    """The hint of the most precise of `causes` that has one (`cause_detail` before
    `cause`); None when none has."""
    for cause in causes:
        if cause and cause in _hints():
            found = _hints()[cause]
            return Hint(cause, found["reason"], found["fix"])
    return None


def main(argv: list[str]) -> int:
    [page] = argv
    text = json.dumps(parse_troubleshooting(Path(page).read_text()), indent=1, sort_keys=True)
    _FILE.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
