#!/usr/bin/python3
"""Pull and image-cleanup benchmark (prints figures; not a test).

1. A task whose image must be pulled from a registry that demands credentials (Debian's
   docker-registry with htpasswd on loopback, which ecs-local treats as ECR: the agent gets
   a token with the task's execution role and pulls with it), ECS_IMAGE_PULL_BEHAVIOR=always,
   the image removed from the host before every run: payload on the wire -> RUNNING report
   accepted (and RunTask accepted -> RUNNING), K times; against the same pull + create +
   start by hand, K times, alternating with the agent's runs: the docker CLI (credentials
   in a throwaway DOCKER_CONFIG, no login) and the Engine API (X-Registry-Auth). The image
   is a one-layer copy of the test busybox with a few random bytes, so that no layer of it
   is on the host when it is pulled.
2. One image cleanup cycle with N (default 200) images on the host that the agent tracks
   (written into its images.json before it starts, pulled long ago), with
   ECS_NUM_IMAGES_DELETE_PER_CYCLE=N and with the default (5): the cycle time the agent logs,
   and the wall-clock time from the first to the last of them gone from Docker's image
   list; against `docker rmi` of N comparable images in one command, one by one, and one
   by one through the Engine API.

Usage: pull.py [K] [N]   (default 10 200). Everything it creates carries the label
ecs-bench-pull=<run> ($ECS_BENCH_PULL_RUN, as pull.sh sets it) and is removed at the end;
the process IDs it starts go to $ECS_BENCH_PULL_STATE/pids for pull.sh's trap."""
import base64
import concurrent.futures
import datetime
import json
import math
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import launch  # noqa: E402

RUN = os.environ.get("ECS_BENCH_PULL_RUN") or harness.unique("ecs-bench-pull")
STATE = os.environ.get("ECS_BENCH_PULL_STATE")
LABEL = "ecs-bench-pull"
EXEC_ROLE = "arn:aws:iam::123456789012:role/ecs-bench-pull-execution-role"
# Stops at once on SIGTERM, so that the stop timeout is not part of every round.
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
MEMORY_MIB, CPU_SHARES = 32, 2
USEC = 1000000
CLEANUP_LINE = re.compile(r'time=(\S+) .*?msg="Image cleanup: removed (\d+) image\(s\) and '
                          r'(\d+) non-ECS container\(s\) in (\d+) ms')
REMOVED_LINE = re.compile(r'time=(\S+) .*?msg="Image cleanup: removed image (sha256:\w+)')


def track(proc):
    """Records a process we started, for pull.sh's trap should we die without cleaning up."""
    if STATE and proc is not None:
        with open(os.path.join(STATE, "pids"), "a") as f:
            f.write(f"{proc.pid}\n")


def log_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def epoch(v):
    if isinstance(v, (int, float)):
        return float(v)
    return datetime.datetime.fromisoformat(v).timestamp()


def p90(v):
    """Nearest rank."""
    s = sorted(v)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def summary(v):
    return f"{statistics.median(v):7.3f} {p90(v):7.3f}"


def api_stream(method, path, headers=None):
    """An Engine API call whose answer is a JSON stream (a pull): read to the end, the
    first error in it raised."""
    c = launch.UnixHTTP("/var/run/docker.sock")
    c.request(method, "/v1.41" + path, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"docker {method} {path}: {r.status} {data[:200]!r}")
    for line in data.splitlines():
        if line.strip() and "error" in json.loads(line):
            raise RuntimeError(f"docker {method} {path}: {line[:300]!r}")


def labelled(kind):
    """IDs of our containers or images."""
    flt = urllib.parse.quote(json.dumps({"label": [f"{LABEL}={RUN}"]}))
    path = "/containers/json?all=1&filters=" if kind == "containers" else "/images/json?filters="
    return [x["Id"] for x in launch.docker_api("GET", path + flt)]


def remove_everything():
    for cid in labelled("containers"):
        launch.docker_api("DELETE", f"/containers/{cid}?force=1&v=1")
    for iid in labelled("images"):
        try:
            launch.docker_api("DELETE", f"/images/{iid}?force=1")
        except RuntimeError:
            pass  # a child of another of ours, gone with it


# ---- 1. pull ----

