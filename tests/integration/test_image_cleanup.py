"""Image cleanup (§9.1) with short intervals, judged by Docker's image list: which images
go, in which order and how many per cycle; in-use, excluded and untracked images stay;
the records survive a SIGKILL and are rebuilt from Docker when their file is lost."""
import json
import os
import time
import uuid

import pytest

import harness
from test_agent_core import registered

BASE = {
    "ECS_IMAGE_PULL_BEHAVIOR": "once",           # the test images exist only locally
    "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1s",
    "ECS_IMAGE_MINIMUM_CLEANUP_AGE": "1s",
}


@pytest.fixture
def images():
    """Distinct local images (each its own ID), removed at the end whatever happened."""
    made = []
    run = uuid.uuid4().hex[:8]

    def make(name):
        ref = f"ecs-it-cleanup-{run}/{name}:latest"
        cid = harness.docker("create", harness.BUSYBOX, "true")
        try:
            harness.docker("commit", "--change", f"LABEL ecs-it-cleanup={run}-{name}", cid, ref)
        finally:
            harness.docker("rm", "-f", cid, check=False)
        made.append(ref)
        return ref, image_id(ref)
    yield make
    for ref in made:
        harness.docker("rmi", "-f", ref, check=False)
    for iid in harness.docker("images", "-q", "--no-trunc", "--filter",
                              f"label=ecs-it-cleanup", check=False).split():
        labels = harness.docker("image", "inspect", "--format", "{{json .Config.Labels}}", iid,
                                check=False)
        if run in labels:
            harness.docker("rmi", "-f", iid, check=False)


def untagged(ref):
    """The reference without its tag: an exclusion that means name:latest."""
    return ref.rsplit(":", 1)[0]


def image_id(ref):
    return harness.docker("image", "inspect", "--format", "{{.Id}}", ref)


def exists(ref_or_id):
    return harness.docker("image", "inspect", ref_or_id, check=False).strip() not in ("", "[]")


def run_once(cp, cluster, family, image, command=("true",)):
    cp.register(family, [{"name": "main", "image": image, "essential": True, "memory": 16,
                          "command": list(command)}])
    return cp.run_task(cluster, family)[0]


def wait_removed(arn, timeout=60):
    harness.wait_for(lambda: not harness.docker("ps", "-aq", "--filter",
                                                f"label=com.amazonaws.ecs.task-arn={arn}"),
                     timeout=timeout, what=f"containers of {arn} removed")


def restarted(old, cluster, cp, settings):
    """The same data directory and instance under a new agent process and settings."""
    return harness.Agent(old.tmpdir, cluster, cp.url, settings).start()


def test_cleanup_cycles(cp, cluster, make_agent, images):
    old = [images(f"old{i}") for i in range(4)]
    busy = images("busy")
    excl = images("excluded")
    untracked = images("untracked")
    moving_ref, moved_id = images("moving")

    a = make_agent(BASE)
    registered(cp, cluster, a)
    used = []
    for i, (ref, _) in enumerate(old + [excl]):
        arn = run_once(cp, cluster, f"clean{i}", ref)
        cp.wait_task(cluster, arn, "STOPPED", timeout=60)
        used.append(arn)
        time.sleep(1.1)  # distinct last-used times: the order is least recently used first
    arn = run_once(cp, cluster, "moving", moving_ref)
    cp.wait_task(cluster, arn, "STOPPED", timeout=60)
    used.append(arn)
    # The tag moves upstream to another image: the record of the old ID must not take the
    # new image's tag with it.
    new_moving = images("moving-new")
    harness.docker("tag", new_moving[0], moving_ref)
    running = [run_once(cp, cluster, "busy", busy[0], ("sleep", "300")),
               run_once(cp, cluster, "moving2", moving_ref, ("sleep", "300"))]
    for arn in running:
        cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    for arn in used:
        wait_removed(arn)
    # The records are on disk: a SIGKILL loses nothing.
    a.kill()
    b = restarted(a, cluster, cp, dict(BASE, ECS_IMAGE_CLEANUP_TEST_INTERVAL="5s",
                                       ECS_NUM_IMAGES_DELETE_PER_CYCLE="2",
                                       ECS_EXCLUDE_UNTRACKED_IMAGE=f"nothing:1, {untagged(excl[0])}"))
    try:
        # First cycle: exactly the two least recently used.
        harness.wait_for(lambda: not exists(old[0][1]), timeout=30, what="old0 removed")
        time.sleep(1.5)
        assert not exists(old[1][1])
        assert all(exists(iid) for _, iid in old[2:]) and exists(moved_id)
        # Then the next two, then the image the moved tag left behind.
        harness.wait_for(lambda: not any(exists(iid) for _, iid in old[2:]), timeout=30,
                         what="old2, old3 removed")
        harness.wait_for(lambda: not exists(moved_id), timeout=30, what="old moving removed")
        time.sleep(6)  # one more cycle: nothing else goes
        for ref, iid in (busy, excl, untracked, new_moving):
            assert exists(iid), ref
        assert image_id(moving_ref) == new_moving[1]
        assert exists(harness.BUSYBOX)
        for arn in running:
            assert cp.describe_task(cluster, arn)["lastStatus"] == "RUNNING"
        assert b.alive()
        records = json.load(open(os.path.join(b.datadir, "images.json")))["images"]
        ids = {r["id"] for r in records}
        assert busy[1] in ids and new_moving[1] in ids
        assert not ids & {iid for _, iid in old}
    finally:
        b.kill()


