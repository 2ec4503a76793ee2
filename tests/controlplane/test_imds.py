"""The IMDS emulator (--imds): IMDSv2 tokens, identity document, instance
role credentials usable against ecs-local, spot instance-action."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.utils import InstanceMetadataFetcher

from cp_helpers import simple_taskdef


def _get(url, token=None, method="GET", headers=None):
    h = dict(headers or {})
    if token:
        h["X-aws-ec2-metadata-token"] = token
    req = urllib.request.Request(url, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


@pytest.fixture
def imds_server(make_server):
    return make_server("--imds", "127.0.0.1:0", "--imds-instance-id", "i-0123456789abcdef0")


def test_imdsv2_token_flow(imds_server):
    base = imds_server.imds_url
    st, token, hdrs = _get(base + "/latest/api/token", method="PUT",
                           headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert st == 200 and token and hdrs["X-aws-ec2-metadata-token-ttl-seconds"] == "60"
    assert _get(base + "/latest/api/token", method="PUT")[0] == 400
    assert _get(base + "/latest/api/token", method="PUT", headers={
        "X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"})[0] == 403
    assert _get(base + "/latest/meta-data/instance-id")[0] == 401          # v1 refused
    assert _get(base + "/latest/meta-data/instance-id", token="bogus")[0] == 401
    assert _get(base + "/latest/meta-data/instance-id", token=token)[1] == "i-0123456789abcdef0"
    st, doc, _ = _get(base + "/latest/dynamic/instance-identity/document", token=token)
    doc = json.loads(doc)
    assert doc["instanceId"] == "i-0123456789abcdef0" and doc["region"] == "us-west-2"
    assert doc["accountId"] == "123456789012" and doc["availabilityZone"] == "us-west-2a"
    assert _get(base + "/latest/dynamic/instance-identity/signature", token=token)[1]
    assert _get(base + "/latest/meta-data/placement/region", token=token)[1] == "us-west-2"
    mac = _get(base + "/latest/meta-data/mac", token=token)[1]
    assert _get(base + f"/latest/meta-data/network/interfaces/macs/{mac}/vpc-id",
                token=token)[1].startswith("vpc-")
    assert _get(base + "/latest/meta-data/nope", token=token)[0] == 404


def test_role_credentials_sign_requests_and_spot(imds_server):
    base = imds_server.imds_url
    # botocore's own IMDS client (the SDK path the agent mirrors)
    creds = InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                    base_url=base).retrieve_iam_role_credentials()
    assert creds["role_name"] == "ecsInstanceRole" and creds["access_key"].startswith("ASIA")
    ecs = imds_server.client("ecs", creds["access_key"], creds["secret_key"], creds["token"])
    ecs.create_cluster(clusterName="ec2")
    # register with the identity document: a real EC2 instance, EC2 launch type
    st, token, _ = _get(base + "/latest/api/token", method="PUT",
                        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    doc = _get(base + "/latest/dynamic/instance-identity/document", token=token)[1]
    sig = _get(base + "/latest/dynamic/instance-identity/signature", token=token)[1]
    ci = ecs.register_container_instance(
        cluster="ec2", instanceIdentityDocument=doc, instanceIdentityDocumentSignature=sig,
        totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                        {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024}],
        attributes=[{"name": "ecs.os-type", "value": "linux"}])["containerInstance"]
    assert ci["ec2InstanceId"] == "i-0123456789abcdef0"
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attrs["ecs.instance-type"] == "m5.large"
    # spot interruption notice: 404 until set through the admin API (§9.6)
    assert _get(base + "/latest/meta-data/spot/instance-action", token=token)[0] == 404
    imds_server.admin("POST", "/imds/spot-action", {"action": "terminate",
                                                    "time": "2030-01-01T00:02:00Z"})
    st, body, _ = _get(base + "/latest/meta-data/spot/instance-action", token=token)
    assert st == 200 and json.loads(body) == {"action": "terminate", "time": "2030-01-01T00:02:00Z"}
    imds_server.admin("DELETE", "/imds/spot-action")
    assert _get(base + "/latest/meta-data/spot/instance-action", token=token)[0] == 404
    info = imds_server.admin("GET", "/imds")
    assert info["instanceId"] == "i-0123456789abcdef0" and info["roleAccessKeyId"] == creds["access_key"]


def test_instance_role_key_bound_to_its_instance(imds_server, agent):
    base = imds_server.imds_url
    creds = InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                    base_url=base).retrieve_iam_role_credentials()
    ecs = imds_server.client()
    ecs.create_cluster(clusterName="bind")
    td = simple_taskdef(ecs)
    other = agent("bind", srv=imds_server)
    other.register()
    other.connect()
    arn = ecs.run_task(cluster="bind", taskDefinition=td["family"],
                       launchType="EXTERNAL")["tasks"][0]["taskArn"]
    token = _get(base + "/latest/api/token", method="PUT",
                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})[1]
    doc = _get(base + "/latest/dynamic/instance-identity/document", token=token)[1]
    ec2 = imds_server.client("ecs", creds["access_key"], creds["secret_key"], creds["token"])
    ec2.register_container_instance(cluster="bind", instanceIdentityDocument=doc)
    # the EC2 instance's role may not report for a task placed on another instance
    with pytest.raises(ec2.exceptions.AccessDeniedException):
        ec2.submit_task_state_change(cluster="bind", task=arn, status="RUNNING", reason="")


def test_sdk_credential_chain_via_endpoint_env(imds_server, monkeypatch):
    """AWS_EC2_METADATA_SERVICE_ENDPOINT is all an SDK needs to find the
    instance role here (§8.8)."""
    import botocore.session
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_server.imds_url + "/")
    session = botocore.session.Session()
    creds = session.get_credentials()
    assert creds.method == "iam-role" and creds.access_key.startswith("ASIA")
    ecs = session.create_client("ecs", region_name="us-west-2", endpoint_url=imds_server.url)
    assert "clusterArns" in ecs.list_clusters()
