#!/usr/bin/python3
"""Restart benchmark (prints figures; not a test): with N tasks running, SIGKILL the agent,
start it again, and measure how long until the saved tasks are loaded and checked against
Docker (the agent's own "Restored" line), until it holds its ACS session again, and that
nothing was duplicated or lost."""
import datetime
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import harness  # noqa: E402


def log_time(line):
    t = re.search(r"time=(\S+)", line).group(1)
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    tmp = harness.make_tmpdir()
    cp = harness.ControlPlane(tmp).start()
    cluster = harness.unique("rbench")
    cp.create_cluster(cluster)
    cp.register("idle", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                          "memory": 8, "cpu": 2, "command": ["sleep", "3600"]}])
    settings = {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_LOGLEVEL": "info",
                "ECS_CONTAINER_STOP_TIMEOUT": "1s"}
    agent = harness.Agent(tmp, cluster, cp.url, settings, env={"ASAN_OPTIONS": ""})
    agent.start()
    try:
        harness.wait_for(lambda: cp.connected_instance(cluster), timeout=60, what="register")
        arns = []
        while len(arns) < n:
            arns += cp.run_task(cluster, "idle", count=min(10, n - len(arns)))
        t0 = time.monotonic()
        for a in arns:
            cp.wait_task(cluster, a, "RUNNING", timeout=600)
        print(f"{n} tasks RUNNING after {time.monotonic() - t0:.1f} s")
        before = set(harness.containers_of(cluster))

        agent.kill()
        with open(agent.log_path, "a") as f:
            f.write("--- restart ---\n")
        started = time.time()
        agent = harness.Agent(tmp, cluster, cp.url, settings, env={"ASAN_OPTIONS": ""})
        agent.start()
        def after_restart(text):
            return harness.wait_for(
                lambda: next((ln for ln in agent.read_log().split("--- restart ---")[-1]
                              .splitlines() if text in ln), None),
                timeout=60, what=text)
        restored = after_restart("Restored ")
        connected = after_restart("ACS: connected")
        msg = re.search(r'msg="([^"]*)"', restored).group(1)
        print(f"restart: {msg}")
        print(f"process start -> tasks restored and checked: {log_time(restored) - started:.3f} s")
        print(f"process start -> ACS session held again:    {log_time(connected) - started:.3f} s")
        after = set(harness.containers_of(cluster))
        print(f"containers before {len(before)}, after {len(after)}, "
              f"same set: {before == after}")
        pid = agent.proc.pid
        with open(f"/proc/{pid}/status") as f:
            rss = next(line.split()[1] for line in f if line.startswith("VmRSS:"))
        print(f"agent RSS with {n} tasks: {rss} KiB")
    finally:
        agent.stop()
        cp.stop()
        harness.remove_containers_of(cluster)
        harness.rmtree(tmp)


if __name__ == "__main__":
    main()
