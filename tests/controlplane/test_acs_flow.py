"""The agent's side of §2: register -> discover -> ACS connect -> payload ->
ack -> RUNNING -> STOPPED, with DescribeTasks following what the agent says."""

import json
import re
import time

from cp_helpers import simple_taskdef, wait_until

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EXPIRATION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def test_register_discover_and_endpoints(server, agent, cluster):
    a = agent(cluster)
    ci = a.register(attributes=[{"name": "ecs.os-type", "value": "linux"},
                                {"name": "custom.thing", "value": "x"},
                                {"name": "ecs.capability.task-eni"}])
    assert re.match(rf"^arn:aws:ecs:us-west-2:123456789012:container-instance/{cluster}/[0-9a-f]{{32}}$",
                    ci["containerInstanceArn"])
    attrs = {x["name"]: x.get("value") for x in ci["attributes"]}
    # §1.4: every attribute sent must come back, plus the availability zone
    assert attrs["ecs.os-type"] == "linux" and attrs["custom.thing"] == "x"
    assert "ecs.capability.task-eni" in attrs
    assert attrs["ecs.availability-zone"] == "us-west-2a"
    assert ci["ec2InstanceId"].startswith("mi-")       # no identity document: external
    assert ci["status"] == "ACTIVE"
    endpoint, telemetry = a.discover()
    assert endpoint == server.url + "/acs" and telemetry == server.url + "/tcs"
    # re-registration keeps the ARN (§1.4), and the custom attributes of the
    # first registration although the agent does not send them again
    again = a.register(attributes=[{"name": "ecs.os-type", "value": "linux"}])
    assert again["containerInstanceArn"] == ci["containerInstanceArn"]
    assert again["version"] > ci["version"]
    attrs = {x["name"]: x.get("value") for x in again["attributes"]}
    assert attrs["custom.thing"] == "x" and "ecs.capability.task-eni" not in attrs