def make_pull_image(reg):
    """A one-layer image only the registry has: busybox's files plus 4 KiB of random
    bytes (no layer of it is on the host once the local copy is removed)."""
    local = f"{RUN}/pull-src:latest"
    src = harness.docker("create", "--label", f"{LABEL}={RUN}", harness.BUSYBOX, "true")
    with tempfile.TemporaryDirectory(prefix="ecs-bench-pull-") as d:
        with open(os.path.join(d, "blob"), "wb") as f:
            f.write(secrets.token_bytes(4096))
        harness.docker("cp", os.path.join(d, "blob"), f"{src}:/ecs-bench-blob")
    p = subprocess.run(f"docker export {src} | docker import --change 'LABEL {LABEL}={RUN}' "
                       f"--change 'CMD [\"sh\"]' - {local}", shell=True, capture_output=True,
                       text=True)
    harness.docker("rm", "-f", src)
    if p.returncode != 0:
        raise RuntimeError(f"docker import: {p.stderr.strip()}")
    ref = reg.push(local, f"{RUN}/busybox:latest")
    harness.docker("rmi", local)
    return ref


def absent(ref):
    harness.docker("rmi", ref, check=False)
    if harness.docker_inspect(ref) is not None:
        raise RuntimeError(f"{ref} is still on the host")


_ecs_clients = {}


def ecs_client(cp):
    """One botocore ECS client per control plane, made (and warmed up) once."""
    if cp.url not in _ecs_clients:
        import botocore.session
        c = botocore.session.get_session().create_client(
            "ecs", endpoint_url=cp.url, region_name=harness.REGION,
            aws_access_key_id=harness.ACCESS_KEY, aws_secret_access_key=harness.SECRET_KEY)
        c.list_clusters()
        _ecs_clients[cp.url] = c
    return _ecs_clients[cp.url]


def agent_round(cp, cluster, ref):
    """One task: (payload sent -> RUNNING accepted, RunTask accepted -> RUNNING accepted,
    the pull time the agent reported)."""
    absent(ref)
    # RunTask from a client in this process: an awscli process starting up during the pull
    # would take CPU from Docker and the registry (two cores) and slow only this round.
    ecs = ecs_client(cp)
    arn = ecs.run_task(cluster=cluster, taskDefinition="benchpull", launchType="EXTERNAL",
                       count=1)["tasks"][0]["taskArn"]

    def running():
        for ch in cp.state_changes(task=arn):
            b = ch["body"]
            if (isinstance(b, dict) and b.get("status") == "RUNNING"
                    and not (isinstance(ch["result"], dict) and ch["result"].get("error"))):
                return ch
        for ch in cp.state_changes(task=arn):
            if isinstance(ch["body"], dict) and ch["body"].get("status") == "STOPPED":
                raise RuntimeError(f"task stopped: {json.dumps(ch['body'])[:600]}")
        return None
    ch = harness.wait_for(running, timeout=120, interval=0.05, what=f"{arn} RUNNING")
    sent = None
    for f in cp.admin("GET", "/acs/messages?direction=out&type=PayloadMessage")["messages"]:
        if any(t["arn"] == arn for t in f["message"]["message"].get("tasks", [])):
            sent = f["time"]
            break
    created = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["createdAt"]
    created = created.timestamp() if hasattr(created, "timestamp") else float(created)
    b = ch["body"]
    pull = (epoch(b["pullStoppedAt"]) - epoch(b["pullStartedAt"])
            if b.get("pullStartedAt") and b.get("pullStoppedAt") else float("nan"))
    cp.stop_task(cluster, arn)
    cp.wait_task(cluster, arn, "STOPPED", timeout=120)
    # The agent removes the container after its cleanup wait (1 s); only then can the
    # image go.
    harness.wait_for(lambda: not harness.containers_of(cluster), timeout=60, interval=0.2,
                     what="task cleanup")
    return ch["time"] - sent, ch["time"] - created, pull


def cli_round(ref, docker_config):
    absent(ref)
    t0 = time.monotonic()
    p = subprocess.run(["docker", "pull", "-q", ref], capture_output=True, text=True,
                       env=dict(os.environ, DOCKER_CONFIG=docker_config))
    if p.returncode != 0:
        raise RuntimeError(f"docker pull {ref}: {p.stderr.strip()}")
    t1 = time.monotonic()
    cid = harness.docker("create", "--label", f"{LABEL}={RUN}", "--memory", f"{MEMORY_MIB}m",
                         "--cpu-shares", str(CPU_SHARES), ref, *COMMAND)
    harness.docker("start", cid)
    t2 = time.monotonic()
    harness.docker("rm", "-f", cid)
    return t2 - t0, t1 - t0


