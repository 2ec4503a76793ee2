"""The agent behind a real HTTP proxy (Debian's tinyproxy on loopback, with Basic
authentication; its access log is the truth): every ECS API request and both WebSocket
sessions go through it, CONNECT tunnels carry TLS and ws://, NO_PROXY sends traffic
direct, Docker and IMDS never touch it, and a proxy that refuses is a clear, retried error.
The proxy password never reaches the agent's log."""
import os
import re
import shutil
import socket
import subprocess

import pytest

import harness
from test_agent_core import registered
from test_tls import agent_api_calls, agent_handshakes, tcs_sessions
from tlsutil import CertAuthority

USER, PASSWORD = "agent", "pr0xy-s3cret"
TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"


class Proxy:
    def __init__(self, tmpdir, connect_ports=None):
        self.port = harness.free_port()
        self.dir = os.path.join(tmpdir, f"proxy-{self.port}")
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "access.log")
        conf = [f"Port {self.port}", "Listen 127.0.0.1", "Timeout 600",
                f'LogFile "{self.log_path}"', "LogLevel Connect", "MaxClients 100",
                f"BasicAuth {USER} {PASSWORD}", "DisableViaHeader Yes"]
        # No ConnectPort line: CONNECT to any port. With one: only to those.
        conf += [f"ConnectPort {p}" for p in connect_ports or ()]
        self.conf = os.path.join(self.dir, "tinyproxy.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.url = f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([TINYPROXY, "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        harness.wait_for(self._listening, timeout=10, what="tinyproxy listening")
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"tinyproxy exited with {self.proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def read_log(self):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def requests(self):
        """The request lines the proxy received, in order."""
        return re.findall(r"Request \(file descriptor \d+\): (\S+ \S+) HTTP/1\.[01]",
                          self.read_log())


@pytest.fixture
def proxy(tmpdir_path):
    p = Proxy(tmpdir_path).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertAuthority(str(tmp_path_factory.mktemp("ca")))


def test_http_proxy_carries_api_and_sessions_not_docker_or_imds(tmpdir_path, cluster, proxy):
    # An EC2-style agent: identity and credentials from IMDS (on loopback, like everything
    # here), plain-http ECS endpoint, the proxy in the lower-case variable, no NO_PROXY.
    imds_port = harness.free_port()
    plane = harness.ControlPlane(tmpdir_path, extra_args=[
        "--imds", f"127.0.0.1:{imds_port}", "--imds-instance-id", "i-0123456789abcdef0"]).start()
    agent = None
    try:
        plane.create_cluster(cluster)
        agent_dir = os.path.join(tmpdir_path, "agent")
        os.makedirs(agent_dir)
        agent = harness.Agent(agent_dir, cluster, plane.url,
                              {"ECS_EXTERNAL": "false", "AWS_DEFAULT_REGION": None,
                               "ECS_IMAGE_PULL_BEHAVIOR": "once"},
                              env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                                   "AWS_EC2_METADATA_SERVICE_ENDPOINT":
                                       f"http://127.0.0.1:{imds_port}",
                                   "http_proxy": proxy.url}).start()
        registered(plane, cluster, agent)
        assert agent.wait_log(r"Using AWS credentials from imds:")
        plane.register("proxied", [harness.sleeper_container()])
        arn = plane.run_task(cluster, "proxied", launch_type="EC2")[0]
        plane.wait_task(cluster, arn, "RUNNING", timeout=60)

        # Every API call the agent made, ecs-local saw arrive through the proxy: as many
        # forwarded POSTs as agent calls in ecs-local's log.
        def same_count():
            posts = [r for r in proxy.requests()
                     if r == f"POST http://127.0.0.1:{plane.port}/"]
            calls = agent_api_calls(plane)
            return len(posts) == len(calls) and len(calls) >= 3 and (posts, calls)
        posts, calls = harness.wait_for(same_count, timeout=30, what="API calls via the proxy")
        ops = {c["operation"] for c in calls}
        assert {"ecs.RegisterContainerInstance", "ecs.DiscoverPollEndpoint",
                "ecs.SubmitTaskStateChange"} <= ops, ops
        # ACS and TCS: a CONNECT tunnel each (ws:// too), to the advertised endpoint.
        harness.wait_for(lambda: [s for s in tcs_sessions(plane) if s["open"]], timeout=30,
                         what="TCS session")
        tunnels = [r for r in proxy.requests() if r.startswith("CONNECT ")]
        assert tunnels == [f"CONNECT 127.0.0.1:{plane.port}"] * 2, tunnels
        # Neither IMDS nor Docker went near it.
        assert not [r for r in proxy.requests() if str(imds_port) in r or "docker" in r
                    or "/containers" in r], proxy.requests()
        log = agent.read_log()
        assert f"{USER}:***@127.0.0.1:{proxy.port}" in log
        assert PASSWORD not in log
    finally:
        if agent:
            agent.kill()
        plane.stop()


