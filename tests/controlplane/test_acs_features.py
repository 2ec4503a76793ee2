"""ACS features beyond the basic payload flow: credentials (§2.7), manifest
and stop verification (§2.11), ENI attachment for awsvpc (§2.9, §6.5),
inactive instances (§2.13), dockerConfig construction (§2.6.4)."""

import ipaddress
import json
import time

from botocore.exceptions import ClientError

from cp_helpers import simple_taskdef, wait_until

ROLE = "arn:aws:iam::123456789012:role/app"
EXEC_ROLE = "arn:aws:iam::123456789012:role/exec"


def _run(ecs, cluster, td, **kw):
    r = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"],
                     launchType="EXTERNAL", **kw)
    assert r["failures"] == [], r["failures"]
    return r["tasks"][0]["taskArn"]


def test_credentials_pushed_on_reconnect_with_send_credentials(server, agent, cluster, ecs):
    td = simple_taskdef(ecs, taskRoleArn=ROLE, executionRoleArn=EXEC_ROLE)
    a = agent(cluster)
    a.register()
    a.connect(send_credentials=False)
    arn = _run(ecs, cluster, td)
    payload = a.wait_for("PayloadMessage")
    ids = {payload["tasks"][0]["roleCredentials"]["credentialsId"]: "TaskApplication",
           payload["tasks"][0]["executionRoleCredentials"]["credentialsId"]: "TaskExecution"}
    # the agent acked both credential sets together with the payload
    wait_until(lambda: len(server.acs_messages(containerInstanceArn=a.arn,
                                               type="IAMRoleCredentialsAckRequest")) == 2, 3)
    assert a.count("IAMRoleCredentialsMessage") == 0
    a.disconnect()
    # sendCredentials=false: nothing pushed
    a.connect(send_credentials=False)
    time.sleep(0.5)
    assert a.count("IAMRoleCredentialsMessage") == 0
    a.disconnect()
    # sendCredentials=true: one message per role of every known task (§2.15)
    start = len(a.received)
    a.connect(send_credentials=True)
    msgs = [a.wait_for("IAMRoleCredentialsMessage", lambda m, r=r: m["roleType"] == r, start=start)
            for r in ("TaskApplication", "TaskExecution")]
    for m in msgs:
        assert m["taskArn"] == arn
        assert ids[m["roleCredentials"]["credentialsId"]] == m["roleType"]
        assert m["roleCredentials"]["roleArn"] == (ROLE if m["roleType"] == "TaskApplication" else EXEC_ROLE)


def test_credentials_refreshed_before_expiry_keep_credentials_id(make_server, agent):
    srv = make_server("--credentials-ttl", "2")
    srv.client().create_cluster(clusterName="creds")
    ecs = srv.client()
    td = simple_taskdef(ecs, taskRoleArn=ROLE)
    a = agent("creds", srv=srv)
    a.register()
    a.connect()
    _run(ecs, "creds", td)
    first = a.wait_for("PayloadMessage")["tasks"][0]["roleCredentials"]
    # refreshed when half the lifetime is left (ttl/2 = 1s)
    m = a.wait_for("IAMRoleCredentialsMessage", timeout=3)
    rc = m["roleCredentials"]
    assert rc["credentialsId"] == first["credentialsId"]          # §2.7 / §11.12
    assert rc["accessKeyId"] != first["accessKeyId"] and rc["expiration"] > first["expiration"]
    assert m["roleType"] == "TaskApplication"
    # the agent acked them, and the refreshed credentials sign requests
    wait_until(lambda: srv.acs_messages(type="IAMRoleCredentialsAckRequest", direction="in"), 2)
    ecr = srv.client("ecr", rc["accessKeyId"], rc["secretAccessKey"], rc["sessionToken"])
    assert ecr.get_authorization_token()["authorizationData"]
    # the first set has expired by now: ExpiredTokenException
    old = srv.client("ecr", first["accessKeyId"], first["secretAccessKey"], first["sessionToken"])
    err = None
    deadline = time.time() + 3
    while err is None and time.time() < deadline:
        try:
            old.get_authorization_token()
            time.sleep(0.1)
        except ClientError as e:
            err = e
    assert err is not None and err.response["Error"]["Code"] == "ExpiredTokenException"


