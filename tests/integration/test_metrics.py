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
from test_credentials import answer, container_env
from test_endpoints import fetch
from test_metadata import get


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


def cgroup_file(task_arn, cid, controller, name):
    """A file of the container's own cgroup (v1, cgroupfs driver: <task cgroup>/<id>)."""
    task_id = task_arn.rsplit("/", 1)[1]
    with open(f"/sys/fs/cgroup/{controller}/ecs/{task_id}/{cid}/{name}") as f:
        return f.read()


def cgroup_cpu_percent(task_arn, cid, seconds=3.0):
    """The container's CPU over a few seconds from cpuacct.usage, in docker stats' unit
    (100 = one CPU)."""
    t0, u0 = time.monotonic(), int(cgroup_file(task_arn, cid, "cpuacct", "cpuacct.usage"))
    time.sleep(seconds)
    t1, u1 = time.monotonic(), int(cgroup_file(task_arn, cid, "cpuacct", "cpuacct.usage"))
    return 100.0 * (u1 - u0) / ((t1 - t0) * 1e9)


def endpoint_cpu_percent(s):
    """docker stats' formula over a stats body's two samples."""
    d_cpu = s["cpu_stats"]["cpu_usage"]["total_usage"] - s["precpu_stats"]["cpu_usage"][
        "total_usage"]
    d_sys = s["cpu_stats"]["system_cpu_usage"] - s["precpu_stats"]["system_cpu_usage"]
    return 100.0 * d_cpu / d_sys * s["cpu_stats"]["online_cpus"]


def docker_net_io(cid):
    """docker stats' NetIO "1.5MB / 2.3MB" (decimal units) as bytes (rx, tx)."""
    out = harness.docker("stats", "--no-stream", "--format", "{{.NetIO}}", cid).strip()
    scale = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    vals = []
    for part in out.split("/"):
        m = re.fullmatch(r"\s*([0-9.]+)\s*([kMG]?B)\s*", part)
        assert m, out
        vals.append(float(m.group(1)) * scale[m.group(2)])
    return vals


