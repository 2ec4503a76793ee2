"""Task metadata v2, v3 and v4 as a container reads them (busybox nc to 169.254.170.2 at the
URIs the agent injected), checked field by field against what Docker's inspect and the
control plane's DescribeTasks say."""
import json
import subprocess

import harness
from test_agent_core import registered
from test_credentials import answer, container_env
from test_endpoints import fetch


def start(cp, cluster, make_agent, settings=None, tags=None):
    cp.register("meta", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                          "memory": 32, "cpu": 128, "command": ["sleep", "300"],
                          "dockerLabels": {"team": "it"},
                          "portMappings": [{"containerPort": 8080, "hostPort": 0}]}],
                cpu="256", memory="512")
    agent = make_agent(dict({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"}, **(settings or {})))
    ci = registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "meta", **({"tags": tags} if tags else {}))[0]
    task = cp.wait_task(cluster, arn, "RUNNING")
    return agent, ci, task


def get(cid, url):
    host, _, path = url.removeprefix("http://").partition("/")
    return answer(fetch(cid, host, "/" + path))


def test_metadata_v4_v3_v2(cp, cluster, make_agent):
    agent, ci, task = start(cp, cluster, make_agent)
    ctr = task["containers"][0]
    cid = ctr["runtimeId"]
    env = container_env(cid)
    inspect = json.loads(subprocess.run(["docker", "inspect", cid], capture_output=True,
                                        text=True, check=True).stdout)[0]
    v4 = env["ECS_CONTAINER_METADATA_URI_V4"]
    v3 = env["ECS_CONTAINER_METADATA_URI"]
    assert v4.startswith("http://169.254.170.2/v4/") and v3.startswith("http://169.254.170.2/v3/")
    assert env["ECS_AGENT_URI"].startswith("http://169.254.170.2/api/")

    # v4 container, against Docker's view and the control plane's.
    status, c = get(cid, v4)
    assert status == 200, c
    assert c["DockerId"] == inspect["Id"]
    assert c["DockerName"] == inspect["Name"].lstrip("/")
    assert c["Name"] == "main" and c["Image"] == harness.BUSYBOX
    assert c["ImageID"] == inspect["Image"]
    assert c["Labels"] == inspect["Config"]["Labels"]
    assert c["Labels"]["team"] == "it"
    assert (c["KnownStatus"], c["DesiredStatus"], c["Type"]) == ("RUNNING", "RUNNING", "NORMAL")
    assert c["Limits"] == {"CPU": 128, "Memory": 32}
    assert c["ContainerARN"] == ctr["containerArn"]
    net = inspect["NetworkSettings"]
    assert c["Networks"] == [{"NetworkMode": "bridge", "IPv4Addresses": [net["IPAddress"]]}]
    bound = net["Ports"]["8080/tcp"][0]
    assert {"ContainerPort": 8080, "Protocol": "tcp", "HostPort": int(bound["HostPort"]),
            "HostIp": bound["HostIp"]} in c["Ports"]
    assert c["CreatedAt"].endswith("Z") and c["StartedAt"].endswith("Z")
    assert "ExitCode" not in c and "FinishedAt" not in c

    # v4 task, against DescribeTasks.
    status, t = get(cid, v4 + "/task")
    assert status == 200, t
    assert (t["Cluster"], t["TaskARN"], t["Family"], t["Revision"]) == \
        (cluster, task["taskArn"], "meta", str(task["taskDefinitionArn"].rsplit(":", 1)[1]))
    assert (t["KnownStatus"], t["DesiredStatus"]) == ("RUNNING", "RUNNING")
    assert t["Limits"] == {"CPU": 0.25, "Memory": 512}
    assert t["LaunchType"] and t["FaultInjectionEnabled"] is False
    # prefer-cached with the image present: no pull happened, so no pull times.
    assert "PullStartedAt" not in t and "PullStoppedAt" not in t
    assert [x["DockerId"] for x in t["Containers"]] == [inspect["Id"]]
    assert t["Containers"][0]["ContainerARN"] == ctr["containerArn"]

    # v3: the same without v4's fields.
    status, c3 = get(cid, v3)
    assert status == 200 and c3["DockerId"] == inspect["Id"]
    assert "ContainerARN" not in c3 and "LogDriver" not in c3
    assert all("HostIp" not in p for p in c3["Ports"])
    status, t3 = get(cid, v3 + "/task")
    assert status == 200 and t3["TaskARN"] == task["taskArn"] and "LaunchType" not in t3

    # v2: found by the caller's address.
    status, t2 = answer(fetch(cid, "169.254.170.2", "/v2/metadata"))
    assert status == 200 and t2["TaskARN"] == task["taskArn"], t2
    status, c2 = answer(fetch(cid, "169.254.170.2", "/v2/metadata/" + inspect["Id"]))
    assert status == 200 and c2["DockerId"] == inspect["Id"]

    # Unknown endpoint IDs: the official statuses and words.
    status, body = answer(fetch(cid, "169.254.170.2", "/v4/nope/task"))
    assert status == 404 and body.startswith("V4 task metadata handler: "), body
    status, body = answer(fetch(cid, "169.254.170.2", "/v3/nope"))
    assert status == 500 and body.startswith("V3 container metadata handler: "), body


def test_metadata_with_tags_from_the_control_plane(cp, cluster, make_agent):
    """…WithTags asks ECS (ListTagsForResource) at each request: the task's and the
    instance's tags as the control plane has them now, and an ECS failure in Errors."""
    agent, ci, task = start(cp, cluster, make_agent,
                            {"ECS_CONTAINER_INSTANCE_TAGS": json.dumps({"rack": "r7"})},
                            tags=[{"key": "team", "value": "blue"}])
    cid = task["containers"][0]["runtimeId"]
    v4 = container_env(cid)["ECS_CONTAINER_METADATA_URI_V4"]
    status, t = get(cid, v4 + "/taskWithTags")
    assert status == 200, t
    assert t["TaskTags"] == {"team": "blue"}, t
    assert t["ContainerInstanceTags"] == {"rack": "r7"}, t
    assert "Errors" not in t and t["TaskARN"] == task["taskArn"]
    assert [c["DockerId"] for c in t["Containers"]] == [cid]
    # Plain /task carries no tags.
    status, plain = get(cid, v4 + "/task")
    assert status == 200 and "TaskTags" not in plain and "ContainerInstanceTags" not in plain

    # Tagged after launch: seen at once, so it is the control plane's answer, not the payload.
    cp.aws("ecs", "tag-resource", "--resource-arn", task["taskArn"],
           "--tags", json.dumps([{"key": "stage", "value": "prod"}]))
    status, t = get(cid, v4 + "/taskWithTags")
    assert status == 200 and t["TaskTags"] == {"team": "blue", "stage": "prod"}, t
    status, t2 = answer(fetch(cid, "169.254.170.2", "/v2/metadataWithTags"))
    assert status == 200 and t2["TaskTags"] == {"team": "blue", "stage": "prod"}, t2
    status, t3 = get(cid, container_env(cid)["ECS_CONTAINER_METADATA_URI"] + "/taskWithTags")
    assert status == 200 and t3["ContainerInstanceTags"] == {"rack": "r7"}, t3

    # ECS refuses one of the two calls: the answer still comes, that side in Errors.
    cp.admin("POST", "/faults", {"kind": "bad_signature", "count": 1, "scope": "api"})
    status, t = get(cid, v4 + "/taskWithTags")
    assert status == 200, t
    assert len(t["Errors"]) == 1, t
    e = t["Errors"][0]
    assert e["ErrorCode"] == "InvalidSignatureException" and e["StatusCode"] >= 400, e
    want = {"TaskTags": task["taskArn"], "ContainerInstanceTags": ci}
    assert e["ResourceARN"] == want[e["ErrorField"]], e
    other = "ContainerInstanceTags" if e["ErrorField"] == "TaskTags" else "TaskTags"
    assert e["ErrorField"] not in t and other in t, t
    assert agent.alive()
