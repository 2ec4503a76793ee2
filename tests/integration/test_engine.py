"""Task engine behaviour: admission without head-of-line blocking, containers removed
behind the agent's back, dockerd restarts."""
import os
import signal
import subprocess
import time

import harness
from harness import docker, docker_inspect, wait_for
from test_agent_core import registered

TOP = harness.TOP


def mem_total_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal")


def container_for(cluster, task_arn):
    for cid in harness.containers_of(cluster):
        info = docker_inspect(cid)
        if info and info["Config"]["Labels"].get("com.amazonaws.ecs.task-arn") == task_arn:
            return info
    return None


def test_admission_waits_without_blocking_the_queue(cp, cluster, make_agent):
    # The instance registers 100 MiB; a task of 80 MiB that is stopping slowly holds it.
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
                        "ECS_RESERVED_MEMORY": str(mem_total_mib() - 100),
                        "ECS_CONTAINER_STOP_TIMEOUT": "6s"})
    instance = registered(cp, cluster, agent)
    # PID 1 with SIGTERM ignored: the stop takes the whole grace period.
    stubborn = ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]

    def task(tid, memory, **c):
        # Task-level memory only: the containers share it.
        return harness.hand_task(cp, cluster, tid, [harness.sleeper_container(memory=0, **c)],
                                 family="adm", memory=memory)
    a = task("a" * 32, 80, command=stubborn)
    cp.send_payload(cluster, instance, "adm-1", [a])
    wait_for(lambda: (container_for(cluster, a["arn"]) or {}).get("State", {}).get("Running"),
             what="task A running")

    # A stops; B (80 MiB) must wait for A's memory; C (10 MiB) behind it must not wait.
    b = task("b" * 32, 80)
    c = task("c" * 32, 10)
    cp.send_payload(cluster, instance, "adm-2", [dict(a, desiredStatus="STOPPED"), b, c])
    wait_for(lambda: (container_for(cluster, c["arn"]) or {}).get("State", {}).get("Running"),
             timeout=10, what="task C running")
    assert docker_inspect(container_for(cluster, a["arn"])["Id"])["State"]["Running"], \
        "C must start while A is still stopping"
    assert container_for(cluster, b["arn"]) is None, "B must wait for A's memory"
    agent.wait_log(r"task/.*b{32}: waiting for host CPU or memory")

    # Once A has stopped, B gets its memory.
    wait_for(lambda: not docker_inspect(container_for(cluster, a["arn"])["Id"])["State"]
             ["Running"], timeout=20, what="task A stopped")
    wait_for(lambda: (container_for(cluster, b["arn"]) or {}).get("State", {}).get("Running"),
             timeout=20, what="task B running")


def test_container_removed_behind_the_agents_back(cp, cluster, make_agent):
    cp.register("victim", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                            "memory": 32, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "victim")[0]
    cid = cp.wait_task(cluster, arn, "RUNNING")["containers"][0]["runtimeId"]
    docker("rm", "-f", cid)
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=30)
    assert task["containers"][0]["lastStatus"] == "STOPPED"
    assert docker_inspect(cid) is None


def restart_dockerd():
    pids = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    wait_for(lambda: subprocess.run(["pidof", "dockerd"], capture_output=True).returncode != 0,
             timeout=60, what="dockerd to stop")
    subprocess.run(["bash", os.path.join(TOP, "scripts", "start-dockerd.sh")], check=True)


def test_dockerd_restart_is_noticed_and_reported(cp, cluster, make_agent):
    cp.register("fragile", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                             "memory": 32, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "fragile")[0]
    cid = cp.wait_task(cluster, arn, "RUNNING")["containers"][0]["runtimeId"]

    restart_dockerd()  # without live-restore, dockerd stops its containers
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    exit_code = docker_inspect(cid)["State"]["ExitCode"]
    assert task["containers"][0]["exitCode"] == exit_code
    agent.wait_log(r"Docker event stream (lost|reconnected)")
    assert agent.alive()

    # The agent goes on working with the restarted daemon.
    arn2 = cp.run_task(cluster, "fragile")[0]
    cp.wait_task(cluster, arn2, "RUNNING", timeout=60)


def test_cleaned_up_tasks_leave_nothing_behind(cp, cluster, make_agent):
    """Tasks that ran, stopped and were cleaned up leave no containers, no state files and
    no memory: the ASan agent's leak check at exit (exit code 86 on a leak) covers every
    path of a task's life, health checks and TCS publishing included."""
    cp.register("churn", [
        {"name": "app", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sh", "-c", "sleep 2"],
         "healthCheck": {"command": ["CMD-SHELL", "exit 0"], "interval": 1, "timeout": 2,
                         "retries": 1}},
        {"name": "side", "image": harness.BUSYBOX, "essential": False, "memory": 16,
         "command": ["sleep", "300"]}], cpu="128", memory="64")
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
                        "ECS_CONTAINER_STOP_TIMEOUT": "1s",
                        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"})
    registered(cp, cluster, agent)
    arns = cp.run_task(cluster, "churn", count=5) + cp.run_task(cluster, "churn", count=5)
    for arn in arns:
        cp.wait_task(cluster, arn, "STOPPED", timeout=90)
    wait_for(lambda: not harness.containers_of(cluster), timeout=60,
             what="containers removed at cleanup")
    tasks_dir = os.path.join(agent.datadir, "tasks")
    wait_for(lambda: not os.listdir(tasks_dir), timeout=30, what="state files removed")
    assert agent.stop() == 0, agent.read_log()[-4000:]
