"""Agent core, end to end: registration, the ACS session and one task through Docker,
checked against what Docker and the control plane really show."""
import json
import os
import re
import subprocess
import time
import urllib.request

import harness
from harness import docker, docker_inspect, wait_for

MIB = 1024 * 1024


def web_container(image, static_port, **extra):
    c = {
        "name": "web",
        "image": image,
        "entryPoint": ["sh", "-c"],
        # httpd as PID 1 has no SIGTERM handler, so a stop ends in SIGKILL (137).
        "command": ["echo $MODE > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"],
        "environment": [{"name": "MODE", "value": "prod"}],
        "cpu": 128,
        "memory": 64,
        "essential": True,
        "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"},
                         {"containerPort": 9090, "hostPort": static_port, "protocol": "tcp"}],
    }
    c.update(extra)
    return c


def registered(cp, cluster, agent, timeout=30):
    """Waits until the agent registered and holds its ACS session; returns the ARN."""
    return wait_for(lambda: (agent.alive() or _dead(agent)) and cp.connected_instance(cluster),
                    timeout=timeout, what="registration and ACS session")


def _dead(agent):
    raise AssertionError(f"agent exited with {agent.proc.returncode}:\n"
                         f"{agent.read_log()[-3000:]}")


def changes_for(cp, arn):
    return [c for c in cp.state_changes(task=arn)
            if c["operation"].endswith("SubmitTaskStateChange")]


def accepted(changes):
    return [c for c in changes if not (isinstance(c["result"], dict) and c["result"].get("error"))]


def test_task_lifecycle_through_docker(cp, cluster, make_agent, registry):
    # The image is only in the registry: the agent must pull it.
    docker("rmi", "-f", registry.busybox, check=False)
    static_port = harness.free_port()
    cp.register("web", [web_container(registry.busybox, static_port)])
    agent = make_agent()
    instance = registered(cp, cluster, agent)
    assert "container-instance/" in instance

    arn = cp.run_task(cluster, "web")[0]
    task = cp.wait_task(cluster, arn, "RUNNING")
    c = task["containers"][0]
    assert c["lastStatus"] == "RUNNING"
    bindings = {b["containerPort"]: b for b in c["networkBindings"]}
    assert bindings[9090]["hostPort"] == static_port
    dynamic = bindings[8080]["hostPort"]
    assert dynamic not in (0, 8080, static_port)
    assert all(b["protocol"] == "tcp" for b in c["networkBindings"])

    # What Docker shows for the container the agent made.
    info = docker_inspect(c["runtimeId"])
    assert info["State"]["Running"]
    assert re.fullmatch(r"/ecs-web-1-web-[0-9a-f]{20}", info["Name"]), info["Name"]
    labels = info["Config"]["Labels"]
    assert labels["com.amazonaws.ecs.task-arn"] == arn
    assert labels["com.amazonaws.ecs.container-name"] == "web"
    assert labels["com.amazonaws.ecs.cluster"] == cluster
    assert labels["com.amazonaws.ecs.task-definition-family"] == "web"
    assert labels["com.amazonaws.ecs.task-definition-version"] == "1"
    env = info["Config"]["Env"]
    assert "MODE=prod" in env
    assert f"AWS_REGION={harness.REGION}" in env
    assert any(e.startswith("ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/") for e in env)
    assert info["Config"]["Entrypoint"] == ["sh", "-c"]
    assert info["Config"]["Cmd"][0].startswith("echo $MODE")
    assert info["HostConfig"]["CpuShares"] == 128
    assert info["HostConfig"]["Memory"] == 64 * MIB
    assert docker("image", "inspect", registry.busybox, "--format", "{{.Id}}")

    # The dynamic port really serves the container, on loopback.
    body = wait_for(lambda: _get(f"http://127.0.0.1:{dynamic}/"), timeout=10,
                    what="container HTTP")
    assert body.strip() == "prod"

    # StopTask: SIGTERM, ignored by PID 1, then SIGKILL after ECS_CONTAINER_STOP_TIMEOUT (3s).
    t0 = time.monotonic()
    cp.stop_task(cluster, arn)
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=30)
    assert time.monotonic() - t0 >= 2.5
    assert task["containers"][0]["exitCode"] == 137
    assert docker_inspect(c["runtimeId"])["State"]["ExitCode"] == 137
    assert not docker_inspect(c["runtimeId"])["State"]["Running"]

    # Reported in order: RUNNING, then STOPPED, each container change with its task.
    statuses = [ch["body"]["status"] for ch in accepted(changes_for(cp, arn))]
    assert statuses == ["RUNNING", "STOPPED"], statuses


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def test_container_exit_reports_exit_code(cp, cluster, make_agent):
    cp.register("exiter", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                            "memory": 32, "command": ["sh", "-c", "sleep 1; exit 3"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "exiter")[0]
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=30)
    assert task["containers"][0]["exitCode"] == 3
    assert docker_inspect(task["containers"][0]["runtimeId"])["State"]["ExitCode"] == 3
    assert task["stopCode"] == "EssentialContainerExited"


