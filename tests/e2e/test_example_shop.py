"""The event-driven shop example, run as its README says: `python run.py` (hookgate and the
two services), then `python run.py send` (the two test webhooks), in a copy of the example
whose ports are free ones. Locally the workflow writes a report per processed event; in the
AWS flavour hookgate starts an execution per event of the template's state machine on a
moto server that runs it, and the reports land in S3. The template's rule patterns are
checked by moto's EventBridge against the events hookgate stored, and the services' Lambda
handlers publish to moto's EventBridge."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import boto3
import httpx
import pytest
from moto.events.models import EventPattern

import connectors
from tests.helpers.aws import REGION, moto_server, offline_env
from tests.helpers.deploy import SHOP, SHOP_TEMPLATE, Stack, load_template, of_type
from tests.helpers.served import free_port

pytestmark = pytest.mark.e2e

T = TypeVar("T")
#: The Stripe connector's sample, which `hookgate send-test stripe` sends.
SAMPLE_INTENT = json.loads(connectors.load("stripe").from_config({"secrets": ["x"]}).sample_body(0))["data"][
    "object"
]


@dataclass
class Shop:
    """A copy of the example, its ports changed to free ones."""

    root: Path
    ports: dict[str, int]
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['hookgate']}"

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/events"

    def command(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "run.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stored(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.root / "shop.db") as db:
            return [json.loads(entry) for (entry,) in db.execute("SELECT entry FROM events")]


def copy_of_the_example(tmp: Path, env: Mapping[str, str]) -> Shop:
    root = tmp / "event-driven-shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("reports", "shop.db*", "__pycache__"))
    ports = {"hookgate": free_port(), "payments": free_port(), "support": free_port()}
    config = root / "hookgate.toml"
    text = config.read_text()
    for old, new in (
        ("port = 8080", f"port = {ports['hookgate']}"),
        ("127.0.0.1:8081", f"127.0.0.1:{ports['payments']}"),
        ("127.0.0.1:8082", f"127.0.0.1:{ports['support']}"),
    ):
        assert old in text
        text = text.replace(old, new)
    config.write_text(text)
    return Shop(root, ports, dict(env))


def user_env(home: Path) -> dict[str, str]:
    """This environment without the example's secrets (the development values are used) and
    with AWS pointed nowhere real."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOOKGATE_"))}
    for name in ("STRIPE_WEBHOOK_SECRET", "FRESHDESK_WEBHOOK_PASSWORD", "SHOP_BUS_SECRET"):
        env.pop(name, None)
    return {**env, **offline_env(home)}


@contextmanager
def running(shop: Shop, *args: str) -> Iterator[subprocess.Popen[str]]:
    """`python run.py ARGS` until it says the shop is running; Ctrl-C at the end, which
    stops it cleanly."""
    log = shop.root / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "run.py", *args],
            cwd=shop.root,
            env=shop.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        eventually(lambda: "the shop is running" in log.read_text() or None, "the shop to start", 60, process)
        yield process
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, log.read_text()
        for name in ("hookgate", "payments", "support"):
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{shop.ports[name]}/", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def eventually(
    check: Callable[[], T | None],
    what: str,
    timeout: float = 30,
    process: subprocess.Popen[str] | None = None,
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process is None or process.poll() is None, f"run.py exited while waiting for {what}"
        found = check()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited in vain for {what}")


def send(shop: Shop) -> dict[str, str]:
    """`python run.py send`; the id of the event each webhook's answer names, by source."""
    sent = shop.command("send")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    answers = [line for line in sent.stdout.splitlines() if re.match(r"^\d{3} ", line)]
    assert [a[:4] for a in answers] == ["200 ", "200 "]
    ids = [json.loads(a[4:])["event_ids"] for a in answers]
    assert all(len(i) == 1 for i in ids)
    return {"stripe": ids[0][0], "support": ids[1][0]}


def received(shop: Shop, service: str) -> list[str]:
    found: list[str] = httpx.get(shop.service_url(service), timeout=5).json()["received"]
    return found


def metric(shop: Shop, line: str) -> float:
    text = httpx.get(f"{shop.url}/metrics", timeout=5).text
    [value] = [row.rsplit(" ", 1)[1] for row in text.splitlines() if row.startswith(line + " ")]
    return float(value)


