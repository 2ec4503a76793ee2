"""Amazon ECS operations (AmazonEC2ContainerServiceV20141113.*).

Each method takes the validated request dict and a Context and returns the
response dict.  Every check happens before anything is modified, so a
rejected request changes nothing.  Error codes follow the public model's
error list for each operation: ClusterNotFoundException where the model has
it, ClientException "Cluster not found." where it does not (RCI, DPE,
Submit*), InvalidParameterException for bad parameters.
"""

import asyncio
import base64
import json
import os
import re
import secrets
import time

from . import errors
from . import taskdefs
from . import tasks as tasklib
from .arns import NAME_RE, new_id32
from .errors import AwsError

ATTR_NAME = re.compile(r"^[a-zA-Z0-9_.\-/]{1,128}$")
ATTR_VALUE = re.compile(r"^[a-zA-Z0-9_.@\-/\\: ]{1,128}$")
DEFAULT_RESERVED_PORTS = ["22", "2375", "2376", "51678", "51679"]


# ------------------------------------------------------------------ helpers
def paginate(items, p, limit=100):
    max_results = p.get("maxResults")
    if max_results is not None and not 1 <= max_results <= limit:
        raise errors.invalid(f"maxResults must be between 1 and {limit}.")
    max_results = max_results or limit
    start = 0
    token = p.get("nextToken")
    if token:
        try:
            start = int(json.loads(base64.b64decode(token))["o"])
            if start < 0:
                raise ValueError
        except Exception:
            raise errors.invalid("Invalid nextToken.")
    page = items[start:start + max_results]
    nxt = None
    if start + max_results < len(items):
        nxt = base64.b64encode(json.dumps({"o": start + max_results}).encode()).decode()
    return page, nxt


def _with_token(out, nxt):
    if nxt:
        out["nextToken"] = nxt
    return out


def _attribute_filter_holds(match, inst):
    """Whether a container instance passes an 'attribute:NAME [op VALUE|exists|!exists]' filter."""
    attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
    attrs.update({a["name"]: a.get("value") for a in inst.get("customAttributes", [])})
    name, op, value, ex = match.groups()
    if op == "==":
        return attrs.get(name) == value
    if op == "!=":
        return attrs.get(name) != value
    if ex == "!exists":
        return name not in attrs
    return name in attrs


def _listing(key, items, p):
    """A List* answer: one page of ``items`` under ``key``, and the token of the next."""
    page, nxt = paginate(items, p)
    return _with_token({key: page}, nxt)


def _check_count(values, name, lo, hi):
    if not lo <= len(values) <= hi:
        raise errors.invalid(f"{name} must contain between {lo} and {hi} items.")


def _host_defaults():
    cpu = (os.cpu_count() or 2) * 1024
    mem = 3768
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    return cpu, mem


def _validate_tags(tags):
    for t in tags or []:
        if not t.get("key"):
            raise errors.invalid("Tag key cannot be null or empty.")


