"""Auto-pause with the official Python SDK (hopx-ai==0.5.0) against a real `warren serve` on the real
Docker engine, every agent call through Warren's router (docs/auto-pause.md).

Run by the Rust test `auto_pause::idle_sandboxes_pause_and_resume_on_traffic`
(crates/warren/tests/api/auto_pause.rs), which gives WARREN_URL and HOPX_API_KEY and a server whose
idle pauser looks every second and accepts `auto_pause` from 1 second. The SDK has no `auto_pause`
argument: sandboxes are created over HTTP, then connected to with `Sandbox.connect`.
"""

import os
import time

import httpx
import pytest
from hopx_ai import Sandbox

BASE = os.environ["WARREN_URL"]
KEY = os.environ["HOPX_API_KEY"]
IDLE = 3  # auto_pause of the sandboxes here, in seconds


def api(method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{BASE}{path}", headers={"X-API-Key": KEY}, timeout=60, **kwargs)


def create(**fields) -> dict:
    r = api("POST", "/v1/sandboxes", json={"template_name": "code-interpreter", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def status(sandbox_id: str) -> str:
    r = api("GET", f"/v1/sandboxes/{sandbox_id}")
    assert r.status_code == 200, r.text
    return r.json()["status"]


def wait_status(sandbox_id: str, want: str, timeout: float = 30) -> float:
    """Polls until the sandbox reports `want`; the seconds it took."""
    start = time.monotonic()
    while (seen := status(sandbox_id)) != want:
        assert time.monotonic() - start < timeout, f"{sandbox_id} still {seen}, not {want}"
        time.sleep(0.25)
    return time.monotonic() - start


@pytest.fixture
def connected():
    """Sandboxes made with auto_pause and connected to with the SDK; killed at the end."""
    made = []

    def make(**fields) -> Sandbox:
        body = create(auto_pause=IDLE, **fields)
        assert body["auto_pause"] == IDLE, body
        box = Sandbox.connect(body["id"], api_key=KEY, base_url=BASE)
        box.agent_token = body["auth_token"]  # for raw requests through the router
        made.append(box)
        return box

    yield make
    for box in made:
        try:
            box.kill()
        except Exception:  # noqa: BLE001 - the Rust driver removes what is left
            pass
