"""Acceptance: the user's side through /usr/bin/aws --endpoint-url."""

import json
import subprocess
import uuid

from cp_helpers import ACCESS_KEY, REGION, SECRET_KEY, wait_until


def _aws_many(srv, calls):
    """Run several aws invocations concurrently: [(args, extra_env)] -> [CompletedProcess-ish]."""
    import os
    home = os.path.join(srv.tmp, "home")
    os.makedirs(home, exist_ok=True)
    procs = []
    for args, extra in calls:
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
               "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"}
        env.update(extra)
        procs.append(subprocess.Popen(
            ["/usr/bin/aws", "--endpoint-url", srv.url, "--region", REGION, "--output", "json"]
            + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        out.append((p.returncode, stdout, stderr))
    return out


def test_awscli_user_flow(server, aws, agent, ecs):
    name = "cli-" + uuid.uuid4().hex[:8]
    c = aws("ecs", "create-cluster", "--cluster-name", name)["cluster"]
    assert c["clusterArn"] == f"arn:aws:ecs:us-west-2:123456789012:cluster/{name}"
    assert c["status"] == "ACTIVE"
    family = "cli-web-" + uuid.uuid4().hex[:6]
    td = aws("ecs", "register-task-definition", "--family", family, "--container-definitions",
             json.dumps([{"name": "web", "image": "busybox", "memory": 64,
                          "command": ["sleep", "3600"]}]))["taskDefinition"]
    assert td["taskDefinitionArn"].endswith(f":task-definition/{family}:1")
    assert td["revision"] == 1 and td["status"] == "ACTIVE"

    a = agent(name, auto_run=True)
    a.register()
    a.connect()

    run = aws("ecs", "run-task", "--cluster", name, "--task-definition", family,
              "--launch-type", "EXTERNAL")
    assert run["failures"] == []
    arn = run["tasks"][0]["taskArn"]
    wait_until(lambda: ecs.describe_tasks(cluster=name, tasks=[arn])["tasks"][0]["lastStatus"]
               == "RUNNING", 5, what="RUNNING")
    d = aws("ecs", "describe-tasks", "--cluster", name, "--tasks", arn)["tasks"][0]
    assert d["lastStatus"] == "RUNNING" and d["containers"][0]["lastStatus"] == "RUNNING"

    s = aws("ecs", "stop-task", "--cluster", name, "--task", arn, "--reason", "done here")["task"]
    assert s["desiredStatus"] == "STOPPED"
    d = wait_until(lambda: [t for t in ecs.describe_tasks(cluster=name, tasks=[arn])["tasks"]
                            if t["lastStatus"] == "STOPPED"], 5, what="STOPPED")[0]
    assert d["stoppedReason"] == "done here" and d["stopCode"] == "UserInitiated"

    svc = aws("ecs", "create-service", "--cluster", name, "--service-name", "web",
              "--task-definition", family, "--desired-count", "2",
              "--launch-type", "EXTERNAL")["service"]
    assert svc["serviceArn"] == f"arn:aws:ecs:us-west-2:123456789012:service/{name}/web"
    assert svc["desiredCount"] == 2 and svc["status"] == "ACTIVE"
    wait_until(lambda: ecs.describe_services(cluster=name, services=["web"])["services"][0]
               ["runningCount"] == 2, 5, what="service running 2")


def test_awscli_failures(server):
    # (unknown keys, clock skew and the other error shapes are covered with
    # raw requests in test_auth.py / test_badinput.py: awscli starts slowly)
    results = _aws_many(server, [
        (["ecs", "run-task", "--cluster", "no-such-cluster", "--task-definition", "x"], {}),
        (["ecs", "list-clusters"], {"AWS_SECRET_ACCESS_KEY": "wrong-secret"}),
        (["ecs", "register-task-definition", "--family", "bad", "--container-definitions",
          json.dumps([{"name": "x", "image": "busybox"}])], {}),
    ])
    expect = ["ClusterNotFoundException", "InvalidSignatureException", "ClientException"]
    for (rc, out, err), code in zip(results, expect):
        assert rc != 0, out
        assert f"An error occurred ({code})" in err, err
    assert "Cluster not found." in results[0][2]
    assert "The request signature we calculated does not match" in results[1][2]
    assert "At least one of 'memory' or 'memoryReservation' must be specified" in results[2][2]
