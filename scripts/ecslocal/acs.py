"""ACS - the Agent Communication Service websocket (ecs-protocol.md §2).

One session per container instance (a newer connection replaces an older
one).  Per session a ticker drives:

* HeartbeatMessage every --heartbeat-interval, expecting HeartbeatAckRequest
  (§2.8, §2.14: the agent drops the connection after 1-2 min of silence);
* task delivery: AttachTaskNetworkInterfacesMessage first for awsvpc tasks,
  PayloadMessage once the ENI is reported ATTACHED (§2.9, §11.20); a payload
  is re-sent (new messageId) every --resend-interval until an AckRequest for
  it arrives (§2.6.6: no ack means the agent rejected something);
* IAMRoleCredentialsMessage: on connect with sendCredentials=true, before
  expiry (same credentialsId, §2.7/§11.12), and until acknowledged;
* TaskManifestMessage every --manifest-interval, answering the agent's
  TaskStopVerificationMessage with TaskStopVerificationAck (§2.11).

Payload ``seqNum`` and manifest ``timeline`` share one per-instance counter so
a manifest is never older than the last payload (the agent silently ignores
manifests with a stale timeline, §11.22).
"""

import asyncio
import collections
import json
import logging
import time
import uuid

from . import payload as payloadlib
from . import tasks as tasklib
from .credentials import iso_expiration
from .websocket import ConnectionClosed
from .wssession import WsHub, WsSession, envelope

log = logging.getLogger("ecslocal.acs")

MAX_TASKS_PER_PAYLOAD = 10


def _ms(t=None):
    return int((t or time.time()) * 1000)


def _mid():
    return str(uuid.uuid4())


class AcsSession(WsSession):
    def __init__(self, hub, inst, ws, query, caller, tls=None):
        super().__init__(inst["containerInstanceArn"], ws, query, caller, tls)
        self.hub = hub
        self.cluster_arn = hub.cp.arns.cluster(inst["cluster"])
        self.send_credentials = query.get("sendCredentials") == "true"
        self.wake = asyncio.Event()
        self.pending = {}            # messageId -> what it carried
        self.sent = collections.Counter()
        self.heartbeats_unacked = 0
        self.last_heartbeat = time.time()
        self.last_manifest = time.time()
        self.last_manifest_id = None
        self.last_resend_check = 0.0
        self.bad_acks = 0
        self.unknown_acks = 0
        self.invalid_frames = 0

    def describe(self):
        return {
            "id": self.id,
            "containerInstanceArn": self.instance_arn,
            "clusterArn": self.cluster_arn,
            "accessKeyId": self.access_key,
            "query": self.query,
            "sendCredentials": self.send_credentials,
            "connectedAt": self.connected_at,
            "closedAt": self.closed_at,
            "closeCode": self.close_code,
            "open": self.open,
            "sent": dict(self.sent),
            "received": dict(self.received),
            "sentTotal": sum(self.sent.values()),
            "receivedTotal": sum(self.received.values()),
            "pendingMessageIds": list(self.pending),
            "heartbeatsUnacked": self.heartbeats_unacked,
            "badAcks": self.bad_acks,
            "unknownAcks": self.unknown_acks,
            "invalidFrames": self.invalid_frames,
            "lastManifestMessageId": self.last_manifest_id,
            "tls": self.tls,
        }


