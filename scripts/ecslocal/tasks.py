"""Task records: creation (RunTask/StartTask/services), stopping, ENIs,
role credentials, and applying what the agent reports (§1.8-§1.10, §4.2, §4.5).

The task's status is what the agent says it is.  Statuses only move forward:
a task reported STOPPED stays STOPPED whatever arrives later (§11.8).
"""

import secrets
import time

from . import errors
from .arns import new_id32
from .controlplane import CONTAINER_STATUS_ORDER, TASK_STATUS_ORDER
from .credentials import new_credentials_id

ROLE_TASK = "TaskApplication"
ROLE_EXECUTION = "TaskExecution"


# --------------------------------------------------------------- creation
def container_overrides(overrides):
    return {o["name"]: o for o in (overrides or {}).get("containerOverrides") or [] if o.get("name")}


def check_overrides(td, overrides):
    names = {c["name"] for c in td["containerDefinitions"]}
    for o in (overrides or {}).get("containerOverrides") or []:
        if o.get("name") not in names:
            raise errors.invalid(f"Override for container named {o.get('name')} is not a "
                                 "container in the TaskDefinition.")


def _role_arn(td, overrides, role_type):
    key = "taskRoleArn" if role_type == ROLE_TASK else "executionRoleArn"
    return (overrides or {}).get(key) or td.get(key)


def issue_role_credentials(cp, task, role_type, role_arn, credentials_id=None):
    """(Re)issue STS-style credentials for a task role; a refresh keeps the
    credentialsId because containers have it in their environment (§2.7)."""
    ak, entry = cp.creds.issue(role_type, cp.cfg.credentials_ttl,
                               taskArn=task["taskArn"], roleArn=role_arn)
    task["roles"][role_type] = {
        "credentialsId": credentials_id or new_credentials_id(),
        "roleArn": role_arn,
        "accessKeyId": ak,
        "expiration": entry["expiration"],
        "issuedAt": entry["issuedAt"],
        "ackedAccessKeyId": None,
        "lastSentAt": 0,
    }
    cp.changed()
    return task["roles"][role_type]


def allocate_eni(cp, network_configuration):
    """Pick a free address in --eni-subnet and make up the ENI (§6.5)."""
    net = cp.cfg.eni_subnet
    used = {t["eni"]["ip"] for t in cp.data["tasks"].values()
            if t.get("eni") and t["lastStatus"] != "STOPPED"}
    hosts = list(net.hosts())
    gateway = hosts[0]
    dns = hosts[1]
    # like a VPC subnet: the first three host addresses are reserved
    free = next((str(h) for h in hosts[3:] if str(h) not in used), None)
    if free is None:
        return None
    mac_bytes = [0x0E] + [secrets.randbits(8) for _ in range(5)]
    subnets = ((network_configuration or {}).get("awsvpcConfiguration") or {}).get("subnets") or []
    return {
        "ec2Id": "eni-" + secrets.token_hex(9)[:17],
        "macAddress": ":".join(f"{b:02x}" for b in mac_bytes),
        "ip": free,
        "gateway": f"{gateway}/{net.prefixlen}",
        "dns": str(dns),
        "subnetId": subnets[0] if subnets else "subnet-ecslocal",
        "securityGroups": ((network_configuration or {}).get("awsvpcConfiguration") or {}).get("securityGroups") or [],
        "privateDnsName": "ip-" + free.replace(".", "-") + f".{cp.region}.compute.internal",
        "attachmentArn": cp.arns.attachment(),
    }


def eni_available(cp):
    net = cp.cfg.eni_subnet
    used = {t["eni"]["ip"] for t in cp.data["tasks"].values()
            if t.get("eni") and t["lastStatus"] != "STOPPED"}
    return any(str(h) not in used for h in list(net.hosts())[3:])


def _eni_attachment_view(eni, status):
    return {
        "id": eni["attachmentArn"].rsplit("/", 1)[-1],
        "type": "ElasticNetworkInterface",
        "status": status,
        "details": [
            {"name": "subnetId", "value": eni["subnetId"]},
            {"name": "networkInterfaceId", "value": eni["ec2Id"]},
            {"name": "macAddress", "value": eni["macAddress"]},
            {"name": "privateDnsName", "value": eni["privateDnsName"]},
            {"name": "privateIPv4Address", "value": eni["ip"]},
        ],
    }


def _set_eni_status(task, status):
    if task.get("eni"):
        task["attachments"] = [_eni_attachment_view(task["eni"], status)]