def api_round(ref, auth_header):
    absent(ref)
    name, tag = ref.rsplit(":", 1)
    t0 = time.monotonic()
    api_stream("POST", "/images/create?" + urllib.parse.urlencode(
        {"fromImage": name, "tag": tag}), {"X-Registry-Auth": auth_header})
    t1 = time.monotonic()
    c = launch.docker_api("POST", "/containers/create", {
        "Image": ref, "Cmd": COMMAND, "Labels": {LABEL: RUN},
        "HostConfig": {"CpuShares": CPU_SHARES, "Memory": MEMORY_MIB << 20}})
    launch.docker_api("POST", f"/containers/{c['Id']}/start")
    t2 = time.monotonic()
    launch.docker_api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
    return t2 - t0, t1 - t0


def bench_pull(tmp, cp, cluster, reg, k):
    ref = make_pull_image(reg)
    cp.admin("POST", "/registry-credentials", {"username": reg.user, "password": reg.password})
    cp.register("benchpull", [{"name": "main", "image": ref, "essential": True,
                               "memory": MEMORY_MIB, "cpu": CPU_SHARES, "command": COMMAND}],
                execution_role_arn=EXEC_ROLE)
    conf = os.path.join(tmp, "docker-config")
    os.makedirs(conf, mode=0o700)
    token = base64.b64encode(f"{reg.user}:{reg.password}".encode()).decode()
    with open(os.path.join(conf, "config.json"), "w") as f:
        json.dump({"auths": {reg.host: {"auth": token}}}, f)
    auth_header = base64.urlsafe_b64encode(json.dumps({
        "username": reg.user, "password": reg.password,
        "serveraddress": reg.host}).encode()).decode()

    sub = os.path.join(tmp, "agent-pull")
    os.makedirs(sub)
    agent = harness.Agent(sub, cluster, cp.url, {
        "ECS_IMAGE_PULL_BEHAVIOR": "always", "ECS_LOGLEVEL": "info",
        "ECS_CONTAINER_STOP_TIMEOUT": "1s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"},
        env={"ASAN_OPTIONS": ""})
    agents.append(agent)
    track(agent.start().proc)
    harness.wait_for(lambda: cp.connected_instance(cluster), timeout=60, what="registration")

    ours, ours_runtask, ours_pull, cli, cli_pull, api, api_pull = [], [], [], [], [], [], []
    def run_agent():
        a, b, c = agent_round(cp, cluster, ref)
        ours.append(a)
        ours_runtask.append(b)
        ours_pull.append(c)

    def run_cli():
        a, b = cli_round(ref, conf)
        cli.append(a)
        cli_pull.append(b)

    def run_api():
        a, b = api_round(ref, auth_header)
        api.append(a)
        api_pull.append(b)
    rounds = [run_agent, run_cli, run_api]
    for i in range(k):
        # The three take turns at going first, so that none always follows the same one.
        for r in rounds[i % 3:] + rounds[:i % 3]:
            r()
    token_calls = cp.admin("GET", "/api-log?operation=GetAuthorizationToken")["requests"]
    agent.stop()
    absent(ref)

    print(f"1. pull from an authenticating registry ({reg.host}, ECR token via the "
          f"execution role), image removed before each run; K={k}; seconds, median and "
          "p90 (nearest rank)")
    print(f"   {'':46} {'median':>7} {'p90':>7}")
    print(f"   {'agent: payload sent -> RUNNING accepted':46} {summary(ours)}")
    print(f"   {'agent: RunTask accepted -> RUNNING accepted':46} {summary(ours_runtask)}")
    print(f"   {'agent: pull (its pullStartedAt..StoppedAt)':46} {summary(ours_pull)}")
    print(f"   {'docker CLI: pull + create + start':46} {summary(cli)}")
    print(f"   {'docker CLI: pull alone':46} {summary(cli_pull)}")
    print(f"   {'Engine API: pull + create + start':46} {summary(api)}")
    print(f"   {'Engine API: pull alone':46} {summary(api_pull)}")
    mo = statistics.median(ours)
    print(f"   ratio agent (payload -> RUNNING) / docker CLI, medians: "
          f"{mo / statistics.median(cli):.3f}; p90s: {p90(ours) / p90(cli):.3f}  (target <= 1.05)")
    print(f"   ratio agent (payload -> RUNNING) / Engine API, medians: "
          f"{mo / statistics.median(api):.3f}; p90s: {p90(ours) / p90(api):.3f}")
    print(f"   agent samples: {' '.join(f'{x:.3f}' for x in ours)}")
    print(f"   GetAuthorizationToken calls: {len(token_calls)}")


