"""169.254.170.2 reachable from bridge-mode tasks without iptables, and the instance
metadata address out of their reach unless ECS_BRIDGE_BLOCK_IMDS=false. The metadata
service is simulated by this test on 169.254.169.254 (a link it makes), so the test shows
the block, not merely an absent service."""
import json
import subprocess
import urllib.request
import uuid

import pytest

import harness
from test_agent_core import registered


@pytest.fixture
def fake_imds(tmp_path):
    """A metadata service at 169.254.169.254 in a network namespace of the test's, routed
    from the host the way the real one is (not a local address: the local table would be
    consulted before any rule)."""
    sfx = uuid.uuid4().hex[:6]
    ns, host_end, ns_end = f"ecsnet-imds-{sfx}", f"ecstih{sfx}", f"ecstin{sfx}"
    net = f"10.254.{int(sfx[:2], 16)}"
    (tmp_path / "latest" / "meta-data").mkdir(parents=True)
    (tmp_path / "latest" / "meta-data" / "index.html").write_text("fake-imds-answer")
    tmp_path.chmod(0o755)
    sh = lambda *a: subprocess.run(list(a), check=True)  # noqa: E731
    server = None
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        sh("ip", "link", "set", ns_end, "netns", ns)
        sh("ip", "addr", "add", f"{net}.1/30", "dev", host_end)
        sh("ip", "link", "set", host_end, "up")
        sh("ip", "-n", ns, "addr", "add", f"{net}.2/30", "dev", ns_end)
        sh("ip", "-n", ns, "addr", "add", "169.254.169.254/32", "dev", "lo")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", ns_end, "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", f"{net}.1")
        sh("ip", "route", "add", "169.254.169.254/32", "via", f"{net}.2", "dev", host_end)
        server = subprocess.Popen(["ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p",
                                   "169.254.169.254:80", "-h", str(tmp_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                with urllib.request.urlopen("http://169.254.169.254/latest/meta-data/",
                                            timeout=1) as r:
                    return r.read() == b"fake-imds-answer"
            except OSError:
                return False
        harness.wait_for(up, timeout=10, what="fake IMDS")
        yield
    finally:
        if server:
            server.terminate()
            server.wait()
        subprocess.run(["ip", "route", "del", "169.254.169.254/32", "dev", host_end],
                       capture_output=True)
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def task_container(cp, cluster, make_agent, settings):
    cp.register("probe", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 16, "command": ["sleep", "300"]}])
    agent = make_agent(dict({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"}, **settings))
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "probe")[0]
    return agent, cp.wait_task(cluster, arn, "RUNNING")["containers"][0]["runtimeId"]


def fetch(cid, ip, path):
    """An HTTP GET from inside the task container (busybox nc; its static wget cannot
    resolve anything)."""
    p = subprocess.run(["docker", "exec", cid, "sh", "-c",
                        f"printf 'GET {path} HTTP/1.0\\r\\nHost: {ip}\\r\\n\\r\\n' | "
                        f"nc -w 3 {ip} 80"], capture_output=True, text=True)
    return p.stdout + p.stderr


def test_endpoint_reachable_and_imds_blocked(cp, cluster, make_agent, fake_imds):
    agent, cid = task_container(cp, cluster, make_agent, {})
    out = fetch(cid, "169.254.170.2", "/v2/credentials/none")
    # The agent answered, with the official answer to an unknown ID.
    assert out.startswith("HTTP/1.1 400"), out
    assert '"code":"InvalidIdInRequest"' in out, out
    out = fetch(cid, "169.254.169.254", "/latest/meta-data/")
    assert "fake-imds-answer" not in out and "HTTP/" not in out, out
    # The host itself still reaches it: only traffic from the bridge is refused.
    with urllib.request.urlopen("http://169.254.169.254/latest/meta-data/", timeout=3) as r:
        assert r.read() == b"fake-imds-answer"

    # A clean stop takes the agent's plumbing away again.
    assert agent.stop() == 0
    rules = json.loads(subprocess.run(["ip", "-j", "rule"], capture_output=True,
                                      text=True).stdout)
    assert not [r for r in rules if r.get("priority") == 10 and r.get("iif") == "docker0"]
    assert subprocess.run(["ip", "link", "show", "ecs-agent0"],
                          capture_output=True).returncode != 0


def test_imds_block_opt_out(cp, cluster, make_agent, fake_imds):
    agent, cid = task_container(cp, cluster, make_agent, {"ECS_BRIDGE_BLOCK_IMDS": "false"})
    out = fetch(cid, "169.254.169.254", "/latest/meta-data/")
    assert "fake-imds-answer" in out, out
    assert agent.stop() == 0
