"""The dedup table of Lambda mode: one DynamoDB item per (source, dedup key).

    pk = "<source>#<dedup key>"   event_id   state = pending | done
    lease_until (pending)         expires_at (DynamoDB's TTL attribute)

How `DirectStore` (`gateway.aws_lambda`) claims, completes and releases items, and why
none of the races loses an event, is told in that module's docstring.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from gateway.errors import StoreError
from gateway.events import Event

__all__ = ["DedupTable", "Held"]

#: DynamoDB's limit on a partition key; longer keys are stored as their SHA-256.
_MAX_KEY_BYTES = 2048


@dataclass(frozen=True, slots=True)
class Held:
    """The key is held by an item this claim did not write."""

    event_id: str
    done: bool


class DedupTable:
    """The dedup items in DynamoDB (see the module docstring). Blocking calls: run them in
    a thread. botocore errors are raised as they are; `DirectStore` translates them."""

    def __init__(self, name: str, client: Any = None) -> None:
        self.name = name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self.open()
        return self._client

    def open(self) -> None:
        """Create the client (no request is made)."""
        if self._client is None:
            import boto3  # noqa: PLC0415 - only a configured dedup table needs it
            from botocore.config import Config  # noqa: PLC0415

            config = Config(
                retries={"mode": "standard", "total_max_attempts": 3},
                connect_timeout=1.0,
                read_timeout=2.0,
                tcp_keepalive=True,
            )
            self._client = boto3.session.Session().client("dynamodb", config=config)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    @staticmethod
    def key(event: Event) -> str:
        key = f"{event.source}#{event.dedup_key}"
        if len(key.encode()) > _MAX_KEY_BYTES:
            return f"{event.source}#sha256:{hashlib.sha256(event.dedup_key.encode()).hexdigest()}"
        return key

    def claim(self, event: Event, now: float, lease_until: float, expires_at: int) -> Held | None:
        """Write a pending item for `event`: None, or who holds the key."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            self.client.put_item(
                TableName=self.name,
                Item=self._item(event, "pending", expires_at, lease_until),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR expires_at <= :now "
                    "OR (#state = :pending AND lease_until <= :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":now": {"N": repr(now)}, ":pending": {"S": "pending"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional(exc):
                raise
            item = exc.response.get("Item") or {}
            if "event_id" not in item:
                raise StoreError(f"dedup table {self.name}: a conflict without the item") from None
            return Held(item["event_id"]["S"], done=item.get("state", {}).get("S") == "done")
        return None

    def complete(self, event: Event, expires_at: int) -> bool:
        """Mark our claim done; False if the key is no longer ours."""
        return self._if_ours("put_item", event, Item=self._item(event, "done", expires_at, None))

    def release(self, event: Event) -> bool:
        """Delete our claim; False if the key is no longer ours."""
        return self._if_ours("delete_item", event, Key={"pk": {"S": self.key(event)}})

    def _if_ours(self, operation: str, event: Event, **kwargs: Any) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            getattr(self.client, operation)(
                TableName=self.name,
                ConditionExpression="event_id = :event_id",
                ExpressionAttributeValues={":event_id": {"S": event.id}},
                **kwargs,
            )
        except ClientError as exc:
            if _conditional(exc):
                return False
            raise
        return True

    def _item(self, event: Event, state: str, expires_at: int, lease_until: float | None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": self.key(event)},
            "event_id": {"S": event.id},
            "state": {"S": state},
            "received_at": {"N": repr(event.received_at)},
            "expires_at": {"N": str(expires_at)},
        }
        if lease_until is not None:
            item["lease_until"] = {"N": repr(lease_until)}
        return item


def _conditional(exc: Any) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
