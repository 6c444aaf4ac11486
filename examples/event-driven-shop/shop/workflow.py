"""The workflow, locally: a report per processed event, written to `SHOP_REPORTS_DIR`
(`reports/` next to the example by default), as the Step Functions workflow of
template.yaml writes it to S3. hookgate calls `write_report` (a `callable` target)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def report_name(event: dict[str, Any]) -> str:
    """`payment-pi_….json`, `ticket-42.json`: one report per payment or ticket."""
    detail = event["detail"]
    if event["detail-type"] == "Payment Processed":
        return f"payment-{detail['payment_intent']}.json"
    return f"ticket-{detail['ticket']}.json"


def write_report(event: dict[str, Any]) -> None:
    """Writes the report of `event` whole (a delivery tried again writes the same file)."""
    folder = Path(os.environ.get("SHOP_REPORTS_DIR") or Path(__file__).resolve().parents[1] / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    report = {
        "report": event["detail-type"],
        "event": event["id"],
        "source": event["source"],
        "time": event["time"],
        **event["detail"],
    }
    path = folder / report_name(event)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    partial.replace(path)
