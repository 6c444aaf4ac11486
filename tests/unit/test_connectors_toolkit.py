"""The public connector toolkit: built-ins are made only of it, and its JWT support is
checked against an independent implementation (PyJWT)."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from connectors import VerificationError
from connectors.toolkit import encode_jwt, jwt_header, load_jwk, spki, verify_jwt

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"
#: A built-in's own private helper module (used by that built-in only) is not a shared helper.
OWN_HELPERS = {"connectors._stripe_fetch": {"stripe.py"}}
NOW = 1_700_000_000


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


@pytest.mark.parametrize("path", sorted(CONNECTORS.glob("[a-z]*.py")), ids=lambda p: p.name)
def test_built_ins_import_only_the_public_surface(path: Path) -> None:
    private = {
        module
        for module in _imported_modules(path)
        if module.startswith("connectors._") and path.name not in OWN_HELPERS.get(module, set())
    }
    assert not private, f"{path.name} imports private modules {sorted(private)}: use connectors.toolkit"


# --- JWT ----------------------------------------------------------------------------------

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())
_ED = ed25519.Ed25519PrivateKey.generate()
KEYS: dict[str, tuple[Any, Any]] = {
    "HS256": (b"s3cret-key-of-32-bytes-or-more!!", b"s3cret-key-of-32-bytes-or-more!!"),
    "HS512": (b"s3cret-key-of-64-bytes-or-more!!" * 2, b"s3cret-key-of-64-bytes-or-more!!" * 2),
    "RS256": (_RSA, _RSA.public_key()),
    "PS256": (_RSA, _RSA.public_key()),
    "ES256": (_EC, _EC.public_key()),
    "EdDSA": (_ED, _ED.public_key()),
}
CLAIMS = {"sub": "evt", "iat": NOW, "exp": NOW + 300, "aud": "hookgate", "iss": "acme"}


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_our_tokens_verify_with_pyjwt_and_theirs_with_ours(alg: str) -> None:
    private, public = KEYS[alg]
    ours = encode_jwt(CLAIMS, private, alg, kid="k1")
    assert jwt_header(ours)["kid"] == "k1"
    assert (
        pyjwt.decode(ours, public, algorithms=[alg], audience="hookgate", options={"verify_exp": False})
        == CLAIMS
    )
    theirs = pyjwt.encode(CLAIMS, private, algorithm=alg)
    claims = verify_jwt(theirs, [public], algorithms={alg}, now=NOW, audience="hookgate", issuer="acme")
    assert claims == CLAIMS


def test_the_connector_chooses_the_algorithm() -> None:
    secret = KEYS["HS256"][0]
    token = pyjwt.encode(CLAIMS, secret, algorithm="HS256")
    with pytest.raises(VerificationError, match="unsupported_algorithm"):
        verify_jwt(token, [secret], algorithms={"RS256"}, now=NOW)
    unsigned = pyjwt.encode(CLAIMS, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="unsupported_algorithm"):
        verify_jwt(unsigned, [secret], algorithms={"HS256"}, now=NOW)
    # an RS256 public key offered as an HS256 secret (the classic confusion) verifies nothing
    public = KEYS["RS256"][1]
    with pytest.raises(VerificationError, match="bad_signature"):
        verify_jwt(token, [public], algorithms={"HS256"}, now=NOW)


@pytest.mark.parametrize(
    ("claims", "cause"),
    [
        ({"exp": NOW - 61}, "expired_token"),
        ({"iat": NOW + 61, "exp": NOW + 600}, "stale_timestamp"),
        ({"nbf": NOW + 61, "exp": NOW + 600}, "not_yet_valid"),
        ({}, "missing_expiry"),
        ({"exp": "soon"}, "missing_expiry"),
        ({"exp": NOW + 60, "aud": "other"}, "bad_audience"),
        ({"exp": NOW + 60, "aud": ["x", "hookgate"], "iss": "evil"}, "bad_issuer"),
    ],
)
def test_time_and_audience_claims(claims: dict[str, object], cause: str) -> None:
    secret = KEYS["HS256"][0]
    token = encode_jwt(claims, secret, "HS256")
    with pytest.raises(VerificationError) as exc:
        verify_jwt(
            token, [secret], algorithms={"HS256"}, now=NOW, leeway=60, audience="hookgate", issuer="acme"
        )
    assert exc.value.cause == cause


def test_every_key_is_tried() -> None:
    old, new = b"old-secret-32-bytes-long-enough!", b"new-secret-32-bytes-long-enough!"
    token = encode_jwt({"exp": NOW + 60}, new, "HS256")
    assert verify_jwt(token, [old, new], algorithms={"HS256"}, now=NOW) == {"exp": NOW + 60}


@given(st.text(max_size=300))
def test_any_text_verifies_or_fails_closed(token: str) -> None:
    with pytest.raises(VerificationError):
        verify_jwt(token, [b"k" * 32], algorithms={"HS256", "ES256"}, now=time.time())


def test_jwks_load_as_the_same_keys() -> None:
    algorithms = pyjwt.algorithms
    pairs: list[tuple[Any, Any]] = [
        (algorithms.RSAAlgorithm.to_jwk, _RSA),
        (algorithms.ECAlgorithm.to_jwk, _EC),
        (algorithms.OKPAlgorithm.to_jwk, _ED),
    ]
    for to_jwk, private in pairs:
        jwk = to_jwk(private.public_key(), as_dict=True)
        assert spki(load_jwk(jwk)) == spki(private.public_key())
    with pytest.raises(ValueError, match="unsupported JWK kty"):
        load_jwk({"kty": "oct", "k": "c2VjcmV0"})
    with pytest.raises(ValueError, match="curve"):
        load_jwk({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"})
