"""The log pipeline: one processor that renders what structlog's standard chain renders."""

from __future__ import annotations

import importlib.metadata
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from prometheus_client import Counter, generate_latest
from structlog.typing import EventDict

from gateway.observability import LogFormat, LogStream, Metrics, configure_logging, render_json_line

#: What `configure_logging` installed before its processors became one.
STANDARD_CHAIN = (
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
    structlog.processors.JSONRenderer(serializer=orjson.dumps),
)


def standard(method: str, event_dict: EventDict) -> bytes:
    result: Any = event_dict
    for processor in STANDARD_CHAIN:
        result = processor(None, method, result)
    rendered: bytes = result
    return rendered + b"\n"


def at(moment_ns: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """The timestamp both pipelines write at `moment_ns` (nanoseconds since the epoch)."""
    monkeypatch.setattr(time, "time_ns", lambda: moment_ns)
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=moment_ns // 1000)
    return moment.isoformat().replace("+00:00", "Z")


def without_timestamps(line: bytes) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", record.pop("timestamp"))
    return record


@pytest.fixture(autouse=True)
def fresh_structlog() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


@pytest.mark.parametrize("method", ["info", "debug", "warning", "warn", "error", "critical", "exception"])
def test_renders_what_the_standard_chain_renders(method: str) -> None:
    structlog.contextvars.bind_contextvars(request_id="5f0e7a3c9b1d2e4f", source="from-context")
    fields = {"event": "request", "status": 200, "latency_ms": 1.25, "event_ids": ["a", "b"], "source": "s"}

    fused = render_json_line(None, method, dict(fields))
    chained = standard(method, dict(fields))

    assert fused.endswith(b"\n")
    assert fused.count(b"\n") == 1
    assert list(json.loads(fused)) == list(json.loads(chained))  # the same keys in the same order
    assert without_timestamps(fused) == without_timestamps(chained)
    assert json.loads(fused)["source"] == "s"  # a field of the call wins over the context


def test_same_line_byte_for_byte_at_a_fixed_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    structlog.contextvars.bind_contextvars(request_id="00000000000000ff")
    moment = 1_795_000_000_123_456_789

    expected = at(moment, monkeypatch)
    line = render_json_line(None, "info", {"event": "request", "path": "/webhooks/stripe"})

    assert json.loads(line)["timestamp"] == expected == "2026-11-18T11:06:40.123456Z"
    chained = json.loads(standard("info", {"event": "request", "path": "/webhooks/stripe"}))
    chained["timestamp"] = expected  # the standard chain reads the real clock
    assert line == orjson.dumps(chained) + b"\n"


@pytest.mark.parametrize(
    "moment_ns",
    [
        1_795_000_000_000_000_000,  # a whole second: isoformat writes no fraction
        1_795_000_000_000_000_999,  # less than a microsecond past it: still none
        1_795_000_000_000_001_000,
        1_795_000_000_999_999_999,  # fractions are cut, never rounded up into the next second
        946_684_799_999_999_000,  # the last microsecond of 1999
        0,
    ],
)
def test_timestamps_match_isoformat(moment_ns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = at(moment_ns, monkeypatch)
    assert json.loads(render_json_line(None, "info", {"event": "x"}))["timestamp"] == expected


def test_each_second_is_formatted_from_its_own_clock_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    stamps = []
    for moment in (1_795_000_000_500_000_000, 1_795_000_001_000_000_000, 1_795_000_000_700_000_000):
        expected = at(moment, monkeypatch)
        stamps.append((json.loads(render_json_line(None, "info", {"event": "x"}))["timestamp"], expected))
    assert [got for got, _ in stamps] == [expected for _, expected in stamps]


def test_exceptions_are_rendered_like_format_exc_info() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        fused = json.loads(render_json_line(None, "exception", {"event": "internal_error", "exc_info": True}))
        chained = json.loads(standard("exception", {"event": "internal_error", "exc_info": True}))

    assert fused["level"] == "error"
    assert "exc_info" not in fused
    assert "ValueError: boom" in fused["exception"]
    assert fused["exception"] == chained["exception"]


def test_cleared_context_variables_are_left_out() -> None:
    structlog.contextvars.bind_contextvars(request_id="abc", sink="jsonl")
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="def")

    record = json.loads(render_json_line(None, "info", {"event": "x"}))

    assert record["request_id"] == "def"
    assert "sink" not in record


def test_values_json_cannot_hold_are_rendered_as_the_standard_renderer_does() -> None:
    fields = {"event": "x", "path": Path("/tmp/a"), "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}
    assert without_timestamps(render_json_line(None, "info", dict(fields))) == without_timestamps(
        standard("info", dict(fields))
    )


def test_configure_logging_writes_one_json_line_per_call() -> None:
    out = io.BytesIO()
    stream = configure_logging("info", out)
    log = structlog.get_logger()

    structlog.contextvars.bind_contextvars(request_id="r1")
    log.info("request", status=200, event_ids=["e1"])
    log.debug("not at this level")
    log.warning("sink_failed", sink="archive")
    stream.flush()

    lines = out.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["event"], r["level"], r["request_id"]) for r in records] == [
        ("request", "info", "r1"),
        ("sink_failed", "warning", "r1"),
    ]
    assert records[0]["status"] == 200
    assert records[0]["event_ids"] == ["e1"]
    assert out.getvalue().endswith(b"\n")


