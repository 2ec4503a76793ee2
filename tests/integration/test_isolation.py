"""Task cgroups as the kernel shows them: limits in the cgroup files, containers inside
the task cgroup, OOM kills reported with the official reason, removal at cleanup."""
import glob
import os

import harness
from harness import docker_inspect, wait_for
from test_agent_core import registered

CGROOT = "/sys/fs/cgroup"


def cgroup_v2():
    return os.path.exists(os.path.join(CGROOT, "cgroup.controllers"))


def read(path):
    with open(path) as f:
        return f.read().strip()


def task_id(arn):
    return arn.rsplit("/", 1)[1]


def test_task_cgroup_limits_and_cleanup(cp, cluster, make_agent):
    cp.register("limited", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                             "command": ["sh", "-c", "while :; do :; done"]}],
                cpu="512", memory="64")
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
                        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s",
                        "ECS_CONTAINER_STOP_TIMEOUT": "2s"})
    instance = registered(cp, cluster, agent)
    ci = cp.aws("ecs", "describe-container-instances", "--cluster", cluster,
                "--container-instances", instance)["containerInstances"][0]
    assert "ecs.capability.task-cpu-mem-limit" in {a["name"] for a in ci["attributes"]}

    arn = cp.run_task(cluster, "limited")[0]
    cid = cp.wait_task(cluster, arn, "RUNNING")["containers"][0]["runtimeId"]
    tid = task_id(arn)
    info = docker_inspect(cid)
    assert info["HostConfig"]["CgroupParent"] == f"/ecs/{tid}"
    if cgroup_v2():
        base = os.path.join(CGROOT, "ecs", tid)
        assert read(os.path.join(base, "cpu.max")) == "50000 100000"
        assert read(os.path.join(base, "memory.max")) == str(64 << 20)
    else:
        cpu = os.path.join(CGROOT, "cpu", "ecs", tid)
        assert read(os.path.join(cpu, "cpu.cfs_quota_us")) == "50000"
        assert read(os.path.join(cpu, "cpu.cfs_period_us")) == "100000"
        mem = os.path.join(CGROOT, "memory", "ecs", tid)
        assert read(os.path.join(mem, "memory.limit_in_bytes")) == str(64 << 20)
        # The container's own cgroup sits inside the task's.
        assert glob.glob(os.path.join(cpu, cid + "*")) or glob.glob(os.path.join(cpu, "*" + cid))

    # The busy loop is throttled at half a CPU: the kernel's own counters say so.
    def throttled():
        path = os.path.join(CGROOT, "ecs", tid, "cpu.stat") if cgroup_v2() else \
            os.path.join(CGROOT, "cpu", "ecs", tid, "cpu.stat")
        fields = dict(line.split() for line in read(path).splitlines())
        return int(fields.get("nr_throttled", 0)) > 0
    wait_for(throttled, timeout=10, what="CPU throttling in the task cgroup")

    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=30)
    # Cleanup after the (1 s) wait, once STOPPED was accepted: containers and cgroup gone.
    wait_for(lambda: docker_inspect(cid) is None, timeout=30, what="container removal")
    wait_for(lambda: not glob.glob(os.path.join(CGROOT, "*", "ecs", tid)) and
             not os.path.exists(os.path.join(CGROOT, "ecs", tid)), timeout=15,
             what="task cgroup removal")


def test_oom_kill_reported_with_reason(cp, cluster, make_agent):
    cp.register("hog", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                         "command": ["sh", "-c", "x=a; while :; do x=$x$x; done"]}],
                cpu="256", memory="16")
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "hog")[0]
    task = cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    c = task["containers"][0]
    assert c["exitCode"] == 137
    assert c["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert docker_inspect(c["runtimeId"])["State"]["OOMKilled"]


def test_container_memory_above_task_memory_fails_the_task(cp, cluster, make_agent):
    # ECS refuses such a definition itself; a payload carrying one anyway must fail the
    # task with the official reason, before any container exists.
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"})
    instance = registered(cp, cluster, agent)
    task = harness.hand_task(cp, cluster, "e" * 32,
                             [harness.sleeper_container(memory=128)],
                             family="toobig", cpu=0.25, memory=64)
    cp.send_payload(cluster, instance, "toobig-1", [task])
    body = cp.wait_report(task["arn"])
    assert body["reason"].startswith("ResourceInitializationError: "), body
    assert not harness.containers_of(cluster)
    # The check comes before the task cgroup is made.
    assert not glob.glob(os.path.join(CGROOT, "*", "ecs", "e" * 32))
    assert not os.path.exists(os.path.join(CGROOT, "ecs", "e" * 32))
