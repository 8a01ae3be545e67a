"""Warren's MCP server driven by the official MCP Python SDK (`mcp==2.3.0`) against a real
`warren serve` on the real Docker engine.

Run by the Rust test `mcp::official_mcp_client_over_http_and_stdio` (crates/warren/tests/api/mcp.rs),
which gives WARREN_URL, WARREN_API_KEY, WARREN_BIN (the `warren` binary, for `warren mcp` over
stdio) and FOREIGN_SANDBOX_ID (a running sandbox of another organization).

Every test runs over three transports: Streamable HTTP at `/mcp` with the client in its automatic
mode (it probes the current stateless revision first), the same with the older session-based
handshake forced (`mode="legacy"`), and stdio against `warren mcp --url … --api-key …`.
"""

import os
from contextlib import asynccontextmanager

import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

BASE = os.environ["WARREN_URL"]
KEY = os.environ["WARREN_API_KEY"]
WARREN_BIN = os.environ["WARREN_BIN"]
FOREIGN_SANDBOX_ID = os.environ["FOREIGN_SANDBOX_ID"]

TRANSPORTS = ["http-auto", "http-legacy", "stdio"]


@asynccontextmanager
async def connect(transport: str, key: str = KEY):
    """A connected, initialized client over `transport`."""
    if transport == "stdio":
        server = StdioServerParameters(
            command=WARREN_BIN,
            args=["mcp", "--url", BASE, "--api-key", key],
            env={"NO_PROXY": "127.0.0.1,localhost,.localhost"},
        )
        mode = "auto"
    else:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        server = streamable_http_client(f"{BASE}/mcp", http_client=http)
        mode = "legacy" if transport == "http-legacy" else "auto"
    async with Client(server, mode=mode, read_timeout_seconds=300) as client:
        yield client


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")