class AcsHub(WsHub):
    name = "acs"
    denied_exception = "AccessDeniedException"

    def __init__(self, cp, verifier):
        super().__init__(cp, verifier, history=1000)
        self.cfg = cp.cfg
        self.frames = collections.deque(maxlen=10000)
        self.frame_seq = 0
        self.key_bindings = collections.defaultdict(set)
        self.tick = max(0.05, min(0.5, min(self.cfg.heartbeat_interval,
                                           self.cfg.resend_interval,
                                           self.cfg.manifest_interval) / 5))

    # ----------------------------------------------------------- queries
    def is_connected(self, arn):
        s = self.sessions.get(arn)
        return bool(s and s.open)

    def bind_key(self, access_key, instance_arn):
        self.key_bindings[access_key].add(instance_arn)

    def key_instances(self, access_key):
        return self.key_bindings.get(access_key, set())

    def kick(self, instance_arn):
        s = self.sessions.get(instance_arn)
        if s:
            s.wake.set()

    def describe(self):
        return self.describe_sessions()

    def frames_since(self, since=0, instance=None, direction=None, msg_type=None):
        out = []
        for f in self.frames:
            if f["seq"] <= since:
                continue
            if instance and f["containerInstanceArn"] != instance:
                continue
            if direction and f["direction"] != direction:
                continue
            if msg_type and f["type"] != msg_type:
                continue
            out.append(f)
        return out

    def _record(self, session, direction, msg_type, text):
        self.frame_seq += 1
        try:
            body = json.loads(text)
        except Exception:
            body = None
        self.frames.append({"seq": self.frame_seq, "time": time.time(), "session": session.id,
                            "containerInstanceArn": session.instance_arn,
                            "direction": direction, "type": msg_type,
                            "message": body if body is not None else text})
        self._trace(session, direction, text)

    # ---------------------------------------------------------- upgrade
    async def handle_upgrade(self, req, reader, writer):
        caller = await self._authenticate(req, writer)
        if caller is None:
            return
        q = req.query
        arn = q.get("containerInstanceArn")
        if not arn:
            await self._reject(writer, 400, "BadRequestException",
                               "containerInstanceArn is required")
            return
        inst = self.cp.data["instances"].get(arn)
        if inst is None:
            await self._reject(writer, 400, "InvalidInstanceException",
                               f"Container instance {arn} does not exist")
            return
        if inst["status"] == "INACTIVE":
            await self._reject(writer, 400, "InactiveInstanceException",
                               "Container instance is inactive")
            return
        # §2.2: clusterArn carries the configured cluster string (often a name)
        if self.cp.cluster_name(q.get("clusterArn")) != inst["cluster"]:
            await self._reject(writer, 400, "InvalidClusterException",
                               f"Container instance {arn} is not in cluster {q.get('clusterArn')}")
            return
        ws = await self._accept(req, reader, writer)
        session = AcsSession(self, inst, ws, q, caller, req.tls)
        old = self.sessions.get(arn)
        self.sessions[arn] = session
        self.bind_key(caller.access_key, arn)
        if old and old.open:
            log.info("acs: new session for %s replaces session %d", arn, old.id)
            await self.close_session(old, 1000, "ConnectionClosed: replaced by a newer connection")
        dv = q.get("dockerVersion", "")
        inst["versionInfo"] = {k: v for k, v in (
            ("agentVersion", q.get("agentVersion")), ("agentHash", q.get("agentHash")),
            ("dockerVersion", dv[len("DockerVersion: "):] if dv.startswith("DockerVersion: ") else dv))
            if v}
        inst["everConnected"] = True
        inst["lastConnectedAt"] = time.time()
        self.cp.changed()
        self.cp.store.flush()
        log.info("acs: %s connected (session %d, sendCredentials=%s)", arn, session.id,
                 session.send_credentials)
        await self._run(session, self._ticker(session))

    def _on_closed(self, session):
        inst = self.cp.data["instances"].get(session.instance_arn)
        if inst:
            inst["lastDisconnectedAt"] = time.time()
            self.cp.changed()
            self.cp.store.flush()

    def _close_note(self, session):
        return f", code {session.ws.close_code}"

    # ---------------------------------------------------------- sending
    async def _write(self, session, text, msg_type, binary=False):
        try:
            if binary:
                await session.ws.send_binary(text.encode() if isinstance(text, str) else text)
            else:
                await session.ws.send_text(text)
        except ConnectionClosed:
            return False
        session.sent[msg_type] += 1
        self._record(session, "out", msg_type, text if isinstance(text, str) else repr(text))
        return True

    async def send(self, session, msg_type, message):
        """Send one envelope, subject to the delay/duplicate/reorder faults."""
        text = envelope(msg_type, message)
        fault = self.cp.faults.take_message_fault(msg_type, session.instance_arn)
        if fault is None:
            await self._write(session, text, msg_type)
        elif fault["kind"] == "duplicate":
            await self._write(session, text, msg_type)
            await self._write(session, text, msg_type)
        elif fault["kind"] == "delay":
            async def later():
                await asyncio.sleep(fault["seconds"])
                await self._write(session, text, msg_type)
            asyncio.create_task(later())
        elif fault["kind"] == "reorder":
            held = fault["held"]
            held.append((session, text, msg_type))
            if len(held) >= fault["count"]:
                await self._release(fault)
            elif len(held) == 1:
                async def timeout():
                    await asyncio.sleep(fault["seconds"])
                    await self._release(fault)
                asyncio.create_task(timeout())

    async def _release(self, fault):
        held, fault["held"] = fault["held"], []
        for session, text, msg_type in reversed(held):
            await self._write(session, text, msg_type)

    async def send_raw(self, instance_arn, text, binary=False):
        """Admin: put an arbitrary frame on the wire (no faults applied)."""
        targets = [s for a, s in self.sessions.items() if instance_arn in (None, a)]
        msg_type = "raw"
        try:
            msg_type = json.loads(text).get("type") or "raw"
        except Exception:
            pass
        for s in targets:
            await self._write(s, text, msg_type, binary=binary)
        return [s.instance_arn for s in targets]

    async def close_session(self, session, code=1000, text="ConnectionClosed",
                            close_message=True):
        """End a session the way ecs-local always does: CloseMessage (§2.13),
        then a websocket close frame."""
        if close_message:
            await self._write(session, json.dumps({"type": "CloseMessage",
                                                   "message": {"message": text}}), "CloseMessage")
        await session.ws.close(code, text[:120])

    async def close_sessions(self, instance_arn=None, abort=False, code=1000,
                             close_message=True, text="ConnectionClosed: closed by ecs-local"):
        targets = [s for a, s in list(self.sessions.items()) if instance_arn in (None, a)]
        for s in targets:
            if abort:
                s.ws.abort()
            else:
                await self.close_session(s, code, text, close_message)
        return [s.instance_arn for s in targets]

    # ------------------------------------------------------------ ticker
    async def _ticker(self, session):
        try:
            await self._deliver(session, force=True)
            if session.send_credentials:
                await self._push_all_credentials(session)
            while session.open and not session.ws.closed:
                try:
                    await asyncio.wait_for(session.wake.wait(), self.tick)
                except asyncio.TimeoutError:
                    pass
                session.wake.clear()
                now = time.time()
                if now - session.last_heartbeat >= self.cfg.heartbeat_interval:
                    await self._heartbeat(session)
                if now - session.last_manifest >= self.cfg.manifest_interval:
                    await self.send_manifest(session.instance_arn)
                await self._deliver(session)
                await self._refresh_credentials(session)
                self._prune_pending(session, now)
                self.cp.store.flush()
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("acs ticker failed for %s", session.instance_arn)
            session.ws.abort()

    @staticmethod
    def _prune_pending(session, now, max_age=600.0):
        """Forget messages nobody acknowledged for 10 minutes (re-sends of a
        payload get new IDs; an ack of any of them still counts until then)."""
        for mid in [m for m, p in session.pending.items() if now - p["sentAt"] > max_age]:
            del session.pending[mid]

    def _next_seq(self, session):
        inst = self.cp.data["instances"][session.instance_arn]
        inst["seq"] = inst.get("seq", 0) + 1
        self.cp.changed()
        return inst["seq"]

    async def _heartbeat(self, session):
        session.last_heartbeat = time.time()
        limit = self.cfg.heartbeat_miss_limit
        if limit and session.heartbeats_unacked >= limit:
            log.warning("acs: %s missed %d heartbeat acks, closing", session.instance_arn,
                        session.heartbeats_unacked)
            await self.close_session(session, 1000, "HeartbeatTimeout: missing heartbeat acks")
            return
        mid = _mid()
        session.pending[mid] = {"kind": "heartbeat", "sentAt": time.time()}
        session.heartbeats_unacked += 1
        await self.send(session, "HeartbeatMessage", {"healthy": True, "messageId": mid})

    async def send_heartbeat(self, instance_arn=None):
        for a, s in list(self.sessions.items()):
            if instance_arn in (None, a):
                await self._heartbeat(s)

    async def _deliver(self, session, force=False):
        now = time.time()
        resend = self.cfg.resend_interval
        payload_tasks = []
        tasks = sorted(self.cp.tasks_on(session.instance_arn), key=lambda t: t["createdAt"])
        for t in tasks:
            acs = t["acs"]
            if t["desiredStatus"] == "RUNNING" and not acs["eniAttached"]:
                # §2.9/§11.20: the ENI must be attached before the payload
                if not acs["attachAcked"] and (force or now - acs["attachSentAt"] >= resend):
                    await self._send_attach(session, t)
                continue
            if acs["ackedDesired"] == t["desiredStatus"] or \
                    (acs["ackedDesired"] == "STOPPED"):
                continue
            if force or acs["sentDesired"] != t["desiredStatus"] or now - acs["lastSentAt"] >= resend:
                payload_tasks.append(t)
        for i in range(0, len(payload_tasks), MAX_TASKS_PER_PAYLOAD):
            await self._send_payload(session, payload_tasks[i:i + MAX_TASKS_PER_PAYLOAD])

    async def _send_payload(self, session, tasks):
        mid = _mid()
        now = time.time()
        models = []
        for t in tasks:
            try:
                models.append(payloadlib.task_model(self.cp, t))
            except Exception:
                log.exception("cannot build the ACS model of %s", t["taskArn"])
                continue
            t["acs"]["sentDesired"] = t["desiredStatus"]
            t["acs"]["lastSentAt"] = now
            for role in t["roles"].values():
                role["lastSentAt"] = now
        if not models:
            return
        session.pending[mid] = {"kind": "payload", "sentAt": now,
                                "tasks": [(t["taskArn"], t["desiredStatus"]) for t in tasks]}
        self.cp.changed()
        await self.send(session, "PayloadMessage", {
            "messageId": mid,
            "clusterArn": session.cluster_arn,
            "containerInstanceArn": session.instance_arn,
            "generatedAt": _ms(now),
            "seqNum": self._next_seq(session),
            "tasks": models,
        })

    async def _send_attach(self, session, t):
        mid = _mid()
        now = time.time()
        t["acs"]["attachSentAt"] = now
        t["acs"]["attachMessageId"] = mid
        if t["attachments"] and t["attachments"][0]["status"] == "PRECREATED":
            t["attachments"][0]["status"] = "ATTACHING"
        self.cp.changed()
        session.pending[mid] = {"kind": "attach", "sentAt": now, "task": t["taskArn"]}
        remaining = max(1000, int((t["acs"]["attachDeadline"] - now) * 1000))
        await self.send(session, "AttachTaskNetworkInterfacesMessage", {
            "messageId": mid,
            "clusterArn": session.cluster_arn,
            "containerInstanceArn": session.instance_arn,
            "taskArn": t["taskArn"],
            "taskClusterArn": t["clusterArn"],
            "generatedAt": _ms(now),
            "waitTimeoutMs": remaining,
            "elasticNetworkInterfaces": [payloadlib.eni_model(self.cp, t["eni"])],
        })

    # ------------------------------------------------------- credentials
    def _known_tasks(self, session):
        """Tasks the agent has acknowledged and that are not stopped."""
        return [t for t in self.cp.tasks_on(session.instance_arn)
                if t["acs"]["ackedDesired"] is not None]

    async def _send_credentials(self, session, t, role_type):
        role = t["roles"][role_type]
        mid = _mid()
        role["lastSentAt"] = time.time()
        session.pending[mid] = {"kind": "credentials", "sentAt": time.time(),
                                "task": t["taskArn"], "roleType": role_type,
                                "accessKeyId": role["accessKeyId"]}
        self.cp.changed()
        await self.send(session, "IAMRoleCredentialsMessage", {
            "messageId": mid,
            "clusterArn": session.cluster_arn,
            "taskArn": t["taskArn"],
            "taskClusterArn": t["clusterArn"],
            "roleType": role_type,
            "roleCredentials": payloadlib.credentials_model(self.cp, role),
        })

    async def _push_all_credentials(self, session):
        for t in self._known_tasks(session):
            for role_type in list(t["roles"]):
                await self._send_credentials(session, t, role_type)

    async def _refresh_credentials(self, session, force_task=None):
        now = time.time()
        ttl = self.cfg.credentials_ttl
        margin = min(3600.0, ttl / 2)
        for t in self._known_tasks(session):
            if force_task not in (None, t["taskArn"]):
                continue
            for role_type, role in list(t["roles"].items()):
                if force_task is not None or role["expiration"] - now <= margin:
                    role = tasklib.issue_role_credentials(self.cp, t, role_type, role["roleArn"],
                                                          role["credentialsId"])
                    await self._send_credentials(session, t, role_type)
                elif role["ackedAccessKeyId"] != role["accessKeyId"] and \
                        now - role.get("lastSentAt", 0) >= self.cfg.resend_interval:
                    await self._send_credentials(session, t, role_type)

    async def refresh_credentials(self, task_arn=None):
        """Admin: issue new credentials now and push them; returns how many."""
        n = 0
        for s in list(self.sessions.values()):
            for t in self._known_tasks(s):
                if task_arn in (None, t["taskArn"]) and t["roles"]:
                    await self._refresh_credentials(s, force_task=t["taskArn"])
                    n += len(t["roles"])
        return n

    # ---------------------------------------------------------- manifest
    async def send_manifest(self, instance_arn=None):
        sent = []
        for a, s in list(self.sessions.items()):
            if instance_arn not in (None, a):
                continue
            s.last_manifest = time.time()
            mid = _mid()
            s.last_manifest_id = mid
            s.pending[mid] = {"kind": "manifest", "sentAt": time.time()}
            tasks = [{"taskArn": t["taskArn"], "taskClusterArn": t["clusterArn"],
                      "desiredStatus": t["desiredStatus"]}
                     for t in self.cp.tasks_on(a)]
            await self.send(s, "TaskManifestMessage", {
                "messageId": mid,
                "clusterArn": s.cluster_arn,
                "containerInstanceArn": a,
                "generatedAt": _ms(),
                "timeline": self._next_seq(s),
                "tasks": tasks,
            })
            sent.append(mid)
        return sent

    # ---------------------------------------------------------- receiving
    async def _on_message(self, session, opcode, data):
        text = data.decode("utf-8", "replace")
        try:
            env = json.loads(text)
            msg_type = env["type"]
            msg = env.get("message") or {}
            if not isinstance(msg_type, str) or not isinstance(msg, dict):
                raise ValueError("bad envelope")
        except Exception:
            session.invalid_frames += 1
            session.received["invalid"] += 1
            self._record(session, "in", "invalid", text)
            log.warning("acs: invalid frame from %s: %r", session.instance_arn, text[:200])
            return
        session.received[msg_type] += 1
        self._record(session, "in", msg_type, text)
        try:
            await self._handle(session, msg_type, msg)
        except Exception:
            log.exception("acs: handling %s from %s failed", msg_type, session.instance_arn)
        self.cp.store.flush()

    async def _handle(self, session, msg_type, msg):
        ignoring = self.cp.faults.ignoring_acks("acs")
        if msg_type == "HeartbeatAckRequest":
            p = session.pending.get(msg.get("messageId"))
            if p and p["kind"] == "heartbeat" and not ignoring:
                del session.pending[msg["messageId"]]
                session.heartbeats_unacked = 0
        elif msg_type == "AckRequest":
            self._on_ack(session, msg, ignoring)
        elif msg_type == "IAMRoleCredentialsAckRequest":
            if not ignoring:
                self._on_credentials_ack(session, msg)
        elif msg_type == "TaskStopVerificationMessage":
            await self._on_stop_verification(session, msg)
        elif msg_type == "NackRequest":
            log.warning("acs: %s nacked %s: %s", session.instance_arn, msg.get("messageId"),
                        msg.get("reason"))
        else:
            log.info("acs: %s sent unexpected %s", session.instance_arn, msg_type)

    def _on_ack(self, session, msg, ignoring):
        mid = msg.get("messageId")
        p = session.pending.get(mid)
        if p is None:
            session.unknown_acks += 1
            return
        # §2.5: the agent copies clusterArn/containerInstanceArn into its ack
        if msg.get("containerInstance") != session.instance_arn or \
                msg.get("cluster") != session.cluster_arn:
            session.bad_acks += 1
            log.warning("acs: ack for %s from %s names cluster=%r containerInstance=%r",
                        mid, session.instance_arn, msg.get("cluster"), msg.get("containerInstance"))
            return
        if ignoring:
            return
        del session.pending[mid]
        if p["kind"] == "payload":
            for arn, desired in p["tasks"]:
                t = self.cp.data["tasks"].get(arn)
                if t is None:
                    continue
                acked = t["acs"]["ackedDesired"]
                if acked != "STOPPED":
                    t["acs"]["ackedDesired"] = desired
                    self.cp.changed()
        elif p["kind"] == "attach":
            t = self.cp.data["tasks"].get(p["task"])
            if t is not None:
                t["acs"]["attachAcked"] = True
                self.cp.changed()

    def _on_credentials_ack(self, session, msg):
        cid = msg.get("credentialsId")
        for t in self.cp.tasks_on(session.instance_arn, include_stopped=True):
            for role in t["roles"].values():
                if role["credentialsId"] == cid and \
                        msg.get("expiration") == iso_expiration(role["expiration"]):
                    role["ackedAccessKeyId"] = role["accessKeyId"]
                    self.cp.changed()
        p = session.pending.get(msg.get("messageId"))
        if p and p["kind"] == "credentials":
            del session.pending[msg["messageId"]]

    async def _on_stop_verification(self, session, msg):
        """§2.11: confirm which stop candidates really should stop."""
        stop = []
        for cand in msg.get("stopCandidates") or []:
            if not isinstance(cand, dict):
                continue
            t = self.cp.data["tasks"].get(cand.get("taskArn"))
            if t is None or t["desiredStatus"] == "STOPPED" or t["lastStatus"] == "STOPPED" \
                    or t["containerInstanceArn"] != session.instance_arn:
                stop.append({"taskArn": cand.get("taskArn"),
                             "taskClusterArn": cand.get("taskClusterArn") or session.cluster_arn,
                             "desiredStatus": "STOPPED"})
        await self.send(session, "TaskStopVerificationAck", {
            "generatedAt": _ms(),
            "messageId": msg.get("messageId"),
            "stopTasks": stop,
        })