def create_task(cp, cluster, td, inst, requirements, *, overrides=None, started_by=None,
                group=None, launch_type="EC2", tags=None, service=None,
                network_configuration=None, enable_execute_command=False):
    task_id = new_id32()
    name = cluster["clusterName"]
    arn = cp.arns.task(name, task_id)
    overrides = overrides or {}
    cov = container_overrides(overrides)
    containers = []
    for c in td["containerDefinitions"]:
        o = cov.get(c["name"], {})
        memory = o.get("memory", c.get("memory"))
        reservation = o.get("memoryReservation", c.get("memoryReservation"))
        containers.append({
            "name": c["name"],
            "containerArn": cp.arns.container(name, task_id),
            "image": c["image"],
            "lastStatus": "PENDING",
            "cpu": str(o.get("cpu", c.get("cpu", 0))),
            "memory": str(memory) if memory is not None else None,
            "memoryReservation": str(reservation) if reservation is not None else None,
            "networkBindings": [],
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "essential": c["essential"],
        })
    awsvpc = td.get("networkMode") == "awsvpc"
    now = time.time()
    task = {
        "taskArn": arn,
        "id": task_id,
        "cluster": name,
        "clusterArn": cluster["clusterArn"],
        "taskDefinitionArn": td["taskDefinitionArn"],
        "family": td["family"],
        "revision": td["revision"],
        "containerInstanceArn": inst["containerInstanceArn"],
        "launchType": launch_type,
        "desiredStatus": "RUNNING",
        "lastStatus": "PROVISIONING" if awsvpc else "PENDING",
        "createdAt": now,
        "version": 1,
        "startedBy": started_by,
        "group": group or f"family:{td['family']}",
        "tags": list(tags or []),
        "overrides": {"containerOverrides": overrides.get("containerOverrides") or [],
                      "inferenceAcceleratorOverrides": [],
                      **{k: v for k, v in overrides.items()
                         if k not in ("containerOverrides", "inferenceAcceleratorOverrides")}},
        "enableExecuteCommand": bool(enable_execute_command),
        "cpu": overrides.get("cpu") or td.get("cpu"),
        "memory": overrides.get("memory") or td.get("memory"),
        "containers": containers,
        "attachments": [],
        "eni": None,
        "roles": {},
        "resources": requirements,
        "serviceArn": service["serviceArn"] if service else None,
        "serviceName": service["serviceName"] if service else None,
        "healthStatus": "UNKNOWN",
        "wasRunning": False,
        "reportedReason": "",
        "acs": {"ackedDesired": None, "sentDesired": None, "lastSentAt": 0.0,
                "attachAcked": False, "attachSentAt": 0.0, "attachMessageId": None,
                "eniAttached": not awsvpc, "attachDeadline": now + cp.cfg.eni_attach_timeout},
    }
    if awsvpc:
        eni = allocate_eni(cp, network_configuration)
        task["eni"] = eni
        _set_eni_status(task, "PRECREATED")
        for c in containers:
            c["networkInterfaces"] = [{"attachmentId": task["attachments"][0]["id"],
                                       "privateIpv4Address": eni["ip"]}]
    cp.data["tasks"][arn] = task
    for role_type in (ROLE_TASK, ROLE_EXECUTION):
        role_arn = _role_arn(td, overrides, role_type)
        if role_arn:
            issue_role_credentials(cp, task, role_type, role_arn)
    cp.changed()
    return task


# ---------------------------------------------------------------- stopping
def bump(cp, task):
    task["version"] += 1
    cp.changed()


def finalize_stopped(cp, task, now=None):
    """The task reached STOPPED: timestamps, reasons, ENI released."""
    now = now or time.time()
    task["lastStatus"] = "STOPPED"
    task["desiredStatus"] = "STOPPED"
    if task.get("stoppingAt") is None:
        task["stoppingAt"] = now
    task["stoppedAt"] = now
    if task.get("executionStoppedAt") is None:
        task["executionStoppedAt"] = now
    if not task.get("stoppedReason"):
        reason, code = _derive_stop_reason(task)
        task["stoppedReason"] = reason
        task["stopCode"] = code
    _set_eni_status(task, "DELETED")
    task["acs"]["ackedDesired"] = "STOPPED"
    bump(cp, task)


def _derive_stop_reason(task):
    """Why a task stopped when nobody asked it to.  These texts are written by
    the ECS service, not by the agent (§4.5, §11.16)."""
    essential_exited = any(c["essential"] and c["lastStatus"] == "STOPPED"
                           for c in task["containers"])
    if task.get("reportedReason"):
        return task["reportedReason"], ("EssentialContainerExited" if task["wasRunning"]
                                        else "TaskFailedToStart")
    if not task["wasRunning"]:
        for c in task["containers"]:
            if c.get("reason"):
                return c["reason"], "TaskFailedToStart"
    if essential_exited:
        return "Essential container in task exited", "EssentialContainerExited"
    return "Task stopped by the container agent", ("EssentialContainerExited" if task["wasRunning"]
                                                   else "TaskFailedToStart")