def test_records_rebuilt_from_docker(cp, cluster, make_agent, images):
    ref, iid = images("rebuilt")
    a = make_agent(BASE)
    registered(cp, cluster, a)
    arn = run_once(cp, cluster, "rebuilt", ref, ("sleep", "300"))
    cp.wait_task(cluster, arn, "RUNNING", timeout=60)
    a.kill()
    os.unlink(os.path.join(a.datadir, "images.json"))
    b = restarted(a, cluster, cp, dict(BASE, ECS_IMAGE_CLEANUP_TEST_INTERVAL="3s"))
    try:
        registered(cp, cluster, b)
        # The restored container tells the new agent which image it ran; once the task is
        # gone, that image is cleaned up like any other.
        harness.wait_for(lambda: os.path.exists(os.path.join(b.datadir, "images.json")),
                         timeout=30, what="images.json rebuilt")
        cp.stop_task(cluster, arn)
        cp.wait_task(cluster, arn, "STOPPED", timeout=60)
        wait_removed(arn)
        harness.wait_for(lambda: not exists(iid), timeout=30, what="rebuilt image removed")
    finally:
        b.kill()


@pytest.mark.parametrize("off", [{"ECS_DISABLE_IMAGE_CLEANUP": "true"},
                                 {"ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"}],
                         ids=["disabled", "prefer-cached"])
def test_cleanup_off(cp, cluster, make_agent, images, off):
    ref, iid = images("kept")
    control_ref, control_id = images("control")
    a = make_agent(dict(BASE, ECS_IMAGE_CLEANUP_TEST_INTERVAL="2s", **off))
    registered(cp, cluster, a)
    for family, image in (("kept", ref), ("control", control_ref)):
        arn = run_once(cp, cluster, family, image)
        cp.wait_task(cluster, arn, "STOPPED", timeout=60)
        wait_removed(arn)
    time.sleep(7)  # three cycles' worth
    assert exists(iid) and exists(control_id)
    # The same host and images with cleanup on: the image goes (so the test can fail).
    a.kill()
    b = restarted(a, cluster, cp, dict(BASE, ECS_IMAGE_CLEANUP_TEST_INTERVAL="2s"))
    try:
        harness.wait_for(lambda: not exists(iid) and not exists(control_id), timeout=30,
                         what="images removed once cleanup is on")
    finally:
        b.kill()


def test_untracked_cleanup(cp, cluster, make_agent, images):
    keep = images("keep")
    with_container = images("stopped-container")
    lone = images("lone")
    ours = images("ours")
    cid = harness.docker("create", "--label", "ecs-it-cleanup=container", with_container[0],
                         "true")
    b = None
    try:
        # Everything the host had before stays: only this test's images are fair game.
        tags = [t for t in harness.docker("images", "--format",
                                          "{{.Repository}}:{{.Tag}}").split()
                if "<none>" not in t and t not in (with_container[0], lone[0], ours[0])]
        # The task's image is tracked and in use before untracked cleanup starts: an agent
        # with it on from the first second could take the image before the task arrives.
        a = make_agent(BASE)
        registered(cp, cluster, a)
        arn = run_once(cp, cluster, "ours", ours[0], ("sleep", "300"))
        cp.wait_task(cluster, arn, "RUNNING", timeout=60)
        a.kill()
        b = restarted(a, cluster, cp, dict(BASE, ECS_IMAGE_CLEANUP_TEST_INTERVAL="3s",
                                           ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP="true",
                                           NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE="1s",
                                           ECS_NUM_IMAGES_DELETE_PER_CYCLE="20",
                                           ECS_EXCLUDE_UNTRACKED_IMAGE=",".join(tags)))
        harness.wait_for(lambda: not exists(lone[1]), timeout=30, what="lone image removed")
        harness.wait_for(lambda: not exists(with_container[1]), timeout=30,
                         what="image of the stopped non-ECS container removed")
        assert not harness.docker("ps", "-aq", "--filter", f"id={cid}")
        for t in tags:
            assert exists(t), t
        assert exists(keep[1]) and exists(ours[1])
        assert cp.describe_task(cluster, arn)["lastStatus"] == "RUNNING"
        assert b.alive()
    finally:
        harness.docker("rm", "-f", cid, check=False)
        if b is not None:
            b.kill()
