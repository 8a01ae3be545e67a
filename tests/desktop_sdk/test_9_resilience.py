"""The display stack survives its X server's death; a sandbox without a desktop says so."""

import time

import pytest
from hopx_ai import Sandbox
from hopx_ai.errors import DesktopNotAvailableError, HopxError

from conftest import BASE, HEIGHT, KEY, WIDTH, png_size


def test_screenshots_come_back_after_xvfb_is_killed(sandbox, desktop):
    killed = sandbox.commands.run("pkill -x Xvfb", timeout=30)
    assert killed.exit_code == 0, (killed.stdout, killed.stderr)
    deadline = time.monotonic() + 10
    while True:  # only the first call after the kill may need to wait for the restart
        try:
            image = desktop.screenshot()
            break
        except HopxError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert png_size(image) == (WIDTH, HEIGHT)
    assert png_size(desktop.screenshot_region(0, 0, 64, 48)) == (64, 48)
    desktop.move(10, 10)


def test_code_interpreter_has_no_desktop():
    plain = Sandbox.create(template="code-interpreter", api_key=KEY, base_url=BASE)
    try:
        with pytest.raises(DesktopNotAvailableError):
            plain.desktop.screenshot()
        # The agent's own answer: 501 DESKTOP_NOT_AVAILABLE (CONTRACT.md §3.7).
        with pytest.raises(DesktopNotAvailableError) as caught:
            plain.desktop._client.get("/desktop/screenshot", operation="capture screenshot")
        assert caught.value.code == "DESKTOP_NOT_AVAILABLE", caught.value
        assert caught.value.status_code == 501, caught.value
    finally:
        plain.kill()
