"""Events per second of the router's multi-rule matcher, next to moto's EventPattern on the same work.

    .venv/bin/python bench/match.py            # 10, 100, 1,000 and 10,000 rules, two rule mixes
    .venv/bin/python bench/match.py --quick    # shorter measurements

Events are hookgate envelopes of Stripe and GitHub deliveries (about 1.2 KB of JSON each, every
one distinct). Rules are what a multi-tenant deployment writes: one customer or repository per
rule, plus event types by exact value or prefix, amount ranges and anything-but exclusions.
Mix `exact_prefix` uses exact and prefix rules only; mix `mixed` cycles through exact, prefix,
numeric and anything-but rules. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moto.events.models import EventPattern as MotoPattern

from gateway.router import RuleSet

CUSTOMERS = 1000
ORGS = 200
RULE_COUNTS = (10, 100, 1_000, 10_000)
STRIPE_TYPES = [
    "payment_intent.succeeded",
    "charge.refunded",
    "invoice.paid",
    "charge.failed",
    "invoice.payment_failed",
]
GITHUB_TYPES = ["push", "pull_request.opened", "pull_request.closed", "issues.opened", "release.published"]


def _stripe(rng: random.Random, n: int) -> dict[str, Any]:
    kind = rng.choice(STRIPE_TYPES)
    customer = f"cus_{rng.randrange(CUSTOMERS):05d}"
    amount = rng.randrange(100, 200_000)
    payload = {
        "id": f"evt_{n:024d}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1_790_000_000 + n,
        "data": {
            "object": {
                "id": f"pi_{n:024d}",
                "object": kind.split(".")[0],
                "amount": amount,
                "amount_received": amount,
                "currency": rng.choice(["usd", "eur", "gbp"]),
                "customer": customer,
                "description": f"Order {n} for {customer}",
                "status": rng.choice(["succeeded", "requires_action", "canceled", "processing"]),
                "payment_method": f"pm_{n:024d}",
                "payment_method_types": ["card"],
                "receipt_email": f"user{n}@example.com",
                "metadata": {"order_id": f"ord_{n}", "plan": rng.choice(["free", "pro", "team"])},
                "latest_charge": f"ch_{n:024d}",
                "livemode": False,
                "shipping": {"name": "Jenny Rosen", "address": {"city": "Berlin", "country": "DE"}},
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{n:014d}", "idempotency_key": f"{n:032x}"},
        "type": kind,
    }
    return _envelope(n, "hookgate.stripe", kind, "stripe", payload)


def _github(rng: random.Random, n: int) -> dict[str, Any]:
    kind = rng.choice(GITHUB_TYPES)
    org = f"org-{rng.randrange(ORGS)}"
    repo = f"{org}/service-{rng.randrange(20)}"
    payload = {
        "action": kind.partition(".")[2] or None,
        "ref": "refs/heads/main",
        "before": f"{n:040x}",
        "after": f"{n + 1:040x}",
        "repository": {
            "id": 1_000_000 + n,
            "name": repo.split("/")[1],
            "full_name": repo,
            "private": rng.random() < 0.5,
            "owner": {"login": org, "id": 5000 + n % 97, "type": "Organization"},
            "html_url": f"https://github.com/{repo}",
            "default_branch": "main",
        },
        "sender": {"login": f"dev{n % 50}", "id": 9000 + n % 50, "type": "User"},
        "commits": [
            {"id": f"{n + i:040x}", "message": f"Fix bug {i}", "author": {"name": "Dev", "email": "d@x.io"}}
            for i in range(2)
        ],
    }
    return _envelope(n, "hookgate.github", kind, "github", payload)


def _envelope(n: int, source: str, kind: str, connector: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"0190a1b2-{n:04x}-7abc-8def-{n:012x}",
        "detail-type": kind,
        "source": source,
        "time": "2026-11-28T03:24:35Z",
        "resources": [],
        "detail": {
            "metadata": {
                "event_id": f"0190a1b2-{n:04x}-7abc-8def-{n:012x}",
                "source": connector,
                "connector": connector,
                "provider_event_id": f"evt_{n}",
                "delivery_id": f"dlv_{n}",
                "dedup_key": f"{connector}:evt_{n}",
                "received_at": "2026-11-28T03:24:35.123Z",
            },
            "payload": payload,
        },
    }


def make_events(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [(_stripe if i % 2 == 0 else _github)(rng, i) for i in range(count)]


def make_rules(count: int, mix: str) -> dict[str, dict[str, Any]]:
    rng = random.Random(count)
    rules = {}
    kinds = 2 if mix == "exact_prefix" else 4
    for i in range(count):
        customer = f"cus_{rng.randrange(CUSTOMERS):05d}"
        obj: dict[str, list[Any]] = {"customer": [customer]}
        kind = i % kinds
        if kind == 0:
            pattern: dict[str, Any] = {
                "source": ["hookgate.stripe"],
                "detail-type": [rng.choice(STRIPE_TYPES)],
                "detail": {"payload": {"data": {"object": obj}}},
            }
        elif kind == 1:
            pattern = {
                "source": ["hookgate.github"],
                "detail-type": [{"prefix": rng.choice(["pull_request.", "issues.", "push"])}],
                "detail": {
                    "payload": {"repository": {"full_name": [{"prefix": f"org-{rng.randrange(ORGS)}/"}]}}
                },
            }
        elif kind == 2:
            low = rng.randrange(0, 150_000)
            obj["amount"] = [{"numeric": [">=", low, "<", low + rng.randrange(1000, 50_000)]}]
            pattern = {"source": ["hookgate.stripe"], "detail": {"payload": {"data": {"object": obj}}}}
        else:
            pattern = {
                "source": [{"prefix": "hookgate."}],
                "detail-type": [{"anything-but": ["charge.failed", "invoice.payment_failed"]}],
                "detail": {"payload": {"data": {"object": obj | {"status": [{"anything-but": "canceled"}]}}}},
            }
        rules[f"rule-{i}"] = pattern
    return rules


def measure(
    match: Callable[[Any], list[str]], events: list[Any], budget: float
) -> tuple[float, list[list[str]]]:
    """Events per second over at least `budget` seconds (whole passes), and the first pass's results."""
    first = [match(e) for e in events]
    done = 0
    start = time.perf_counter()
    while True:
        for event in events:
            match(event)
        done += len(events)
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            return done / elapsed, first


