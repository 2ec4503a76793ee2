"""Fixtures for the ecs-local tests.

``server``      one ecs-local shared by the session (small intervals); each
                test works in its own cluster and faults are cleared after it.
``make_server`` starts extra ecs-local processes (own flags / state file).
``aws``         runs /usr/bin/aws against a server with a clean environment.
``agent``       factory of FakeAgent instances, closed at teardown.
"""

import json
import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cp_helpers import FAST, Server, run_aws  # noqa: E402
from fake_agent import FakeAgent  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("ecslocal"))
    srv = Server(tmp, FAST, state=os.path.join(tmp, "state.json"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _clean_faults(request):
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        srv.admin("DELETE", "/faults")


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(*args, state=None, fast=True, env=None):
        srv = Server(str(tmp_path), (FAST if fast else []) + list(args), state=state, env=env)
        servers.append(srv)
        return srv
    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def cluster(server):
    """A fresh cluster name on the shared server."""
    name = "c-" + uuid.uuid4().hex[:10]
    server.client().create_cluster(clusterName=name)
    return name


@pytest.fixture
def ecs(server):
    return server.client()


@pytest.fixture
def agent(server):
    agents = []

    def make(cluster, srv=None, **kw):
        a = FakeAgent(srv or server, cluster=cluster, **kw)
        agents.append(a)
        return a
    yield make
    for a in agents:
        a.close()


@pytest.fixture
def aws(server):
    def call(*args, srv=None, **kw):
        p = run_aws(srv or server, *args, **kw)
        if kw.get("check", True):
            return json.loads(p.stdout) if p.stdout.strip() else {}
        return p
    return call


@pytest.fixture
def running_agent(agent, cluster):
    """A registered, ACS-connected fake agent in a fresh cluster."""
    def make(**kw):
        reg = {k: kw.pop(k) for k in ("cpu", "memory", "ports", "ports_udp", "attributes")
               if k in kw}
        a = agent(cluster, **kw)
        a.register(**reg)
        a.connect()
        return a
    return make