def test_full_task_lifecycle(server, agent, cluster, ecs):
    td = simple_taskdef(ecs, cpu=256, memory=256,
                        portMappings=[{"containerPort": 80, "hostPort": 8080}],
                        taskRoleArn="arn:aws:iam::123456789012:role/app",
                        executionRoleArn="arn:aws:iam::123456789012:role/exec")
    a = agent(cluster)
    a.register()
    a.connect(send_credentials=True)
    run = ecs.run_task(cluster=cluster, taskDefinition=td["family"], launchType="EXTERNAL")
    assert run["failures"] == []
    task = run["tasks"][0]
    arn = task["taskArn"]
    assert re.match(rf"^arn:aws:ecs:us-west-2:123456789012:task/{cluster}/[0-9a-f]{{32}}$", arn)
    assert task["lastStatus"] == "PENDING" and task["desiredStatus"] == "RUNNING"
    assert task["containerInstanceArn"] == a.arn

    msg = a.wait_for("PayloadMessage", lambda m: any(t["arn"] == arn for t in m["tasks"]))
    assert UUID.match(msg["messageId"])
    assert msg["clusterArn"] == f"arn:aws:ecs:us-west-2:123456789012:cluster/{cluster}"
    assert msg["containerInstanceArn"] == a.arn
    assert isinstance(msg["seqNum"], int) and isinstance(msg["generatedAt"], int)
    t = msg["tasks"][0]
    assert t["family"] == td["family"] and t["version"] == "1"
    assert t["desiredStatus"] == "RUNNING" and t["taskClusterArn"] == msg["clusterArn"]
    assert t["networkMode"] == "bridge" and t["launchType"] == "EXTERNAL"
    c = t["containers"][0]
    assert c["name"] == "app" and c["image"] == "busybox" and c["cpu"] == 256
    assert c["memory"] == 256 and c["essential"] is True
    assert c["portMappings"] == [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}]
    assert re.match(rf"^arn:aws:ecs:us-west-2:123456789012:container/{cluster}/[0-9a-f]{{32}}/", c["containerArn"])
    for key in ("config", "hostConfig"):
        assert isinstance(c["dockerConfig"][key], str)
        json.loads(c["dockerConfig"][key])
    for key, role in (("roleCredentials", "app"), ("executionRoleCredentials", "exec")):
        cred = t[key]
        assert UUID.match(cred["credentialsId"])
        assert cred["roleArn"].endswith(":role/" + role)
        assert cred["accessKeyId"].startswith("ASIA") and cred["secretAccessKey"] and cred["sessionToken"]
        assert EXPIRATION.match(cred["expiration"])

    # the agent acked (auto_ack): no re-send after the resend interval
    wait_until(lambda: not server.admin("GET", "/acs/sessions")["sessions"][0]["pendingMessageIds"]
               or True, 1)
    time.sleep(1.5)
    assert a.count("PayloadMessage") == 1
    acks = server.acs_messages(containerInstanceArn=a.arn, direction="in", type="AckRequest")
    assert acks and acks[-1]["message"]["message"]["messageId"] == msg["messageId"]

    # RUNNING, as the agent reports it
    a.submit(arn, "PENDING", containers=[], pullStartedAt=time.time())
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "PENDING"
    a.submit(arn, "RUNNING", containers=[{
        "containerName": "app", "status": "RUNNING", "runtimeId": "abc123",
        "imageDigest": "sha256:" + "0" * 64,
        "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 8080,
                             "protocol": "tcp"}]}], pullStoppedAt=time.time())
    d = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert d["lastStatus"] == "RUNNING" and "startedAt" in d and "pullStartedAt" in d
    dc = d["containers"][0]
    assert dc["lastStatus"] == "RUNNING" and dc["runtimeId"] == "abc123"
    assert dc["networkBindings"] == [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 8080,
                                      "protocol": "tcp"}]
    inst = ecs.describe_container_instances(cluster=cluster, containerInstances=[a.arn])
    ci = inst["containerInstances"][0]
    assert ci["runningTasksCount"] == 1 and ci["agentConnected"] is True
    rem = {r["name"]: r for r in ci["remainingResources"]}
    assert rem["CPU"]["integerValue"] == 2048 - 256 and rem["MEMORY"]["integerValue"] == 4096 - 256
    assert "8080" in rem["PORTS"]["stringSetValue"]
    assert ci["versionInfo"] == {"agentVersion": "1.105.1", "agentHash": "fa4e0000",
                                 "dockerVersion": "25.0.8"}

    # StopTask: desired STOPPED pushed to the agent, which reports STOPPED
    stopped = ecs.stop_task(cluster=cluster, task=arn)["task"]
    assert stopped["desiredStatus"] == "STOPPED" and stopped["lastStatus"] == "RUNNING"
    m2 = a.wait_for("PayloadMessage", lambda m: m["tasks"][0]["desiredStatus"] == "STOPPED")
    assert m2["tasks"][0]["arn"] == arn and m2["seqNum"] > msg["seqNum"]
    a.submit(arn, "STOPPED", containers=[{"containerName": "app", "status": "STOPPED",
                                          "exitCode": 137, "networkBindings": []}],
             executionStoppedAt=time.time())
    d = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert d["lastStatus"] == "STOPPED" and d["desiredStatus"] == "STOPPED"
    assert d["stoppedReason"] == "Task stopped by user" and d["stopCode"] == "UserInitiated"
    assert d["containers"][0]["exitCode"] == 137 and d["containers"][0]["lastStatus"] == "STOPPED"
    assert "stoppedAt" in d and "executionStoppedAt" in d
    # a late RUNNING report cannot move a stopped task backwards (§11.8)
    a.submit(arn, "RUNNING")
    late = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert late["lastStatus"] == "STOPPED" and late["containers"] == d["containers"]
    # resources are free again
    ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[a.arn])["containerInstances"][0]
    rem = {r["name"]: r for r in ci["remainingResources"]}
    assert rem["CPU"]["integerValue"] == 2048 and "8080" not in rem["PORTS"]["stringSetValue"]
    # every state change is in the admin log, in order
    changes = server.state_changes(task=arn)
    assert [c["body"].get("status") for c in changes] == ["PENDING", "RUNNING", "STOPPED", "RUNNING"]
    assert all(c["result"]["status"] == 200 for c in changes)
    assert changes == sorted(changes, key=lambda c: c["seq"])