def test_unacked_credentials_are_resent(server, agent, cluster, ecs):
    td = simple_taskdef(ecs, executionRoleArn=EXEC_ROLE)
    a = agent(cluster)
    a.ack_credentials = False
    a.register()
    a.connect()
    arn = _run(ecs, cluster, td)
    a.wait_for("PayloadMessage")
    m = a.wait_for("IAMRoleCredentialsMessage", timeout=3)
    assert m["taskArn"] == arn and m["roleType"] == "TaskExecution"
    # forced refresh through the admin API
    a.ack_credentials = True
    n = server.admin("POST", "/acs/credentials", {"taskArn": arn})["refreshed"]
    assert n == 1
    m2 = a.wait_for("IAMRoleCredentialsMessage",
                    lambda x: x["roleCredentials"]["accessKeyId"] != m["roleCredentials"]["accessKeyId"])
    assert m2["roleCredentials"]["credentialsId"] == m["roleCredentials"]["credentialsId"]


def test_manifest_and_stop_verification(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster)
    a.register()
    a.connect()
    arn = _run(ecs, cluster, td)
    a.wait_for("PayloadMessage")
    a.submit(arn, "RUNNING")
    # the agent also has a task ecs-local never placed there: a stop candidate
    ghost = arn[:-8] + "deadbeef"
    a.tasks[ghost] = {"arn": ghost, "desiredStatus": "RUNNING", "containers": []}
    start = len(a.received)
    mid = server.admin("POST", "/acs/manifest", {"containerInstanceArn": a.arn})["messageIds"][0]
    man = a.wait_for("TaskManifestMessage", start=start)
    assert man["messageId"] == mid
    assert man["tasks"] == [{"taskArn": arn, "taskClusterArn": man["clusterArn"],
                             "desiredStatus": "RUNNING"}]
    # timeline continues the payload seqNum counter (§2.11 rule 1)
    assert man["timeline"] > max(m["seqNum"] for m in [a.wait_for("PayloadMessage")])
    ack = a.wait_for("TaskStopVerificationAck", start=start)
    assert ack["messageId"] == mid
    assert [x["taskArn"] for x in ack["stopTasks"]] == [ghost]
    assert ack["stopTasks"][0]["desiredStatus"] == "STOPPED"
    assert a.tasks[ghost]["desiredStatus"] == "STOPPED"      # agent applied it
    assert a.tasks[arn]["desiredStatus"] == "RUNNING"
    # the manifest ack reached ecs-local
    acks = server.acs_messages(containerInstanceArn=a.arn, type="AckRequest")
    assert any(x["message"]["message"]["messageId"] == mid for x in acks)


def test_periodic_manifest(make_server, agent):
    srv = make_server("--manifest-interval", "0.5")
    srv.client().create_cluster(clusterName="man")
    a = agent("man", srv=srv)
    a.register()
    a.connect()
    first = a.wait_for("TaskManifestMessage", timeout=3)
    second = a.wait_for("TaskManifestMessage", lambda m: m["messageId"] != first["messageId"], timeout=3)
    assert second["timeline"] > first["timeline"] and second["tasks"] == []


def test_stop_verification_keeps_tasks_ecs_wants(server, agent, cluster, ecs):
    td = simple_taskdef(ecs)
    a = agent(cluster)
    a.register()
    a.connect()
    arn = _run(ecs, cluster, td)
    a.wait_for("PayloadMessage")
    a.send_sync("TaskStopVerificationMessage", {"messageId": "m-1", "stopCandidates": [
        {"taskArn": arn, "taskClusterArn": "x", "desiredStatus": "STOPPED"}]})
    ack = a.wait_for("TaskStopVerificationAck")
    assert ack["messageId"] == "m-1" and ack["stopTasks"] == []


