"""The container metadata file (ECS_ENABLE_CONTAINER_METADATA): what a container reads at
$ECS_CONTAINER_METADATA_FILE, against Docker's inspect, the control plane and the instance
metadata; INITIAL for a container that never ran; read-only for the container; gone after
cleanup; absent when the setting is off."""
import json
import os
import subprocess

import harness
from harness import docker_inspect, wait_for
from test_agent_core import registered
from test_credentials import container_env

PUBLIC_IP = "203.0.113.7"


def task_dir(agent, task_arn):
    return os.path.join(agent.datadir, "metadata", task_arn.split(":task/", 1)[1])


def read_in_container(cid, path):
    p = subprocess.run(["docker", "exec", cid, "cat", path], capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None


def test_container_metadata_file(tmpdir_path):
    imds_port = harness.free_port()
    cp = harness.ControlPlane(tmpdir_path, extra_args=[
        "--imds", f"127.0.0.1:{imds_port}", "--imds-public-ip", PUBLIC_IP]).start()
    cluster = harness.unique()
    agent = None
    try:
        cp.create_cluster(cluster)
        cp.register("mdfile", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                                "memory": 32, "command": ["sleep", "300"],
                                "portMappings": [{"containerPort": 8080, "hostPort": 0}]}])
        cp.register("mdbroken", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                                  "memory": 32, "command": ["/no/such/program"]}])
        agent_dir = os.path.join(tmpdir_path, "agent")
        os.makedirs(agent_dir)
        agent = harness.Agent(agent_dir, cluster, cp.url, {
            "ECS_EXTERNAL": "false", "ECS_ENABLE_CONTAINER_METADATA": "true",
            "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
            "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "6s"},
            env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{imds_port}"}).start()
        ci_arn = registered(cp, cluster, agent)
        ci = cp.aws("ecs", "describe-container-instances", "--cluster", cluster,
                    "--container-instances", ci_arn)["containerInstances"][0]
        az = {a["name"]: a.get("value") for a in ci["attributes"]}.get("ecs.availability-zone")

        arn = cp.run_task(cluster, "mdfile", launch_type="EC2")[0]
        task = cp.wait_task(cluster, arn, "RUNNING")
        cid = task["containers"][0]["runtimeId"]
        inspect = docker_inspect(cid)
        path = container_env(cid)["ECS_CONTAINER_METADATA_FILE"]
        mount_dir = os.path.dirname(path)
        assert mount_dir.startswith("/opt/ecs/metadata/") and \
            path.endswith("/ecs-container-metadata.json")
        mounts = [m for m in inspect["Mounts"] if m["Destination"] == mount_dir]
        assert len(mounts) == 1 and mounts[0]["RW"] is False
        assert mounts[0]["Source"] == os.path.join(task_dir(agent, arn), "main")

        md = wait_for(lambda: (read_in_container(cid, path) or {}).get("MetadataFileStatus")
                      == "READY" and read_in_container(cid, path), what="READY metadata file")
        imds = cp.admin("GET", "/imds")
        net = inspect["NetworkSettings"]
        bound = net["Ports"]["8080/tcp"]
        assert md["Cluster"] == cluster and md["ContainerInstanceARN"] == ci_arn
        assert md["TaskARN"] == arn and md["TaskDefinitionFamily"] == "mdfile"
        assert md["TaskDefinitionRevision"] == task["taskDefinitionArn"].rsplit(":", 1)[1]
        assert md["ContainerName"] == "main"
        assert md["ContainerID"] == inspect["Id"] and md["DockerContainerName"] == inspect["Name"]
        assert md["ImageID"] == inspect["Image"]
        assert md["ImageName"] == inspect["Config"]["Image"]
        assert sorted(md["PortMappings"], key=lambda p: p.get("BindIp", "")) == sorted(
            ({"ContainerPort": 8080, "HostPort": int(b["HostPort"]), "BindIp": b["HostIp"],
              "Protocol": "tcp"} for b in bound), key=lambda p: p["BindIp"])
        assert md["Networks"] == [{"NetworkMode": "bridge",
                                   "IPv4Addresses": [net["Networks"]["bridge"]["IPAddress"]]}]
        assert md["HostPrivateIPv4Address"] == imds["privateIp"]
        assert md["HostPublicIPv4Address"] == PUBLIC_IP
        assert md.get("AvailabilityZone") == az
        # The container reads it and cannot change it.
        w = subprocess.run(["docker", "exec", cid, "sh", "-c",
                            f"echo x > {path}; echo x > {mount_dir}/other"],
                           capture_output=True, text=True)
        assert w.returncode != 0
        assert read_in_container(cid, path) == md

        # A container that never ran keeps the INITIAL file: the agent's own facts only.
        broken = cp.run_task(cluster, "mdbroken", launch_type="EC2")[0]
        cp.wait_task(cluster, broken, "STOPPED")
        with open(os.path.join(task_dir(agent, broken), "main",
                               "ecs-container-metadata.json")) as f:
            initial = json.load(f)
        assert initial["MetadataFileStatus"] == "INITIAL" and initial["TaskARN"] == broken
        assert initial["ContainerInstanceARN"] == ci_arn and initial["ContainerName"] == "main"
        assert "ContainerID" not in initial and "Networks" not in initial

        # Cleanup takes the task's files.
        cp.stop_task(cluster, arn)
        cp.wait_task(cluster, arn, "STOPPED")
        for a in (arn, broken):
            wait_for(lambda: not os.path.exists(task_dir(agent, a)), timeout=40,
                     what=f"metadata files of {a} removed")
        assert agent.alive()
    finally:
        if agent:
            agent.kill()
        cp.stop()
        harness.remove_containers_of(cluster)


def test_no_metadata_file_by_default(cp, cluster, make_agent):
    cp.register("nomd", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                          "memory": 32, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "nomd")[0]
    cid = cp.wait_task(cluster, arn, "RUNNING")["containers"][0]["runtimeId"]
    assert "ECS_CONTAINER_METADATA_FILE" not in container_env(cid)
    assert not [m for m in docker_inspect(cid)["Mounts"]
                if m["Destination"].startswith("/opt/ecs/metadata")]
    assert not os.path.exists(os.path.join(agent.datadir, "metadata"))
