"""Fixtures for the integration tests: a real dockerd (started by scripts/test.sh), the
local control plane, a local registry and the agent binary."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


@pytest.fixture(scope="session")
def registry():
    tmp = harness.make_tmpdir()
    reg = harness.Registry(tmp).start()
    reg.busybox = reg.push(harness.BUSYBOX, "ecs-it/busybox:latest")
    yield reg
    reg.stop()
    # Tests have the agent pull it: the tag goes with the registry (the image stays, it is
    # the local busybox image's).
    import subprocess
    subprocess.run(["docker", "rmi", reg.busybox], capture_output=True)
    harness.rmtree(tmp)


@pytest.fixture(scope="session")
def auth_registry():
    """Like registry, but with htpasswd auth: .user ("AWS"), .password, .host, .busybox."""
    import secrets
    import subprocess
    tmp = harness.make_tmpdir()
    reg = harness.Registry(tmp, auth=("AWS", secrets.token_urlsafe(16))).start()
    reg.busybox = reg.push(harness.BUSYBOX, "ecs-it/authbusybox:latest")
    yield reg
    reg.stop()
    subprocess.run(["docker", "rmi", reg.busybox], capture_output=True)
    harness.rmtree(tmp)


@pytest.fixture
def tmpdir_path():
    path = harness.make_tmpdir()
    yield path
    harness.rmtree(path)


@pytest.fixture
def cp(tmpdir_path):
    plane = harness.ControlPlane(tmpdir_path).start()
    yield plane
    plane.stop()


@pytest.fixture
def cluster(cp):
    name = harness.unique()
    cgroups_before = harness.task_cgroup_ids()
    cp.create_cluster(name)
    yield name
    harness.remove_containers_of(name)
    # Tasks that failed before any container existed, or whose containers were removed,
    # still had a task cgroup: what appeared during the test goes with it.
    harness.remove_task_cgroups(harness.task_cgroup_ids() - cgroups_before)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.call_failed = rep.failed


@pytest.fixture
def make_agent(request, tmpdir_path, cluster, cp):
    agents = []

    def make(settings=None, env=None, cp_url=None, start=True):
        sub = os.path.join(tmpdir_path, f"agent{len(agents)}")
        os.makedirs(sub, exist_ok=True)
        a = harness.Agent(sub, cluster, cp_url or cp.url, settings, env)
        agents.append(a)
        return a.start() if start else a

    yield make
    for a in agents:
        a.kill()
    if getattr(request.node, "call_failed", False):
        # The agents' last words go into the failure report.
        for i, a in enumerate(agents):
            print(f"--- agent{i} log (tail) ---\n{a.read_log()[-8000:]}")


def _host_plumbing():
    """The agent's own host plumbing: its endpoint link and its IMDS rule, if present."""
    import json
    import subprocess
    link = subprocess.run(["ip", "link", "show", "ecs-agent0"], capture_output=True).returncode == 0
    rules = json.loads(subprocess.run(["ip", "-j", "rule"], capture_output=True,
                                      text=True).stdout or "[]")
    rule = any(r.get("priority") == 10 and r.get("iif") == "docker0" and
               r.get("dst") == "169.254.169.254" for r in rules)
    return link, rule


@pytest.fixture(scope="session", autouse=True)
def remove_agent_host_plumbing():
    """Agents killed with SIGKILL cannot remove the link and rule they made; the suite
    removes them at the end, unless they were there before it started."""
    import subprocess
    before = _host_plumbing()
    yield
    link, rule = _host_plumbing()
    if rule and not before[1]:
        subprocess.run(["ip", "rule", "del", "priority", "10", "iif", "docker0", "to",
                        "169.254.169.254", "blackhole"], capture_output=True)
    if link and not before[0]:
        subprocess.run(["ip", "link", "del", "ecs-agent0"], capture_output=True)
