"""connectors.toolkit.fetch.FetchCache: pinned entries, a bounded LRU of fetched ones,
one fetch per key however many threads miss it, a bound on fetches in flight."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.toolkit import FetchCache, FetchError, https_fetch


class Loader:
    """Counts its calls; fails for keys starting with `bad`."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, key: str) -> str:
        self.calls.append(key)
        if key.startswith("bad"):
            raise FetchError("not found")
        return key.upper()


def test_pinned_entries_are_never_fetched_nor_evicted() -> None:
    load = Loader()
    cache = FetchCache(1, pinned={"p": "pinned"})
    assert cache.get("p", load) == "pinned"
    assert [cache.get(k, load) for k in ("a", "b", "c")] == ["A", "B", "C"]
    assert cache.get("p", load) == "pinned"
    assert load.calls == ["a", "b", "c"]


def test_the_least_recently_used_is_evicted() -> None:
    load = Loader()
    cache: FetchCache[str] = FetchCache(2)
    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(key, load)
    assert load.calls == ["a", "b", "c", "b"]  # `a` stayed, being used; `b` went first


def test_a_failed_fetch_is_not_remembered() -> None:
    load = Loader()
    cache: FetchCache[str] = FetchCache(4)
    for _ in range(2):
        with pytest.raises(FetchError):
            cache.get("bad", load)
    assert load.calls == ["bad", "bad"]


def test_concurrent_misses_of_one_key_share_one_fetch() -> None:
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(key: str) -> str:
        calls.append(key)
        entered.set()
        release.wait(10)
        return key.upper()

    cache: FetchCache[str] = FetchCache(4)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(cache.get, "k", slow)
        assert entered.wait(10)
        others = [pool.submit(cache.get, "k", slow) for _ in range(3)]  # waiting on the first's fetch
        release.set()
        assert [r.result(10) for r in (first, *others)] == ["K"] * 4
    assert calls == ["k"]


def test_a_miss_beyond_the_fetches_in_flight_is_refused_at_once() -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(key: str) -> str:
        entered.set()
        release.wait(10)
        return key

    cache: FetchCache[str] = FetchCache(4, max_fetching=1)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(cache.get, "one", slow)
        assert entered.wait(10)
        with pytest.raises(FetchError, match="too many"):
            cache.get("two", slow)
        release.set()
        assert first.result(10) == "one"
    assert cache.get("two", str.upper) == "TWO"  # the slot is free again


def test_https_fetch_refuses_other_schemes() -> None:
    for url in ("http://sns.us-east-1.amazonaws.com/x.pem", "file:///etc/passwd", "ftp://x/y"):
        with pytest.raises(FetchError, match="only https"):
            https_fetch(url, b"{}")
