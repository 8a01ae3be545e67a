"""The sandbox's lifecycle through the control plane: pause and resume with the kernel's state kept,
set_timeout, connect, list, and kill (last: the session's sandbox is gone after it)."""

import pytest
from hopx_ai import Sandbox
from hopx_ai.errors import HopxError

from conftest import BASE, KEY


def test_pause_and_resume_keep_state(sandbox):
    sandbox.run_code("kept = 'before pause'")
    sandbox.pause()
    assert sandbox.get_info().status == "paused"
    sandbox.resume()
    assert sandbox.get_info().status == "running"
    assert sandbox.run_code("print(kept)").stdout == "before pause\n"


def test_set_timeout(sandbox):
    sandbox.set_timeout(1800)
    assert sandbox.get_info().timeout_seconds == 1800


def test_connect_and_list(sandbox):
    again = Sandbox.connect(sandbox.sandbox_id, api_key=KEY, base_url=BASE)
    assert again.run_code("print(kept)").stdout == "before pause\n"
    listed = {s.sandbox_id: s for s in Sandbox.list(api_key=KEY, base_url=BASE)}
    assert listed[sandbox.sandbox_id].get_info().status == "running"


def test_kill(sandbox):
    sandbox.kill()
    with pytest.raises(HopxError) as e:
        sandbox.get_info()
    assert "not found" in str(e.value).lower()
    assert sandbox.sandbox_id not in {s.sandbox_id for s in Sandbox.list(api_key=KEY, base_url=BASE)}
