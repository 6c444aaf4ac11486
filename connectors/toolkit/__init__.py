"""The public toolkit for connector authors: what the built-in connectors are made of.

Every built-in connector imports only from here and from `connectors` (the contract), so a
plugin can do anything a built-in does. By theme:

- `connectors.toolkit.digests`: constant-time HMAC and token checks (`check_hmac`, `check_token`)
- `connectors.toolkit.signature_headers`: `v1=` lists, prefixed digests, Slack's `v0`
- `connectors.toolkit.timestamps`: timestamp headers and the replay window (`check_tolerance`)
- `connectors.toolkit.bodies`: JSON (exact) and form bodies, event types, values in a body
- `connectors.toolkit.basic_auth`: HTTP Basic credentials
- `connectors.toolkit.keys`: public and private keys (DER, PEM, JWK)
- `connectors.toolkit.jwt`: JSON Web Tokens (HS*, RS*, PS*, ES*, EdDSA)
- `connectors.toolkit.body_hmac`: `BodyHmacConnector`, for "HMAC of the body in a header" providers
- `connectors.toolkit.options`: validating options (header names, keys, one-or-many lists)
- `connectors.toolkit.signing`: deterministic delivery ids for `sign()`

See `docs/writing-a-connector.md`.
"""

from __future__ import annotations

from connectors.toolkit.basic_auth import basic_authorization, check_basic_auth, check_optional_pair
from connectors.toolkit.bodies import (
    FORM,
    MAX_TYPE_LENGTH,
    check_event_type,
    json_object,
    json_or_none,
    lookup,
    media_type,
    optional_id,
    optional_type,
    parse_body,
)
from connectors.toolkit.body_hmac import BodyHmacConnector
from connectors.toolkit.digests import (
    DigestEncoding,
    any_match,
    check_hmac,
    check_token,
    encode_digest,
    hmac_digest,
    to_bytes,
)
from connectors.toolkit.jwt import ALGORITHMS, Key, base64url, encode_jwt, jwt_header, verify_jwt
from connectors.toolkit.keys import load_jwk, load_private_key, load_public_key, spki, verifies
from connectors.toolkit.options import HEADER_NAME, check_each, one_or_many
from connectors.toolkit.signature_headers import prefixed_signatures, timestamped_signatures, v0_signature
from connectors.toolkit.signing import DEFAULT_SIGNING_URL, delivery_uuid, guess_kind, stable_id
from connectors.toolkit.timestamps import (
    check_tolerance,
    iso_utc,
    parse_iso_timestamp,
    parse_millis,
    parse_rfc3339,
    parse_timestamp,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_SIGNING_URL",
    "FORM",
    "HEADER_NAME",
    "MAX_TYPE_LENGTH",
    "BodyHmacConnector",
    "DigestEncoding",
    "Key",
    "any_match",
    "base64url",
    "basic_authorization",
    "check_basic_auth",
    "check_each",
    "check_event_type",
    "check_hmac",
    "check_optional_pair",
    "check_token",
    "check_tolerance",
    "delivery_uuid",
    "encode_digest",
    "encode_jwt",
    "guess_kind",
    "hmac_digest",
    "iso_utc",
    "json_object",
    "json_or_none",
    "jwt_header",
    "load_jwk",
    "load_private_key",
    "load_public_key",
    "lookup",
    "media_type",
    "one_or_many",
    "optional_id",
    "optional_type",
    "parse_body",
    "parse_iso_timestamp",
    "parse_millis",
    "parse_rfc3339",
    "parse_timestamp",
    "prefixed_signatures",
    "spki",
    "stable_id",
    "timestamped_signatures",
    "to_bytes",
    "v0_signature",
    "verifies",
    "verify_jwt",
]
