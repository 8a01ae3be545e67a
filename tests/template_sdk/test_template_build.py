"""The official Python SDK's template builder (hopx-ai==0.5.0) against Warren on the real engine.

Run by the Rust test `template_build::official_python_sdk_builds_a_template`
(crates/control-plane/tests/api/template_build.rs): `Template.build(...)` uploads the COPY sources to
Warren's own upload URL, Warren builds the image with the Docker engine, and `create_vm()` starts a
sandbox from it whose start command (a web server) must be ready before the create returns.
"""

import asyncio
import os
import uuid

from hopx_ai import AsyncSandbox
from hopx_ai.template import BuildOptions, Template, wait_for_port

BASE = os.environ["WARREN_URL"]
KEY = os.environ["HOPX_API_KEY"]
IMAGE = "warren/template-python:latest"


def test_build_with_copy_env_workdir_and_a_web_server_then_create_vm(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("hello from a custom template")
    (tmp_path / "notes.txt").write_text("copied file")
    template = (
        Template(from_image=IMAGE)
        .copy("site/", "/srv/site")
        .copy("notes.txt", "/opt/notes.txt")
        .set_env("GREETING", "hi there")
        .set_user("root")
        .run_cmd("echo built-by-warren > /opt/built.txt")
        .set_user("1000:1000")
        .set_workdir("/srv/site")
        # Relative to WORKDIR: serves /srv/site.
        .set_start_cmd("python3 -m http.server 8000", wait_for_port(8000))
    )
    logs, progress = [], []
    options = BuildOptions(
        name=f"sdk-{uuid.uuid4().hex[:8]}",
        api_key=KEY,
        # A trailing slash: the builder then sends `//v1/...`, which Warren must take.
        base_url=BASE + "/",
        context_path=str(tmp_path),
        cpu=1,
        memory=512,
        disk_gb=1,
        on_log=logs.append,
        on_progress=progress.append,
    )

    async def build_and_run():
        result = await Template.build(template, options)
        vm = await result.create_vm()
        sandbox = await AsyncSandbox.connect(vm.vm_id, api_key=KEY, base_url=BASE)
        try:
            script = (
                "import os, urllib.request;"
                "print(urllib.request.urlopen('http://127.0.0.1:8000/index.html').read().decode());"
                "print(open('/opt/notes.txt').read());"
                "print(open('/opt/built.txt').read().strip());"
                "print(os.environ.get('GREETING'))"
            )
            out = await sandbox.run_code(script)
        finally:
            await sandbox.kill()
        return result, vm, out

    result, vm, out = asyncio.run(build_and_run())
    assert result.template_id == result.build_id
    assert vm.template_id == result.template_id
    messages = "\n".join(entry["message"] for entry in logs)
    assert "RUN" in messages and "Built image" in messages, messages
    assert progress == [100]
    assert out.stdout.split("\n")[:4] == [
        "hello from a custom template",
        "copied file",
        "built-by-warren",
        "hi there",
    ], out.stdout + out.stderr
