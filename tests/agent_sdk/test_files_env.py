"""Files, commands and environment through the official SDK."""

import os

import pytest
from hopx_ai.errors import FileNotFoundError as HopxFileNotFoundError


def test_write_read_list_exists_mkdir_remove(sandbox, agent):
    ws = str(agent.workspace)
    sandbox.files.write(f"{ws}/notes/a.txt", "hello")
    assert sandbox.files.read(f"{ws}/notes/a.txt") == "hello"
    sandbox.files.write_bytes(f"{ws}/notes/b.bin", bytes(range(256)))
    assert sandbox.files.read_bytes(f"{ws}/notes/b.bin") == bytes(range(256))
    entries = {f.name: f for f in sandbox.files.list(f"{ws}/notes")}
    assert set(entries) == {"a.txt", "b.bin"}
    assert entries["a.txt"].size == 5
    assert not entries["a.txt"].is_dir
    assert sandbox.files.exists(f"{ws}/notes/a.txt")
    sandbox.files.mkdir(f"{ws}/x/y/z")
    assert sandbox.files.exists(f"{ws}/x/y/z")
    sandbox.files.remove(f"{ws}/notes")
    assert not sandbox.files.exists(f"{ws}/notes/a.txt")
    with pytest.raises(HopxFileNotFoundError):
        sandbox.files.read(f"{ws}/notes/a.txt")


def test_upload_and_download_a_large_file(sandbox, agent, tmp_path):
    data = os.urandom(32 * 1024 * 1024)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    remote = f"{agent.workspace}/big.bin"
    sandbox.files.upload(str(local), remote)
    back = tmp_path / "back.bin"
    sandbox.files.download(remote, str(back))
    assert back.read_bytes() == data


def test_commands_foreground_and_background(sandbox, agent):
    result = sandbox.commands.run("echo $HOME_TEST; pwd", env={"HOME_TEST": "ok"},
                                  working_dir="/tmp")
    assert result.stdout == "ok\n/tmp\n"
    assert result.exit_code == 0
    failed = sandbox.commands.run("exit 4")
    assert failed.exit_code == 4
    bg = sandbox.commands.run("sleep 1", background=True)
    assert "Background process started" in bg.stdout


def test_env_vars_apply_to_later_runs(sandbox):
    sandbox.env.set_all({"ONE": "1"})
    sandbox.env.update({"TWO": "2"})
    sandbox.env.set("THREE", "3")
    assert sandbox.env.get_all() == {"ONE": "1", "TWO": "2", "THREE": "3"}
    assert sandbox.env.get("TWO") == "2"
    sandbox.env.delete("ONE")
    assert sandbox.env.get("ONE") is None
    assert sandbox.run_code("echo $TWO$THREE", language="bash").stdout == "23\n"
    assert sandbox.commands.run("echo $THREE").stdout == "3\n"
    sandbox.env.set_all({})