def test_https_proxy_tunnels_tls_and_no_proxy_goes_direct(tmpdir_path, cluster, make_agent,
                                                          proxy, ca):
    cert = ca.issue("server")
    plane = harness.ControlPlane(tmpdir_path, tls=(*cert, ca.cert)).start()
    try:
        plane.create_cluster(cluster)
        agent = make_agent(env={"SSL_CERT_FILE": ca.cert, "HTTPS_PROXY": proxy.url},
                           cp_url=plane.url)
        registered(plane, cluster, agent)
        harness.wait_for(lambda: [s for s in tcs_sessions(plane) if s["open"]], timeout=30,
                         what="TCS session")
        # Every TLS connection the agent opened (API, ACS, TCS) is one tunnel of the proxy.
        conns = agent_handshakes(plane)
        tunnels = [r for r in proxy.requests() if r.startswith("CONNECT ")]
        assert {c["path"] for c in conns} >= {"/", "/acs/ws", "/tcs/ws"}, conns
        assert tunnels == [f"CONNECT 127.0.0.1:{plane.port}"] * len(conns), (tunnels, conns)
        assert PASSWORD not in agent.read_log()
        agent.kill()

        # NO_PROXY=127.0.0.1: the same agent settings, nothing through the proxy.
        before = len(proxy.requests())
        direct = make_agent(env={"SSL_CERT_FILE": ca.cert, "HTTPS_PROXY": proxy.url,
                                 "NO_PROXY": "127.0.0.1"}, cp_url=plane.url)
        registered(plane, cluster, direct)
        harness.wait_for(lambda: len([s for s in tcs_sessions(plane) if s["open"]]) >= 1,
                         timeout=30, what="TCS session")
        assert len(proxy.requests()) == before, proxy.requests()[before:]
    finally:
        plane.stop()


def test_proxy_refusals_are_explained_and_retried(tmpdir_path, cluster, make_agent, ca):
    # This proxy allows CONNECT to port 443 only: ecs-local's port is refused.
    refusing = Proxy(tmpdir_path, connect_ports=[443]).start()
    cert = ca.issue("server")
    plane = harness.ControlPlane(tmpdir_path, tls=(*cert, ca.cert)).start()
    try:
        plane.create_cluster(cluster)
        shown = re.escape(f"http://{USER}:***@127.0.0.1:{refusing.port}")
        origin = re.escape(plane.url)
        agent = make_agent(env={"SSL_CERT_FILE": ca.cert, "HTTPS_PROXY": refusing.url},
                           cp_url=plane.url)
        rx = re.compile(rf"Registration failed: transport: {origin} via proxy {shown}: the "
                        r"proxy refused the tunnel \(HTTP 403\): [^\n]*; retrying")
        harness.wait_for(lambda: len(rx.findall(agent.read_log())) >= 2, timeout=90,
                         what="two refused registrations explained")
        # A wrong password: 407, and the hint says where to look.
        wrong = make_agent(env={"SSL_CERT_FILE": ca.cert, "HTTPS_PROXY": refusing.url.replace(
            PASSWORD, "wrong-pw")}, cp_url=plane.url)
        rx407 = re.compile(r"the proxy refused the tunnel \(HTTP 40[17]\): [^\n]*; check the user "
                           r"and password in the proxy URL; retrying")
        harness.wait_for(lambda: rx407.search(wrong.read_log()), timeout=90,
                         what="a 401/407 explained")
        assert agent.alive() and wrong.alive()
        assert PASSWORD not in agent.read_log() and "wrong-pw" not in wrong.read_log()
        assert plane.admin("GET", "/acs/sessions")["sessions"] == []
    finally:
        plane.stop()
        refusing.stop()
