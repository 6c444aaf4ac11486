"""Hypothesis against a real `hookgate serve`, on SQLite and on PostgreSQL: JSON texts with
escapes, lone surrogates, huge and tiny numbers, nesting and every Unicode plane, signed
with Stripe's SDK and posted. Every answer is 2xx, 400 or 413, never a 5xx; every 2xx is
stored and delivered (to the jsonl sink) with the payload's values unchanged; a 400 is
only for a number no double holds."""

from __future__ import annotations

import itertools
import json
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.served import Served, base_config, free_port, stripe_headers
from tests.unit._postgres import require_postgres

pytestmark = pytest.mark.e2e

EXAMPLES = 150

#: Escapes as providers write them: lone halves of a surrogate pair, pairs, controls.
ESCAPES = st.sampled_from(
    [
        "\\ud800",
        "\\udfff",
        "\\ud83d",
        "\\ude00",
        "\\ud83d\\ude00",
        "\\u0000",
        "\\u001f",
        "\\n",
        '\\"',
        "\\\\",
        "\\/",
    ]
)
#: Text from every plane, written raw (valid UTF-8) or escaped by the standard library.
PLAIN = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def json_strings(draw: st.DrawFn) -> str:
    ascii_only = draw(st.booleans())
    plain = PLAIN.map(lambda t: json.dumps(t, ensure_ascii=ascii_only)[1:-1])
    parts = draw(st.lists(st.one_of(plain, ESCAPES), max_size=4))
    return '"' + "".join(parts) + '"'


NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.tuples(st.integers(-9, 9), st.integers(0, 999), st.integers(-420, 420)).map(
        lambda t: f"{t[0]}.{t[1]}e{t[2]}"
    ),
    st.sampled_from(
        ["-0", "-0.0", "0e0", "1E+2", "5e-324", "1.7976931348623157e308", "1e309", "-1e400", "1e-400"]
    ),
)
SCALARS = st.one_of(NUMBERS, json_strings(), st.sampled_from(["true", "false", "null"]))
JSON_TEXTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(json_strings(), inner), max_size=4).map(
            lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
        ),
    ),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, -0.0 told from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def finite(body: bytes) -> bool:
    """Whether every number written in `body` fits a double (a duplicate key's, too)."""
    found: list[float] = []

    def number(text: str) -> float:
        found.append(float(text))
        return found[-1]

    json.loads(body, parse_float=number)
    return all(math.isfinite(x) for x in found)


@pytest.fixture(params=["sqlite", "postgres"])
def served_on(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """A `hookgate serve` on a fresh SQLite file or PostgreSQL schema."""
    port = free_port()
    config = base_config(tmp_path, port)
    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    url = ""
    if request.param == "postgres":
        url = require_postgres()
        config = config.replace(
            f'url = "sqlite:///{tmp_path / "hookgate.db"}"', f'url = "{url}"\nschema_name = "{schema}"'
        )
    (tmp_path / "hookgate.toml").write_text(config)
    gw = Served(tmp_path, tmp_path / "hookgate.toml", port)
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()
        if url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_signed_json_is_stored_and_delivered_unchanged_or_refused_with_400(served_on: Served) -> None:
    ids = itertools.count()
    accepted: dict[str, Any] = {}
    statuses: list[int] = []

    with httpx.Client(base_url=served_on.url, timeout=30) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(JSON_TEXTS, json_strings())
        def post(data: str, id_tail: str) -> None:
            event_id = f'"evt_fuzz_{next(ids)}_' + id_tail[1:]
            body = (
                f'{{"id": {event_id}, "object": "event", "type": "fuzz.event", '
                f'"created": {int(time.time())}, "data": {{"object": {data}}}}}'
            ).encode()
            response = client.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
            statuses.append(response.status_code)
            assert response.status_code in (200, 400, 413), response.text
            expected = json.loads(body)
            if response.status_code == 400:
                assert not finite(body), f"refused: {body!r}"
                return
            if response.status_code == 200:
                assert finite(body)
                [stored_id] = response.json()["event_ids"]
                accepted[stored_id] = expected

        post()

    assert statuses.count(200) > EXAMPLES // 2, statuses
    entries = served_on.wait_for_sink(lambda found: len(found) >= len(accepted), timeout=60)
    delivered = {entry["id"]: entry["detail"]["payload"] for entry in entries}
    assert set(delivered) == set(accepted)
    for event_id, expected in accepted.items():
        assert same(delivered[event_id], expected), event_id
