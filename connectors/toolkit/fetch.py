"""The one place a connector may reach the network: an injectable, bounded HTTPS fetch,
and the cache of what was fetched.

A few providers make a connector fetch something: AWS SNS its signing certificate (and the
`SubscribeURL` that confirms a subscription), Plaid the key of a JWT's key id. Such a
connector takes a `Fetcher` when built, so tests pass a fake and run offline, and sets
`fetches = True`, so the gateway calls its `handshake` and `verify` in a worker thread:
a slow fetch delays only its own request. `https_fetch` is the default fetcher: HTTPS
only, a timeout, a size limit, redirects refused; every failure is one `FetchError`.

`FetchCache` keeps what was fetched (by URL, by key id) with entries pinned by the
configuration: bounded, safe across those threads, one fetch per key however many
requests miss it at once, and a bound on the fetches of different keys in flight.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

__all__ = ["FetchCache", "FetchError", "Fetcher", "https_fetch"]

V = TypeVar("V")


class Fetcher(Protocol):
    """What a connector calls to fetch a URL: a GET, or a POST of `body` (JSON) when one is
    given; the answer's body, or `FetchError`."""

    def __call__(self, url: str, body: bytes | None = None) -> bytes: ...


class FetchError(Exception):
    """A fetch failed (refused URL, network error, non-2xx answer, too large, too many)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def https_fetch(
    url: str, body: bytes | None = None, *, timeout: float = 10.0, max_bytes: int = 65536
) -> bytes:
    """GET an `https://` URL, or POST `body` to it as JSON: the answer's body, or
    `FetchError` (a redirect is an error)."""
    if urlsplit(url).scheme != "https":
        raise FetchError("only https URLs are fetched")
    headers = {"User-Agent": "hookgate"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - https only
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            answer: bytes = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"{type(exc).__name__}") from None
    if len(answer) > max_bytes:
        raise FetchError("answer too large")
    return answer


class FetchCache(Generic[V]):
    """What a connector fetched, by key: `pinned` entries (never fetched, never evicted),
    then up to `size` fetched ones, the least recently used evicted first.

    `get(key, load)` returns the entry, calling `load(key)` on a miss. Concurrent misses of
    one key share one `load`; its exception reaches each of them and is not cached (return
    a value such as None to remember a failure). A miss while `max_fetching` other keys are
    being loaded raises `FetchError` at once instead of waiting in line.
    """

    def __init__(self, size: int, *, pinned: Mapping[str, V] | None = None, max_fetching: int = 4) -> None:
        self.size, self.max_fetching = size, max_fetching
        self.pinned: Mapping[str, V] = dict(pinned or {})
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._loading: dict[str, Future[V]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[str], V]) -> V:
        if key in self.pinned:
            return self.pinned[key]
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            loading = self._loading.get(key)
            if loading is None:
                if len(self._loading) >= self.max_fetching:
                    raise FetchError("too many fetches at once")
                mine: Future[V] = Future()
                self._loading[key] = mine
        if loading is not None:
            return loading.result()
        try:
            value = load(key)
        except BaseException as exc:
            with self._lock:
                del self._loading[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            del self._loading[key]
        mine.set_result(value)
        return value
