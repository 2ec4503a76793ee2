"""A small asyncio HTTP/1.1 server.

One listening port serves the AWS JSON 1.1 API, the admin API and the ACS/TCS
WebSocket upgrades.  The standard library has no asyncio HTTP server and the
websockets library cannot hand us POST bodies, so requests are parsed here:
request line, headers, ``Content-Length`` or chunked bodies, ``Expect:
100-continue`` (libcurl sends it for larger POSTs), keep-alive.  A request
carrying ``Upgrade: websocket`` is handed, together with the open stream, to
an upgrade handler which owns the connection from then on.
"""

import asyncio
import collections
import email.utils
import json
import logging
import time
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("ecslocal.http")

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
IDLE_TIMEOUT = 300.0

REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
    426: "Upgrade Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable",
}


class HttpError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


class Headers:
    """Case-insensitive multi-valued header list that keeps the wire order."""

    def __init__(self, items=None):
        self.items = list(items or [])

    def get(self, name, default=None):
        lname = name.lower()
        for k, v in self.items:
            if k.lower() == lname:
                return v
        return default

    def get_all(self, name):
        lname = name.lower()
        return [v for k, v in self.items if k.lower() == lname]

    def __contains__(self, name):
        return self.get(name) is not None

    def add(self, name, value):
        self.items.append((name, value))


class Request:
    def __init__(self, method, target, version, headers, body, peer, local, tls=None):
        self.method = method
        self.tls = tls            # None over plain TCP, else {"version", "cipher", "resumed"}
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.peer = peer          # (host, port) of the client
        self.local = local        # (host, port) we accepted on
        parts = urlsplit(target)
        self.path = parts.path or "/"
        self.raw_query = parts.query
        # keep_blank_values: SigV4 canonical queries include empty values.
        self.query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        self.query = dict(self.query_pairs)
        self.received_at = time.time()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def is_loopback(self):
        host = self.peer[0] if self.peer else ""
        return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") \
            or host.startswith("::ffff:127.")

    def wants_upgrade(self):
        up = (self.headers.get("Upgrade") or "").lower()
        return self.method == "GET" and up == "websocket"


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type=None):
        self.status = status
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        self.headers = list(headers or [])
        if content_type:
            self.headers.append(("Content-Type", content_type))


def json_response(obj, status=200, headers=None, content_type="application/json"):
    return Response(status, json.dumps(obj, separators=(",", ":")).encode(),
                    headers, content_type)


def http_date(now=None):
    return email.utils.formatdate(now if now is not None else time.time(), usegmt=True)


