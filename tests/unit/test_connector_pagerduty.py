"""PagerDuty v3: several `v1=` signatures (rotation), event ids and types, fuzzing."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.pagerduty import PagerDutyConnector
from connectors.testing import check_connector, check_malformed, signed_request

from ._fakes import NOW
from ._support import fixture

SECRET = "5cm9FCrxS2kRwH5zQuqmt4nRmcRYGL7xOVBUjrR1Ag8OKJzqK5Lf3ikjj0B1ZB2N"
HUSH = "v1=796aa882fa14a077f11a8ce83aeaffea62bc7e9a27834fa93e05caa3aaa5bb44"
OLD = "v1=ed11bca9943d125e851a8fae3c72c4353eb543d8cf963d040c2f9812cce7b3a4"


def connector(*secrets: str) -> PagerDutyConnector:
    return PagerDutyConnector.from_config({"secrets": list(secrets or [SECRET])})


def signature(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(body: bytes, *secrets: str) -> WebhookRequest:
    header = ",".join(signature(s, body) for s in secrets or [SECRET])
    return WebhookRequest.build(body, {"X-PagerDuty-Signature": header, "X-Webhook-Id": "wh-1"})


def test_known_answer() -> None:
    # HMAC-SHA256 hex of "Hello, World!" under "hush" and "old", computed with the stdlib.
    assert signature("hush", b"Hello, World!") == HUSH
    assert signature("old", b"Hello, World!") == OLD
    for header in [HUSH, f"{OLD},{HUSH}", f"{HUSH}, {OLD}", f"v0=abc,{HUSH.upper().replace('V1=', 'v1=')}"]:
        connector("hush").verify(
            WebhookRequest.build(b"Hello, World!", {"X-PagerDuty-Signature": header}), NOW
        )
    assert (
        connector("hush", "old").sign(b"Hello, World!", NOW).headers["X-PagerDuty-Signature"]
        == f"{HUSH},{OLD}"
    )


def test_rotation_in_both_directions() -> None:
    body = fixture("pagerduty", "incident.triggered.json")
    connector("new").verify(delivery(body, "old", "new"), NOW)  # PagerDuty sends both
    connector("new", "old").verify(delivery(body, "old"), NOW)  # we hold both
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("new").verify(delivery(body, "old", "older"), NOW)


def test_fixture() -> None:
    req = delivery(fixture("pagerduty", "incident.triggered.json"))
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "incident.triggered"
    assert event.dedup_key == event.provider_event_id == "01DEN4HPBQAM6ATCIL4VRLE2FE"
    assert event.delivery_id == "wh-1"
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2020-10-02T18:45:22.169000+00:00"
    [ping] = connector().normalize(delivery(fixture("pagerduty", "pagey.ping.json")))
    assert ping.type == "pagey.ping"


def test_unusable_bodies() -> None:
    check_malformed(
        connector(),
        b"[]",
        b"{}",
        b'{"event": {"id": "x"}}',
        b'{"event": {"event_type": "incident.triggered"}}',
        b"x",
    )


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        (HUSH.removeprefix("v1="), "malformed_signature"),
        ("v0=abc,v2=def", "malformed_signature"),
        (",,,", "malformed_signature"),
        ("v1=,v1=\udcff", "bad_signature"),
        (OLD, "bad_signature"),
    ],
)
def test_garbled_headers(value: str | None, cause: str) -> None:
    headers = {} if value is None else {"X-PagerDuty-Signature": value}
    with pytest.raises(VerificationError) as exc:
        connector("hush").verify(WebhookRequest.build(b"Hello, World!", headers), NOW)
    assert exc.value.cause == cause


def test_no_timestamp_so_any_clock_is_fine() -> None:
    req = signed_request(connector(), now=NOW)
    connector().verify(req, 0)
    connector().verify(req, NOW * 2)


def test_check_connector() -> None:
    [event] = check_connector(connector("a", "b"), NOW)
    assert event.type == "incident.triggered"
