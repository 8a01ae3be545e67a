"""The official Python SDK (hopx-ai==0.5.0) through Warren's router.

Run by the Rust test `router_sdk::official_python_sdk_through_the_router`
(crates/control-plane/tests/api/router_sdk.rs): the control plane runs with the fake runtime, every
sandbox it creates runs a real `warren-agent` process, and the SDK reaches that agent at the
`public_host` the control plane returns, `http://{id}.sandbox.localhost:{port}`, i.e. through the
router. Python resolves `*.localhost` through glibc's `myhostname` NSS module (`libnss-myhostname`).
"""

import asyncio
import hashlib
import os

import pytest
from hopx_ai import Sandbox
from hopx_ai.errors import HopxError

BASE = os.environ["WARREN_URL"]
KEY = os.environ["HOPX_API_KEY"]


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox.create(template="python", api_key=KEY, base_url=BASE)
    yield sb
    try:
        sb.kill()
    except HopxError:
        pass


def test_public_host_is_a_router_host(sandbox):
    host = sandbox.get_info().public_host
    assert host.startswith(f"http://{sandbox.sandbox_id}.sandbox.localhost:")


def test_code_keeps_state_and_commands_run(sandbox):
    sandbox.run_code("x = 41")
    assert sandbox.run_code("print(x + 1)").stdout == "42\n"
    assert sandbox.commands.run("echo hi").stdout == "hi\n"


def test_files_small_and_large(sandbox, tmp_path):
    workdir = sandbox.run_code("import os; print(os.getcwd())").stdout.strip()
    sandbox.files.write(f"{workdir}/a.txt", "hello")
    assert sandbox.files.read(f"{workdir}/a.txt") == "hello"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 << 20))
    sandbox.files.upload(str(big), f"{workdir}/big.bin")
    back = tmp_path / "back.bin"
    sandbox.files.download(f"{workdir}/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()


def test_websocket_stream_and_terminal(sandbox):
    async def stream():
        return [m async for m in sandbox.run_code_stream("print('streamed')")]

    frames = asyncio.run(asyncio.wait_for(stream(), 30))
    assert "".join(f["data"] for f in frames if f["type"] == "stdout") == "streamed\n"

    async def session():
        term = sandbox.terminal
        async with await term.connect() as ws:
            await term.send_input(ws, "echo term-$((40+2)); exit 3\n")
            out = ""
            async for msg in term.iter_output(ws):
                if msg["type"] == "output":
                    out += msg["data"]
                elif msg["type"] == "exit":
                    return out, msg["code"]

    out, code = asyncio.run(asyncio.wait_for(session(), 30))
    assert "term-42" in out and code == 3


def test_killed_sandbox_stops_answering():
    sb = Sandbox.create(template="python", api_key=KEY, base_url=BASE)
    assert sb.run_code("print(1)").stdout == "1\n"
    sb.kill()
    with pytest.raises(HopxError) as e:
        sb.run_code("print(2)")
    assert "not found" in str(e.value).lower()
