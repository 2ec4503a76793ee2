#!/usr/bin/python3
"""Metrics benchmark (prints figures; not a test).

The agent's own cost of collecting and publishing container metrics: its CPU (utime +
stime from /proc/PID/stat) over a window of M minutes (default 5) and its RSS (VmRSS,
RssAnon) with 0, 20 and 100 running single-container tasks (busybox sleep), once with
metrics on (sampled every second, published to ecs-local's TCS every 20 s) and once, in the
same run, with ECS_DISABLE_METRICS=true as the baseline. The difference is what metrics
cost. Target: with 100 containers, at most 0.5 % of one core and 30 KiB RSS per container.

Usage: metrics.py [--minutes M] [--counts 0,20,100]"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import launch  # noqa: E402
from churn import cpu_seconds  # noqa: E402


def running(cluster):
    out = subprocess.run(["docker", "ps", "-q", "--filter",
                          f"label=com.amazonaws.ecs.cluster={cluster}", "--filter",
                          "status=running"], capture_output=True, text=True).stdout
    return len(out.split())


def scale_to(cp, cluster, n, have):
    while have < n:
        k = min(10, n - have)
        cp.run_task(cluster, "metricsbench", count=k)
        have += k
    harness.wait_for(lambda: running(cluster) >= n, timeout=60 + 3 * n,
                     what=f"{n} containers running")
    return have


def frames(cp, instance):
    return [m for m in cp.admin("GET", "/tcs")["metrics"] if m["instance"] == instance]


def measure(mode, settings, counts, minutes):
    tmp = harness.make_tmpdir()
    cp = harness.ControlPlane(tmp).start()
    cluster = harness.unique("metricsbench")
    cgroups_before = harness.task_cgroup_ids()
    cp.create_cluster(cluster)
    cp.register("metricsbench", [harness.sleeper_container(command=["sleep", "86400"],
                                                           memory=8)])
    base = {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_LOGLEVEL": "warn",
            "ECS_CONTAINER_STOP_TIMEOUT": "1s", "ECS_DISABLE_IMAGE_CLEANUP": "true"}
    agent = harness.Agent(tmp, cluster, cp.url, dict(base, **settings),
                          env={"ASAN_OPTIONS": ""})
    agent.start()
    out = {}
    try:
        inst = harness.wait_for(lambda: cp.connected_instance(cluster), timeout=60,
                                what="registration")
        pid = agent.proc.pid
        have = 0
        for n in counts:
            have = scale_to(cp, cluster, n, have)
            time.sleep(30)  # past one publish, so the rings are full and steady
            f0, c0, t0 = len(frames(cp, inst)), cpu_seconds(pid), time.monotonic()
            time.sleep(minutes * 60)
            c1, t1 = cpu_seconds(pid), time.monotonic()
            out[n] = {"cpu_pct": 100 * (c1 - c0) / (t1 - t0), "cpu_s": c1 - c0,
                      "rss": launch.rss_kib(pid), "anon": launch.rss_kib(pid, "RssAnon"),
                      "frames": len(frames(cp, inst)) - f0, "running": running(cluster)}
            r = out[n]
            print(f"  {mode:8s} {n:4d} containers: CPU {r['cpu_s']:.2f} s over "
                  f"{t1 - t0:.0f} s = {r['cpu_pct']:.3f} % of one core; VmRSS {r['rss']} KiB, "
                  f"RssAnon {r['anon']} KiB; metrics frames {r['frames']}", flush=True)
    finally:
        agent.stop()
        harness.remove_containers_of(cluster)
        harness.remove_task_cgroups(harness.task_cgroup_ids() - cgroups_before)
        cp.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--counts", default="0,20,100")
    args = ap.parse_args()
    counts = [int(x) for x in args.counts.split(",")]
    print(f"agent: {harness.agent_binary()}; {os.cpu_count()} CPUs; window "
          f"{args.minutes:g} min per step; counts {counts}", flush=True)
    on = measure("metrics", {}, counts, args.minutes)
    off = measure("disabled", {"ECS_DISABLE_METRICS": "true"}, counts, args.minutes)
    print("cost of metrics (on - disabled):")
    for n in counts:
        d_cpu = on[n]["cpu_pct"] - off[n]["cpu_pct"]
        d_rss = on[n]["rss"] - off[n]["rss"]
        d_anon = on[n]["anon"] - off[n]["anon"]
        line = (f"  {n:4d} containers: CPU {d_cpu:+.3f} % of one core, VmRSS {d_rss:+d} KiB, "
                f"RssAnon {d_anon:+d} KiB")
        if n:
            base = counts[0]
            per = ((on[n]["anon"] - on[base]["anon"]) - (off[n]["anon"] - off[base]["anon"])) / \
                (n - base) if n != base else float("nan")
            line += f"; RssAnon per container for metrics {per:+.1f} KiB"
        print(line)


if __name__ == "__main__":
    main()
