"""Task definition + task -> the ACS task model of a PayloadMessage (§2.6).

Things that are *not* ACS container fields (memoryReservation, healthCheck,
logConfiguration, ulimits, user, workingDirectory, labels, linuxParameters,
privileged, DNS, extra hosts, hostname, the host/none network mode ...)
travel inside ``dockerConfig.config`` / ``dockerConfig.hostConfig``: JSON
documents in Docker Engine API casing, serialised into strings (§2.6.4,
§11.6).
"""

import json
import re

from .credentials import iso_expiration
from .tasks import ROLE_EXECUTION, ROLE_TASK, container_overrides

NS = 1_000_000_000
MIB = 1024 * 1024
_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def docker_config(c, network_mode, override):
    """Build the Docker create-container 'config' and 'hostConfig' documents."""
    config, host, version = {}, {}, (1, 17)

    def need(v):
        nonlocal version
        version = max(version, v)

    hc = c.get("healthCheck")
    if hc:
        config["Healthcheck"] = {
            "Test": hc["command"],
            "Interval": hc.get("interval", 30) * NS,
            "Timeout": hc.get("timeout", 5) * NS,
            "Retries": hc.get("retries", 3),
            "StartPeriod": hc.get("startPeriod", 0) * NS,
        }
        need((1, 24))
    for src, dst in (("user", "User"), ("workingDirectory", "WorkingDir"),
                     ("hostname", "Hostname")):
        if c.get(src):
            config[dst] = c[src]
    if c.get("dockerLabels"):
        config["Labels"] = c["dockerLabels"]
    if c.get("disableNetworking") is not None:
        config["NetworkDisabled"] = c["disableNetworking"]
    if c.get("interactive") is not None:
        config["OpenStdin"] = c["interactive"]
    if c.get("pseudoTerminal") is not None:
        config["Tty"] = c["pseudoTerminal"]

    reservation = override.get("memoryReservation", c.get("memoryReservation"))
    if reservation is not None:
        host["MemoryReservation"] = reservation * MIB
    lc = c.get("logConfiguration")
    if lc:
        host["LogConfig"] = {"Type": lc["logDriver"], "Config": lc.get("options") or {}}
        need((1, 18))
    if c.get("ulimits"):
        host["Ulimits"] = [{"Name": u["name"], "Soft": u["softLimit"], "Hard": u["hardLimit"]}
                           for u in c["ulimits"]]
    if c.get("privileged") is not None:
        host["Privileged"] = c["privileged"]
    if c.get("readonlyRootFilesystem") is not None:
        host["ReadonlyRootfs"] = c["readonlyRootFilesystem"]
    if c.get("dnsServers"):
        host["Dns"] = c["dnsServers"]
    if c.get("dnsSearchDomains"):
        host["DnsSearch"] = c["dnsSearchDomains"]
    if c.get("extraHosts"):
        host["ExtraHosts"] = [f"{h['hostname']}:{h['ipAddress']}" for h in c["extraHosts"]]
    if c.get("dockerSecurityOptions"):
        host["SecurityOpt"] = c["dockerSecurityOptions"]
    if c.get("systemControls"):
        host["Sysctls"] = {s["namespace"]: s["value"] for s in c["systemControls"]
                           if s.get("namespace")}
        need((1, 25))
    lp = c.get("linuxParameters") or {}
    caps = lp.get("capabilities") or {}
    if caps.get("add"):
        host["CapAdd"] = caps["add"]
    if caps.get("drop"):
        host["CapDrop"] = caps["drop"]
    if lp.get("devices"):
        host["Devices"] = [{"PathOnHost": d["hostPath"],
                            "PathInContainer": d.get("containerPath") or d["hostPath"],
                            "CgroupPermissions": "".join(
                                {"read": "r", "write": "w", "mknod": "m"}[p]
                                for p in d.get("permissions") or ["read", "write", "mknod"])}
                           for d in lp["devices"]]
    if lp.get("initProcessEnabled"):
        host["Init"] = True
        need((1, 25))
    if lp.get("sharedMemorySize") is not None:
        host["ShmSize"] = lp["sharedMemorySize"] * MIB
        need((1, 22))
    if lp.get("tmpfs"):
        host["Tmpfs"] = {t["containerPath"]: ",".join([f"size={t['size']}m"] + (t.get("mountOptions") or []))
                         for t in lp["tmpfs"]}
        need((1, 22))
    memory = override.get("memory", c.get("memory"))
    if lp.get("maxSwap") is not None and memory:
        host["MemorySwap"] = (memory + lp["maxSwap"]) * MIB
    if lp.get("swappiness") is not None:
        host["MemorySwappiness"] = lp["swappiness"]
    # §2.6.4: the agent does not derive Docker's network mode for host/none.
    if network_mode in ("host", "none"):
        host["NetworkMode"] = network_mode
    return {"config": _dumps(config), "hostConfig": _dumps(host),
            "version": f"{version[0]}.{version[1]}"}


