"""One test per admin fault kind, each showing the fault's effect."""

import time

import pytest
from botocore.exceptions import ClientError

from cp_helpers import simple_taskdef, wait_until


def _run(ecs, cluster, td):
    r = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"], launchType="EXTERNAL")
    assert r["failures"] == []
    return r["tasks"][0]["taskArn"]


def test_close_acs(server, running_agent):
    a = running_agent()
    out = server.fault(kind="close_acs", containerInstanceArn=a.arn, message="bye now")
    assert out["closed"] == [a.arn]
    close = a.wait_for("CloseMessage")
    assert close["message"] == "bye now"
    assert a.wait_closed() == 1000
    # the agent reconnects and carries on
    a.connect()
    assert server.admin("GET", "/acs/sessions")["sessions"]


def test_close_acs_abort(server, running_agent):
    a = running_agent()
    server.fault(kind="close_acs", containerInstanceArn=a.arn, abort=True)
    assert a.wait_closed() == 1006               # no close frame at all
    assert a.count("CloseMessage") == 0


def test_stop_acking_acs(server, running_agent, cluster, ecs):
    a = running_agent()
    server.fault(kind="stop_acking", scope="acs")
    _run(ecs, cluster, simple_taskdef(ecs))
    first = a.wait_for("PayloadMessage")
    # the agent acks, ecs-local ignores it: the payload keeps coming back
    a.wait_for("PayloadMessage", lambda m: m["messageId"] != first["messageId"], timeout=3)
    server.admin("DELETE", "/faults")
    time.sleep(1.3)   # one more resend whose ack counts now
    n = a.count("PayloadMessage")
    time.sleep(1.3)
    assert a.count("PayloadMessage") == n


def test_stop_acking_tcs(server, running_agent):
    a = running_agent()
    a.connect_tcs()
    a.publish("PublishInstanceStatusRequest", {"metadata": {"cluster": a.cluster,
                                                            "containerInstance": a.arn,
                                                            "requestId": "r1"},
                                               "statuses": [], "timestamp": time.time()})
    a.wait_tcs("AckPublishInstanceStatus")
    server.fault(kind="stop_acking", scope="tcs")
    a.publish("PublishHealthRequest", {"metadata": {"cluster": a.cluster,
                                                    "containerInstance": a.arn,
                                                    "messageId": "h1", "fin": True},
                                       "tasks": [], "timestamp": time.time()})
    time.sleep(0.5)
    assert [m for m in a.tcs_received if m["type"] == "AckPublishHealth"] == []
    # still recorded
    wait_until(lambda: server.admin("GET", "/tcs")["latest"].get(a.arn, {}).get("PublishHealthRequest"), 2)


def test_delay(server, running_agent, cluster, ecs):
    a = running_agent()
    td = simple_taskdef(ecs)
    server.fault(kind="delay", count=1, seconds=1.0, types=["PayloadMessage"])
    t0 = time.time()
    _run(ecs, cluster, td)
    a.wait_for("PayloadMessage", timeout=4)
    assert time.time() - t0 >= 0.9
    # only the next one was delayed
    t1 = time.time()
    _run(ecs, cluster, td)
    a.wait_for("PayloadMessage", lambda m: a.count("PayloadMessage") >= 2)
    assert time.time() - t1 < 0.8


def test_duplicate(server, running_agent, cluster, ecs):
    a = running_agent()
    server.fault(kind="duplicate", count=1, types=["PayloadMessage"])
    arn = _run(ecs, cluster, simple_taskdef(ecs))
    wait_until(lambda: a.count("PayloadMessage") == 2, 3, what="duplicated payload")
    msgs = [e["message"] for e in a.received if e["type"] == "PayloadMessage"]
    assert msgs[0] == msgs[1] and msgs[0]["tasks"][0]["arn"] == arn


def test_reorder(server, running_agent, cluster, ecs):
    a = running_agent()
    td = simple_taskdef(ecs)
    server.fault(kind="reorder", count=2, types=["PayloadMessage"])
    first = _run(ecs, cluster, td)
    time.sleep(0.2)
    assert a.count("PayloadMessage") == 0        # held
    second = _run(ecs, cluster, td)
    wait_until(lambda: a.count("PayloadMessage") >= 2, 3)
    order = [e["message"]["tasks"][0]["arn"] for e in a.received if e["type"] == "PayloadMessage"]
    assert order[:2] == [second, first]


@pytest.mark.parametrize("code,status", [("ThrottlingException", 400), ("ServerException", 500)])
def test_submit_error(server, running_agent, cluster, ecs, code, status):
    a = running_agent()
    arn = _run(ecs, cluster, simple_taskdef(ecs))
    a.wait_for("PayloadMessage")
    server.fault(kind="submit_error", count=2, code=code)
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            a.submit(arn, "RUNNING")
        assert e.value.response["Error"]["Code"] == code
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "PENDING"
    a.submit(arn, "RUNNING")                          # the third one goes through
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
    results = [c["result"] for c in server.state_changes(task=arn)]
    assert [r.get("error") for r in results] == [code, code, None]


def test_bad_signature(server, running_agent, ecs):
    a = running_agent()
    server.fault(kind="bad_signature", count=1, scope="api")
    with pytest.raises(ClientError) as e:
        ecs.list_clusters()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert ecs.list_clusters()["clusterArns"]
    # scoped to ACS: the next upgrade is refused, the one after works
    server.fault(kind="bad_signature", count=1, scope="acs")
    a.disconnect()
    status, body = a.upgrade_raw()
    assert status == 403 and b"InvalidSignatureException" in body
    a.connect()
    assert a.connected


def test_clock_skew(server, ecs):
    ecs.list_clusters()
    server.fault(kind="clock_skew", seconds=900)
    with pytest.raises(ClientError) as e:
        ecs.list_clusters()
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidSignatureException"
    assert err["Message"].startswith("Signature expired:")
    # the Date header shows ecs-local's (skewed) clock, as an SDK would see it
    import email.utils
    date = e.value.response["ResponseMetadata"]["HTTPHeaders"]["date"]
    assert email.utils.parsedate_to_datetime(date).timestamp() > time.time() + 800
    server.fault(kind="clock_skew", seconds=0)
    assert "clusterArns" in ecs.list_clusters()


def test_faults_listed_and_cleared(server):
    server.fault(kind="delay", count=3, seconds=2)
    server.fault(kind="submit_error", count=1, code="ServerException")
    f = server.admin("GET", "/faults")
    assert f["messageFaults"][0]["kind"] == "delay" and f["messageFaults"][0]["remaining"] == 3
    assert f["submitErrors"][0]["code"] == "ServerException"
    server.admin("DELETE", "/faults")
    f = server.admin("GET", "/faults")
    assert f["messageFaults"] == [] and f["submitErrors"] == []
