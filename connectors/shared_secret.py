"""Shared secret: for providers that sign nothing. Authentication only.

Many providers (and internal systems) can only send a credential you configure: a token
in a header (`X-Webhook-Token: …`, `Authorization: Bearer …`), HTTP Basic, or a token in
the URL query. This connector checks one such credential, in constant time, with the same
three modes as `freshdesk` (whose verification it reuses):

* HTTP Basic: `username` + `password`;
* a header: `header_name` + `token`, with an optional `token_prefix` (`Bearer `) that is
  matched case-insensitively and not part of the secret;
* a query parameter: `query_param` + `token`.

Each credential may be a list while it is rotated. Nothing protects the body's integrity
or prevents a replay: serve it over HTTPS only.

Bodies are JSON or `application/x-www-form-urlencoded`. The event type is the
`type_header` value when configured, else the body value at `type_field`, else
`default_type`. The dedup key is the `id_header` value or the body value at `id_field`
when configured and present, else a hash of the raw body.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Self

from pydantic import Field, model_validator

from connectors import (
    Headers,
    ProviderEvent,
    SignedDelivery,
    VerificationError,
    WebhookRequest,
    sha256_of_parts,
)
from connectors.freshdesk import FreshdeskConnector, FreshdeskOptions
from connectors.toolkit import (
    HEADER_NAME,
    MAX_TYPE_LENGTH,
    check_event_type,
    delivery_uuid,
    lookup,
    optional_id,
    parse_body,
    stable_id,
)

__all__ = ["SharedSecretConnector", "SharedSecretOptions"]


class SharedSecretOptions(FreshdeskOptions):
    token_prefix: str = Field("", description="text before the token in header mode, e.g. `Bearer `")
    type_header: str | None = Field(None, pattern=HEADER_NAME, description="header with the event type")
    type_field: str = Field("type", min_length=1, description="dotted path of the event type in the body")
    default_type: str = Field(
        "webhook",
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        description="event type when neither type_header nor type_field gives one",
    )
    id_header: str | None = Field(None, pattern=HEADER_NAME, description="header with a delivery id")
    id_field: str | None = Field(None, min_length=1, description="dotted path of an event id in the body")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.token_prefix and self.header_name is None:
            raise ValueError("token_prefix is only used with header_name")
        if self.id_header is not None and self.id_field is not None:
            raise ValueError("set id_header or id_field, not both")
        return self


class SharedSecretConnector(FreshdeskConnector[SharedSecretOptions]):
    name = "shared-secret"
    summary = "any provider that does not sign: header token, HTTP Basic or URL token (no signature)"

    def verify(self, request: WebhookRequest, now: float) -> None:
        opts = self.options
        if opts.header_name is None or not opts.token_prefix:
            super().verify(request, now)
            return
        value = request.headers.get(opts.header_name)
        if value is None:
            raise VerificationError("missing_token")
        value = value.strip()
        prefix = opts.token_prefix.strip()
        if value[: len(prefix)].lower() != prefix.lower():
            raise VerificationError("malformed_token")
        stripped = value[len(prefix) :].strip()
        super().verify(replace(request, headers=_with(request, opts.header_name, stripped)), now)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        opts = self.options
        payload = parse_body(request)
        if opts.type_header is not None:
            raw_type = request.headers.get(opts.type_header)
            source = opts.type_header
        else:
            raw_type = lookup(payload, opts.type_field)
            source = opts.type_field
        event_type = opts.default_type if raw_type in (None, "") else check_event_type(raw_type, source)
        delivery = event_id = None
        if opts.id_header is not None:
            delivery = request.headers.get(opts.id_header, "").strip() or None
        elif opts.id_field is not None:
            event_id = optional_id(lookup(payload, opts.id_field))
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=event_id or delivery or sha256_of_parts(self.name, request.body),
                provider_event_id=event_id,
                delivery_id=delivery,
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        opts = self.options
        signed = super().sign(body, now)
        headers = {**signed.headers, "User-Agent": "hookgate-send-test"}
        if opts.header_name is not None and opts.token_prefix:
            headers[opts.header_name] = opts.token_prefix + opts.token[0].get_secret_value()
        if opts.type_header is not None:
            headers[opts.type_header] = opts.default_type
        if opts.id_header is not None:
            headers[opts.id_header] = delivery_uuid(body, now)
        return SignedDelivery(body=body, headers=headers, query=signed.query)

    def sample_body(self, now: float) -> bytes:
        event = {
            "id": stable_id("evt_", b"shared-secret", now),
            "type": "order.shipped",
            "created_at": int(now),
            "data": {"order_id": "A-10042", "carrier": "DHL", "tracking_number": "JD014600006281230912"},
        }
        return json.dumps(event, indent=2).encode()


def _with(request: WebhookRequest, name: str, value: str) -> Headers:
    """The request's headers with `name` replaced by `value` (first occurrence only)."""
    key = name.lower()
    items = [(k, v) for k, v in request.headers.raw() if k != key]
    return Headers([(key, value), *items])