class HttpServer:
    """Parses requests and calls ``handler(request) -> Response``.

    ``upgrade_handler(request, reader, writer)`` (optional) takes over the
    connection for WebSocket upgrades.  ``clock`` supplies "now" for the
    Date header (the clock-skew fault shifts it).
    """

    def __init__(self, handler, upgrade_handler=None, clock=time.time, name="http",
                 ssl_context=None):
        self.handler = handler
        self.upgrade_handler = upgrade_handler
        self.clock = clock
        self.name = name
        self.server = None
        self.ssl_context = ssl_context
        # Completed TLS handshakes, how many of them resumed an earlier session, and the
        # latest ones with the User-Agent and path of their connection's first request.
        self.tls_stats = {"handshakes": 0, "resumed": 0, "versions": {}}
        self.tls_log = collections.deque(maxlen=1000)

    async def start(self, host, port):
        self.server = await asyncio.start_server(
            self._serve, host, port, limit=MAX_HEADER_BYTES + 1024, ssl=self.ssl_context,
            ssl_handshake_timeout=10 if self.ssl_context else None)
        sock = self.server.sockets[0]
        return sock.getsockname()[:2]

    async def close(self):
        if self.server:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), 1.0)
            except (asyncio.TimeoutError, Exception):
                pass

    async def _serve(self, reader, writer):
        peer = writer.get_extra_info("peername") or ("", 0)
        local = writer.get_extra_info("sockname") or ("", 0)
        tls, tls_logged = None, False
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is not None:
            tls = {"version": sslobj.version(), "cipher": (sslobj.cipher() or [None])[0],
                   "resumed": bool(sslobj.session_reused)}
            st = self.tls_stats
            st["handshakes"] += 1
            st["resumed"] += tls["resumed"]
            st["versions"][tls["version"]] = st["versions"].get(tls["version"], 0) + 1
        try:
            while True:
                try:
                    req = await asyncio.wait_for(
                        self._read_request(reader, writer, peer, local, tls), IDLE_TIMEOUT)
                except asyncio.TimeoutError:
                    break
                except HttpError as e:
                    await self._write(writer, Response(
                        e.status, json.dumps({"message": e.text}).encode(),
                        content_type="application/json"), close=True)
                    break
                if req is None:
                    break
                if tls is not None and not tls_logged:
                    tls_logged = True
                    self.tls_log.append({"time": time.time(), "resumed": tls["resumed"],
                                         "version": tls["version"], "path": req.path,
                                         "userAgent": req.headers.get("User-Agent")})
                if req.wants_upgrade() and self.upgrade_handler:
                    # The upgrade handler owns the stream from here on.
                    await self.upgrade_handler(req, reader, writer)
                    return
                try:
                    resp = await self.handler(req)
                except Exception:  # never let a bug kill the connection loop
                    log.exception("%s: handler failed for %s %s", self.name,
                                  req.method, req.path)
                    resp = json_response({"__type": "ServerException",
                                          "message": "Internal error in ecs-local"}, 500)
                close = self._wants_close(req)
                await self._write(writer, resp, close=close, head=req.method == "HEAD")
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("%s: connection error", self.name)
        finally:
            try:
                writer.close()
            except Exception:
                pass

    @staticmethod
    def _wants_close(req):
        conn = (req.headers.get("Connection") or "").lower()
        if req.version == "HTTP/1.0":
            return "keep-alive" not in conn
        return "close" in conn

    async def _read_request(self, reader, writer, peer, local, tls=None):
        if self.ssl_context is None:
            # A TLS ClientHello (a handshake record, 0x16 0x03 ..) on this plain port: say
            # so at once, as an HTTP server does to a request line it cannot read, instead
            # of waiting for a request head that never comes.
            first = await reader.read(1)
            if not first:
                return None
            if first == b"\x16":
                log.info("%s: a TLS handshake from %s:%s on this plain-HTTP port", self.name,
                         *peer[:2])
                raise HttpError(400, "this port speaks plain HTTP, not TLS")
            head_start = first
        else:
            head_start = b""
        try:
            head = head_start + await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial.strip() or head_start.strip():
                raise HttpError(400, "incomplete request head")
            return None
        except asyncio.LimitOverrunError:
            raise HttpError(431, "request head too large")
        try:
            text = head.decode("latin-1")
        except Exception:
            raise HttpError(400, "bad request head")
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError(400, "bad request line")
        method, target, version = parts
        headers = Headers()
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HttpError(400, "bad header line")
            headers.add(name, value.strip())
        body = b""
        te = (headers.get("Transfer-Encoding") or "").lower()
        cl = headers.get("Content-Length")
        if (headers.get("Expect") or "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        if "chunked" in te:
            body = await self._read_chunked(reader)
        elif cl is not None:
            try:
                n = int(cl)
            except ValueError:
                raise HttpError(400, "bad Content-Length")
            if n < 0:
                raise HttpError(400, "bad Content-Length")
            if n > MAX_BODY_BYTES:
                raise HttpError(413, "body too large")
            body = await reader.readexactly(n)
        return Request(method, target, version, headers, body, peer, local, tls)

    async def _read_chunked(self, reader):
        chunks = []
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "bad chunk size")
            if size == 0:
                # trailers until blank line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise HttpError(413, "body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def _write(self, writer, resp, close=False, head=False):
        out = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}"]
        names = {k.lower() for k, _ in resp.headers}
        hdrs = list(resp.headers)
        if "date" not in names:
            hdrs.append(("Date", http_date(self.clock())))
        hdrs.append(("Content-Length", str(len(resp.body))))
        if close:
            hdrs.append(("Connection", "close"))
        for k, v in hdrs:
            out.append(f"{k}: {v}")
        data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        writer.write(data if head else data + resp.body)
        await writer.drain()


async def write_raw_response(writer, status, body=b"", headers=None, clock=time.time):
    """Answer on a stream outside the request loop (rejected upgrades)."""
    srv = HttpServer(None, clock=clock)
    await srv._write(writer, Response(status, body, headers), close=True)
