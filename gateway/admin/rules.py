"""The local routers' rules: list them, and test an event against them.

    GET  /rules          every rule of every bus: state, pattern, targets
    POST /rules/test     {"event": {...}, "rule": "BUS/RULE"?}: per rule, whether the event
                         matches and what each target would receive

The test changes nothing, so a viewer may run it; it is `hookgate rules test` over the
gateway's own buses (`Bus.explain`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway import views
from gateway.admin.api import ApiError, Call, Document, NoBody, NoParams, Params, Routes

__all__ = ["routes"]

routes = Routes("rules")


class RuleTargetView(Document):
    id: str
    type: str
    maximum_retry_attempts: int


class RuleView(Document):
    bus: str
    name: str
    enabled: bool
    description: str | None
    event_pattern: Any
    targets: list[RuleTargetView]


class RuleList(Document):
    rules: list[RuleView]


class RuleTestRequest(Params):
    event: dict[str, Any] = Field(
        description="The event, EventBridge-shaped (`source`, `detail-type`, `detail`, …)."
    )
    rule: str | None = Field(None, description="Only this rule (`RULE` or `BUS/RULE`).")


class RuleTestResult(Document):
    bus: str
    rule: str
    enabled: bool
    matched: bool
    #: Target id → what it would receive.
    targets: dict[str, Any]


class RuleTest(Document):
    results: list[RuleTestResult]


@routes.get("/rules", response=RuleList)
async def list_rules(call: Call[NoParams, NoBody]) -> dict[str, Any]:
    """Every rule of every local router: state, event pattern and targets."""
    return views.rules_document(call.gateway.settings.buses)


@routes.post("/rules/test", body=RuleTestRequest, response=RuleTest, role="viewer")
async def test_rules(call: Call[NoParams, RuleTestRequest]) -> dict[str, Any]:
    """Match an event against the rules: which match, and what each target would receive."""
    rule = call.body.rule
    try:
        results = [r for bus in call.gateway.buses.values() for r in bus.explain(call.body.event)]
    except ValueError as exc:
        raise ApiError(400, "invalid_body", f"event: {exc}") from None
    if rule is not None:
        results = [r for r in results if rule in (r["rule"], f"{r['bus']}/{r['rule']}")]
        if not results:
            raise ApiError(404, "not_found", f"no rule {rule!r}")
    return views.rule_test_document(results)
