"""Task scale-in protection as a task sets it: PUT/GET $ECS_AGENT_URI/task-protection/v1/state
from inside a service's task container; the agent calls the control plane with the task's own
role credentials, and the control plane's service scheduler then leaves the task alone when
the service scales in."""
import json
import subprocess

import harness
from harness import wait_for
from test_agent_core import registered
from test_credentials import ROLE, SETTINGS, answer, container_env


def call(cid, method, url, body=None):
    """An HTTP request from inside the container (busybox nc), as (status, parsed body)."""
    host, _, path = url.removeprefix("http://").partition("/")
    data = json.dumps(body) if isinstance(body, (dict, list)) else (body or "")
    req = (f"{method} /{path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(data)}\r\n\r\n{data}")
    p = subprocess.run(["docker", "exec", "-i", cid, "sh", "-c", f"nc -w 6 {host} 80"],
                       input=req, capture_output=True, text=True)
    return answer(p.stdout + p.stderr)


def service_tasks(cp, cluster, service):
    arns = cp.aws("ecs", "list-tasks", "--cluster", cluster, "--service-name", service)["taskArns"]
    if not arns:
        return []
    return cp.aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", *arns)["tasks"]


def running(cp, cluster, service, n):
    tasks = service_tasks(cp, cluster, service)
    ok = len(tasks) == n and all(t["lastStatus"] == "RUNNING" for t in tasks)
    return tasks if ok else None


def test_task_protection_through_the_agent(cp, cluster, make_agent):
    cp.register("guarded", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                             "memory": 16, "command": ["sleep", "600"]}], task_role_arn=ROLE)
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    cp.aws("ecs", "create-service", "--cluster", cluster, "--service-name", "guarded",
           "--task-definition", "guarded", "--desired-count", "2", "--launch-type", "EXTERNAL")
    tasks = wait_for(lambda: running(cp, cluster, "guarded", 2), timeout=90, what="2 running")
    a, b = tasks
    cid_a, cid_b = a["containers"][0]["runtimeId"], b["containers"][0]["runtimeId"]
    url_a = container_env(cid_a)["ECS_AGENT_URI"] + "/task-protection/v1/state"

    # Not protected yet.
    status, got = call(cid_a, "GET", url_a)
    assert status == 200, got
    assert got["protection"]["ProtectionEnabled"] is False, got
    assert got["protection"]["TaskArn"] == a["taskArn"]

    # Protected for an hour; GET shows the same, with the expiry ECS set.
    status, put = call(cid_a, "PUT", url_a, {"ProtectionEnabled": True, "ExpiresInMinutes": 60})
    assert status == 200, put
    p = put["protection"]
    assert p["ProtectionEnabled"] is True and p["TaskArn"] == a["taskArn"], put
    assert p["ExpirationDate"].endswith("Z"), put
    status, got = call(cid_a, "GET", url_a)
    assert status == 200 and got["protection"] == p, got
    ecs = cp.aws("ecs", "get-task-protection", "--cluster", cluster, "--tasks", a["taskArn"])
    assert ecs["protectedTasks"][0]["protectionEnabled"] is True, ecs

    # The agent signed with the task's own role credentials, not the instance's.
    status, creds = answer(subprocess.run(
        ["docker", "exec", cid_a, "sh", "-c",
         "printf 'GET %s HTTP/1.0\\r\\n\\r\\n' \"$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI\" | "
         "nc -w 3 169.254.170.2 80"], capture_output=True, text=True).stdout)
    assert status == 200, creds
    calls = [e for e in cp.admin("GET", "/api-log")["requests"]
             if e["operation"].endswith("UpdateTaskProtection") and e["status"] == 200]
    assert calls and calls[-1]["accessKeyId"] == creds["AccessKeyId"], calls

    # The agent's own answers to bad requests, before any call to ECS.
    status, bad = call(cid_a, "PUT", url_a, "{not json")
    assert status == 400 and bad["error"]["Code"] == "InvalidParameterException", bad
    assert bad["error"]["Message"] == "UpdateTaskProtection: failed to decode request"
    status, bad = call(cid_a, "PUT", url_a, {"ProtectionEnabled": True, "Other": 1})
    assert status == 400 and bad["error"]["Code"] == "InvalidParameterException", bad
    status, bad = call(cid_a, "PUT", url_a, {"ExpiresInMinutes": 5})
    assert status == 400 and bad["error"]["Arn"] == a["taskArn"], bad
    assert "does not contain 'ProtectionEnabled'" in bad["error"]["Message"]
    status, bad = call(cid_a, "DELETE", url_a)
    assert status == 405, bad
    # ECS's own refusal comes back with its status, code and request ID.
    status, bad = call(cid_a, "PUT", url_a, {"ProtectionEnabled": True, "ExpiresInMinutes": 99999})
    assert status == 400 and bad["error"]["Code"] == "InvalidParameterException", bad
    assert bad.get("requestID"), bad
    # Another task's endpoint ID: the binding keeps task B from acting for task A.
    status, bad = call(cid_b, "PUT", url_a, {"ProtectionEnabled": False})
    assert status == 404 and bad["error"]["Code"] == "ResourceNotFoundException", bad
    status, bad = call(cid_a, "GET", url_a.replace("/api/", "/api/nope"))
    assert status == 404, bad
    status, got = call(cid_a, "GET", url_a)
    assert got["protection"]["ProtectionEnabled"] is True, got

    # Scale in to zero: the scheduler stops B and keeps the protected A.
    cp.aws("ecs", "update-service", "--cluster", cluster, "--service", "guarded",
           "--desired-count", "0")
    cp.wait_task(cluster, b["taskArn"], "STOPPED", timeout=90)
    cp.admin("POST", "/scheduler/run")
    assert cp.describe_task(cluster, a["taskArn"])["lastStatus"] == "RUNNING"
    assert cp.describe_task(cluster, a["taskArn"])["desiredStatus"] == "RUNNING"

    # Protection off: now it goes too.
    status, put = call(cid_a, "PUT", url_a, {"ProtectionEnabled": False})
    assert status == 200 and put["protection"]["ProtectionEnabled"] is False, put
    assert put["protection"]["ExpirationDate"] is None, put
    cp.admin("POST", "/scheduler/run")
    cp.wait_task(cluster, a["taskArn"], "STOPPED", timeout=90)
    assert agent.alive()


def test_task_protection_needs_a_task_role(cp, cluster, make_agent):
    cp.register("plain", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 16, "command": ["sleep", "300"]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "plain")[0]
    task = cp.wait_task(cluster, arn, "RUNNING")
    cid = task["containers"][0]["runtimeId"]
    url = container_env(cid)["ECS_AGENT_URI"] + "/task-protection/v1/state"
    status, bad = call(cid, "GET", url)
    assert status == 403 and bad["error"]["Code"] == "AccessDeniedException", bad
    assert bad["error"]["Arn"] == arn
    # Nothing reached the control plane.
    assert not [e for e in cp.admin("GET", "/api-log")["requests"]
                if "TaskProtection" in e["operation"]]
