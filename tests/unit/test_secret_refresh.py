"""AWS secrets read again: `AwsSecrets` (one call per secret, at most one a minute, the last
value kept when a read fails) and `SourceRefresher` (sources rebuilt when their secrets
changed; concurrent failures share one refresh), on a fake AWS and a fake clock."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from structlog.testing import capture_logs

import connectors
from connectors.testing import signed_request
from gateway._secret_refresh import SourceRefresher
from gateway.app import build_source
from gateway.config import Settings, parse_settings
from gateway.secrets import AwsSecrets, aws_references
from tests.unit._fakes import FakeClock


class FakeSecrets(AwsSecrets):
    """`AwsSecrets` over a dict of secrets instead of AWS; counts the calls per secret."""

    def __init__(self, clock: FakeClock, stored: dict[str, str]) -> None:
        super().__init__(clock=clock)
        self.stored = stored
        self.calls: Counter[str] = Counter()
        self.gate: threading.Event | None = None  # when set: each call waits for it
        self.entered = threading.Event()  # a call has started

    def _get(self, reference: str, secret: str) -> str:
        self.calls[secret] += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        if secret not in self.stored:
            raise LookupError(f"cannot read {reference}: ResourceNotFoundException: gone")
        return self.stored[secret]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


def test_the_keys_of_one_json_secret_cost_one_call(clock: FakeClock) -> None:
    secrets = FakeSecrets(clock, {"secretsmanager:hookgate": json.dumps({"a": "1", "b": "2"})})
    assert [secrets.read("secretsmanager:hookgate#a"), secrets.read("secretsmanager:hookgate#b")] == [
        "1",
        "2",
    ]
    assert secrets.read("secretsmanager:hookgate") == json.dumps({"a": "1", "b": "2"})
    assert secrets.calls == {"secretsmanager:hookgate": 1}


def test_a_secret_is_read_again_only_when_expired_and_at_most_once_a_minute(clock: FakeClock) -> None:
    secrets = FakeSecrets(clock, {"ssm:/s": "one"})
    assert secrets.read("ssm:/s") == "one"
    secrets.stored["ssm:/s"] = "two"
    clock.advance(3600)
    assert secrets.read("ssm:/s") == "one"  # nothing asked for it again
    assert not secrets.expire(["ssm:/s"], older_than=7200)
    assert secrets.expire(["ssm:/s"], older_than=60)
    assert secrets.expire(older_than=60)  # still due: not read yet
    assert secrets.read("ssm:/s") == "two"
    clock.advance(59)
    assert not secrets.expire(older_than=0)  # read within the minute
    clock.advance(1)
    assert secrets.expire(older_than=0)
    assert secrets.calls == {"ssm:/s": 2}
    assert not secrets.expire(["ssm:/never-read"], older_than=0)


def test_a_failed_read_keeps_the_last_value_and_is_tried_again_a_minute_later(clock: FakeClock) -> None:
    secrets = FakeSecrets(clock, {"secretsmanager:s": "whsec_kept_93"})
    secrets.read("secretsmanager:s")
    del secrets.stored["secretsmanager:s"]
    clock.advance(60)
    assert secrets.expire(older_than=60)
    with capture_logs() as logs:
        assert secrets.read("secretsmanager:s") == "whsec_kept_93"
    assert logs == [
        {
            "event": "secret_refresh_failed",
            "log_level": "warning",
            "secret": "secretsmanager:s",
            "error": "cannot read secretsmanager:s: ResourceNotFoundException: gone",
        }
    ]
    clock.advance(59)
    assert not secrets.expire(older_than=0)
    clock.advance(1)
    assert secrets.expire(older_than=0)
    assert secrets.calls == {"secretsmanager:s": 2}


def test_a_first_read_that_fails_raises_and_is_not_kept(clock: FakeClock) -> None:
    secrets = FakeSecrets(clock, {})
    for _ in range(2):
        with pytest.raises(LookupError, match="ResourceNotFoundException"):
            secrets.read("secretsmanager:s")
    assert secrets.calls == {"secretsmanager:s": 2}


def test_a_source_records_its_aws_references() -> None:
    options = {"secrets": ["whsec_literal", "env:X", "secretsmanager:h#stripe", "ssm:/p"]}
    assert aws_references(connectors.load("stripe").Options, options) == ("secretsmanager:h#stripe", "ssm:/p")
    raw = {
        "sources": {
            "stripe": {"connector": "stripe", "secrets": ["secretsmanager:h#stripe"]},
            "support": {"connector": "freshdesk", "username": "u", "password": "secretsmanager:h#freshdesk"},
        }
    }
    secrets = FakeSecrets(
        FakeClock(0), {"secretsmanager:h": json.dumps({"stripe": "whsec_1", "freshdesk": "pw"})}
    )
    settings = parse_settings(raw, env={}, secrets=secrets)
    assert settings.sources["stripe"].secret_references == ("secretsmanager:h#stripe",)
    assert settings.sources["support"].secret_references == ("secretsmanager:h#freshdesk",)
    assert secrets.calls == {"secretsmanager:h": 1}


# -- the sources rebuilt --------------------------------------------------------------------

RAW: dict[str, Any] = {
    "sources": {
        "stripe": {"connector": "stripe", "secrets": ["secretsmanager:h#stripe"]},
        "github": {"connector": "github", "secrets": ["ssm:/github"]},
    }
}


def refresher_over(secrets: FakeSecrets) -> tuple[SourceRefresher, list[Settings]]:
    loaded: list[Settings] = []

    def load() -> Settings:
        loaded.append(parse_settings(RAW, env={}, secrets=secrets))
        return loaded[-1]

    settings = load()
    sources = {name: build_source(spec) for name, spec in settings.sources.items()}
    return SourceRefresher(sources, settings.sources, load, secrets, ttl=300), loaded


def verifies(refresher: SourceRefresher, name: str, secret: str, now: float) -> bool:
    request = signed_request(connectors.load(name).from_config({"secrets": [secret]}), now=now)
    try:
        refresher.sources[name].connector.verify(request, now)
    except connectors.VerificationError:
        return False
    return True


def test_after_a_rejection_only_the_source_whose_secret_changed_is_rebuilt(clock: FakeClock) -> None:
    secrets = FakeSecrets(
        clock, {"secretsmanager:h": json.dumps({"stripe": "whsec_old"}), "ssm:/github": "gh"}
    )
    refresher, loaded = refresher_over(secrets)
    stripe, github = refresher.sources["stripe"], refresher.sources["github"]
    secrets.stored["secretsmanager:h"] = json.dumps({"stripe": "whsec_new"})
    clock.advance(61)

    with capture_logs() as logs:
        rebuilt = asyncio.run(refresher.after_rejection(stripe))

    assert rebuilt is refresher.sources["stripe"] is not stripe
    assert refresher.sources["github"] is github
    assert verifies(refresher, "stripe", "whsec_new", clock())
    assert secrets.calls == {"secretsmanager:h": 2, "ssm:/github": 1}
    assert [line["event"] for line in logs] == ["secret_refreshed", "source_rebuilt"]
    assert len(loaded) == 2
    # The same rejection again: the secret is fresh, nothing is read or rebuilt.
    assert asyncio.run(refresher.after_rejection(refresher.sources["stripe"])) is None
    assert len(loaded) == 2


def test_a_secret_that_did_not_change_rebuilds_nothing(clock: FakeClock) -> None:
    secrets = FakeSecrets(
        clock, {"secretsmanager:h": json.dumps({"stripe": "whsec_old"}), "ssm:/github": "gh"}
    )
    refresher, _ = refresher_over(secrets)
    stripe = refresher.sources["stripe"]
    clock.advance(61)
    assert asyncio.run(refresher.after_rejection(stripe)) is None
    assert refresher.sources["stripe"] is stripe
    assert secrets.calls["secretsmanager:h"] == 2


def test_concurrent_rejections_share_one_refresh(clock: FakeClock) -> None:
    secrets = FakeSecrets(
        clock, {"secretsmanager:h": json.dumps({"stripe": "whsec_old"}), "ssm:/github": "gh"}
    )
    refresher, loaded = refresher_over(secrets)
    stripe = refresher.sources["stripe"]
    secrets.stored["secretsmanager:h"] = json.dumps({"stripe": "whsec_new"})
    clock.advance(61)
    secrets.gate = threading.Event()
    secrets.entered.clear()

    async def reject_many() -> list[Any]:
        waiting = [asyncio.ensure_future(refresher.after_rejection(stripe)) for _ in range(20)]
        await asyncio.to_thread(secrets.entered.wait, 5)  # the first one reads; the rest wait
        assert secrets.gate is not None
        secrets.gate.set()
        return await asyncio.gather(*waiting)

    results = asyncio.run(reject_many())

    assert all(result is refresher.sources["stripe"] is not stripe for result in results)
    assert secrets.calls["secretsmanager:h"] == 2
    assert len(loaded) == 2


def test_a_refresh_that_fails_keeps_the_sources(clock: FakeClock) -> None:
    secrets = FakeSecrets(
        clock, {"secretsmanager:h": json.dumps({"stripe": "whsec_old"}), "ssm:/github": "gh"}
    )
    refresher, _ = refresher_over(secrets)
    stripe = refresher.sources["stripe"]
    secrets.stored["secretsmanager:h"] = json.dumps({"renamed": "whsec_new"})  # the key is gone
    clock.advance(300)
    assert refresher.stale()
    with capture_logs() as logs:
        asyncio.run(refresher.refresh())
    assert refresher.sources["stripe"] is stripe
    [failed] = [line for line in logs if line["event"] == "sources_refresh_failed"]
    assert failed["log_level"] == "error"
    assert "not a JSON object with the key 'stripe'" in failed["error"]
    assert "whsec" not in json.dumps(logs)


def test_the_ttl_reads_every_secret_again(clock: FakeClock) -> None:
    secrets = FakeSecrets(
        clock, {"secretsmanager:h": json.dumps({"stripe": "whsec_old"}), "ssm:/github": "gh"}
    )
    refresher, _ = refresher_over(secrets)
    secrets.stored["ssm:/github"] = "gh-rotated"
    clock.advance(299)
    assert not refresher.stale()
    clock.advance(1)
    assert refresher.stale()
    asyncio.run(refresher.refresh())
    assert secrets.calls == {"secretsmanager:h": 2, "ssm:/github": 2}
    assert verifies(refresher, "github", "gh-rotated", clock())
    assert not refresher.stale()
