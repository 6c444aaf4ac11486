"""Adyen: HMAC signatures inside standard notifications, or in the `HmacSignature` header.

* **Standard (payment) notifications**: each `NotificationRequestItem` carries
  `additionalData.hmacSignature` = base64 HMAC-SHA256, keyed with the hex-decoded HMAC
  key, over `pspReference:originalReference:merchantAccountCode:merchantReference:
  amount.value:amount.currency:eventCode:success` (a missing value is empty). Every item
  of a batch must verify. The signature covers those eight fields only, not the whole
  body (Adyen's design): pair it with Basic auth at a proxy, or HTTPS at least.
* **Platforms / Management / Banking webhooks**: the `HmacSignature` header = base64
  HMAC-SHA256 of the raw body with the hex-decoded key.

The signature lives in the body for standard notifications, so `verify` has to parse the
JSON; a body that is not JSON fails verification. `secrets` holds HMAC keys as Adyen shows
them (hex); a new key takes a while to propagate, so list the old and the new one.
Adyen recommends HTTP Basic auth in addition: with `username` and `password` set, every
delivery must also carry those credentials (both compared in constant time).

Adyen signs no timestamp: replay protection is dedup only. Standard notifications fan out
into one event per item of type `eventCode` (`AUTHORISATION`), keyed on
`pspReference:eventCode:success:originalReference`; header-signed webhooks are one event of
the body's `type`, keyed on a hash of the body.
"""

from __future__ import annotations

import base64
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, SecretStr, field_validator

from connectors import (
    Connector,
    MalformedPayloadError,
    ProviderEvent,
    SecretsOptions,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    parse_json,
    sha256_of_parts,
    utc_from_timestamp,
)
from connectors.toolkit import (
    OptionalBasicAuthOptions,
    basic_authorization,
    check_each,
    check_event_type,
    check_hmac,
    check_optional_basic_auth,
    json_or_none,
    to_bytes,
)

__all__ = ["AdyenConnector", "AdyenOptions", "signing_string"]

_FIELDS = ("pspReference", "originalReference", "merchantAccountCode", "merchantReference")


def _decode_key(value: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        raise ValueError("an Adyen HMAC key is hex") from None
    if not key:
        raise ValueError("the HMAC key is empty")
    return key


class AdyenOptions(SecretsOptions, OptionalBasicAuthOptions):
    secrets: list[SecretStr] = Field(min_length=1, description="HMAC keys (hex), as Adyen shows them")

    @field_validator("secrets")
    @classmethod
    def _hex(cls, value: list[SecretStr]) -> list[SecretStr]:
        return check_each(value, _decode_key)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signing_string(item: dict[str, Any]) -> str:
    """The string Adyen signs for one NotificationRequestItem."""
    amount = item.get("amount")
    amount = amount if isinstance(amount, dict) else {}
    values = [item.get(name) for name in _FIELDS]
    values += [amount.get("value"), amount.get("currency"), item.get("eventCode"), item.get("success")]
    return ":".join(_text(v) for v in values)


def _items(payload: Any) -> list[dict[str, Any]] | None:
    """The NotificationRequestItems of a standard notification, or None if it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("notificationItems"), list):
        return None
    items = []
    for wrapper in payload["notificationItems"]:
        item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
        if not isinstance(item, dict):
            return None
        items.append(item)
    return items


class AdyenConnector(Connector[AdyenOptions]):
    name = "adyen"
    summary = "Adyen notifications (per-item hmacSignature or HmacSignature header; batch fan-out)"

    def __init__(self, options: AdyenOptions) -> None:
        super().__init__(options)
        self.keys = [_decode_key(s.get_secret_value()) for s in options.secrets]

    def verify(self, request: WebhookRequest, now: float) -> None:
        check_optional_basic_auth(request, self.options)
        header = request.headers.get("hmacsignature")
        if header is not None:
            if not header.strip():
                raise VerificationError("bad_signature")
            check_hmac(self.keys, request.body, [to_bytes(header.strip())], encoding="base64")
            return
        try:
            payload = parse_json(request.body)
        except MalformedPayloadError:
            raise VerificationError("malformed_body") from None
        items = _items(payload)
        if items is None:
            raise VerificationError("missing_signature")
        if not items:
            raise VerificationError("no_items")
        for item in items:
            data = item.get("additionalData")
            signature = data.get("hmacSignature") if isinstance(data, dict) else None
            if not isinstance(signature, str) or not signature:
                raise VerificationError("missing_signature")
            content = to_bytes(signing_string(item))
            check_hmac(self.keys, content, [to_bytes(signature)], encoding="base64")

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        payload = parse_json(request.body)
        items = _items(payload)
        if items is None:
            return [self._platform_event(payload, request.body)]
        if not items:
            raise MalformedPayloadError("empty_batch")
        events = []
        for item in items:
            if item.get("eventCode") is None:
                raise MalformedPayloadError("missing_field", "eventCode")
            event_type = check_event_type(item["eventCode"], "eventCode")
            psp = item.get("pspReference")
            key = ":".join(
                _text(item.get(k)) for k in ("pspReference", "eventCode", "success", "originalReference")
            )
            events.append(
                ProviderEvent(
                    type=event_type,
                    payload=item,
                    dedup_key=key,
                    provider_event_id=psp if isinstance(psp, str) and psp else None,
                    occurred_at=utc_from_timestamp(item.get("eventDate")),
                )
            )
        return events

    def _platform_event(self, payload: Any, body: bytes) -> ProviderEvent:
        if not isinstance(payload, dict):
            raise MalformedPayloadError("not_an_object")
        if payload.get("type") is None:
            raise MalformedPayloadError("missing_field", "type")
        return ProviderEvent(
            type=check_event_type(payload["type"], "type"),
            payload=payload,
            dedup_key=sha256_of_parts(self.name, body),
            occurred_at=utc_from_timestamp(payload.get("timestamp") or payload.get("createdAt")),
        )

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        """A standard notification gets each item's `hmacSignature` (the body is rewritten);
        anything else is signed with the `HmacSignature` header."""
        key = self.keys[0]
        headers = {"Content-Type": "application/json", "User-Agent": "Adyen HttpClient 1.0"}
        if self.options.username:
            headers["Authorization"] = basic_authorization(self.options.username, self.options.password)
        payload = json_or_none(body)
        items = _items(payload)
        if not items:
            headers["HmacSignature"] = base64.b64encode(hmac.new(key, body, "sha256").digest()).decode()
            return SignedDelivery(body=body, headers=headers)
        for item in items:
            digest = hmac.new(key, to_bytes(signing_string(item)), "sha256").digest()
            data = item.get("additionalData")
            if not isinstance(data, dict):
                data = item["additionalData"] = {}
            data["hmacSignature"] = base64.b64encode(digest).decode()
        return SignedDelivery(body=json.dumps(payload, indent=2).encode(), headers=headers)

    def sample_body(self, now: float) -> bytes:
        psp = f"{int(now * 1000) % 10**16:016d}"
        item = {
            "additionalData": {"authCode": "065696", "cardSummary": "1111"},
            "amount": {"currency": "EUR", "value": 1130},
            "eventCode": "AUTHORISATION",
            "eventDate": datetime.fromtimestamp(int(now), UTC).isoformat(),
            "merchantAccountCode": "TestMerchant",
            "merchantReference": "TestPayment-1407325143704",
            "operations": ["CANCEL", "CAPTURE", "REFUND"],
            "paymentMethod": "visa",
            "pspReference": psp,
            "reason": "065696:1111:03/2030",
            "success": "true",
        }
        return json.dumps(
            {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
        ).encode()
