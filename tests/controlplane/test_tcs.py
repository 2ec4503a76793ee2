"""TCS (§3): per-message-signed frames, acks, latest publishes kept for
inspection, health folded into Describe* results."""

import time

from botocore.credentials import Credentials

from cp_helpers import simple_taskdef, wait_until


def _metrics(a, idle=True):
    return {"metadata": {"cluster": a.cluster, "containerInstance": a.arn,
                         "messageId": "m-1", "idle": idle, "fin": True},
            "timestamp": time.time()}


def test_tcs_publish_and_ack(server, running_agent, cluster, ecs):
    a = running_agent()
    td = simple_taskdef(ecs, containers=[{"name": "app", "image": "i", "memory": 32,
                                          "healthCheck": {"command": ["CMD", "true"]}}])
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["family"],
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    a.connect_tcs()
    a.publish("PublishMetricsRequest", _metrics(a))
    assert a.wait_tcs("AckPublishMetric") == {"message": ""}
    a.publish("PublishHealthRequest", {
        "metadata": {"cluster": a.cluster, "containerInstance": a.arn, "messageId": "h",
                     "fin": True},
        "tasks": [{"taskArn": arn, "taskDefinitionFamily": td["family"],
                   "taskDefinitionVersion": "1",
                   "containers": [{"containerName": "app", "healthStatus": "HEALTHY",
                                   "statusSince": time.time()}]}],
        "timestamp": time.time()})
    a.wait_tcs("AckPublishHealth")
    a.publish("PublishInstanceStatusRequest", {
        "metadata": {"cluster": a.cluster, "containerInstance": a.arn, "requestId": "r"},
        "statuses": [{"type": "ContainerRuntime", "status": "OK", "lastUpdated": time.time(),
                      "lastStatusChange": time.time()}],
        "timestamp": time.time()})
    a.wait_tcs("AckPublishInstanceStatus")

    tcs = server.admin("GET", "/tcs")
    latest = tcs["latest"][a.arn]
    assert latest["PublishMetricsRequest"]["message"]["metadata"]["idle"] is True
    assert latest["PublishHealthRequest"]["message"]["tasks"][0]["taskArn"] == arn
    assert tcs["counts"][a.arn]["PublishInstanceStatusRequest"] == 1
    # health shows up where AWS shows it
    t = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert t["containers"][0]["healthStatus"] == "HEALTHY" and t["healthStatus"] == "HEALTHY"
    ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[a.arn],
                                          include=["CONTAINER_INSTANCE_HEALTH"])
    assert ci["containerInstances"][0]["healthStatus"]["overallStatus"] == "OK"
    # the newest publish replaces the kept one
    a.publish("PublishMetricsRequest", _metrics(a, idle=False))
    wait_until(lambda: server.admin("GET", "/tcs")["latest"][a.arn]["PublishMetricsRequest"]
               ["message"]["metadata"]["idle"] is False, 2)


def test_tcs_rejects_badly_signed_and_unsigned_frames(server, running_agent):
    a = running_agent()
    a.connect_tcs()
    before = server.admin("GET", "/tcs")["rejectedFrames"]
    a.publish("PublishMetricsRequest", _metrics(a, idle=False),
              creds=Credentials(server.access_key, "wrong-secret"))
    err = a.wait_tcs("BadRequestException")
    assert "InvalidSignatureException" in err["message"]
    a._run(a.tcs_ws.send(a.tcs_frame("PublishMetricsRequest", _metrics(a), sign=False).decode()))
    wait_until(lambda: server.admin("GET", "/tcs")["rejectedFrames"] == before + 2, 2)
    # a tampered payload under a valid signature header is rejected too
    frame = a.tcs_frame("PublishMetricsRequest", _metrics(a))
    a._run(a.tcs_ws.send(frame.decode().replace('"idle": true', '"idle": false')))
    wait_until(lambda: server.admin("GET", "/tcs")["rejectedFrames"] == before + 3, 2)
    assert a.arn not in server.admin("GET", "/tcs")["latest"]
    assert [m for m in a.tcs_received if m["type"] == "AckPublishMetric"] == []


def test_tcs_heartbeat_and_refused_upgrade(server, running_agent, ecs):
    a = running_agent()
    a.connect_tcs()
    assert a.wait_tcs("HeartbeatMessage", timeout=3) == {"healthy": True}
    ecs.deregister_container_instance(cluster=a.cluster, containerInstance=a.arn)
    import pytest
    import websockets.exceptions
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
        a.connect_tcs()
    assert e.value.status_code == 400
