"""Restart without loss or duplicates (§4.14): the agent killed with SIGKILL comes back,
adopts what runs, notices what died or vanished meanwhile, and rebuilds tasks whose saved
state is gone."""
import glob
import os

import harness
from harness import docker, docker_inspect, wait_for
from test_agent_core import registered


def sleeper(cp, family="sleeper"):
    cp.register(family, [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                          "memory": 32, "command": ["sleep", "300"]}])


def restart(agent):
    """SIGKILL, then the same agent (same data directory) again."""
    agent.kill()
    again = harness.Agent(agent.tmpdir, agent.cluster, agent.cp_url, agent.settings)
    again.start()
    return again


def test_restart_adopts_running_tasks(cp, cluster, make_agent):
    sleeper(cp)
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arns = cp.run_task(cluster, "sleeper", count=2)
    ids = {cp.wait_task(cluster, a, "RUNNING")["containers"][0]["runtimeId"] for a in arns}

    agent = restart(agent)
    try:
        agent.wait_log(r"Restored 2 task\(s\)")
        registered(cp, cluster, agent)
        # Nothing duplicated, nothing restarted.
        assert set(harness.containers_of(cluster)) == ids
        for a in arns:
            assert cp.describe_task(cluster, a)["lastStatus"] == "RUNNING"
        # And the agent still drives them.
        cp.stop_task(cluster, arns[0])
        cp.wait_task(cluster, arns[0], "STOPPED", timeout=30)
    finally:
        agent.kill()


def test_container_died_or_vanished_while_agent_down(cp, cluster, make_agent):
    sleeper(cp)
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    died, gone = cp.run_task(cluster, "sleeper", count=2)
    died_id = cp.wait_task(cluster, died, "RUNNING")["containers"][0]["runtimeId"]
    gone_id = cp.wait_task(cluster, gone, "RUNNING")["containers"][0]["runtimeId"]

    agent.kill()
    docker("kill", "--signal", "KILL", died_id)
    docker("rm", "-f", gone_id)
    agent = restart(agent)
    try:
        t = cp.wait_task(cluster, died, "STOPPED", timeout=30)
        assert t["containers"][0]["exitCode"] == 137
        t = cp.wait_task(cluster, gone, "STOPPED", timeout=30)
        assert t["containers"][0]["reason"].startswith("ContainerVanishedError")
    finally:
        agent.kill()


def test_lost_and_corrupt_state_rebuilt_from_labels(cp, cluster, make_agent):
    sleeper(cp)
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    lost, corrupt = cp.run_task(cluster, "sleeper", count=2)
    for a in (lost, corrupt):
        cp.wait_task(cluster, a, "RUNNING")
    ids = set(harness.containers_of(cluster))

    agent.kill()
    files = {os.path.basename(p): p for p in glob.glob(os.path.join(agent.datadir, "tasks", "*"))}
    os.unlink(files[lost.rsplit("/", 1)[1] + ".json"])
    with open(files[corrupt.rsplit("/", 1)[1] + ".json"], "w") as f:
        f.write('{"version": 1, "task": {"arn": 42')
    agent = restart(agent)
    try:
        agent.wait_log(r"is unusable .* rebuilt from its containers' labels")
        agent.wait_log(r"Task .*" + lost.rsplit("/", 1)[1] + " was not in the saved state")
        registered(cp, cluster, agent)
        assert set(harness.containers_of(cluster)) == ids  # adopted, not duplicated
        # The instance keeps its identity (agent.json was intact).
        assert len(cp.instances(cluster)) == 1
        # Rebuilt tasks are still under control: StopTask stops their containers.
        for a in (lost, corrupt):
            cp.stop_task(cluster, a)
        for a in (lost, corrupt):
            cp.wait_task(cluster, a, "STOPPED", timeout=30)
        for cid in ids:
            assert not docker_inspect(cid)["State"]["Running"]
    finally:
        agent.kill()
