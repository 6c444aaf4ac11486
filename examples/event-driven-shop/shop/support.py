"""The support service: a new Freshdesk ticket becomes a `Ticket Processed` event."""

from __future__ import annotations

import json
from typing import Any

from shop.bus import Entry, publish


def ticket_processed(event: dict[str, Any]) -> Entry:
    """The entry published for a ticket-created event delivered by the bus."""
    ticket = event["detail"]["payload"]["freshdesk_webhook"]
    detail = {
        "ticket": ticket["ticket_id"],
        "subject": ticket["ticket_subject"],
        "priority": ticket["ticket_priority"],
        "queue": "urgent" if ticket["ticket_priority"] == "Urgent" else "standard",
    }
    return {
        "Source": "com.example.shop.support",
        "DetailType": "Ticket Processed",
        "Detail": json.dumps(detail),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """On AWS: the Lambda function the bus's rule invokes (locally: `shop.local`)."""
    return {"published": publish(ticket_processed(event))}