def test_stats_endpoints(cp, cluster, make_agent):
    # Half a CPU for the task; the burner holds 64 MiB and spins; the sink is pinged.
    cp.register("statsy", [
        {"name": "burner", "image": harness.BUSYBOX, "essential": True, "memory": 256,
         "command": ["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a);"
                     " while :; do :; done"]},
        {"name": "sink", "image": harness.BUSYBOX, "essential": False, "memory": 32,
         "command": ["sleep", "600"]}],
        cpu="512")
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once"})
    registered(cp, cluster, agent)
    inst = instance_arn(cp, cluster)
    arn = cp.run_task(cluster, "statsy")[0]
    task = cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    by_name = {c["name"]: c["runtimeId"] for c in task["containers"]}
    cid, sink = by_name["burner"], by_name["sink"]
    info, sink_info = harness.docker_inspect(cid), harness.docker_inspect(sink)
    v4 = container_env(cid)["ECS_CONTAINER_METADATA_URI_V4"]
    v3 = container_env(cid)["ECS_CONTAINER_METADATA_URI"]

    # Let the shell fill its 64 MiB and the first samples come in.
    def settled():
        status, s = get(cid, v4 + "/stats")
        return s if status == 200 and s and s["memory_stats"]["usage"] >= 64 << 20 and \
            "network_rate_stats" in s else None
    s = harness.wait_for(settled, timeout=60, what="stats with 64 MiB held")

    # Docker's shape, this container's identity.
    for k in ("read", "preread", "cpu_stats", "precpu_stats", "memory_stats", "blkio_stats",
              "networks", "pids_stats", "num_procs", "name", "id", "network_rate_stats"):
        assert k in s, (k, sorted(s))
    assert s["id"] == info["Id"] and s["name"] == info["Name"]
    assert s["read"].endswith("Z") and s["preread"] < s["read"]
    assert s["pids_stats"]["current"] >= 1
    assert set(s["blkio_stats"]) >= {"io_service_bytes_recursive", "io_serviced_recursive"}
    assert s["cpu_stats"]["online_cpus"] == os.cpu_count()
    assert set(s["cpu_stats"]["throttling_data"]) == {"periods", "throttled_periods",
                                                     "throttled_time"}

    # CPU: docker stats' formula over the body agrees with the cgroup's own counter and with
    # docker stats, all in one-CPU = 100 units (so about 50 here).
    cg = cgroup_cpu_percent(arn, cid)
    samples = []
    for _ in range(3):
        status, body = get(cid, v4 + "/stats")
        assert status == 200
        samples.append(endpoint_cpu_percent(body))
        time.sleep(1.1)
    ep = sum(samples) / len(samples)
    docker = docker_cpu_percent(cid)
    print(f"endpoint cpu {ep:.2f} (samples {samples}), cgroup {cg:.2f}, docker {docker:.2f}")
    assert abs(ep - cg) <= 0.05 * cg + 1.0, (ep, cg)
    assert abs(ep - docker) <= 0.05 * docker + 1.0, (ep, docker)
    assert abs(ep - 50.0) <= 5.0, ep

    # Memory: the body's usage against the cgroup's file and Docker's figure.
    status, body = get(cid, v4 + "/stats")
    usage = body["memory_stats"]["usage"]
    cg_usage = int(cgroup_file(arn, cid, "memory", "memory.usage_in_bytes"))
    assert abs(usage - cg_usage) <= 0.05 * cg_usage, (usage, cg_usage)
    used = usage - body["memory_stats"]["stats"]["total_inactive_file"]  # docker stats' rule
    stats = json.loads(harness.docker("stats", "--no-stream", "--format", "{{json .}}", cid))
    docker_mib = size_mib(stats["MemUsage"].split("/")[0])
    assert abs(used / 1048576 - docker_mib) <= 0.05 * docker_mib, (used, docker_mib)
    assert body["memory_stats"]["limit"] == 256 << 20
    assert body["memory_stats"]["max_usage"] >= usage

    # Network: 4 MB of pings over the burner's interface to the sink show as transmitted
    # bytes.
    before = body["networks"]["eth0"]["tx_bytes"]
    sink_ip = sink_info["NetworkSettings"]["IPAddress"]
    harness.docker("exec", cid, "ping", "-q", "-c", "80", "-i", "0.01", "-s", "50000", sink_ip)

    def sent():
        status, b = get(cid, v4 + "/stats")
        return b if status == 200 and b["networks"]["eth0"]["tx_bytes"] - before >= 4e6 else None
    b = harness.wait_for(sent, timeout=15, what="the sent bytes in the stats")
    _, docker_tx = docker_net_io(cid)
    tx = b["networks"]["eth0"]["tx_bytes"]
    print(f"tx bytes endpoint {tx}, docker {docker_tx:.0f}")
    assert abs(tx - docker_tx) <= 0.05 * docker_tx, (tx, docker_tx)
    assert set(b["network_rate_stats"]) == {"rx_bytes_per_sec", "tx_bytes_per_sec"}

    def published():
        for f in metric_frames(cp, inst):
            for t in f.get("taskMetrics", []):
                for c in t["containerMetrics"] if t["taskArn"] == arn else []:
                    if c["containerName"] == "burner" and \
                            c["networkStatsSet"]["txBytes"]["max"] >= tx:
                        return c
        return None
    c = harness.wait_for(published, timeout=45, what="the sent bytes in networkStatsSet")
    assert c["networkStatsSet"]["txBytes"]["max"] >= before + 4e6

    # The task's map, v4 and v3; the v3 body has no rate; v2 by the caller's address.
    status, m = get(cid, v4 + "/task/stats")
    assert status == 200 and set(m) == {cid, sink}, m
    assert m[sink]["id"] == sink and "network_rate_stats" in m[sink]
    status, one = get(cid, v3 + "/stats")
    assert status == 200 and one["id"] == cid and "network_rate_stats" not in one
    status, m3 = get(cid, v3 + "/task/stats")
    assert status == 200 and set(m3) == {cid, sink}
    status, m2 = answer(fetch(cid, "169.254.170.2", "/v2/stats"))
    assert status == 200 and set(m2) == {cid, sink}
    status, one2 = answer(fetch(cid, "169.254.170.2", f"/v2/stats/{sink}"))
    assert status == 200 and one2["id"] == sink

    # The official errors for what is not there.
    base = v4.rsplit("/", 1)[0]
    status, err = get(cid, base + "/bogus/stats")
    assert status == 404 and err == ("V4 container stats handler: unable to get task arn from "
                                     "request: unable to get task Arn from v3 endpoint ID: bogus")
    status, err = get(cid, v3.rsplit("/", 1)[0] + "/bogus/task/stats")
    assert status == 400 and err.startswith("V3 task stats handler: unable to get task arn"), err
    status, err = answer(fetch(cid, "169.254.170.2", "/v2/stats/" + "0" * 64))
    assert status == 400 and err == "Unable to get container stats for: " + "0" * 64

    # A stopped container has no stats: nothing stale is served.
    harness.docker("kill", sink)  # (not essential: the task keeps running)

    def sink_gone():
        status, m = get(cid, v4 + "/task/stats")
        return m if status == 200 and m.get(sink) == {} else None
    harness.wait_for(sink_gone, timeout=30, what="the stopped container without stats")
    assert agent.alive()