def moto_matcher(rules: dict[str, dict[str, Any]]) -> Callable[[dict[str, Any]], list[str]]:
    compiled = [(name, MotoPattern.load(json.dumps(p))) for name, p in rules.items()]

    def match(event: dict[str, Any]) -> list[str]:
        return [name for name, pattern in compiled if pattern.matches_event(event)]  # type: ignore[arg-type]

    return match


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    parser.add_argument("--events", type=int, default=2000, help="distinct events (default 2000)")
    args = parser.parse_args()
    budget = 0.5 if args.quick else 2.0
    events = make_events(args.events)
    texts = [json.dumps(e) for e in events]
    size = sum(len(t.encode()) for t in texts) / len(texts)
    print(f"{len(events)} events, {size:.0f} bytes on average")
    summary: dict[str, Any] = {"bench": "match", "event_bytes": round(size), "events": len(events)}
    agree = True
    for mix in ("exact_prefix", "mixed"):
        ours: dict[str, float] = {}
        moto: dict[str, float] = {}
        for count in RULE_COUNTS:
            rules = make_rules(count, mix)
            built = time.perf_counter()
            ruleset = RuleSet(rules)
            ruleset.matching(events[0])
            compile_s = time.perf_counter() - built
            eps, results = measure(ruleset.matching, events, budget)
            matches = sum(map(len, results)) / len(results)
            # moto walks every rule for every event: give it a time budget, not every event
            sample = events[: max(20, min(len(events), int(200_000 / count)))]
            moto_eps, moto_results = measure(moto_matcher(rules), sample, budget)
            agree = agree and moto_results == results[: len(sample)]
            ours[str(count)] = round(eps)
            moto[str(count)] = round(moto_eps, 1)
            print(
                f"{mix:<13} {count:>6} rules: {eps:>10,.0f} events/s  (compile {compile_s:.2f} s, "
                f"{matches:.2f} matches/event)   moto {moto_eps:>10,.1f} events/s   x{eps / moto_eps:,.0f}"
            )
        summary[mix] = ours
        summary[f"moto_{mix}"] = moto
    text_eps, _ = measure(RuleSet(make_rules(1000, "exact_prefix")).matching, texts, budget)
    print(f"exact_prefix   1000 rules, events as JSON text: {text_eps:,.0f} events/s")
    summary["exact_prefix_1000_from_json"] = round(text_eps)
    summary["moto_agrees"] = agree
    ep = summary["exact_prefix"]
    summary["targets"] = {
        "exact_prefix_1000_ge_50000": ep["1000"] >= 50_000,
        "10000_ge_half_of_10": all(
            summary[m]["10000"] >= summary[m]["10"] / 2 for m in ("exact_prefix", "mixed")
        ),
        "x_moto_1000_ge_20": all(
            summary[m]["1000"] >= 20 * summary[f"moto_{m}"]["1000"] for m in ("exact_prefix", "mixed")
        ),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