def test_stop_sends_sigterm_first(cp, cluster, make_agent):
    cp.register("polite", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                            "memory": 32, "command": ["sh", "-c",
                                                      "trap 'exit 143' TERM; "
                                                      "while true; do sleep 0.1; done"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
                        "ECS_CONTAINER_STOP_TIMEOUT": "20s"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "polite")[0]
    cp.wait_task(cluster, arn, "RUNNING")
    t0 = time.monotonic()
    cp.stop_task(cluster, arn)
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=30)
    # It exited on SIGTERM, long before the 20 s grace period would have sent SIGKILL.
    assert task["containers"][0]["exitCode"] == 143
    assert time.monotonic() - t0 < 15


def test_state_changes_retried_until_accepted(cp, cluster, make_agent):
    cp.register("retry", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 32, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    cp.admin("POST", "/faults", {"kind": "submit_error", "count": 3,
                                 "code": "ServerException"})
    arn = cp.run_task(cluster, "retry")[0]
    cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    changes = changes_for(cp, arn)
    refused = [c for c in changes if c not in accepted(changes)]
    assert len(refused) == 3, changes
    # The same RUNNING report, retried until it went through.
    assert {c["body"]["status"] for c in changes} == {"RUNNING"}
    assert len(accepted(changes)) == 1
    assert "Failed to report task" in agent.read_log()


def test_wrong_credentials_retries_with_clear_error(cp, cluster, make_agent):
    agent = make_agent(env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    agent.wait_log(r"Registration failed: InvalidSignatureException.*retrying", timeout=20)
    time.sleep(4)
    assert agent.alive()
    assert cp.instances(cluster) == []


def test_control_plane_down_at_start(tmpdir_path, make_agent):
    port = harness.free_port()
    url = f"http://127.0.0.1:{port}"
    agent = make_agent(cp_url=url)
    agent.wait_log(r"Registration failed: .*retrying", timeout=20)
    assert agent.alive()
    # The control plane comes up on that port later; the agent must register with it.
    late_dir = os.path.join(tmpdir_path, "late")
    os.makedirs(late_dir)
    late = harness.ControlPlane(late_dir, port=port).start()
    try:
        late.create_cluster(agent.cluster)
        wait_for(lambda: late.instances(agent.cluster), timeout=40,
                 what="registration after the control plane came up")
        assert agent.alive()
    finally:
        late.stop()


def test_acs_drop_reconnects_and_task_is_unaffected(cp, cluster, make_agent):
    cp.register("steady", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                            "memory": 32, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "steady")[0]
    task = cp.wait_task(cluster, arn, "RUNNING")
    cid = task["containers"][0]["runtimeId"]
    started = docker_inspect(cid)["State"]["StartedAt"]

    before = len(cp.admin("GET", "/acs/sessions")["closed"])
    cp.admin("POST", "/faults", {"kind": "close_acs", "abort": True})
    wait_for(lambda: len(cp.admin("GET", "/acs/sessions")["closed"]) > before and
             any(s["open"] for s in cp.admin("GET", "/acs/sessions")["sessions"]),
             timeout=30, what="ACS reconnect")

    # The task's container was left alone.
    info = docker_inspect(cid)
    assert info["State"]["Running"] and info["State"]["StartedAt"] == started
    assert cp.describe_task(cluster, arn)["lastStatus"] == "RUNNING"
    assert len(harness.containers_of(cluster)) == 1
    # And the new session works: StopTask reaches the agent through it.
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=30)


def test_invalid_payloads_are_not_acked(cp, cluster, make_agent):
    cp.register("good", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                          "memory": 32, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    instance = registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "good")[0]
    cid = cp.wait_task(cluster, arn, "RUNNING")["containers"][0]["runtimeId"]

    cp.admin("POST", "/acs/send", {"frame": "{not json"})
    agent.wait_log(r"ACS: dropped a message")

    bad = harness.hand_task(cp, cluster, "f" * 32, [{"name": "noimage", "essential": True}],
                            family="bad")
    cp.send_payload(cluster, instance, "bad-payload-1", [bad], seq=100)
    agent.wait_log(r"task .*f{32} rejected")
    # A heartbeat sent after the payload is acked; the payload never is.
    cp.admin("POST", "/acs/heartbeat", {})
    wait_for(lambda: cp.admin("GET", "/acs/messages?type=HeartbeatAckRequest")["messages"],
             what="heartbeat ack")
    time.sleep(1)
    acks = cp.admin("GET", "/acs/messages?type=AckRequest")["messages"]
    assert not [m for m in acks if m["message"]["message"]["messageId"] == "bad-payload-1"]
    assert not any("noimage" in (docker_inspect(i) or {}).get("Name", "")
                   for i in harness.containers_of(cluster))

    # The good task kept running and the agent is fine.
    assert docker_inspect(cid)["State"]["Running"]
    assert agent.alive()
    assert cp.describe_task(cluster, arn)["lastStatus"] == "RUNNING"


def test_sigterm_leaves_tasks_running_and_exits_clean(cp, cluster, make_agent):
    cp.register("survivor", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                              "memory": 32, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "survivor")[0]
    cid = cp.wait_task(cluster, arn, "RUNNING")["containers"][0]["runtimeId"]
    # 0 = clean; a sanitizer finding (leak at exit included) would change the code.
    assert agent.stop() == 0, agent.read_log()[-3000:]
    assert docker_inspect(cid)["State"]["Running"]


def test_reregisters_with_saved_arn(cp, cluster, make_agent):
    first = make_agent()
    arn1 = registered(cp, cluster, first)
    assert first.stop() == 0
    second = harness.Agent(first.tmpdir, cluster, cp.url)
    second.start()
    try:
        second.wait_log(r"Re-registering as " + re.escape(arn1))
        second.wait_log(r"Registered as " + re.escape(arn1))
        assert cp.instances(cluster) == [arn1]
    finally:
        second.kill()


def test_invalid_config_is_terminal(tmpdir_path):
    cfg = os.path.join(tmpdir_path, "bad.config")
    with open(cfg, "w") as f:
        f.write("ECS_CLUSTER=x\nECS_RESERVED_PORTS=[22,notaport]\n")
    p = subprocess.run([harness.agent_binary(), "--config", cfg], capture_output=True,
                       text=True, env={"PATH": "/usr/bin:/bin"}, timeout=20)
    assert p.returncode == 5
    assert "ECS_RESERVED_PORTS" in p.stderr and "notaport" in p.stderr


def test_check_config_redacts_secrets(tmpdir_path):
    cfg = os.path.join(tmpdir_path, "ok.config")
    with open(cfg, "w") as f:
        f.write('ECS_CLUSTER=prod-1\nAWS_SECRET_ACCESS_KEY=topsecret\nAWS_ACCESS_KEY_ID=AKID\n'
                'ECS_CONTAINER_STOP_TIMEOUT=1m30s\n')
    p = subprocess.run([harness.agent_binary(), "--config", cfg, "--check-config"],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
                       timeout=20)
    assert p.returncode == 0, p.stderr
    assert "topsecret" not in p.stdout
    assert "AWS_SECRET_ACCESS_KEY=<redacted>" in p.stdout
    assert "ECS_CLUSTER=prod-1" in p.stdout
    assert re.search(r"ECS_CONTAINER_STOP_TIMEOUT=1m30s", p.stdout), p.stdout


def test_quoted_values_are_kept_and_refused(tmpdir_path):
    # ecs-init does not remove quotes; a quoted cluster name is a mistake we name.
    cfg = os.path.join(tmpdir_path, "quoted.config")
    with open(cfg, "w") as f:
        f.write('ECS_CLUSTER="prod"\n')
    p = subprocess.run([harness.agent_binary(), "--config", cfg, "--check-config"],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
                       timeout=20)
    assert p.returncode == 5
    assert "ECS_CLUSTER" in p.stderr and "quotes" in p.stderr
