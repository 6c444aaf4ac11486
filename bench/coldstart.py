"""Cold start of the Lambda handler (`gateway.aws_lambda`), next to the baselines it cannot beat.

    .venv/bin/python bench/coldstart.py            # 15 fresh interpreters per measurement
    .venv/bin/python bench/coldstart.py --quick    # 5

Each measurement starts a fresh interpreter and times it from spawn to exit (the median of
`--runs`):

    python       `python -c pass`: the interpreter alone
    json         `import json`: the smallest useful import
    boto3        `import boto3`: what any Python function talking to AWS pays
    import       `import gateway.aws_lambda`: the handler's module path
    init         the same import inside the Lambda runtime (`AWS_LAMBDA_RUNTIME_API` set), which
                 also builds the handler: configuration, connectors, boto3 clients for the bus
                 and the dedup table; no request is made

`python -X importtime` then breaks the import down by package (self time, summed), and a
check lists the modules only a server needs (uvicorn, click, psycopg, SQLite...) that the
import loaded anyway: the list should be empty. Last, against a local moto server, one
interpreter is timed from the import (the secrets now fetched from Secrets Manager and
Parameter Store) to its first answered request (a signed Stripe delivery put on the bus,
with the dedup table) and over warm requests. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

import connectors  # noqa: E402
from connectors.testing import signed_request  # noqa: E402

MODULE = "gateway.aws_lambda"
#: Modules a server needs and the Lambda handler must not load.
UNWANTED = (
    "uvicorn",
    "uvloop",
    "httptools",
    "click",
    "psycopg",
    "psycopg_pool",
    "sqlite3",
    "httpx",
    "gateway.cli",
    "gateway.store.sqlite",
    "gateway.store.postgres",
    "prometheus_client.multiprocess",
)
SECRET = "whsec_coldstart_bench_secret"  # noqa: S105 - signs the benchmark's own deliveries
CONFIG = f"""
[sources.stripe]
connector = "stripe"
secrets = ["{SECRET}"]

[sources.github]
connector = "github"
secrets = ["github-bench-secret"]

[sinks.bus]
type = "eventbridge"
event_bus_name = "bench"
"""
FIRST_REQUEST = r"""
import json, sys, time
started = time.perf_counter()
import gateway.aws_lambda as lam
built = time.perf_counter()
timings = []
for event in json.load(sys.stdin):
    began = time.perf_counter()
    answer = lam.handler(event, None)
    timings.append((time.perf_counter() - began) * 1000)
    if answer["statusCode"] != 200:
        raise SystemExit(f"answered {answer}")
print(json.dumps({"init_ms": (built - started) * 1000, "requests_ms": timings}))
"""


def timed(code: str, env: dict[str, str], runs: int) -> float:
    """Median milliseconds from spawning `python -c code` to its exit."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def import_breakdown(env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """`-X importtime` of the module: its cumulative ms, and self ms summed per package."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {MODULE}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0.0
    packages: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        own, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        parts = name.split(".")
        package = ".".join(parts[:2]) if parts[0] in {"gateway", "connectors"} else parts[0]
        packages[package] += int(own) / 1000
        if name == MODULE:
            total = int(cumulative) / 1000
    top = sorted(packages.items(), key=lambda item: -item[1])[:12]
    return total, {name: round(ms, 1) for name, ms in top}


def unwanted_modules(env: dict[str, str]) -> list[str]:
    code = f"import json, sys, {MODULE}; print(json.dumps([m for m in {UNWANTED!r} if m in sys.modules]))"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    found: list[str] = json.loads(result.stdout)
    return found


def stripe_event(now: float) -> dict[str, Any]:
    """A function URL event carrying a signed Stripe delivery of a new event."""
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": "invoice.paid",
            "created": int(now),
            "data": {"object": {"id": "in_1", "object": "invoice", "amount_paid": 4200}},
        }
    ).encode()
    connector = connectors.load("stripe").from_config({"secrets": [SECRET]})
    request = signed_request(connector, body, now=now)
    headers = dict(request.headers.items())
    headers.update({"host": "bench.lambda-url.us-east-1.on.aws", "x-forwarded-proto": "https"})
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/webhooks/stripe",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "bench",
            "domainName": "bench.lambda-url.us-east-1.on.aws",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": "/webhooks/stripe",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "Stripe/1.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(request.body).decode(),
        "isBase64Encoded": True,
    }


