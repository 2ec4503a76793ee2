"""RegisterTaskDefinition: semantic checks and the normalised stored form.

Structural checks (types, required members, enums) were already done by the
model validator; here are the rules ECS applies on top, with ClientException
as ECS answers them, and the defaults ECS fills in (cpu 0, essential true,
empty lists, port-mapping protocol and host port).
"""

import re
import time

from . import errors
from .arns import NAME_RE

_VCPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*vcpu\s*$", re.I)
_GB = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*gb\s*$", re.I)


def _parse_units(text, coarse, what):
    """A task-level size: a plain number of units, or a number of the coarse
    unit (``coarse`` matches it) that is worth 1024 of them."""
    if text is None:
        return None
    t = str(text).strip()
    m = coarse.match(t)
    if m:
        return int(round(float(m.group(1)) * 1024))
    if t.isdigit():
        return int(t)
    raise errors.client(f"Invalid '{what}' setting for task. '{text}' is not a valid value.")


def parse_cpu(text):
    """Task-level cpu: '256', '1 vCPU', '0.5 vcpu' -> CPU units (int)."""
    return _parse_units(text, _VCPU, "cpu")


def parse_memory(text):
    """Task-level memory: '512', '1GB', '2 GB' -> MiB (int)."""
    return _parse_units(text, _GB, "memory")


def _container_error(name, msg):
    return errors.client(f"Invalid setting for container '{name}'. {msg}")


def _requires(params, containers):
    """requiresAttributes the way ECS derives them from the definition."""
    req = []

    def add(name):
        if {"name": name} not in req:
            req.append({"name": name})

    if params.get("networkMode") == "awsvpc":
        add("ecs.capability.task-eni")
    if params.get("taskRoleArn"):
        add("com.amazonaws.ecs.capability.task-iam-role")
    if params.get("cpu") or params.get("memory"):
        add("ecs.capability.task-cpu-mem-limit")
    for c in containers:
        lc = c.get("logConfiguration")
        if lc:
            add(f"com.amazonaws.ecs.capability.logging-driver.{lc['logDriver']}")
            if lc["logDriver"] == "awslogs" and params.get("executionRoleArn"):
                add("ecs.capability.execution-role-awslogs")
        if c.get("healthCheck"):
            add("ecs.capability.container-health-check")
        if c.get("privileged"):
            add("com.amazonaws.ecs.capability.privileged-container")
        if c.get("repositoryCredentials"):
            add("ecs.capability.private-registry-authentication.secretsmanager")
        if c.get("dependsOn"):
            add("ecs.capability.container-ordering")
        if c.get("environmentFiles"):
            add("ecs.capability.env-files.s3")
        for s in c.get("secrets") or []:
            if ":secretsmanager:" in s["valueFrom"]:
                add("ecs.capability.secrets.asm.environment-variables")
            else:
                add("ecs.capability.secrets.ssm.environment-variables")
        if ".dkr.ecr." in c.get("image", "") and params.get("executionRoleArn"):
            add("ecs.capability.execution-role-ecr-pull")
    return req


def normalise_container(c, network_mode, volume_names, task_memory):
    name = c.get("name")
    if not name:
        raise errors.client("Container.name should not be null or empty.")
    if not NAME_RE.match(name):
        raise _container_error(name, "Container names can only contain letters, numbers, "
                               "underscores and hyphens and must be at most 255 characters.")
    if not c.get("image"):
        raise errors.client("Container.image should not be null or empty.")
    memory, reservation = c.get("memory"), c.get("memoryReservation")
    if memory is None and reservation is None and task_memory is None:
        raise _container_error(name, "At least one of 'memory' or 'memoryReservation' must be specified.")
    if memory is not None and memory < 6:
        raise _container_error(name, "The 'memory' setting must be at least 6 MiB.")
    if memory is not None and reservation is not None and reservation > memory:
        raise _container_error(name, "The 'memoryReservation' setting must be less than the "
                               "'memory' setting.")
    if (c.get("cpu") or 0) < 0:
        raise _container_error(name, "'cpu' must be >= 0.")
    out = dict(c)
    out["cpu"] = int(c.get("cpu") or 0)
    out["essential"] = c.get("essential", True) is not False
    ports = []
    for pm in c.get("portMappings") or []:
        cport = pm.get("containerPort")
        if cport is None or not 0 < cport < 65536:
            raise _container_error(name, "Container port must be between 1 and 65535.")
        p = dict(pm)
        p["protocol"] = pm.get("protocol") or "tcp"
        host = pm.get("hostPort")
        if network_mode in ("awsvpc", "host"):
            if host not in (None, 0, cport):
                raise errors.client(f"When networkMode={network_mode}, the host ports and "
                                    "container ports in port mappings must match.")
            p["hostPort"] = cport
        else:
            p["hostPort"] = host or 0
            if not 0 <= p["hostPort"] < 65536:
                raise _container_error(name, "Host port must be between 0 and 65535.")
        ports.append(p)
    out["portMappings"] = ports
    for key in ("environment", "mountPoints", "volumesFrom"):
        out[key] = list(c.get(key) or [])
    for mp in out["mountPoints"]:
        src = mp.get("sourceVolume")
        if src not in volume_names:
            raise _container_error(name, f"Unknown volume '{src}'.")
    if network_mode == "awsvpc" and c.get("links"):
        raise errors.client("Links are not supported when networkMode=awsvpc.")
    return out


