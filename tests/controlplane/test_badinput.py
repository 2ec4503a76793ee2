"""Bad input never crashes ecs-local and changes nothing; each gets the AWS
error shape."""

import socket
import time

from cp_helpers import simple_taskdef

ECS = "AmazonEC2ContainerServiceV20141113."


def _state(server):
    s = server.admin("GET", "/state")
    return {k: s[k] for k in ("clusters", "taskDefinitions", "instances", "tasks", "services")}


def _expect(resp, status, code, contains=None):
    st, headers, body = resp
    assert st == status, (st, body)
    assert headers.get("X-Amzn-ErrorType") == code and body["__type"] == code, body
    assert isinstance(body.get("message"), str)
    if contains:
        assert contains in body["message"], body["message"]
    return body


def test_malformed_json(server):
    before = _state(server)
    _expect(server.post(ECS + "CreateCluster", b'{"clusterName": "x"'), 400,
            "SerializationException")
    _expect(server.post(ECS + "CreateCluster", b"\xff\xfe"), 400, "SerializationException")
    _expect(server.post(ECS + "CreateCluster", b"[1,2]"), 400, "SerializationException")
    _expect(server.post(ECS + "CreateCluster", b'"str"'), 400, "SerializationException")
    assert _state(server) == before


def test_unknown_or_missing_target(server):
    _expect(server.post(ECS + "LaunchRocket", {}), 400, "UnknownOperationException")
    _expect(server.post("NoSuchService_20200101.Foo", {}), 400, "UnknownOperationException")
    _expect(server.post("", {}), 400, "UnknownOperationException")


def test_missing_required_member(server, cluster):
    before = _state(server)
    _expect(server.post(ECS + "DescribeTasks", {"cluster": cluster}), 400,
            "InvalidParameterException", "tasks")
    _expect(server.post(ECS + "RegisterTaskDefinition", {"family": "x"}), 400,
            "InvalidParameterException", "containerDefinitions")
    _expect(server.post(ECS + "RegisterTaskDefinition",
                        {"family": "x", "containerDefinitions": [
                            {"name": "a", "image": "b", "memory": 5,
                             "healthCheck": {"interval": 5}}]}),
            400, "InvalidParameterException", "healthCheck.command")
    body = _expect(server.post("AmazonSSM.GetParameters", {}, service="ssm"), 400,
                   "ValidationException")
    assert body["message"] == ("1 validation error detected: Value null at 'Names' failed to "
                               "satisfy constraint: Member must not be null")
    assert _state(server) == before


def test_wrong_types(server, cluster):
    before = _state(server)
    _expect(server.post(ECS + "RunTask", {"cluster": cluster, "taskDefinition": "x",
                                          "count": "two"}), 400, "SerializationException", "count")
    _expect(server.post(ECS + "CreateCluster", {"clusterName": 5}), 400, "SerializationException")
    _expect(server.post(ECS + "RunTask", {"cluster": cluster, "taskDefinition": "x",
                                          "enableExecuteCommand": "yes"}), 400,
            "SerializationException")
    _expect(server.post(ECS + "SubmitTaskStateChange",
                        {"cluster": cluster, "task": "t", "containers": {"a": 1}}), 400,
            "SerializationException")
    # members only the agent's private model has are typed too (§12)
    _expect(server.post(ECS + "SubmitTaskStateChange", {
        "cluster": cluster, "task": "t", "containers": [{"containerName": "a", "networkBindings": [
            {"containerPortRange": 8000}]}]}), 400, "SerializationException", "containerPortRange")
    assert _state(server) == before


def test_enum_violation(server, cluster, ecs):
    td = simple_taskdef(ecs)
    before = _state(server)
    _expect(server.post(ECS + "RunTask", {"cluster": cluster, "taskDefinition": td["family"],
                                          "launchType": "MOON"}), 400, "InvalidParameterException",
            "MOON")
    assert _state(server) == before


def test_semantic_errors_change_nothing(server, cluster, ecs):
    before = _state(server)
    _expect(server.post(ECS + "RunTask", {"cluster": "nope", "taskDefinition": "x"}), 400,
            "ClusterNotFoundException", "Cluster not found.")
    _expect(server.post(ECS + "RunTask", {"cluster": cluster, "taskDefinition": "nope:1"}), 400,
            "ClientException", "TaskDefinition not found.")
    _expect(server.post(ECS + "RegisterTaskDefinition", {
        "family": "dup", "containerDefinitions": [{"name": "a", "image": "b", "memory": 8},
                                                  {"name": "a", "image": "b", "memory": 8}]}),
        400, "ClientException", "Duplicate container name")
    _expect(server.post(ECS + "RegisterTaskDefinition", {
        "family": "bad family!", "containerDefinitions": [{"name": "a", "image": "b", "memory": 8}]}),
        400, "ClientException")
    _expect(server.post(ECS + "RegisterContainerInstance", {"cluster": "nope"}), 400,
            "ClientException", "Cluster not found.")
    _expect(server.post(ECS + "RunTask", {"cluster": cluster, "taskDefinition": "x", "count": 11}),
            400, "InvalidParameterException")
    _expect(server.post(ECS + "DescribeTasks", {"cluster": cluster, "tasks": []}), 400,
            "InvalidParameterException")
    _expect(server.post(ECS + "ListClusters", {"nextToken": "garbage"}), 400,
            "InvalidParameterException", "nextToken")
    assert _state(server) == before


