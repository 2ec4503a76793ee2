"""Task definition fields as Docker shows them: volumes of every kind, the Docker options
that travel in dockerConfig, and refusals for what the instance does not offer."""
import os

import harness
from harness import docker, docker_inspect, wait_for
from test_agent_core import registered

SETTINGS = {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_CONTAINER_STOP_TIMEOUT": "1s",
            "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"}


def by_name(task):
    return {c["name"]: c for c in task["containers"]}


def test_volumes_of_every_kind(cp, cluster, make_agent, tmpdir_path):
    host_dir = os.path.join(tmpdir_path, "hostdata")
    os.makedirs(host_dir)
    with open(os.path.join(host_dir, "hello.txt"), "w") as f:
        f.write("from the host\n")
    shared = harness.unique("shared")  # a shared volume is Docker-global: a unique name
    cp.register("vols", [
        {"name": "writer", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sh", "-c", "echo hi > /scratch/x; echo s > /shared/y; sleep 300"],
         "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"},
                         {"sourceVolume": shared, "containerPath": "/shared"},
                         {"sourceVolume": "managed", "containerPath": "/managed"},
                         {"sourceVolume": "host", "containerPath": "/host", "readOnly": True}]},
        {"name": "reader", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sh", "-c", "sleep 300"],
         "volumesFrom": [{"sourceContainer": "writer", "readOnly": True}]}],
        volumes=[{"name": "scratch", "dockerVolumeConfiguration": {"scope": "task",
                                                                   "driver": "local"}},
                 {"name": shared, "dockerVolumeConfiguration": {
                     "scope": "shared", "autoprovision": True, "driver": "local"}},
                 {"name": "managed", "host": {}},
                 {"name": "host", "host": {"sourcePath": host_dir}}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "vols")[0]
    c = by_name(cp.wait_task(cluster, arn, "RUNNING", timeout=60))
    writer = docker_inspect(c["writer"]["runtimeId"])
    mounts = {m["Destination"]: m for m in writer["Mounts"]}
    assert mounts["/scratch"]["Type"] == "volume"
    assert mounts["/scratch"]["Name"].startswith("ecs-vols-1-scratch-")
    assert mounts["/managed"]["Name"].startswith("ecs-vols-1-managed-")
    assert mounts["/shared"]["Name"] == shared  # looked up or created by its own name
    assert mounts["/host"]["Source"] == host_dir and not mounts["/host"]["RW"]
    reader = docker_inspect(c["reader"]["runtimeId"])
    assert reader["HostConfig"]["VolumesFrom"] == [writer["Name"].lstrip("/") + ":ro"]
    out = wait_for(lambda: docker("exec", c["reader"]["runtimeId"], "cat", "/scratch/x",
                                  check=False), what="reader sees the writer's file")
    assert out == "hi"
    assert docker("exec", c["writer"]["runtimeId"], "cat", "/host/hello.txt") == "from the host"

    task_vols = [mounts["/scratch"]["Name"], mounts["/managed"]["Name"]]
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=30)
    # Cleanup removes the task's own volumes, and only those.
    wait_for(lambda: all(not docker("volume", "ls", "-q", "--filter", f"name={v}")
                         for v in task_vols), timeout=30, what="task volumes removed")
    assert docker("volume", "inspect", shared, "--format", "{{.Name}}") == shared
    docker("volume", "rm", shared, check=False)


