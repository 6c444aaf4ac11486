"""Reading a verified body: JSON (exact), forms, and the values in them.

Only `normalize` (and `sign`, on bodies it made) calls these: `verify` never parses a body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from connectors._base import MalformedPayloadError, WebhookRequest, parse_json

__all__ = [
    "FORM",
    "MAX_TYPE_LENGTH",
    "check_event_type",
    "json_object",
    "json_or_none",
    "lookup",
    "media_type",
    "optional_id",
    "optional_type",
    "parse_body",
]

#: EventBridge's limit on `DetailType`, applied to every connector's event type.
MAX_TYPE_LENGTH = 128
FORM = "application/x-www-form-urlencoded"
_FORM_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]+\])*)")


def json_or_none(body: bytes) -> Any:
    """The body's JSON, or None when it is not JSON (for handshakes and `sign()`)."""
    try:
        return parse_json(body)
    except MalformedPayloadError:
        return None


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or `MalformedPayloadError`."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise MalformedPayloadError("not_an_object")
    return payload


def media_type(request: WebhookRequest) -> str:
    """The request's `Content-Type` without parameters, lowercased (`""` when absent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_body(request: WebhookRequest) -> Any:
    """A JSON body or, when the media type says so, a form (`MalformedPayloadError` if neither).

    Form keys in Rails style nest: `a[b][c]=v` becomes `{"a": {"b": {"c": "v"}}}`; a
    repeated key collects its values in a list; a key used both as a value and as an
    object (`a=1&a[b]=2`) makes the form malformed.
    """
    if media_type(request) != FORM:
        return parse_json(request.body)
    try:
        pairs = parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=True)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayloadError("invalid_form") from None
    return _nest(pairs)


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        match = _FORM_KEY.fullmatch(key)
        path = [match[1], *re.findall(r"\[([^\[\]]+)\]", match[2])] if match else [key]
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise MalformedPayloadError("invalid_form", f"conflicting keys at {key!r}")
        leaf, current = path[-1], node.get(path[-1])
        if current is None:
            node[leaf] = value
        elif isinstance(current, str):
            node[leaf] = [current, value]
        elif isinstance(current, list):
            current.append(value)
        else:
            raise MalformedPayloadError("invalid_form", f"conflicting keys at {key!r}")
    return result


def lookup(payload: Any, path: str) -> Any:
    """The value at a dotted path (`a.b.c`) in nested mappings, or None."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def check_event_type(value: Any, source: str) -> str:
    """A usable event type: a printable, non-empty str of at most 128 characters."""
    if not isinstance(value, str):
        raise MalformedPayloadError("bad_event_type", f"{source} is not a string")
    text = value.strip()
    if not text or len(text) > MAX_TYPE_LENGTH or not text.isprintable():
        raise MalformedPayloadError(
            "bad_event_type", f"{source} must be 1-{MAX_TYPE_LENGTH} printable characters"
        )
    return text


def optional_id(value: Any) -> str | None:
    """An id from a body value: a non-empty string (or an integer), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def optional_type(payload: Any, path: str) -> str | None:
    """The event type at a dotted path: None when absent, `MalformedPayloadError` when unusable."""
    value = lookup(payload, path)
    return None if value is None else check_event_type(value, path)