def test_invalid_state_change_changes_nothing(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["family"],
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    a.wait_for("PayloadMessage")
    before = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    _expect(server.post(ECS + "SubmitTaskStateChange", {
        "cluster": cluster, "task": arn, "status": "EXPLODED", "reason": "",
        "containers": [{"containerName": "app", "status": "RUNNING"}]}), 400,
        "InvalidParameterException")
    _expect(server.post(ECS + "SubmitTaskStateChange", {
        "cluster": cluster, "task": arn, "status": "RUNNING",
        "containers": [{"containerName": "app", "status": "RUNNING"},
                       {"containerName": "app", "status": "BOGUS"}]}), 400,
        "InvalidParameterException")
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0] == before


def test_private_model_members_accepted(server, cluster):
    body = {"cluster": cluster, "clientToken": "tok-" + cluster,
            "totalResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                               {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024}]}
    st, _, r1 = server.post(ECS + "RegisterContainerInstance", body)
    assert st == 200
    st, _, r2 = server.post(ECS + "RegisterContainerInstance", body)
    assert st == 200            # clientToken makes registration idempotent
    assert r1["containerInstance"]["containerInstanceArn"] == \
        r2["containerInstance"]["containerInstanceArn"]
    st, _, dpe = server.post(ECS + "DiscoverPollEndpoint", {
        "cluster": cluster, "containerInstance": r1["containerInstance"]["containerInstanceArn"],
        "zoneId": ""})
    assert st == 200 and dpe["endpoint"].endswith("/acs")


def test_garbage_on_the_wire_does_not_crash(server):
    for payload in (b"\x00\x01\x02garbage\r\n\r\n", b"GET\r\n\r\n",
                    b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
                    b"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=3)
        s.sendall(payload)
        try:
            data = s.recv(4096)
        except socket.timeout:
            data = b""
        s.close()
        assert data.startswith(b"HTTP/1.1 4") or data == b""
    assert server.admin("GET", "/health")["status"] == "ok"


def test_bad_acs_frames_do_not_kill_session(server, agent, cluster):
    a = agent(cluster)
    a.register()
    a.connect()
    a._run(a.ws.send("this is not json"))
    a._run(a.ws.send('{"type": 5}'))
    a._run(a.ws.send(b"\x00binary"))
    time.sleep(0.3)
    sess = [s for s in server.admin("GET", "/acs/sessions")["sessions"]
            if s["containerInstanceArn"] == a.arn][0]
    assert sess["invalidFrames"] == 3 and sess["open"]
    n = a.count("HeartbeatMessage")
    a.wait_for("HeartbeatMessage", lambda m: a.count("HeartbeatMessage") > n, timeout=3)


def test_admin_rejects_bad_requests(server):
    assert "error" in server.admin("POST", "/faults", {"kind": "meteor"}, expect=400)
    assert "error" in server.admin("POST", "/faults", {"kind": "delay", "count": -1}, expect=400)
    assert "error" in server.admin("GET", "/nothing-here", expect=404)
    assert "error" in server.admin("POST", "/secrets", {"name": "x"}, expect=400)


def test_admin_only_for_loopback(make_server):
    import json
    import urllib.error
    import urllib.request
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))          # no packet is sent; picks the outgoing address
        ip = probe.getsockname()[0]
    except OSError:
        ip = None
    finally:
        probe.close()
    if not ip or ip.startswith("127."):
        import pytest
        pytest.skip("no non-loopback address on this host")
    srv = make_server("--listen", "0.0.0.0:0")
    assert srv.admin("GET", "/health")["status"] == "ok"            # via 127.0.0.1
    try:
        urllib.request.urlopen(f"http://{ip}:{srv.port}/_ecslocal/health", timeout=5)
        raise AssertionError("admin answered a non-loopback client")
    except urllib.error.HTTPError as e:
        assert e.code == 403 and "loopback" in json.loads(e.read())["error"]