# ---- 2. image cleanup ----

class Images:
    """Distinct small images: commits of one stopped busybox container, each with its own
    label (a tag would share the ID)."""

    def __init__(self):
        self.src = launch.docker_api("POST", "/containers/create", {
            "Image": harness.BUSYBOX, "Cmd": ["true"], "Labels": {LABEL: RUN}})["Id"]
        self.n = 0

    def make(self, count, repo):
        """count images repo:<i>; [(id, "repo:i")]."""
        first = self.n
        self.n += count

        def one(i):
            q = urllib.parse.urlencode([("container", self.src), ("repo", repo),
                                        ("tag", str(i)),
                                        ("changes", f"LABEL {LABEL}={RUN} x={RUN}-{i}")])
            return launch.docker_api("POST", "/commit?" + q, {})["Id"], f"{repo}:{i}"
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            return list(ex.map(one, range(first, first + count)))


def images_named(repo):
    flt = urllib.parse.quote(json.dumps({"reference": [repo]}))
    return len(launch.docker_api("GET", "/images/json?filters=" + flt))


class Watch(threading.Thread):
    """Polls Docker's image list: when the first and the last of repo's images went."""

    def __init__(self, repo, total):
        super().__init__(daemon=True)
        self.repo, self.total = repo, total
        self.first = self.last = None
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            n = images_named(self.repo)
            now = time.monotonic()
            if n < self.total and self.first is None:
                self.first = now
            if n == 0:
                self.last = now
                return
            time.sleep(0.02)


def cleanup_agent(tmp, cp, cluster, imgs, per_cycle, cycles, name):
    """An agent that tracks imgs from its images.json; runs until it logged `cycles`
    cycles; returns [(removed, ms)], the agent's first..last removal (s), and the watch."""
    sub = os.path.join(tmp, name)
    data = os.path.join(sub, "data")
    os.makedirs(data, mode=0o700)
    long_ago = int(time.time() * USEC) - 2 * 3600 * USEC
    with open(os.path.join(data, "images.json"), "w") as f:
        json.dump({"images": [{"id": iid, "names": [ref], "pulledAt": long_ago,
                               "lastUsed": long_ago + i} for i, (iid, ref) in enumerate(imgs)]},
                  f)
    agent = harness.Agent(sub, cluster, cp.url, {
        "ECS_LOGLEVEL": "info", "ECS_IMAGE_CLEANUP_TEST_INTERVAL": "5s",
        "ECS_IMAGE_MINIMUM_CLEANUP_AGE": "1s",
        "ECS_NUM_IMAGES_DELETE_PER_CYCLE": str(per_cycle) if per_cycle else None},
        env={"ASAN_OPTIONS": ""})
    agents.append(agent)
    repo = imgs[0][1].rsplit(":", 1)[0]
    watch = Watch(repo, len(imgs))
    watch.start()
    track(agent.start().proc)

    def logged():
        found = CLEANUP_LINE.findall(agent.read_log())
        return found if len(found) >= cycles else None
    found = harness.wait_for(logged, timeout=30 + 10 * cycles, interval=0.1,
                             what=f"{cycles} cleanup cycles")
    agent.stop()
    watch.halt.set()
    watch.join()
    removed = [log_time(t) for t, _ in REMOVED_LINE.findall(agent.read_log())]
    span = removed[-1] - removed[0] if removed else float("nan")
    return [(int(n), int(ms)) for _, n, _, ms in found[:cycles]], span, len(removed), watch


def by_hand(imgs, how):
    """Seconds the removal took, and the watch (polling as during the agent's cycle)."""
    watch = Watch(imgs[0][1].rsplit(":", 1)[0], len(imgs))
    watch.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    if how == "one command":
        harness.docker("rmi", *[ref for _, ref in imgs])
    elif how == "one by one":
        for _, ref in imgs:
            harness.docker("rmi", ref)
    else:
        for _, ref in imgs:
            launch.docker_api("DELETE", "/images/" + urllib.parse.quote(ref, safe=""))
    t = time.monotonic() - t0
    watch.join(30)
    watch.halt.set()
    return t, watch


