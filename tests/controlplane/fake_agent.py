"""A small scripted ECS agent for testing ecs-local.

It speaks the agent side of the protocols: RegisterContainerInstance,
DiscoverPollEndpoint and Submit*StateChange through a botocore ECS client,
the ACS websocket (SigV4-signed upgrade, acks, heartbeats, credentials,
manifest + stop verification) and the TCS websocket with per-message
signing.  Its reactions are switchable so tests can drive each step by hand
or let it behave like a well-mannered agent (``auto_run``).

The websocket side runs on an asyncio loop in a background thread; the
public methods are synchronous.
"""

import asyncio
import json
import threading
import time
import uuid
from urllib.parse import quote, urlencode, urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
import websockets
import websockets.legacy.client
import websockets.exceptions

DEFAULT_ATTRIBUTES = [
    {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.17"},
    {"name": "com.amazonaws.ecs.capability.logging-driver.json-file"},
    {"name": "com.amazonaws.ecs.capability.task-iam-role"},
    {"name": "ecs.capability.task-eni"},
    {"name": "ecs.capability.execution-role-ecr-pull"},
    {"name": "ecs.capability.container-health-check"},
    {"name": "ecs.capability.secrets.ssm.environment-variables"},
    {"name": "ecs.capability.task-cpu-mem-limit"},
    {"name": "ecs.os-type", "value": "linux"},
    {"name": "ecs.os-family", "value": "LINUX"},
]


_SESSION = None
_SESSION_LOCK = threading.Lock()


def shared_session():
    """One botocore session for every client: creating clients is then cheap."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = botocore.session.Session()
        return _SESSION


def _q(s, safe="", encoding=None, errors=None):
    return quote(s, safe="-_.~")


def signed_headers(url, region, creds, body=b"", host=None):
    """SigV4-sign GET <url> (http scheme) like the agent does (§2.3/§3.2)."""
    req = AWSRequest(method="GET", url=url, data=body)
    if host:
        req.headers["Host"] = host
    SigV4Auth(creds, "ecs", region).add_auth(req)
    return dict(req.headers.items())


class FakeAgent:
    def __init__(self, server, cluster="default", access_key=None, secret_key=None,
                 token=None, auto_ack=True, auto_run=False, auto_attach=True,
                 region="us-west-2"):
        self.server = server
        self.endpoint = server.url
        self.cluster = cluster
        self.region = region
        self.creds = Credentials(access_key or server.access_key,
                                 secret_key or server.secret_key, token)
        self.ecs = shared_session().create_client(
            "ecs", region_name=region, endpoint_url=self.endpoint,
            aws_access_key_id=self.creds.access_key, aws_secret_access_key=self.creds.secret_key,
            aws_session_token=token,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10))
        self.auto_ack = auto_ack
        self.auto_run = auto_run
        self.auto_attach = auto_attach
        self.ack_heartbeats = True
        self.ack_credentials = True
        self.arn = None
        self.tasks = {}            # arn -> latest task model (desired status only rises)
        self.reported = {}         # arn -> last status we reported
        self.credentials = {}      # credentialsId -> credentials dict
        self.manifest_seq = 0
        self.manifest_id = None
        self.received = []         # every envelope received on ACS
        self.sent = []             # every envelope we sent on ACS
        self.tcs_received = []
        self.errors = []
        self.cond = threading.Condition()
        self.ws = None
        self.tcs_ws = None
        self.tcs_url = None
        self.close_code = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.attachments = {}      # attachmentArn -> task arn

    # ------------------------------------------------------------ plumbing
    def _run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        async def shutdown():
            for ws in (self.ws, self.tcs_ws):
                if ws is not None:
                    try:
                        await asyncio.wait_for(ws.close(), 2)
                    except Exception:
                        pass
            me = asyncio.current_task()
            for t in asyncio.all_tasks():
                if t is not me:
                    t.cancel()
        try:
            self._run(shutdown(), timeout=5)
        except Exception:
            pass
        self.ws = self.tcs_ws = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(2)
        if not self.loop.is_running():
            self.loop.close()

    # ------------------------------------------------------------- ECS API
    def register(self, cpu=2048, memory=4096, ports=("22", "2375", "2376", "51678", "51679"),
                 ports_udp=(), attributes=None, identity=None, signature="", arn=None):
        req = {
            "cluster": self.cluster,
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": list(ports)},
                {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": list(ports_udp)},
            ],
            "attributes": attributes if attributes is not None else DEFAULT_ATTRIBUTES,
            "instanceIdentityDocument": identity or "",
            "instanceIdentityDocumentSignature": signature,
        }
        if arn or self.arn:
            req["containerInstanceArn"] = arn or self.arn
        resp = self.ecs.register_container_instance(**req)
        self.arn = resp["containerInstance"]["containerInstanceArn"]
        return resp["containerInstance"]

    def discover(self):
        resp = self.ecs.discover_poll_endpoint(cluster=self.cluster, containerInstance=self.arn)
        return resp["endpoint"], resp["telemetryEndpoint"]

    def submit(self, task_arn, status=None, containers=None, reason=None, **extra):
        """SubmitTaskStateChange; ``containers`` defaults to every container
        of the task moving to ``status``."""
        req = {"cluster": self.cluster, "task": task_arn}
        if status is not None:
            req["status"] = status
            req["reason"] = reason or ""
        if containers is None and status in ("RUNNING", "STOPPED") and task_arn in self.tasks:
            containers = []
            for c in self.tasks[task_arn]["containers"]:
                cc = {"containerName": c["name"], "status": status,
                      "runtimeId": uuid.uuid4().hex * 2, "networkBindings": []}
                if status == "RUNNING":
                    for pm in c.get("portMappings") or []:
                        cc["networkBindings"].append({
                            "bindIP": "0.0.0.0", "containerPort": pm["containerPort"],
                            "hostPort": pm["hostPort"] or 49153, "protocol": pm["protocol"]})
                if status == "STOPPED":
                    cc["exitCode"] = 0
                containers.append(cc)
        if containers is not None:
            req["containers"] = containers
        req.update(extra)
        resp = self.ecs.submit_task_state_change(**req)
        if status:
            self.reported[task_arn] = status
        return resp

    # ----------------------------------------------------------------- ACS
    def _ws_url(self, endpoint, query):
        base = endpoint.rstrip("/") + "/ws?" + urlencode(sorted(query.items()), quote_via=_q)
        return base

    def acs_url(self, send_credentials=True):
        endpoint, _ = self.discover()
        query = {"agentHash": "fa4e0000", "agentVersion": "1.105.1",
                 "clusterArn": self.cluster, "containerInstanceArn": self.arn,
                 "dockerVersion": "DockerVersion: 25.0.8", "protocolVersion": "2",
                 "sendCredentials": "true" if send_credentials else "false", "seqNum": "1"}
        return self._ws_url(endpoint, query)

    def connect(self, send_credentials=True, creds=None):
        url = self.acs_url(send_credentials)
        headers = signed_headers(url, self.region, creds or self.creds)
        self.close_code = None
        self._run(self._connect(url.replace("http://", "ws://", 1), headers))

    async def _connect(self, url, headers):
        self.ws = await websockets.legacy.client.connect(url, extra_headers=headers, open_timeout=5,
                                                  max_size=None, ping_interval=None)
        self.loop.create_task(self._reader(self.ws))

    def upgrade_raw(self, creds=None, url=None, send_credentials=True):
        """Plain HTTP upgrade attempt: returns (status, body) so tests can see
        how a refused upgrade is answered (the websockets client hides it)."""
        import http.client
        url = url or self.acs_url(send_credentials)
        headers = signed_headers(url, self.region, creds or self.creds)
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        headers.update({"Upgrade": "websocket", "Connection": "Upgrade",
                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                        "Sec-WebSocket-Version": "13"})
        conn.request("GET", parts.path + "?" + parts.query, headers=headers)
        resp = conn.getresponse()
        body = resp.read() if resp.status != 101 else b""
        conn.close()
        return resp.status, body

    def disconnect(self):
        if self.ws is not None:
            ws, self.ws = self.ws, None
            self._run(ws.close(), timeout=5)

    @property
    def connected(self):
        return self.ws is not None and self.ws.open

    async def _reader(self, ws):
        try:
            async for raw in ws:
                try:
                    env = json.loads(raw)
                except ValueError:
                    env = {"type": "__invalid__", "raw": raw}
                with self.cond:
                    self.received.append(env)
                    self.cond.notify_all()
                try:
                    await self._react(env)
                except Exception as e:   # keep the test's view of failures
                    self.errors.append(repr(e))
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            with self.cond:
                self.cond.notify_all()

    async def send(self, msg_type, message, ws=None):
        env = {"type": msg_type, "message": message}
        with self.cond:
            self.sent.append(env)
        await (ws or self.ws).send(json.dumps(env))

    def send_sync(self, msg_type, message):
        self._run(self.send(msg_type, message))

    async def _in_thread(self, fn, *args, **kwargs):
        return await self.loop.run_in_executor(None, lambda: fn(*args, **kwargs))

    async def _react(self, env):
        t, m = env.get("type"), env.get("message") or {}
        if t == "HeartbeatMessage" and self.ack_heartbeats:
            await self.send("HeartbeatAckRequest", {"messageId": m["messageId"]})
        elif t == "PayloadMessage":
            if not (m.get("messageId") and m.get("clusterArn") and m.get("containerInstanceArn")):
                return   # §2.6: dropped without an ack
            acks = []
            for task in m.get("tasks") or []:
                known = self.tasks.get(task["arn"])
                if known and known["desiredStatus"] == "STOPPED":
                    task = dict(task, desiredStatus="STOPPED")   # never backwards
                self.tasks[task["arn"]] = task
                for key in ("roleCredentials", "executionRoleCredentials"):
                    c = task.get(key)
                    if c:
                        self.credentials[c["credentialsId"]] = c
                        acks.append({"messageId": m["messageId"], "expiration": c["expiration"],
                                     "credentialsId": c["credentialsId"]})
            self.manifest_seq = max(self.manifest_seq, m.get("seqNum") or 0)
            if self.auto_ack:
                await self.send("AckRequest", {"cluster": m["clusterArn"],
                                               "containerInstance": m["containerInstanceArn"],
                                               "messageId": m["messageId"]})
                if self.ack_credentials:
                    for a in acks:
                        await self.send("IAMRoleCredentialsAckRequest", a)
            if self.auto_run:
                for task in m.get("tasks") or []:
                    await self._drive(task["arn"])
        elif t == "IAMRoleCredentialsMessage":
            if m.get("taskArn") in self.tasks and self.ack_credentials:
                c = m["roleCredentials"]
                self.credentials[c["credentialsId"]] = c
                await self.send("IAMRoleCredentialsAckRequest", {
                    "messageId": m["messageId"], "expiration": c["expiration"],
                    "credentialsId": c["credentialsId"]})
        elif t == "AttachTaskNetworkInterfacesMessage":
            if self.auto_ack:
                await self.send("AckRequest", {"cluster": m["clusterArn"],
                                               "containerInstance": m["containerInstanceArn"],
                                               "messageId": m["messageId"]})
            for eni in m["elasticNetworkInterfaces"]:
                self.attachments[eni["attachmentArn"]] = m["taskArn"]
                if self.auto_attach:
                    await self._in_thread(self.ecs.submit_task_state_change, cluster=self.cluster,
                                          task=m["taskArn"],
                                          attachments=[{"attachmentArn": eni["attachmentArn"],
                                                        "status": "ATTACHED"}])
        elif t == "TaskManifestMessage":
            if (m.get("timeline") or 0) <= self.manifest_seq:
                return   # §2.11: stale manifests are ignored without an ack
            self.manifest_seq = m["timeline"]
            self.manifest_id = m["messageId"]
            await self.send("AckRequest", {"cluster": m["clusterArn"],
                                           "containerInstance": m["containerInstanceArn"],
                                           "messageId": m["messageId"]})
            listed = {x["taskArn"] for x in m.get("tasks") or [] if x["desiredStatus"] == "RUNNING"}
            cands = [{"taskArn": a, "taskClusterArn": m["clusterArn"], "desiredStatus": "STOPPED"}
                     for a, tk in self.tasks.items()
                     if tk["desiredStatus"] == "RUNNING" and a not in listed]
            if cands:
                await self.send("TaskStopVerificationMessage",
                                {"messageId": m["messageId"], "stopCandidates": cands})
        elif t == "TaskStopVerificationAck":
            if m.get("messageId") and m["messageId"] == self.manifest_id:
                self.manifest_id = None
                for x in m.get("stopTasks") or []:
                    if x["taskArn"] in self.tasks:
                        self.tasks[x["taskArn"]]["desiredStatus"] = "STOPPED"
                        if self.auto_run:
                            await self._drive(x["taskArn"])

    async def _drive(self, arn):
        """auto_run: report the task the way a healthy agent would."""
        task = self.tasks[arn]
        want = "STOPPED" if task["desiredStatus"] == "STOPPED" else "RUNNING"
        if self.reported.get(arn) == want or self.reported.get(arn) == "STOPPED":
            return
        await self._in_thread(self.submit, arn, want)

    # --------------------------------------------------------- inspection
    def wait_for(self, msg_type, pred=None, timeout=5.0, start=0):
        """Wait for a received ACS envelope of this type (optionally matching
        pred(message)) at index >= start; return its message."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for env in self.received[start:]:
                    if env.get("type") == msg_type and (pred is None or pred(env.get("message") or {})):
                        return env.get("message")
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"no {msg_type} within {timeout}s; got "
                                         f"{[e.get('type') for e in self.received]}")
                self.cond.wait(left)

    def count(self, msg_type, pred=None):
        with self.cond:
            return sum(1 for e in self.received if e.get("type") == msg_type
                       and (pred is None or pred(e.get("message") or {})))

    def wait_closed(self, timeout=5.0):
        """Wait until the server ended the ACS connection; return the close code."""
        deadline = time.time() + timeout
        ws = self.ws
        with self.cond:
            while ws is not None and self.close_code is None:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("ACS connection still open")
                self.cond.wait(left)
        return self.close_code

    # ----------------------------------------------------------------- TCS
    def connect_tcs(self):
        _, telemetry = self.discover()
        query = {"agentHash": "fa4e0000", "agentVersion": "1.105.1", "cluster": self.cluster,
                 "containerInstance": self.arn, "dockerVersion": "25.0.8"}
        self.tcs_url = self._ws_url(telemetry, query)
        headers = signed_headers(self.tcs_url, self.region, self.creds)
        self._run(self._connect_tcs(self.tcs_url.replace("http://", "ws://", 1), headers))

    async def _connect_tcs(self, url, headers):
        self.tcs_ws = await websockets.legacy.client.connect(url, extra_headers=headers, open_timeout=5,
                                                      ping_interval=None)

        async def reader(ws):
            try:
                async for raw in ws:
                    with self.cond:
                        self.tcs_received.append(json.loads(raw))
                        self.cond.notify_all()
            except websockets.exceptions.ConnectionClosed:
                pass
        self.loop.create_task(reader(self.tcs_ws))

    def tcs_frame(self, msg_type, message, creds=None, sign=True):
        """Build a per-message-signed TCS frame (§3.2)."""
        payload = json.dumps({"type": msg_type, "message": message}).encode()
        if not sign:
            return payload
        parts = urlsplit(self.tcs_url)
        headers = signed_headers(self.tcs_url, self.region, creds or self.creds, body=payload,
                                 host=parts.netloc)
        lines = [f"{k}: {v}" for k, v in sorted(headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload

    def publish(self, msg_type, message, **kw):
        frame = self.tcs_frame(msg_type, message, **kw)
        self._run(self.tcs_ws.send(frame.decode()))

    def wait_tcs(self, msg_type, timeout=5.0, start=0):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for env in self.tcs_received[start:]:
                    if env.get("type") == msg_type:
                        return env.get("message")
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"no TCS {msg_type} within {timeout}s; got "
                                         f"{[e.get('type') for e in self.tcs_received]}")
                self.cond.wait(left)