def test_cloudwatch_service_metrics(cp, cluster, make_agent):
    # One service task spinning at its half-CPU quota: it uses all the CPU it reserved.
    cp.register("cwsvc", [{"name": "burner", "image": harness.BUSYBOX, "essential": True,
                           "command": ["sh", "-c", "x=$(head -c 25165824 /dev/zero | tr "
                                       "'\\0' a); while :; do :; done"]}],
                cpu="512", memory="256")
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once"})
    registered(cp, cluster, agent)
    inst = instance_arn(cp, cluster)
    cp.aws("ecs", "create-service", "--cluster", cluster, "--service-name", "cwsvc",
           "--task-definition", "cwsvc", "--desired-count", "1", "--launch-type", "EXTERNAL")
    arn = harness.wait_for(lambda: next(iter(cp.aws("ecs", "list-tasks", "--cluster", cluster,
                                                    "--service-name", "cwsvc")["taskArns"]),
                                        None), timeout=60, what="the service's task")
    task = cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    cid = task["containers"][0]["runtimeId"]
    start = time.time() - 120

    def published():
        return any(t["taskArn"] == arn and t["containerMetrics"][0]["cpuStatsSet"][
            "sampleCount"] >= 5 for f in metric_frames(cp, inst) for t in f.get("taskMetrics", []))
    harness.wait_for(published, timeout=75, what="a metrics frame for the task")
    cg = cgroup_cpu_percent(arn, cid)  # of one CPU: about 50

    def stats(metric, *dims, stat="Average"):
        args = ["cloudwatch", "get-metric-statistics", "--namespace", "AWS/ECS",
                "--metric-name", metric, "--start-time", str(int(start)),
                "--end-time", str(int(time.time() + 120)), "--period", "300",
                "--statistics", stat, "--dimensions"]
        args += [f"Name={n},Value={v}" for n, v in dims]
        out = cp.aws(*args)
        assert out["Label"] == metric
        return [p[stat] for p in out["Datapoints"]]

    svc = (("ClusterName", cluster), ("ServiceName", "cwsvc"))
    cpu = stats("CPUUtilization", *svc)
    assert len(cpu) >= 1, cpu
    # Units used (the cgroup's share of one CPU x 1024) against the 512 reserved.
    expect = cg / 100 * 1024 / 512 * 100
    print(f"service CPUUtilization {cpu}, from the cgroup {expect:.1f}")
    assert abs(cpu[-1] - expect) <= 0.10 * expect, (cpu, expect)
    mem = stats("MemoryUtilization", *svc, stat="Maximum")
    docker = json.loads(harness.docker("stats", "--no-stream", "--format", "{{json .}}", cid))
    docker_pct = size_mib(docker["MemUsage"].split("/")[0]) / 256 * 100
    print(f"service MemoryUtilization max {mem}, Docker's figure {docker_pct:.2f}")
    assert mem[-1] >= 24 / 256 * 100 * 0.9 and abs(mem[-1] - docker_pct) <= 1.0, \
        (mem, docker_pct)
    # Cluster: what the one task reserves of what the instance registered.
    regs = {r["name"]: r for r in cp.aws("ecs", "describe-container-instances", "--cluster",
                                          cluster, "--container-instances", inst)[
        "containerInstances"][0]["registeredResources"]}
    res = stats("CPUReservation", ("ClusterName", cluster), stat="Maximum")
    assert abs(res[-1] - 512 * 100 / regs["CPU"]["integerValue"]) < 0.01, (res, regs["CPU"])
    res = stats("MemoryReservation", ("ClusterName", cluster), stat="Maximum")
    assert abs(res[-1] - 256 * 100 / regs["MEMORY"]["integerValue"]) < 0.01, res
    # (the maximum: frames from before the task ran count as idle in the average)
    cluster_cpu = stats("CPUUtilization", ("ClusterName", cluster), stat="Maximum")
    assert abs(cluster_cpu[-1] - cpu[-1] * 512 / regs["CPU"]["integerValue"]) <= \
        0.15 * cluster_cpu[-1] + 0.5, (cluster_cpu, cpu)
    # Only exact dimension sets match, as in CloudWatch.
    assert stats("CPUUtilization", ("ServiceName", "cwsvc")) == []

    listed = cp.aws("cloudwatch", "list-metrics", "--namespace", "AWS/ECS", "--dimensions",
                    "Name=ServiceName,Value=cwsvc")["Metrics"]
    assert {m["MetricName"] for m in listed} == {"CPUUtilization", "MemoryUtilization"}, listed
    assert all({d["Name"] for d in m["Dimensions"]} == {"ClusterName", "ServiceName"}
               for m in listed)

    q = [{"Id": "cpu", "MetricStat": {"Metric": {"Namespace": "AWS/ECS",
                                                 "MetricName": "CPUUtilization",
                                                 "Dimensions": [{"Name": n, "Value": v}
                                                                for n, v in svc]},
                                      "Period": 300, "Stat": "Average"}}]
    data = cp.aws("cloudwatch", "get-metric-data", "--start-time", str(int(start)),
                  "--end-time", str(int(time.time() + 120)),
                  "--metric-data-queries", json.dumps(q))["MetricDataResults"]
    assert data[0]["Id"] == "cpu" and data[0]["StatusCode"] == "Complete"
    assert data[0]["Values"] and abs(data[0]["Values"][0] - expect) <= 0.10 * expect, data

    # A bad request is the caller's error; the control plane carries on.
    p = cp.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/ECS",
               "--metric-name", "CPUUtilization", "--start-time", str(int(start)),
               "--end-time", str(int(time.time())), "--period", "7", "--statistics",
               "Average", check=False)
    assert "InvalidParameterValue" in p.get("error", ""), p
    assert agent.alive()


