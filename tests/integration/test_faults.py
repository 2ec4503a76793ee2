"""Fault test: SIGKILL the agent at random moments while it launches and stops
multi-container tasks, restarting it each time; then nothing may be duplicated, lost or
reordered, and Docker, the reports and cleanup must agree.

Size: ECS_FAULT_TASKS tasks and ECS_FAULT_KILLS kills (CI: 4 and 6; the benchmark script
runs 10 and 20)."""
import os
import random
import time

import harness
from harness import docker_inspect, wait_for
from test_agent_core import registered

ORDER = {"PENDING": 0, "RUNNING": 1, "STOPPED": 2}


def test_sigkill_at_random_moments(cp, cluster, make_agent):
    n_tasks = int(os.environ.get("ECS_FAULT_TASKS", "4"))
    n_kills = int(os.environ.get("ECS_FAULT_KILLS", "6"))
    seed = int(os.environ.get("ECS_FAULT_SEED", str(time.time_ns())))
    print(f"fault test seed {seed} (ECS_FAULT_SEED replays it)")  # shown when it fails
    rng = random.Random(seed)
    cp.register("pair", [
        {"name": "db", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "600"]},
        {"name": "app", "image": harness.BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "600"],
         "dependsOn": [{"containerName": "db", "condition": "START"}]}])
    settings = {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_CONTAINER_STOP_TIMEOUT": "1s",
                "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s", "ECS_LOGLEVEL": "info"}
    agent = make_agent(settings)
    registered(cp, cluster, agent)

    arns = []
    for k in range(n_kills):
        # Something in flight: new tasks while there are fewer than wanted, else stops.
        if len(arns) < n_tasks:
            arns += cp.run_task(cluster, "pair", count=min(2, n_tasks - len(arns)))
        else:
            cp.stop_task(cluster, rng.choice(arns))
        time.sleep(rng.uniform(0.05, 1.5))
        agent.kill()
        agent.start()  # the same object, so the fixture kills the last one whatever happens
    registered(cp, cluster, agent, timeout=60)

    # Everything reaches RUNNING (or already stopped), then everything is stopped.
    for a in arns:
        wait_for(lambda: cp.describe_task(cluster, a)["lastStatus"] in ("RUNNING", "STOPPED"),
                 timeout=90, what=f"{a} running")
    seen = {}
    for cid in harness.containers_of(cluster):
        info = docker_inspect(cid)
        if info:
            labels = info["Config"]["Labels"]
            key = (labels["com.amazonaws.ecs.task-arn"], labels["com.amazonaws.ecs.container-name"])
            seen.setdefault(key, []).append(cid)
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    assert not dups, f"duplicate containers: {dups}"

    for a in arns:
        cp.stop_task(cluster, a)
    for a in arns:
        task = cp.wait_task(cluster, a, "STOPPED", timeout=90)
        for c in task["containers"]:
            assert c["lastStatus"] == "STOPPED", (a, c)
            if c.get("runtimeId"):
                info = docker_inspect(c["runtimeId"])
                # Gone after cleanup, or stopped with the exit code that was reported.
                if info:
                    assert not info["State"]["Running"]
                    assert c.get("exitCode") == info["State"]["ExitCode"], (a, c)

    # Reports per task never go backwards (a restart may repeat, never reorder).
    for a in arns:
        statuses = [ch["body"]["status"] for ch in cp.state_changes(task=a)
                    if ch["body"].get("status") and not
                    (isinstance(ch["result"], dict) and ch["result"].get("error"))]
        ranks = [ORDER[s] for s in statuses]
        assert ranks == sorted(ranks), (a, statuses)
        assert statuses and statuses[-1] == "STOPPED", (a, statuses)

    # Cleanup leaves nothing behind.
    wait_for(lambda: not harness.containers_of(cluster), timeout=90, what="cleanup")
    assert agent.alive()
