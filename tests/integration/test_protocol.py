"""ACS protocol hygiene: manifests and stop verification, replayed payloads, desired status
never moving backwards."""
import harness
from harness import docker_inspect, wait_for
from test_agent_core import registered

SETTINGS = {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached", "ECS_CONTAINER_STOP_TIMEOUT": "1s"}


def payload(cp, cluster, instance, message_id, tid, desired="RUNNING"):
    task = harness.hand_task(cp, cluster, tid, [harness.sleeper_container()], family="proto",
                             desired=desired)
    cp.send_payload(cluster, instance, message_id, [task])
    return task["arn"]


def containers_for(cluster, arn):
    out = []
    for cid in harness.containers_of(cluster):
        info = docker_inspect(cid)
        if info and info["Config"]["Labels"]["com.amazonaws.ecs.task-arn"] == arn:
            out.append(info)
    return out


def test_replayed_payloads_are_idempotent_and_desired_never_goes_back(cp, cluster, make_agent):
    agent = make_agent(SETTINGS)
    instance = registered(cp, cluster, agent)
    arn = payload(cp, cluster, instance, "p-1", "a" * 32)
    payload(cp, cluster, instance, "p-1", "a" * 32)  # the same message again
    payload(cp, cluster, instance, "p-2", "a" * 32)  # the same task in a new one
    wait_for(lambda: [c for c in containers_for(cluster, arn) if c["State"]["Running"]],
             what="task running")
    assert len(containers_for(cluster, arn)) == 1

    payload(cp, cluster, instance, "p-3", "a" * 32, desired="STOPPED")
    wait_for(lambda: not containers_for(cluster, arn)[0]["State"]["Running"], timeout=20,
             what="task stopped")
    # RUNNING again for a stopped task changes nothing: it stays stopped, not restarted.
    payload(cp, cluster, instance, "p-4", "a" * 32, desired="RUNNING")
    acks = lambda: [m["message"]["message"]["messageId"] for m in cp.admin(  # noqa: E731
        "GET", "/acs/messages?direction=in&type=AckRequest")["messages"]]
    wait_for(lambda: "p-4" in acks(), what="ack of p-4")
    infos = containers_for(cluster, arn)
    assert len(infos) == 1 and not infos[0]["State"]["Running"]


def test_manifest_and_stop_verification(cp, cluster, make_agent):
    agent = make_agent(SETTINGS)
    instance = registered(cp, cluster, agent)
    # A task the control plane does not know: the manifest will not list it.
    stray = payload(cp, cluster, instance, "m-1", "b" * 32)
    wait_for(lambda: [c for c in containers_for(cluster, stray) if c["State"]["Running"]],
             what="stray task running")
    # And one it does know, which must survive.
    cp.register("keep", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                          "memory": 16, "command": ["sleep", "300"]}])
    keep = cp.run_task(cluster, "keep")[0]
    keep_id = cp.wait_task(cluster, keep, "RUNNING")["containers"][0]["runtimeId"]

    cp.admin("POST", "/acs/manifest", {})
    verification = wait_for(lambda: cp.admin(
        "GET", "/acs/messages?direction=in&type=TaskStopVerificationMessage")["messages"],
        what="stop verification")
    candidates = [c["taskArn"] for c in verification[-1]["message"]["message"]["stopCandidates"]]
    assert candidates == [stray]
    wait_for(lambda: not containers_for(cluster, stray)[0]["State"]["Running"], timeout=20,
             what="stray task stopped after verification")
    assert docker_inspect(keep_id)["State"]["Running"]


def test_restart_policy(cp, cluster, make_agent):
    agent = make_agent(SETTINGS)
    instance = registered(cp, cluster, agent)
    def send(tid, ignored):
        task = harness.hand_task(cp, cluster, tid, [harness.sleeper_container(
            command=["sh", "-c", "sleep 1; exit 3"],
            restartPolicy={"enabled": True, "ignoredExitCodes": ignored,
                           "restartAttemptPeriod": 0})], family="rp")
        cp.send_payload(cluster, instance, "rp-" + tid, [task])
        return task["arn"]

    restarted = send("7" * 32, [])
    # The same container is started again and again (Docker's StartedAt moves on) instead
    # of being reported stopped.
    starts = set()

    def started_again():
        infos = containers_for(cluster, restarted)
        assert len(infos) <= 1
        if infos:
            starts.add(infos[0]["State"]["StartedAt"])
        return len(starts) >= 3
    wait_for(started_again, timeout=30, interval=0.2, what="two restarts")
    assert len(containers_for(cluster, restarted)) == 1
    assert not [ch for ch in cp.state_changes(task=restarted)
                if ch["body"].get("status") == "STOPPED"]

    ignored = send("8" * 32, [3])

    body = cp.wait_report(ignored, timeout=30)
    assert body["containers"][0]["exitCode"] == 3
    info = containers_for(cluster, ignored)[0]
    assert info["State"]["ExitCode"] == 3 and not info["State"]["Running"]