def test_polling_interval_clamped(cp, cluster, make_agent):
    # ECS_POLL_METRICS samples every ECS_POLLING_METRICS_WAIT_DURATION; 2s is below the
    # official minimum and becomes 5s.
    cp.register("polled", [harness.sleeper_container()])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once", "ECS_POLL_METRICS": "true",
                        "ECS_POLLING_METRICS_WAIT_DURATION": "2s"})
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "polled")[0]
    cid = cp.wait_task(cluster, arn, "RUNNING", timeout=60)["containers"][0]["runtimeId"]
    v4 = container_env(cid)["ECS_CONTAINER_METADATA_URI_V4"]

    def two_samples():
        status, s = get(cid, v4 + "/stats")
        return s if status == 200 and s and not s["preread"].startswith("0001") else None
    s = harness.wait_for(two_samples, timeout=30, what="two samples")

    def epoch(text):
        whole, _, frac = text.rstrip("Z").partition(".")
        t = time.mktime(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) - time.timezone
        return t + (float("0." + frac) if frac else 0.0)
    gap = epoch(s["read"]) - epoch(s["preread"])
    assert 4.5 <= gap <= 6.0, (gap, s["read"], s["preread"])
    assert agent.alive()


def test_churn_no_stale_entries_memory_flat(cp, cluster, make_agent):
    # A task of 10 containers that exit at different times (some between two samples),
    # started and stopped in a loop, beside a long-running task whose second container is
    # killed under the collector.
    cp.register("churn10", [
        {"name": f"c{i}", "image": harness.BUSYBOX, "essential": i == 0, "memory": 8,
         "command": ["sleep", str(2 + i % 3)]} for i in range(10)])
    cp.register("steady", [harness.sleeper_container("a"),
                           harness.sleeper_container("b", essential=False)])
    # (ASan's quarantine would hold every freed block and hide a flat line)
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once", "ECS_CONTAINER_STOP_TIMEOUT": "1s",
                        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"},
                       env={"ASAN_OPTIONS": "detect_leaks=1:exitcode=86:quarantine_size_mb=0"})
    registered(cp, cluster, agent)
    inst = instance_arn(cp, cluster)
    steady = cp.run_task(cluster, "steady")[0]
    task = cp.wait_task(cluster, steady, "RUNNING", timeout=60)
    victim = [c["runtimeId"] for c in task["containers"] if c["name"] == "b"][0]

    churned, rss = [], []
    for loop in range(8):
        arn = cp.run_task(cluster, "churn10")[0]
        churned.append(arn)
        if loop == 2:
            harness.docker("kill", victim)  # a container gone between two samples
        cp.wait_task(cluster, arn, "STOPPED", timeout=90)
        rss.append(int(re.search(r"RssAnon:\s+(\d+)", open(
            f"/proc/{agent.proc.pid}/status").read()).group(1)))
    stopped_at = time.time()

    # Frames published after the last task stopped mention none of the churned tasks, and
    # the steady task without its killed container.
    def later():
        fs = [m for m in cp.admin("GET", "/tcs")["metrics"]
              if m["instance"] == inst and m["time"] > stopped_at + 1]
        return fs if len(fs) >= 2 else None
    for f in harness.wait_for(later, timeout=60, what="two frames after the churn"):
        for t in f["message"].get("taskMetrics", []):
            assert t["taskArn"] not in churned, t["taskArn"]
            if t["taskArn"] == steady:
                assert [c["containerName"] for c in t["containerMetrics"]] == ["a"], t
    print(f"RssAnon per loop (KiB): {rss}")
    # Flat: what loop 3 held is what loop 8 holds, give or take allocator noise.
    assert rss[-1] - rss[2] <= 512, rss
    assert agent.alive()
    assert agent.stop() == 0  # and, under ASan, nothing leaked


