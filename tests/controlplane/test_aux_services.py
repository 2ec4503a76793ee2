"""ECR GetAuthorizationToken, SSM GetParameters, Secrets Manager
GetSecretValue - seeded through the admin API, called the way the agent
calls them: with the task's execution-role credentials (§1.13, §10)."""

import base64
import uuid

import pytest

from cp_helpers import simple_taskdef


@pytest.fixture
def exec_creds(server, running_agent, cluster, ecs):
    a = running_agent()
    td = simple_taskdef(ecs, executionRoleArn="arn:aws:iam::123456789012:role/exec")
    ecs.run_task(cluster=cluster, taskDefinition=td["family"], launchType="EXTERNAL")
    c = a.wait_for("PayloadMessage")["tasks"][0]["executionRoleCredentials"]
    return c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]


def test_ssm_get_parameters(server, exec_creds):
    name = "/app/" + uuid.uuid4().hex[:6] + "/db-password"
    seeded = server.admin("POST", "/parameters", {"name": name, "value": "hunter2",
                                                  "type": "SecureString"})
    assert seeded["arn"] == f"arn:aws:ssm:us-west-2:123456789012:parameter{name}"
    ssm = server.client("ssm", *exec_creds)
    r = ssm.get_parameters(Names=[name, seeded["arn"], "/missing"], WithDecryption=True)
    assert [p["Value"] for p in r["Parameters"]] == ["hunter2", "hunter2"]
    assert r["Parameters"][0]["Type"] == "SecureString" and r["Parameters"][0]["ARN"] == seeded["arn"]
    assert r["InvalidParameters"] == ["/missing"]
    enc = ssm.get_parameters(Names=[name])["Parameters"][0]["Value"]
    assert enc != "hunter2"
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "hunter2"
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/missing")


def test_secrets_manager(server, exec_creds):
    name = "db-" + uuid.uuid4().hex[:6]
    seeded = server.admin("POST", "/secrets", {"name": name,
                                               "secretString": '{"username":"u","password":"p"}'})
    assert seeded["arn"].startswith(f"arn:aws:secretsmanager:us-west-2:123456789012:secret:{name}-")
    sm = server.client("secretsmanager", *exec_creds)
    for ref in (name, seeded["arn"], seeded["arn"][:-7]):
        r = sm.get_secret_value(SecretId=ref)
        assert r["SecretString"] == '{"username":"u","password":"p"}' and r["Name"] == name
        assert r["VersionStages"] == ["AWSCURRENT"] and r["VersionId"] == seeded["versionId"]
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId="nope-" + name)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=name, VersionId=str(uuid.uuid4()))


def test_ecr_authorization_token(server, exec_creds):
    ecr = server.client("ecr", *exec_creds)
    data = ecr.get_authorization_token()["authorizationData"]
    assert len(data) == 1
    user, _, pw = base64.b64decode(data[0]["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and pw
    assert data[0]["proxyEndpoint"] == "https://123456789012.dkr.ecr.us-west-2.amazonaws.com"
    server.admin("POST", "/registry-credentials", {"registryId": "210987654321", "password": "pw-1",
                                                   "proxyEndpoint": "http://127.0.0.1:5000"})
    d = ecr.get_authorization_token(registryIds=["210987654321"])["authorizationData"][0]
    assert base64.b64decode(d["authorizationToken"]).decode() == "AWS:pw-1"
    assert d["proxyEndpoint"] == "http://127.0.0.1:5000"
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.get_authorization_token(registryIds=["nope"])
