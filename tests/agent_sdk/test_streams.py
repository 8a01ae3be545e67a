"""WebSocket features through the official SDK: run_code_stream, files.watch and the terminal."""

import asyncio


def test_run_code_stream(sandbox):
    async def collect():
        frames = []
        async for msg in sandbox.run_code_stream(
            "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.05)"
        ):
            frames.append(msg)
        return frames

    frames = asyncio.run(collect())
    stdout = "".join(f["data"] for f in frames if f["type"] == "stdout")
    assert stdout == "0\n1\n2\n"
    assert frames[-1] == {"type": "complete", "success": True}
    assert any(f["type"] == "result" and f["exit_code"] == 0 for f in frames)


def test_files_watch(sandbox, agent):
    target = agent.workspace / "watched.txt"

    async def watch():
        events = sandbox.files.watch(str(agent.workspace))

        async def writer():
            for _ in range(100):
                # Through the agent, so it works wherever the agent runs (a process or a container).
                await asyncio.to_thread(sandbox.files.write, str(target), "x")
                await asyncio.sleep(0.1)

        task = asyncio.create_task(writer())
        try:
            async for event in events:
                if event.get("path") == str(target):
                    return event
        finally:
            task.cancel()
            await events.aclose()

    event = asyncio.run(asyncio.wait_for(watch(), 30))
    assert event["type"] == "change"
    assert event["event"] in ("created", "modified")
    sandbox.files.remove(str(target))


def test_terminal(sandbox):
    async def session():
        term = sandbox.terminal
        async with await term.connect() as ws:
            await term.resize(ws, 100, 30)
            await term.send_input(ws, "echo term-$((40+2)); exit 5\n")
            out, code = "", None
            async for msg in term.iter_output(ws):
                if msg["type"] == "output":
                    out += msg["data"]
                elif msg["type"] == "exit":
                    code = msg["code"]
                    break
            return out, code

    out, code = asyncio.run(asyncio.wait_for(session(), 30))
    assert "term-42" in out
    assert code == 5