def stop_task(cp, task, reason, stop_code):
    """Set desired STOPPED (StopTask, service scheduler) and tell the agent."""
    if task["desiredStatus"] == "STOPPED" or task["lastStatus"] == "STOPPED":
        return False
    now = time.time()
    task["desiredStatus"] = "STOPPED"
    task["stoppingAt"] = now
    task["stoppedReason"] = reason
    task["stopCode"] = stop_code
    bump(cp, task)
    acs = task["acs"]
    if task.get("eni") and not acs["eniAttached"] and acs["ackedDesired"] is None:
        # awsvpc task still waiting for its ENI: it never reached the agent.
        finalize_stopped(cp, task, now)
    elif cp.acs:
        cp.acs.kick(task["containerInstanceArn"])
    return True


def fail_unplaceable(cp, task, reason):
    """Fail a task on the control-plane side (e.g. ENI attach timeout)."""
    task["desiredStatus"] = "STOPPED"
    task["stoppedReason"] = reason
    task["stopCode"] = "TaskFailedToStart"
    for c in task["containers"]:
        c["lastStatus"] = "STOPPED"
    finalize_stopped(cp, task)


# ------------------------------------------------------- agent state changes
TASK_REPORTABLE = ("PENDING", "RUNNING", "STOPPED")


def _instances_of_caller(cp, caller):
    bound = set(cp.acs.key_instances(caller.access_key)) if cp.acs else set()
    if caller.entry.get("kind") == "instance-role" and caller.entry.get("ec2InstanceId"):
        bound |= {arn for arn, i in cp.data["instances"].items()
                  if i["ec2InstanceId"] == caller.entry["ec2InstanceId"]}
    return bound


def check_reporter(cp, caller, task, op):
    """Only the instance the task is placed on may report for it.  The caller
    is identified by its access key: keys seen on an instance's ACS upgrade or
    RegisterContainerInstance, and IMDS instance-role keys, are bound to that
    instance.  Keys bound to no instance (e.g. a user's) are trusted.  Task
    role credentials may never report."""
    if caller is None:
        return
    if caller.kind in (ROLE_TASK, ROLE_EXECUTION):
        raise errors.AwsError("AccessDeniedException",
                              f"User: {caller.entry.get('roleArn')} is not authorized to perform: "
                              f"ecs:{op} on resource: {task['taskArn']}")
    bound = _instances_of_caller(cp, caller)
    if bound and task["containerInstanceArn"] not in bound:
        raise errors.AwsError("AccessDeniedException",
                              f"The container instance that submitted this state change does "
                              f"not host task {task['taskArn']}.")


def _task_for_report(cp, body):
    cluster_name = cp.cluster_name(body.get("cluster"))
    ref = body.get("task")
    if not ref:
        raise errors.invalid("Task can not be blank.")
    task = cp.data["tasks"].get(ref) if ref.startswith("arn:") else None
    if task is None and cluster_name:
        task = cp.task(cluster_name, ref)
    if task is None:
        raise errors.invalid(f"Task not found: {ref}")
    if cluster_name != task["cluster"]:
        raise errors.invalid(f"Task {ref} does not belong to cluster {body.get('cluster')}.")
    return task


def _validate_container_change(task, cc):
    names = {c["name"] for c in task["containers"]}
    name = cc.get("containerName")
    if name not in names:
        raise errors.invalid(f"Container {name!r} is not part of task {task['taskArn']}.")
    status = cc.get("status")
    if status is not None and status not in CONTAINER_STATUS_ORDER:
        raise errors.invalid(f"Invalid container status {status!r} for container {name}.")
    for nb in cc.get("networkBindings") or []:
        proto = nb.get("protocol")
        if proto is not None and proto not in ("tcp", "udp"):
            raise errors.invalid(f"Invalid protocol {proto!r} in network binding.")


def _apply_container_change(task, cc):
    c = next(x for x in task["containers"] if x["name"] == cc["containerName"])
    status = cc.get("status")
    if status and CONTAINER_STATUS_ORDER[status] >= CONTAINER_STATUS_ORDER[c["lastStatus"]]:
        c["lastStatus"] = status
    if cc.get("exitCode") is not None:
        c["exitCode"] = int(cc["exitCode"])
    if cc.get("reason"):
        c["reason"] = cc["reason"][:1024]
    if cc.get("runtimeId"):
        c["runtimeId"] = cc["runtimeId"]
    if cc.get("imageDigest"):
        c["imageDigest"] = cc["imageDigest"]
    if cc.get("networkBindings") is not None and (cc["networkBindings"] or status == "RUNNING"):
        c["networkBindings"] = [{k: v for k, v in nb.items() if v is not None}
                                for nb in cc["networkBindings"]]