def test_split_150_tasks(cp, cluster, make_agent):
    # 150 running tasks: one publish is 15 requests of at most 10 tasks under one
    # messageId, only the last with fin, every task in exactly one of them.
    cp.register("many", [harness.sleeper_container(memory=8, command=["sleep", "900"])])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once"})
    registered(cp, cluster, agent)
    inst = instance_arn(cp, cluster)
    arns = []
    for _ in range(15):
        arns += cp.run_task(cluster, "many", count=10)
    harness.wait_for(lambda: all(t["lastStatus"] == "RUNNING" for t in cp.aws(
        "ecs", "describe-tasks", "--cluster", cluster, "--tasks", *arns[:100])["tasks"] +
        cp.aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", *arns[100:])["tasks"]),
        timeout=240, interval=2, what="150 tasks RUNNING")
    after = time.time() + 2  # from now on every task has samples

    def full_publish():
        by_id = {}
        for m in cp.admin("GET", "/tcs")["metrics"]:
            if m["instance"] == inst and m["time"] > after:
                by_id.setdefault(m["message"]["metadata"]["messageId"], []).append(m)
        for parts in by_id.values():
            if any(p["message"]["metadata"]["fin"] for p in parts):
                covered = [t["taskArn"] for p in parts for t in p["message"].get(
                    "taskMetrics", [])]
                if set(arns) <= set(covered):
                    return parts
        return None
    parts = harness.wait_for(full_publish, timeout=90, interval=1, what="a publish of all 150")
    msgs = [p["message"] for p in parts]
    covered = [t["taskArn"] for m in msgs for t in m["taskMetrics"]]
    assert len(msgs) == 15, [len(m["taskMetrics"]) for m in msgs]
    assert all(len(m["taskMetrics"]) <= 10 for m in msgs)
    assert sorted(covered) == sorted(set(covered)) and set(covered) == set(arns)
    assert [m["metadata"]["fin"] for m in msgs] == [False] * 14 + [True]
    assert all(m["metadata"]["idle"] is False for m in msgs)
    assert all(len(json.dumps(m)) < 1 << 20 for m in msgs)
    assert agent.alive()
