"""Logs and metrics, configured once.

Logging is a structlog processor chain rendering one JSON object per line (stderr by
default), or, for people at a terminal, structlog's `ConsoleRenderer` (`--log-format`;
JSON unless stderr is a terminal). Every request writes a line, so the JSON chain is one
processor doing what `merge_contextvars`, `add_log_level`, `TimeStamper(fmt="iso",
utc=True)`, `format_exc_info` and `JSONRenderer` would do one after the other, with the
same output, in a fraction of the calls: the timestamp reuses the formatted second, and
orjson appends the newline. Lines are handed to a writer thread that writes whatever has accumulated in
one system call, so the event loop never blocks on the log stream. Request context is
bound with `structlog.contextvars` by the HTTP edge's pure ASGI middleware. Secrets and
payload bodies are never logged, by construction: nothing in the pipeline passes them to a
logger.
"""

from __future__ import annotations

import atexit
import collections
import contextvars
import copy
import importlib.metadata
import logging
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, Literal, cast

import orjson
import structlog
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.metrics_core import Metric
from structlog.contextvars import STRUCTLOG_KEY_PREFIX
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "LOG_FORMATS",
    "LogFormat",
    "LogStream",
    "Metrics",
    "MetricsRegistry",
    "SourceMetrics",
    "configure_logging",
    "render_json_line",
    "version",
]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LogStream:
    """A byte stream written by a background thread, in batches.

    `write` only appends to a list, so the event loop never waits on the log's file or
    pipe and no thread is woken per line. The thread writes whatever has accumulated every
    `interval` seconds with one call; `flush` (also run at exit) writes everything now.
    """

    #: Queue `data` for the thread: a bound `deque.append` (appends and pops are thread-safe).
    write: Callable[[bytes], None]

    def __init__(self, target: BinaryIO, interval: float = 0.05) -> None:
        self._target = target
        self._interval = interval
        self._pending: collections.deque[bytes] = collections.deque()
        self.write = self._pending.append
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hookgate-log", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def flush(self) -> None:
        self._drain()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            batch = []
            pop = self._pending.popleft
            while True:
                try:
                    batch.append(pop())
                except IndexError:
                    break
            if not batch:
                return
            try:
                self._target.write(b"".join(batch))
                self._target.flush()
            except (OSError, ValueError):
                pass  # nowhere left to log to; never take the gateway down for it


class _StreamLogger:
    """structlog's logger interface over a `LogStream`: each method queues one rendered
    line (newline included) as it is."""

    def __init__(self, stream: LogStream) -> None:
        write = stream.write
        self.msg = self.log = self.debug = self.info = self.warn = self.warning = write
        self.error = self.critical = self.exception = self.fatal = self.failure = write


#: What `structlog.processors.add_log_level` writes for a method name that is not a level.
_LEVEL_NAMES = {"warn": "warning", "exception": "error"}
_CONTEXT_PREFIX_LENGTH = len(STRUCTLOG_KEY_PREFIX)
_render = structlog.processors.JSONRenderer(serializer=orjson.dumps, option=orjson.OPT_APPEND_NEWLINE)


class _Clock:
    """UTC timestamps as `TimeStamper(fmt="iso", utc=True)` writes them
    (`datetime.now(UTC).isoformat()`, `Z` for `+00:00`), formatting each second once."""

    def __init__(self) -> None:
        self._last = (-1, "")  # replaced whole, so threads never see a torn pair

    def __call__(self) -> str:
        second, micros = divmod(time.time_ns() // 1000, 1_000_000)
        last_second, text = self._last
        if second != last_second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._last = (second, text)
        return f"{text}.{micros:06d}Z" if micros else text + "Z"


_utc_timestamp = _Clock()


def render_json_line(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> bytes:
    """The processor chain in one processor: the bound context variables (where the call
    did not name them), `level`, `timestamp`, an `exception` rendered from `exc_info`, then
    one line of JSON, newline included."""
    for var, value in contextvars.copy_context().items():
        name = var.name
        if name.startswith(STRUCTLOG_KEY_PREFIX) and value is not Ellipsis:
            event_dict.setdefault(name[_CONTEXT_PREFIX_LENGTH:], value)
    event_dict["level"] = _LEVEL_NAMES.get(method_name, method_name)
    event_dict["timestamp"] = _utc_timestamp()
    if "exc_info" in event_dict:
        event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
    return cast(bytes, _render(logger, method_name, event_dict))  # orjson renders bytes


class _TextStreamLogger:
    """structlog's logger interface over a `LogStream` for renderers that return text:
    each method queues the line, encoded, with its newline."""

    def __init__(self, stream: LogStream) -> None:
        write = stream.write

        def emit(line: str) -> None:
            write(line.encode("utf-8", "replace") + b"\n")

        self.msg = self.log = self.debug = self.info = self.warn = self.warning = emit
        self.error = self.critical = self.exception = self.fatal = self.failure = emit


LogFormat = Literal["console", "json"]
#: The `--log-format` choices.
LOG_FORMATS: tuple[LogFormat, ...] = ("console", "json")


def configure_logging(
    level: str = "info", stream: BinaryIO | None = None, log_format: LogFormat | None = None
) -> LogStream:
    """Log lines on stderr (or `stream`), filtered at `level`; returns the stream.

    `log_format` "json" writes one JSON object per line (`render_json_line`), "console"
    structlog's `ConsoleRenderer` for people (colours when the stream is a terminal);
    None picks "console" when the stream is a terminal, else "json".
    """
    target = stream or sys.stderr.buffer
    tty = _isatty(target)
    out = LogStream(target)
    processors: list[Processor]
    if (log_format or ("console" if tty else "json")) == "console":
        processors = [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=tty),
        ]
        logger: object = _TextStreamLogger(out)
    else:
        processors = [render_json_line]
        logger = _StreamLogger(out)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=lambda *_: logger,
        cache_logger_on_first_use=True,
    )
    return out


