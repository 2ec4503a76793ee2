"""Placement (RunTask/StartTask) and the service scheduler.

Resources follow §5.3: an instance offers what it registered (CPU units,
MEMORY MiB, reserved PORTS / PORTS_UDP) minus what its non-stopped tasks
reserve.  A task reserves its task-level cpu/memory when set, else the sum of
its containers' cpu and memoryReservation (or memory); host ports come from
port mappings (bridge: non-zero hostPort; host: the container port; awsvpc:
none).  Failure reasons are AWS's: RESOURCE:CPU, RESOURCE:MEMORY,
RESOURCE:PORTS, RESOURCE:PORTS_UDP, AGENT, ATTRIBUTE.
"""

import logging
import math
import random
import time
import uuid

from . import tasks as tasklib
from .tasks import container_overrides

log = logging.getLogger("ecslocal.scheduler")


def _resource(resources, name):
    for r in resources or []:
        if r.get("name") == name:
            return r
    return None


def _int_value(r):
    if r is None:
        return 0
    for k in ("integerValue", "longValue"):
        if r.get(k) is not None:
            return int(r[k])
    if r.get("doubleValue") is not None:
        return int(r["doubleValue"])
    return 0


def protected(task):
    """Under scale-in protection (UpdateTaskProtection) now."""
    return (task.get("protectedUntil") or 0) > time.time()


def requirements(td, overrides=None):
    overrides = overrides or {}
    cov = container_overrides(overrides)
    cpu = overrides.get("cpu") or td.get("cpu")
    mem = overrides.get("memory") or td.get("memory")
    if cpu is not None:
        cpu = int(cpu)
    else:
        cpu = sum(int(cov.get(c["name"], {}).get("cpu", c.get("cpu") or 0))
                  for c in td["containerDefinitions"])
    if mem is not None:
        mem = int(mem)
    else:
        mem = 0
        for c in td["containerDefinitions"]:
            o = cov.get(c["name"], {})
            res = o.get("memoryReservation", c.get("memoryReservation"))
            hard = o.get("memory", c.get("memory"))
            mem += res if res is not None else (hard or 0)
    ports, ports_udp = [], []
    mode = td.get("networkMode") or "bridge"
    if mode in ("bridge", "host"):
        for c in td["containerDefinitions"]:
            for pm in c.get("portMappings") or []:
                hp = pm.get("hostPort") or (pm["containerPort"] if mode == "host" else 0)
                if hp:
                    (ports_udp if pm.get("protocol") == "udp" else ports).append(str(hp))
    return {"cpu": cpu, "memory": mem, "ports": ports, "portsUdp": ports_udp}


