"""TCS - the telemetry websocket (ecs-protocol.md §3).

Every agent->TCS frame is individually SigV4-signed (§3.2, §11.9): HTTP
header lines, a blank line, then the JSON envelope.  The signature covers
``GET <the TCS URL>`` with the JSON as body; it is verified here with the same
machinery as API requests.  A frame without headers or with a bad signature
is answered with a BadRequestException and otherwise ignored (counted in
``rejectedFrames``).  Accepted publishes are acknowledged (AckPublishMetric,
AckPublishHealth, AckPublishInstanceStatus) unless the stop_acking fault is
active, and the latest of each kind is kept for the admin API.  A
HeartbeatMessage goes out every --heartbeat-interval.
"""

import asyncio
import collections
import json
import logging
import time

from .errors import AwsError
from .httpserver import Headers
from .websocket import ConnectionClosed
from .wssession import WsHub, WsSession, envelope

log = logging.getLogger("ecslocal.tcs")

ACKS = {
    "PublishMetricsRequest": "AckPublishMetric",
    "PublishHealthRequest": "AckPublishHealth",
    "PublishInstanceStatusRequest": "AckPublishInstanceStatus",
}


def split_signed_frame(data):
    """Return (Headers, payload bytes) of a per-message-signed frame, or
    (None, data) when the frame has no header block."""
    sep = data.find(b"\r\n\r\n")
    if sep < 0 or data.lstrip().startswith(b"{"):
        return None, data
    headers = Headers()
    for line in data[:sep].decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            return None, data
        headers.add(name.strip(), value.strip())
    return headers, data[sep + 4:]


class TcsSession(WsSession):
    def __init__(self, inst_arn, ws, req, caller):
        super().__init__(inst_arn, ws, req.query, caller, req.tls)
        self.path = req.path
        self.query_pairs = req.query_pairs
        self.rejected = 0

    def describe(self):
        return {"id": self.id, "containerInstanceArn": self.instance_arn, "query": self.query,
                "connectedAt": self.connected_at, "closedAt": self.closed_at,
                "open": self.open, "received": dict(self.received),
                "rejectedFrames": self.rejected, "tls": self.tls}


