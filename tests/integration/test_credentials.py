"""The credentials endpoint and the introspection API, seen from where their clients are:
inside task containers (busybox nc to 169.254.170.2) and on the host (urllib to loopback).
The credentials a task receives are proved real by signing a call to the control plane with
them; the binding to the owning task is checked from another task and from the host."""
import json
import os
import subprocess
import urllib.error
import urllib.request

import harness
from test_agent_core import registered
from test_endpoints import fetch

ROLE = "arn:aws:iam::123456789012:role/ecs-it-task-role"
SETTINGS = {"ECS_ENABLE_TASK_IAM_ROLE": "true", "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached"}


def start(cp, cluster, make_agent, settings=None, count=2):
    cp.register("creds", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 16, "command": ["sleep", "300"]}], task_role_arn=ROLE)
    agent = make_agent(dict(SETTINGS, **(settings or {})))
    ci = registered(cp, cluster, agent)
    arns = cp.run_task(cluster, "creds", count=count)
    tasks = [cp.wait_task(cluster, a, "RUNNING") for a in arns]
    return agent, ci, tasks


def container_env(cid):
    p = subprocess.run(["docker", "inspect", cid, "--format", "{{json .Config.Env}}"],
                       capture_output=True, text=True, check=True)
    return dict(e.split("=", 1) for e in json.loads(p.stdout))


def answer(raw):
    """(status, parsed JSON body) of a raw HTTP/1.x answer."""
    # (text mode turned the CRLFs into LFs)
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else 0
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body


def host_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def signed_call_works(cp, creds):
    """The control plane accepts a call signed with these credentials."""
    env = {"PATH": "/usr/bin:/bin", "HOME": cp.tmpdir, "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_DEFAULT_REGION": harness.REGION,
           "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
           "AWS_SESSION_TOKEN": creds["Token"], "AWS_PAGER": ""}
    p = subprocess.run(["/usr/bin/aws", "--endpoint-url", cp.url, "ecs", "list-clusters"],
                       env=env, capture_output=True, text=True)
    return p.returncode == 0


