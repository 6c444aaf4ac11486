"""The EventBridge API of the local buses: `PutEvents` and the read operations, over AWS Signature Version 4.

A bus with an `[sinks.NAME.api]` table answers EventBridge's JSON 1.1 protocol at its
`path` (`POST /` by default; `X-Amz-Target: AWSEvents.OPERATION`), so boto3's `events`
client, the AWS CLI or any SDK pointed at `hookgate serve` publishes to it:

    PutEvents            entries checked as EventBridge checks them (`_put_events`), stored
                         and routed by the bus's rules like webhook events, then answered
    TestEventPattern     the router's pattern language
    ListEventBuses, ListRules, DescribeRule, ListTargetsByRule    from the configuration

Requests are signed with the access keys configured per bus (`_sigv4`); errors have
EventBridge's JSON shape and codes (`ApiError`), so the SDKs raise the exceptions they
raise against AWS. The API is off unless a bus has an `api` table. See docs/router.md.
"""

from gateway.router.eventbridge_api._endpoint import CONTENT_TYPE, EventBridgeApi, api_endpoints
from gateway.router.eventbridge_api._errors import ApiError
from gateway.router.eventbridge_api._put_events import API_SOURCE, plan_put_events
from gateway.router.eventbridge_api._sigv4 import SignedRequest, verify

__all__ = [
    "API_SOURCE",
    "CONTENT_TYPE",
    "ApiError",
    "EventBridgeApi",
    "SignedRequest",
    "api_endpoints",
    "plan_put_events",
    "verify",
]
