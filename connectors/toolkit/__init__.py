"""The public toolkit for connector authors: what the built-in connectors are made of.

Every built-in connector imports only from here and from `connectors` (the contract), so a
plugin can do anything a built-in does. By theme:

- `connectors.toolkit.digests`: constant-time HMAC and token checks (`check_hmac`, `check_token`)
- `connectors.toolkit.signature_headers`: `v1=` lists, prefixed digests, Slack's `v0`
- `connectors.toolkit.timestamps`: timestamp headers and the replay window (`check_tolerance`)
- `connectors.toolkit.bodies`: JSON (exact) and form bodies, event types, values in a body
- `connectors.toolkit.events`: an event's type and id from the body, events keyed by that id,
  one event from a JSON body (`json_event`)
- `connectors.toolkit.basic_auth`: HTTP Basic credentials; `BasicAuthConnector` for providers
  that send nothing else
- `connectors.toolkit.keys`: public and private keys (DER, PEM, JWK)
- `connectors.toolkit.fetch`: the injectable, bounded HTTPS fetch of connectors that must fetch,
  and `FetchCache` for what they fetched
- `connectors.toolkit.jwt`: JSON Web Tokens (HS*, RS*, PS*, ES*, EdDSA)
- `connectors.toolkit.handshakes`: bounded echoes of challenges (`echo_value`)
- `connectors.toolkit.body_hmac`: `BodyHmacConnector`, for "HMAC of the body in a header" providers, and
  `TimestampedHmacConnector`, for HMACs of `<timestamp>:<body>`; `StripeSchemeConnector`
  (`check_t_v1` / `sign_t_v1`) for Stripe-style `t=…,v1=…` headers
- `connectors.toolkit.dotted_hmac`: `DottedHmacConnector`, for HMACs of `<timestamp>.<body>`
- `connectors.toolkit.options`: validating options (header names, keys, one-or-many lists)
- `connectors.toolkit.signing`: deterministic delivery ids for `sign()`

See `docs/writing-a-connector.md`.
"""

from __future__ import annotations

from connectors.toolkit.basic_auth import (
    BasicAuthConnector,
    BasicAuthOptions,
    OptionalBasicAuthOptions,
    basic_authorization,
    check_basic_auth,
    check_optional_basic_auth,
    check_optional_pair,
)
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
from connectors.toolkit.body_hmac import (
    BodyHmacConnector,
    StripeSchemeConnector,
    TimestampedHmacConnector,
    TimestampedOptions,
    check_t_v1,
    sign_t_v1,
)
from connectors.toolkit.digests import (
    DigestEncoding,
    any_match,
    check_hmac,
    check_token,
    encode_digest,
    hmac_digest,
    to_bytes,
)
from connectors.toolkit.dotted_hmac import DottedHmacConnector, TimedSecretsOptions
from connectors.toolkit.events import json_event, keyed_event, required_type, typed_id
from connectors.toolkit.fetch import FetchCache, Fetcher, FetchError, https_fetch
from connectors.toolkit.handshakes import MAX_ECHO, echo_value
from connectors.toolkit.jwt import ALGORITHMS, Key, base64url, encode_jwt, jwt_header, verify_jwt
from connectors.toolkit.keys import load_jwk, load_private_key, load_public_key, spki, verifies
from connectors.toolkit.options import HEADER_NAME, SecretList, check_each, one_or_many
from connectors.toolkit.signature_headers import (
    check_dotted_hmac,
    dotted_hmac,
    prefixed_signatures,
    timestamped_signatures,
    v0_signature,
)
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
    "MAX_ECHO",
    "MAX_TYPE_LENGTH",
    "BasicAuthConnector",
    "BasicAuthOptions",
    "BodyHmacConnector",
    "DigestEncoding",
    "DottedHmacConnector",
    "FetchCache",
    "FetchError",
    "Fetcher",
    "Key",
    "OptionalBasicAuthOptions",
    "SecretList",
    "StripeSchemeConnector",
    "TimedSecretsOptions",
    "TimestampedHmacConnector",
    "TimestampedOptions",
    "any_match",
    "base64url",
    "basic_authorization",
    "check_basic_auth",
    "check_dotted_hmac",
    "check_each",
    "check_event_type",
    "check_hmac",
    "check_optional_basic_auth",
    "check_optional_pair",
    "check_t_v1",
    "check_token",
    "check_tolerance",
    "delivery_uuid",
    "dotted_hmac",
    "echo_value",
    "encode_digest",
    "encode_jwt",
    "guess_kind",
    "hmac_digest",
    "https_fetch",
    "iso_utc",
    "json_event",
    "json_object",
    "json_or_none",
    "jwt_header",
    "keyed_event",
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
    "required_type",
    "sign_t_v1",
    "spki",
    "stable_id",
    "timestamped_signatures",
    "to_bytes",
    "typed_id",
    "v0_signature",
    "verifies",
    "verify_jwt",
]