def requests_against_moto(env: dict[str, str], warm: int) -> dict[str, float]:
    """Import → first answered request → `warm` more, in one interpreter, on a local moto."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per moto request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        **env,
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "HOOKGATE_SOURCES__STRIPE__SECRETS": '["secretsmanager:bench/stripe"]',
        "HOOKGATE_SOURCES__GITHUB__SECRETS": '["ssm:/bench/github"]',
    }
    try:
        os.environ.update(env)
        boto3.client("secretsmanager").create_secret(Name="bench/stripe", SecretString=SECRET)
        boto3.client("ssm").put_parameter(Name="/bench/github", Value="github-bench", Type="SecureString")
        boto3.client("events").create_event_bus(Name="bench")
        boto3.client("dynamodb").create_table(
            TableName="bench-dedup",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        events = [stripe_event(time.time()) for _ in range(warm + 1)]
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", FIRST_REQUEST],
            input=json.dumps(events),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = (time.perf_counter() - started) * 1000
    finally:
        server.stop()
    found = json.loads(result.stdout)
    first, *rest = found["requests_ms"]
    return {
        "init_in_process_ms": round(found["init_ms"], 1),
        "first_request_ms": round(first, 1),
        "warm_request_p50_ms": round(statistics.median(rest), 1),
        "process_ms": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per measurement")
    parser.add_argument("--warm", type=int, default=50, help="warm requests after the first")
    parser.add_argument("--quick", action="store_true", help="5 runs, 10 warm requests")
    args = parser.parse_args()
    runs, warm = (5, 10) if args.quick else (args.runs, args.warm)

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "hookgate.toml"
        config.write_text(CONFIG)
        base = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "HOOKGATE_", "PYTHON"))
        }
        base.update(
            {
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        runtime = {
            **base,
            "HOOKGATE_CONFIG": str(config),
            "HOOKGATE_LAMBDA__DEDUP_TABLE": "bench-dedup",
            "HOOKGATE_SERVER__LOG_LEVEL": "warning",
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        }
        wall = {
            "python_ms": timed("pass", base, runs),
            "json_ms": timed("import json", base, runs),
            "boto3_ms": timed("import boto3", base, runs),
            "import_ms": timed(f"import {MODULE}", base, runs),
            "init_ms": timed(f"import {MODULE}", runtime, runs),
        }
        for name, ms in wall.items():
            print(f"{name[:-3]:<8} {ms:8.1f} ms  (median of {runs} fresh interpreters)")
        importtime_ms, packages = import_breakdown(base)
        print(f"-X importtime: {MODULE} {importtime_ms:.1f} ms cumulative; self time by package:")
        for name, ms in packages.items():
            print(f"  {name:<32} {ms:7.1f} ms")
        unwanted = unwanted_modules(base)
        print(f"server-only modules loaded: {', '.join(unwanted) or 'none'}")
        requests = requests_against_moto(runtime, warm)
        print(
            f"in one interpreter on moto: init {requests['init_in_process_ms']} ms, first request "
            f"{requests['first_request_ms']} ms, warm p50 {requests['warm_request_p50_ms']} ms"
        )

    summary: dict[str, Any] = {
        "bench": "coldstart",
        "runs": runs,
        **{name: round(ms, 1) for name, ms in wall.items()},
        "import_over_json_ms": round(wall["import_ms"] - wall["json_ms"], 1),
        "import_over_boto3_ms": round(wall["import_ms"] - wall["boto3_ms"], 1),
        "init_over_import_ms": round(wall["init_ms"] - wall["import_ms"], 1),
        "importtime_ms": round(importtime_ms, 1),
        "importtime_by_package_ms": packages,
        "server_modules_loaded": unwanted,
        **requests,
        "ok": not unwanted,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
