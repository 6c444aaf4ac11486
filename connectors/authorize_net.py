"""Authorize.net: `X-ANET-Signature: sha512=<HEX>`, HMAC-SHA512 of the raw body.

The key is the account's Signature Key (Account > Settings > Security Settings > API
Credentials & Keys > New Signature Key), used as the text it is; Authorize.net sends the
digest in uppercase hex. A new Signature Key replaces the old one at once, so list both
while deliveries signed with the old key may still be retried. Authorize.net signs no
timestamp: the dedup key is the `notificationId`, the detail-type the `eventType`
(`net.authorize.payment.authcapture.created`, ...), and `occurred_at` the `eventDate`.
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, SecretsOptions, WebhookRequest
from connectors.toolkit import BodyHmacConnector, delivery_uuid, iso_utc, json_event

__all__ = ["AuthorizeNetConnector", "AuthorizeNetOptions"]


class AuthorizeNetOptions(SecretsOptions):
    """Only `secrets`: the Signature Key(s)."""


class AuthorizeNetConnector(BodyHmacConnector[AuthorizeNetOptions]):
    name = "authorize-net"
    summary = "Authorize.net webhooks (X-ANET-Signature, HMAC-SHA512 of the body, rotation)"
    signature_header = "X-ANET-Signature"
    signature_prefix = "sha512="
    algorithm = "sha512"

    def signature(self, body: bytes) -> str:
        prefix, _, digest = super().signature(body).partition("=")
        return f"{prefix}={digest.upper()}"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(
            self.name, request.body, type_path="eventType", id_path="notificationId", time_path="eventDate"
        )

    def sample_body(self, now: float) -> bytes:
        notification = {
            "notificationId": delivery_uuid(b"authorize-net", now),
            "eventType": "net.authorize.payment.authcapture.created",
            "eventDate": iso_utc(now, "microseconds"),
            "webhookId": "ba4c73f3-0808-48bf-ae2f-f49064770e60",
            "payload": {
                "responseCode": 1,
                "authCode": "572",
                "avsResponse": "Y",
                "authAmount": 1451.00,
                "entityName": "transaction",
                "id": "60020981676",
            },
        }
        return json.dumps(notification, indent=2).encode()
