"""End to end: the official Python SDK (hopx-ai==0.5.0) against a real `warren serve` on a real
Postgres and the real Docker engine, every agent call through Warren's router.

Run by the Rust test `e2e::official_sdks_end_to_end_on_the_docker_engine`
(crates/control-plane/tests/api/e2e.rs), which gives WARREN_URL and HOPX_API_KEY. Python resolves the
sandbox hosts `*.sandbox.localhost` through glibc's `myhostname` NSS module (`libnss-myhostname`).

One code-interpreter sandbox serves every test, in file order: `test_1_agent.py` (what the agent
does), `test_2_preview.py` (ports served inside the sandbox), `test_3_lifecycle.py` (pause, timeout,
connect, list, and finally kill).

Most of what the agent does is checked by the agent's own SDK suite, `tests/agent_sdk/`, whose tests
`test_1_agent.py` imports and so runs again here, through the router, on a sandbox the SDK created;
the fixtures it needs (`sandbox`, `agent`) are defined below.
"""

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from hopx_ai import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `agent_sdk` for test_1_agent.py

BASE = os.environ["WARREN_URL"]
KEY = os.environ["HOPX_API_KEY"]
WORKSPACE = "/workspace"


@pytest.fixture(scope="session")
def sandbox():
    """The session's sandbox; test_3_lifecycle kills it, the Rust driver removes what a failure left."""
    return Sandbox.create(template="code-interpreter", api_key=KEY, base_url=BASE)


@pytest.fixture(scope="session")
def agent(sandbox):
    """What tests/agent_sdk's tests want to know of the agent they drive."""
    return SimpleNamespace(workspace=Path(WORKSPACE), sandbox_id=sandbox.sandbox_id)


def preview_url(sandbox, port: int) -> str:
    """`http://{port}-{id}.sandbox.localhost:{warren port}/`: the SDK's get_preview_url() only knows
    hosts under vms.hopx.dev (docs/router.md)."""
    host = urlsplit(sandbox.get_info().public_host)
    return f"{host.scheme}://{port}-{host.netloc}/"
