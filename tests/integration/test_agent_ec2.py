"""The EC2 code path (instance identity and instance-role credentials from IMDS), task
role credentials over ACS, and deregistration."""
import json
import os
import time

import harness
from harness import docker_inspect, wait_for
from test_agent_core import registered


def test_ec2_identity_and_instance_role(tmpdir_path):
    imds_port = harness.free_port()
    cp = harness.ControlPlane(tmpdir_path, extra_args=[
        "--imds", f"127.0.0.1:{imds_port}", "--imds-instance-id", "i-0123456789abcdef0"]).start()
    cluster = harness.unique()
    try:
        cp.create_cluster(cluster)
        agent_dir = os.path.join(tmpdir_path, "agent")
        os.makedirs(agent_dir)
        # No region, no keys, not external: both must come from the instance metadata.
        agent = harness.Agent(agent_dir, cluster, cp.url,
                              {"ECS_EXTERNAL": "false", "AWS_DEFAULT_REGION": None},
                              env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                                   "AWS_EC2_METADATA_SERVICE_ENDPOINT":
                                       f"http://127.0.0.1:{imds_port}"})
        agent.start()
        try:
            arn = registered(cp, cluster, agent)
            ci = cp.aws("ecs", "describe-container-instances", "--cluster", cluster,
                        "--container-instances", arn)["containerInstances"][0]
            assert ci["ec2InstanceId"] == "i-0123456789abcdef0"
            assert agent.wait_log(r"Using AWS credentials from imds:")
            # Registered in the region of the identity document.
            assert arn.startswith(f"arn:aws:ecs:{harness.REGION}:")
            attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
            assert attrs.get("ecs.os-type") == "linux"
            assert "ecs.capability.external" not in attrs
        finally:
            agent.kill()
    finally:
        cp.stop()
        harness.remove_containers_of(cluster)


def test_role_tasks_not_placed_without_the_capability(cp, cluster, make_agent):
    # Without ECS_ENABLE_TASK_IAM_ROLE the agent does not advertise task-iam-role, and ECS
    # does not place tasks with a task role here. (With it: test_credentials.py.)
    cp.register("roled", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 32, "command": ["sleep", "300"]}],
                task_role_arn="arn:aws:iam::123456789012:role/app")
    agent = make_agent({"ECS_ENABLE_TASK_IAM_ROLE": "false"})
    arn = registered(cp, cluster, agent)
    ci = cp.aws("ecs", "describe-container-instances", "--cluster", cluster,
                "--container-instances", arn)["containerInstances"][0]
    names = {a["name"] for a in ci["attributes"]}
    assert "com.amazonaws.ecs.capability.task-iam-role" not in names
    out = cp.aws("ecs", "run-task", "--cluster", cluster, "--task-definition", "roled",
                 "--launch-type", "EXTERNAL")
    assert out["tasks"] == [] and out["failures"][0]["reason"] == "ATTRIBUTE"


def test_payload_credentials_are_acked_and_injected(cp, cluster, make_agent):
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    instance = registered(cp, cluster, agent)
    creds = {"credentialsId": "cred-0001", "roleArn": "arn:aws:iam::123456789012:role/app",
             "accessKeyId": "ASIAEXAMPLE", "secretAccessKey": "s3cr3t-value",
             "sessionToken": "tok", "expiration": "2030-01-01T06:00:00.000+0000"}
    task = harness.hand_task(cp, cluster, "c" * 32, [harness.sleeper_container()],
                             family="handmade", roleCredentials=creds)
    task_arn = task["arn"]
    cp.send_payload(cluster, instance, "cred-payload-1", [task])

    def acked(kind, key, value):
        return [m for m in cp.admin("GET", f"/acs/messages?direction=in&type={kind}")["messages"]
                if m["message"]["message"].get(key) == value]
    wait_for(lambda: acked("AckRequest", "messageId", "cred-payload-1"), what="payload ack")
    ack = acked("IAMRoleCredentialsAckRequest", "credentialsId", "cred-0001")
    assert ack and ack[0]["message"]["message"]["expiration"] == creds["expiration"]

    def container():
        ids = harness.containers_of(cluster)
        return ids and docker_inspect(ids[0])
    info = wait_for(container, what="task container")
    assert ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/cred-0001"
            in info["Config"]["Env"])

    # A refresh for a task the agent runs is acked; one for an unknown task is not.
    refresh = {"type": "IAMRoleCredentialsMessage", "message": {
        "messageId": "refresh-1", "taskArn": task_arn, "roleType": "TaskApplication",
        "roleCredentials": dict(creds, accessKeyId="ASIANEW")}}
    cp.admin("POST", "/acs/send", {"message": refresh})
    wait_for(lambda: acked("IAMRoleCredentialsAckRequest", "messageId", "refresh-1"),
             what="refresh ack")
    stray = {"type": "IAMRoleCredentialsMessage", "message": {
        "messageId": "refresh-2", "taskArn": task_arn.replace("c" * 32, "d" * 32),
        "roleType": "TaskApplication", "roleCredentials": dict(creds, credentialsId="x")}}
    cp.admin("POST", "/acs/send", {"message": stray})
    agent.wait_log(r"credentials for unknown task")
    assert not acked("IAMRoleCredentialsAckRequest", "messageId", "refresh-2")
    # Secrets never reach the log.
    assert "s3cr3t-value" not in agent.read_log()


def test_deregistered_instance_ends_the_agent(cp, cluster, make_agent):
    agent = make_agent()
    arn = registered(cp, cluster, agent)
    cp.aws("ecs", "deregister-container-instance", "--cluster", cluster,
           "--container-instance", arn, "--force")
    wait_for(lambda: not agent.alive(), timeout=30, what="agent exit")
    assert agent.proc.returncode == 5
    assert "inactive" in agent.read_log()