def _secret(s, region, target):
    vf = s["valueFrom"]
    provider = "asm" if ":secretsmanager:" in vf else "ssm"
    sregion = region
    if vf.startswith("arn:"):
        parts = vf.split(":")
        if len(parts) > 3 and parts[3]:
            sregion = parts[3]
    return {"name": s["name"], "valueFrom": vf, "provider": provider, "region": sregion,
            "type": "ENVIRONMENT_VARIABLE", "target": target}


def container_model(cp, task, td, c, rc, override):
    network_mode = td.get("networkMode") or "bridge"
    env = {e["name"]: e.get("value", "") for e in c.get("environment") or [] if e.get("name")}
    for e in override.get("environment") or []:
        if e.get("name"):
            env[e["name"]] = e.get("value", "")
    command = override.get("command") if override.get("command") is not None else c.get("command")
    ports = []
    for pm in c.get("portMappings") or []:
        p = {"containerPort": pm["containerPort"], "hostPort": pm.get("hostPort", 0),
             "protocol": pm.get("protocol", "tcp")}
        if pm.get("containerPortRange"):
            p["containerPortRange"] = pm["containerPortRange"]
        ports.append(p)
    memory = override.get("memory", c.get("memory"))
    out = {
        "name": c["name"],
        "containerArn": rc["containerArn"],
        "image": c["image"],
        "cpu": int(override.get("cpu", c.get("cpu") or 0)),
        "memory": int(memory or 0),
        "essential": c["essential"],
        "command": command or [],
        "entryPoint": c.get("entryPoint"),
        "environment": env,
        "environmentFiles": [{"value": f["value"], "type": f["type"]}
                             for f in (override.get("environmentFiles") or c.get("environmentFiles") or [])],
        "portMappings": ports,
        "links": c.get("links") or [],
        "mountPoints": [{"sourceVolume": m["sourceVolume"], "containerPath": m.get("containerPath", ""),
                         "readOnly": bool(m.get("readOnly"))} for m in c.get("mountPoints") or []],
        "volumesFrom": [{"sourceContainer": v["sourceContainer"], "readOnly": bool(v.get("readOnly"))}
                        for v in c.get("volumesFrom") or []],
        "dependsOn": c.get("dependsOn") or [],
        "dockerConfig": docker_config(c, network_mode, override),
        # §2.6.2: only {"command": [...]} of the overrides string is honoured
        "overrides": _dumps({"command": override["command"]}) if override.get("command") is not None else "{}",
    }
    if c.get("healthCheck"):
        out["healthCheckType"] = "docker"
    for key in ("startTimeout", "stopTimeout"):
        if c.get(key) is not None:
            out[key] = c[key]
    secrets = [_secret(s, cp.region, "CONTAINER") for s in c.get("secrets") or []]
    lc = c.get("logConfiguration") or {}
    secrets += [_secret(s, cp.region, "LOG_DRIVER") for s in lc.get("secretOptions") or []]
    if secrets:
        out["secrets"] = secrets
    m = _ECR_IMAGE.match(c["image"])
    ecr_ids = (m.group(1), m.group(2)) if m else None
    if not m and any(c["image"].startswith(r + "/") for r in getattr(cp.cfg, "ecr_registry", [])):
        ecr_ids = (cp.account, cp.region)    # --ecr-registry: a local registry acting as ECR
    if c.get("repositoryCredentials"):
        cred = c["repositoryCredentials"]["credentialsParameter"]
        parts = cred.split(":")
        out["registryAuthentication"] = {
            "type": "asm",
            "asmAuthData": {"credentialsParameter": cred,
                            "region": parts[3] if cred.startswith("arn:") and len(parts) > 3 else cp.region}}
    elif ecr_ids:
        ecr = {"registryId": ecr_ids[0], "region": ecr_ids[1],
               "useExecutionRole": bool(task["roles"].get(ROLE_EXECUTION))}
        if cp.cfg.ecr_endpoint_override:
            ecr["endpointOverride"] = cp.cfg.ecr_endpoint_override
        out["registryAuthentication"] = {"type": "ecr", "ecrAuthData": ecr}
    if lc.get("logDriver") == "awslogs" and task["roles"].get(ROLE_EXECUTION):
        out["logsAuthStrategy"] = "ExecutionRole"
    if c.get("firelensConfiguration"):
        out["firelensConfiguration"] = c["firelensConfiguration"]
    return out