class Scheduler:
    def __init__(self, cp):
        self.cp = cp
        self._kicked = False

    # ----------------------------------------------------------- resources
    def usage(self, inst):
        used = {"cpu": 0, "memory": 0, "ports": [], "portsUdp": []}
        for t in self.cp.tasks_on(inst["containerInstanceArn"]):
            r = t.get("resources") or {}
            used["cpu"] += r.get("cpu", 0)
            used["memory"] += r.get("memory", 0)
            used["ports"] += r.get("ports", [])
            used["portsUdp"] += r.get("portsUdp", [])
        return used

    def remaining_resources(self, inst):
        used = self.usage(inst)
        out = []
        for r in inst["registeredResources"]:
            r = dict(r)
            if r["name"] == "CPU":
                r["integerValue"] = _int_value(r) - used["cpu"]
            elif r["name"] == "MEMORY":
                r["integerValue"] = _int_value(r) - used["memory"]
            elif r["name"] == "PORTS":
                r["stringSetValue"] = list(r.get("stringSetValue") or []) + used["ports"]
            elif r["name"] == "PORTS_UDP":
                r["stringSetValue"] = list(r.get("stringSetValue") or []) + used["portsUdp"]
            out.append(r)
        return out

    def check(self, inst, req, td):
        """Why this instance cannot take the task, or None."""
        if not self.cp.agent_available(inst):
            return "AGENT"
        attrs = {a["name"] for a in inst["attributes"]} | \
                {a["name"] for a in inst.get("customAttributes", [])}
        for ra in td.get("requiresAttributes", []):
            if ra["name"] not in attrs:
                return "ATTRIBUTE"
        reg = inst["registeredResources"]
        used = self.usage(inst)
        if req["cpu"] > _int_value(_resource(reg, "CPU")) - used["cpu"]:
            return "RESOURCE:CPU"
        if req["memory"] > _int_value(_resource(reg, "MEMORY")) - used["memory"]:
            return "RESOURCE:MEMORY"
        taken = set((_resource(reg, "PORTS") or {}).get("stringSetValue") or []) | set(used["ports"])
        if set(req["ports"]) & taken or len(set(req["ports"])) != len(req["ports"]):
            return "RESOURCE:PORTS"
        taken = set((_resource(reg, "PORTS_UDP") or {}).get("stringSetValue") or []) | set(used["portsUdp"])
        if set(req["portsUdp"]) & taken or len(set(req["portsUdp"])) != len(req["portsUdp"]):
            return "RESOURCE:PORTS_UDP"
        if td.get("networkMode") == "awsvpc" and not tasklib.eni_available(self.cp):
            return "RESOURCE:ENI"
        return None

    def eligible(self, cluster_name, launch_type):
        """ACTIVE instances of the launch type (external instances, 'mi-',
        take EXTERNAL tasks only)."""
        out = []
        for inst in self.cp.instances_in(cluster_name, statuses=("ACTIVE",)):
            if inst.get("external") != (launch_type == "EXTERNAL"):
                continue
            out.append(inst)
        out.sort(key=lambda i: i["registeredAt"])
        return out

    def pick(self, candidates, td, req, strategy=None, exclude=()):
        """Choose one instance; return (inst, failures)."""
        ok, failures = [], []
        for inst in candidates:
            if inst["containerInstanceArn"] in exclude:
                continue
            reason = self.check(inst, req, td)
            if reason:
                failures.append({"arn": inst["containerInstanceArn"], "reason": reason})
            else:
                ok.append(inst)
        if not ok:
            return None, failures
        first = (strategy or [{"type": "spread", "field": "instanceId"}])[0]
        kind, field = first.get("type"), (first.get("field") or "").lower()
        if kind == "random":
            return random.choice(ok), []
        if kind == "binpack":
            key = "cpu" if field == "cpu" else "memory"
            reg = "CPU" if key == "cpu" else "MEMORY"

            def left(i):
                return _int_value(_resource(i["registeredResources"], reg)) - self.usage(i)[key]
            return min(ok, key=left), []
        # spread (default): fewest non-stopped tasks first, then registration order
        return min(ok, key=lambda i: len(self.cp.tasks_on(i["containerInstanceArn"]))), []

    def place(self, cluster, td, count, launch_type, overrides=None, strategy=None,
              constraints=None, instances=None, **task_kwargs):
        """Create up to ``count`` tasks; return (tasks, failures).  With
        ``instances`` (StartTask) one task per given instance."""
        req = requirements(td, overrides)
        created, failures = [], []
        distinct = any(c.get("type") == "distinctInstance" for c in (constraints or []) +
                       td.get("placementConstraints", []))
        if instances is not None:
            for inst in instances:
                reason = self.check(inst, req, td)
                if reason:
                    failures.append({"arn": inst["containerInstanceArn"], "reason": reason})
                    continue
                created.append(tasklib.create_task(self.cp, cluster, td, inst, req,
                                                   overrides=overrides, launch_type=launch_type,
                                                   **task_kwargs))
        else:
            candidates = self.eligible(cluster["clusterName"], launch_type)
            if not candidates:
                return [], [{"reason": "No Container Instances were found in your cluster."}]
            used = set()
            for _ in range(count):
                inst, fails = self.pick(candidates, td, req, strategy,
                                        exclude=used if distinct else ())
                if inst is None:
                    failures.extend(fails)
                    break
                used.add(inst["containerInstanceArn"])
                created.append(tasklib.create_task(self.cp, cluster, td, inst, req,
                                                   overrides=overrides, launch_type=launch_type,
                                                   **task_kwargs))
        seen, unique = set(), []
        for f in failures:
            key = (f.get("arn"), f["reason"])
            if key not in seen:
                seen.add(key)
                unique.append(f)
        for t in created:
            if self.cp.acs:
                self.cp.acs.kick(t["containerInstanceArn"])
        return created, unique

    # ------------------------------------------------------------ services
    def kick(self):
        """Ask for a service pass soon (after a state change)."""
        self._kicked = True

    def take_kick(self):
        k, self._kicked = self._kicked, False
        return k

    def _event(self, svc, message):
        svc["events"].insert(0, {"id": str(uuid.uuid4()), "createdAt": time.time(),
                                 "message": message})
        del svc["events"][100:]
        self.cp.changed()

    def reconcile(self):
        """One pass of the service scheduler over every service."""
        for svc in list(self.cp.data["services"].values()):
            if svc["status"] in ("ACTIVE", "DRAINING"):
                try:
                    self._reconcile_service(svc)
                except Exception:
                    log.exception("service scheduler failed for %s", svc["serviceArn"])

    def _service_tasks(self, svc):
        return [t for t in self.cp.data["tasks"].values()
                if t.get("serviceArn") == svc["serviceArn"] and t["lastStatus"] != "STOPPED"
                and t["desiredStatus"] != "STOPPED"]

    def _stop(self, svc, task, reason):
        if tasklib.stop_task(self.cp, task, reason, "ServiceSchedulerInitiated"):
            self._event(svc, f"(service {svc['serviceName']}) has stopped 1 running tasks: "
                             f"(task {task['id']}).")

    def _reconcile_service(self, svc):
        cp = self.cp
        name = svc["serviceName"]
        cluster = cp.data["clusters"].get(svc["cluster"])
        live = self._service_tasks(svc)
        if svc["status"] == "DRAINING" or cluster is None or cluster["status"] != "ACTIVE":
            for t in live:
                self._stop(svc, t, "Service is being deleted")
            remaining = [t for t in cp.data["tasks"].values()
                         if t.get("serviceArn") == svc["serviceArn"] and t["lastStatus"] != "STOPPED"]
            if not remaining and svc["status"] == "DRAINING":
                svc["status"] = "INACTIVE"
                for d in svc["deployments"]:
                    d["status"] = "INACTIVE"
                cp.changed()
            return
        primary = svc["deployments"][0]
        td = cp.task_definition(primary["taskDefinition"])
        if td is None:
            return
        def instance_status(t):
            inst = cp.data["instances"].get(t["containerInstanceArn"])
            return inst["status"] if inst else "INACTIVE"
        healthy = [t for t in live if instance_status(t) == "ACTIVE"]
        draining = [t for t in live if instance_status(t) != "ACTIVE"]
        prim = [t for t in healthy if t.get("startedBy") == primary["id"]]
        old = [t for t in healthy if t.get("startedBy") != primary["id"]]

        if svc["schedulingStrategy"] == "DAEMON":
            desired = len(self.eligible(svc["cluster"], svc["launchType"]))
            svc["desiredCount"] = desired
        else:
            desired = svc["desiredCount"]
        conf = svc["deploymentConfiguration"]
        max_total = max(desired, math.floor(desired * conf.get("maximumPercent", 200) / 100))
        min_healthy = math.ceil(desired * conf.get("minimumHealthyPercent", 100) / 100)
        primary["desiredCount"] = desired

        # scale down: stop surplus primary tasks, pending ones first; a task under scale-in
        # protection (UpdateTaskProtection) stays until its protection ends
        if len(prim) > desired:
            free = [t for t in prim if not protected(t)]
            surplus = sorted(free, key=lambda t: (t["lastStatus"] == "RUNNING", -t["createdAt"]))
            for t in surplus[: len(prim) - desired]:
                self._stop(svc, t, f"Scaling activity initiated by (deployment {primary['id']})")
            held = len(prim) - desired - len(surplus[: len(prim) - desired])
            if held > 0 and time.time() - svc.get("lastProtectionEventAt", 0) > 60:
                svc["lastProtectionEventAt"] = time.time()
                self._event(svc, f"(service {name}) was unable to scale in due to (reason: "
                                 f"{held} tasks under protection).")
            prim = [t for t in prim if t["desiredStatus"] != "STOPPED"]

        # start missing primary tasks within maximumPercent
        want = desired - len(prim)
        room = max_total - (len(prim) + len(old) + len(draining))
        started = []
        if want > 0 and room > 0:
            cands = self.eligible(svc["cluster"], svc["launchType"])
            failures = []
            for _ in range(min(want, room)):
                inst, fails = self.pick(cands, td, requirements(td), svc.get("placementStrategy"))
                if inst is None:
                    failures = fails
                    break
                t = tasklib.create_task(cp, cluster, td, inst, requirements(td),
                                        started_by=primary["id"], group=f"service:{name}",
                                        launch_type=svc["launchType"], service=svc,
                                        network_configuration=svc.get("networkConfiguration"),
                                        enable_execute_command=svc.get("enableExecuteCommand"),
                                        tags=svc.get("tags") if svc.get("propagateTags") == "SERVICE" else None)
                started.append(t)
                cp.acs.kick(inst["containerInstanceArn"])
            if started:
                self._event(svc, f"(service {name}) has started {len(started)} tasks: "
                            + " ".join(f"(task {t['id']})" for t in started) + ".")
                svc.pop("lastPlacementFailureAt", None)
            if len(started) < min(want, room):
                if time.time() - svc.get("lastPlacementFailureAt", 0) > 60:
                    svc["lastPlacementFailureAt"] = time.time()
                    detail = ""
                    if failures:
                        f = failures[0]
                        detail = (f" The closest matching (container-instance "
                                  f"{f['arn'].rsplit('/', 1)[-1]}) failed with {f['reason']}.")
                    self._event(svc, f"(service {name}) was unable to place a task because no "
                                "container instance met all of its requirements." + detail)
            prim += started

        # retire old-deployment and draining-instance tasks once enough primary ones run
        running_prim = sum(1 for t in prim if t["lastStatus"] == "RUNNING")
        for t in sorted(old, key=lambda t: t["createdAt"]):
            if protected(t):
                continue  # replaced once its protection ends
            others = running_prim + sum(1 for o in old if o is not t and o["desiredStatus"] != "STOPPED"
                                        and o["lastStatus"] == "RUNNING")
            if others >= min_healthy or len(prim) + len(old) > max_total:
                self._stop(svc, t, f"Task replaced by deployment {primary['id']}")
        for t in draining:
            healthy_running = running_prim + sum(1 for o in old if o["desiredStatus"] != "STOPPED"
                                                 and o["lastStatus"] == "RUNNING")
            if healthy_running >= min_healthy or desired == 0:
                self._stop(svc, t, "Container instance is being drained; task replaced by the "
                                   "service scheduler")

        # an old deployment ends once none of its tasks is still running
        for d in svc["deployments"][1:]:
            if d["status"] == "ACTIVE" and not any(
                    t.get("startedBy") == d["id"] and t["lastStatus"] != "STOPPED"
                    for t in cp.data["tasks"].values() if t.get("serviceArn") == svc["serviceArn"]):
                d["status"] = "INACTIVE"
                cp.changed()
        svc["deployments"] = [d for d in svc["deployments"] if d["status"] != "INACTIVE"] or \
            svc["deployments"][:1]
        steady = (running_prim == desired and len(live) == desired and not draining)
        if steady and not svc.get("steady"):
            svc["steady"] = True
            primary["rolloutState"] = "COMPLETED"
            self._event(svc, f"(service {name}) has reached a steady state.")
        elif not steady and svc.get("steady"):
            svc["steady"] = False
            cp.changed()
