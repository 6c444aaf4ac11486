"""Files that hold events: created private (0600, folders 0700), warned about by
check-config when others may read them, and a jsonl file never left with a torn line: a
failed append cuts the file back, and only a line written whole and flushed is delivered."""

from __future__ import annotations

import errno
import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import DispatcherSettings, StoreSettings, parse_settings
from gateway.preflight import warnings
from gateway.sinks import Delivered, Retry
from gateway.sinks.files import JsonlOptions, JsonlSink
from gateway.store import open_store
from tests.helpers.volumes import small_tmpfs

from ._fakes import NOW, FakeClock, make_event

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what would make files 0644
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_sqlite_store_and_its_wal_are_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "hookgate.db"
    store = open_store(StoreSettings(url=f"sqlite:///{db}"), DispatcherSettings(), FakeClock(NOW))
    await store.open()
    try:
        await store.persist([make_event(at=NOW)], ("a",))
        assert mode(db.parent) == 0o700
        assert mode(db) == 0o600
        assert mode(Path(f"{db}-wal")) == 0o600
    finally:
        await store.close()


async def test_a_jsonl_file_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    sink = JsonlSink("archive", JsonlOptions(path=str(path)))
    assert await sink.deliver([make_event(at=NOW)]) == [Delivered()]
    await sink.close()
    assert (mode(path.parent), mode(path)) == (0o700, 0o600)


def test_check_config_warns_about_event_files_others_may_read(tmp_path: Path) -> None:
    db, out = tmp_path / "hookgate.db", tmp_path / "events.jsonl"
    db.write_bytes(b"")
    out.write_bytes(b"")
    db.chmod(0o644)
    out.chmod(0o640)
    raw = {
        "store": {"url": f"sqlite:///{db}"},
        "sources": {"s": {"connector": "stripe", "secrets": ["whsec_x"]}},
        "sinks": {"archive": {"type": "jsonl", "path": str(out)}},
    }
    found = warnings(parse_settings(raw, env={}))
    assert f"store.url: {db} holds events and is readable by other users (mode 0644): chmod 600 {db}" in found
    assert any(w.startswith("sinks.archive.path: ") and "(mode 0640)" in w for w in found)
    db.chmod(0o600)
    out.chmod(0o600)
    assert not [w for w in warnings(parse_settings(raw, env={})) if "readable" in w]


def lines_of(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


async def test_a_short_write_then_a_full_disk_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink("archive", JsonlOptions(path=str(path)))
    first, second = make_event(at=NOW), make_event(at=NOW + 1)
    assert await sink.deliver([first]) == [Delivered()]
    before = path.read_bytes()
    real_write = os.write
    calls = 0

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:  # half the record goes out...
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ...then the disk is full

    monkeypatch.setattr(os, "write", failing_write)
    assert await sink.deliver([second]) == [Retry("io_error: No space left on device")]
    assert path.read_bytes() == before  # no torn line
    monkeypatch.setattr(os, "write", real_write)
    assert await sink.deliver([second]) == [Delivered()]
    await sink.close()
    assert [line["id"] for line in lines_of(path)] == [first.id, second.id]


async def test_a_full_disk_never_tears_a_line(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path, "64k") as mount:
        path = mount / "events.jsonl"
        sink = JsonlSink("archive", JsonlOptions(path=str(path), fsync=True))
        events = [make_event(at=NOW + i, key=uuid.uuid4().hex) for i in range(400)]
        delivered: list[str] = []
        refused = 0
        for event in events:
            outcome = (await sink.deliver([event]))[0]
            if isinstance(outcome, Delivered):
                delivered.append(event.id)
            else:
                refused += 1
                assert outcome == Retry("io_error: No space left on device")
            assert [line["id"] for line in lines_of(path)] == delivered  # never a torn line
        assert refused > 0, "the disk never filled up"
        # space comes back (an operator trims the file): the retry goes through, whole
        whole = path.read_text().splitlines(keepends=True)
        path.write_text("".join(whole[: len(whole) // 4]))
        kept = [line["id"] for line in lines_of(path)]
        retried = events[len(delivered)]
        assert await sink.deliver([retried]) == [Delivered()]
        await sink.close()
        assert [line["id"] for line in lines_of(path)] == [*kept, retried.id]


async def test_a_fifo_is_written_as_it_goes(tmp_path: Path) -> None:
    """A pipe cannot be cut back (or fsynced): a jsonl sink writing into a FIFO that a
    consumer reads delivers, rather than failing every attempt on the seek."""
    fifo = tmp_path / "events.pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sink = JsonlSink("pipe", JsonlOptions(path=str(fifo), fsync=True))
        events = [make_event(at=NOW, key="evt_1"), make_event(at=NOW, key="evt_2")]
        try:
            assert await sink.deliver(events) == [Delivered(), Delivered()]
        finally:
            await sink.close()
        lines = os.read(reader, 1 << 16).decode().splitlines()
        assert [json.loads(line) for line in lines] == [json.loads(event.entry) for event in events]
    finally:
        os.close(reader)