def test_two_commands_run_the_shop_and_the_workflow_reports_each_processed_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = copy_of_the_example(tmp_path, user_env(tmp_path / "aws"))
    reports = shop.root / "reports"
    with running(shop):
        webhooks = send(shop)
        payment, ticket = eventually(
            lambda: sorted(reports.glob("*.json")) if len(list(reports.glob("*.json"))) == 2 else None,
            "two reports",
        )
        # Each service got the one event its rule matched: the webhook's, exactly once.
        assert received(shop, "payments") == [webhooks["stripe"]]
        assert received(shop, "support") == [webhooks["support"]]
        assert (
            metric(shop, 'hookgate_eventbridge_api_requests_total{operation="PutEvents",outcome="success"}')
            == 2
        )
        assert metric(shop, 'hookgate_eventbridge_api_entries_total{outcome="accepted"}') == 2
    stored = {e["id"]: e for e in shop.stored()}
    freshdesk = stored[webhooks["support"]]["detail"]["payload"]["freshdesk_webhook"]
    assert payment.name == f"payment-{SAMPLE_INTENT['id']}.json"
    assert ticket.name == f"ticket-{freshdesk['ticket_id']}.json"
    payment_report, ticket_report = (json.loads(p.read_text()) for p in (payment, ticket))
    # Each report is of the event its service published through the API, stored by hookgate.
    published = {e["source"]: e for e in stored.values() if e["source"].startswith("com.example.shop.")}
    assert payment_report == {
        "report": "Payment Processed",
        "event": published["com.example.shop.payments"]["id"],
        "source": "com.example.shop.payments",
        "time": published["com.example.shop.payments"]["time"],
        "payment_intent": SAMPLE_INTENT["id"],
        "amount": SAMPLE_INTENT["amount"],
        "currency": SAMPLE_INTENT["currency"],
        "stripe_event": stored[webhooks["stripe"]]["detail"]["payload"]["id"],
    }
    assert ticket_report == {
        "report": "Ticket Processed",
        "event": published["com.example.shop.support"]["id"],
        "source": "com.example.shop.support",
        "time": published["com.example.shop.support"]["time"],
        "ticket": freshdesk["ticket_id"],
        "subject": freshdesk["ticket_subject"],
        "priority": "Urgent",
        "queue": "urgent",
    }
    assert len(stored) == 4  # two webhooks, two published events: nothing twice
    check_the_template_on_moto(shop, tmp_path / "aws", monkeypatch)


