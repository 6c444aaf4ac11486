"""The edge's token buckets: refill, burst, the cost of failures, the bounded clients' table."""

from __future__ import annotations

import pytest

from gateway.ratelimit import BucketSettings, RateLimiter, RateLimitSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **settings: object) -> RateLimiter:
    return RateLimiter(RateLimitSettings.model_validate(settings), {"stripe": None}, clock)


def test_a_client_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    limits = limiter(clock, client={"rate": 2, "burst": 3})
    assert [limits.check("stripe", "a") for _ in range(3)] == [None] * 3
    assert limits.check("stripe", "a") == ("client", 1)
    assert limits.check("stripe", "b") is None  # another address, another bucket
    clock.now += 0.5  # one token back
    assert limits.check("stripe", "a") is None
    assert limits.check("stripe", "a") == ("client", 1)


def test_retry_after_is_the_time_until_a_token() -> None:
    clock = Clock()
    limits = limiter(clock, client={"rate": 0.1, "burst": 1})
    assert limits.check("stripe", "a") is None
    assert limits.check("stripe", "a") == ("client", 10)


def test_failures_cost_more_and_may_go_into_debt() -> None:
    clock = Clock()
    limits = limiter(clock, client={"rate": 1, "burst": 10}, failure_cost=5)
    for _ in range(2):
        assert limits.check("stripe", "a") is None
        limits.failed("a")  # 5 tokens each: all 10 taken
    assert limits.check("stripe", "a") == ("client", 1)
    costly = limiter(clock, client={"rate": 1, "burst": 10}, failure_cost=50)
    assert costly.check("stripe", "a") is None
    costly.failed("a")  # 50 tokens from 10: in debt, down to minus the burst at most
    assert costly.check("stripe", "a") == ("client", 11)
    clock.now += 11
    assert costly.check("stripe", "a") is None


def test_the_source_bucket_is_shared_and_may_be_the_sources_own() -> None:
    clock = Clock()
    limits = RateLimiter(
        RateLimitSettings(source=BucketSettings(rate=1, burst=2)),
        {"stripe": None, "github": BucketSettings(rate=1, burst=1)},
        clock,
    )
    assert limits.check("stripe", "a") is None
    assert limits.check("stripe", "b") is None
    assert limits.check("stripe", "c") == ("source", 1)
    assert limits.check("github", "a") is None
    assert limits.check("github", "a") == ("source", 1)


def test_the_clients_table_keeps_the_most_recent_addresses() -> None:
    clock = Clock()
    limits = limiter(clock, client={"rate": 1, "burst": 1}, max_clients=3)
    for address in ("a", "b", "c"):
        assert limits.check("stripe", address) is None
    assert limits.check("stripe", "a") == ("client", 1)  # a: used last now
    assert limits.check("stripe", "d") is None  # b is dropped, least recently used
    assert limits.clients == 3
    assert limits.check("stripe", "b") is None  # a fresh bucket
    assert limits.check("stripe", "a") == ("client", 1)  # a was kept


def test_nothing_is_limited_when_disabled() -> None:
    clock = Clock()
    limits = limiter(clock, enabled=False, client={"rate": 1, "burst": 1})
    assert all(limits.check("stripe", "a") is None for _ in range(100))
    limits.failed("a")
    assert limits.clients == 0


@pytest.mark.parametrize("bad", [{"rate": 0, "burst": 1}, {"rate": 1, "burst": 0}])
def test_a_bucket_needs_a_rate_and_a_burst(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="greater than"):
        BucketSettings.model_validate(bad)