def _isatty(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False


@dataclass(frozen=True, slots=True)
class SourceMetrics:
    """The labelled children of one source, looked up once rather than per request."""

    received: Counter
    duplicates: Counter
    persisted: Counter
    latency: Histogram


def version() -> str:
    """The installed hookgate's version."""
    try:
        return importlib.metadata.version("hookgate")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


#: The metric types whose samples prometheus_client may follow with a `_created` sample.
_CREATED_TYPES = frozenset({"counter", "histogram", "summary", "gaugehistogram"})


class MetricsRegistry(CollectorRegistry):
    """A registry that exposes no `_created` series, whatever registered in it.

    prometheus_client adds a `_created` sample (the moment a child was created) to each
    counter, histogram and summary; it doubles the series for no use to a dashboard.
    `disable_created_metrics()` turns them off for the whole process, which would reach
    into every other registry in it; this registry leaves them out of its own exposition.
    """

    def collect(self) -> Iterable[Metric]:
        for metric in super().collect():
            created = metric.name + "_created"
            if metric.type in _CREATED_TYPES and any(s.name == created for s in metric.samples):
                kept = copy.copy(metric)  # a collector may hand out the same object again
                kept.samples = [s for s in metric.samples if s.name != created]
                yield kept
            else:
                yield metric


class Metrics:
    """The Prometheus metrics of one gateway, in a registry of its own (`MetricsRegistry`),
    with the process's (`process_*`) and the interpreter's (`python_*`) collectors and
    `hookgate_build_info{version}`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._sources: dict[str, SourceMetrics] = {}
        self.registry = registry or MetricsRegistry()
        r = self.registry
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)
        Info("hookgate_build", "The running hookgate (value 1)", registry=r).info({"version": version()})
        self.received = Counter(
            "hookgate_requests_received", "Webhook requests received", ["source"], registry=r
        )
        self.rejected = Counter(
            "hookgate_requests_rejected",
            "Webhook requests rejected, by cause",
            ["source", "cause"],
            registry=r,
        )
        self.internal_errors = Counter(
            "hookgate_requests_failed",
            "Webhook requests answered 500: a bug, logged as internal_error",
            registry=r,
        )
        self.refused = Counter(
            "hookgate_connections_refused",
            "Connections and requests refused before the app (gateway.connections), by reason",
            ["reason"],
            registry=r,
        )
        self.rate_limited = Counter(
            "hookgate_requests_rate_limited",
            "Webhook requests answered 429, by the bucket that was empty (client or source)",
            ["source", "limit"],
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
            "hookgate_queue_depth", "Delivery records by sink and state", ["sink", "state"], registry=r
        )
        self.oldest_pending_age = Gauge(
            "hookgate_oldest_pending_age_seconds",
            "Age of the oldest event not yet delivered to a sink (0: nothing waits)",
            ["sink"],
            registry=r,
        )
        self.circuit_state = Gauge(
            "hookgate_sink_circuit_state",
            "A sink's circuit breaker: 0 closed, 1 open (paused), 2 half-open (probing)",
            ["sink"],
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

    def watch_volume(self, folder: str) -> None:
        """`hookgate_store_free_bytes`: the free bytes of the volume holding `folder` (the
        store's), read at each scrape."""

        def free() -> float:
            try:
                return float(shutil.disk_usage(folder).free)
            except OSError:
                return math.nan

        Gauge(
            "hookgate_store_free_bytes",
            "Free bytes on the volume holding the store's database (a SQLite store only)",
            registry=self.registry,
        ).set_function(free)

    def source(self, name: str) -> SourceMetrics:
        found = self._sources.get(name)
        if found is None:
            found = self._sources[name] = SourceMetrics(
                self.received.labels(name),
                self.duplicates.labels(name),
                self.persisted.labels(name),
                self.request_latency.labels(name),
            )
        return found
