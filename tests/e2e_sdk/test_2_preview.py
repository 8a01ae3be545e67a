"""Ports served inside the sandbox, reached from outside through their preview URL
`http://{port}-{id}.sandbox.localhost:{warren port}/`: plain HTTP and a WebSocket."""

import time
import urllib.error
import urllib.request

import pytest
from hopx_ai.errors import HopxError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import WORKSPACE, preview_url

# A WebSocket echo server on the standard library alone (the image has no `websockets`): the
# RFC 6455 handshake, then every text or binary frame sent back until a close frame.
ECHO = r"""
import base64, hashlib, socket, struct, sys, threading

def frame(opcode, data):
    n = len(data)
    size = bytes([n]) if n < 126 else bytes([126]) + struct.pack(">H", n) if n < 65536 else bytes([127]) + struct.pack(">Q", n)
    return bytes([0x80 | opcode]) + size + data

def serve(conn):
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(4096)
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    f = conn.makefile("rb")
    while len(first := f.read(2)) == 2:
        opcode, n = first[0] & 15, first[1] & 127
        n = struct.unpack(">H", f.read(2))[0] if n == 126 else struct.unpack(">Q", f.read(8))[0] if n == 127 else n
        mask = f.read(4)
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(f.read(n)))
        conn.sendall(frame(opcode, data))
        if opcode == 8:
            break
    conn.close()

server = socket.create_server(("0.0.0.0", int(sys.argv[1])))
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
"""


def until(what, attempt, seconds=30):
    """`attempt()` once the server inside listens: until then the router answers 502."""
    deadline = time.time() + seconds
    while True:
        try:
            return attempt()
        except (urllib.error.HTTPError, InvalidStatus) as e:
            status = e.code if isinstance(e, urllib.error.HTTPError) else e.response.status_code
            assert status == 502 and time.time() < deadline, f"{what}: {e}"
            time.sleep(0.1)


def test_the_sdk_cannot_compute_preview_urls_off_hopx(sandbox):
    # Documented in docs/router.md: the SDK knows only hosts under vms.hopx.dev.
    with pytest.raises(HopxError):
        sandbox.get_preview_url(8000)


def test_http_served_inside_is_reachable_through_its_preview_url(sandbox):
    sandbox.files.write(f"{WORKSPACE}/site/index.html", "<h1>from inside</h1>")
    sandbox.commands.run(
        f"python3 -m http.server 8000 --bind 0.0.0.0 --directory {WORKSPACE}/site", background=True
    )
    url = preview_url(sandbox, 8000)

    def fetch():
        with urllib.request.urlopen(url + "index.html", timeout=10) as r:
            return r.status, r.read().decode()

    assert until(url, fetch) == (200, "<h1>from inside</h1>")


def test_websocket_through_the_preview_url(sandbox):
    sandbox.files.write(f"{WORKSPACE}/echo.py", ECHO)
    sandbox.commands.run(f"python3 {WORKSPACE}/echo.py 8765", background=True)
    url = preview_url(sandbox, 8765).replace("http://", "ws://", 1)
    with until(url, lambda: connect(url, open_timeout=10)) as ws:
        ws.send("hello through the router")
        assert ws.recv(timeout=10) == "hello through the router"
        ws.send(bytes(range(200)))
        assert ws.recv(timeout=10) == bytes(range(200))
