"""Logs and metrics, configured once.

Logging is a structlog processor chain rendering one JSON object per line on stderr.
Request context is bound with `structlog.contextvars` by the HTTP edge's pure ASGI
middleware. Secrets and payload bodies are never logged, by construction: nothing in
the pipeline passes them to a logger.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "configure_logging"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """JSON lines on stderr (or `stream`), filtered at `level`."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.WriteLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )


class Metrics:
    """The Prometheus metrics of one gateway, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "hookgate_requests_received", "Webhook requests received", ["source"], registry=r
        )
        self.rejected = Counter(
            "hookgate_requests_rejected",
            "Webhook requests rejected, by cause",
            ["source", "cause"],
            registry=r,
        )
        self.duplicates = Counter(
            "hookgate_events_duplicate", "Events acknowledged as duplicates", ["source"], registry=r
        )
        self.persisted = Counter("hookgate_events_persisted", "Events durably stored", ["source"], registry=r)
        self.delivered = Counter(
            "hookgate_deliveries_delivered", "Events delivered to a sink", ["sink"], registry=r
        )
        self.retried = Counter(
            "hookgate_deliveries_retried",
            "Delivery attempts scheduled for retry",
            ["sink", "cause"],
            registry=r,
        )
        self.dead = Counter(
            "hookgate_deliveries_dead_lettered", "Deliveries dead-lettered", ["sink"], registry=r
        )
        self.queue_depth = Gauge(
            "hookgate_queue_depth",
            "Delivery records by sink and state",
            ["sink", "state"],
            registry=r,
        )
        self.request_latency = Histogram(
            "hookgate_request_duration_seconds",
            "Time to answer a webhook request",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.delivery_latency = Histogram(
            "hookgate_delivery_duration_seconds",
            "Time a sink took to take a batch",
            ["sink"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "hookgate_delivery_batch_size",
            "Events per batch handed to a sink",
            ["sink"],
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=r,
        )
