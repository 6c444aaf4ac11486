"""What `sign()` and `sample_body()` need: deterministic delivery ids (same body and clock,
same id) and the default URL signed for.
"""

from __future__ import annotations

import hashlib
import uuid

from connectors.toolkit.bodies import json_or_none, lookup

__all__ = ["DEFAULT_SIGNING_URL", "delivery_uuid", "guess_kind", "stable_id"]

#: The URL `connectors.testing.signed_request` posts to by default, and so the URL that
#: connectors signing over the URL sign for when given none.
DEFAULT_SIGNING_URL = "https://hookgate.example/hooks/test"


def stable_id(prefix: str, body: bytes, now: float) -> str:
    """A deterministic delivery id for `sign()`: same body and clock, same id."""
    digest = hashlib.sha256(b"%r:" % now + body).hexdigest()
    return f"{prefix}{digest[:24]}"


def delivery_uuid(body: bytes, now: float) -> str:
    """For `sign()`: a deterministic UUID (same body and clock, same id)."""
    return str(uuid.UUID(bytes=hashlib.sha256(b"%r:" % now + body).digest()[:16], version=4))


def guess_kind(body: bytes, table: tuple[tuple[str, str], ...], default: str) -> str:
    """For `sign()`: the first `table` value whose dotted path exists in the JSON body."""
    payload = json_or_none(body)
    for path, kind in table:
        if lookup(payload, path) is not None:
            return kind
    return default
