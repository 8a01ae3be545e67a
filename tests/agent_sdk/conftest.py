"""Starts the real warren-agent binary and hands tests an official-SDK Sandbox bound to it.

The binary comes from $WARREN_AGENT_BIN (default: target/debug/warren-agent; build it first with
`cargo build -p agent`). User code runs through this venv's python (WARREN_AGENT_PYTHON), so the
numpy/pandas/matplotlib installed from tests/requirements.txt are really exercised.

With $WARREN_AGENT_URL, $WARREN_AGENT_SANDBOX_ID and $WARREN_AGENT_TOKEN_KEY (hex) set, no process is
started: the tests drive the agent already listening there (a sandbox container made by the Docker
runtime, in the Rust test that runs this suite against one).
"""

import base64
import hashlib
import hmac
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from hopx_ai import Sandbox
from hopx_ai._ws_client import WebSocketClient

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ID = "sbx-sdk"


def sign(key: bytes, sandbox_id: str, expires: int) -> str:
    """A sandbox token, as crates/sandbox-token signs it."""
    mac = hmac.new(key, f"wst1|{sandbox_id}|{expires}".encode(), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return f"wst1.{sandbox_id}.{expires}.{sig}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_can_run_python() -> bool:
    """Whether uid 1000 can run this venv's python with its libraries (it cannot if the venv
    lives under a root-only directory such as /root)."""
    if os.geteuid() != 0:
        return True
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import numpy, pandas, matplotlib"],
            user=1000, group=1000, cwd="/", capture_output=True,
        )
    except PermissionError:
        return False
    return probe.returncode == 0


class ExternalAgent:
    """An agent someone else started, e.g. inside a sandbox container."""

    def __init__(self, url: str, sandbox_id: str, key_hex: str):
        self.url = url.rstrip("/")
        self.sandbox_id = sandbox_id
        self.workspace = Path("/workspace")
        self.token = sign(bytes.fromhex(key_hex), sandbox_id, int(time.time()) + 24 * 3600)

    def stop(self):
        pass


class Agent:
    sandbox_id = SANDBOX_ID

    def __init__(self, tmp: Path):
        self.key = os.urandom(32)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = sign(self.key, SANDBOX_ID, int(time.time()) + 24 * 3600)
        self.workspace = tmp / "workspace"
        scratch = tmp / "tmp"
        for d in (tmp, self.workspace, scratch):
            d.mkdir(exist_ok=True)
            d.chmod(0o777)
        binary = os.environ.get("WARREN_AGENT_BIN", str(ROOT / "target/debug/warren-agent"))
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "WARREN_AGENT_LISTEN": f"127.0.0.1:{self.port}",
            "WARREN_AGENT_SANDBOX_ID": SANDBOX_ID,
            "WARREN_AGENT_TOKEN_KEY": self.key.hex(),
            "WARREN_AGENT_WORKSPACE": str(self.workspace),
            "WARREN_AGENT_TMP": str(scratch),
            "WARREN_AGENT_PYTHON": sys.executable,
            "WARREN_AGENT_LOG": os.environ.get("TEST_LOG", "warn"),
        }
        if not user_can_run_python():
            # The venv is not readable by uid 1000 here: run user code as the agent's user.
            env["WARREN_AGENT_USER"] = f"{os.geteuid()}:{os.getegid()}"
        self.proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("warren-agent did not become healthy")
                time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def agent():
    if url := os.environ.get("WARREN_AGENT_URL"):
        yield ExternalAgent(
            url, os.environ["WARREN_AGENT_SANDBOX_ID"], os.environ["WARREN_AGENT_TOKEN_KEY"]
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        a = Agent(Path(tmp))
        yield a
        a.stop()


@pytest.fixture
def sandbox(agent) -> Sandbox:
    sb = Sandbox.debug(agent.url, agent.token, sandbox_id=agent.sandbox_id)
    # Sandbox.debug has no control plane to ask for public_host; give WebSocket features the agent URL.
    sb._ws_client = WebSocketClient(agent.url, agent.token)
    return sb
