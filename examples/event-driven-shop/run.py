"""The event-driven shop on this machine.

    python run.py         starts hookgate (hookgate.toml) and the two services, until Ctrl-C
    python run.py send    sends the two test webhooks: a Stripe payment, a Freshdesk ticket

Everything is read from hookgate.toml: hookgate's address, each service's (the URL of its
rule's `http` target), the bus the services publish to and its access key. Secrets come
from the environment; development values are used when they are unset.
`--state-machine-arn ARN` sends the processed events to a Step Functions state machine (an
execution per event, with boto3's usual credentials and endpoint) instead of writing reports.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "hookgate.toml"
BUS = "shop"
#: Each service: the rule whose `http` target it answers, and its app.
SERVICES = {
    "payments": ("payment-succeeded", "shop.local:payments"),
    "support": ("ticket-created", "shop.local:support"),
}
#: For this example only: set your own in the environment.
DEVELOPMENT_SECRETS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_event_driven_shop_development",
    "FRESHDESK_WEBHOOK_PASSWORD": "event-driven-shop-development",
    "SHOP_BUS_SECRET": "event-driven-shop-bus-development",
}


def hookgate(*args: str) -> list[str]:
    """The `hookgate` command of this Python."""
    return [sys.executable, "-m", "gateway", *args, "--config", str(CONFIG)]


def environment() -> dict[str, str]:
    """This environment, with the development secrets where unset, and this folder on the
    Python path (hookgate imports the workflow, `shop.workflow:write_report`)."""
    env = {**DEVELOPMENT_SECRETS, **os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    return env


def service_environment(config: dict[str, Any], env: dict[str, str], endpoint: str) -> dict[str, str]:
    """A service's boto3 publishes to hookgate's bus with the bus's access key, whatever
    AWS settings this shell has."""
    api = config["sinks"][BUS]["api"]
    key = api["credentials"][0]
    secret = key["secret_access_key"]
    service = {name: value for name, value in env.items() if not name.startswith("AWS_")}
    service.update(
        AWS_ENDPOINT_URL_EVENTBRIDGE=endpoint,
        AWS_ACCESS_KEY_ID=key["access_key_id"],
        AWS_SECRET_ACCESS_KEY=env[secret.removeprefix("env:")] if secret.startswith("env:") else secret,
        AWS_DEFAULT_REGION=api.get("region", "us-east-1"),
        AWS_EC2_METADATA_DISABLED="true",
        EVENT_BUS_NAME=BUS,
    )
    return service


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run(state_machine_arn: str | None) -> int:
    config = tomllib.loads(CONFIG.read_text())
    env = environment()
    server = config["server"]
    endpoint = f"http://{server['host']}:{server['port']}"
    if state_machine_arn:
        workflow = [{"id": "workflow", "type": "stepfunctions", "state_machine_arn": state_machine_arn}]
        env["HOOKGATE_SINKS__SHOP__RULES__PROCESSED__TARGETS"] = json.dumps(workflow)
    rules = config["sinks"][BUS]["rules"]
    processes = {"hookgate": subprocess.Popen(hookgate("serve"), env=env, cwd=HERE)}  # noqa: S603
    ready = {"hookgate": f"{endpoint}/readyz"}
    for name, (rule, app) in SERVICES.items():
        [target] = rules[rule]["targets"]
        url = urlsplit(target["url"])
        argv = [sys.executable, "-m", "uvicorn", app, "--host", str(url.hostname), "--port", str(url.port)]
        argv += ["--log-level", "warning"]
        processes[name] = subprocess.Popen(  # noqa: S603 - this Python, our arguments
            argv, env=service_environment(config, env, endpoint), cwd=HERE
        )
        ready[name] = target["url"]
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _: stopping.append(number))
    try:
        waiting = dict(ready)
        while waiting and not stopping:
            waiting = {name: url for name, url in waiting.items() if not answers(url)}
            if any(p.poll() is not None for p in processes.values()):
                return 1
            time.sleep(0.1)
        if not stopping:
            print(
                f"the shop is running: hookgate at {endpoint}; `python run.py send` sends the webhooks",
                flush=True,
            )
        while not stopping and all(p.poll() is None for p in processes.values()):
            time.sleep(0.2)
        return 0 if stopping else 1
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def send() -> int:
    """Posts a signed sample of each source to hookgate (`hookgate send-test`)."""
    failed = 0
    for source in ("stripe", "support"):
        command = hookgate("send-test", source)
        result = subprocess.run(command, env=environment(), cwd=HERE, check=False)  # noqa: S603
        failed += result.returncode != 0
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", nargs="?", choices=["send"], help="send the two test webhooks")
    parser.add_argument(
        "--state-machine-arn", help="start an execution per processed event instead of a report"
    )
    options = parser.parse_args()
    return send() if options.command == "send" else run(options.state_machine_arn)


if __name__ == "__main__":
    sys.exit(main())
