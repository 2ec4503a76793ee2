"""Multi-container tasks: dependsOn conditions, essential semantics, stop order (§4.6-4.8),
checked against the times Docker recorded."""
import datetime

import harness
from harness import docker_inspect, wait_for
from test_agent_core import registered

SETTINGS = {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_CONTAINER_STOP_TIMEOUT": "2s"}


def ts(s):
    """Docker's RFC 3339 nanosecond times, to comparable floats."""
    s = s.rstrip("Z")
    base, _, frac = s.partition(".")
    t = datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + float("0." + (frac or "0"))


def containers(task):
    return {c["name"]: c for c in task["containers"]}


def test_success_dependency_orders_and_non_essential_exit(cp, cluster, make_agent):
    cp.register("ordered", [
        {"name": "init", "image": harness.BUSYBOX, "essential": False, "memory": 16,
         "command": ["sh", "-c", "sleep 1; exit 0"]},
        {"name": "web", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "300"], "dependsOn": [{"containerName": "init",
                                                     "condition": "SUCCESS"}]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "ordered")[0]
    task = cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    c = containers(task)
    wait_for(lambda: containers(cp.describe_task(cluster, arn))["init"]["lastStatus"] ==
             "STOPPED", what="init reported stopped")
    init = docker_inspect(containers(cp.describe_task(cluster, arn))["init"]["runtimeId"])
    web = docker_inspect(c["web"]["runtimeId"])
    # web was created only after init had exited successfully.
    assert ts(web["Created"]) >= ts(init["State"]["FinishedAt"])
    assert init["State"]["ExitCode"] == 0
    # A non-essential container exiting leaves the task running.
    assert cp.describe_task(cluster, arn)["lastStatus"] == "RUNNING"


def test_failed_success_dependency_stops_the_dependent(cp, cluster, make_agent):
    cp.register("broken", [
        {"name": "init", "image": harness.BUSYBOX, "essential": False, "memory": 16,
         "command": ["sh", "-c", "exit 1"]},
        {"name": "web", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "300"], "dependsOn": [{"containerName": "init",
                                                     "condition": "SUCCESS"}]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "broken")[0]
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    web = containers(task)["web"]
    assert web["exitCode"] == 143
    assert web["reason"].startswith("CannotStartContainerError: dependency graph")
    assert not web.get("runtimeId")  # never created


def test_start_timeout_fails_a_complete_dependency(cp, cluster, make_agent):
    cp.register("slowdep", [
        {"name": "slow", "image": harness.BUSYBOX, "essential": False, "memory": 16,
         "command": ["sleep", "300"], "startTimeout": 2},
        {"name": "web", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "300"], "dependsOn": [{"containerName": "slow",
                                                     "condition": "COMPLETE"}]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "slowdep")[0]
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    web = containers(task)["web"]
    assert web["exitCode"] == 143
    assert "dependency" in web["reason"]


def test_stop_in_reverse_dependency_order(cp, cluster, make_agent):
    # Both ignore SIGTERM, so each stop takes the 2 s grace period: the order is visible.
    stubborn = ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]
    cp.register("layered", [
        {"name": "db", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": stubborn},
        {"name": "app", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": stubborn, "dependsOn": [{"containerName": "db", "condition": "START"}]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "layered")[0]
    c = containers(cp.wait_task(cluster, arn, "RUNNING", timeout=60))
    db, app = docker_inspect(c["db"]["runtimeId"]), docker_inspect(c["app"]["runtimeId"])
    assert ts(app["State"]["StartedAt"]) >= ts(db["State"]["StartedAt"])
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    db, app = docker_inspect(c["db"]["runtimeId"]), docker_inspect(c["app"]["runtimeId"])
    # app (the dependent) was stopped before db was even asked to stop.
    assert ts(db["State"]["FinishedAt"]) - ts(app["State"]["FinishedAt"]) >= 1.5


def test_essential_exit_stops_the_task(cp, cluster, make_agent):
    cp.register("pair", [
        {"name": "side", "image": harness.BUSYBOX, "essential": False, "memory": 16,
         "command": ["sleep", "300"]},
        {"name": "main", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sh", "-c", "sleep 2; exit 7"]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "pair")[0]
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    c = containers(task)
    assert c["main"]["exitCode"] == 7
    assert c["side"]["lastStatus"] == "STOPPED"  # stopped by the agent, not by itself
    assert c["side"]["exitCode"] in (137, 143)


def test_dependency_cycle_is_refused(cp, cluster, make_agent):
    agent = make_agent(SETTINGS)
    instance = registered(cp, cluster, agent)
    def c(name, dep):
        return harness.sleeper_container(
            name, dependsOn=[{"containerName": dep, "condition": "START"}])
    task = harness.hand_task(cp, cluster, "9" * 32, [c("a", "b"), c("b", "a")], family="cyc")
    cp.send_payload(cluster, instance, "cycle-1", [task])
    body = cp.wait_report(task["arn"])
    assert body["reason"].startswith("TaskDependencyError: ")
    assert not harness.containers_of(cluster)