def bench_cleanup(tmp, cp, cluster, n):
    imgs = Images()
    print(f"2. image cleanup with {n} tracked images on the host (images.json written "
          "before the agent starts; ECS_IMAGE_CLEANUP_TEST_INTERVAL=5s)")

    # The default per-cycle budget first, for three cycles; then N per cycle on a fresh
    # agent, the removed ones replaced so that it again finds N.
    repo = f"{RUN}/cleanup"
    t0 = time.monotonic()
    batch = imgs.make(n, repo)
    made = time.monotonic() - t0
    cycles, span, _, _ = cleanup_agent(tmp, cp, cluster, batch, None, 3, "agent-cleanup-5")
    left = [x for x in batch if harness.docker_inspect(x[1])]
    ms = [m for _, m in cycles]
    print(f"   ECS_NUM_IMAGES_DELETE_PER_CYCLE default (5): cycles logged "
          f"{', '.join(f'{r} image(s) in {m} ms' for r, m in cycles)}; "
          f"{n - len(left)} of {n} gone after {len(cycles)} cycles")
    per = max(1, cycles[0][0])
    print(f"     at that rate all {n} take {math.ceil(n / per)} cycles: "
          f"{math.ceil(n / per) * statistics.median(ms) / 1000:.2f} s of cycle time, "
          f"{math.ceil(n / per) * 5 / 60:.1f} min at the 5 s test interval, "
          f"{math.ceil(n / per) * 30 / 60:.1f} h at the default 30 min interval")

    refill = imgs.make(n - len(left), repo)
    batch = left + refill
    cycles, span, _, watch = cleanup_agent(tmp, cp, cluster, batch, n, 1, "agent-cleanup-n")
    (removed, ms), = cycles
    wall = (watch.last - watch.first) if watch.first and watch.last else float("nan")
    print(f"   ECS_NUM_IMAGES_DELETE_PER_CYCLE={n}: one cycle removed {removed} image(s) in "
          f"{ms} ms (agent's log; {ms / max(1, removed):.1f} ms per image); its first..last "
          f"'removed image' line {span * 1000:.0f} ms; Docker's image list: first..last of "
          f"them gone {wall * 1000:.0f} ms")
    if images_named(repo):
        print(f"     {images_named(repo)} of them still on the host")

    for how in ("one command", "one by one", "one by one, Engine API"):
        batch = imgs.make(n, f"{RUN}/rmi-{how.replace(' ', '').replace(',', '-').lower()}")
        t, watch = by_hand(batch, how)
        wall = (watch.last - watch.first) if watch.first and watch.last else float("nan")
        print(f"   docker rmi of {n} by hand, {how}: {t * 1000:.0f} ms "
              f"({t / n * 1000:.1f} ms per image); Docker's image list: first..last gone "
              f"{wall * 1000:.0f} ms")
    print(f"   ({n} commits to make a batch took {made:.1f} s)")


agents = []


def main():
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="ecs-bench-pull-", dir=STATE)
    cgroups_before = harness.task_cgroup_ids()
    cluster = RUN
    reg = cp = None
    try:
        print(f"agent: {harness.agent_binary()}")
        reg = harness.Registry(tmp, auth=("AWS", secrets.token_urlsafe(16)))
        reg.start()
        track(reg.proc)
        cp = harness.ControlPlane(tmp, extra_args=["--ecr-registry", reg.host])
        cp.start()
        track(cp.proc)
        cp.create_cluster(cluster)
        t0 = time.monotonic()
        bench_pull(tmp, cp, cluster, reg, k)
        t1 = time.monotonic()
        bench_cleanup(tmp, cp, cluster, n)
        print(f"(part 1 took {t1 - t0:.0f} s, part 2 {time.monotonic() - t1:.0f} s)")
    finally:
        for a in agents:
            a.kill()
        if cp:
            cp.stop()
        if reg:
            reg.stop()
        harness.remove_containers_of(cluster)
        harness.remove_task_cgroups(harness.task_cgroup_ids() - cgroups_before)
        remove_everything()
        harness.rmtree(tmp)


if __name__ == "__main__":
    main()