def test_task_gets_its_credentials_and_no_one_else_does(cp, cluster, make_agent):
    agent, ci, tasks = start(cp, cluster, make_agent)
    cids = [t["containers"][0]["runtimeId"] for t in tasks]
    uris = [container_env(c).get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") for c in cids]
    assert all(u and u.startswith("/v2/credentials/") for u in uris), uris
    assert uris[0] != uris[1]

    # Each task gets its own, in the official shape, and they are real: the control plane
    # accepts a call signed with them.
    for cid, uri in zip(cids, uris):
        raw = fetch(cid, "169.254.170.2", uri)
        status, creds = answer(raw)
        assert status == 200 and isinstance(creds, dict), raw
        assert set(creds) == {"RoleArn", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
        assert creds["RoleArn"] == ROLE
        assert creds["AccessKeyId"].startswith("ASIA")
        assert signed_call_works(cp, creds)
        secret = creds["SecretAccessKey"]
        forged = dict(creds, SecretAccessKey=("y" if secret[0] == "x" else "x") + secret[1:])
        assert not signed_call_works(cp, forged)
    # v1 form of the same request.
    status, creds = answer(fetch(cids[0], "169.254.170.2",
                                 "/v1/credentials?id=" + uris[0].rsplit("/", 1)[1]))
    assert status == 200 and creds["RoleArn"] == ROLE

    # Task B presenting task A's ID, and the host presenting it: told it does not exist.
    status, body = answer(fetch(cids[1], "169.254.170.2", uris[0]))
    assert status == 400, body
    assert body == {"code": "InvalidIdInRequest",
                    "message": "CredentialsV2Request: Credentials not found",
                    "HTTPErrorCode": 400}
    status, body = host_get("http://127.0.0.1:51679" + uris[0])
    assert status == 400 and body["code"] == "InvalidIdInRequest"
    # The other errors of §7.3.
    status, body = answer(fetch(cids[0], "169.254.170.2", "/v2/credentials/"))
    assert (status, body["code"]) == (400, "NoIdInRequest")
    assert body["message"] == "CredentialsV2Request: No Credential ID in the request"
    status, body = answer(fetch(cids[0], "169.254.170.2", "/v1/credentials"))
    assert (status, body["code"]) == (400, "NoIdInRequest")
    assert body["message"].startswith("CredentialsV1Request: ")

    # The audit log: one line per request, no credentials ID in it.
    with open(agent.audit_log) as f:
        lines = f.read().splitlines()
    ids = [u.rsplit("/", 1)[1] for u in uris]
    assert not any(i in line for line in lines for i in ids)
    ok = [line for line in lines if " 200 " in line and tasks[0]["taskArn"] in line]
    assert ok and ok[0].endswith(f" GetCredentials 2 {cluster} {ci}"), lines
    assert '"/v2/credentials"' in ok[0]
    refused = [line for line in lines if " 400 " in line]
    assert len(refused) >= 4

    # Known STOPPED: the task's credentials are gone.
    cp.stop_task(cluster, tasks[0]["taskArn"])
    cp.wait_task(cluster, tasks[0]["taskArn"], "STOPPED")
    status, body = host_get("http://127.0.0.1:51679" + uris[0])
    assert (status, body["code"]) == (400, "InvalidIdInRequest")
    # The agent still serves the other task.
    status, creds = answer(fetch(cids[1], "169.254.170.2", uris[1]))
    assert status == 200 and creds["RoleArn"] == ROLE


def test_binding_off_serves_anyone_with_the_id(cp, cluster, make_agent):
    agent, ci, tasks = start(cp, cluster, make_agent,
                             {"ECS_CREDENTIALS_BOUND_TO_TASK": "false"})
    cids = [t["containers"][0]["runtimeId"] for t in tasks]
    uri = container_env(cids[0])["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    status, creds = answer(fetch(cids[1], "169.254.170.2", uri))
    assert status == 200 and creds["RoleArn"] == ROLE
    status, creds = host_get("http://127.0.0.1:51679" + uri)
    assert status == 200 and creds["RoleArn"] == ROLE


def test_introspection(cp, cluster, make_agent):
    agent, ci, tasks = start(cp, cluster, make_agent, count=1)
    task = tasks[0]
    cid = task["containers"][0]["runtimeId"]

    status, md = host_get("http://127.0.0.1:51678/v1/metadata")
    assert status == 200
    assert md["Cluster"] == cluster and md["ContainerInstanceArn"] == ci
    assert md["Version"].startswith("Amazon ECS Agent - v")

    status, t = host_get("http://127.0.0.1:51678/v1/tasks?taskarn=" + task["taskArn"])
    assert status == 200
    assert (t["Arn"], t["KnownStatus"], t["Family"]) == (task["taskArn"], "RUNNING", "creds")
    assert "DesiredStatus" in t and t["DesiredStatus"] == "RUNNING"
    c = t["Containers"][0]
    inspect = json.loads(subprocess.run(["docker", "inspect", cid], capture_output=True,
                                        text=True, check=True).stdout)[0]
    assert c["DockerId"] == inspect["Id"]
    assert c["DockerName"] == inspect["Name"].lstrip("/")
    assert c["ImageID"] == inspect["Image"]
    assert c["Name"] == "main"
    # By Docker ID, short and long; unknown and ambiguous forms are errors.
    assert host_get("http://127.0.0.1:51678/v1/tasks?dockerid=" + cid[:12])[1]["Arn"] == \
        task["taskArn"]
    assert host_get("http://127.0.0.1:51678/v1/tasks?dockerid=" + cid)[1]["Arn"] == \
        task["taskArn"]
    status, empty = host_get("http://127.0.0.1:51678/v1/tasks?dockerid=ffffffffffff")
    assert status == 404
    assert empty == {"Arn": "", "KnownStatus": "", "Family": "", "Version": "",
                     "Containers": None}
    assert host_get("http://127.0.0.1:51678/v1/tasks?taskarn=x&dockerid=y")[0] == 400
    status, all_tasks = host_get("http://127.0.0.1:51678/v1/tasks")
    assert [x["Arn"] for x in all_tasks["Tasks"]] == [task["taskArn"]]
    status, cmds = host_get("http://127.0.0.1:51678/nothing")
    assert cmds == {"AvailableCommands": ["/v1/metadata", "/v1/tasks", "/license"]}
    with urllib.request.urlopen("http://127.0.0.1:51678/license", timeout=5) as r:
        assert b"Apache License" in r.read()

    # Not reachable from a task: not on the endpoint address, not on the bridge gateway.
    gw = inspect["NetworkSettings"]["Gateway"]
    for ip in ("169.254.170.2", gw):
        p = subprocess.run(["docker", "exec", cid, "sh", "-c",
                            f"printf 'GET /v1/metadata HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} 51678"],
                           capture_output=True, text=True)
        assert "HTTP/" not in p.stdout, (ip, p.stdout)

    # The health check flag, as Docker's HEALTHCHECK runs it.
    hc = [harness.agent_binary(), "--healthcheck", "--config", agent.config_path]
    assert subprocess.run(hc, capture_output=True, env=agent.env).returncode == 0
    assert agent.stop() == 0
    assert subprocess.run(hc, capture_output=True, env=agent.env).returncode == 1


DEBIAN = "ecs-test/debian-tools:latest"

BOTOCORE_CHAIN = ("import botocore.session, json; "
                  "s = botocore.session.get_session(); c = s.get_credentials(); "
                  "f = c.get_frozen_credentials(); "
                  "print(json.dumps({'method': c.method, 'AccessKeyId': f.access_key, "
                  "'SecretAccessKey': f.secret_key, 'Token': f.token}))")


def have_debian_image():
    return subprocess.run(["docker", "image", "inspect", DEBIAN],
                          capture_output=True).returncode == 0


def test_unmodified_aws_clients_in_tasks(cp, cluster, make_agent):
    """botocore's default chain in a bridge task and the AWS CLI in a host-network task find
    the task role's credentials with nothing configured; the CLI's GetCallerIdentity shows
    the control plane sees the task's role."""
    assert have_debian_image(), f"{DEBIAN} missing: scripts/test-images.sh builds it"
    for family, mode in (("cli-bridge", "bridge"), ("cli-host", "host")):
        cp.register(family, [{"name": "main", "image": DEBIAN, "essential": True,
                              "memory": 128, "command": ["sleep", "300"]}],
                    task_role_arn=ROLE, network_mode=mode)
    agent = make_agent(dict(SETTINGS, ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST="true"))
    registered(cp, cluster, agent)
    bridge = cp.wait_task(cluster, cp.run_task(cluster, "cli-bridge")[0], "RUNNING")
    host = cp.wait_task(cluster, cp.run_task(cluster, "cli-host")[0], "RUNNING")

    # botocore in the bridge task: the container provider, and credentials that work.
    cid = bridge["containers"][0]["runtimeId"]
    p = subprocess.run(["docker", "exec", cid, "python3", "-c", BOTOCORE_CHAIN],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    creds = json.loads(p.stdout)
    assert creds["method"] == "container-role"
    assert signed_call_works(cp, creds)

    # The AWS CLI in the host-network task, against the control plane on loopback.
    cid = host["containers"][0]["runtimeId"]
    p = subprocess.run(["docker", "exec", "-e", "AWS_DEFAULT_REGION=" + harness.REGION, cid,
                        "aws", "--endpoint-url", cp.url, "sts", "get-caller-identity"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ident = json.loads(p.stdout)
    task_id = host["taskArn"].rsplit("/", 1)[1]
    assert ident["Arn"] == f"arn:aws:sts::123456789012:assumed-role/ecs-it-task-role/{task_id}"

    # The host-network task cannot have the bridge task's credentials: same host addresses,
    # other cgroup.
    uri = container_env(bridge["containers"][0]["runtimeId"])[
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    p = subprocess.run(["docker", "exec", cid, "curl", "-s", "http://169.254.170.2" + uri],
                       capture_output=True, text=True)
    assert json.loads(p.stdout)["code"] == "InvalidIdInRequest", p.stdout


def test_credentials_and_metadata_survive_a_sigkill(cp, cluster, make_agent):
    """After SIGKILL and a restart the same containers get the same credentials and metadata
    from the same URIs; meanwhile an ID of a restored task is 'uninitialized' (503, which
    SDKs retry), not unknown. Nothing secret was written to the data directory."""
    from test_restart import restart
    agent, ci, tasks = start(cp, cluster, make_agent, count=1)
    cid = tasks[0]["containers"][0]["runtimeId"]
    env = container_env(cid)
    uri = env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    md = env["ECS_CONTAINER_METADATA_URI_V4"].removeprefix("http://169.254.170.2")
    status, before = answer(fetch(cid, "169.254.170.2", uri))
    assert status == 200
    status, task_before = answer(fetch(cid, "169.254.170.2", md + "/task"))
    assert status == 200

    # ACS's resend of the credentials is held back for a while, so that the gap is seen.
    cp.admin("POST", "/faults", {"kind": "delay", "count": 3, "seconds": 6,
                                 "types": ["IAMRoleCredentialsMessage"]})
    again = restart(agent)
    try:
        seen = []

        def served():
            s, body = answer(fetch(cid, "169.254.170.2", uri))
            if s == 0:
                return None  # not listening yet
            assert s in (200, 503), (s, body)
            seen.append(s)
            if s == 503:
                assert body == {"code": "CredentialsUninitialized",
                                "message": "CredentialsV2Request: Credentials uninitialized "
                                           "for ID", "HTTPErrorCode": 503}, body
            return body if s == 200 else None
        after = harness.wait_for(served, timeout=60, what="credentials after restart")
        assert 503 in seen
        assert after["RoleArn"] == before["RoleArn"] == ROLE
        assert signed_call_works(cp, after)
        status, task_after = answer(fetch(cid, "169.254.170.2", md + "/task"))
        assert status == 200
        assert task_after["TaskARN"] == task_before["TaskARN"]
        assert task_after["Containers"][0]["DockerId"] == cid
        # The secret never reached the data directory.
        for root, _, files in os.walk(again.datadir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                assert before["SecretAccessKey"].encode() not in data, name
                assert after["SecretAccessKey"].encode() not in data, name
    finally:
        again.kill()


def burst(port, path, n, out):
    """n pipelined GETs on one keep-alive connection, in rounds of 50; counts the statuses."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    buf = b""
    try:
        for _ in range(n // 50):
            s.sendall(req * 50)
            got = 0
            while got < 50:
                chunk = s.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while True:
                    head, sep, rest = buf.partition(b"\r\n\r\n")
                    if not sep:
                        break
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    if len(rest) < length:
                        break
                    status = int(head.split(b" ", 2)[1])
                    out[status] = out.get(status, 0) + 1
                    buf = rest[length:]
                    got += 1
    finally:
        s.close()


def test_request_burst_is_limited_and_harms_no_one(cp, cluster, make_agent):
    """10 000 requests from one client in a burst: past its allowance they get 429, while the
    agent's ACS session answers a heartbeat and a task is served its credentials meanwhile."""
    import threading
    agent, ci, tasks = start(cp, cluster, make_agent, count=1)
    cid = tasks[0]["containers"][0]["runtimeId"]
    uri = container_env(cid)["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    counts = [{} for _ in range(20)]
    threads = [threading.Thread(target=burst, args=(51679, "/v2/credentials/none", 500, c))
               for c in counts]
    before = len(cp.admin("GET", "/acs/messages?type=HeartbeatAckRequest")["messages"])
    for t in threads:
        t.start()
    # While it lasts: the control plane's heartbeat is acknowledged, the task gets its own.
    cp.admin("POST", "/acs/heartbeat", {})
    harness.wait_for(lambda: len(cp.admin("GET", "/acs/messages?type=HeartbeatAckRequest")
                                 ["messages"]) > before, timeout=10, what="heartbeat ack")
    status, creds = answer(fetch(cid, "169.254.170.2", uri))
    during = any(t.is_alive() for t in threads)
    for t in threads:
        t.join()
    total = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    assert sum(total.values()) == 10000, total
    # The limit (40/s, bursts of 60) allowed a few hundred at most; the rest were refused.
    assert total.get(429, 0) >= 9000, total
    assert set(total) <= {400, 429}, total
    assert status == 200 and creds["RoleArn"] == ROLE, creds
    assert agent.alive()
    # Throttled credentials requests are audited.
    with open(agent.audit_log) as f:
        assert sum(" 429 " in line for line in f) >= 9000
    print(f"burst: {total}, still bursting during the checks: {during}")