class EcsOps:
    def __init__(self, cp):
        self.cp = cp

    @property
    def data(self):
        return self.cp.data

    # ============================================================ clusters
    def CreateCluster(self, p, ctx):
        name = p.get("clusterName") or "default"
        if not NAME_RE.match(name):
            raise errors.invalid("Cluster name can contain up to 255 letters (uppercase and "
                                 "lowercase), numbers, underscores, and hyphens.")
        _validate_tags(p.get("tags"))
        if p.get("capacityProviders"):
            raise errors.invalid("Capacity providers are not supported by ecs-local.")
        c = self.data["clusters"].get(name)
        if c is None or c["status"] != "ACTIVE":
            c = {"clusterName": name, "clusterArn": self.cp.arns.cluster(name),
                 "status": "ACTIVE", "createdAt": time.time(),
                 "tags": list(p.get("tags") or []),
                 "settings": p.get("settings") or [{"name": "containerInsights", "value": "disabled"}],
                 "capacityProviders": [], "defaultCapacityProviderStrategy": []}
            if p.get("configuration"):
                c["configuration"] = p["configuration"]
            self.data["clusters"][name] = c
            self.cp.changed()
        return {"cluster": self.cp.view_cluster(c, ("TAGS",))}

    def DescribeClusters(self, p, ctx):
        refs = p.get("clusters") or ["default"]
        _check_count(refs, "clusters", 1, 100)
        include = p.get("include") or []
        out, failures = [], []
        for ref in refs:
            name = self.cp.cluster_name(ref)
            c = self.data["clusters"].get(name) if name else None
            if c is None:
                failures.append({"arn": ref if ref.startswith("arn:") else self.cp.arns.cluster(ref),
                                 "reason": "MISSING"})
            else:
                out.append(self.cp.view_cluster(c, include))
        return {"clusters": out, "failures": failures}

    def ListClusters(self, p, ctx):
        arns = [c["clusterArn"] for c in sorted(self.data["clusters"].values(),
                                                key=lambda c: c["createdAt"])
                if c["status"] == "ACTIVE"]
        return _listing("clusterArns", arns, p)

    def DeleteCluster(self, p, ctx):
        c = self.cp.cluster(p["cluster"])
        name = c["clusterName"]
        if self.cp.instances_in(name):
            raise AwsError("ClusterContainsContainerInstancesException",
                           "The Cluster cannot be deleted while Container Instances are active or draining.")
        if any(s["cluster"] == name and s["status"] in ("ACTIVE", "DRAINING")
               for s in self.data["services"].values()):
            raise AwsError("ClusterContainsServicesException",
                           "The Cluster cannot be deleted while Services are active.")
        if any(t["cluster"] == name and t["lastStatus"] != "STOPPED"
               for t in self.data["tasks"].values()):
            raise AwsError("ClusterContainsTasksException",
                           "The Cluster cannot be deleted while Tasks are active.")
        c["status"] = "INACTIVE"
        self.cp.changed()
        return {"cluster": self.cp.view_cluster(c)}

    # ===================================================== task definitions
    def RegisterTaskDefinition(self, p, ctx):
        _validate_tags(p.get("tags"))
        td = taskdefs.register(self.cp, p)
        return {"taskDefinition": td, "tags": list(p.get("tags") or [])}

    def _td_or_fail(self, ref, msg="Unable to describe task definition."):
        td = self.cp.task_definition(ref)
        if td is None:
            raise errors.client(msg)
        return td

    def DescribeTaskDefinition(self, p, ctx):
        td = self._td_or_fail(p["taskDefinition"])
        out = {"taskDefinition": td}
        if "TAGS" in (p.get("include") or []):
            out["tags"] = self.cp.task_definition_tags(td)
        return out

    def ListTaskDefinitions(self, p, ctx):
        status = p.get("status") or "ACTIVE"
        prefix = p.get("familyPrefix")
        items = []
        for fam, entry in self.data["taskDefinitions"].items():
            if prefix and not fam.startswith(prefix):
                continue
            for rev, r in entry["revisions"].items():
                if r["definition"]["status"] == status:
                    items.append((fam, int(rev), r["definition"]["taskDefinitionArn"]))
        items.sort(reverse=(p.get("sort") == "DESC"))
        return _listing("taskDefinitionArns", [a for _, _, a in items], p)

    def ListTaskDefinitionFamilies(self, p, ctx):
        status = p.get("status") or "ACTIVE"
        fams = []
        for fam, entry in sorted(self.data["taskDefinitions"].items()):
            if p.get("familyPrefix") and not fam.startswith(p["familyPrefix"]):
                continue
            active = any(r["definition"]["status"] == "ACTIVE" for r in entry["revisions"].values())
            if status == "ALL" or (status == "ACTIVE") == active:
                fams.append(fam)
        return _listing("families", fams, p)

    def DeregisterTaskDefinition(self, p, ctx):
        ref = p["taskDefinition"]
        plain = ref.rsplit("/", 1)[-1]
        if ":" not in plain:
            raise errors.client("Invalid revision number. Number: " + plain)
        td = self._td_or_fail(ref, "The specified task definition does not exist.")
        if td["status"] == "ACTIVE":
            td["status"] = "INACTIVE"
            td["deregisteredAt"] = time.time()
            self.cp.changed()
        return {"taskDefinition": td}

    # ================================================================ tasks
    def _launch_type(self, p):
        lt = p.get("launchType")
        if lt and p.get("capacityProviderStrategy"):
            raise errors.invalid("Specifying both a launch type and capacity provider strategy "
                                 "is not supported.")
        if lt == "FARGATE":
            raise errors.invalid("The FARGATE launch type is not supported by ecs-local.")
        return lt or "EC2"

    def _task_input(self, p, cluster):
        td = self.cp.task_definition(p["taskDefinition"])
        if td is None:
            raise errors.client("TaskDefinition not found.")
        if td["status"] != "ACTIVE":
            raise errors.client("TaskDefinition is inactive")
        overrides = p.get("overrides") or {}
        tasklib.check_overrides(td, overrides)
        for key in ("cpu", "memory"):
            if overrides.get(key) is not None:
                fn = taskdefs.parse_cpu if key == "cpu" else taskdefs.parse_memory
                overrides = dict(overrides)
                overrides[key] = str(fn(overrides[key]))
        nc = p.get("networkConfiguration")
        if td.get("networkMode") == "awsvpc":
            if not nc or not (nc.get("awsvpcConfiguration") or {}).get("subnets"):
                raise errors.invalid("Network Configuration must be provided when networkMode "
                                     "'awsvpc' is specified.")
        elif nc:
            raise errors.invalid("Network Configuration is not valid for the given networkMode "
                                 "of this task definition.")
        started_by = p.get("startedBy")
        if started_by is not None and len(started_by) > 128:
            raise errors.invalid("startedBy must be at most 128 characters.")
        _validate_tags(p.get("tags"))
        return td, overrides

    def RunTask(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        launch_type = self._launch_type(p)
        count = p.get("count", 1)
        if not 1 <= count <= 10:
            raise errors.invalid("The count of tasks to run must be between 1 and 10.")
        td, overrides = self._task_input(p, cluster)
        created, failures = self.cp.scheduler.place(
            cluster, td, count, launch_type, overrides=overrides,
            strategy=p.get("placementStrategy"), constraints=p.get("placementConstraints"),
            started_by=p.get("startedBy"), group=p.get("group"), tags=p.get("tags"),
            network_configuration=p.get("networkConfiguration"),
            enable_execute_command=p.get("enableExecuteCommand"))
        return {"tasks": [self.cp.view_task(t, ("TAGS",)) for t in created],
                "failures": failures}

    def StartTask(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        refs = p["containerInstances"]
        _check_count(refs, "containerInstances", 1, 10)
        td, overrides = self._task_input(p, cluster)
        insts, failures = [], []
        for ref in refs:
            inst = self.cp.instance(cluster["clusterName"], ref)
            if inst is None or inst["status"] == "INACTIVE":
                failures.append({"arn": ref if ref.startswith("arn:") else
                                 self.cp.arns.container_instance(cluster["clusterName"], ref),
                                 "reason": "MISSING"})
            else:
                insts.append(inst)
        created = []
        for inst in insts:
            lt = "EXTERNAL" if inst.get("external") else "EC2"
            c, f = self.cp.scheduler.place(
                cluster, td, 1, lt, overrides=overrides, instances=[inst],
                started_by=p.get("startedBy"), group=p.get("group"), tags=p.get("tags"),
                network_configuration=p.get("networkConfiguration"),
                enable_execute_command=p.get("enableExecuteCommand"))
            created += c
            failures += f
        return {"tasks": [self.cp.view_task(t, ("TAGS",)) for t in created],
                "failures": failures}

    def StopTask(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        t = self.cp.task(cluster["clusterName"], p["task"])
        if t is None:
            raise errors.invalid("The referenced task was not found.")
        reason = p.get("reason")
        if reason is not None and len(reason) > 255:
            raise errors.invalid("reason must be at most 255 characters.")
        tasklib.stop_task(self.cp, t, reason or "Task stopped by user", "UserInitiated")
        return {"task": self.cp.view_task(t)}

    # ==================================================== task protection
    def _protection_targets(self, p, ctx):
        """The tasks named in p: (found records, MISSING failures). A caller holding role
        credentials issued to a task (ecs-local's stand-in for an IAM policy) may only act
        on that task."""
        cluster = self.cp.cluster(p.get("cluster"))
        name = cluster["clusterName"]
        refs = p.get("tasks")
        if not isinstance(refs, list) or not refs:
            raise errors.invalid("tasks must name at least one task.")
        _check_count(refs, "tasks", 1, 10)
        own = ((ctx.caller.entry or {}).get("taskArn") if ctx.caller else None)
        found, failures = [], []
        for ref in refs:
            t = self.cp.task(name, ref) if isinstance(ref, str) else None
            if t is None or t["lastStatus"] == "STOPPED":
                arn = ref if isinstance(ref, str) and ref.startswith("arn:") else \
                    self.cp.arns.task(name, str(ref))
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            if own and own != t["taskArn"]:
                raise AwsError("AccessDeniedException",
                               "The role of another task may not change this task's "
                               "protection.")
            if not t.get("serviceArn"):
                failures.append({"arn": t["taskArn"], "reason": "TASK_NOT_VALID",
                                 "detail": "The task is not part of a service."})
                continue
            found.append(t)
        return found, failures

    @staticmethod
    def _protection_view(t):
        until = t.get("protectedUntil") or 0
        if until > time.time():
            return {"taskArn": t["taskArn"], "protectionEnabled": True,
                    "expirationDate": round(until, 3)}
        return {"taskArn": t["taskArn"], "protectionEnabled": False}

    def UpdateTaskProtection(self, p, ctx):
        enabled = p.get("protectionEnabled")
        if not isinstance(enabled, bool):
            raise errors.invalid("protectionEnabled must be true or false.")
        minutes = p.get("expiresInMinutes", 120)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or \
                not 1 <= minutes <= 2880:
            raise errors.invalid("expiresInMinutes must be between 1 and 2880.")
        found, failures = self._protection_targets(p, ctx)
        for t in found:
            t["protectedUntil"] = time.time() + 60 * minutes if enabled else 0
        if found:
            self.cp.changed()
            self.cp.scheduler.kick()
        return {"protectedTasks": [self._protection_view(t) for t in found],
                "failures": failures}

    def GetTaskProtection(self, p, ctx):
        found, failures = self._protection_targets(p, ctx)
        return {"protectedTasks": [self._protection_view(t) for t in found],
                "failures": failures}

    def _describe_in_cluster(self, p, key, most, find, arn_of, view):
        """Describe* of resources inside one cluster: the found ones through
        ``view``, each missing one as a MISSING failure with its full ARN."""
        cluster = self.cp.cluster(p.get("cluster"))
        name = cluster["clusterName"]
        refs = p[key]
        _check_count(refs, key, 1, most)
        include = p.get("include") or []
        out, failures = [], []
        for ref in refs:
            found = find(name, ref)
            if found is None:
                failures.append({"arn": ref if ref.startswith("arn:") else arn_of(name, ref),
                                 "reason": "MISSING"})
            else:
                out.append(view(found, include))
        return {key: out, "failures": failures}

    def DescribeTasks(self, p, ctx):
        return self._describe_in_cluster(p, "tasks", 100, self.cp.task, self.cp.arns.task,
                                         self.cp.view_task)

    def ListTasks(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        name = cluster["clusterName"]
        inst_arn = None
        if p.get("containerInstance"):
            inst = self.cp.instance(name, p["containerInstance"])
            if inst is None:
                raise errors.invalid("The referenced container instance was not found.")
            inst_arn = inst["containerInstanceArn"]
        svc_arn = None
        if p.get("serviceName"):
            svc = self.cp.service(name, p["serviceName"])
            if svc is None:
                raise AwsError("ServiceNotFoundException", "Service not found.")
            svc_arn = svc["serviceArn"]
        desired = p.get("desiredStatus") or "RUNNING"

        def listed(t):
            if desired == "PENDING":
                wanted = t["desiredStatus"] == "RUNNING" and t["lastStatus"] in ("PENDING", "PROVISIONING")
            else:
                wanted = t["desiredStatus"] == desired
            return (wanted and t["cluster"] == name
                    and (not inst_arn or t["containerInstanceArn"] == inst_arn)
                    and (not p.get("family") or t["family"] == p["family"])
                    and (not p.get("startedBy") or t.get("startedBy") == p["startedBy"])
                    and (not svc_arn or t.get("serviceArn") == svc_arn)
                    and (not p.get("launchType") or t["launchType"] == p["launchType"]))

        tasks = sorted(self.data["tasks"].values(), key=lambda t: t["createdAt"])
        return _listing("taskArns", [t["taskArn"] for t in tasks if listed(t)], p)

    # ============================================================= services
    def CreateService(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        name = p["serviceName"]
        if not NAME_RE.match(name):
            raise errors.invalid("Service name can contain up to 255 letters (uppercase and "
                                 "lowercase), numbers, underscores, and hyphens.")
        existing = self.cp.service(cluster["clusterName"], name)
        if existing and existing["status"] in ("ACTIVE", "DRAINING"):
            raise errors.invalid("Creation of service was not idempotent.")
        if (p.get("deploymentController") or {}).get("type", "ECS") != "ECS":
            raise errors.invalid("Only the ECS deployment controller is supported by ecs-local.")
        if not p.get("taskDefinition"):
            raise errors.invalid("TaskDefinition can not be blank.")
        strategy = p.get("schedulingStrategy") or "REPLICA"
        desired = p.get("desiredCount")
        if strategy == "REPLICA" and desired is None:
            raise errors.invalid("The desired count must be specified for services that use "
                                 "the REPLICA scheduling strategy.")
        if desired is not None and desired < 0:
            raise errors.invalid("desiredCount must be >= 0.")
        if p.get("loadBalancers"):
            raise errors.invalid("Load balancers are not supported by ecs-local.")
        launch_type = self._launch_type(p)
        td, _ = self._task_input({"taskDefinition": p["taskDefinition"],
                                  "networkConfiguration": p.get("networkConfiguration"),
                                  "tags": p.get("tags")}, cluster)
        dc = dict(p.get("deploymentConfiguration") or {})
        dc.setdefault("maximumPercent", 100 if strategy == "DAEMON" else 200)
        dc.setdefault("minimumHealthyPercent", 0 if strategy == "DAEMON" else 100)
        dc.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
        if dc["maximumPercent"] < 100 and strategy == "REPLICA":
            raise errors.invalid("maximumPercent must be >= 100.")
        now = time.time()
        svc = {
            "serviceArn": self.cp.arns.service(cluster["clusterName"], name),
            "serviceName": name,
            "cluster": cluster["clusterName"],
            "clusterArn": cluster["clusterArn"],
            "status": "ACTIVE",
            "desiredCount": desired or 0,
            "launchType": launch_type,
            "taskDefinition": td["taskDefinitionArn"],
            "deploymentConfiguration": dc,
            "deployments": [self._deployment(td, desired or 0, launch_type, p, now)],
            "events": [],
            "createdAt": now,
            "placementConstraints": p.get("placementConstraints") or [],
            "placementStrategy": p.get("placementStrategy") or [],
            "networkConfiguration": p.get("networkConfiguration"),
            "schedulingStrategy": strategy,
            "tags": p.get("tags") or [],
            "enableECSManagedTags": bool(p.get("enableECSManagedTags")),
            "propagateTags": p.get("propagateTags") or "NONE",
            "enableExecuteCommand": bool(p.get("enableExecuteCommand")),
        }
        self.data["services"][svc["serviceArn"]] = svc
        self.cp.changed()
        self.cp.scheduler._reconcile_service(svc)
        return {"service": self.cp.view_service(svc, ("TAGS",))}

    def _deployment(self, td, desired, launch_type, p, now):
        dep_id = "ecs-svc/" + "".join(secrets.choice("0123456789") for _ in range(19))
        d = {"id": dep_id, "status": "PRIMARY", "taskDefinition": td["taskDefinitionArn"],
             "desiredCount": desired, "pendingCount": 0, "runningCount": 0, "failedTasks": 0,
             "createdAt": now, "updatedAt": now, "launchType": launch_type,
             "rolloutState": "IN_PROGRESS",
             "rolloutStateReason": f"ECS deployment {dep_id} in progress."}
        if p.get("networkConfiguration"):
            d["networkConfiguration"] = p["networkConfiguration"]
        return d

    def _service_or_fail(self, cluster, ref, active=True):
        svc = self.cp.service(cluster["clusterName"], ref)
        if svc is None:
            raise AwsError("ServiceNotFoundException", "Service not found.")
        if active and svc["status"] != "ACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        return svc

    def UpdateService(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        svc = self._service_or_fail(cluster, p["service"])
        desired = p.get("desiredCount")
        if desired is not None and desired < 0:
            raise errors.invalid("desiredCount must be >= 0.")
        if desired is not None and svc["schedulingStrategy"] == "DAEMON":
            raise errors.invalid("The desired count cannot be set for a DAEMON service.")
        td = None
        if p.get("taskDefinition"):
            nc = p.get("networkConfiguration") or svc.get("networkConfiguration")
            td, _ = self._task_input({"taskDefinition": p["taskDefinition"],
                                      "networkConfiguration": nc}, cluster)
        # -- apply
        now = time.time()
        if desired is not None:
            svc["desiredCount"] = desired
            svc["deployments"][0]["desiredCount"] = desired
        if p.get("deploymentConfiguration"):
            svc["deploymentConfiguration"].update(p["deploymentConfiguration"])
        if p.get("networkConfiguration"):
            svc["networkConfiguration"] = p["networkConfiguration"]
        if td is not None or p.get("forceNewDeployment"):
            td = td or self.cp.task_definition(svc["taskDefinition"])
            for d in svc["deployments"]:
                d["status"] = "ACTIVE"
                d["updatedAt"] = now
            svc["deployments"].insert(0, self._deployment(td, svc["desiredCount"],
                                                          svc["launchType"], svc, now))
            svc["taskDefinition"] = td["taskDefinitionArn"]
            svc["steady"] = False
        svc["deployments"][0]["updatedAt"] = now
        self.cp.changed()
        self.cp.scheduler._reconcile_service(svc)
        return {"service": self.cp.view_service(svc)}

    def DescribeServices(self, p, ctx):
        return self._describe_in_cluster(p, "services", 10, self.cp.service,
                                         self.cp.arns.service, self.cp.view_service)

    def ListServices(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        arns = [s["serviceArn"] for s in sorted(self.data["services"].values(),
                                                key=lambda s: s["createdAt"])
                if s["cluster"] == cluster["clusterName"] and s["status"] in ("ACTIVE", "DRAINING")
                and p.get("launchType") in (None, s["launchType"])
                and p.get("schedulingStrategy") in (None, s["schedulingStrategy"])]
        return _listing("serviceArns", arns, p)

    def DeleteService(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        svc = self._service_or_fail(cluster, p["service"], active=False)
        if svc["status"] == "INACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        if svc["status"] == "ACTIVE":
            if svc["schedulingStrategy"] == "REPLICA" and svc["desiredCount"] > 0 \
                    and not p.get("force"):
                raise errors.invalid("The service cannot be stopped while it is scaled above 0.")
            svc["status"] = "DRAINING"
            svc["desiredCount"] = 0
            self.cp.changed()
            self.cp.scheduler._reconcile_service(svc)
        return {"service": self.cp.view_service(svc)}

    # =================================================== container instances
    def RegisterContainerInstance(self, p, ctx):
        cp = self.cp
        cluster = cp.cluster(p.get("cluster"), missing="client")
        name = cluster["clusterName"]
        doc_text = p.get("instanceIdentityDocument") or ""
        identity = {}
        if doc_text:
            try:
                identity = json.loads(doc_text)
                if not isinstance(identity, dict):
                    raise ValueError
            except ValueError:
                raise errors.invalid("The instance identity document is not valid JSON.")
        attributes = {}
        for a in p.get("attributes") or []:
            if not ATTR_NAME.match(a["name"]):
                raise errors.invalid(f"Attribute name {a['name']!r} is invalid.")
            if a.get("value") is not None and len(a["value"]) > 128:
                raise errors.invalid(f"Attribute value for {a['name']} is too long.")
            attributes[a["name"]] = {"name": a["name"], "value": a.get("value")}
        cpu_default, mem_default = _host_defaults()
        resources = {r["name"]: dict(r) for r in p.get("totalResources") or [] if r.get("name")}
        for rname in ("CPU", "MEMORY"):
            r = resources.get(rname)
            if r is not None:
                v = r.get("integerValue", r.get("longValue", r.get("doubleValue")))
                if v is None or v < 0:
                    raise errors.invalid(f"Resource {rname} must have a non-negative value.")
        resources.setdefault("CPU", {"name": "CPU", "type": "INTEGER", "integerValue": cpu_default})
        resources.setdefault("MEMORY", {"name": "MEMORY", "type": "INTEGER", "integerValue": mem_default})
        resources.setdefault("PORTS", {"name": "PORTS", "type": "STRINGSET",
                                       "stringSetValue": DEFAULT_RESERVED_PORTS})
        resources.setdefault("PORTS_UDP", {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []})
        for r in resources.values():
            r.setdefault("doubleValue", 0.0)
            r.setdefault("longValue", 0)
            r.setdefault("integerValue", 0)
            if r.get("type") == "STRINGSET":
                r["stringSetValue"] = list(r.get("stringSetValue") or [])
        _validate_tags(p.get("tags"))

        external = not identity or "ecs.capability.external" in attributes
        arn = p.get("containerInstanceArn")
        inst = None
        if arn:
            res = cp.arns.ecs_resource(arn)
            if not res or res[0] != "container-instance":
                raise errors.invalid(f"Invalid container instance ARN: {arn}")
            inst = self.data["instances"].get(arn)
            if inst is not None:
                if inst["cluster"] != name:
                    raise errors.client(f"Container instance {arn} is registered in cluster "
                                        f"{inst['cluster']}, not {name}.")
                if inst["status"] == "INACTIVE":
                    raise errors.client(f"Container instance {arn} has been deregistered and "
                                        "cannot be re-registered.")
                if identity.get("instanceType") and inst.get("instanceType") and \
                        identity["instanceType"] != inst["instanceType"]:
                    raise errors.client("Container instance type changes are not supported.")
            else:
                path = res[1].split("/")
                if len(path) != 2 or path[0] != name:
                    raise errors.invalid(f"Container instance {arn} does not belong to cluster {name}.")
                # An ARN we do not know (ecs-local restarted without --state):
                # adopt it so the agent keeps the identity it saved.
        else:
            token = p.get("clientToken")
            if token and token in self.data["clientTokens"]:
                arn = self.data["clientTokens"][token]
                inst = self.data["instances"].get(arn)
                if inst is None or inst["cluster"] != name:
                    raise errors.client("clientToken was already used for another request.")
            else:
                arn = cp.arns.container_instance(name, new_id32())
        # -- apply ----------------------------------------------------------
        now = time.time()
        auto = {"ecs.availability-zone": identity.get("availabilityZone") or f"{cp.region}a"}
        if identity.get("instanceType"):
            auto["ecs.instance-type"] = identity["instanceType"]
        if identity.get("imageId"):
            auto["ecs.ami-id"] = identity["imageId"]
        for k, v in auto.items():
            attributes.setdefault(k, {"name": k, "value": v})
        if inst is not None:
            # §1.4: re-registration omits ECS_INSTANCE_ATTRIBUTES; custom
            # attributes of the first registration stay with the instance.
            for a in inst.get("attributes", []):
                if not a["name"].startswith(("ecs.", "com.amazonaws.ecs.")):
                    attributes.setdefault(a["name"], a)
        if inst is None:
            inst = {"containerInstanceArn": arn, "id": arn.rsplit("/", 1)[-1], "cluster": name,
                    "registeredAt": now, "version": 0, "customAttributes": [], "tags": [],
                    "seq": 0}
            self.data["instances"][arn] = inst
        if identity.get("instanceId"):
            inst["ec2InstanceId"] = identity["instanceId"]
        elif not inst.get("ec2InstanceId") or not inst["ec2InstanceId"].startswith("mi-"):
            inst["ec2InstanceId"] = "mi-" + secrets.token_hex(9)[:17]
        inst.update({
            "status": "ACTIVE",
            "external": external,
            "instanceType": identity.get("instanceType") or inst.get("instanceType"),
            "registeredResources": list(resources.values()),
            "attributes": list(attributes.values()),
            "platformDevices": p.get("platformDevices") or [],
            "version": inst["version"] + 1,
        })
        if p.get("versionInfo"):
            inst["versionInfo"] = p["versionInfo"]
        if p.get("tags"):
            merged = {t["key"]: t for t in inst.get("tags", [])}
            merged.update({t["key"]: t for t in p["tags"]})
            inst["tags"] = list(merged.values())
        if p.get("clientToken"):
            self.data["clientTokens"][p["clientToken"]] = arn
        if ctx.caller is not None and cp.acs:
            cp.acs.bind_key(ctx.caller.access_key, arn)
        cp.changed()
        return {"containerInstance": cp.view_instance(inst, ("TAGS",))}

    def DeregisterContainerInstance(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        inst = self.cp.instance(cluster["clusterName"], p["containerInstance"])
        if inst is None or inst["status"] == "INACTIVE":
            raise errors.invalid("The referenced container instance was not found.")
        running = self.cp.tasks_on(inst["containerInstanceArn"])
        if running and not p.get("force"):
            raise errors.invalid("The container instance has tasks that are running. "
                                 "Use force=true to deregister it anyway.")
        for t in running:
            t["stoppedReason"] = "Container instance was deregistered"
            t["stopCode"] = "UserInitiated"
            tasklib.finalize_stopped(self.cp, t)
        inst["status"] = "INACTIVE"
        inst["version"] += 1
        self.cp.changed()
        view = self.cp.view_instance(inst)
        arn = inst["containerInstanceArn"]
        # the agent learns it on reconnect: InactiveInstanceException (§2.13)
        asyncio.get_running_loop().create_task(self.cp.acs.close_sessions(
            arn, text="InactiveInstanceException: Container instance deregistered"))
        if self.cp.tcs:
            for s in list(self.cp.tcs.sessions.values()):
                if s.instance_arn == arn:
                    asyncio.get_running_loop().create_task(s.ws.close(1000, "instance deregistered"))
        return {"containerInstance": view}

    def DescribeContainerInstances(self, p, ctx):
        return self._describe_in_cluster(p, "containerInstances", 100, self.cp.instance,
                                         self.cp.arns.container_instance, self.cp.view_instance)

    _FILTER = re.compile(r"^\s*attribute:([A-Za-z0-9_.\-/]+)\s*(?:(==|!=)\s*(\S+)|(exists|!exists))?\s*$")

    def ListContainerInstances(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        match = None
        if p.get("filter"):
            m = self._FILTER.match(p["filter"])
            if not m:
                raise errors.invalid("ecs-local supports filters of the form "
                                     "'attribute:NAME [== VALUE|!= VALUE|exists|!exists]'.")
            match = m
        status = p.get("status")
        out = []
        for inst in sorted(self.data["instances"].values(), key=lambda i: i["registeredAt"]):
            if inst["cluster"] != cluster["clusterName"]:
                continue
            if status and inst["status"] != status:
                continue
            if not status and inst["status"] == "INACTIVE":
                continue
            if match and not _attribute_filter_holds(match, inst):
                continue
            out.append(inst["containerInstanceArn"])
        return _listing("containerInstanceArns", out, p)

    def UpdateContainerInstancesState(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        status = p["status"]
        if status not in ("ACTIVE", "DRAINING"):
            raise errors.invalid("Container instances can only be set to ACTIVE or DRAINING.")
        refs = p["containerInstances"]
        _check_count(refs, "containerInstances", 1, 10)
        found, failures = [], []
        for ref in refs:
            inst = self.cp.instance(cluster["clusterName"], ref)
            if inst is None or inst["status"] == "INACTIVE":
                failures.append({"arn": ref, "reason": "MISSING"})
            else:
                found.append(inst)
        for inst in found:
            if inst["status"] != status:
                inst["status"] = status
                inst["version"] += 1
                self.cp.changed()
        self.cp.scheduler.kick()
        return {"containerInstances": [self.cp.view_instance(i) for i in found],
                "failures": failures}

    # ============================================================ attributes
    def _attr_target(self, cluster, a):
        if a.get("targetType", "container-instance") != "container-instance":
            raise errors.invalid("targetType must be container-instance.")
        if not a.get("targetId"):
            raise errors.invalid("targetId is required for container-instance attributes.")
        inst = self.cp.instance(cluster["clusterName"], a["targetId"])
        if inst is None or inst["status"] == "INACTIVE":
            raise AwsError("TargetNotFoundException",
                           f"Could not find {a['targetId']}. TargetIds must be valid and in the "
                           "same cluster.")
        return inst

    def PutAttributes(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        pairs = []
        for a in p["attributes"]:
            if not ATTR_NAME.match(a["name"]):
                raise errors.invalid(f"Attribute name {a['name']!r} is invalid.")
            if a.get("value") is not None and not ATTR_VALUE.match(a["value"]):
                raise errors.invalid(f"Attribute value {a['value']!r} is invalid.")
            pairs.append((self._attr_target(cluster, a), a))
        if len(pairs) > 10:
            raise AwsError("AttributeLimitExceededException",
                           "You can apply up to 10 custom attributes per request.")
        out = []
        for inst, a in pairs:
            custom = [x for x in inst.setdefault("customAttributes", []) if x["name"] != a["name"]]
            custom.append({"name": a["name"], "value": a.get("value")})
            inst["customAttributes"] = custom
            out.append({k: v for k, v in {"name": a["name"], "value": a.get("value"),
                                          "targetType": "container-instance",
                                          "targetId": inst["containerInstanceArn"]}.items()
                        if v is not None})
        self.cp.changed()
        return {"attributes": out}

    def DeleteAttributes(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        pairs = [(self._attr_target(cluster, a), a) for a in p["attributes"]]
        out = []
        for inst, a in pairs:
            inst["customAttributes"] = [x for x in inst.get("customAttributes", [])
                                        if x["name"] != a["name"]]
            out.append({"name": a["name"], "targetType": "container-instance",
                        "targetId": inst["containerInstanceArn"]})
        self.cp.changed()
        return {"attributes": out}

    def ListAttributes(self, p, ctx):
        cluster = self.cp.cluster(p.get("cluster"))
        if p.get("attributeValue") is not None and not p.get("attributeName"):
            raise errors.invalid("attributeName is required when attributeValue is given.")
        out = []
        for inst in sorted(self.cp.instances_in(cluster["clusterName"]),
                           key=lambda i: i["registeredAt"]):
            attrs = {a["name"]: a for a in inst["attributes"]}
            attrs.update({a["name"]: a for a in inst.get("customAttributes", [])})
            for a in attrs.values():
                if p.get("attributeName") and a["name"] != p["attributeName"]:
                    continue
                if p.get("attributeValue") is not None and a.get("value") != p["attributeValue"]:
                    continue
                item = {"name": a["name"], "targetType": "container-instance",
                        "targetId": inst["containerInstanceArn"]}
                if a.get("value") is not None:
                    item["value"] = a["value"]
                out.append(item)
        return _listing("attributes", out, p)

    # ================================================================= tags
    def _tagged(self, arn):
        res = self.cp.arns.ecs_resource(arn)
        if not res:
            raise errors.invalid("The specified resource is not found.")
        kind, path = res
        if kind == "cluster":
            return self.data["clusters"].get(path)
        if kind == "container-instance":
            return self.data["instances"].get(arn)
        if kind == "task":
            return self.data["tasks"].get(arn)
        if kind == "service":
            return self.data["services"].get(arn)
        if kind == "task-definition":
            family, _, rev = path.partition(":")
            fam = self.data["taskDefinitions"].get(family)
            return fam["revisions"].get(rev) if fam else None
        return None

    def ListTagsForResource(self, p, ctx):
        obj = self._tagged(p["resourceArn"])
        if obj is None:
            raise errors.invalid("The specified resource is not found.")
        return {"tags": obj.get("tags", [])}

    def TagResource(self, p, ctx):
        obj = self._tagged(p["resourceArn"])
        if obj is None:
            raise errors.invalid("The specified resource is not found.")
        _validate_tags(p["tags"])
        merged = {t["key"]: t for t in obj.get("tags", [])}
        merged.update({t["key"]: t for t in p["tags"]})
        obj["tags"] = list(merged.values())
        self.cp.changed()
        return {}

    def UntagResource(self, p, ctx):
        obj = self._tagged(p["resourceArn"])
        if obj is None:
            raise errors.invalid("The specified resource is not found.")
        obj["tags"] = [t for t in obj.get("tags", []) if t["key"] not in p["tagKeys"]]
        self.cp.changed()
        return {}

    # ========================================================== agent calls
    def DiscoverPollEndpoint(self, p, ctx):
        """§1.7: ACS at <base>/acs and TCS at <base>/tcs; the agent appends
        /ws?... (§2.2, §3.1), so both arrive on this same port."""
        self.cp.cluster(p.get("cluster"), missing="client")
        base = self.cp.cfg.public_url
        if not base:
            host = ctx.request.headers.get("Host") or \
                f"{ctx.request.local[0]}:{ctx.request.local[1]}"
            # https:// over TLS: agents turn it into wss://, as with AWS's endpoints.
            base = f"{'https' if ctx.request.tls else 'http'}://{host}"
        base = base.rstrip("/")
        return {"endpoint": f"{base}/acs", "telemetryEndpoint": f"{base}/tcs",
                "serviceConnectEndpoint": f"{base}/sc"}

    def SubmitTaskStateChange(self, p, ctx):
        tasklib.submit_task_state_change(self.cp, ctx.caller, p)
        return {"acknowledgment": "ACK"}

    def SubmitContainerStateChange(self, p, ctx):
        tasklib.submit_container_state_change(self.cp, ctx.caller, p)
        return {"acknowledgment": "ACK"}

    def SubmitAttachmentStateChanges(self, p, ctx):
        if p.get("cluster"):
            self.cp.cluster(p["cluster"], missing="client")
        tasklib.submit_attachment_state_changes(self.cp, ctx.caller, p)
        return {"acknowledgment": "ACK"}
