"""Server side of RFC 6455 over an asyncio stream.

Written here instead of borrowing the websockets library's protocol object so
that the fault injector and the admin API can send exactly the frames they
want (raw text that is not JSON, binary frames, abrupt closes).  No extension
is negotiated, so frames are never compressed; clients (wslay, websockets)
must mask their frames, as the RFC requires.
"""

import asyncio
import base64
import hashlib
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

MAX_MESSAGE = 16 * 1024 * 1024


class ConnectionClosed(Exception):
    def __init__(self, code=1006, reason=""):
        super().__init__(f"websocket closed ({code} {reason})")
        self.code = code
        self.reason = reason


def accept_key(key):
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake_problem(request):
    """Return (status, text) if the upgrade request is not a valid RFC 6455
    opening handshake, else None."""
    h = request.headers
    if "upgrade" not in (h.get("Connection") or "").lower():
        return 400, "Connection header must contain Upgrade"
    if h.get("Sec-WebSocket-Version") != "13":
        return 426, "Sec-WebSocket-Version must be 13"
    key = h.get("Sec-WebSocket-Key") or ""
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except Exception:
        return 400, "bad Sec-WebSocket-Key"
    return None


def handshake_response(request):
    key = request.headers.get("Sec-WebSocket-Key")
    return ("HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii")


def _unmask(data, mask):
    n = len(data)
    if not n:
        return data
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


def encode_frame(opcode, payload, fin=True):
    """Server frames are never masked (RFC 6455 §5.1)."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    return head + payload


class WebSocket:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.closed = False
        self.close_code = None
        self.close_reason = ""
        self._send_lock = asyncio.Lock()
        self._close_sent = False

    # -- receiving ---------------------------------------------------------
    async def _read_frame(self):
        b0, b1 = await self.reader.readexactly(2)
        fin = bool(b0 & 0x80)
        if b0 & 0x70:
            await self._fail(1002, "reserved bits set")
        opcode = b0 & 0x0F
        masked = bool(b1 & 0x80)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        if not masked:
            await self._fail(1002, "client frames must be masked")
        if n > MAX_MESSAGE:
            await self._fail(1009, "frame too large")
        mask = await self.reader.readexactly(4)
        payload = _unmask(await self.reader.readexactly(n), mask)
        return fin, opcode, payload

    async def recv(self):
        """Return the next data message as (opcode, bytes).

        Pings are answered, pongs ignored; a close frame is echoed and
        raises ConnectionClosed."""
        parts = []
        first_op = None
        size = 0
        while True:
            try:
                fin, opcode, payload = await self._read_frame()
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                self.closed = True
                raise ConnectionClosed(1006, "connection lost")
            if opcode >= 0x8:
                if not fin or len(payload) > 125:
                    await self._fail(1002, "bad control frame")
                if opcode == OP_PING:
                    await self._send(OP_PONG, payload)
                elif opcode == OP_CLOSE:
                    code, reason = 1005, ""
                    if len(payload) >= 2:
                        (code,) = struct.unpack("!H", payload[:2])
                        reason = payload[2:].decode("utf-8", "replace")
                    self.close_code, self.close_reason = code, reason
                    if not self._close_sent:
                        try:
                            await self._send(OP_CLOSE, payload[:2])
                        except Exception:
                            pass
                    self._shutdown()
                    raise ConnectionClosed(code, reason)
                elif opcode != OP_PONG:
                    await self._fail(1002, "unknown control opcode")
                continue
            if opcode == OP_CONT:
                if first_op is None:
                    await self._fail(1002, "unexpected continuation frame")
            elif opcode in (OP_TEXT, OP_BINARY):
                if first_op is not None:
                    await self._fail(1002, "expected continuation frame")
                first_op = opcode
            else:
                await self._fail(1002, "unknown opcode")
            size += len(payload)
            if size > MAX_MESSAGE:
                await self._fail(1009, "message too large")
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                if first_op == OP_TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        await self._fail(1007, "invalid UTF-8 in text frame")
                return first_op, data

    async def _fail(self, code, reason):
        await self.close(code, reason, wait=False)
        raise ConnectionClosed(code, reason)

    # -- sending -----------------------------------------------------------
    async def _send(self, opcode, payload):
        # after our close frame only the closing handshake may follow (RFC 6455 §5.5.1)
        if self.closed or (self._close_sent and opcode != OP_PONG):
            raise ConnectionClosed(self.close_code or 1006, "closed")
        async with self._send_lock:
            try:
                self.writer.write(encode_frame(opcode, payload))
                await self.writer.drain()
            except (ConnectionError, OSError):
                self.closed = True
                raise ConnectionClosed(1006, "connection lost")

    async def send_text(self, text):
        await self._send(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text)

    async def send_binary(self, data):
        await self._send(OP_BINARY, data)

    async def close(self, code=1000, reason="", wait=True):
        """Send a close frame; the peer's answering close ends the read loop."""
        if self.closed or self._close_sent:
            return
        self._close_sent = True
        payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
        try:
            async with self._send_lock:
                self.writer.write(encode_frame(OP_CLOSE, payload))
                await self.writer.drain()
        except Exception:
            pass
        self.close_code = code
        if not wait:
            self._shutdown()
        else:
            # Give the reader a moment to see the peer's close, then cut.
            asyncio.get_running_loop().call_later(2.0, self._shutdown)

    def abort(self):
        """Drop the TCP connection without a close frame."""
        self.closed = True
        try:
            transport = self.writer.transport
            transport.abort()
        except Exception:
            pass

    def _shutdown(self):
        self.closed = True
        try:
            self.writer.close()
        except Exception:
            pass
