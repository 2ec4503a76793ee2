"""The control-plane context shared by the API, ACS, TCS, scheduler and admin.

Holds configuration, the store, ARN helpers, the credential table and the
fault registry, and offers lookups ("cluster by name or ARN", "task by ID or
ARN", ...) and the *views*: the response shapes of Cluster, ContainerInstance,
Task, Service and TaskDefinition as the public ECS model defines them.
"""

import collections
import logging
import time

from . import errors
from .arns import Arns, last_segment

log = logging.getLogger("ecslocal")

TASK_STATUS_ORDER = {"PROVISIONING": 0, "PENDING": 1, "ACTIVATING": 2, "RUNNING": 3,
                     "DEACTIVATING": 4, "STOPPING": 5, "DEPROVISIONING": 6, "STOPPED": 7}
CONTAINER_STATUS_ORDER = {"PENDING": 0, "RUNNING": 1, "STOPPED": 2}


def _drop_none(d):
    return {k: v for k, v in d.items() if v is not None}


class ControlPlane:
    def __init__(self, cfg, store, creds, faults):
        self.cfg = cfg
        self.store = store
        self.creds = creds
        self.faults = faults
        self.region = cfg.region
        self.account = cfg.account
        self.arns = Arns(cfg.region, cfg.account)
        self.started_at = time.time()
        # wired by the server
        self.acs = None
        self.tcs = None
        self.cloudwatch = None
        self.scheduler = None
        # runtime-only logs for the admin API
        self.api_log = collections.deque(maxlen=5000)
        self.api_seq = 0

    # ------------------------------------------------------------------ util
    @property
    def data(self):
        return self.store.data

    def changed(self):
        self.store.mark_dirty()

    def now(self):
        return time.time()

    # -------------------------------------------------------------- clusters
    def cluster_name(self, ref):
        """Name for a cluster reference (name or ARN); None if the ARN is
        not a cluster ARN of this region/account."""
        if ref is None or ref == "":
            return "default"
        if ref.startswith("arn:"):
            res = self.arns.ecs_resource(ref)
            if not res or res[0] != "cluster":
                return None
            return res[1]
        return ref

    def cluster(self, ref, missing="notfound"):
        """Active cluster record or raise (ClusterNotFoundException, or
        ClientException "Cluster not found." for operations whose model has
        no ClusterNotFoundException, e.g. RegisterContainerInstance)."""
        name = self.cluster_name(ref)
        c = self.data["clusters"].get(name) if name else None
        if c is None or c["status"] != "ACTIVE":
            if missing == "client":
                raise errors.client("Cluster not found.")
            raise errors.cluster_not_found()
        return c

    # ------------------------------------------------------------- instances
    def instance(self, cluster_name, ref):
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("arn:"):
            inst = self.data["instances"].get(ref)
        else:
            inst = self.data["instances"].get(
                self.arns.container_instance(cluster_name, ref))
        if inst and inst["cluster"] == cluster_name:
            return inst
        return None

    def instances_in(self, cluster_name, statuses=("ACTIVE", "DRAINING")):
        return [i for i in self.data["instances"].values()
                if i["cluster"] == cluster_name and i["status"] in statuses]

    def agent_connected(self, inst):
        return bool(self.acs and self.acs.is_connected(inst["containerInstanceArn"]))

    def agent_available(self, inst):
        """Connected, or disconnected for less than --disconnect-grace."""
        if self.agent_connected(inst):
            return True
        last = inst.get("lastDisconnectedAt")
        if inst.get("everConnected") and last is not None:
            ref = max(last, self.started_at)
            return time.time() - ref < self.cfg.disconnect_grace
        return False

    # ----------------------------------------------------------------- tasks
    def task(self, cluster_name, ref):
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("arn:"):
            t = self.data["tasks"].get(ref)
        else:
            t = self.data["tasks"].get(self.arns.task(cluster_name, ref))
        if t and t["cluster"] == cluster_name:
            return t
        return None

    def tasks_on(self, instance_arn, include_stopped=False):
        return [t for t in self.data["tasks"].values()
                if t["containerInstanceArn"] == instance_arn
                and (include_stopped or t["lastStatus"] != "STOPPED")]

    # ------------------------------------------------------ task definitions
    def task_definition(self, ref):
        """Resolve 'family', 'family:rev' or a task-definition ARN."""
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("arn:"):
            res = self.arns.ecs_resource(ref)
            if not res or res[0] != "task-definition":
                return None
            ref = res[1]
        family, sep, rev = ref.partition(":")
        fam = self.data["taskDefinitions"].get(family)
        if not fam:
            return None
        if sep:
            entry = fam["revisions"].get(rev)
            return entry["definition"] if entry else None
        active = [int(r) for r, e in fam["revisions"].items()
                  if e["definition"]["status"] == "ACTIVE"]
        if not active:
            return None
        return fam["revisions"][str(max(active))]["definition"]

    def task_definition_tags(self, td):
        fam = self.data["taskDefinitions"][td["family"]]
        return fam["revisions"][str(td["revision"])].get("tags", [])

    # -------------------------------------------------------------- services
    def service(self, cluster_name, ref):
        if not isinstance(ref, str) or not ref:
            return None
        name = ref
        if ref.startswith("arn:"):
            res = self.arns.ecs_resource(ref)
            if not res or res[0] != "service":
                return None
            name = last_segment(res[1])
        s = self.data["services"].get(self.arns.service(cluster_name, name))
        return s

    # ----------------------------------------------------------------- views
    def view_cluster(self, c, include=()):
        name = c["clusterName"]
        insts = self.instances_in(name)
        tasks = [t for t in self.data["tasks"].values()
                 if t["cluster"] == name and t["lastStatus"] != "STOPPED"]
        services = [s for s in self.data["services"].values()
                    if s["cluster"] == name and s["status"] == "ACTIVE"]
        out = {
            "clusterArn": c["clusterArn"],
            "clusterName": name,
            "status": c["status"],
            "registeredContainerInstancesCount": len(insts) if c["status"] == "ACTIVE" else 0,
            "runningTasksCount": sum(1 for t in tasks if t["lastStatus"] == "RUNNING"),
            "pendingTasksCount": sum(1 for t in tasks if t["lastStatus"] in ("PENDING", "PROVISIONING")),
            "activeServicesCount": len(services),
            "statistics": [],
            "tags": c.get("tags", []) if "TAGS" in include else [],
            "settings": c.get("settings") or [{"name": "containerInsights", "value": "disabled"}],
            "capacityProviders": c.get("capacityProviders", []),
            "defaultCapacityProviderStrategy": c.get("defaultCapacityProviderStrategy", []),
        }
        if c.get("configuration"):
            out["configuration"] = c["configuration"]
        return out

    def view_instance(self, inst, include=()):
        arn = inst["containerInstanceArn"]
        tasks = self.tasks_on(arn)
        attrs = {a["name"]: a for a in inst["attributes"]}
        for a in inst.get("customAttributes", []):
            attrs[a["name"]] = a
        out = {
            "containerInstanceArn": arn,
            "ec2InstanceId": inst["ec2InstanceId"],
            "version": inst["version"],
            "versionInfo": inst.get("versionInfo") or {},
            "remainingResources": self.scheduler.remaining_resources(inst),
            "registeredResources": inst["registeredResources"],
            "status": inst["status"],
            "agentConnected": self.agent_connected(inst),
            "runningTasksCount": sum(1 for t in tasks if t["lastStatus"] == "RUNNING"),
            "pendingTasksCount": sum(1 for t in tasks if t["lastStatus"] in ("PENDING", "PROVISIONING")),
            "attributes": [_drop_none({"name": a["name"], "value": a.get("value")})
                           for a in attrs.values()],
            "registeredAt": inst["registeredAt"],
            "attachments": [],
            "tags": inst.get("tags", []) if "TAGS" in include else [],
        }
        if inst.get("statusReason"):
            out["statusReason"] = inst["statusReason"]
        if "CONTAINER_INSTANCE_HEALTH" in include:
            out["healthStatus"] = inst.get("health") or {"overallStatus": "INSUFFICIENT_DATA",
                                                         "details": []}
        return out

    def view_task(self, t, include=()):
        containers = []
        for c in t["containers"]:
            vc = {
                "containerArn": c["containerArn"],
                "taskArn": t["taskArn"],
                "name": c["name"],
                "image": c["image"],
                "lastStatus": c["lastStatus"],
                "networkBindings": c.get("networkBindings", []),
                "networkInterfaces": c.get("networkInterfaces", []),
                "healthStatus": c.get("healthStatus", "UNKNOWN"),
                "cpu": c["cpu"],
            }
            for k in ("imageDigest", "runtimeId", "exitCode", "reason", "memory",
                      "memoryReservation", "managedAgents"):
                if c.get(k) is not None:
                    vc[k] = c[k]
            containers.append(vc)
        out = {
            "attachments": t.get("attachments", []),
            "attributes": [],
            "availabilityZone": f"{self.region}a",
            "clusterArn": t["clusterArn"],
            "containerInstanceArn": t["containerInstanceArn"],
            "containers": containers,
            "createdAt": t["createdAt"],
            "desiredStatus": t["desiredStatus"],
            "enableExecuteCommand": t.get("enableExecuteCommand", False),
            "group": t["group"],
            "healthStatus": t.get("healthStatus", "UNKNOWN"),
            "lastStatus": t["lastStatus"],
            "launchType": t["launchType"],
            "overrides": t["overrides"],
            "tags": t.get("tags", []) if "TAGS" in include else [],
            "taskArn": t["taskArn"],
            "taskDefinitionArn": t["taskDefinitionArn"],
            "version": t["version"],
        }
        if t.get("cpu") is not None:
            out["cpu"] = t["cpu"]
        if t.get("memory") is not None:
            out["memory"] = t["memory"]
        for k in ("startedBy", "startedAt", "stoppingAt", "stoppedAt", "stoppedReason",
                  "stopCode", "pullStartedAt", "pullStoppedAt", "executionStoppedAt",
                  "connectivity", "connectivityAt"):
            if t.get(k) is not None:
                out[k] = t[k]
        return out

    def view_service(self, s, include=()):
        tasks = [t for t in self.data["tasks"].values()
                 if t.get("serviceArn") == s["serviceArn"] and t["lastStatus"] != "STOPPED"]
        running = sum(1 for t in tasks if t["lastStatus"] == "RUNNING")
        pending = sum(1 for t in tasks if t["lastStatus"] in ("PENDING", "PROVISIONING"))
        deployments = []
        for d in s["deployments"]:
            dt = [t for t in tasks if t.get("startedBy") == d["id"]]
            dd = dict(d)
            dd["runningCount"] = sum(1 for t in dt if t["lastStatus"] == "RUNNING")
            dd["pendingCount"] = sum(1 for t in dt if t["lastStatus"] in ("PENDING", "PROVISIONING"))
            deployments.append(dd)
        out = {
            "serviceArn": s["serviceArn"],
            "serviceName": s["serviceName"],
            "clusterArn": s["clusterArn"],
            "loadBalancers": [],
            "serviceRegistries": [],
            "status": s["status"],
            "desiredCount": s["desiredCount"],
            "runningCount": running,
            "pendingCount": pending,
            "launchType": s["launchType"],
            "taskDefinition": s["taskDefinition"],
            "deploymentConfiguration": s["deploymentConfiguration"],
            "deployments": deployments,
            "events": s["events"][:100],
            "createdAt": s["createdAt"],
            "placementConstraints": s.get("placementConstraints", []),
            "placementStrategy": s.get("placementStrategy", []),
            "schedulingStrategy": s["schedulingStrategy"],
            "deploymentController": {"type": "ECS"},
            "createdBy": f"arn:aws:iam::{self.account}:root",
            "enableECSManagedTags": s.get("enableECSManagedTags", False),
            "propagateTags": s.get("propagateTags", "NONE"),
            "enableExecuteCommand": s.get("enableExecuteCommand", False),
        }
        if s.get("networkConfiguration"):
            out["networkConfiguration"] = s["networkConfiguration"]
        if "TAGS" in include:
            out["tags"] = s.get("tags", [])
        return out

    # ------------------------------------------------------ state-change log
    def record_state_change(self, op, body, result, caller=None, instance=None):
        counters = self.data["counters"]
        counters["stateChange"] += 1
        entry = {
            "seq": counters["stateChange"],
            "time": time.time(),
            "operation": op,
            "body": body,
            "result": result,
        }
        if caller is not None:
            entry["accessKeyId"] = caller.access_key
        if instance:
            entry["containerInstanceArn"] = instance
        self.data["stateChanges"].append(entry)
        self.changed()
        return entry
