#!/usr/bin/python3
"""Launch benchmark (prints figures; not a test).

For N = 1, 10, 50 single-container tasks: the median time from RunTask to the RUNNING
report reaching the control plane, the median raw Docker create + start time of the same
containers started the same way (N at once, through the Engine API), their ratio, and
the agent's idle and peak RSS."""
import datetime
import http.client
import json
import os
import re
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import harness  # noqa: E402


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def docker_api(method, path, body=None):
    c = UnixHTTP("/var/run/docker.sock")
    c.request(method, "/v1.41" + path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"docker {method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data) if data else None


def raw_docker(n, label):
    """Create + start n containers at once through the API; per-container seconds."""
    times = [None] * n

    def one(i):
        t0 = time.monotonic()
        c = docker_api("POST", f"/containers/create?name=bench-raw-{label}-{i}",
                       {"Image": harness.BUSYBOX, "Cmd": ["sleep", "600"],
                        "Labels": {"ecs-bench": label},
                        "HostConfig": {"CpuShares": 2, "Memory": 32 << 20}})
        docker_api("POST", f"/containers/{c['Id']}/start")
        times[i] = time.monotonic() - t0
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in docker_api("GET", "/containers/json?all=1&filters=" +
                        json.dumps({"label": [f"ecs-bench={label}"]}).replace(" ", "")):
        docker_api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
    return times


def memory_breakdown(pid):
    """RSS split into the agent's own data (anonymous: heap, stacks) and file-backed pages
    (the binary and shared libraries, which other processes may map too)."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                vals[parts[0].rstrip(":")] = int(parts[1])
    anon = vals.get("Anonymous", 0)
    return (f"anonymous {anon} KiB, file-backed {vals.get('Rss', 0) - anon} KiB, "
            f"PSS {vals.get('Pss', 0)} KiB")


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def created_at(cp, cluster, arn):
    """When the control plane accepted the RunTask (its createdAt), as epoch seconds."""
    t = cp.describe_task(cluster, arn)["createdAt"]
    if isinstance(t, (int, float)):
        return float(t)
    return datetime.datetime.fromisoformat(t).timestamp()


def docker_time_in_agent(agent, arns):
    """For each task: the time the agent's own Docker calls took, from its create request
    to the inspect after start (the agent logs both at debug level, in ms)."""
    out = {}
    begin = {}
    for line in agent.read_log().splitlines():
        m = re.search(r"time=(\S+) msg=\"Task (\S+) container \S+: (creating|CREATED -> RUNNING)",
                      line)
        if not m or m.group(2) not in arns:
            continue
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        if m.group(3) == "creating":
            begin[m.group(2)] = t
        elif m.group(2) in begin:
            out[m.group(2)] = t - begin[m.group(2)]
    return out


def agent_launch(cp, cluster, n, agent):
    """Run n tasks (RunTask takes at most 10); seconds from the control plane accepting
    each RunTask to its receipt of that task's accepted RUNNING report. Both ends are the
    control plane's clock, so awscli's own start-up time is not counted."""
    arns = []
    left = n
    while left > 0:
        k = min(10, left)
        arns += cp.run_task(cluster, "bench", count=k)
        left -= k
    started = {a: created_at(cp, cluster, a) for a in arns}
    running = {}
    delivered = {}

    def done():
        for ch in cp.state_changes():
            b = ch["body"]
            if (isinstance(b, dict) and b.get("status") == "RUNNING" and b["task"] in started
                    and not (isinstance(ch["result"], dict) and ch["result"].get("error"))):
                running.setdefault(b["task"], ch["time"])
        return len(running) == n
    harness.wait_for(done, timeout=300, interval=0.2, what=f"{n} tasks RUNNING")
    # When the control plane put each task on the wire (its first PayloadMessage).
    for f in cp.admin("GET", "/acs/messages?direction=out&type=PayloadMessage")["messages"]:
        for t in f["message"]["message"].get("tasks", []):
            if t["arn"] in started:
                delivered.setdefault(t["arn"], f["time"])
    times = [running[a] - started[a] for a in started]
    docker_own = docker_time_in_agent(agent, set(started))
    agent_side = [running[a] - delivered[a] - docker_own[a] for a in started]
    for arn in started:
        cp.stop_task(cluster, arn)
    for arn in started:
        cp.wait_task(cluster, arn, "STOPPED", timeout=120)
    return times, agent_side, [docker_own[a] for a in started]


def main():
    sizes = [int(x) for x in (sys.argv[1:] or ["1", "10", "50"])]
    tmp = harness.make_tmpdir()
    cp = harness.ControlPlane(tmp).start()
    cluster = harness.unique("bench")
    cp.create_cluster(cluster)
    cp.register("bench", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 32, "cpu": 2, "command": ["sleep", "600"]}])
    agent = harness.Agent(tmp, cluster, cp.url, {
        "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_LOGLEVEL": "debug",
        "ECS_CONTAINER_STOP_TIMEOUT": "1s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"},
        env={"ASAN_OPTIONS": ""})
    agent.start()
    try:
        harness.wait_for(lambda: cp.instances(cluster), timeout=60, what="registration")
        time.sleep(2)
        idle = rss_kib(agent.proc.pid)
        print(f"agent: {harness.agent_binary()}")
        print(f"idle RSS: {idle} KiB ({idle / 1024:.2f} MiB); {memory_breakdown(agent.proc.pid)}")
        print("RunTask->RUNNING: control plane accepted RunTask -> received the RUNNING report")
        print("docker (same): the agent's own create + start calls for those containers")
        print("agent-only: payload sent -> RUNNING received, minus those Docker calls")
        print("docker (raw): other containers created + started straight through the API,")
        print("              N at once, alternating with the agent's rounds")
        print(f"{'N':>4} {'RunTask->RUNNING':>17} {'docker (same)':>14} {'ratio':>6} "
              f"{'agent-only ms':>14} {'docker (raw)':>13}")
        for n in sizes:
            # Small N is repeated so that the median is not one sample.
            rounds = max(1, 10 // n)
            raw, ours, agent_side, docker_same = [], [], [], []
            for r in range(rounds):
                raw += raw_docker(n, f"{n}-{r}-{os.getpid()}")
                a, b, c = agent_launch(cp, cluster, n, agent)
                ours += a
                agent_side += b
                docker_same += c
                harness.wait_for(lambda: not harness.containers_of(cluster), timeout=120,
                                 what="cleanup")
            ma, md = statistics.median(ours), statistics.median(docker_same)
            print(f"{n:>4} {ma:>17.3f} {md:>14.3f} {ma / md:>6.3f} "
                  f"{statistics.median(agent_side) * 1000:>14.1f} "
                  f"{statistics.median(raw):>13.3f}   ({len(ours)} samples)")
        print(f"peak RSS: {rss_kib(agent.proc.pid, 'VmHWM')} KiB; "
              f"RSS after the runs: {rss_kib(agent.proc.pid)} KiB; "
              f"{memory_breakdown(agent.proc.pid)}")
    finally:
        agent.stop()
        cp.stop()
        harness.remove_containers_of(cluster)
        harness.rmtree(tmp)


if __name__ == "__main__":
    main()
