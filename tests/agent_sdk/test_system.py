"""Health, info, metrics, processes, Jupyter sessions, cache and desktop through the official SDK."""

import pytest
from hopx_ai.errors import DesktopNotAvailableError


def test_health_info_and_metrics(sandbox):
    assert sandbox.is_healthy()
    info = sandbox.get_agent_info()
    assert info["agent"] == "warren-agent"
    assert "python" in info["features"]["languages"]
    metrics = sandbox.get_agent_metrics()
    assert metrics["total_requests"] > 0
    snapshot = sandbox.get_metrics_snapshot()
    assert snapshot["system"]["memory"]["total"] > 0


def test_system_processes_and_jupyter_sessions(sandbox):
    sandbox.run_code("x = 1")
    processes = sandbox.list_system_processes()
    # The Python kernel that ran `x = 1` (the agent's own name depends on where it is mounted).
    assert any(p["name"].startswith("python") for p in processes), processes
    sessions = sandbox.get_jupyter_sessions()
    assert sessions and sessions[0]["execution_state"] in ("idle", "busy")


def test_cache_stats_and_clear(sandbox):
    stats = sandbox.cache.stats()
    assert "hits" in stats and "size" in stats
    cleared = sandbox.cache.clear()
    assert "entries_removed" in cleared


def test_desktop_is_reported_unavailable(sandbox):
    with pytest.raises(DesktopNotAvailableError):
        sandbox.desktop.click(10, 10)
