"""--state FILE: everything survives a restart of ecs-local, even a kill -9."""

import json
import os

import pytest

from cp_helpers import simple_taskdef, wait_until


@pytest.mark.parametrize("sig", ["term", "kill"])
def test_restart_keeps_state(make_server, agent, tmp_path, sig):
    state = str(tmp_path / f"state-{sig}.json")
    srv = make_server(state=state)
    ecs = srv.client()
    ecs.create_cluster(clusterName="keep")
    simple_taskdef(ecs, family="keepfam", executionRoleArn="arn:aws:iam::123456789012:role/x")
    a = agent("keep", srv=srv)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster="keep", taskDefinition="keepfam",
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    p1 = a.wait_for("PayloadMessage")
    exec_key = p1["tasks"][0]["executionRoleCredentials"]
    a.submit(arn, "RUNNING")
    ecs.create_service(cluster="keep", serviceName="svc", taskDefinition="keepfam",
                       desiredCount=0, launchType="EXTERNAL")
    srv.admin("POST", "/parameters", {"name": "/p", "value": "v"})
    # the agent's ack has been processed (and persisted) before the restart
    wait_until(lambda: any(m["message"]["message"]["messageId"] == p1["messageId"]
                           for m in srv.acs_messages(type="AckRequest")), 2)
    before = len(srv.state_changes())
    a.disconnect()

    srv.restart(sig)
    assert json.load(open(state))["schema"] == 1
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".ecs-local-state.")]

    assert ecs.describe_clusters(clusters=["keep"])["clusters"][0]["status"] == "ACTIVE"
    assert ecs.describe_task_definition(taskDefinition="keepfam")["taskDefinition"]["revision"] == 1
    ci = ecs.describe_container_instances(cluster="keep", containerInstances=[a.arn])
    assert ci["containerInstances"][0]["status"] == "ACTIVE"
    t = ecs.describe_tasks(cluster="keep", tasks=[arn])["tasks"][0]
    assert t["lastStatus"] == "RUNNING" and t["containers"][0]["lastStatus"] == "RUNNING"
    assert ecs.describe_services(cluster="keep", services=["svc"])["services"][0]["status"] == "ACTIVE"
    assert srv.client("ssm").get_parameters(Names=["/p"])["Parameters"][0]["Value"] == "v"
    assert len(srv.state_changes()) == before
    # issued credentials still verify
    ecr = srv.client("ecr", exec_key["accessKeyId"], exec_key["secretAccessKey"],
                     exec_key["sessionToken"])
    assert ecr.get_authorization_token()["authorizationData"]

    # the agent reconnects with its saved ARN: the acked task is not re-sent,
    # and sequence numbers keep increasing
    a.register()
    start = len(a.received)
    a.connect(send_credentials=False)
    ecs.stop_task(cluster="keep", task=arn)
    p2 = a.wait_for("PayloadMessage", start=start)
    assert p2["tasks"][0]["desiredStatus"] == "STOPPED" and p2["seqNum"] > p1["seqNum"]
    assert a.count("PayloadMessage") == 2


def test_without_state_file_is_in_memory(make_server):
    srv = make_server()
    srv.client().create_cluster(clusterName="gone")
    srv.restart()
    assert srv.client().describe_clusters(clusters=["gone"])["failures"][0]["reason"] == "MISSING"
