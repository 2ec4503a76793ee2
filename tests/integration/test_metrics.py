"""Container metrics over TCS (§3.3), as ecs-local received them, against what Docker and the
kernel say about the same container: a CPU burner held at half a CPU by its task's quota,
its memory, and the network set of a bridge task; the idle frame of an agent without tasks;
none at all with ECS_DISABLE_METRICS."""
import json
import os
import re
import time

import harness
from test_agent_core import registered


def metric_frames(cp, instance):
    return [m["message"] for m in cp.admin("GET", "/tcs")["metrics"] if m["instance"] == instance]


def instance_arn(cp, cluster):
    return harness.wait_for(lambda: cp.connected_instance(cluster), timeout=30,
                            what="instance connected")


def container_of(cluster, arn):
    for cid in harness.containers_of(cluster):
        info = harness.docker_inspect(cid)
        if info and info["Config"]["Labels"].get("com.amazonaws.ecs.task-arn") == arn:
            return info
    return None


def docker_cpu_percent(cid, reads=3):
    """docker stats' CPU figure, averaged over a few one-shot reads: each one covers only
    about a second and is noisy on a loaded host."""
    total = 0.0
    for _ in range(reads):
        out = harness.docker("stats", "--no-stream", "--format", "{{.CPUPerc}}", cid)
        total += float(out.strip().rstrip("%"))
    return total / reads


def size_mib(text):
    """Docker's "12.5MiB" / "900KiB" / "1.2GiB" / "512B" as MiB."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMG]i)?B\s*", text)
    assert m, text
    scale = {None: 1 / 1048576, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[m.group(2)]
    return float(m.group(1)) * scale


def test_cpu_memory_network_published(cp, cluster, make_agent):
    # Half a CPU for the task; the container holds some memory and spins.
    cp.register("burn", [{"name": "burner", "image": harness.BUSYBOX, "essential": True,
                          "memory": 128,
                          # ~24 MiB held by the shell, then spin.
                          "command": ["sh", "-c", "x=$(head -c 25165824 /dev/zero | tr '\\0' a);"
                                      " while :; do :; done"]}],
                cpu="512")
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once"})  # the image is local only
    registered(cp, cluster, agent)
    inst = instance_arn(cp, cluster)
    arn = cp.run_task(cluster, "burn")[0]
    cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    info = container_of(cluster, arn)
    assert info

    def with_samples():
        for f in metric_frames(cp, inst):
            for t in f.get("taskMetrics", []):
                if t["taskArn"] == arn and t["containerMetrics"][0]["cpuStatsSet"][
                        "sampleCount"] >= 5:
                    return f
        return None
    frame = harness.wait_for(with_samples, timeout=75, what="a metrics frame for the task")
    md = frame["metadata"]
    assert md["containerInstance"] == inst and md["fin"] is True and md["idle"] is False
    assert re.fullmatch(r"[0-9a-f-]{36}", md["messageId"])
    task = [t for t in frame["taskMetrics"] if t["taskArn"] == arn][0]
    assert task["taskDefinitionFamily"] == "burn" and task["taskDefinitionVersion"] == "1"
    c = task["containerMetrics"][0]
    assert c["containerName"] == "burner"
    cpu = c["cpuStatsSet"]
    avg = cpu["sum"] / cpu["sampleCount"]
    ncpu = os.cpu_count()
    # Percent of the whole instance, as the official agent reports it: half a CPU of ncpu.
    docker = docker_cpu_percent(info["Id"]) / ncpu
    print(f"cpu avg {avg:.2f} min {cpu['min']:.2f} max {cpu['max']:.2f}, docker {docker:.2f}")
    assert abs(avg - 50.0 / ncpu) <= 0.05 * 50.0 / ncpu + 0.5, cpu
    assert abs(avg - docker) <= 0.10 * docker + 0.5, (avg, docker)
    assert cpu["min"] <= avg <= cpu["max"]
    # Memory in MiB: what Docker shows for the container, less its page cache.
    stats = json.loads(harness.docker("stats", "--no-stream", "--format", "{{json .}}",
                                      info["Id"]))
    mem = c["memoryStatsSet"]
    # The shell may still be filling its buffer in the first samples: the maximum is the
    # settled figure.
    assert mem["sampleCount"] >= 5 and 0 <= mem["min"] <= mem["max"] < 128 and mem["max"] >= 20
    docker_mib = size_mib(stats["MemUsage"].split("/")[0])
    print(f"memory max {mem['max']:.2f} MiB, docker {docker_mib:.2f} MiB")
    # Whole MiB, truncated: within one MiB (and 5 %) of Docker's figure.
    assert abs(mem["max"] - docker_mib) <= 1 + 0.05 * docker_mib, (mem, docker_mib)
    # Bridge task: network counters, cumulative (ULong sets) and per-second rates.
    net = c["networkStatsSet"]
    for k in ("rxBytes", "txBytes", "rxPackets", "txPackets"):
        assert set(net[k]) == {"min", "max", "sum", "sampleCount", "overflowMin",
                               "overflowMax", "overflowSum"}, net[k]
    assert "rxBytesPerSecond" in net and "txBytesPerSecond" in net
    storage = c["storageStatsSet"]
    assert storage["readSizeBytes"]["sampleCount"] == mem["sampleCount"]
    # One task, one request per publish: each carries fin.
    frames = [f for f in metric_frames(cp, inst) if f.get("taskMetrics")]
    assert all(f["metadata"]["fin"] for f in frames)
    assert agent.alive()


def test_idle_frame_and_disabled(cp, cluster, make_agent):
    agent = make_agent({})
    registered(cp, cluster, agent)
    inst = instance_arn(cp, cluster)
    frame = harness.wait_for(lambda: next(iter(metric_frames(cp, inst)), None), timeout=45,
                             what="an idle metrics frame")
    assert frame["metadata"]["idle"] is True and frame["metadata"]["fin"] is True
    assert "taskMetrics" not in frame
    agent.stop()

    off = make_agent({"ECS_DISABLE_METRICS": "true"})
    registered(cp, cluster, off)
    inst2 = instance_arn(cp, cluster)
    before = len(metric_frames(cp, inst2))
    # Two publish intervals: health and instance status go, metrics do not.
    harness.wait_for(lambda: cp.admin("GET", "/tcs")["counts"].get(inst2, {}).get(
        "PublishInstanceStatusRequest", 0) >= 2, timeout=60, what="two publish rounds")
    assert len(metric_frames(cp, inst2)) == before
    assert off.alive()