def _timestamp(v):
    if isinstance(v, (int, float)):
        return float(v)
    return v


def submit_task_state_change(cp, caller, body):
    task = _task_for_report(cp, body)
    check_reporter(cp, caller, task, "SubmitTaskStateChange")
    status = body.get("status")
    if status is not None and status not in TASK_REPORTABLE:
        raise errors.invalid(f"Invalid task status {status!r}.")
    for cc in body.get("containers") or []:
        _validate_container_change(task, cc)
    atts = body.get("attachments") or []
    for a in atts:
        if not task.get("eni") or a["attachmentArn"] != task["eni"]["attachmentArn"]:
            raise errors.invalid(f"Attachment {a['attachmentArn']} does not belong to task "
                                 f"{task['taskArn']}.")
    for ma in body.get("managedAgents") or []:
        if ma.get("containerName") not in {c["name"] for c in task["containers"]}:
            raise errors.invalid(f"Container {ma.get('containerName')!r} is not part of task.")

    # -- everything is valid: apply --------------------------------------
    now = time.time()
    for a in atts:
        if a["status"] == "ATTACHED" and not task["acs"]["eniAttached"]:
            task["acs"]["eniAttached"] = True
            task["acs"]["eniAttachedAt"] = now
            _set_eni_status(task, "ATTACHED")
            if task["lastStatus"] == "PROVISIONING":
                task["lastStatus"] = "PENDING"
            if cp.acs:
                cp.acs.kick(task["containerInstanceArn"])
    if task["lastStatus"] == "STOPPED":
        # terminal: never move backwards (§11.8); accept so the agent's queue moves on
        bump(cp, task)
        return task
    for cc in body.get("containers") or []:
        _apply_container_change(task, cc)
    for ma in body.get("managedAgents") or []:
        c = next(x for x in task["containers"] if x["name"] == ma["containerName"])
        agents = {a["name"]: a for a in c.get("managedAgents") or []}
        agents[ma["managedAgentName"]] = {"name": ma["managedAgentName"],
                                          "lastStatus": ma["status"],
                                          "reason": ma.get("reason") or "",
                                          "lastStartedAt": now}
        c["managedAgents"] = list(agents.values())
    for key in ("pullStartedAt", "pullStoppedAt", "executionStoppedAt"):
        if body.get(key) is not None:
            task[key] = _timestamp(body[key])
    if body.get("reason"):
        task["reportedReason"] = body["reason"][:1024]
    if status and TASK_STATUS_ORDER[status] > TASK_STATUS_ORDER[task["lastStatus"]]:
        if status == "RUNNING":
            task["lastStatus"] = "RUNNING"
            task["wasRunning"] = True
            task["startedAt"] = now
            task["connectivity"] = "CONNECTED"
            task["connectivityAt"] = now
        elif status == "PENDING":
            task["lastStatus"] = "PENDING"
        elif status == "STOPPED":
            finalize_stopped(cp, task, now)
            return task
    bump(cp, task)
    return task


def submit_container_state_change(cp, caller, body):
    task = _task_for_report(cp, body)
    check_reporter(cp, caller, task, "SubmitContainerStateChange")
    cc = {k: body.get(k) for k in ("containerName", "runtimeId", "status", "exitCode",
                                   "reason", "networkBindings")}
    _validate_container_change(task, cc)
    if task["lastStatus"] != "STOPPED":
        _apply_container_change(task, cc)
    bump(cp, task)
    return task


def submit_attachment_state_changes(cp, caller, body):
    """Task ENIs are matched by ARN; others (instance ENIs, EBS) are accepted
    and only logged, since ecs-local does not model them."""
    valid = ("NONE", "PRECREATED", "CREATED", "ATTACHING", "ATTACHED", "DETACHING",
             "DETACHED", "DELETED", "FAILED")
    for a in body["attachments"]:
        if a["status"] not in valid:
            raise errors.invalid(f"Invalid attachment status {a['status']!r}.")
    by_arn = {t["eni"]["attachmentArn"]: t for t in cp.data["tasks"].values() if t.get("eni")}
    for a in body["attachments"]:
        t = by_arn.get(a["attachmentArn"])
        if t is not None:
            check_reporter(cp, caller, t, "SubmitAttachmentStateChanges")
    for a in body["attachments"]:
        t = by_arn.get(a["attachmentArn"])
        if t is not None and a["status"] == "ATTACHED" and not t["acs"]["eniAttached"]:
            t["acs"]["eniAttached"] = True
            _set_eni_status(t, "ATTACHED")
            if t["lastStatus"] == "PROVISIONING":
                t["lastStatus"] = "PENDING"
            bump(cp, t)
            if cp.acs:
                cp.acs.kick(t["containerInstanceArn"])
