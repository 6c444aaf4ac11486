"""Encryption at rest: the payloads and stored headers a store keeps, sealed with AES-GCM.

With `[store] encryption_keys` set, a store seals what holds customer data before it
writes it: each event's entry (its payload and gateway metadata) and, in the requests
log, each request's headers and kept body. What queries need stays clear: ids, sources,
detail-types, dedup keys, provider ids, times, states. The first key seals; every key
opens, so a key is rotated by putting the new one first (`hookgate db rotate-key`
re-seals the stored rows under it, after which the old one can go).

A sealed value is text: `hgx1.<key id>.<nonce + ciphertext + tag, base64url>`. The key id
is the first 8 hex digits of the key's SHA-256 (it names the key, it reveals nothing of
it). The row's id is the associated data, so a sealed value copied into another row does
not open. Rows written before encryption was turned on are read as they are, and sealed
by the next `rotate-key`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
from collections.abc import Sequence

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import StoreError
from gateway.events import Event
from gateway.store._records import RequestRecord

__all__ = ["KEY_BYTES", "PayloadCipher", "decode_key", "new_key"]

#: AES-256: a key is 32 random bytes, written in base64 (`hookgate db new-key`).
KEY_BYTES = 32
_PREFIX = "hgx1."
_NONCE = 12
#: A sealed request keeps its headers as one pair under this name.
_SEALED_HEADERS = "x-hookgate-sealed"


def new_key() -> str:
    """A fresh key, as `[store] encryption_keys` takes it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def decode_key(text: str) -> bytes:
    """A key's bytes from its base64 text; `ValueError` unless it is 32 bytes."""
    try:
        raw = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 (make one with `hookgate db new-key`)") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(
            f"must be {KEY_BYTES} bytes in base64, not {len(raw)} (make one with `hookgate db new-key`)"
        )
    return raw


class PayloadCipher:
    """Seals with the first of `keys`, opens with any of them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a cipher needs at least one key")
        self._ring = {_key_id(key): AESGCM(key) for key in keys}
        #: The id of the key that seals.
        self.key_id = _key_id(keys[0])

    # -- values -------------------------------------------------------------------------
    def seal(self, text: str, row: str) -> str:
        """`text` sealed under the current key, bound to the row `row`."""
        nonce = os.urandom(_NONCE)
        sealed = self._ring[self.key_id].encrypt(nonce, text.encode("utf-8", "surrogatepass"), row.encode())
        return f"{_PREFIX}{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, value: str, row: str) -> str:
        """The text `value` holds: opened if sealed, as is if it was stored in clear."""
        if not value.startswith(_PREFIX):
            return value
        key_id, _, body = value[len(_PREFIX) :].partition(".")
        aead = self._ring.get(key_id)
        if aead is None:
            raise StoreError(
                f"a stored value is sealed with key {key_id}, which is not among [store] encryption_keys"
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            text = aead.decrypt(raw[:_NONCE], raw[_NONCE:], row.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise StoreError(
                f"a stored value of row {row} does not open: altered, or moved from another row"
            ) from None
        return text.decode("utf-8", "surrogatepass")

    def current(self, value: str) -> bool:
        """Whether `value` is sealed under the current key (nothing to re-seal)."""
        return value.startswith(f"{_PREFIX}{self.key_id}.")

    # -- records ------------------------------------------------------------------------
    def seal_event(self, event: Event) -> Event:
        return dataclasses.replace(event, entry=self.seal(event.entry, event.id))

    def open_event(self, event: Event) -> Event:
        return dataclasses.replace(event, entry=self.open(event.entry, event.id))

    def seal_request(self, record: RequestRecord) -> RequestRecord:
        """Its headers (as one sealed pair) and its kept body sealed; the rest in clear."""
        headers = orjson.dumps(record.headers).decode()
        body = None if record.body is None else self.seal(base64.b64encode(record.body).decode(), record.id)
        return dataclasses.replace(
            record,
            headers=((_SEALED_HEADERS, self.seal(headers, record.id)),),
            body=None if body is None else body.encode(),
        )

    def sealed_request(self, record: RequestRecord) -> bool:
        """Whether `record` (as stored) is sealed under the current key."""
        headers = record.headers
        return len(headers) == 1 and headers[0][0] == _SEALED_HEADERS and self.current(headers[0][1])

    def open_request(self, record: RequestRecord) -> RequestRecord:
        if len(record.headers) != 1 or record.headers[0][0] != _SEALED_HEADERS:
            return record  # stored in clear
        text = self.open(record.headers[0][1], record.id)
        pairs = tuple((str(name), str(value)) for name, value in orjson.loads(text))
        body = record.body
        if body is not None:
            body = base64.b64decode(self.open(body.decode("ascii", "replace"), record.id))
        return dataclasses.replace(record, headers=pairs, body=body)


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]
