"""Microsoft Graph: clientState authentication (no signature, so no SDK oracle), the
validationToken echo, fan-out of `value[]` and the dedup rules."""

from __future__ import annotations

import json

import pytest

from connectors import MalformedPayloadError, VerificationError, WebhookRequest
from connectors.microsoft_graph import MicrosoftGraphConnector
from connectors.testing import check_connector, signed_request

from ._fakes import NOW
from ._support import fixture

STATE = "secretClientValue"
CREATED = fixture("microsoft-graph", "created.json")
LIFECYCLE = fixture("microsoft-graph", "lifecycle.json")


def connector(*states: str) -> MicrosoftGraphConnector:
    return MicrosoftGraphConnector.from_config({"secrets": list(states or [STATE])})


def post(body: bytes) -> WebhookRequest:
    return WebhookRequest.build(body, {"Content-Type": "application/json"})


def with_states(*states: object) -> bytes:
    items = [{"changeType": "updated", "resource": f"r/{i}", "clientState": s} for i, s in enumerate(states)]
    return json.dumps({"value": items}).encode()


def test_documented_notification_verifies() -> None:
    connector().verify(post(CREATED), NOW)
    connector("new-state", STATE).verify(post(CREATED), NOW)  # rotation
    with pytest.raises(VerificationError, match="bad_client_state"):
        connector("another").verify(post(CREATED), NOW)


def test_every_item_must_match() -> None:
    connector(STATE, "b").verify(post(with_states(STATE, "b")), NOW)
    with pytest.raises(VerificationError, match="bad_client_state"):
        connector().verify(post(with_states(STATE, "forged")), NOW)
    with pytest.raises(VerificationError, match="missing_client_state"):
        connector().verify(post(with_states(STATE, None)), NOW)


@pytest.mark.parametrize(
    "body", [b"", b"x", b"[]", b"{}", b'{"value": []}', b'{"value": {}}', b'{"value": [1]}', b"[" * 100_000]
)
def test_malformed_bodies_fail_closed(body: bytes) -> None:
    with pytest.raises(VerificationError):
        connector().verify(post(body), NOW)


def test_client_state_config_limits() -> None:
    with pytest.raises(ValueError, match="1-255"):
        connector("x" * 256)
    with pytest.raises(ValueError, match="1-255"):
        connector("")


def test_validation_token_echo() -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 9a7f"
    req = WebhookRequest.build(b"", {"Content-Type": "text/plain"}, query=f"validationToken={token}")
    answer = connector().handshake(req, NOW)
    assert answer is not None
    assert (answer.status, answer.body, answer.content_type) == (200, token.encode(), "text/plain")
    encoded = WebhookRequest.build(b"", query="validationToken=a%3Ab%20c")
    answer = connector().handshake(encoded, NOW)
    assert answer is not None
    assert answer.body == b"a:b c"  # URL-decoded


@pytest.mark.parametrize("token", ["", "x" * 1025, "a\nb", "\u00e9"])
def test_odd_validation_tokens_are_refused(token: str) -> None:
    answer = connector().handshake(WebhookRequest.build(b"", query=[("validationToken", token)]), NOW)
    assert answer is not None
    assert answer.status == 400


def test_fan_out_strips_client_state() -> None:
    assert connector().handshake(post(CREATED), NOW) is None
    events = connector().normalize(post(CREATED))
    assert [e.type for e in events] == ["created", "updated"]
    assert all("clientState" not in e.payload for e in events)
    assert len({e.dedup_key for e in events}) == 2
    # etag-versioned items: a retry gives the same keys.
    assert [e.dedup_key for e in connector().normalize(post(CREATED))] == [e.dedup_key for e in events]


def test_lifecycle_events_are_never_swallowed() -> None:
    [first] = connector().normalize(post(LIFECYCLE))
    [second] = connector().normalize(post(LIFECYCLE))
    assert first.type == "reauthorizationRequired"
    assert first.dedup_key != second.dedup_key


def test_item_id_is_the_dedup_key() -> None:
    body = b'{"value": [{"id": "lsgTZMr9KwAAA", "changeType": "created", "clientState": "s"}]}'
    [event] = connector().normalize(post(body))
    assert event.dedup_key == event.provider_event_id == "lsgTZMr9KwAAA"


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"{}",
        b'{"value": [1]}',
        b'{"value": [{}]}',
        b'{"value": []}',
        b'{"value": [{"changeType": 1}]}',
    ],
)
def test_normalize_rejects_unusable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(post(body))


def test_sign_sets_client_state() -> None:
    delivery = connector("mine").sign(CREATED, NOW)
    assert all(i["clientState"] == "mine" for i in json.loads(delivery.body)["value"])
    with pytest.raises(ValueError, match="notification collection"):
        connector().sign(b"[]", NOW)


def test_check_connector() -> None:
    # The credential travels in the body, so the kit's "same body without the provider's
    # headers is refused" check cannot hold; clientState does not protect the body either.
    with pytest.raises(AssertionError, match="a bare delivery passed"):
        check_connector(connector(), NOW, signs_body=False)
    req = signed_request(connector(), now=NOW)
    assert connector().handshake(req, NOW) is None
    connector().verify(req, NOW)
    [event] = connector().normalize(req)
    assert event.type == "created"
    with pytest.raises(VerificationError):
        connector("other").verify(req, NOW)