def check_the_template_on_moto(shop: Shop, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What moto can do with the rest of the template: its EventBridge judges the rules'
    patterns against the events the local run stored (its rules deliver to neither Lambda
    nor Step Functions), and the services' Lambda handlers, with the environment the
    template gives them, publish to its bus."""
    events = {e["source"]: e for e in shop.stored()}
    assert set(events) == {
        "hookgate.stripe",
        "hookgate.support",
        "com.example.shop.payments",
        "com.example.shop.support",
    }
    template = load_template(SHOP_TEMPLATE)
    rules = {
        f"{logical_id}.{name}": source["Properties"]["Pattern"]
        for logical_id, resource in template["Resources"].items()
        for name, source in resource.get("Properties", {}).get("Events", {}).items()
        if source["Type"] == "EventBridgeRule"
    }
    expected = {
        "PaymentService.PaymentSucceeded": {"hookgate.stripe"},
        "SupportService.TicketCreated": {"hookgate.support"},
        "ReportWorkflow.Processed": {"com.example.shop.payments", "com.example.shop.support"},
    }
    # moto's TestEventPattern answers nothing: its rules' own matcher judges.
    matched = {
        rule: {
            source
            for source, event in events.items()
            if EventPattern.load(json.dumps(pattern)).matches_event(cast("Any", event))
        }
        for rule, pattern in rules.items()
    }
    assert matched == expected
    with moto_server() as endpoint:
        events_client = aws(endpoint, "events")

        function_env = Stack(template).resolve(template["Globals"]["Function"]["Environment"]["Variables"])
        bus = function_env["EVENT_BUS_NAME"]
        events_client.create_event_bus(Name=bus)
        # The workflow's rule as declared, its target an SQS queue (moto's rules reach no state machine).
        sqs = aws(endpoint, "sqs")
        queue = sqs.create_queue(QueueName="workflow")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        pattern = json.dumps(rules["ReportWorkflow.Processed"])
        events_client.put_rule(Name="Processed", EventBusName=bus, EventPattern=pattern)
        events_client.put_targets(Rule="Processed", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
        for name, value in {
            **offline_env(home),
            **function_env,
            "AWS_ENDPOINT_URL": endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(shop.root))
        # The example's package, on the path now (its boto3 client made with this environment).
        shop_bus, payments, support = (
            importlib.import_module(f"shop.{m}") for m in ("bus", "payments", "support")
        )
        try:
            answers = [
                payments.handler(events["hookgate.stripe"], None),
                support.handler(events["hookgate.support"], None),
            ]
        finally:
            shop_bus._events.cache_clear()
            for module in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
                del sys.modules[module]
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    published = sorted((json.loads(m["Body"]) for m in messages), key=lambda e: e["source"])
    assert [e["id"] for e in published] == [a["published"] for a in answers]
    # The same events the services published to hookgate locally.
    assert [(e["source"], e["detail-type"], e["detail"]) for e in published] == [
        (e["source"], e["detail-type"], e["detail"])
        for e in (events["com.example.shop.payments"], events["com.example.shop.support"])
    ]


# -- the AWS flavour, on moto -------------------------------------------------------------------


def state_machine_definition(bucket: str) -> str:
    """The template's workflow, its substitutions made."""
    [machine] = of_type(load_template(SHOP_TEMPLATE), "AWS::Serverless::StateMachine").values()
    definition = json.dumps(machine["Properties"]["Definition"])
    return definition.replace("${ReportsBucket}", bucket)


@pytest.fixture
def moto_runs_workflows(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server that runs Step Functions executions (its S3 tasks call the server)."""
    with moto_server() as endpoint:
        monkeypatch.setenv("MOTO_PORT", endpoint.rsplit(":", 1)[1])
        httpx.post(f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}})
        try:
            yield endpoint
        finally:
            httpx.post(
                f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": False}}
            )


def aws(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_the_aws_flavour_starts_the_templates_workflow_which_writes_the_reports_to_s3(
    tmp_path: Path, moto_runs_workflows: str
) -> None:
    endpoint = moto_runs_workflows
    s3, sfn = aws(endpoint, "s3"), aws(endpoint, "stepfunctions")
    s3.create_bucket(Bucket="shop-reports")
    machine = sfn.create_state_machine(
        name="ReportWorkflow",
        definition=state_machine_definition("shop-reports"),
        roleArn="arn:aws:iam::123456789012:role/ReportWorkflowRole",
    )["stateMachineArn"]
    shop = copy_of_the_example(tmp_path, {**user_env(tmp_path / "aws"), "AWS_ENDPOINT_URL": endpoint})
    with running(shop, "--state-machine-arn", machine):
        webhooks = send(shop)

        def finished() -> list[dict[str, Any]] | None:
            runs = sfn.list_executions(stateMachineArn=machine)["executions"]
            done = [r for r in runs if r["status"] != "RUNNING"]
            return done if len(done) == 2 else None

        executions = eventually(finished, "two executions")
        assert received(shop, "payments") == [webhooks["stripe"]]
        assert received(shop, "support") == [webhooks["support"]]
    assert {e["status"] for e in executions} == {"SUCCEEDED"}
    inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]
    stored = {e["id"]: e for e in shop.stored()}
    published = {e["id"]: e for e in stored.values() if e["source"].startswith("com.example.shop.")}
    # An execution per published event, named after it, with the event as its input.
    assert {e["name"] for e in executions} == set(published)
    assert {i["id"]: i for i in inputs} == published
    assert not (shop.root / "reports").exists()
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="shop-reports")["Contents"])
    freshdesk = stored[webhooks["support"]]["detail"]["payload"]["freshdesk_webhook"]
    assert listed == [f"payment-{SAMPLE_INTENT['id']}.json", f"ticket-{freshdesk['ticket_id']}.json"]
    for key in listed:
        body = json.loads(s3.get_object(Bucket="shop-reports", Key=key)["Body"].read())
        assert body in published.values()
