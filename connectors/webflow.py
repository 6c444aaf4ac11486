"""Webflow: `x-webflow-signature`, hex HMAC-SHA256 of `<x-webflow-timestamp>:<body>`.

The key is the OAuth app's client secret, or, for a webhook created in the site's settings
(Site settings > Apps & integrations > Webhooks), the secret shown there; list the old and
the new one while you rotate it. `x-webflow-timestamp` is in milliseconds and must be
within `tolerance_seconds` of now on both sides (Webflow's own check uses 5 minutes).

The body is `{triggerType, payload}`: the detail-type is `triggerType`
(`form_submission`, `collection_item_created`, ...), the dedup key the payload's `id`, and
`occurred_at` its `submittedAt` (form submissions).
"""

from __future__ import annotations

import json

from connectors import ProviderEvent, WebhookRequest
from connectors.toolkit import TimestampedHmacConnector, TimestampedOptions, iso_utc, json_event

__all__ = ["WebflowConnector", "WebflowOptions"]


class WebflowOptions(TimestampedOptions):
    """`secrets`: the client or webhook secret(s); `tolerance_seconds` for the timestamp."""


class WebflowConnector(TimestampedHmacConnector[WebflowOptions]):
    name = "webflow"
    summary = "Webflow webhooks (x-webflow-signature over timestamp:body, rotation, tolerance)"
    signature_header = "x-webflow-signature"
    timestamp_header = "x-webflow-timestamp"

    def normalize(self, request: WebhookRequest) -> list[ProviderEvent]:
        return json_event(
            self.name,
            request.body,
            type_path="triggerType",
            id_path="payload.id",
            time_path="payload.submittedAt",
        )

    def sample_body(self, now: float) -> bytes:
        submission = {
            "triggerType": "form_submission",
            "payload": {
                "name": "Contact Us",
                "siteId": "65427cf400e02b306eaa049c",
                "data": {"First Name": "Zaphod", "Last Name": "Beeblebrox", "email": "zaphod@heartofgold.ai"},
                "schema": [
                    {"fieldName": "First Name", "fieldType": "FormTextInput", "fieldElementId": "4e038"}
                ],
                "submittedAt": iso_utc(now, "milliseconds"),
                "id": f"6321a{int(now):x}bd4d6eb0a6d",
                "formId": "65429eadebe8a9f3a30f62d0",
                "formElementId": "4e038d2c-6a1e-4953-7be9-a59a2b453177",
            },
        }
        return json.dumps(submission, indent=2).encode()
