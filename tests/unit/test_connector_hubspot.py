"""HubSpot: the official v1/v2 vectors, `Signature` both ways for v3, tolerance, fan-out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
from hubspot.utils.signature import Signature  # type: ignore[import-untyped]
from pydantic import ValidationError

from connectors import MalformedPayloadError, VerificationError, WebhookRequest, sha256_of_parts
from connectors.hubspot import HubSpotConnector, decode_v3_uri
from connectors.testing import check_connector, tamper

from ._fakes import NOW
from ._support import fixture

# hubspot-api-client's documented vectors.
DOCS_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
V1_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)
V1_SIGNATURE = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
V2_URL = "https://www.example.com/webhook_uri"
V2_SIGNATURE = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
URL = "https://hooks.example.com/webhooks/hubspot"
BODY = fixture("hubspot", "contact.batch.json")


def connector(*secrets: str, **options: Any) -> HubSpotConnector:
    return HubSpotConnector.from_config({"secrets": list(secrets or [DOCS_SECRET]), **options})


def deliver(c: HubSpotConnector, body: bytes = BODY, now: float = NOW, url: str = URL) -> WebhookRequest:
    d = c.sign(body, now, url=url)
    return WebhookRequest.build(d.body, d.headers, method=d.method, url=url)


def v1_only(req: WebhookRequest) -> WebhookRequest:
    headers = [(k, v) for k, v in req.headers.raw() if not k.startswith("x-hubspot-signature-v3")]
    return WebhookRequest.build(req.body, headers, method=req.method, url=req.url)


def oracle(secret: str, req: WebhookRequest, version: str) -> bool:
    h = req.headers
    signature = h.get("x-hubspot-signature-v3" if version == "v3" else "x-hubspot-signature", "")
    try:
        return bool(
            Signature.is_valid(
                signature,
                secret,
                req.body.decode(),
                http_uri=decode_v3_uri(req.url) if version == "v3" else req.url,
                http_method=req.method,
                signature_version=version,
                timestamp=h.get("x-hubspot-request-timestamp"),
            )
        )
    except Exception:  # noqa: BLE001 - v3 raises InvalidSignatureTimestampError when stale
        return False


def test_v1_docs_vector() -> None:
    headers = {"X-HubSpot-Signature": V1_SIGNATURE, "X-HubSpot-Signature-Version": "v1"}
    req = WebhookRequest.build(V1_BODY, headers, url=URL)
    connector().verify(req, NOW)
    assert connector().sign(V1_BODY, NOW).headers["X-HubSpot-Signature"] == V1_SIGNATURE
    assert oracle(DOCS_SECRET, req, "v1")
    connector().verify(
        WebhookRequest.build(V1_BODY, {**headers, "X-HubSpot-Signature": V1_SIGNATURE.upper()}), 0
    )


def test_v2_docs_vector() -> None:
    headers = {"X-HubSpot-Signature": V2_SIGNATURE, "X-HubSpot-Signature-Version": "v2"}
    req = WebhookRequest.build(b"", headers, method="GET", url=V2_URL)
    connector().verify(req, NOW)
    assert oracle(DOCS_SECRET, req, "v2")
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(b"", headers, method="POST", url=V2_URL), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(b"", headers, method="GET", url=V2_URL + "/"), NOW)


def test_v3_our_signature_passes_the_sdk() -> None:
    now = time.time()  # the SDK checks v3 timestamps against the real clock
    req = deliver(connector("app-secret"), now=now)
    connector("app-secret").verify(req, now)
    assert oracle("app-secret", req, "v3")
    assert oracle("app-secret", v1_only(req), "v1")
    assert not oracle("other", req, "v3")
    assert not oracle("app-secret", tamper(req), "v3")


def test_v3_sdk_signature_passes_ours() -> None:
    url = "https://hooks.example.com/webhooks/hubspot?portal=33&x=%3Aa%2Fb%3f%40"
    ts = str(NOW * 1000)
    sig = Signature.get_signature(
        "app-secret", BODY.decode(), "v3", http_uri=decode_v3_uri(url), http_method="POST", timestamp=ts
    )
    headers = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts}
    connector("app-secret").verify(WebhookRequest.build(BODY, headers, url=url), NOW)
    assert decode_v3_uri(url).endswith("x=:a/b?@")


def test_v3_by_hand() -> None:
    ts = "1700000000123"
    signed = b"POST" + URL.encode() + BODY + ts.encode()
    sig = base64.b64encode(hmac.new(b"app-secret", signed, hashlib.sha256).digest()).decode()
    headers = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts}
    connector("app-secret").verify(WebhookRequest.build(BODY, headers, url=URL), NOW)


def test_v3_failure_does_not_fall_back_to_v1() -> None:
    req = deliver(connector())
    bad = [(k, "AAAA" if k == "x-hubspot-signature-v3" else v) for k, v in req.headers.raw()]
    with pytest.raises(VerificationError, match="bad_signature"):
        connector().verify(WebhookRequest.build(req.body, bad, url=URL), NOW)
    connector().verify(v1_only(req), NOW)  # the v1 header alone is fine...
    with pytest.raises(VerificationError, match="version_not_allowed"):
        connector(signature_versions=["v3"]).verify(v1_only(req), NOW)  # ...unless v1 is refused
    with pytest.raises(VerificationError, match="version_not_allowed"):
        connector(signature_versions=["v1"]).verify(req, NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_v3_tolerance_is_two_sided(offset: int, ok: bool) -> None:
    req = deliver(connector(), now=NOW + offset)
    if ok:
        connector().verify(req, NOW)
    else:
        with pytest.raises(VerificationError, match="stale_timestamp"):
            connector().verify(req, NOW)
        connector(tolerance_seconds=302).verify(req, NOW)


def test_rotation() -> None:
    req = deliver(connector("old"))
    connector("new", "old").verify(req, NOW)
    connector("new", "old").verify(v1_only(req), NOW)
    with pytest.raises(VerificationError, match="bad_signature"):
        connector("new").verify(req, NOW)


def test_batch_fans_out_with_own_dedup_keys() -> None:
    events = connector().normalize(deliver(connector()))
    assert [e.type for e in events] == ["contact.propertyChange", "contact.creation"]
    assert [e.dedup_key for e in events] == [
        "33:25:3816279340:1462216307945",
        "33:22:3816279480:1462216307945",
    ]
    assert [e.provider_event_id for e in events] == ["3816279340", "3816279480"]
    assert events[0].occurred_at is not None
    assert events[0].occurred_at.timestamp() == 1462216307.945
    assert events[1].payload["changeSource"] == "IMPORT"


def test_single_object_body() -> None:
    body = b'{"vid": 1246965, "properties": {"email": {"value": "jane@example.com"}}}'
    [event] = connector(default_type="hubspot.workflow").normalize(WebhookRequest.build(body))
    assert event.type == "hubspot.workflow"
    assert event.dedup_key == sha256_of_parts(
        "hubspot", b'{"properties":{"email":{"value":"jane@example.com"}},"vid":1246965}'
    )


@pytest.mark.parametrize(
    "body", [b"nope", b"[]", b"[1]", b'[{"subscriptionType": 5}]', b'{"subscriptionType": ""}']
)
def test_normalize_rejects_unusable(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError):
        connector().normalize(WebhookRequest.build(body))


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({}, "missing_signature"),
        ({"X-HubSpot-Signature": V1_SIGNATURE}, "unsupported_version"),
        ({"X-HubSpot-Signature": V1_SIGNATURE, "X-HubSpot-Signature-Version": "v9"}, "unsupported_version"),
        ({"X-HubSpot-Signature-v3": ""}, "missing_signature"),
        ({"X-HubSpot-Signature-v3": "AAAA"}, "missing_timestamp"),
        ({"X-HubSpot-Signature-v3": "AAAA", "X-HubSpot-Request-Timestamp": "17e11"}, "malformed_timestamp"),
        ({"X-HubSpot-Signature-v3": "AAAA", "X-HubSpot-Request-Timestamp": "\u00b2"}, "malformed_timestamp"),
        ({"X-HubSpot-Signature-v3": "\udcff", "X-HubSpot-Request-Timestamp": "1"}, "bad_signature"),
    ],
)
def test_garbled_headers(headers: dict[str, str], cause: str) -> None:
    with pytest.raises(VerificationError) as exc:
        connector().verify(WebhookRequest.build(V1_BODY, headers, url=URL), NOW)
    assert exc.value.cause == cause


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError):
        connector(signature_versions=["v4"])
    with pytest.raises(ValidationError):
        connector(signature_versions=[])


def test_check_connector() -> None:
    events = check_connector(connector(), NOW)
    assert [e.type for e in events] == ["contact.creation", "contact.propertyChange"]
