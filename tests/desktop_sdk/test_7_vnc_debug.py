"""The VNC viewer's status and URL, and the debug views of the display stack."""

from conftest import eventually


def vnc_running(desktop) -> bool:
    # The SDK's VNCInfo.running is a property that is always True (hopx_ai/models.py): read the
    # agent's own field through the SDK's client instead.
    return desktop._client.get("/desktop/vnc/status", operation="get VNC status").json()["running"]


def test_vnc_start_status_and_url(desktop):
    started = desktop.start_vnc()
    assert started.url and "6080-" in started.url, started
    status = desktop.get_vnc_status()
    assert status.url and vnc_running(desktop), status
    url = desktop.get_vnc_url()
    assert "6080-" in url and "warren_preview=" in url and "vnc.html" in url, url


def test_vnc_stop_and_start_again(desktop):
    desktop.stop_vnc()
    eventually("VNC stopped", lambda: not vnc_running(desktop))
    desktop.start_vnc()
    eventually("VNC running again", lambda: vnc_running(desktop))
    assert "6080-" in desktop.get_vnc_url()


def test_debug_logs_and_processes(desktop):
    logs = desktop.get_debug_logs()
    assert logs and all(isinstance(line, str) for line in logs), logs[:5]
    processes = desktop.get_debug_processes()
    assert any(
        "Xvfb" in (p.get("name") or "") or "Xvfb" in (p.get("command") or "") for p in processes
    ), processes
    assert all("pid" in p for p in processes), processes
