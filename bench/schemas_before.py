"""`hookgate` as it checked and discovered schemas before the fast paths, for
`bench/schemas.py` to measure against in the same run.

Run as `python bench/schemas_before.py serve --config FILE`: the same gateway, with two
seams put back as they were: enforcement walks the pinned schema with `first_mismatch`
for every event (no compiled check), and discovery infers and merges every event (no
fit-check against the known version).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gateway.schemas._discovery as discovery
import gateway.schemas._enforce as enforce
from gateway.cli import main
from gateway.schemas import Limits


def walked(schema: dict[str, Any]) -> Callable[[Any], bool]:
    """The check as it was: the walk that builds a path at every step."""
    return lambda value: enforce.first_mismatch(schema, value) is None


def never_described(schema: dict[str, Any], value: Any, limits: Limits = Limits()) -> bool:  # noqa: B008 - the signature it replaces
    return False


enforce.compile_check = walked
discovery.describes = never_described  # type: ignore[attr-defined]  # the seam it puts back

if __name__ == "__main__":
    main()
