"""The event-driven shop's SAM template is tested like hookgate's own: cfn-lint passes on it
and on what the SAM translator makes of it; its rules are the local configuration's rules
(one architecture, two flavours), each with a retry policy and a dead-letter queue; each
function and the workflow may do what they do on their one resource; the handlers it names
exist. hookgate itself is deploy/aws's template, nested, not a copy."""

from __future__ import annotations

import importlib
import json
import tomllib
from typing import Any

import pytest

from tests.helpers.deploy import SHOP, SHOP_TEMPLATE, TEMPLATE, Stack, lint, load_template, of_type, translate

#: The template's rules (function or state machine, event) and the local configuration's.
RULES = {
    ("PaymentService", "PaymentSucceeded"): "payment-succeeded",
    ("SupportService", "TicketCreated"): "ticket-created",
    ("ReportWorkflow", "Processed"): "processed",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template(SHOP_TEMPLATE)


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


def test_the_shop_template_passes_cfn_lint() -> None:
    assert lint(SHOP_TEMPLATE.read_text()) == []


def test_its_translation_passes_cfn_lint(cfn: dict[str, Any]) -> None:
    assert lint(json.dumps(cfn, indent=1)) == []


def test_hookgate_is_the_deploy_template_nested(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    [application] = of_type(sam, "AWS::Serverless::Application").values()
    assert (SHOP_TEMPLATE.parent / application["Properties"]["Location"]).resolve() == TEMPLATE
    assert application["Properties"]["Parameters"] == {"EventBusName": {"Ref": "EventBusName"}}
    assert list(of_type(cfn, "AWS::CloudFormation::Stack")) == ["Hookgate"]
    outputs = load_template(TEMPLATE)["Outputs"]
    for output in ("EventBusArn", "WebhookBaseUrl", "SourceSecretsArn"):
        assert output in outputs


def test_the_rules_are_the_local_rules_with_retries_and_dead_letters(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    local = tomllib.loads((SHOP / "hookgate.toml").read_text())["sinks"]["shop"]["rules"]
    declared = {
        (logical_id, name): event["Properties"]
        for logical_id, resource in sam["Resources"].items()
        for name, event in resource["Properties"].get("Events", {}).items()
    }
    assert set(declared) == set(RULES)
    for key, rule in RULES.items():
        assert declared[key]["Pattern"] == local[rule]["event_pattern"]
    bus = {"Fn::GetAtt": ["Hookgate", "Outputs.EventBusArn"]}
    translated = of_type(cfn, "AWS::Events::Rule").values()
    assert len(translated) == 3
    targets: set[str] = set()
    for found in translated:
        assert found["Properties"]["EventBusName"] == bus
        [target] = found["Properties"]["Targets"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
        targets.add(json.dumps(target["Arn"], sort_keys=True))
    assert targets == {
        json.dumps(arn, sort_keys=True)
        for arn in (
            {"Fn::GetAtt": ["PaymentService", "Arn"]},
            {"Fn::GetAtt": ["SupportService", "Arn"]},
            {"Ref": "ReportWorkflow"},
        )
    }


def _actions(cfn: dict[str, Any], role_id: str) -> dict[str, Any]:
    stack = Stack(cfn)
    grants: dict[str, Any] = {}
    for policy in cfn["Resources"][role_id]["Properties"].get("Policies", []):
        for statement in stack.resolve(policy["PolicyDocument"]["Statement"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                grants[action] = statement["Resource"]
    return grants


def test_each_function_may_put_events_on_the_bus_and_the_workflow_write_reports(cfn: dict[str, Any]) -> None:
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/shop"
    assert _actions(cfn, "PaymentServiceRole") == {"events:PutEvents": bus}
    assert _actions(cfn, "SupportServiceRole") == {"events:PutEvents": bus}
    workflow = _actions(cfn, "ReportWorkflowRole")
    assert "s3:PutObject" in workflow
    assert all("ReportsBucket" in json.dumps(resource) for resource in workflow.values())


def test_the_handlers_the_template_names_exist(sam: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SHOP))
    try:
        for function in of_type(sam, "AWS::Serverless::Function").values():
            module, _, name = function["Properties"]["Handler"].rpartition(".")
            assert callable(getattr(importlib.import_module(module), name))
    finally:
        import sys  # noqa: PLC0415

        for loaded in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
            del sys.modules[loaded]
