"""Publishing to the bus, the same code locally and on AWS.

`publish` is boto3's `PutEvents` on the bus `EVENT_BUS_NAME` (a name or an ARN): on AWS it
reaches EventBridge; locally `run.py` points boto3 at hookgate
(`AWS_ENDPOINT_URL_EVENTBRIDGE`) with one of the bus's access keys.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3

Entry = dict[str, Any]


@functools.cache
def _events() -> Any:
    return boto3.client("events")


def publish(entry: Entry) -> str:
    """Puts `entry` on the shop's bus; its event id. Raises when the bus refused it."""
    answer = _events().put_events(Entries=[{**entry, "EventBusName": os.environ["EVENT_BUS_NAME"]}])
    [result] = answer["Entries"]
    if answer["FailedEntryCount"]:
        raise RuntimeError(f"the bus refused the entry: {result['ErrorCode']}: {result['ErrorMessage']}")
    return str(result["EventId"])
