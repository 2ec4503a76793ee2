"""Task scale-in protection in ecs-local: UpdateTaskProtection / GetTaskProtection shapes
and validation, the failures of the real API (MISSING, TASK_NOT_VALID), role credentials
of one task refused for another, and a service scheduler that does not scale in protected
tasks until their protection ends."""
import time

import botocore.exceptions
import pytest

from cp_helpers import simple_taskdef, wait_until


def _live(ecs, cluster, name):
    arns = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def _code(exc):
    return exc.value.response["Error"]["Code"]


def _service(running_agent, ecs, cluster, count, **td):
    a = running_agent(auto_run=True)
    family = simple_taskdef(ecs, **td)["family"]
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=family,
                       desiredCount=count, launchType="EXTERNAL")
    wait_until(lambda: len([t for t in _live(ecs, cluster, "web")
                            if t["lastStatus"] == "RUNNING"]) == count, 10,
               what=f"{count} running")
    return a, [t["taskArn"] for t in _live(ecs, cluster, "web")]


def test_protection_shapes_and_validation(running_agent, cluster, ecs):
    _, arns = _service(running_agent, ecs, cluster, 2)
    before = time.time()
    out = ecs.update_task_protection(cluster=cluster, tasks=[arns[0]], protectionEnabled=True,
                                     expiresInMinutes=60)
    assert out["failures"] == []
    (p,) = out["protectedTasks"]
    assert p["taskArn"] == arns[0] and p["protectionEnabled"] is True
    exp = p["expirationDate"].timestamp()
    assert before + 3590 <= exp <= time.time() + 3610

    got = ecs.get_task_protection(cluster=cluster, tasks=arns)
    view = {x["taskArn"]: x for x in got["protectedTasks"]}
    assert view[arns[0]]["protectionEnabled"] is True
    assert view[arns[1]]["protectionEnabled"] is False and "expirationDate" not in view[arns[1]]

    # Without expiresInMinutes: two hours.
    out = ecs.update_task_protection(cluster=cluster, tasks=[arns[1]], protectionEnabled=True)
    assert abs(out["protectedTasks"][0]["expirationDate"].timestamp() - time.time() - 7200) < 10

    for minutes in (0, 2881):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ecs.update_task_protection(cluster=cluster, tasks=[arns[0]], protectionEnabled=True,
                                       expiresInMinutes=minutes)
        assert _code(e) == "InvalidParameterException"
    # Nothing changed by the refused calls.
    got = ecs.get_task_protection(cluster=cluster, tasks=[arns[0]])
    assert abs(got["protectedTasks"][0]["expirationDate"].timestamp() - exp) < 1

    # Unknown tasks are MISSING failures; a task outside a service is TASK_NOT_VALID.
    ghost = arns[0].rsplit("/", 1)[0] + "/0123456789abcdef0123456789abcdef"
    loner_family = simple_taskdef(ecs)["family"]
    loner = ecs.run_task(cluster=cluster, taskDefinition=loner_family,
                         launchType="EXTERNAL")["tasks"][0]["taskArn"]
    out = ecs.get_task_protection(cluster=cluster, tasks=[ghost, loner, arns[0]])
    assert [x["taskArn"] for x in out["protectedTasks"]] == [arns[0]]
    reasons = {f["arn"]: f["reason"] for f in out["failures"]}
    assert reasons == {ghost: "MISSING", loner: "TASK_NOT_VALID"}

    out = ecs.update_task_protection(cluster=cluster, tasks=[arns[0]], protectionEnabled=False)
    assert out["protectedTasks"] == [{"taskArn": arns[0], "protectionEnabled": False}]


def test_role_credentials_only_for_their_own_task(running_agent, cluster, ecs, server):
    a, arns = _service(running_agent, ecs, cluster, 2,
                       taskRoleArn="arn:aws:iam::123456789012:role/app")
    creds = wait_until(lambda: (a.tasks.get(arns[0]) or {}).get("roleCredentials"), 5,
                       what="role credentials of the first task")
    own = server.client(access_key=creds["accessKeyId"], secret_key=creds["secretAccessKey"],
                        token=creds["sessionToken"])
    out = own.update_task_protection(cluster=cluster, tasks=[arns[0]], protectionEnabled=True)
    assert out["protectedTasks"][0]["protectionEnabled"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.update_task_protection(cluster=cluster, tasks=[arns[1]], protectionEnabled=True)
    assert _code(e) == "AccessDeniedException"
    assert ecs.get_task_protection(cluster=cluster, tasks=[arns[1]])[
        "protectedTasks"][0]["protectionEnabled"] is False


def test_scale_in_spares_protected_tasks(running_agent, cluster, ecs):
    _, arns = _service(running_agent, ecs, cluster, 3)
    keep = arns[:2]
    ecs.update_task_protection(cluster=cluster, tasks=keep, protectionEnabled=True,
                               expiresInMinutes=30)
    ecs.update_service(cluster=cluster, service="web", desiredCount=1)
    # Only the unprotected task goes; the scheduler says why it cannot do more.
    wait_until(lambda: sorted(t["taskArn"] for t in _live(ecs, cluster, "web")) == sorted(keep),
               10, what="the unprotected task stopped")
    wait_until(lambda: any("unable to scale in due to (reason: 1 tasks under protection)"
                           in e["message"] for e in ecs.describe_services(
                               cluster=cluster, services=["web"])["services"][0]["events"]),
               5, what="the protection event")
    time.sleep(1.0)  # several scheduler passes
    assert sorted(t["taskArn"] for t in _live(ecs, cluster, "web")) == sorted(keep)

    # Protection lifted from one: the service reaches its desired count.
    ecs.update_task_protection(cluster=cluster, tasks=[keep[0]], protectionEnabled=False)
    wait_until(lambda: [t["taskArn"] for t in _live(ecs, cluster, "web")] == [keep[1]], 10,
               what="scale-in to the protected task")
    stopped = ecs.describe_tasks(cluster=cluster, tasks=[keep[0]])["tasks"][0]
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
