#!/usr/bin/python3
"""Churn benchmark (prints figures; not a test).

Short single-container tasks (busybox `sleep 5`) started with RunTask at an even rate
(default 40 a minute for 10 minutes) while the agent runs with a short task-cleanup wait,
so tasks come, stop and are cleaned up (containers removed) throughout the run. Prints the
agent's RSS (VmRSS and its anonymous part RssAnon, from /proc/PID/status) after a warm-up
and at the end, how it moved over the run (least-squares slope over time, and against the
number of tasks the agent tracks), the tasks launched and tracked, and the containers left
once cleanup has run. Target: RSS flat, at most 50 KiB per tracked task.

Usage: churn.py [--minutes M] [--rate R] [--sleep S] [--cleanup-wait S] [--warmup S]"""
import argparse
import concurrent.futures
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import launch  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tracked_files(agent):
    """Tasks the agent keeps a state file for (added, not yet cleaned up)."""
    d = os.path.join(agent.datadir, "tasks")
    return len([f for f in os.listdir(d) if f.endswith(".json")]) if os.path.isdir(d) else 0


def tracked_log(agent):
    """Tasks the agent logged as added and not (yet) as cleaned up."""
    text = agent.read_log()
    added = set(re.findall(r"Task (\S+) \([^)]*\): added", text))
    cleaned = set(re.findall(r"Task (\S+): cleaned up", text))
    return len(added - cleaned)


