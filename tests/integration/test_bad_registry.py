"""Pulls from registries that misbehave: garbage answers, a 10 GiB layer, a blob that stalls.
Each fake registry is a small HTTP server in threads of this process on a free loopback port
(Docker treats 127.0.0.0/8 as insecure, so plain HTTP works), speaking just enough of the
Registry HTTP API v2. For each: the task that pulls from it stops with a CannotPullContainerError
reason a person can act on, a task of the local busybox image in the same run starts and keeps
running, nothing is left of the bad one, a download Docker started really ends (the registry
sees Docker hang up) and the agent is alive."""
import hashlib
import json
import os
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import harness
from test_agent_core import registered

# One image config and one layer, both described by the manifest; the layer's descriptor
# (and its blob's Content-Length) may claim 10 GiB.
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
LAYER_DIGEST = "sha256:" + hashlib.sha256(b"ecs-it bad layer").hexdigest()
HUGE = 10 * 1024 * 1024 * 1024
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
# Not JSON from the first byte on, whatever Docker's parser makes of the rest.
GARBAGE = b"\x89\x00\xffnot a manifest\x1b[0m" + bytes(range(256)) * 2
# The busybox task runs next to the bad one; "once" fails the task on a failed pull as
# "always" does (§4.9) but takes the cached local image without asking docker.io for it,
# which "always" would (and no traffic may leave loopback).
PULL_BEHAVIOR = "once"


def manifest(layer_size):
    return json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(CONFIG), "digest": CONFIG_DIGEST},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": layer_size, "digest": LAYER_DIGEST}]}).encode()


def peer_closed(sock, timeout):
    """True when the peer closed (or reset) the connection within timeout seconds."""
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet; what counts is recorded on the server
        pass

    def reply(self, code, body, ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        reg = self.server.registry
        reg.requests.append((self.command, self.path))
        if self.path == "/v2/":
            if reg.mode == "broken-http":
                # Not HTTP at all: no status line, binary noise, then the connection ends.
                self.wfile.write(b"\x00\x01\x02 garbage \xff\xfe\r\n\r\n")
                self.close_connection = True
                return
            return self.reply(200, b"{}")
        if "/manifests/" in self.path:
            if reg.mode == "garbage":
                return self.reply(200, GARBAGE, ctype=MANIFEST_V2)
            body = manifest(HUGE)
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            return self.reply(200, body, ctype=MANIFEST_V2,
                              headers=[("Docker-Content-Digest", digest)])
        if self.path.endswith("/blobs/" + CONFIG_DIGEST):
            return self.reply(200, CONFIG, ctype="application/octet-stream")
        if self.path.endswith("/blobs/" + LAYER_DIGEST) and self.command == "GET":
            return self.layer()
        self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}')

    def layer(self):
        """The 10 GiB layer: "huge" sends it at 256 KiB/s, which would take 11 hours;
        "stall" sends headers and a few bytes, then nothing until resumed, then as "huge".
        Either way until Docker hangs up (recorded) or the registry stops."""
        reg = self.server.registry
        conn = {"sent": 0, "closed_by_peer": None, "sock": self.connection}
        reg.blob_conns.append(conn)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(HUGE))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        self.close_connection = True
        chunk = b"\x1f\x8b\x08\x00" + os.urandom(64 * 1024 - 4)
        try:
            if reg.mode == "stall":
                self.wfile.write(chunk[:64])
                self.wfile.flush()
                conn["sent"] = 64
                while not reg.resume.is_set():
                    if reg.closing.is_set():
                        return
                    if peer_closed(self.connection, 0.25):
                        conn["closed_by_peer"] = time.monotonic()
                        return
            while not reg.closing.is_set():
                self.wfile.write(chunk)
                self.wfile.flush()
                conn["sent"] += len(chunk)
                if peer_closed(self.connection, 0.25):
                    conn["closed_by_peer"] = time.monotonic()
                    return
        except OSError:
            conn["closed_by_peer"] = time.monotonic()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # Docker's TLS probe before it falls back to plain HTTP is not HTTP


class FakeRegistry:
    """Modes: "garbage" (200 with a non-JSON manifest), "broken-http" (no HTTP at all on
    /v2/), "huge" (a 10 GiB layer served slowly), "stall" (the layer blob stops after its
    headers and 64 bytes)."""

    def __init__(self, mode):
        self.mode = mode
        self.requests = []
        self.blob_conns = []
        self.closing = threading.Event()
        self.resume = threading.Event()  # "stall": the layer comes again
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.registry = self
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.image = f"{self.host}/ecs-it/bad:latest"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        # A writer blocked on a full socket, and Docker's side of a stalled download, end
        # with the connection.
        for c in self.blob_conns:
            try:
                c["sock"].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(10)


@pytest.fixture
def bad_registry(request):
    reg = FakeRegistry(request.param).start()
    yield reg
    reg.stop()
    harness.docker("rmi", "-f", reg.image, check=False)


def sleeper(image):
    return [{"name": "main", "image": image, "essential": True, "memory": 16,
             "command": ["sleep", "300"]}]


def task_container(cluster, arn):
    for cid in harness.containers_of(cluster):
        info = harness.docker_inspect(cid)
        if info and info["Config"]["Labels"].get("com.amazonaws.ecs.task-arn") == arn:
            return info
    return None