class TcsHub(WsHub):
    name = "tcs"
    denied_exception = "BadRequestException"

    def __init__(self, cp, verifier):
        super().__init__(cp, verifier, history=100)
        self.latest = collections.defaultdict(dict)   # instance -> type -> {"time","message"}
        self.counts = collections.defaultdict(collections.Counter)
        self.rejected_frames = 0
        self.rejections = collections.deque(maxlen=100)
        # Every PublishMetricsRequest as received, for tests of shape, interval and splitting.
        self.metrics = collections.deque(maxlen=500)

    def describe(self):
        return {
            **self.describe_sessions(),
            "latest": self.latest,
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "rejectedFrames": self.rejected_frames,
            "rejections": list(self.rejections),
            "metrics": list(self.metrics),
        }

    async def handle_upgrade(self, req, reader, writer):
        caller = await self._authenticate(req, writer)
        if caller is None:
            return
        arn = req.query.get("containerInstance")
        inst = self.cp.data["instances"].get(arn or "")
        if inst is None or inst["status"] == "INACTIVE" or \
                self.cp.cluster_name(req.query.get("cluster")) != inst["cluster"]:
            await self._reject(writer, 400, "ResourceValidationException",
                               f"Container instance {arn} is not an active instance of cluster "
                               f"{req.query.get('cluster')}")
            return
        session = TcsSession(arn, await self._accept(req, reader, writer), req, caller)
        old = self.sessions.get(arn)
        self.sessions[arn] = session
        if self.cp.acs:
            self.cp.acs.bind_key(caller.access_key, arn)
        if old:
            await old.ws.close(1000, "replaced by a newer connection", wait=False)
        log.info("tcs: %s connected (session %d)", arn, session.id)
        await self._run(session, self._heartbeats(session))

    async def _send(self, session, msg_type, message):
        text = envelope(msg_type, message)
        self._trace(session, "out", text, limit=None)
        await session.ws.send_text(text)

    async def _heartbeats(self, session):
        try:
            while True:
                await asyncio.sleep(self.cp.cfg.heartbeat_interval)
                await self._send(session, "HeartbeatMessage", {"healthy": True})
        except (asyncio.CancelledError, ConnectionClosed):
            pass

    def _reject_frame(self, session, why):
        session.rejected += 1
        self.rejected_frames += 1
        self.rejections.append({"time": time.time(), "containerInstanceArn": session.instance_arn,
                                "reason": why})
        log.warning("tcs: rejected frame from %s: %s", session.instance_arn, why.split("\n")[0])

    async def _on_message(self, session, opcode, data):
        self._trace(session, "in", data)
        headers, body = split_signed_frame(data)
        try:
            if headers is None:
                raise AwsError("MissingAuthenticationTokenException",
                               "Frame is not signed (§3.2: header block expected)")
            self.verifier.verify("GET", session.path, session.query_pairs, headers, body,
                                 "ecs", scope="tcs")
            env = json.loads(body.decode("utf-8"))
            msg_type = env["type"]
            msg = env.get("message")
            if not isinstance(msg, dict):
                raise ValueError("message must be an object")
        except AwsError as e:
            self._reject_frame(session, f"{e.code}: {e.message}")
            await self._safe_send(session, "BadRequestException",
                                  {"message": f"{e.code}: {e.message}"})
            return
        except Exception as e:
            self._reject_frame(session, f"malformed: {e}")
            await self._safe_send(session, "BadRequestException",
                                  {"message": f"Malformed message: {e}"})
            return
        session.received[msg_type] += 1
        self.counts[session.instance_arn][msg_type] += 1
        if msg_type not in ACKS:
            log.info("tcs: %s sent unexpected %s", session.instance_arn, msg_type)
            return
        self.latest[session.instance_arn][msg_type] = {"time": time.time(), "message": msg}
        if msg_type == "PublishMetricsRequest":
            self.metrics.append({"time": time.time(), "instance": session.instance_arn,
                                 "message": msg})
            if self.cp.cloudwatch:
                try:
                    self.cp.cloudwatch.record(session.instance_arn, msg)
                except (TypeError, ValueError, KeyError, AttributeError) as e:
                    log.warning("tcs: metrics from %s not usable: %s", session.instance_arn, e)
        self._apply(session.instance_arn, msg_type, msg)
        if not self.cp.faults.ignoring_acks("tcs"):
            await self._safe_send(session, ACKS[msg_type], {"message": ""})

    async def _safe_send(self, session, msg_type, message):
        try:
            await self._send(session, msg_type, message)
        except ConnectionClosed:
            pass

    def _apply(self, instance_arn, msg_type, msg):
        """Fold health reports into what DescribeTasks/DescribeContainerInstances show."""
        if msg_type == "PublishHealthRequest":
            for th in msg.get("tasks") or []:
                t = self.cp.data["tasks"].get(th.get("taskArn"))
                if not t or t["containerInstanceArn"] != instance_arn:
                    continue
                by_name = {c["name"]: c for c in t["containers"]}
                for ch in th.get("containers") or []:
                    c = by_name.get(ch.get("containerName"))
                    if c and ch.get("healthStatus") in ("HEALTHY", "UNHEALTHY", "UNKNOWN"):
                        c["healthStatus"] = ch["healthStatus"]
                ess = [c.get("healthStatus", "UNKNOWN") for c in t["containers"] if c["essential"]]
                t["healthStatus"] = ("UNHEALTHY" if "UNHEALTHY" in ess else
                                     "UNKNOWN" if "UNKNOWN" in ess else "HEALTHY")
                self.cp.changed()
        elif msg_type == "PublishInstanceStatusRequest":
            inst = self.cp.data["instances"].get(instance_arn)
            if inst:
                details = [{"type": s.get("type"), "status": s.get("status"),
                            "lastUpdated": s.get("lastUpdated"),
                            "lastStatusChange": s.get("lastStatusChange")}
                           for s in msg.get("statuses") or [] if isinstance(s, dict)]
                states = [d["status"] for d in details]
                overall = ("IMPAIRED" if "IMPAIRED" in states else
                           "OK" if states and all(s == "OK" for s in states) else
                           "INITIALIZING" if "INITIALIZING" in states else "INSUFFICIENT_DATA")
                inst["health"] = {"overallStatus": overall, "details": details}
                self.cp.changed()
        self.cp.store.flush()
