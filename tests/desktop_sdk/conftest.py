"""Desktop sandboxes (issue 14) with the official Python SDK (hopx-ai==0.5.0) against a real
`warren serve` on the real Docker engine: every `sandbox.desktop` method, each checked by an effect
seen inside the sandbox (the X server's own tools run with `commands.run`) or in the bytes it returns.

Run by the Rust test `desktop::desktop_sandboxes_with_the_official_sdks_and_a_browser`
(crates/warren/tests/api/desktop.rs), which gives WARREN_URL and HOPX_API_KEY. Every desktop call goes
through Warren's router at `{id}.sandbox.localhost:{port}` (the SDK uses the sandbox's public host);
Python resolves it through glibc's `myhostname` NSS module (`libnss-myhostname`).

One desktop sandbox serves every test, in file order; `test_9_resilience.py` kills its X server last.
"""

import os
import struct
import time
from contextlib import contextmanager

import pytest
from hopx_ai import Sandbox
from hopx_ai.errors import HopxError

BASE = os.environ["WARREN_URL"]
KEY = os.environ["HOPX_API_KEY"]
WIDTH, HEIGHT = 1280, 800  # the desktop template's screen


@pytest.fixture(scope="session")
def sandbox():
    box = Sandbox.create(template="desktop", api_key=KEY, base_url=BASE)
    yield box
    try:
        box.kill()
    except HopxError:
        pass  # the Rust driver removes what is left


@pytest.fixture(scope="session")
def desktop(sandbox):
    return sandbox.desktop


@pytest.fixture(scope="session")
def blank(desktop):
    """The screen before any test drew on it: the first screenshot of the session."""
    return desktop.screenshot()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; fails unless `data` is a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"not a PNG: {data[:32]!r}"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, kind
    return struct.unpack(">II", data[16:24])


def sh(sandbox, command: str, *, ok: bool = True) -> str:
    """Runs `command` in the sandbox (the image sets DISPLAY=:1); its stdout, stripped. With `ok`, a
    non-zero exit fails the test."""
    result = sandbox.commands.run(command, timeout=60)
    if ok:
        assert result.exit_code == 0, (command, result.exit_code, result.stdout, result.stderr)
    return result.stdout.strip()


def open_xterm(sandbox, desktop, title: str, *, geometry: str = "60x12+40+40"):
    """Opens an xterm titled `title` (a large font OCR reads) and waits for get_windows() to list it."""
    sandbox.commands.run(
        # allowTitleOps off: the shell's prompt would retitle the window (user@host: dir).
        f"xterm -T {title} -xrm 'XTerm*allowTitleOps: false' -geometry {geometry} "
        f"-fa 'DejaVu Sans Mono' -fs 18 "
        f"-bg white -fg black >/dev/null 2>&1",
        background=True,
        timeout=900,
    )
    return wait_window(desktop, title)


def find_window(desktop, title: str):
    return next((w for w in desktop.get_windows() if w.title == title), None)


def wait_window(desktop, title: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        window = find_window(desktop, title)
        if window is not None:
            return window
        time.sleep(0.3)
    raise AssertionError(f"no window {title!r} in {[w.title for w in desktop.get_windows()]}")


def active_window(sandbox) -> int:
    """The X server's active window (EWMH `_NET_ACTIVE_WINDOW`, set by openbox)."""
    return int(sh(sandbox, "xdotool getactivewindow"))


def eventually(what: str, check, timeout: float = 10):
    """Polls `check()` until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout} s")
        time.sleep(0.3)


@contextmanager
def refused(status: int, code: str | None = None):
    """The SDK call inside raises an error carrying the agent's HTTP `status` (and `code`)."""
    with pytest.raises(HopxError) as caught:
        yield caught
    error = caught.value
    assert error.status_code == status, (error.status_code, error.code, error.message)
    if code is not None:
        assert error.code == code, (error.code, error.message)
