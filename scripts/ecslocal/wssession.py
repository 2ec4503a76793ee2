"""What the ACS and TCS websockets have in common.

Both accept an upgrade the same way (RFC 6455 handshake check, SigV4 check of
the upgrade request, a compact JSON exception body when refused), keep one
session per container instance, run a per-session background task next to a
read loop, exchange ``{"type", "message"}`` envelopes and tear a session down
the same way when the read loop ends.  ``WsHub`` holds that; the subclasses
in acs.py and tcs.py keep only what their protocol says about the messages.
"""

import asyncio
import collections
import json
import logging
import time

from .errors import AwsError
from .httpserver import write_raw_response
from .websocket import ConnectionClosed, WebSocket, handshake_problem, handshake_response


def envelope(msg_type, message):
    """The compact JSON text of one protocol message."""
    return json.dumps({"type": msg_type, "message": message}, separators=(",", ":"))


class WsSession:
    """One websocket connection of one container instance."""

    _ids = 0

    def __init__(self, instance_arn, ws, query, caller, tls=None):
        cls = type(self)
        cls._ids = cls.__dict__.get("_ids", 0) + 1    # a counter per protocol
        self.id = cls._ids
        self.instance_arn = instance_arn
        self.ws = ws
        self.query = dict(query)
        self.access_key = caller.access_key
        self.connected_at = time.time()
        self.closed_at = None
        self.close_code = None
        self.received = collections.Counter()
        self.tls = tls        # the handshake's {"version", "cipher", "resumed"}, None if plain

    @property
    def open(self):
        return self.closed_at is None


class WsHub:
    """The sessions of one websocket service.

    Subclasses set ``name`` (the SigV4 scope and the logger suffix) and
    ``denied_exception`` (the exception type of a refused signature), and
    implement ``_on_message``; ``_on_closed`` and ``_close_note`` are hooks
    for the teardown."""

    name = None
    denied_exception = "AccessDeniedException"

    def __init__(self, cp, verifier, history):
        self.cp = cp
        self.verifier = verifier
        self.sessions = {}                              # instance arn -> open session
        self.history = collections.deque(maxlen=history)  # closed sessions

    @property
    def log(self):
        return logging.getLogger("ecslocal." + self.name)

    # ---------------------------------------------------------- upgrade
    async def _reject(self, writer, status, exc_type, text):
        """Refuse the upgrade with the compact exception body of §2.4/§2.15."""
        body = json.dumps({exc_type: text}).encode()
        self.log.info("%s upgrade refused: %s %s: %s", self.name, status, exc_type,
                      text.split("\n")[0])
        await write_raw_response(writer, status, body,
                                 [("Content-Type", "application/json")], clock=self.cp.faults.now)
        writer.close()

    async def _authenticate(self, req, writer):
        """Check the opening handshake and the signature of the upgrade
        request; return the caller, or None once the upgrade is refused."""
        problem = handshake_problem(req)
        if problem:
            await self._reject(writer, problem[0], "BadRequestException", problem[1])
            return None
        try:
            return self.verifier.verify("GET", req.path, req.query_pairs, req.headers, b"",
                                        "ecs", scope=self.name)
        except AwsError as e:
            await self._reject(writer, 403, self.denied_exception, f"{e.code}: {e.message}")
            return None

    @staticmethod
    async def _accept(req, reader, writer):
        """Answer the upgrade with 101; return the websocket."""
        writer.write(handshake_response(req))
        await writer.drain()
        return WebSocket(reader, writer)

    # ---------------------------------------------------------- session
    async def _run(self, session, background):
        """Run the read loop of a session with ``background`` (a coroutine)
        beside it; when the loop ends, retire the session."""
        task = asyncio.create_task(background)
        try:
            await self._reader(session)
        finally:
            task.cancel()
            session.closed_at = time.time()
            session.close_code = session.ws.close_code
            if self.sessions.get(session.instance_arn) is session:
                del self.sessions[session.instance_arn]
            self.history.append(session)
            self._on_closed(session)
            if not session.ws.closed:
                session.ws.abort()
            self.log.info("%s: %s disconnected (session %d%s)", self.name, session.instance_arn,
                          session.id, self._close_note(session))

    async def _reader(self, session):
        while True:
            try:
                opcode, data = await session.ws.recv()
            except ConnectionClosed:
                return
            await self._on_message(session, opcode, data)

    async def _on_message(self, session, opcode, data):
        raise NotImplementedError

    def _on_closed(self, session):
        """Hook: the session has just been retired."""

    def _close_note(self, session):
        """Hook: what the disconnect log line adds after the session id."""
        return ""

    def _trace(self, session, direction, text, limit=2000):
        """Log a frame (text, or raw bytes) when running verbose; ``limit``
        cuts it short, None logs all of it."""
        if not self.cp.cfg.verbose:
            return
        if limit is not None:
            text = text[:limit]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.log.debug("%s %s %s %s", self.name, "->" if direction == "out" else "<-",
                       session.instance_arn.rsplit("/", 1)[-1], text)

    def describe_sessions(self):
        return {"sessions": [s.describe() for s in self.sessions.values()],
                "closed": [s.describe() for s in self.history]}
