#!/usr/bin/python3
"""One-payload benchmark (prints figures; not a test).

N (default 100) single-container tasks delivered to the agent in ONE ACS PayloadMessage:
the time from that frame going on the wire to the control plane accepting the last of the
N RUNNING reports, against raw Docker creating + starting the same N containers at once
through the Engine API (same image, command, memory and CPU shares); their ratio; and the
agent's RSS before, with the N tasks running and after they are stopped and cleaned up.

ecs-local never puts more than 10 tasks in a payload, so the N tasks are placed with
RunTask (the control plane knows them and accepts their reports) while its own payloads
are held back by a delay fault, and the one payload carrying all N is sent by hand."""
import os
import sys
import time
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import launch  # noqa: E402

IMAGE_CMD = ["sleep", "600"]    # as launch.raw_docker
MEMORY_MIB, CPU_SHARES = 32, 2  # as launch.raw_docker's HostConfig


def accepted(cp, arns, status):
    """task ARN -> control-plane time of its first accepted report with that status."""
    out = {}
    for ch in cp.state_changes():
        b = ch["body"]
        if (isinstance(b, dict) and b.get("status") == status and b.get("task") in arns
                and not (isinstance(ch["result"], dict) and ch["result"].get("error"))):
            out.setdefault(b["task"], ch["time"])
    return out


def sent_at(cp, message_id):
    """Control-plane time at which a PayloadMessage went on the wire."""
    for f in cp.admin("GET", "/acs/messages?direction=out&type=PayloadMessage")["messages"]:
        if f["message"]["message"].get("messageId") == message_id:
            return f["time"]
    raise RuntimeError(f"payload {message_id} not on the wire")


def wait_all(cp, arns, status, timeout):
    seen = {}

    def done():
        seen.update(accepted(cp, arns, status))
        return len(seen) == len(arns)
    harness.wait_for(done, timeout=timeout, interval=0.2,
                     what=f"{len(arns)} tasks reported {status}")
    return seen


def stats(t0, times):
    v = sorted(t - t0 for t in times.values())
    return v[0], v[len(v) // 2], v[-1]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    tmp = harness.make_tmpdir()
    # No re-sends: a held-back payload must not reach the agent as a later re-send.
    cp = harness.ControlPlane(tmp, extra_args=["--resend-interval", "3600"]).start()
    cluster = harness.unique("p100")
    raw_label = f"p100-{os.getpid()}"
    cgroups_before = harness.task_cgroup_ids()
    cp.create_cluster(cluster)
    cp.register("bench100", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                              "memory": MEMORY_MIB, "cpu": CPU_SHARES,
                              "command": IMAGE_CMD}])
    agent = harness.Agent(tmp, cluster, cp.url, {
        "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_LOGLEVEL": "info",
        "ECS_CONTAINER_STOP_TIMEOUT": "1s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"},
        env={"ASAN_OPTIONS": ""})
    agent.start()
    try:
        instance = harness.wait_for(lambda: cp.connected_instance(cluster), timeout=60,
                                    what="registration")
        time.sleep(2)
        pid = agent.proc.pid
        print(f"agent: {harness.agent_binary()}")
        print(f"tasks: {n} x 1 container {harness.BUSYBOX} {' '.join(IMAGE_CMD)}, "
              f"memory {MEMORY_MIB} MiB, cpu {CPU_SHARES}")
        idle = launch.rss_kib(pid)
        print(f"agent RSS before: {idle} KiB; {launch.memory_breakdown(pid)}")

        raw = launch.raw_docker(n, raw_label)
        raw_all = max(raw)
        print(f"raw Docker, {n} create + start at once: all started {raw_all:.3f} s "
              f"(median per container {sorted(raw)[n // 2]:.3f} s)")

        # Place the tasks; the control plane's own payloads for them are held for a day.
        cp.admin("POST", "/faults", {"kind": "delay", "count": 100000, "seconds": 86400,
                                     "types": ["PayloadMessage"]})
        arns = []
        while len(arns) < n:
            arns += cp.run_task(cluster, "bench100", count=min(10, n - len(arns)))
        time.sleep(1)  # let the control plane's delivery pass run into the fault
        cp.admin("DELETE", "/faults")
        leaked = cp.admin("GET", "/acs/messages?direction=out&type=PayloadMessage")["messages"]
        if leaked:
            raise RuntimeError(f"{len(leaked)} control-plane payloads reached the agent")

        carn = cp.cluster_arn(cluster)
        cached = types.SimpleNamespace(cluster_arn=lambda _c: carn)

        def tasks(desired):
            out = []
            for arn in arns:
                t = harness.hand_task(cached, cluster, arn.rsplit("/", 1)[1], [
                    harness.sleeper_container(memory=MEMORY_MIB, cpu=CPU_SHARES,
                                              command=IMAGE_CMD)],
                    family="bench100", desired=desired)
                if t["arn"] != arn:
                    raise RuntimeError(f"hand task ARN {t['arn']} != {arn}")
                out.append(t)
            return out

        start_tasks = tasks("RUNNING")
        mid = f"p100-run-{os.getpid()}"
        cp.send_payload(cluster, instance, mid, start_tasks)
        t0 = sent_at(cp, mid)
        running = wait_all(cp, set(arns), "RUNNING", timeout=600)
        first, median, last = stats(t0, running)
        rss_running = launch.rss_kib(pid)
        print(f"agent, {n} tasks in one payload: all RUNNING reported {last:.3f} s "
              f"(first {first:.3f} s, median {median:.3f} s)")
        print(f"ratio agent / raw Docker: {last / raw_all:.3f}")
        print(f"agent RSS with {n} tasks RUNNING: {rss_running} KiB "
              f"(+{rss_running - idle} KiB, {(rss_running - idle) / n:.1f} KiB/task); "
              f"{launch.memory_breakdown(pid)}")

        mid = f"p100-stop-{os.getpid()}"
        cp.send_payload(cluster, instance, mid, tasks("STOPPED"))
        t1 = sent_at(cp, mid)
        stopped = wait_all(cp, set(arns), "STOPPED", timeout=600)
        print(f"agent, {n} tasks stopped in one payload: all STOPPED reported "
              f"{stats(t1, stopped)[2]:.3f} s")
        harness.wait_for(lambda: not harness.containers_of(cluster), timeout=300,
                         what="agent cleanup")
        print(f"agent RSS after stop + cleanup: {launch.rss_kib(pid)} KiB; "
              f"peak {launch.rss_kib(pid, 'VmHWM')} KiB; {launch.memory_breakdown(pid)}")
    finally:
        agent.stop()
        cp.stop()
        for c in launch.docker_api("GET", "/containers/json?all=1&filters=" +
                                   f'{{"label":["ecs-bench={raw_label}"]}}'):
            launch.docker_api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
        harness.remove_containers_of(cluster)
        harness.remove_task_cgroups(harness.task_cgroup_ids() - cgroups_before)
        harness.rmtree(tmp)


if __name__ == "__main__":
    main()