def test_inactive_instance_refused_at_connect(server, agent, cluster, ecs):
    a = agent(cluster)
    a.register()
    a.connect()
    ecs.deregister_container_instance(cluster=cluster, containerInstance=a.arn)
    a.wait_for("CloseMessage")
    a.wait_closed()
    status, body = a.upgrade_raw()
    assert status == 400
    assert "InactiveInstanceException" in json.loads(body)        # §2.13 compact form
    # re-registering a deregistered ARN is a terminal client error
    try:
        a.register()
        raise AssertionError("expected ClientException")
    except a.ecs.exceptions.ClientException:
        pass
    st = ecs.describe_container_instances(cluster=cluster, containerInstances=[a.arn])
    assert st["containerInstances"][0]["status"] == "INACTIVE"


def test_upgrade_refused_for_unknown_instance_and_wrong_cluster(server, agent, cluster, ecs):
    a = agent(cluster)
    a.register()
    url = a.acs_url().replace(a.arn.rsplit("/", 1)[1], "0" * 32)
    status, body = a.upgrade_raw(url=url)
    assert status == 400 and "InvalidInstanceException" in json.loads(body)
    url = a.acs_url().replace(f"clusterArn={cluster}", "clusterArn=other")
    status, body = a.upgrade_raw(url=url)
    assert status == 400 and "InvalidClusterException" in json.loads(body)


