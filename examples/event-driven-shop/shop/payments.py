"""The payment service: a succeeded Stripe payment becomes a `Payment Processed` event."""

from __future__ import annotations

import json
from typing import Any

from shop.bus import Entry, publish


def payment_processed(event: dict[str, Any]) -> Entry:
    """The entry published for a `payment_intent.succeeded` event delivered by the bus."""
    stripe_event = event["detail"]["payload"]
    intent = stripe_event["data"]["object"]
    detail = {
        "payment_intent": intent["id"],
        "amount": intent["amount"],
        "currency": intent["currency"],
        "stripe_event": stripe_event["id"],
    }
    return {
        "Source": "com.example.shop.payments",
        "DetailType": "Payment Processed",
        "Detail": json.dumps(detail),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """On AWS: the Lambda function the bus's rule invokes (locally: `shop.local`)."""
    return {"published": publish(payment_processed(event))}
