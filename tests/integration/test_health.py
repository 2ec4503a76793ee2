"""Container health checks (§4.7, §3.3): the check reaches Docker, its status travels over
the signed TCS session into DescribeTasks, HEALTHY gates dependents, and
ECS_DISABLE_DOCKER_HEALTH_CHECK withdraws the capability."""
import harness
from harness import docker_inspect, wait_for
from test_agent_core import registered
from test_dependencies import containers, ts

SETTINGS = {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_CONTAINER_STOP_TIMEOUT": "2s"}
CAP = "ecs.capability.container-health-check"


def check(cmd, interval=1, retries=2):
    return {"command": ["CMD-SHELL", cmd], "interval": interval, "timeout": 5,
            "retries": retries, "startPeriod": 0}


def attributes(cp, cluster):
    ci = cp.aws("ecs", "describe-container-instances", "--cluster", cluster,
                "--container-instances", cp.instances(cluster)[0])["containerInstances"][0]
    return {a["name"] for a in ci["attributes"]}


def test_health_reported_through_tcs(cp, cluster, make_agent):
    cp.register("checked", [
        {"name": "good", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "300"], "healthCheck": check("exit 0")},
        {"name": "bad", "image": harness.BUSYBOX, "essential": False, "memory": 16,
         "command": ["sleep", "300"], "healthCheck": check("exit 1")},
        {"name": "plain", "image": harness.BUSYBOX, "essential": False, "memory": 16,
         "command": ["sleep", "300"]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    assert CAP in attributes(cp, cluster)
    arn = cp.run_task(cluster, "checked")[0]
    task = cp.wait_task(cluster, arn, "RUNNING", timeout=60)

    # The check definition reached Docker.
    good = docker_inspect(containers(task)["good"]["runtimeId"])
    assert good["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "exit 0"]
    assert good["Config"]["Healthcheck"]["Interval"] == 1_000_000_000

    def health():
        c = containers(cp.describe_task(cluster, arn))
        return {n: c[n]["healthStatus"] for n in c}
    wait_for(lambda: health() == {"good": "HEALTHY", "bad": "UNHEALTHY", "plain": "UNKNOWN"},
             timeout=30, what=f"health in DescribeTasks (now {health()})")
    # The essential containers are all healthy, so the task is.
    assert cp.describe_task(cluster, arn)["healthStatus"] == "HEALTHY"

    tcs = cp.admin("GET", "/tcs")
    assert tcs["rejectedFrames"] == 0, tcs["rejections"]
    inst = cp.connected_instance(cluster)
    assert tcs["counts"][inst]["PublishHealthRequest"] >= 1
    # The container runtime check (a Docker ping) is published too.
    wait_for(lambda: "PublishInstanceStatusRequest" in
             cp.admin("GET", "/tcs")["latest"].get(inst, {}), timeout=40,
             what="instance status published")
    latest = cp.admin("GET", "/tcs")["latest"][inst]["PublishInstanceStatusRequest"]["message"]
    assert latest["statuses"][0]["type"] == "ContainerRuntime"
    assert latest["statuses"][0]["status"] == "OK"
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=60)


def test_health_change_published_promptly(cp, cluster, make_agent):
    cp.register("flips", [
        {"name": "app", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sh", "-c", "touch /tmp/ok; sleep 300"],
         "healthCheck": check("test -f /tmp/ok")}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "flips")[0]
    task = cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    cid = containers(task)["app"]["runtimeId"]

    def status():
        return containers(cp.describe_task(cluster, arn))["app"]["healthStatus"]
    wait_for(lambda: status() == "HEALTHY", timeout=30, what="healthy")
    harness.docker("exec", cid, "rm", "/tmp/ok")
    # Docker notices within an interval or two; the agent publishes within a second of its
    # event, long before the next 20 s publish.
    wait_for(lambda: status() == "UNHEALTHY", timeout=12, what="unhealthy published")
    assert cp.describe_task(cluster, arn)["healthStatus"] == "UNHEALTHY"
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=60)


def test_healthy_dependency_waits_for_health(cp, cluster, make_agent):
    cp.register("gated", [
        {"name": "db", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sh", "-c", "sleep 3; touch /tmp/ready; sleep 300"],
         "healthCheck": check("test -f /tmp/ready")},
        {"name": "app", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "300"],
         "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "gated")[0]
    task = cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    db = docker_inspect(containers(task)["db"]["runtimeId"])
    app = docker_inspect(containers(task)["app"]["runtimeId"])
    first_ok = min(ts(e["End"]) for e in db["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    # app was created only once Docker had seen db pass its check.
    assert ts(app["Created"]) >= first_ok
    assert ts(app["Created"]) >= ts(db["State"]["StartedAt"]) + 3
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=60)


def test_health_check_capability_can_be_disabled(cp, cluster, make_agent):
    agent = make_agent({**SETTINGS, "ECS_DISABLE_DOCKER_HEALTH_CHECK": "true"})
    registered(cp, cluster, agent)
    attrs = attributes(cp, cluster)
    assert CAP not in attrs
    assert "com.amazonaws.ecs.capability.docker-remote-api.1.24" in attrs