def test_awsvpc_eni_attach_then_payload(server, agent, cluster, ecs):
    td = simple_taskdef(ecs, networkMode="awsvpc",
                        portMappings=[{"containerPort": 8080}])
    a = agent(cluster, auto_attach=False)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["family"], launchType="EXTERNAL",
                       networkConfiguration={"awsvpcConfiguration": {
                           "subnets": ["subnet-12345"], "securityGroups": ["sg-1"]}})["tasks"][0]["taskArn"]
    d = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert d["lastStatus"] == "PROVISIONING"
    att = a.wait_for("AttachTaskNetworkInterfacesMessage")
    assert att["taskArn"] == arn and att["waitTimeoutMs"] > 0
    eni = att["elasticNetworkInterfaces"][0]
    assert eni["ec2Id"].startswith("eni-") and len(eni["macAddress"].split(":")) == 6
    gw = eni["subnetGatewayIpv4Address"]
    assert gw == "10.0.1.1/24"                                    # §6.5 / §11.19
    ip = eni["ipv4Addresses"][0]["privateAddress"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.0.1.0/24")
    # no payload before the ENI is reported ATTACHED (§11.20)
    time.sleep(0.4)
    assert a.count("PayloadMessage") == 0
    a.ecs.submit_task_state_change(cluster=cluster, task=arn, attachments=[
        {"attachmentArn": eni["attachmentArn"], "status": "ATTACHED"}])
    p = a.wait_for("PayloadMessage")
    t = p["tasks"][0]
    assert t["networkMode"] == "awsvpc"
    assert t["elasticNetworkInterfaces"][0]["macAddress"] == eni["macAddress"]
    assert t["containers"][0]["portMappings"][0]["hostPort"] == 8080
    d = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert d["lastStatus"] == "PENDING"
    details = {x["name"]: x["value"] for x in d["attachments"][0]["details"]}
    assert d["attachments"][0]["status"] == "ATTACHED"
    assert details["macAddress"] == eni["macAddress"] and details["privateIPv4Address"] == ip
    assert details["subnetId"] == "subnet-12345"
    assert d["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] == ip


def test_awsvpc_eni_timeout_fails_task(make_server, agent):
    srv = make_server("--eni-attach-timeout", "0.6", "--eni-subnet", "192.168.50.0/28")
    ecs = srv.client()
    ecs.create_cluster(clusterName="eni")
    td = simple_taskdef(ecs, networkMode="awsvpc")
    a = agent("eni", srv=srv, auto_attach=False)
    a.register()
    a.connect()
    arn = ecs.run_task(cluster="eni", taskDefinition=td["family"], launchType="EXTERNAL",
                       networkConfiguration={"awsvpcConfiguration": {"subnets": ["s"]}})["tasks"][0]["taskArn"]
    eni = a.wait_for("AttachTaskNetworkInterfacesMessage")["elasticNetworkInterfaces"][0]
    assert eni["subnetGatewayIpv4Address"] == "192.168.50.1/28"
    assert eni["ipv4Addresses"][0]["privateAddress"] == "192.168.50.4"
    d = wait_until(lambda: [t for t in ecs.describe_tasks(cluster="eni", tasks=[arn])["tasks"]
                            if t["lastStatus"] == "STOPPED"], 3)[0]
    assert d["stopCode"] == "TaskFailedToStart"
    assert "network interface" in d["stoppedReason"]
    assert a.count("PayloadMessage") == 0


def test_docker_config_strings(server, agent, cluster, ecs):
    containers = [{
        "name": "web", "image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1",
        "memory": 256, "memoryReservation": 128, "cpu": 0, "essential": True,
        "user": "1000", "workingDirectory": "/app", "dockerLabels": {"team": "a"},
        "hostname": "web", "privileged": False, "readonlyRootFilesystem": True,
        "dnsServers": ["10.0.0.2"], "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.9"}],
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "healthCheck": {"command": ["CMD-SHELL", "exit 0"], "interval": 10},
        "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "1m"}},
        "linuxParameters": {"initProcessEnabled": True, "capabilities": {"add": ["NET_ADMIN"]}},
        "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "command": ["serve"], "secrets": [{"name": "PW", "valueFrom": "/prod/pw"}],
        "stopTimeout": 30,
    }]
    containers[0]["mountPoints"] = [{"sourceVolume": "data", "containerPath": "/data",
                                     "readOnly": True},
                                    {"sourceVolume": "scratch", "containerPath": "/tmp/s"}]
    td = simple_taskdef(ecs, containers=containers, executionRoleArn=EXEC_ROLE, networkMode="host",
                        volumes=[{"name": "data", "host": {"sourcePath": "/srv/data"}},
                                 {"name": "scratch"},
                                 {"name": "shared", "dockerVolumeConfiguration": {
                                     "scope": "shared", "autoprovision": True, "driver": "local"}}])
    a = agent(cluster)
    a.register()
    a.connect()
    _run(ecs, cluster, td, overrides={"containerOverrides": [
        {"name": "web", "command": ["other"], "environment": [{"name": "B", "value": "9"}],
         "memory": 300}]})
    task = a.wait_for("PayloadMessage")["tasks"][0]
    c = task["containers"][0]
    assert task["volumes"] == [
        {"name": "data", "type": "host", "host": {"sourcePath": "/srv/data"}},
        {"name": "scratch", "type": "host", "host": {}},
        {"name": "shared", "type": "docker", "dockerVolumeConfiguration": {
            "scope": "shared", "autoprovision": True, "driver": "local"}}]
    assert c["mountPoints"] == [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True},
                                {"sourceVolume": "scratch", "containerPath": "/tmp/s",
                                 "readOnly": False}]
    config = json.loads(c["dockerConfig"]["config"])
    host = json.loads(c["dockerConfig"]["hostConfig"])
    assert config["User"] == "1000" and config["WorkingDir"] == "/app"
    assert config["Labels"] == {"team": "a"} and config["Hostname"] == "web"
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "exit 0"], "Interval": 10_000_000_000,
                                     "Timeout": 5_000_000_000, "Retries": 3, "StartPeriod": 0}
    assert host["MemoryReservation"] == 128 * 1024 * 1024
    assert host["NetworkMode"] == "host"                      # §2.6.4
    assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert host["Dns"] == ["10.0.0.2"] and host["ExtraHosts"] == ["db:10.0.0.9"]
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert host["Init"] is True and host["CapAdd"] == ["NET_ADMIN"]
    # overrides applied the way ECS does
    assert c["command"] == ["other"] and json.loads(c["overrides"]) == {"command": ["other"]}
    assert c["environment"] == {"A": "1", "B": "9"} and c["memory"] == 300
    assert c["healthCheckType"] == "docker" and c["stopTimeout"] == 30
    assert c["secrets"] == [{"name": "PW", "valueFrom": "/prod/pw", "provider": "ssm",
                             "region": "us-west-2", "type": "ENVIRONMENT_VARIABLE",
                             "target": "CONTAINER"}]
    ra = c["registryAuthentication"]
    assert ra["type"] == "ecr" and ra["ecrAuthData"]["registryId"] == "123456789012"
    assert ra["ecrAuthData"]["useExecutionRole"] is True
    assert ra["ecrAuthData"]["endpointOverride"] == server.url