def volume_model(v):
    if v.get("dockerVolumeConfiguration"):
        return {"name": v["name"], "type": "docker",
                "dockerVolumeConfiguration": v["dockerVolumeConfiguration"]}
    if v.get("efsVolumeConfiguration"):
        return {"name": v["name"], "type": "efs",
                "efsVolumeConfiguration": v["efsVolumeConfiguration"]}
    host = v.get("host") or {}
    return {"name": v["name"], "type": "host",
            "host": {"sourcePath": host["sourcePath"]} if host.get("sourcePath") else {}}


def credentials_model(cp, role):
    entry = cp.creds.lookup(role["accessKeyId"]) or {}
    return {
        "credentialsId": role["credentialsId"],
        "roleArn": role["roleArn"],
        "accessKeyId": role["accessKeyId"],
        "secretAccessKey": entry.get("secret", ""),
        "sessionToken": entry.get("token", ""),
        "expiration": iso_expiration(role["expiration"]),
        "credentialScope": "",
    }


def eni_model(cp, eni):
    """ElasticNetworkInterface of §6.5 (gateway carries the prefix length)."""
    return {
        "ec2Id": eni["ec2Id"],
        "macAddress": eni["macAddress"],
        "attachmentArn": eni["attachmentArn"],
        "ipv4Addresses": [{"primary": True, "privateAddress": eni["ip"]}],
        "subnetGatewayIpv4Address": eni["gateway"],
        "domainNameServers": [eni["dns"]],
        "domainName": [f"{cp.region}.compute.internal"],
        "privateDnsName": eni["privateDnsName"],
        "interfaceAssociationProtocol": "default",
    }


def task_model(cp, task):
    td = cp.task_definition(task["taskDefinitionArn"])
    cov = container_overrides(task["overrides"])
    by_name = {c["name"]: c for c in task["containers"]}
    out = {
        "arn": task["taskArn"],
        "taskClusterArn": task["clusterArn"],
        "family": td["family"],
        "version": str(td["revision"]),
        "desiredStatus": task["desiredStatus"],
        "launchType": task["launchType"],
        "networkMode": td.get("networkMode") or "bridge",
        "containers": [container_model(cp, task, td, c, by_name[c["name"]], cov.get(c["name"], {}))
                       for c in td["containerDefinitions"]],
        "volumes": [volume_model(v) for v in td.get("volumes") or []],
        "overrides": _dumps(task["overrides"]),
        "associations": [],
        "zone": f"{cp.region}a",
        "taskDefinitionAccountId": cp.account,
    }
    # §2.6.1/§11.5: task cpu is vCPUs (double), container cpu is units
    if task.get("cpu") is not None:
        out["cpu"] = int(task["cpu"]) / 1024.0
    if task.get("memory") is not None:
        out["memory"] = int(task["memory"])
    for key in ("pidMode", "ipcMode", "proxyConfiguration"):
        if td.get(key):
            out[key] = td[key]
    if task.get("serviceName"):
        out["serviceName"] = task["serviceName"]
    if task.get("group"):
        out["group"] = task["group"]
    if task.get("enableExecuteCommand"):
        out["enableFaultInjection"] = False
    role = task["roles"].get(ROLE_TASK)
    if role:
        out["roleCredentials"] = credentials_model(cp, role)
    role = task["roles"].get(ROLE_EXECUTION)
    if role:
        out["executionRoleCredentials"] = credentials_model(cp, role)
    if task.get("eni"):
        out["elasticNetworkInterfaces"] = [eni_model(cp, task["eni"])]
    return out
