"""Generic HMAC: for providers that sign with a shared secret and have no connector yet.

The signature header holds `signature_prefix` + the HMAC (`algorithm`, `encoding`) of
the signed content, keyed with a secret from `secrets` as UTF-8 bytes. The signed content
is one of:

* `body`: the raw body;
* `timestamp.body`: the `timestamp_header` value, `content_separator`, the raw body;
* `id.timestamp.body`: the `id_header` value, separator, timestamp, separator, body.

`content_separator` defaults to `.` (as in Svix and Stripe); set it to `""` for
providers that simply concatenate (Zendesk, Twitch). Timestamps are unix seconds and,
since they are signed, must be within `tolerance_seconds` of now on both sides.

With `signature_separator` set, the header is a list (`v1=…,v1=…`) and any item carrying
`signature_prefix` may match; items without it are skipped. `secrets` is a list, so the
gateway can accept the old and the new secret during a rotation.

Dedup is on the `id_header` value when one is configured (if the id is not signed, a
replay under a fresh id is not caught), else on a hash of the raw body. The body must be
JSON. The event type is the `type_header` value, or the body value at `type_field` (a
dotted path), else `default_type`.
"""

from __future__ import annotations

import json
from typing import Literal, Self

from pydantic import Field, model_validator

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
)
from connectors.toolkit import (
    HEADER_NAME,
    MAX_TYPE_LENGTH,
    check_event_type,
    check_hmac,
    check_tolerance,
    encode_digest,
    hmac_digest,
    lookup,
    parse_timestamp,
    prefixed_signatures,
    stable_id,
    to_bytes,
)

__all__ = ["GenericHmacConnector", "GenericHmacOptions"]


class GenericHmacOptions(SecretsOptions):
    signature_header: str = Field(pattern=HEADER_NAME, description="header with the signature")
    signature_prefix: str = Field("", description="text before the digest, e.g. `sha256=`")
    signature_separator: str | None = Field(
        None, min_length=1, description="splits a header holding several signatures"
    )
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    signed_content: Literal["body", "timestamp.body", "id.timestamp.body"] = "body"
    content_separator: str = Field(".", description="joins id, timestamp and body")
    timestamp_header: str | None = Field(None, pattern=HEADER_NAME)
    id_header: str | None = Field(None, pattern=HEADER_NAME)
    tolerance_seconds: int = Field(300, ge=0, description="max clock skew, both directions")
    type_header: str | None = Field(None, pattern=HEADER_NAME)
    type_field: str | None = Field(None, min_length=1, description="dotted path in the body")
    default_type: str = Field("webhook", min_length=1, max_length=MAX_TYPE_LENGTH)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        signs_ts = self.signed_content != "body"
        if signs_ts and self.timestamp_header is None:
            raise ValueError(f"signed_content {self.signed_content!r} needs timestamp_header")
        if not signs_ts and self.timestamp_header is not None:
            raise ValueError(
                "timestamp_header is only checked when it is signed: "
                "set signed_content to 'timestamp.body' or 'id.timestamp.body'"
            )
        if self.signed_content == "id.timestamp.body" and self.id_header is None:
            raise ValueError("signed_content 'id.timestamp.body' needs id_header")
        if self.type_header is not None and self.type_field is not None:
            raise ValueError("set type_header or type_field, not both")
        return self


class GenericHmacConnector(Connector[GenericHmacOptions]):
    name = "generic-hmac"
    summary = "any provider signing with a shared-secret HMAC (configurable header and content)"

    def secret_headers(self) -> frozenset[str]:
        return frozenset({self.options.signature_header.lower()})

    def verify(self, request: WebhookRequest, now: float) -> None:
        opts = self.options
        header = request.headers.get(opts.signature_header)
        if not header:
            raise VerificationError("missing_signature")
        candidates = prefixed_signatures(
            header,
            opts.signature_prefix,
            separator=opts.signature_separator,
            lowercase=opts.encoding == "hex",
        )
        timestamp: int | None = None
        parts: list[bytes] = []
        if opts.signed_content == "id.timestamp.body":
            msg_id = request.headers.get(opts.id_header or "")
            if not msg_id:
                raise VerificationError("missing_id")
            parts.append(to_bytes(msg_id))
        if opts.timestamp_header is not None:
            ts_header = request.headers.get(opts.timestamp_header)
            if not ts_header:
                raise VerificationError("missing_timestamp")
            timestamp = parse_timestamp(ts_header)
            parts.append(to_bytes(ts_header))
        signed = opts.content_separator.encode().join([*parts, request.body])
        keys = secret_values(opts.secrets)
        check_hmac(keys, signed, candidates, algorithm=opts.algorithm, encoding=opts.encoding)
        if timestamp is not None:
            check_tolerance(timestamp, now, opts.tolerance_seconds)

    def _digest(self, key: bytes, content: bytes) -> bytes:
        return encode_digest(hmac_digest(key, content, self.options.algorithm), self.options.encoding)

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        opts = self.options
        payload = parse_json(request.body)
        if opts.type_header is not None:
            raw_type = request.headers.get(opts.type_header)
            source = opts.type_header
        elif opts.type_field is not None:
            raw_type = lookup(payload, opts.type_field)
            source = opts.type_field
        else:
            raw_type, source = None, ""
        event_type = opts.default_type if raw_type is None else check_event_type(raw_type, source)
        delivery: str | None = None
        if opts.id_header is not None:
            delivery = request.headers.get(opts.id_header, "").strip()
            if not delivery:
                raise MalformedPayloadError("missing_header", opts.id_header)
        return [
            ProviderEvent(
                type=event_type,
                payload=payload,
                dedup_key=delivery or sha256_of_parts(self.name, request.body),
                delivery_id=delivery,
            )
        ]

    def sign(self, body: bytes, now: float) -> SignedDelivery:
        opts = self.options
        headers = {"Content-Type": "application/json"}
        parts: list[bytes] = []
        if opts.id_header is not None:
            msg_id = stable_id("msg_", body, now)
            headers[opts.id_header] = msg_id
            if opts.signed_content == "id.timestamp.body":
                parts.append(msg_id.encode())
        if opts.timestamp_header is not None:
            timestamp = str(int(now))
            headers[opts.timestamp_header] = timestamp
            parts.append(timestamp.encode())
        if opts.type_header is not None:
            headers[opts.type_header] = opts.default_type
        signed = opts.content_separator.encode().join([*parts, body])
        keys = secret_values(opts.secrets)
        if opts.signature_separator is None:
            keys = keys[:1]
        headers[opts.signature_header] = (opts.signature_separator or "").join(
            opts.signature_prefix + self._digest(key, signed).decode() for key in keys
        )
        return SignedDelivery(body=body, headers=headers)

    def sample_body(self, now: float) -> bytes:
        event = {"id": stable_id("evt_", b"", now), "type": "hookgate.test", "created": int(now)}
        return json.dumps(event, indent=2).encode()
