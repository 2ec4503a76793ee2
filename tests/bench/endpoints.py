#!/usr/bin/python3
"""Endpoint benchmark (prints figures; not a test).

p50/p99 latency and requests per second of /v2/credentials/<id> and /v4/<id>/task at 1, 50
and 500 concurrent keep-alive loopback clients (tests/bench/httpload.c; 16 clients per
loopback source address), once with Docker idle and once while 20 tasks are launching;
the agent's RSS before and after. The binding to the calling task is off here (the clients
are host processes) and the rate limit is raised, so that the server itself is measured."""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import harness  # noqa: E402
from launch import rss_kib  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/bench-role"
SECONDS = float(os.environ.get("ECS_BENCH_SECONDS", "4"))


def env_of(cid):
    import json
    p = subprocess.run(["docker", "inspect", cid, "--format", "{{json .Config.Env}}"],
                       capture_output=True, text=True, check=True)
    return dict(e.split("=", 1) for e in json.loads(p.stdout))


def load(httpload, path, conns, seconds):
    p = subprocess.run([httpload, "127.0.0.1", "51679", path, str(conns), str(seconds), "16"],
                       capture_output=True, text=True)
    return p.stdout.strip() or p.stderr.strip()


def round_of(httpload, paths, label):
    for name, path in paths:
        for conns in (1, 50, 500):
            print(f"  {label:<12} {name:<12} {load(httpload, path, conns, SECONDS)}", flush=True)


def main():
    httpload = sys.argv[1]
    tmp = harness.make_tmpdir()
    cp = harness.ControlPlane(tmp).start()
    cluster = harness.unique("bench")
    cp.create_cluster(cluster)
    cp.register("bench-ep", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                              "memory": 16, "cpu": 2, "command": ["sleep", "600"]}],
                task_role_arn=ROLE)
    agent = harness.Agent(tmp, cluster, cp.url, {
        "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_LOGLEVEL": "info",
        "ECS_ENABLE_TASK_IAM_ROLE": "true", "ECS_CREDENTIALS_BOUND_TO_TASK": "false",
        "ECS_TASK_METADATA_RPS_LIMIT": "1000000,1000000", "ECS_AUDIT_LOGFILE_DISABLED": "true",
        "ECS_CONTAINER_STOP_TIMEOUT": "1s"}, env={"ASAN_OPTIONS": ""})
    agent.start()
    try:
        harness.wait_for(lambda: cp.instances(cluster), timeout=60, what="registration")
        arn = cp.run_task(cluster, "bench-ep")[0]
        task = cp.wait_task(cluster, arn, "RUNNING")
        env = env_of(task["containers"][0]["runtimeId"])
        paths = [("credentials", env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]),
                 ("v4 task", env["ECS_CONTAINER_METADATA_URI_V4"].removeprefix(
                     "http://169.254.170.2") + "/task")]
        time.sleep(1)
        before = rss_kib(agent.proc.pid)
        print(f"agent: {harness.agent_binary()}; {SECONDS:g} s per run")
        print(f"RSS before: {before} KiB")
        round_of(httpload, paths, "idle Docker")
        time.sleep(1)
        idle_after = rss_kib(agent.proc.pid)
        print(f"RSS after the idle round: {idle_after} KiB (growth {idle_after - before} KiB)")

        # 20 tasks launching meanwhile: the same runs again while Docker is busy.
        launching = threading.Thread(  # RunTask takes at most 10 at a time
            target=lambda: [cp.run_task(cluster, "bench-ep", count=10) for _ in range(2)],
            daemon=True)
        launching.start()
        round_of(httpload, paths, "20 launching")
        launching.join()
        after = rss_kib(agent.proc.pid)
        print(f"RSS after the busy round (21 tasks now): {after} KiB "
              f"(growth {after - before} KiB)")
    finally:
        agent.kill()
        cp.stop()
        harness.remove_containers_of(cluster)
        harness.rmtree(tmp)


if __name__ == "__main__":
    main()