def test_log_stream_batches_lines_into_one_write() -> None:
    class Recorder(io.BytesIO):
        writes: list[bytes]

        def write(self, data: Any) -> int:
            self.writes.append(bytes(data))
            return super().write(data)

    target = Recorder()
    target.writes = []
    stream = LogStream(target, interval=3600)
    for n in range(3):
        stream.write(b"line %d\n" % n)
    assert target.writes == []  # nothing written on the caller's thread
    stream.flush()
    stream.flush()

    assert target.writes == [b"line 0\nline 1\nline 2\n"]


def test_log_stream_survives_a_closed_target() -> None:
    target = io.BytesIO()
    stream = LogStream(target, interval=3600)
    target.close()
    stream.write(b"lost\n")
    stream.flush()  # nowhere left to log to: dropped, not raised


def exposition(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_metrics_expose_no_created_series() -> None:
    metrics = Metrics()
    metrics.source("stripe").received.inc()
    metrics.source("stripe").latency.observe(0.01)
    metrics.retried.labels("archive", "io_error").inc()
    extra = Counter("hookgate_test_extra", "registered later, by a sink", registry=metrics.registry)
    extra.inc()

    text = exposition(metrics)

    assert 'hookgate_requests_received_total{source="stripe"} 1.0' in text
    assert "hookgate_request_duration_seconds_count" in text
    assert "hookgate_test_extra_total 1.0" in text
    assert "_created" not in text
    assert "_created" not in exposition(metrics)  # collected twice: still none


def test_metrics_expose_the_process_and_python_collectors() -> None:
    text = exposition(Metrics())

    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert re.search(rf"^{name} ", text, re.MULTILINE), name
    assert re.search(r"^python_info\{", text, re.MULTILINE)
    assert re.search(r"^python_gc_collections_total\{", text, re.MULTILINE)


def test_metrics_expose_the_build_version() -> None:
    text = exposition(Metrics())

    assert f'hookgate_build_info{{version="{importlib.metadata.version("hookgate")}"}} 1.0' in text


def test_each_gateway_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # two gateways in one process (tests do it)
    first.source("a").received.inc()

    assert 'source="a"' in exposition(first)
    assert 'source="a"' not in exposition(second)
    assert "hookgate_build_info" in exposition(second)


class Terminal(io.BytesIO):
    """A stream that says it is a terminal, as stderr does when run by hand."""

    def isatty(self) -> bool:
        return True


def logged(level: str, out: io.BytesIO, log_format: LogFormat | None) -> str:
    stream = configure_logging(level, out, log_format)
    log = structlog.get_logger()
    structlog.contextvars.bind_contextvars(request_id="r1")
    log.info("request", path="/webhooks/stripe", status=200)
    log.debug("not at this level")
    stream.flush()
    return out.getvalue().decode()


def test_console_format_renders_lines_for_people() -> None:
    text = logged("info", io.BytesIO(), "console")

    [line] = text.splitlines()
    assert not line.startswith("{")
    assert "request" in line
    assert "[info" in line
    assert "path=/webhooks/stripe" in line
    assert "request_id=r1" in line
    assert "\x1b[" not in line  # not a terminal: no colours


def test_a_terminal_gets_the_console_format_and_anything_else_json() -> None:
    terminal = logged("info", Terminal(), None)
    assert not terminal.startswith("{")
    assert "\x1b[" in terminal  # colours on a terminal

    piped = logged("info", io.BytesIO(), None)
    assert json.loads(piped)["path"] == "/webhooks/stripe"


def test_json_format_on_a_terminal_when_asked() -> None:
    text = logged("info", Terminal(), "json")
    assert json.loads(text)["event"] == "request"
