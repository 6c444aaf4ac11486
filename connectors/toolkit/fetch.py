"""The one place a connector may reach the network: an injectable, bounded HTTPS GET.

A few providers make a connector fetch something: AWS SNS its signing certificate (and the
`SubscribeURL` that confirms a subscription). Such a connector takes a `Fetcher` (a
callable from URL to bytes) when built, so tests pass a fake and run offline; `https_get`
is the default: HTTPS only, a timeout, a size limit, redirects refused. Every failure is
one `FetchError`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["FetchError", "Fetcher", "https_get"]

#: What a connector calls to fetch a URL: the body, or `FetchError`.
Fetcher = Callable[[str], bytes]


class FetchError(Exception):
    """A fetch failed (refused URL, network error, non-2xx answer, too large)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def https_get(url: str, *, timeout: float = 10.0, max_bytes: int = 65536) -> bytes:
    """GET an `https://` URL: the body, or `FetchError` (a redirect is an error)."""
    if urlsplit(url).scheme != "https":
        raise FetchError("only https URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "hookgate"})  # noqa: S310 - https only
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body: bytes = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"{type(exc).__name__}") from None
    if len(body) > max_bytes:
        raise FetchError("answer too large")
    return body