def test_docker_options_reach_docker(cp, cluster, make_agent):
    cp.register("opts", [{
        "name": "main", "image": harness.BUSYBOX, "essential": True, "memory": 32,
        "memoryReservation": 16, "command": ["sleep", "300"], "user": "65534",
        "workingDirectory": "/tmp", "dockerLabels": {"team": "blue"},
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "readonlyRootFilesystem": True, "dnsServers": ["10.9.9.9"],
        "extraHosts": [{"hostname": "db.local", "ipAddress": "10.1.2.3"}],
        "hostname": "opts-host",
        "linuxParameters": {"initProcessEnabled": True, "sharedMemorySize": 64,
                            "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                            "tmpfs": [{"containerPath": "/run", "size": 16}]}}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "opts")[0]
    c = cp.wait_task(cluster, arn, "RUNNING", timeout=60)["containers"][0]
    info = docker_inspect(c["runtimeId"])
    cfg, hc = info["Config"], info["HostConfig"]
    assert cfg["User"] == "65534" and cfg["WorkingDir"] == "/tmp"
    assert cfg["Labels"]["team"] == "blue"
    assert cfg["Labels"]["com.amazonaws.ecs.task-arn"] == arn
    assert cfg["Hostname"] == "opts-host"
    assert hc["ReadonlyRootfs"] is True
    assert hc["Dns"] == ["10.9.9.9"]
    assert hc["ExtraHosts"] == ["db.local:10.1.2.3"]
    assert hc["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert hc["MemoryReservation"] == 16 << 20
    assert hc["Init"] is True
    assert hc["ShmSize"] == 64 << 20
    assert "NET_ADMIN" in hc["CapAdd"] and "MKNOD" in hc["CapDrop"]
    assert "/run" in hc["Tmpfs"]


def hand_payload(cp, cluster, instance, tid, host_config):
    task = harness.hand_task(cp, cluster, tid, [harness.sleeper_container(dockerConfig={
        "config": "{}", "hostConfig": host_config, "version": "1.17"})])
    cp.send_payload(cluster, instance, "hand-" + tid, [task])
    return task["arn"]


def test_privileged_refused_when_disabled(cp, cluster, make_agent):
    agent = make_agent(dict(SETTINGS, ECS_DISABLE_PRIVILEGED="true"))
    instance = registered(cp, cluster, agent)
    ci = cp.aws("ecs", "describe-container-instances", "--cluster", cluster,
                "--container-instances", instance)["containerInstances"][0]
    assert "com.amazonaws.ecs.capability.privileged-container" not in {
        a["name"] for a in ci["attributes"]}
    arn = hand_payload(cp, cluster, instance, "1" * 32, '{"Privileged":true}')
    body = cp.wait_report(arn)
    assert body["containers"][0]["reason"].startswith("CannotCreateContainerError: privileged")
    assert not harness.containers_of(cluster)


def test_unavailable_log_driver_refused(cp, cluster, make_agent):
    agent = make_agent(dict(SETTINGS, ECS_AVAILABLE_LOGGING_DRIVERS='["json-file"]'))
    instance = registered(cp, cluster, agent)
    arn = hand_payload(cp, cluster, instance, "2" * 32,
                       '{"LogConfig":{"Type":"syslog","Config":{}}}')
    body = cp.wait_report(arn)
    assert "ECS_AVAILABLE_LOGGING_DRIVERS" in body["containers"][0]["reason"]
    assert not harness.containers_of(cluster)


def test_run_task_overrides(cp, cluster, make_agent):
    # RunTask's containerOverrides: the command travels as the container's overrides, the
    # environment, cpu and memory inside the container model (§2.6.2).
    cp.register("over", [{"name": "app", "image": harness.BUSYBOX, "essential": True,
                          "memory": 16, "cpu": 10, "command": ["sleep", "300"],
                          "environment": [{"name": "MODE", "value": "default"}]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "over", overrides={"containerOverrides": [
        {"name": "app", "command": ["sh", "-c", "echo overridden; sleep 300"],
         "environment": [{"name": "MODE", "value": "override"},
                         {"name": "EXTRA", "value": "1"}],
         "cpu": 64, "memory": 48}]})[0]
    task = cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    d = docker_inspect(by_name(task)["app"]["runtimeId"])
    assert d["Config"]["Cmd"] == ["sh", "-c", "echo overridden; sleep 300"]
    env = dict(e.split("=", 1) for e in d["Config"]["Env"])
    assert env["MODE"] == "override" and env["EXTRA"] == "1"
    assert d["HostConfig"]["CpuShares"] == 64
    assert d["HostConfig"]["Memory"] == 48 * 1024 * 1024
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=60)