def register(cp, params):
    family = params["family"]
    if not NAME_RE.match(family):
        raise errors.client("Family contains invalid characters. Family names can contain up to "
                            "255 letters (uppercase and lowercase), numbers, hyphens and underscores.")
    defs = params["containerDefinitions"]
    if not defs:
        raise errors.client("Container list cannot be empty.")
    network_mode = params.get("networkMode")
    task_cpu = parse_cpu(params.get("cpu"))
    task_memory = parse_memory(params.get("memory"))
    volumes = []
    names = set()
    for v in params.get("volumes") or []:
        vname = v.get("name")
        if not vname or not NAME_RE.match(vname):
            raise errors.client("Volume name should not be null or empty and may contain only "
                                "letters, numbers, hyphens and underscores.")
        if vname in names:
            raise errors.client(f"Duplicate volume name '{vname}'.")
        names.add(vname)
        volumes.append(dict(v))
    containers = []
    seen = set()
    for c in defs:
        nc = normalise_container(c, network_mode, names, task_memory)
        if nc["name"] in seen:
            raise errors.client(f"Duplicate container name '{nc['name']}'. Container names must be "
                                "unique within a task definition.")
        seen.add(nc["name"])
        containers.append(nc)
    for c in containers:
        for dep in c.get("dependsOn") or []:
            if dep["containerName"] not in seen:
                raise _container_error(c["name"], f"dependsOn references unknown container "
                                       f"'{dep['containerName']}'.")
        for vf in c.get("volumesFrom") or []:
            if vf.get("sourceContainer") not in seen:
                raise _container_error(c["name"], f"volumesFrom references unknown container "
                                       f"'{vf.get('sourceContainer')}'.")
        for link in c.get("links") or []:
            if link.split(":")[0] not in seen:
                raise _container_error(c["name"], f"Link to unknown container '{link}'.")
    if not any(c["essential"] for c in containers):
        raise errors.client("Invalid task definition: at least one essential container is required.")
    if task_memory is not None:
        total = sum(c.get("memory") or c.get("memoryReservation") or 0 for c in containers)
        if total > task_memory:
            raise errors.client("The sum of the container memory reservations exceeds the "
                                "task memory.")

    fams = cp.data["taskDefinitions"]
    fam = fams.setdefault(family, {"latest": 0, "revisions": {}})
    revision = fam["latest"] + 1
    td = {
        "taskDefinitionArn": cp.arns.task_definition(family, revision),
        "containerDefinitions": containers,
        "family": family,
        "revision": revision,
        "volumes": volumes,
        "status": "ACTIVE",
        "requiresAttributes": _requires(params, containers),
        "placementConstraints": list(params.get("placementConstraints") or []),
        "compatibilities": ["EXTERNAL", "EC2"],
        "registeredAt": time.time(),
        "registeredBy": f"arn:aws:iam::{cp.account}:root",
    }
    for key in ("taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities",
                "pidMode", "ipcMode", "proxyConfiguration", "inferenceAccelerators",
                "ephemeralStorage", "runtimePlatform"):
        if params.get(key) is not None:
            td[key] = params[key]
    if task_cpu is not None:
        td["cpu"] = str(task_cpu)
    if task_memory is not None:
        td["memory"] = str(task_memory)
    if "FARGATE" in (params.get("requiresCompatibilities") or []):
        raise errors.client("Fargate is not supported by ecs-local; use EC2 or EXTERNAL.")
    fam["latest"] = revision
    fam["revisions"][str(revision)] = {"definition": td, "tags": list(params.get("tags") or [])}
    cp.changed()
    return td