def test_essential_container_exit_reason(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"],
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    a.wait_for("PayloadMessage")
    a.submit(arn, "RUNNING")
    a.submit(arn, "STOPPED", containers=[{"containerName": "app", "status": "STOPPED",
                                          "exitCode": 1}])
    d = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert d["stoppedReason"] == "Essential container in task exited"
    assert d["stopCode"] == "EssentialContainerExited"


def test_failed_to_start_reason(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"],
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    a.wait_for("PayloadMessage")
    a.submit(arn, "STOPPED", containers=[{"containerName": "app", "status": "STOPPED",
                                          "reason": "CannotPullContainerError: pull failed"}])
    d = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert d["stoppedReason"] == "CannotPullContainerError: pull failed"
    assert d["stopCode"] == "TaskFailedToStart"
    assert d["containers"][0]["reason"] == "CannotPullContainerError: pull failed"


def test_unacked_payload_is_resent(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster, auto_ack=False)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["family"],
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    first = a.wait_for("PayloadMessage")
    second = a.wait_for("PayloadMessage", lambda m: m["messageId"] != first["messageId"], timeout=3)
    assert second["tasks"][0]["arn"] == arn and second["seqNum"] > first["seqNum"]
    # acking any of them stops the resends
    a.send_sync("AckRequest", {"cluster": second["clusterArn"],
                               "containerInstance": second["containerInstanceArn"],
                               "messageId": second["messageId"]})
    time.sleep(0.3)
    n = a.count("PayloadMessage")
    time.sleep(1.5)
    assert a.count("PayloadMessage") == n


def test_ack_with_wrong_instance_is_ignored(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster, auto_ack=False)
    a.register()
    a.connect()
    ecs.run_task(cluster=cluster, taskDefinition=td["family"], launchType="EXTERNAL")
    m = a.wait_for("PayloadMessage")
    a.send_sync("AckRequest", {"cluster": m["clusterArn"], "containerInstance": "bogus",
                               "messageId": m["messageId"]})
    a.wait_for("PayloadMessage", lambda x: x["messageId"] != m["messageId"], timeout=3)
    sess = server.admin("GET", "/acs/sessions")["sessions"]
    assert [s for s in sess if s["containerInstanceArn"] == a.arn][0]["badAcks"] == 1


def test_heartbeats_are_sent_and_acked(server, agent, cluster):
    a = agent(cluster)
    a.register()
    a.connect()
    hb = a.wait_for("HeartbeatMessage", timeout=3)
    assert hb["healthy"] is True and hb["messageId"]
    wait_until(lambda: a.count("HeartbeatMessage") >= 3, 4, what="3 heartbeats")
    acks = server.acs_messages(containerInstanceArn=a.arn, type="HeartbeatAckRequest")
    assert acks
    sess = [s for s in server.admin("GET", "/acs/sessions")["sessions"]
            if s["containerInstanceArn"] == a.arn][0]
    assert sess["heartbeatsUnacked"] <= 1
    assert sess["query"]["protocolVersion"] == "2"


def test_heartbeat_miss_limit_closes_session(make_server, agent):
    srv = make_server("--heartbeat-miss-limit", "2")
    srv.client().create_cluster(clusterName="hb")
    a = agent("hb", srv=srv)
    a.register()
    a.ack_heartbeats = False
    a.connect()
    a.wait_closed(timeout=5)
    assert srv.admin("GET", "/acs/sessions")["sessions"] == []


def test_stopped_task_submitted_by_other_instance_is_rejected(server, agent, cluster, ecs):
    server.admin("POST", "/credentials", {"accessKeyId": "AKIAOTHERAGENT000001",
                                          "secretAccessKey": "other-secret"})
    td = simple_taskdef(ecs)
    a = agent(cluster)
    a.register()
    a.connect()
    b = agent(cluster, access_key="AKIAOTHERAGENT000001", secret_key="other-secret")
    b.register()
    b.connect()
    arn = ecs.start_task(cluster=cluster, taskDefinition=td["family"],
                         containerInstances=[a.arn])["tasks"][0]["taskArn"]
    a.wait_for("PayloadMessage")
    try:
        b.ecs.submit_task_state_change(cluster=cluster, task=arn, status="RUNNING", reason="")
        raise AssertionError("expected AccessDeniedException")
    except b.ecs.exceptions.AccessDeniedException:
        pass
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "PENDING"
    # unknown task: InvalidParameterException (the agent drops the event)
    try:
        a.ecs.submit_task_state_change(cluster=cluster, task=arn[:-4] + "ffff", status="RUNNING")
        raise AssertionError("expected InvalidParameterException")
    except a.ecs.exceptions.InvalidParameterException:
        pass
    # unknown container name in the report: rejected, nothing changed
    try:
        a.ecs.submit_task_state_change(cluster=cluster, task=arn, status="RUNNING", reason="",
                                       containers=[{"containerName": "nope", "status": "RUNNING"}])
        raise AssertionError("expected InvalidParameterException")
    except a.ecs.exceptions.InvalidParameterException:
        pass
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "PENDING"
    # the rejected attempts are in the state-change log with their result
    results = [c["result"] for c in server.state_changes(task=arn)]
    assert {"AccessDeniedException", "InvalidParameterException"} <= {r.get("error") for r in results}


def test_submit_container_state_change(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["family"],
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    a.wait_for("PayloadMessage")
    a.ecs.submit_container_state_change(cluster=cluster, task=arn, containerName="app",
                                        status="RUNNING", runtimeId="cid")
    c = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["containers"][0]
    assert c["lastStatus"] == "RUNNING" and c["runtimeId"] == "cid"
    ops = [x["operation"] for x in server.state_changes(task=arn)]
    assert ops == ["SubmitContainerStateChange"]
