"""The agent over real TLS with verification on: ecs-local serves https/wss with a
certificate from a throw-away CA (tlsutil), the agent trusts that CA the ways a host does,
and every way the trust can fail is a specific, retried log line with the agent alive. The
handshake counts come from ecs-local's side of the connections."""
import os
import re
import ssl
import subprocess
import time

import pytest

import harness
from test_agent_core import registered
from tlsutil import CertAuthority


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertAuthority(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture(scope="module")
def good_cert(ca):
    return ca.issue("good")


@pytest.fixture
def cp(tmpdir_path, ca, good_cert):
    """ecs-local over TLS (replaces conftest's plain one for this module)."""
    plane = harness.ControlPlane(tmpdir_path, tls=(*good_cert, ca.cert)).start()
    yield plane
    plane.stop()


def agent_handshakes(cp):
    """ecs-local's record of the TLS connections the agent opened (not the test's own)."""
    return [c for c in cp.admin("GET", "/tls")["connections"]
            if (c["userAgent"] or "").startswith("Amazon ECS Agent")
            or c["path"] in ("/acs/ws", "/tcs/ws")]


def agent_api_calls(cp):
    """The API calls ecs-local served to an agent."""
    return [e for e in cp.admin("GET", "/api-log")["requests"]
            if (e.get("userAgent") or "").startswith("Amazon ECS Agent")]


def acs_sessions(cp):
    return cp.admin("GET", "/acs/sessions")["sessions"]


def tcs_sessions(cp):
    return cp.admin("GET", "/tcs")["sessions"]


def test_agent_over_verified_tls(cp, cluster, make_agent, ca):
    assert cp.url.startswith("https://")
    t0 = time.monotonic()
    # The CA reaches the agent as with most hosts: SSL_CERT_FILE in its environment.
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once"}, env={"SSL_CERT_FILE": ca.cert})
    inst = registered(cp, cluster, agent)
    connected = time.monotonic() - t0
    acs = [s for s in acs_sessions(cp) if s["containerInstanceArn"] == inst and s["open"]]
    assert len(acs) == 1 and acs[0]["tls"]["version"] in ("TLSv1.2", "TLSv1.3"), acs
    tcs = harness.wait_for(lambda: [s for s in tcs_sessions(cp)
                                    if s["containerInstanceArn"] == inst and s["open"]],
                           timeout=30, what="TCS session")
    assert tcs[0]["tls"] and tcs[0]["tls"]["version"] in ("TLSv1.2", "TLSv1.3"), tcs
    assert re.search(r"TLS trusts .*ca\.pem instead of the system store", agent.read_log())

    # A task runs and stops, and the state changes arrive over the verified connection.
    cp.register("tls", [harness.sleeper_container()])
    arn = cp.run_task(cluster, "tls")[0]
    cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    cp.aws("ecs", "stop-task", "--cluster", cluster, "--task", arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    task = cp.describe_task(cluster, arn)
    assert task["lastStatus"] == "STOPPED"
    assert [c["lastStatus"] for c in task["containers"]] == ["STOPPED"]
    conns = agent_handshakes(cp)
    print(f"\nstart -> ACS connected over TLS: {connected:.2f} s; the agent's TLS connections "
          f"for registration, ACS, TCS, a task run and stop: {len(conns)} "
          f"({sum(c['resumed'] for c in conns)} resumed): "
          f"{[(c['path'], c['version'], c['resumed']) for c in conns]}")
    assert agent.alive()


@pytest.mark.parametrize("how", ["AWS_CA_BUNDLE in ecs.config", "SSL_CERT_DIR", "CURL_CA_BUNDLE"])
def test_trust_sources(cp, cluster, make_agent, ca, tmpdir_path, how):
    settings, env = {}, {}
    if how == "AWS_CA_BUNDLE in ecs.config":
        settings["AWS_CA_BUNDLE"] = ca.cert
    elif how == "SSL_CERT_DIR":
        d = os.path.join(tmpdir_path, "certs")
        os.makedirs(d)
        os.symlink(ca.cert, os.path.join(d, "test-ca.pem"))
        subprocess.run(["openssl", "rehash", d], check=True, capture_output=True)
        env["SSL_CERT_DIR"] = d
    else:
        env["CURL_CA_BUNDLE"] = ca.cert
    agent = make_agent(settings, env=env)
    registered(cp, cluster, agent)


def assert_retried_with(agent, url, reason, hint=None, count=2):
    """The registration error names the endpoint and the reason, is retried, and the agent
    lives on."""
    origin = re.escape(url.rstrip("/"))
    rx = re.compile(rf"Registration failed: transport: {origin}: {reason}: [^\n]*; retrying")
    harness.wait_for(lambda: len(rx.findall(agent.read_log())) >= count or
                     (not agent.alive() and pytest.fail(agent.read_log()[-3000:])),
                     timeout=90, what=f"{count} registration attempts failing with {reason}")
    line = rx.search(agent.read_log()).group(0)
    if hint:
        assert hint in line, line
    assert agent.alive()
    return line


def test_untrusted_ca(cp, make_agent):
    # No CA given: the system store does not know the test CA.
    agent = make_agent()
    line = assert_retried_with(agent, cp.url, "TLS certificate not trusted",
                               hint="set AWS_CA_BUNDLE or SSL_CERT_FILE")
    assert "SSL certificate problem" in line
    # Another CA's bundle: the hint says the bundle is the problem.
    other = CertAuthority(os.path.join(os.path.dirname(agent.tmpdir), "other-ca"), name="other CA")
    agent2 = make_agent(env={"AWS_CA_BUNDLE": other.cert})
    assert_retried_with(agent2, cp.url, "TLS certificate not trusted",
                        hint="its CA is not in the configured CA bundle")
    # Nothing of either reached the control plane.
    assert not agent_api_calls(cp) and cp.admin("GET", "/acs/sessions")["sessions"] == []


def test_certificate_for_another_host(tmpdir_path, ca, make_agent):
    cert = ca.issue("other-host", names=("other.example", "10.255.0.1"))
    plane = harness.ControlPlane(tmpdir_path, tls=(*cert, ca.cert))
    plane.ssl_context.check_hostname = False  # the test's own admin calls
    plane.start()
    try:
        agent = make_agent(env={"SSL_CERT_FILE": ca.cert}, cp_url=plane.url)
        line = assert_retried_with(agent, plane.url, "TLS certificate is for another host name")
        assert "127.0.0.1" in line
        assert not agent_api_calls(plane)  # nothing reached the control plane
    finally:
        plane.stop()


def test_expired_certificate(tmpdir_path, ca, make_agent):
    cert = ca.issue("expired", start="20200101000000Z", end="20200102000000Z")
    plane = harness.ControlPlane(tmpdir_path, tls=(*cert, ca.cert))
    plane.ssl_context.check_hostname = False  # the test's own admin calls
    plane.ssl_context.verify_mode = ssl.CERT_NONE
    plane.start()
    try:
        agent = make_agent(env={"SSL_CERT_FILE": ca.cert}, cp_url=plane.url)
        assert_retried_with(agent, plane.url, "TLS certificate has expired")
        assert not agent_api_calls(plane)
    finally:
        plane.stop()


def test_plain_http_server_where_https_is_configured(tmpdir_path, ca, make_agent):
    plane = harness.ControlPlane(tmpdir_path).start()
    try:
        url = plane.url.replace("http://", "https://")
        agent = make_agent(env={"SSL_CERT_FILE": ca.cert}, cp_url=url)
        assert_retried_with(agent, url, "TLS handshake failed",
                            hint="the server does not speak TLS")
        assert not agent_api_calls(plane)
    finally:
        plane.stop()


def test_acs_certificate_failure_is_explained(tmpdir_path, ca, cluster, make_agent):
    # The API is reached as 127.0.0.1, which the certificate lists; DiscoverPollEndpoint
    # sends ACS and TCS to "localhost", which it does not.
    cert = ca.issue("ip-only", names=("127.0.0.1",))
    port = harness.free_port()
    plane = harness.ControlPlane(tmpdir_path, port=port, tls=(*cert, ca.cert), extra_args=[
        "--public-url", f"https://localhost:{port}"]).start()
    try:
        plane.create_cluster(cluster)
        agent = make_agent(env={"SSL_CERT_FILE": ca.cert}, cp_url=plane.url)
        rx = re.compile(rf"ACS: connection failed: https://localhost:{port}: TLS "
                        r"certificate is for another host name: ")
        harness.wait_for(lambda: len(rx.findall(agent.read_log())) >= 2, timeout=90,
                         what="two ACS connection failures explained")
        assert agent.alive()
        assert plane.admin("GET", "/acs/sessions")["sessions"] == []
    finally:
        plane.stop()


def test_acs_reconnect_resumes_the_tls_session(cp, cluster, make_agent, ca):
    agent = make_agent(env={"SSL_CERT_FILE": ca.cert})
    inst = registered(cp, cluster, agent)
    harness.wait_for(lambda: [s for s in tcs_sessions(cp) if s["open"]], timeout=30,
                     what="TCS session")
    before = len(agent_handshakes(cp))
    first = [s for s in acs_sessions(cp) if s["open"]][0]
    drops = 3
    for i in range(drops):
        cp.admin("POST", "/faults", {"kind": "close_acs", "containerInstanceArn": inst,
                                     "abort": True})
        harness.wait_for(lambda: [s for s in acs_sessions(cp)
                                  if s["open"] and s["id"] > first["id"] + i],
                         timeout=60, what=f"ACS reconnect {i + 1}")
    new = [s for s in acs_sessions(cp) if s["open"]]
    # The reconnect resumed the session an earlier connection got: no full handshake.
    assert len(new) == 1 and new[0]["tls"]["resumed"] is True, new
    later = agent_handshakes(cp)[before:]
    resumed = sum(c["resumed"] for c in later)
    print(f"\n{drops} ACS drops: {len(later)} TLS handshakes by the agent, {resumed} resumed: "
          f"{[(c['path'], c['resumed']) for c in later]}")
    # One per reconnect (and at most one new API connection each time), never a storm;
    # none of them a full handshake.
    assert drops <= len(later) <= 2 * drops + 1 and resumed == len(later), later
    assert agent.alive()
