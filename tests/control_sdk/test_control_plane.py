"""The official Python SDK (hopx-ai==0.5.0) against Warren's control plane.

Run by the Rust test `sdk::official_python_sdk` (crates/control-plane/tests/api/sdk.rs), which starts
the control plane with the fake runtime and sets WARREN_URL and HOPX_API_KEY. Only control-plane
calls are made: the fake runtime has no agent behind public_host.
"""

import os

import pytest
from hopx_ai import Sandbox
from hopx_ai.errors import AuthenticationError, NotFoundError, TemplateNotFoundError

BASE = os.environ["WARREN_URL"]
KEY = os.environ["HOPX_API_KEY"]


def test_health_check_is_open():
    assert Sandbox.health_check(base_url=BASE)["status"] == "healthy"


def test_list_and_get_templates():
    names = [t.name for t in Sandbox.list_templates(api_key=KEY, base_url=BASE)]
    assert {"code-interpreter", "python", "nodejs", "base"} <= set(names)
    t = Sandbox.get_template("code-interpreter", api_key=KEY, base_url=BASE)
    assert t.name == "code-interpreter"
    assert t.default_resources.memory_mb == 2048
    assert Sandbox.get_template(t.id, api_key=KEY, base_url=BASE).name == "code-interpreter"


def test_unknown_template_maps_to_template_not_found_with_suggestion():
    with pytest.raises(TemplateNotFoundError) as e:
        Sandbox.create(template="code-interpreterr", api_key=KEY, base_url=BASE)
    assert e.value.suggested_template == "code-interpreter"


def test_wrong_key_is_authentication_error():
    with pytest.raises(AuthenticationError):
        Sandbox.list(api_key="wrn_0000000000000000_" + "0" * 64, base_url=BASE)


def test_sandbox_lifecycle():
    sb = Sandbox.create(template="base", timeout_seconds=600, api_key=KEY, base_url=BASE)
    info = sb.get_info()
    assert info.status == "running"
    assert info.template_name == "base"
    assert info.resources.vcpu == 1
    assert info.expires_at is not None
    assert sb.sandbox_id in [s.sandbox_id for s in Sandbox.list(api_key=KEY, base_url=BASE)]
    assert sb.sandbox_id in [s.sandbox_id for s in Sandbox.iter(api_key=KEY, base_url=BASE)]

    sb.set_timeout(1200)
    sb.pause()
    assert sb.get_info().status == "paused"
    # connect() resumes a paused sandbox and refreshes its token.
    again = Sandbox.connect(sb.sandbox_id, api_key=KEY, base_url=BASE)
    assert again.get_info().status == "running"
    assert again.get_token()

    sb.kill()
    with pytest.raises(NotFoundError):
        sb.get_info()
