"""Real `hookgate` processes started from directories other than the configuration's:
relative paths follow the file; and `serve` refuses, before it says it listens, a sink it
cannot open or an address already in use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import HOOKGATE, free_port

pytestmark = pytest.mark.e2e

CONFIG = """
[server]
host = "127.0.0.1"

[store]
url = "sqlite:///./state/hookgate.db"

[dispatcher]
poll_interval_seconds = 0.2

[sources.stripe]
connector = "stripe"
secrets = ["file:stripe-secret.txt"]

[sinks.archive]
type = "jsonl"
path = "./out/events.jsonl"
"""


def hookgate(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOOKGATE, *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def directory(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"never healthy: {log.read_text()}"
            time.sleep(0.05)


def test_serve_and_the_commands_follow_the_file_from_any_directory(tmp_path: Path) -> None:
    project = directory(tmp_path / "project")
    (project / "hookgate.toml").write_text(CONFIG)
    (project / "stripe-secret.txt").write_text("whsec_paths_e2e\n")
    config = str(project / "hookgate.toml")
    port = free_port()
    env = {**os.environ, "HOOKGATE_SERVER__PORT": str(port)}
    started_in, sent_from, read_from = (directory(tmp_path / name) for name in ("a", "b", "c"))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [HOOKGATE, "serve", "--config", config], cwd=started_in, env=env, stdout=out, stderr=out
        )
    try:
        wait_healthy(port, server, log)
        sent = hookgate(sent_from, "send-test", "stripe", "--config", config, env=env)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        archive = project / "out" / "events.jsonl"
        deadline = time.monotonic() + 20
        while not (archive.exists() and archive.read_text()):
            assert time.monotonic() < deadline, f"nothing archived: {log.read_text()}"
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)

    assert (project / "state" / "hookgate.db").exists()  # where the file says
    from_elsewhere = hookgate(read_from, "events", "list", "--config", config)
    from_the_project = hookgate(project, "events", "list", "--config", "hookgate.toml")
    assert from_elsewhere.returncode == 0, from_elsewhere.stderr
    assert "payment_intent.succeeded" in from_elsewhere.stdout
    assert from_elsewhere.stdout == from_the_project.stdout
    for place in (started_in, sent_from, read_from):
        assert list(place.iterdir()) == [], f"{place.name} gained files"


def test_serve_refuses_a_sink_it_cannot_open_before_it_listens(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the sink wants a directory")
    (tmp_path / "stripe-secret.txt").write_text("whsec_paths_e2e\n")
    (tmp_path / "hookgate.toml").write_text(CONFIG)
    env = {**os.environ, "HOOKGATE_SERVER__PORT": str(free_port())}
    result = hookgate(tmp_path, "serve", "--config", "hookgate.toml", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f"hookgate: sinks.archive.path: cannot open {tmp_path}/out/events.jsonl: "
        f"{tmp_path}/out is not a directory\n"
    )
    assert "listening" not in result.stdout
    assert not (tmp_path / "state").exists()  # nothing started, nothing stored


HOLD = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(120)
"""


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process listens on."""
    with subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            yield int(holder.stdout.readline())
        finally:
            holder.kill()


@pytest.mark.parametrize("which", ["port", "metrics_port"])
def test_serve_on_a_port_in_use_is_one_line_before_any_listening_line(
    tmp_path: Path, held_port: int, which: str
) -> None:
    (tmp_path / "hookgate.toml").write_text(
        f"[server]\nport = {held_port if which == 'port' else free_port()}\n"
        f"{f'metrics_port = {held_port}' if which == 'metrics_port' else ''}\n"
        '[sources.stripe]\nconnector = "stripe"\nsecrets = ["whsec_test"]\n'
    )
    result = hookgate(tmp_path, "serve", "--config", "hookgate.toml")
    assert result.returncode == 1
    assert result.stderr == f"hookgate: cannot listen on 127.0.0.1:{held_port}: address already in use\n"
    assert "listening" not in result.stdout
    assert result.stdout == ""
