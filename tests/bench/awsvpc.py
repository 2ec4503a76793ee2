#!/usr/bin/python3
"""awsvpc benchmark (prints figures; not a test).

N single-container tasks one after another in awsvpc mode, each on its own simulated ENI
(the integration test's veth + "subnet" namespace), then N in bridge mode, on one agent
with ECS_ENABLE_TASK_ENI=true. For each task: the time from the PayloadMessage carrying it
going on the wire to the control plane accepting its RUNNING report (both on the control
plane's clock), and for awsvpc the agent's own netlink setup time (ENI move, addresses,
routes, veth; from its log). Medians and ranges are printed."""
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import harness  # noqa: E402
from test_awsvpc import Subnet, attachment  # noqa: E402


def payload_time(cp, arn):
    for f in cp.admin("GET", "/acs/messages?direction=out&type=PayloadMessage")["messages"]:
        tasks = f["message"]["message"].get("tasks") or []
        if any(t.get("arn") == arn for t in tasks):
            return f["time"]
    raise RuntimeError(f"no payload carried {arn}")


def running_time(cp, arn):
    for ch in cp.state_changes(task=arn):
        b = ch["body"]
        if isinstance(b, dict) and b.get("status") == "RUNNING":
            return ch["time"]
    return None


def run_one(cp, cluster, family, awsvpc):
    args = ["ecs", "run-task", "--cluster", cluster, "--task-definition", family,
            "--launch-type", "EC2"]
    if awsvpc:
        args += ["--network-configuration",
                 json.dumps({"awsvpcConfiguration": {"subnets": ["subnet-0abc"]}})]
    arn = cp.aws(*args)["tasks"][0]["taskArn"]
    subnet = mac = None
    if awsvpc:
        eni = attachment(cp.describe_task(cluster, arn))
        mac = eni["macAddress"]
        subnet = Subnet("10.0.1.1/24")  # ecs-local's default ENI subnet
        subnet.plug_eni(mac, servers=False)
    cp.wait_task(cluster, arn, "RUNNING", timeout=120)
    harness.wait_for(lambda: running_time(cp, arn), what="RUNNING accepted")
    took = running_time(cp, arn) - payload_time(cp, arn)
    return arn, took, subnet, mac


def summary(name, values, unit="s", scale=1.0):
    v = [x * scale for x in values]
    print(f"{name}: median {statistics.median(v):.3f} {unit}, min {min(v):.3f}, "
          f"max {max(v):.3f} ({len(v)} samples)")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    tmp = harness.make_tmpdir()
    imds_port = harness.free_port()
    cp = harness.ControlPlane(tmp, extra_args=["--imds", f"127.0.0.1:{imds_port}"]).start()
    cluster = harness.unique("vpcb")
    agent_dir = os.path.join(tmp, "agent")
    os.makedirs(agent_dir)
    agent = harness.Agent(agent_dir, cluster, cp.url,
                          {"ECS_EXTERNAL": "false", "ECS_ENABLE_TASK_ENI": "true",
                           "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_LOGLEVEL": "info",
                           "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s"},
                          env={"AWS_EC2_METADATA_SERVICE_ENDPOINT":
                               f"http://127.0.0.1:{imds_port}"})
    bridge_before = any(l["ifname"] == "ecs-bridge" for l in
                        json.loads(os.popen("ip -j link").read()))
    subnets = []
    try:
        cp.create_cluster(cluster)
        agent.start()
        harness.wait_for(lambda: cp.connected_instance(cluster), timeout=60, what="agent up")
        container = [{"name": "app", "image": harness.BUSYBOX, "essential": True,
                      "memory": 32, "command": ["sleep", "600"]}]
        cp.register("bvpc", container, network_mode="awsvpc")
        cp.register("bbridge", container)
        results = {"awsvpc": [], "bridge": []}
        for mode in ("awsvpc", "bridge"):
            for _ in range(n):
                arn, took, subnet, mac = run_one(cp, cluster, "bvpc" if mode == "awsvpc"
                                                 else "bbridge", mode == "awsvpc")
                results[mode].append(took)
                if subnet:
                    subnets.append((subnet, mac))
                cp.stop_task(cluster, arn)
                cp.wait_task(cluster, arn, "STOPPED", timeout=60)
        setup_us = [int(m) for m in re.findall(r"is eth0 of the task namespace, bridge address "
                                               r"\S+ \((\d+) us\)", agent.read_log())]
        print(f"tasks: {n} awsvpc then {n} bridge, one at a time, busybox sleep 600")
        summary("awsvpc payload -> RUNNING accepted", results["awsvpc"])
        summary("bridge payload -> RUNNING accepted", results["bridge"])
        print(f"ratio of medians awsvpc / bridge: "
              f"{statistics.median(results['awsvpc']) / statistics.median(results['bridge']):.3f}")
        summary("awsvpc netlink setup in the agent (ENI move, addresses, routes, veth)",
                setup_us, unit="ms", scale=0.001)
    finally:
        agent.kill()
        cp.stop()
        harness.remove_containers_of(cluster)
        for subnet, mac in subnets:
            subnet.remove(mac)
        if not bridge_before:
            os.system("ip link del ecs-bridge 2>/dev/null")
        harness.rmtree(tmp)


if __name__ == "__main__":
    main()
