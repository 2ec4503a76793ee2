#!/usr/bin/python3
"""WebSocket peer for tests/unit/test_ws.c.

Started by the C test as `/usr/bin/python3 ws_test_server.py CERT KEY`; prints one line
"PORTS <ws> <wss> <raw>" on stdout once it listens on 127.0.0.1, and runs until killed.

The ws and wss ports run python-websockets (an independent implementation); the raw port
writes hand-made HTTP answers for the cases a real server cannot produce. The behaviour is
chosen by the request path.
"""
import asyncio
import base64
import hashlib
import http
import json
import socket
import ssl
import struct
import sys
from urllib.parse import parse_qs, urlsplit

import websockets

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
closes = {}  # id -> "code reason", what the server saw when a client closed


def query(path):
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


async def record_close(ws, q):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    if "id" in q:
        closes[q["id"]] = "%s %s" % (ws.close_code, ws.close_reason)


async def handler(ws, path=None):
    try:
        await route_request(ws)
    except websockets.ConnectionClosed:
        pass  # the client went away on purpose (reset, free) in some tests


async def route_request(ws):
    path = ws.path
    route = urlsplit(path).path
    q = query(path)
    if route == "/echo":
        await record_close(ws, q)
    elif route == "/headers":
        hdrs = {k: v for k, v in ws.request_headers.raw_items()}
        hdrs["__path__"] = path
        await ws.send(json.dumps(hdrs))
        await record_close(ws, q)
    elif route == "/fragmented":
        await ws.send(["frag1-", "frag2-", "frag3"])
        await record_close(ws, q)
    elif route == "/ping":
        waiter = await ws.ping(b"are-you-there")
        try:
            await asyncio.wait_for(waiter, 2)
            await ws.send("pong-ok")
        except asyncio.TimeoutError:
            await ws.send("pong-missing")
        await record_close(ws, q)
    elif route == "/close4000":
        await ws.close(4000, "go away")
    elif route == "/toobig":
        await ws.send("x" * int(q.get("n", "5000")))
        await record_close(ws, q)
    elif route == "/reset":
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.transport.abort()
    elif route == "/lastclose":
        for _ in range(200):
            if q.get("id") in closes:
                break
            await asyncio.sleep(0.01)
        await ws.send(closes.get(q.get("id"), "none"))
        await ws.close()
    else:
        await ws.close(1008, "unknown path")


async def process_request(path, headers):
    if urlsplit(path).path == "/reject":
        body = b'{"InactiveInstanceException":"Container instance is inactive"}'
        return http.HTTPStatus.FORBIDDEN, [("Content-Type", "application/json")], body
    return None


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode, payload):
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


async def read_client_frame(reader):
    """One masked client frame -> (opcode, payload)."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    if not b1 & 0x80:
        raise ValueError("client frame not masked")
    mask = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(c ^ mask[i % 4] for i, c in enumerate(data))


async def raw_client(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    accept = accept_for(headers.get("sec-websocket-key", ""))
    route = urlsplit(path).path
    if route == "/hang":
        await asyncio.sleep(30)
    elif route == "/badaccept":
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(2)
    elif route in ("/early", "/burst"):
        # The 101 and frames in one write: the client must take the frames from the same
        # read as the head.
        if route == "/early":
            frames = frame(1, b"early") + frame(8, struct.pack("!H", 1000) + b"bye")
        else:
            frames = b"".join(frame(1, b"burst-%d" % i) for i in range(3))
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode()
                     + frames)
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(1024), 2)
        except asyncio.TimeoutError:
            pass
    elif route == "/closeecho":
        # Answers the client's close frame late and with its own code: only a client that
        # waits for the answer and reads it reports 4999.
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        await writer.drain()
        try:
            opcode, payload = await asyncio.wait_for(read_client_frame(reader), 2)
            if opcode == 8:
                await asyncio.sleep(0.2)
                writer.write(frame(8, struct.pack("!H", 4999) + b"raw-echo"))
                await writer.drain()
                await asyncio.wait_for(reader.read(1024), 2)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
    elif route == "/chunked":
        body = b'{"AccessDeniedException":"not allowed"}'
        writer.write(b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/json\r\n\r\n"
                     + b"5\r\n" + body[:5] + b"\r\n"
                     + b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(2)
    writer.close()


async def main():
    cert, key = sys.argv[1], sys.argv[2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    common = dict(process_request=process_request, max_size=16 * 1024 * 1024,
                  ping_interval=None, compression=None)
    plain = await websockets.serve(handler, "127.0.0.1", 0, **common)
    tls = await websockets.serve(handler, "127.0.0.1", 0, ssl=ctx, **common)
    raw = await asyncio.start_server(raw_client, "127.0.0.1", 0)
    ports = [s.sockets[0].getsockname()[1] for s in (plain, tls, raw)]
    print("PORTS %d %d %d" % tuple(ports), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
