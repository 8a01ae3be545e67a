"""The whole flow an agent takes, over each transport (see conftest.py)."""

import base64
import json

import anyio
import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from conftest import BASE, FOREIGN_SANDBOX_ID, KEY, connect, text_of

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def call(client, name, **arguments):
    return client.call_tool(name, arguments)


def test_sandbox_flow(transport):
    async def flow():
        async with connect(transport) as client:
            # Automatic mode gets the current stateless revision; forced legacy, the session handshake.
            if transport == "http-legacy":
                assert client.protocol_version < "2026-07-28", client.protocol_version
            else:
                assert client.protocol_version >= "2026-07-28", client.protocol_version
            tools = {t.name for t in (await client.list_tools()).tools}
            hopx = {
                "health", "list_sandboxes", "create_sandbox", "get_sandbox", "delete_sandbox",
                "update_sandbox_timeout", "resume_sandbox", "list_templates", "get_template",
                "ping_vm", "get_vm_info", "get_preview_url", "get_agent_url", "execute_code",
                "execute_code_persistent", "execute_code_rich", "execute_code_background",
                "execute_code_isolated", "execute_list_processes", "execute_kill_process",
                "run_command", "run_command_background", "list_processes", "file_read",
                "file_write", "file_list", "file_exists", "file_remove", "file_mkdir",
                "get_system_metrics", "env_get", "env_set", "env_clear", "cache_clear",
                "cache_stats",
            }
            warren = {
                "kill_sandbox", "pause_sandbox", "get_process_output", "file_upload",
                "file_download", "desktop_screenshot", "desktop_click", "desktop_type",
                "desktop_key_press",
            }
            assert hopx | warren <= tools, (hopx | warren) - tools

            created = await call(client, "create_sandbox", template_id="code-interpreter")
            assert not created.is_error, text_of(created)
            sandbox = json.loads(text_of(created))
            sid = sandbox["id"]
            assert sandbox["status"] == "running"
            assert "auth_token" not in sandbox
            try:
                # State kept across calls on the kernel.
                r = await call(client, "execute_code", sandbox_id=sid, code="x = 20")
                assert not r.is_error, text_of(r)
                r = await call(client, "execute_code", sandbox_id=sid, code="print(x * 2)\nx + 1")
                out = json.loads(text_of(r))
                assert out["stdout"].strip() == "40" and out["result"] == "21", out

                # A matplotlib chart is image content, not base64 in text.
                chart = (
                    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                    "plt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"
                )
                r = await call(client, "execute_code_rich", sandbox_id=sid, code=chart)
                assert not r.is_error, text_of(r)
                images = [c for c in r.content if c.type == "image"]
                assert len(images) == 1 and images[0].mime_type == "image/png"
                assert base64.b64decode(images[0].data).startswith(PNG_MAGIC)
                assert "iVBOR" not in text_of(r)

                # A Python exception is an error result with the traceback.
                r = await call(client, "execute_code", sandbox_id=sid, code="1/0")
                assert r.is_error and "ZeroDivisionError" in text_of(r)

                # Files.
                r = await call(client, "file_write", sandbox_id=sid, path="/workspace/notes.txt", content="hello mcp")
                assert not r.is_error, text_of(r)
                r = await call(client, "file_read", sandbox_id=sid, path="/workspace/notes.txt")
                assert text_of(r) == "hello mcp"
                r = await call(client, "file_list", sandbox_id=sid, path="/workspace")
                assert "notes.txt" in text_of(r)
                r = await call(client, "file_download", sandbox_id=sid, path="/workspace/notes.txt")
                (res,) = [c for c in r.content if c.type == "resource"]
                assert res.resource.text == "hello mcp"
                read = await client.read_resource(f"warren://sandboxes/{sid}/files/workspace/notes.txt")
                assert read.contents[0].text == "hello mcp"

                # Commands, foreground and background.
                r = await call(client, "run_command", sandbox_id=sid, command="cat notes.txt; echo err >&2")
                out = json.loads(text_of(r))
                assert out["stdout"] == "hello mcp" and out["stderr"].strip() == "err", out
                r = await call(client, "run_command", sandbox_id=sid, command="exit 3")
                assert r.is_error and json.loads(text_of(r))["exit_code"] == 3
                r = await call(client, "run_command_background", sandbox_id=sid, command="echo bg-out")
                pid = json.loads(text_of(r))["process_id"]
                for _ in range(50):
                    r = await call(client, "get_process_output", sandbox_id=sid, process_id=pid)
                    proc = json.loads(text_of(r))
                    if proc["status"] != "running":
                        break
                    await anyio.sleep(0.2)
                assert "bg-out" in proc["stdout"], proc

                # Env.
                r = await call(client, "env_set", sandbox_id=sid, env_vars={"MCP_VAR": "v1"})
                assert not r.is_error, text_of(r)
                r = await call(client, "run_command", sandbox_id=sid, command="echo $MCP_VAR")
                assert json.loads(text_of(r))["stdout"].strip() == "v1"

                # A snapshot of its files, and a fork that starts with them.
                r = await client.call_tool("create_snapshot", {"sandbox_id": sid, "name": "mcp-snap"})
                snap = json.loads(text_of(r))
                assert not r.is_error and snap["memory"] is False, snap
                r = await call(client, "list_snapshots")
                assert snap["id"] in [s["id"] for s in json.loads(text_of(r))["data"]]
                r = await call(client, "delete_snapshot", snapshot_id=snap["id"])
                assert not r.is_error, text_of(r)
                r = await call(client, "fork_sandbox", sandbox_id=sid, count=1)
                [fork] = json.loads(text_of(r))
                try:
                    r = await call(client, "file_read", sandbox_id=fork["id"], path="/workspace/notes.txt")
                    assert text_of(r) == "hello mcp", text_of(r)
                finally:
                    await call(client, "kill_sandbox", sandbox_id=fork["id"])

                # Invalid arguments are an error result, not a protocol failure.
                r = await call(client, "file_read", sandbox_id=sid)
                assert r.is_error
            finally:
                r = await call(client, "kill_sandbox", sandbox_id=sid)
            assert not r.is_error, text_of(r)
            r = await call(client, "get_sandbox", id=sid)
            assert r.is_error and "Sandbox not found" in text_of(r)

    anyio.run(flow)


