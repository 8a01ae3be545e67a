"""Code execution through the official SDK: run_code in every language present, kernel state, rich
outputs, background runs, process list and kill, async runs with a signed webhook."""

import base64
import hashlib
import hmac
import json
import os
import time

import pytest
from hopx_ai.errors import AgentError


def languages(sandbox):
    info = sandbox.get_agent_info()
    return info["features"]["languages"]


def test_run_code_in_every_language_present(sandbox):
    samples = {
        "python": ("print(6 * 7)", ["python", "python3"]),
        "javascript": ("console.log(6 * 7)", ["javascript", "js", "node", "nodejs"]),
        "bash": ("echo $((6 * 7))", ["bash", "shell"]),
        "sh": ("echo 42", ["sh"]),
        "go": ('package main\nimport "fmt"\nfunc main() { fmt.Println(42) }', ["go"]),
    }
    present = languages(sandbox)
    assert {"python", "bash", "sh"} <= set(present)
    for lang in present:
        code, aliases = samples[lang]
        for alias in aliases:
            result = sandbox.run_code(code, language=alias, timeout=60)
            assert result.success, (alias, result.stderr)
            assert result.stdout == "42\n", alias


def test_kernel_state_persists_and_failures_are_results(sandbox):
    sandbox.run_code("import math\ncounter = 1")
    sandbox.run_code("counter += 1")
    result = sandbox.run_code("print(counter, math.floor(2.5))")
    assert result.stdout == "2 2\n"
    failed = sandbox.run_code("raise ValueError('boom')")
    assert failed.success is False
    assert failed.exit_code == 1
    assert "ValueError: boom" in failed.stderr


def _mime(rich):
    """The MIME type of a RichOutput (the SDK gives an enum)."""
    return getattr(rich.type, "value", rich.type)


def test_rich_outputs_from_matplotlib_and_pandas(sandbox):
    plot = sandbox.run_code(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('t')"
    )
    assert plot.success, plot.stderr
    pngs = [r.data["image/png"] for r in plot.rich_outputs if _mime(r) == "image/png"]
    assert pngs and base64.b64decode(pngs[0]).startswith(b"\x89PNG")
    frame = sandbox.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})")
    assert frame.success, frame.stderr
    by_type = {_mime(r): r.data[_mime(r)] for r in frame.rich_outputs}
    assert "<table" in by_type["text/html"]
    assert by_type["application/vnd.dataframe+json"]["columns"] == ["a", "b"]


def test_env_and_working_dir_of_run_code(sandbox, agent):
    result = sandbox.run_code("echo $GREETING; pwd", language="bash", env={"GREETING": "hi"},
                              working_dir="/tmp")
    assert result.stdout == "hi\n/tmp\n"


def test_background_list_and_kill(sandbox):
    started = sandbox.run_code_background("import time\ntime.sleep(300)", name="sleeper")
    pid = started["process_id"]
    listed = {p["process_id"]: p for p in sandbox.list_processes()}
    assert listed[pid]["status"] == "running"
    assert listed[pid]["name"] == "sleeper"
    killed = sandbox.kill_process(pid)
    assert killed["status"] == "killed"
    with pytest.raises(AgentError) as err:
        sandbox.kill_process("proc_unknown")
    assert err.value.code == "PROCESS_NOT_FOUND"


# A one-request webhook receiver, run inside the sandbox (where the agent runs, a process or a
# container: sandboxes cannot reach the test host). It writes what it received to a JSON file.
HOOK = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
        with open(sys.argv[2] + ".tmp", "w") as f:
            json.dump({"headers": dict(self.headers), "body": body.decode()}, f)
        import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    def log_message(self, *a):
        pass
s = HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
open(sys.argv[2] + ".ready", "w").close()
s.handle_request()
"""


def wait_for_file(sandbox, path, seconds=20):
    deadline = time.time() + seconds
    while not sandbox.files.exists(path):
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_run_code_async_calls_the_webhook_with_a_signature(sandbox, agent):
    port = 18000 + os.getpid() % 1000
    out = f"{agent.workspace}/hook.json"
    sandbox.files.write(f"{agent.workspace}/hook.py", HOOK)
    sandbox.commands.run(f"python3 {agent.workspace}/hook.py {port} {out}", background=True)
    wait_for_file(sandbox, out + ".ready")
    queued = sandbox.run_code_async(
        "print('later')", callback_url=f"http://127.0.0.1:{port}/done",
        callback_signature_secret="s3", callback_headers={"X-Trace": "t1"},
    )
    assert queued["status"] == "queued"
    wait_for_file(sandbox, out)
    received = json.loads(sandbox.files.read(out))
    headers = {k.lower(): v for k, v in received["headers"].items()}
    body = received["body"].encode()
    expected = hmac.new(b"s3", f"{headers['x-hopx-timestamp']}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert headers["x-hopx-signature"] == f"sha256={expected}"
    assert headers["x-trace"] == "t1"
    payload = json.loads(body)
    assert payload["execution_id"] == queued["execution_id"]
    assert payload["status"] == "completed"
    assert payload["stdout"] == "later\n"
