"""Encryption at rest through a real `hookgate serve`: with `[store] encryption_keys`, the
database file holds no payload or request header in clear while sinks, the CLI and the
admin API see them; `hookgate db rotate-key` reseals under a new key while the gateway
runs, after which the old key can go."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from tests.helpers.served import HOOKGATE, Served, base_config, free_port, stripe_event, stripe_headers

ADMIN = "admin-" + uuid.uuid4().hex


def new_key() -> str:
    result = subprocess.run([HOOKGATE, "db", "new-key"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


class Encrypted(Served):
    """A served gateway whose store keys come from `E2E_KEY_*` variables."""

    keys: dict[str, str]

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.keys}


def serve(tmp: Path, keys: dict[str, str], port: int | None = None) -> Encrypted:
    port = port or free_port()
    references = ", ".join(f'"env:{name}"' for name in keys)
    config = base_config(
        tmp, port, extra=f'\n[admin]\ntokens = [{{ name = "ops", token = "{ADMIN}", role = "admin" }}]\n'
    )
    config = config.replace("[store]\n", f"[store]\nencryption_keys = [{references}]\n", 1)
    path = tmp / "hookgate.toml"
    path.write_text(config)
    gw = Encrypted(tmp, path, port)
    gw.keys = keys
    return gw


def rejected_requests(gw: Served) -> str:
    answer = httpx.get(
        f"{gw.url}/api/v1/requests",
        params={"outcome": "rejected"},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    return answer.text


def raw_database(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp.glob("hookgate.db*"))


def test_the_database_holds_no_payload_in_clear_and_a_key_rotates(tmp_path: Path) -> None:
    marker = "cus_" + uuid.uuid4().hex
    header_marker = "agent-" + uuid.uuid4().hex
    old_key = {"E2E_KEY_OLD": new_key()}
    gw = serve(tmp_path, old_key)
    gw.start()
    try:
        body = stripe_event().replace(b'"in_1"', f'"{marker}"'.encode())
        answer = httpx.post(
            f"{gw.url}/webhooks/stripe", content=body, headers=stripe_headers(body), timeout=10
        )
        assert answer.status_code == 200
        forged = httpx.post(
            f"{gw.url}/webhooks/stripe",
            content=body,
            headers={**stripe_headers(body, secret="whsec_wrong"), "User-Agent": header_marker},
            timeout=10,
        )
        assert forged.status_code == 401
        [delivered] = gw.wait_for_sink(lambda entries: len(entries) == 1)
        assert delivered["detail"]["payload"]["data"]["object"]["id"] == marker  # sinks get it in clear

        admin = {"Authorization": f"Bearer {ADMIN}"}
        event = httpx.get(f"{gw.url}/api/v1/events/{delivered['id']}", headers=admin, timeout=10).json()
        assert marker in str(event)
        deadline = time.monotonic() + 20  # rejected requests are written in batches
        while header_marker not in (rejected := rejected_requests(gw)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert header_marker in rejected
        search = httpx.get(f"{gw.url}/api/v1/events", params={"q": marker}, headers=admin, timeout=10)
        assert search.status_code == 400
        assert "encrypted" in search.json()["error"]["message"]

        raw = raw_database(tmp_path)
        assert delivered["id"].encode() in raw  # ids stay clear, for queries
        assert marker.encode() not in raw
        assert header_marker.encode() not in raw

        # Rotation, while the gateway runs: the new key first, the old one still opens.
        new = {"E2E_KEY_NEW": new_key()}
        rotating = serve(tmp_path, {**new, **old_key}, port=gw.port)
        rotated = rotating.cli("db", "rotate-key")
        assert "row(s) sealed under the current key" in rotated.stdout
        assert int(rotated.stdout.split(": ")[-1].split()[0]) == 3  # the event and both requests
    finally:
        gw.stop()

    only_new = serve(tmp_path, new)
    shown = only_new.cli("events", "show", delivered["id"], "--json")
    assert marker in shown.stdout
    only_old = serve(tmp_path, old_key)
    refused = only_old.cli("events", "show", delivered["id"], "--json", check=False)
    assert refused.returncode != 0
    assert "not among [store] encryption_keys" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert marker.encode() not in raw_database(tmp_path)


def test_a_bad_key_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    gw = serve(tmp_path, {"E2E_KEY_BAD": "c2hvcnQ="})
    result = gw.cli("check-config", check=False)
    assert result.returncode != 0
    assert "store.encryption_keys" in result.stdout + result.stderr
    assert "hookgate db new-key" in result.stdout + result.stderr
    assert "c2hvcnQ=" not in result.stdout + result.stderr
    assert os.environ.get("E2E_KEY_BAD") is None