def test_foreign_sandbox_reads_as_missing(transport):
    """Another organization's sandbox gives exactly the text of one that does not exist."""

    async def flow():
        async with connect(transport) as client:
            for tool, args in [
                ("get_sandbox", {}),
                ("execute_code", {"code": "print(1)"}),
                ("file_read", {"path": "/etc/hostname"}),
                ("kill_sandbox", {}),
            ]:
                foreign = await call(client, tool, sandbox_id=FOREIGN_SANDBOX_ID, **args)
                missing = await call(client, tool, sandbox_id="sbx_doesnotexist0000", **args)
                assert foreign.is_error and missing.is_error, tool
                assert text_of(foreign) == text_of(missing), (tool, text_of(foreign), text_of(missing))

    anyio.run(flow)


def test_unknown_tool_is_invalid_params(transport):
    async def flow():
        async with connect(transport) as client:
            with pytest.raises(MCPError) as e:
                await client.session.call_tool("no_such_tool", {})
            assert e.value.code == -32602, e.value

    anyio.run(flow)


def test_prompt_explains_the_tools(transport):
    async def flow():
        async with connect(transport) as client:
            names = {p.name for p in (await client.list_prompts()).prompts}
            assert {"sandbox_guide", "quick_code_execution"} <= names
            prompt = await client.get_prompt("sandbox_guide")
            assert "create_sandbox" in prompt.messages[0].content.text

    anyio.run(flow)


def test_desktop_screenshot(transport):
    async def flow():
        async with connect(transport) as client:
            created = await call(client, "create_sandbox", template_id="desktop")
            assert not created.is_error, text_of(created)
            sid = json.loads(text_of(created))["id"]
            try:
                png = None
                for _ in range(60):  # the display stack starts with the sandbox
                    r = await call(client, "desktop_screenshot", sandbox_id=sid)
                    if not r.is_error:
                        (png,) = [c for c in r.content if c.type == "image"]
                        break
                    await anyio.sleep(0.5)
                assert png is not None, text_of(r)
                assert png.mime_type == "image/png"
                assert base64.b64decode(png.data).startswith(PNG_MAGIC)
                for tool, args in [
                    ("desktop_click", {"x": 10, "y": 10}),
                    ("desktop_type", {"text": "hi"}),
                    ("desktop_key_press", {"key": "Return"}),
                ]:
                    r = await call(client, tool, sandbox_id=sid, **args)
                    assert not r.is_error, (tool, text_of(r))
            finally:
                await call(client, "kill_sandbox", sandbox_id=sid)

    anyio.run(flow)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "hpx_nope"}])
def test_wrong_key_is_401_with_challenge(headers):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}
    r = httpx2.post(f"{BASE}/mcp", json=body, headers={"Accept": "application/json, text/event-stream", **headers})
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer"), r.headers


def test_no_5xx_on_garbage():
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json, text/event-stream"}
    for body in [b"{", b"[]", b'{"jsonrpc":"2.0"}', b"\x00\xff"]:
        r = httpx2.post(f"{BASE}/mcp", content=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code < 500, (body, r.status_code, r.text)