def bad_and_good(cp, cluster, make_agent, reg, settings=None, stop_timeout=30):
    """Runs a task of the bad registry's image and one of the local busybox image on one
    agent; returns (the bad task's container reason, seconds from RunTask until it was seen
    STOPPED, the agent) once the good one was checked to run on."""
    harness.docker("rmi", "-f", reg.image, check=False)
    cp.register("bad", sleeper(reg.image))
    cp.register("local", sleeper(harness.BUSYBOX))
    agent = make_agent(dict({"ECS_IMAGE_PULL_BEHAVIOR": PULL_BEHAVIOR}, **(settings or {})))
    registered(cp, cluster, agent)
    started = time.monotonic()
    bad = cp.run_task(cluster, "bad")[0]
    good = cp.run_task(cluster, "local")[0]
    cp.wait_task(cluster, good, "RUNNING")
    before = task_container(cluster, good)
    assert before and before["State"]["Running"]

    t = cp.wait_task(cluster, bad, "STOPPED", timeout=stop_timeout)
    elapsed = time.monotonic() - started
    reason = t["containers"][0].get("reason", "")
    assert reason.startswith("CannotPullContainerError: "), reason
    # Docker really asked this registry.
    paths = [p for _, p in reg.requests]
    assert "/v2/" in paths and (reg.mode == "broken-http" or
                                any("/manifests/" in p for p in paths)), paths
    # Nothing was made for the bad task, nothing was left of its image.
    assert task_container(cluster, bad) is None
    assert harness.docker_inspect(reg.image) is None

    # The good task runs on, the same container, untouched.
    time.sleep(2)
    assert cp.describe_task(cluster, good)["lastStatus"] == "RUNNING"
    after = task_container(cluster, good)
    assert after and after["State"]["Running"]
    assert after["Id"] == before["Id"] and after["State"]["StartedAt"] == \
        before["State"]["StartedAt"]
    assert agent.alive()
    return reason, elapsed, agent


def stops_clean(agent):
    """SIGTERM: exit code 0, so also no leak for LeakSanitizer (86) in the ASan build."""
    code = agent.stop()
    assert code == 0, f"exit code {code}:\n{agent.read_log()[-3000:]}"


@pytest.mark.parametrize("bad_registry,expect", [
    ("garbage", "looking for beginning of value"),
    ("broken-http", "malformed HTTP"),
], indirect=["bad_registry"])
def test_garbage_registry_fails_only_its_task(cp, cluster, make_agent, bad_registry, expect):
    reason, _, agent = bad_and_good(cp, cluster, make_agent, bad_registry)
    # Docker's own words, so a person can tell what the registry did.
    assert expect in reason, reason
    if bad_registry.mode == "broken-http":
        assert bad_registry.host in reason, reason
    stops_clean(agent)


@pytest.mark.parametrize("bad_registry", ["huge"], indirect=True)
def test_huge_layer_stopped_by_pull_timeout(cp, cluster, make_agent, bad_registry):
    # The layer claims 10 GiB and keeps coming (slowly, so never inactive): only
    # ECS_IMAGE_PULL_TIMEOUT ends it.
    reason, elapsed, agent = bad_and_good(cp, cluster, make_agent, bad_registry,
                                          {"ECS_IMAGE_PULL_TIMEOUT": "15s"}, stop_timeout=40)
    assert reason.startswith("CannotPullContainerError: image pull did not finish within 15s "
                             "(ECS_IMAGE_PULL_TIMEOUT); last progress: "), reason
    # Where Docker was: the layer, and how much of its claimed size had come.
    assert "Downloading" in reason and "10.74GB" in reason, reason
    assert elapsed >= 15
    # Docker hung up on the registry: the download is cancelled, not going on unseen.
    conns = bad_registry.blob_conns
    assert conns, bad_registry.requests
    harness.wait_for(lambda: all(c["closed_by_peer"] for c in conns), timeout=10,
                     what="Docker to close the layer download")
    # What reached the host is a few MiB, not 10 GiB.
    assert sum(c["sent"] for c in conns) < 64 * 1024 * 1024
    stops_clean(agent)


@pytest.mark.parametrize("bad_registry", ["stall"], indirect=True)
def test_stalled_pull_stopped_by_inactivity_timeout(cp, cluster, make_agent, bad_registry):
    # The minimum inactivity timeout is 1m; the whole-pull timeout stays far away.
    reason, elapsed, agent = bad_and_good(cp, cluster, make_agent, bad_registry,
                                          {"ECS_IMAGE_PULL_INACTIVITY_TIMEOUT": "1m",
                                           "ECS_IMAGE_PULL_TIMEOUT": "10m"}, stop_timeout=90)
    assert reason.startswith("CannotPullContainerError: image pull stalled: no progress for 1m "
                             "(ECS_IMAGE_PULL_INACTIVITY_TIMEOUT); "), reason
    assert elapsed >= 60, elapsed
    # Docker 20.10 does not hang up on a stalled registry when its own client does (the
    # blob read has no deadline); it notices once bytes come again. Then it must hang up,
    # as the pull is over: a pull still going on would go on reading.
    conns = bad_registry.blob_conns
    assert conns, bad_registry.requests
    bad_registry.resume.set()
    harness.wait_for(lambda: all(c["closed_by_peer"] for c in conns), timeout=10,
                     what="Docker to close the resumed download")
    assert sum(c["sent"] for c in conns) < 64 * 1024 * 1024
    stops_clean(agent)