def slope(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=40.0, help="tasks started per minute")
    ap.add_argument("--sleep", type=int, default=5, help="seconds each task runs")
    ap.add_argument("--cleanup-wait", default="30s",
                    help="ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION of the agent")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before the start figures (default min(60, run/4))")
    ap.add_argument("--sample", type=float, default=5.0, help="sampling period, seconds")
    args = ap.parse_args()
    duration = args.minutes * 60
    total = int(round(args.minutes * args.rate))
    interval = 60.0 / args.rate
    warmup = args.warmup if args.warmup is not None else min(60.0, duration / 4)

    tmp = harness.make_tmpdir()
    cp = harness.ControlPlane(tmp).start()
    cluster = harness.unique("churn")
    cgroups_before = harness.task_cgroup_ids()
    cp.create_cluster(cluster)
    cp.register("churn", [harness.sleeper_container(command=["sleep", str(args.sleep)])])
    agent = harness.Agent(tmp, cluster, cp.url, {
        "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_LOGLEVEL": "info",
        "ECS_CONTAINER_STOP_TIMEOUT": "1s", "ECS_DISABLE_IMAGE_CLEANUP": "true",
        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": args.cleanup_wait},
        env={"ASAN_OPTIONS": ""})
    agent.start()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    try:
        harness.wait_for(lambda: cp.connected_instance(cluster), timeout=60,
                         what="registration")
        time.sleep(2)
        pid = agent.proc.pid
        print(f"agent: {harness.agent_binary()}")
        print(f"churn: {total} tasks ({harness.BUSYBOX} sleep {args.sleep}) at "
              f"{args.rate:g}/min for {args.minutes:g} min, cleanup wait {args.cleanup_wait}, "
              f"warm-up {warmup:g} s")
        idle = (launch.rss_kib(pid), launch.rss_kib(pid, "RssAnon"))
        print(f"idle RSS (no task yet): VmRSS {idle[0]} KiB, RssAnon {idle[1]} KiB")

        arns, failures, lock = [], [], threading.Lock()

        def run_one():
            try:
                got = cp.run_task(cluster, "churn")
                with lock:
                    arns.extend(got)
            except Exception as e:  # noqa: BLE001 - counted and shown, the run goes on
                with lock:
                    failures.append(str(e)[:200])

        samples = []  # (seconds since start, VmRSS, RssAnon, tracked)

        def sample(t0):
            samples.append((time.monotonic() - t0, launch.rss_kib(pid),
                            launch.rss_kib(pid, "RssAnon"), tracked_files(agent)))
            return samples[-1]

        t0 = time.monotonic()
        cpu0 = cpu_seconds(pid)
        start = None
        next_sample = 0.0
        futures = []
        for i in range(total):
            due = i * interval
            while True:
                now = time.monotonic() - t0
                if now >= next_sample:
                    s = sample(t0)
                    next_sample += args.sample
                    if start is None and s[0] >= warmup:
                        start = s
                if now >= due:
                    break
                time.sleep(min(due - now, max(0.0, next_sample - now), 0.5))
            futures.append(pool.submit(run_one))
        # The last task's interval, then the end figures.
        while time.monotonic() - t0 < duration:
            time.sleep(min(0.5, duration - (time.monotonic() - t0)))
            if time.monotonic() - t0 >= next_sample:
                sample(t0)
                next_sample += args.sample
        concurrent.futures.wait(futures)
        end = sample(t0)
        cpu1 = cpu_seconds(pid)
        if start is None:
            start = samples[0]
        end_log = tracked_log(agent)
        end_containers = len(harness.containers_of(cluster))

        # Drain: every task stopped and reported, then cleaned up by the agent.
        launched = set(arns)

        def stopped_reported():
            return {ch["body"]["task"] for ch in cp.state_changes()
                    if isinstance(ch["body"], dict) and ch["body"].get("status") == "STOPPED"
                    and ch["body"].get("task") in launched}
        try:
            harness.wait_for(lambda: len(stopped_reported()) == len(launched),
                             timeout=args.sleep + 120, what="all tasks STOPPED")
            harness.wait_for(lambda: tracked_files(agent) == 0
                             and not harness.containers_of(cluster),
                             timeout=seconds(args.cleanup_wait) + 180, what="agent cleanup")
        except AssertionError as e:
            print(f"drain: {e}")
        done = stopped_reported()
        drained = (launch.rss_kib(pid), launch.rss_kib(pid, "RssAnon"))
        leftover = len(harness.containers_of(cluster))

        after = [s for s in samples if s[0] >= start[0]]
        xs = [s[0] / 60 for s in after]
        print(f"tasks launched: {len(arns)} (RunTask failures {len(failures)}), "
              f"reported STOPPED: {len(done)}")
        if failures:
            print(f"  first failure: {failures[0]}")
        print(f"start (t={start[0]:.0f} s): VmRSS {start[1]} KiB, RssAnon {start[2]} KiB, "
              f"tracked tasks {start[3]}")
        print(f"end   (t={end[0]:.0f} s): VmRSS {end[1]} KiB, RssAnon {end[2]} KiB, "
              f"tracked tasks {end[3]} (log: {end_log}), containers {end_containers}")
        print(f"change start -> end: VmRSS {end[1] - start[1]:+d} KiB, "
              f"RssAnon {end[2] - start[2]:+d} KiB over {(end[0] - start[0]) / 60:.1f} min")
        print(f"slope over time (least squares, {len(after)} samples every {args.sample:g} s): "
              f"VmRSS {slope(xs, [s[1] for s in after]):+.1f} KiB/min, "
              f"RssAnon {slope(xs, [s[2] for s in after]):+.1f} KiB/min")
        print(f"KiB per tracked task (least squares of RSS against tracked tasks): "
              f"VmRSS {slope([s[3] for s in after], [s[1] for s in after]):+.1f}, "
              f"RssAnon {slope([s[3] for s in after], [s[2] for s in after]):+.1f}")
        if end[3]:
            print(f"KiB per tracked task at the end ((end - idle) / tracked): "
                  f"VmRSS {(end[1] - idle[0]) / end[3]:.1f}, "
                  f"RssAnon {(end[2] - idle[1]) / end[3]:.1f}")
        print(f"tracked tasks over the run: min {min(s[3] for s in after)}, "
              f"max {max(s[3] for s in after)}; "
              f"VmRSS min {min(s[1] for s in after)} max {max(s[1] for s in after)} KiB")
        print(f"agent CPU over the run: {cpu1 - cpu0:.1f} s "
              f"({100 * (cpu1 - cpu0) / end[0]:.1f}% of one core)")
        print(f"after cleanup: VmRSS {drained[0]} KiB, RssAnon {drained[1]} KiB, "
              f"tracked tasks {tracked_files(agent)} (log: {tracked_log(agent)}), "
              f"leftover containers {leftover}; peak VmRSS {launch.rss_kib(pid, 'VmHWM')} KiB")
    finally:
        pool.shutdown(wait=True)
        agent.stop()
        cp.stop()
        harness.remove_containers_of(cluster)
        harness.remove_task_cgroups(harness.task_cgroup_ids() - cgroups_before)
        harness.rmtree(tmp)


def seconds(text):
    """'30s', '2m', '1h' or plain seconds -> seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not m:
        return 60.0
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


if __name__ == "__main__":
    main()
