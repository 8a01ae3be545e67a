"""Idle sandboxes pause; work keeps them running; the next request through the router resumes them
with their state; only an authenticated request wakes one; a user's own pause stays."""

import time

import httpx

from conftest import IDLE, api, create, status, wait_status


def test_an_idle_sandbox_pauses_and_run_code_resumes_it_with_its_state(connected):
    box = connected()
    box.run_code("x = 41")
    took = wait_status(box.sandbox_id, "paused")
    assert took >= IDLE - 1, took  # not before its idle time (its last request just ended)
    # The next SDK call simply works: the router resumes the sandbox first.
    result = box.run_code("print(x + 1)")
    assert result.stdout.strip() == "42", result
    assert status(box.sandbox_id) == "running"


def test_a_background_command_keeps_it_running(connected):
    box = connected()
    box.commands.run("sleep 600", background=True, timeout=900)
    # Three idle periods and more: the idle pauser asks the agent, which reports the work.
    for _ in range(4 * IDLE):
        wait_status(box.sandbox_id, "running", timeout=1)
        time.sleep(1)
    assert status(box.sandbox_id) == "running"


def test_a_listening_server_keeps_it_running(connected):
    box = connected()
    # A server outside the background API (its command ended): only its listening port is work.
    box.commands.run("setsid -f python3 -m http.server 8000 >/dev/null 2>&1; sleep 1", timeout=60)
    up = box.commands.run("curl -s -o /dev/null -w '%{http_code}' localhost:8000/", timeout=60)
    assert up.stdout.strip() == "200", up
    for _ in range(4 * IDLE):
        wait_status(box.sandbox_id, "running", timeout=1)
        time.sleep(1)


def test_a_request_without_a_valid_token_does_not_wake_it(connected):
    box = connected()
    wait_status(box.sandbox_id, "paused")
    host = api("GET", f"/v1/sandboxes/{box.sandbox_id}").json()["public_host"]
    for headers in ({}, {"Authorization": "Bearer wst1.nope.1.x"}):
        r = httpx.get(f"{host}/info", headers=headers, timeout=30)
        assert r.status_code == 401, r.text
    assert status(box.sandbox_id) == "paused"


def test_a_pause_the_user_asked_for_stays(connected):
    box = connected()
    r = api("POST", f"/v1/sandboxes/{box.sandbox_id}/pause")
    assert r.status_code == 200, r.text
    host = api("GET", f"/v1/sandboxes/{box.sandbox_id}").json()["public_host"]
    r = httpx.get(f"{host}/info", headers={"Authorization": f"Bearer {box.agent_token}"}, timeout=30)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "SANDBOX_NOT_RUNNING", r.text
    assert status(box.sandbox_id) == "paused"


def test_auto_pause_out_of_range_is_refused():
    for bad in (0, -5, 10**9, "soon", 1.5):
        r = api("POST", "/v1/sandboxes", json={"template_name": "code-interpreter", "auto_pause": bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
    body = create()
    assert body["auto_pause"] is None
    api("DELETE", f"/v1/sandboxes/{body['id']}")
