"""HubSpot: signature v3 (HMAC over method, URL, body, timestamp), and the older v1/v2.

* **v3**: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256, keyed with the app's client
  secret, over `method + uri + body + timestamp`, where the timestamp is
  `X-HubSpot-Request-Timestamp` (unix milliseconds) and `uri` is the full URL HubSpot
  called with `%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B` decoded. The timestamp
  must be within `tolerance_seconds` of now, on both sides (HubSpot: reject older than
  5 minutes).
* **v2**: `X-HubSpot-Signature` with `X-HubSpot-Signature-Version: v2` = hex SHA-256 (not
  an HMAC) of `client_secret + method + uri + body`.
* **v1**: the same header with version `v1` = hex SHA-256 of `client_secret + body`.

When a v3 signature is present it alone decides (no fallback to v1 on failure, so nobody
can downgrade); `signature_versions` limits what is accepted at all. v1 and v2 sign no
timestamp: for them replay protection is dedup only. The URL is the one the gateway
reconstructs from the configured `public_url`, never the `Host` header.

Webhook subscriptions deliver a JSON array of up to 100 events; each becomes one event
of type `subscriptionType` (`contact.propertyChange`), deduplicated on
`(portalId, subscriptionId, eventId, occurredAt)` (HubSpot says `eventId` alone is not
guaranteed unique; `attemptNumber` changes on retries, so it is left out). A single JSON
object (workflow webhooks, CRM cards) is one event of `default_type` unless it carries a
`subscriptionType`; without an `eventId` its dedup key is a hash of its JSON.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any, Literal

from pydantic import Field

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    secret_values,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    DEFAULT_SIGNING_URL,
    MAX_TYPE_LENGTH,
    any_match,
    check_event_type,
    check_hmac,
    check_tolerance,
    parse_millis,
    to_bytes,
)

__all__ = ["DEFAULT_SIGNING_URL", "HubSpotConnector", "HubSpotOptions", "decode_v3_uri"]

_V3_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_V3_PATTERN = re.compile("|".join(_V3_DECODED), re.IGNORECASE)
Version = Literal["v1", "v2", "v3"]


def _all_versions() -> list[Version]:
    return ["v1", "v2", "v3"]


class HubSpotOptions(SecretsOptions):
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew of a v3 timestamp, both directions")
    signature_versions: list[Version] = Field(
        default_factory=_all_versions,
        min_length=1,
        description="signature versions accepted",
    )
    default_type: str = Field(
        "hubspot.webhook",
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        description="event type of an item without `subscriptionType`",
    )
    signing_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="URL sign() signs for (hookgate send-test); verification uses the called URL",
    )


class HubSpotConnector(Connector[HubSpotOptions]):
    name = "hubspot"
    summary = "HubSpot webhooks (signature v3 with timestamp, v2, v1; batch fan-out, rotation)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        allowed = self.options.signature_versions
        secrets = secret_values(self.options.secrets)
        v3 = request.headers.get("x-hubspot-signature-v3")
        if v3 is not None:
            if "v3" not in allowed:
                raise VerificationError("version_not_allowed")
            self._verify_v3(request, v3.strip(), secrets, now)
            return
        signature = request.headers.get("x-hubspot-signature", "").strip()
        if not signature:
            raise VerificationError("missing_signature")
        version = request.headers.get("x-hubspot-signature-version", "").strip().lower()
        if version not in ("v1", "v2"):
            raise VerificationError("unsupported_version")
        if version not in allowed:
            raise VerificationError("version_not_allowed")
        rest = request.body
        if version == "v2":
            rest = to_bytes(request.method) + to_bytes(request.url) + request.body
        expected = [hashlib.sha256(secret + rest).hexdigest().encode() for secret in secrets]
        if not any_match(expected, [to_bytes(signature.lower())]):
            raise VerificationError("bad_signature")

    def _verify_v3(self, request: WebhookRequest, signature: str, secrets: list[bytes], now: float) -> None:
        if not signature:
            raise VerificationError("missing_signature")
        ts_header = request.headers.get("x-hubspot-request-timestamp", "").strip()
        if not ts_header:
            raise VerificationError("missing_timestamp")
        millis = parse_millis(ts_header)
        signed = _v3_content(request.method, request.url, request.body, ts_header)
        check_hmac(secrets, signed, [to_bytes(signature)], encoding="base64")
        check_tolerance(millis // 1000, now, self.options.tolerance_seconds)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = parse_json(request.body)
        if isinstance(payload, list):
            if not payload:
                raise MalformedPayloadError("empty_batch")
            return [self._event(item, request.body) for item in payload]
        return [self._event(payload, request.body)]

    def _event(self, item: Any, body: bytes) -> ProviderEvent:
        if not isinstance(item, dict):
            raise MalformedPayloadError("not_an_object")
        raw_type = item.get("subscriptionType")
        event_type = (
            self.options.default_type if raw_type is None else check_event_type(raw_type, "subscriptionType")
        )
        event_id = item.get("eventId")
        if isinstance(event_id, bool) or not isinstance(event_id, int | str) or event_id == "":
            key = sha256_of_parts(self.name, json.dumps(item, sort_keys=True, separators=(",", ":")))
            provider_id = None
        else:
            provider_id = str(event_id)
            parts = (item.get("portalId"), item.get("subscriptionId"), event_id, item.get("occurredAt"))
            key = ":".join("" if p is None else str(p) for p in parts)
        return ProviderEvent(
            type=event_type,
            payload=item,
            dedup_key=key,
            provider_event_id=provider_id,
            occurred_at=utc_from_timestamp(item.get("occurredAt")),
        )

    def sign(
        self, body: bytes, now: float, *, url: str | None = None, method: str = "POST"
    ) -> SignedDelivery:
        """Sign as HubSpot's webhooks do: v3 (for `url`, else `signing_url`, else the test
        kit's default URL) and the v1 header."""
        url = url or self.options.signing_url or DEFAULT_SIGNING_URL
        secret = secret_values(self.options.secrets)[0]
        timestamp = str(int(now * 1000))
        v3 = hmac.new(secret, _v3_content(method, url, body, timestamp), hashlib.sha256).digest()
        return SignedDelivery(
            body=body,
            method=method,
            headers={
                "X-HubSpot-Signature-v3": base64.b64encode(v3).decode(),
                "X-HubSpot-Request-Timestamp": timestamp,
                "X-HubSpot-Signature": hashlib.sha256(secret + body).hexdigest(),
                "X-HubSpot-Signature-Version": "v1",
                "Content-Type": "application/json",
            },
        )

    def sample_body(self, now: float) -> bytes:
        millis = int(now * 1000)
        events = [
            {
                "eventId": 1000 + i,
                "subscriptionId": 2881778,
                "portalId": 62515,
                "appId": 1160452,
                "occurredAt": millis,
                "subscriptionType": kind,
                "attemptNumber": 0,
                "objectId": 1246965,
                "changeSource": "CRM_UI",
                **extra,
            }
            for i, (kind, extra) in enumerate(
                [
                    ("contact.creation", {"changeFlag": "NEW"}),
                    ("contact.propertyChange", {"propertyName": "lifecyclestage", "propertyValue": "lead"}),
                ]
            )
        ]
        return json.dumps(events, indent=2).encode()


def decode_v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3: the listed percent-escapes decoded."""
    return _V3_PATTERN.sub(lambda m: _V3_DECODED[m[0].upper()], uri)


def _v3_content(method: str, url: str, body: bytes, timestamp: str) -> bytes:
    return to_bytes(method + decode_v3_uri(url)) + body + to_bytes(timestamp)
