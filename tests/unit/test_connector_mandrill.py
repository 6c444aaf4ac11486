"""Mandrill: base64 HMAC-SHA1 over URL + sorted params, the HEAD check and empty test
batch, batches fanned out, rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl, urlencode

import pytest

from connectors import VerificationError, WebhookRequest
from connectors.mandrill import MandrillConnector
from connectors.testing import check_connector, check_malformed, check_rotation

from ._fakes import NOW
from ._support import fixture

KEY = "mandrill-webhook-key"
URL = "https://hooks.example.com/webhooks/mandrill"


def connector(*keys: str, **options: object) -> MandrillConnector:
    return MandrillConnector.from_config({"secrets": list(keys or [KEY]), **options})


def signature(body: bytes, url: str = URL, key: str = KEY) -> str:
    """Mandrill's documented algorithm: the URL, then each POST key and value, sorted by key."""
    params = dict(parse_qsl(body.decode()))
    content = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(key.encode(), content.encode(), hashlib.sha1).digest()).decode()


def delivery(body: bytes, url: str = URL, key: str = KEY) -> WebhookRequest:
    headers = {
        "X-Mandrill-Signature": signature(body, url, key),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return WebhookRequest.build(body, headers, url=url)


def test_known_answer() -> None:
    # base64(HMAC-SHA1(KEY, URL + "mandrill_events" + "[]")), computed with the stdlib.
    expected = "ccsuRlpY31SFHDTAdvC24spDYPQ="
    assert signature(b"mandrill_events=%5B%5D") == expected
    assert (
        connector().sign(b"mandrill_events=%5B%5D", NOW, url=URL).headers["X-Mandrill-Signature"] == expected
    )


def test_fixture_fans_out() -> None:
    req = delivery(fixture("mandrill", "events.form"))
    connector().verify(req, NOW)
    sent, opened, bounced = connector().normalize(req)
    assert (sent.type, opened.type, bounced.type) == ("send", "open", "hard_bounce")
    assert sent.provider_event_id == opened.provider_event_id == "a9fd3b1c8e2f4d6a9b0c7e5f3d1a2b4c"
    assert len({sent.dedup_key, opened.dedup_key, bounced.dedup_key}) == 3
    assert opened.occurred_at is not None
    assert opened.occurred_at.isoformat() == "2025-03-22T19:31:40+00:00"


def test_sync_events() -> None:
    body = urlencode({"mandrill_events": json.dumps([{"type": "blacklist", "action": "add", "reject": {}}])})
    [event] = connector().normalize(WebhookRequest.build(body.encode()))
    assert event.type == "blacklist.add"


def test_head_and_the_empty_test_batch() -> None:
    head = connector().handshake(WebhookRequest.build(b"", method="HEAD", url=URL), NOW)
    assert head is not None
    assert head.status == 200
    empty = delivery(b"mandrill_events=%5B%5D")
    answer = connector().handshake(empty, NOW)
    assert answer is not None
    assert (answer.status, answer.body) == (200, b"")
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().handshake(delivery(b"mandrill_events=%5B%5D", key="other"), NOW)
    assert connector().handshake(delivery(fixture("mandrill", "events.form")), NOW) is None


def test_the_url_and_every_param_are_signed() -> None:
    body = fixture("mandrill", "events.form")
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(body, dict(delivery(body).headers), url=URL + "x"), NOW)
    extra = body + b"&z=1"
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(extra, dict(delivery(body).headers), url=URL), NOW)
    pinned = connector(webhook_url=URL)
    pinned.verify(WebhookRequest.build(body, dict(delivery(body).headers), url="http://internal/"), NOW)


@pytest.mark.parametrize(
    ("body", "headers", "cause"),
    [
        (b"mandrill_events=%5B%5D", {}, "missing_signature"),
        (b"\xff\xfe", {"X-Mandrill-Signature": "x"}, "malformed_body"),
        (b"no equals sign", {"X-Mandrill-Signature": "x"}, "malformed_body"),
    ],
)
def test_refusals(body: bytes, headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(body, headers, url=URL), NOW)
    assert exc.value.cause == cause


def test_rotation() -> None:
    check_rotation(connector, lambda secret: delivery(fixture("mandrill", "events.form"), key=secret), NOW)


def test_unusable_bodies() -> None:
    check_malformed(
        connector(),
        b"other=1",
        b"mandrill_events=nope",
        b"mandrill_events=%5B%5D",
        b"mandrill_events=%5B1%5D",
        b"%%",
    )


def test_check_connector() -> None:
    [event] = check_connector(connector(), NOW)
    assert event.type == "send"
