"""What the agent does, through the router: the whole of tests/agent_sdk (code in every language
and kept state, rich output, background runs and processes, async runs with a webhook, files with a
large upload and download, list and watch, commands, env, run_code_stream, the terminal, metrics),
imported so that pytest runs it here against the session's code-interpreter sandbox."""

from agent_sdk.test_code import *  # noqa: F401,F403
from agent_sdk.test_code import languages
from agent_sdk.test_files_env import *  # noqa: F401,F403
from agent_sdk.test_streams import *  # noqa: F401,F403
from agent_sdk.test_system import *  # noqa: F401,F403


def test_the_code_interpreter_runs_python_javascript_and_bash(sandbox):
    assert {"python", "javascript", "bash"} <= set(languages(sandbox))
