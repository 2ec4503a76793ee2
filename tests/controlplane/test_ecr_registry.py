"""--ecr-registry: a local registry that ecs-local treats as this account's
ECR (registryAuthentication in payloads, GetAuthorizationToken's
proxyEndpoint), and the expiresIn / rawToken seeds of GetAuthorizationToken."""

import base64
import time

from cp_helpers import simple_taskdef
from fake_agent import DEFAULT_ATTRIBUTES

EXEC_ROLE = "arn:aws:iam::123456789012:role/exec"
LOCAL = "127.0.0.1:5999"


def test_ecr_registry_payload_and_token(make_server, agent):
    srv = make_server("--ecr-registry", LOCAL, "--create-cluster", "ecrreg")
    ecs = srv.client()
    containers = [
        {"name": "local", "image": f"{LOCAL}/x/y:latest", "memory": 64, "essential": True},
        {"name": "hub", "image": "busybox", "memory": 64, "essential": False},
        {"name": "asm", "image": f"{LOCAL}/x/z:1", "memory": 64, "essential": False,
         "repositoryCredentials": {"credentialsParameter":
                                   "arn:aws:secretsmanager:us-west-2:123456789012:secret:r-AbCdEf"}},
        # only HOST:PORT/ as a prefix counts
        {"name": "other", "image": "127.0.0.1:59990/x/y:latest", "memory": 64,
         "essential": False}]
    td = simple_taskdef(ecs, containers=containers, executionRoleArn=EXEC_ROLE)
    a = agent("ecrreg", srv=srv)
    a.register(attributes=DEFAULT_ATTRIBUTES + [
        {"name": "ecs.capability.private-registry-authentication.secretsmanager"}])
    a.connect()
    r = ecs.run_task(cluster="ecrreg", taskDefinition=td["taskDefinitionArn"],
                     launchType="EXTERNAL")
    assert r["failures"] == [], r["failures"]
    task = a.wait_for("PayloadMessage")["tasks"][0]
    by_name = {c["name"]: c for c in task["containers"]}
    assert by_name["local"]["registryAuthentication"] == {
        "type": "ecr", "ecrAuthData": {"registryId": "123456789012", "region": "us-west-2",
                                       "useExecutionRole": True, "endpointOverride": srv.url}}
    assert "registryAuthentication" not in by_name["hub"]
    assert by_name["asm"]["registryAuthentication"]["type"] == "asm"
    assert "registryAuthentication" not in by_name["other"]

    # the agent calls ECR with the execution-role credentials
    ec = task["executionRoleCredentials"]
    ecr = srv.client("ecr", ec["accessKeyId"], ec["secretAccessKey"], ec["sessionToken"])
    d = ecr.get_authorization_token()["authorizationData"][0]
    assert d["proxyEndpoint"] == f"http://{LOCAL}"
    assert base64.b64decode(d["authorizationToken"]).decode() == "AWS:ecs-local-registry-password"

    srv.admin("POST", "/registry-credentials", {"password": "pw", "expiresIn": -60,
                                                "rawToken": "not*base64"})
    before = time.time()
    d = ecr.get_authorization_token(registryIds=["123456789012"])["authorizationData"][0]
    assert d["authorizationToken"] == "not*base64"
    assert d["proxyEndpoint"] == f"http://{LOCAL}"
    assert before - 70 < d["expiresAt"].timestamp() < time.time() - 50
    srv.admin("POST", "/registry-credentials", {"password": "pw2", "expiresIn": 30,
                                                "proxyEndpoint": "http://127.0.0.1:6000"})
    d = ecr.get_authorization_token()["authorizationData"][0]
    assert base64.b64decode(d["authorizationToken"]).decode() == "AWS:pw2"
    assert d["proxyEndpoint"] == "http://127.0.0.1:6000"
    assert 0 < d["expiresAt"].timestamp() - time.time() <= 31
    srv.admin("POST", "/registry-credentials", {"password": "x", "expiresIn": "soon"}, expect=400)

    # api-log records the key that signed each call
    calls = srv.admin("GET", "/api-log?operation=GetAuthorizationToken")["requests"]
    assert len(calls) == 3
    assert {c["accessKeyId"] for c in calls} == {ec["accessKeyId"]}
    assert all(c["status"] == 200 for c in calls)
