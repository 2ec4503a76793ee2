"""Pulls from a real registry that demands credentials (Debian's docker-registry with htpasswd
on loopback): ECR tokens from ecs-local's GetAuthorizationToken signed with the task's
execution role, and the host's static ECS_ENGINE_AUTH_DATA in both formats. What counts is
what Docker pulled, what the registry accepted and what ecs-local recorded."""
import base64
import json

import pytest

import harness
from test_agent_core import registered

EXEC_ROLE = "arn:aws:iam::123456789012:role/ecs-it-execution-role"
SETTINGS = {"ECS_IMAGE_PULL_BEHAVIOR": "always"}


@pytest.fixture
def cp(tmpdir_path, auth_registry):
    # ecs-local treats the test registry as ECR: its payloads carry registryAuthentication
    # type "ecr" for images there, as AWS does for *.dkr.ecr.* images.
    plane = harness.ControlPlane(tmpdir_path,
                                 extra_args=["--ecr-registry", auth_registry.host]).start()
    yield plane
    plane.stop()


def drop_local(*refs):
    for ref in refs:
        harness.docker("rmi", "-f", ref, check=False)


def seed_token(cp, reg, **extra):
    body = {"username": reg.user, "password": reg.password}
    body.update(extra)
    cp.admin("POST", "/registry-credentials", body)


def token_calls(cp):
    return cp.admin("GET", "/api-log?operation=GetAuthorizationToken")["requests"]


def execution_key_ids(cp):
    keys = set()

    def walk(o):
        if isinstance(o, dict):
            erc = o.get("executionRoleCredentials")
            if isinstance(erc, dict) and erc.get("accessKeyId"):
                keys.add(erc["accessKeyId"])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    for m in cp.admin("GET", "/acs/messages?type=PayloadMessage")["messages"]:
        walk(m["message"])
    return keys


def register(cp, family, image, command=("sleep", "300")):
    cp.register(family, [{"name": "main", "image": image, "essential": True, "memory": 16,
                          "command": list(command)}], execution_role_arn=EXEC_ROLE)


def ecr_agent(cp, cluster, make_agent, reg, family, settings=SETTINGS, **seed):
    """An agent registered, the image only in the registry, a token seeded and a task
    definition that pulls it with the execution role."""
    drop_local(reg.busybox)
    seed_token(cp, reg, **seed)
    register(cp, family, reg.busybox)
    agent = make_agent(settings)
    registered(cp, cluster, agent)
    return agent


def stopped_reason(cp, cluster, arn):
    t = cp.wait_task(cluster, arn, "STOPPED", timeout=90)
    return t["containers"][0].get("reason", ""), t


def test_ecr_pull_with_execution_role(cp, cluster, make_agent, auth_registry):
    reg = auth_registry
    agent = ecr_agent(cp, cluster, make_agent, reg, "ecr")
    arn = cp.run_task(cluster, "ecr")[0]
    t = cp.wait_task(cluster, arn, "RUNNING", timeout=90)
    # Docker really has the image now, pulled from the registry that demands credentials.
    assert harness.docker("image", "inspect", reg.busybox, "--format", "{{.Id}}").strip()
    assert t["containers"][0].get("imageDigest", "").startswith("sha256:")
    calls = token_calls(cp)
    assert len(calls) == 1 and calls[0]["status"] == 200
    # Signed with the task's execution role, not the instance's key.
    assert calls[0]["accessKeyId"] != harness.ACCESS_KEY
    assert calls[0]["accessKeyId"] in execution_key_ids(cp)
    log = agent.read_log()
    assert reg.password not in log
    assert base64.b64encode(f"{reg.user}:{reg.password}".encode()).decode() not in log
    drop_local(reg.busybox)


def test_ten_tasks_share_one_token(cp, cluster, make_agent, auth_registry):
    reg = auth_registry
    ecr_agent(cp, cluster, make_agent, reg, "ecr10")
    arns = cp.run_task(cluster, "ecr10", count=10)
    for arn in arns:
        cp.wait_task(cluster, arn, "RUNNING", timeout=120)
    assert len(token_calls(cp)) == 1
    drop_local(reg.busybox)


def test_wrong_token_stops_only_that_task(cp, cluster, make_agent, auth_registry):
    reg = auth_registry
    drop_local(reg.busybox)
    seed_token(cp, reg, password="not-the-registry-password")
    register(cp, "ecrbad", reg.busybox)
    cp.register("local", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 16, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "default"})
    registered(cp, cluster, agent)
    bad = cp.run_task(cluster, "ecrbad")[0]
    good = cp.run_task(cluster, "local")[0]
    reason, t = stopped_reason(cp, cluster, bad)
    assert reason.startswith("CannotPullContainerError:"), reason
    assert "not-the-registry-password" not in reason
    assert cp.wait_task(cluster, good, "RUNNING")["lastStatus"] == "RUNNING"
    assert "not-the-registry-password" not in agent.read_log()
    assert agent.alive()


@pytest.mark.parametrize("seed,expect", [
    ({"expiresIn": -120}, "already expired"),
    ({"rawToken": "this is not base64!"}, "not base64 of user:password"),
    ({"rawToken": base64.b64encode(b"no-colon-here").decode()}, "not base64 of user:password"),
])
def test_bad_tokens_are_clear_reasons(cp, cluster, make_agent, auth_registry, seed, expect):
    reg = auth_registry
    agent = ecr_agent(cp, cluster, make_agent, reg, "ecrtok", **seed)
    arn = cp.run_task(cluster, "ecrtok")[0]
    reason, _ = stopped_reason(cp, cluster, arn)
    assert reason.startswith("CannotPullECRContainerError:"), reason
    assert expect in reason, reason
    assert reg.password not in reason and reg.password not in agent.read_log()
    assert agent.alive()


def test_token_near_expiry_is_not_reused(cp, cluster, make_agent, auth_registry):
    # A token inside its last 30 minutes serves the pull that asked for it and is not kept.
    reg = auth_registry
    ecr_agent(cp, cluster, make_agent, reg, "ecrshort", expiresIn=600)
    first = cp.run_task(cluster, "ecrshort")[0]
    cp.wait_task(cluster, first, "RUNNING", timeout=90)
    second = cp.run_task(cluster, "ecrshort")[0]
    cp.wait_task(cluster, second, "RUNNING", timeout=90)
    assert len(token_calls(cp)) == 2
    drop_local(reg.busybox)


@pytest.mark.parametrize("fmt", ["docker", "dockercfg"])
def test_static_engine_auth(cp, cluster, make_agent, auth_registry, fmt):
    # The same registry named "localhost:<port>" is not treated as ECR: the host's own
    # credentials apply. dockercfg keys carry a scheme and /v1/, as `docker login` wrote them.
    reg = auth_registry
    image = reg.busybox.replace("127.0.0.1:", "localhost:", 1)
    host = reg.host.replace("127.0.0.1:", "localhost:", 1)
    drop_local(image)
    if fmt == "docker":
        data = {host: {"username": reg.user, "password": reg.password, "email": "it@example"}}
    else:
        auth = base64.b64encode(f"{reg.user}:{reg.password}".encode()).decode()
        data = {f"https://{host}/v1/": {"auth": auth, "email": "it@example"}}
    cp.register("static", [{"name": "main", "image": image, "essential": True, "memory": 16,
                            "command": ["sleep", "300"]}])
    agent = make_agent(dict(SETTINGS, ECS_ENGINE_AUTH_TYPE=fmt,
                            ECS_ENGINE_AUTH_DATA=json.dumps(data)))
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "static")[0]
    cp.wait_task(cluster, arn, "RUNNING", timeout=90)
    assert harness.docker("image", "inspect", image, "--format", "{{.Id}}").strip()
    assert not token_calls(cp)
    assert reg.password not in agent.read_log()
    drop_local(image)


def test_static_auth_absent_means_anonymous_pull_fails(cp, cluster, make_agent, auth_registry):
    reg = auth_registry
    image = reg.busybox.replace("127.0.0.1:", "localhost:", 1)
    drop_local(image)
    cp.register("anon", [{"name": "main", "image": image, "essential": True, "memory": 16,
                          "command": ["sleep", "300"]}])
    agent = make_agent(SETTINGS)
    registered(cp, cluster, agent)
    arn = cp.run_task(cluster, "anon")[0]
    reason, _ = stopped_reason(cp, cluster, arn)
    assert reason.startswith("CannotPullContainerError:"), reason


# ---- repositoryCredentials: a Secrets Manager secret fetched with the execution role ----

def asm_agent(cp, cluster, make_agent, reg, family, secret_string=None):
    """An agent that reaches ecs-local's Secrets Manager, and a task definition whose image
    is in the registry with repositoryCredentials naming a secret (seeded unless None)."""
    drop_local(reg.busybox)
    arn = f"arn:aws:secretsmanager:{harness.REGION}:123456789012:secret:ecs-it-missing-AbCdEf"
    if secret_string is not None:
        arn = cp.admin("POST", "/secrets", {"name": f"ecs-it/{family}",
                                            "secretString": secret_string})["arn"]
    cp.register(family, [{"name": "main", "image": reg.busybox, "essential": True,
                          "memory": 16, "command": ["sleep", "300"],
                          "repositoryCredentials": {"credentialsParameter": arn}}],
                execution_role_arn=EXEC_ROLE)
    agent = make_agent(dict(SETTINGS, AWS_ENDPOINT_URL_SECRETS_MANAGER=cp.url))
    registered(cp, cluster, agent)
    return agent, arn


def test_repository_credentials_from_secrets_manager(cp, cluster, make_agent, auth_registry):
    reg = auth_registry
    agent, arn = asm_agent(cp, cluster, make_agent, reg, "asm",
                           json.dumps({"username": reg.user, "password": reg.password}))
    task = cp.run_task(cluster, "asm")[0]
    cp.wait_task(cluster, task, "RUNNING", timeout=90)
    assert harness.docker("image", "inspect", reg.busybox, "--format", "{{.Id}}").strip()
    calls = cp.admin("GET", "/api-log?operation=GetSecretValue")["requests"]
    assert len(calls) == 1 and calls[0]["status"] == 200
    # Signed with the task's execution role, not the instance's key.
    assert calls[0]["accessKeyId"] in execution_key_ids(cp)
    assert not token_calls(cp)
    assert reg.password not in agent.read_log()
    drop_local(reg.busybox)


@pytest.mark.parametrize("secret,expect", [
    (None, "asm fetching secret from the service for arn:aws:secretsmanager:"),
    ("not json", "asm fetching authorization data: unable to unmarshal secret value, "
                 "invalid schema"),
    ('{"username": "AWS"}', "asm fetching password: AuthorizationData is malformed, "
                            "empty field"),
])
def test_repository_credentials_failures(cp, cluster, make_agent, auth_registry, secret,
                                         expect):
    reg = auth_registry
    agent, arn = asm_agent(cp, cluster, make_agent, reg, "asmbad", secret)
    task = cp.run_task(cluster, "asmbad")[0]
    t = cp.wait_task(cluster, task, "STOPPED", timeout=90)
    reason = t.get("stoppedReason", "")
    assert reason.startswith("ResourceInitializationError: "), reason
    assert expect in reason, reason
    if secret is None:
        assert "ResourceNotFoundException" in reason and arn in reason
    # Nothing was pulled.
    assert harness.docker("image", "inspect", reg.busybox, check=False).strip() in ("", "[]")
    assert agent.alive()


# ---- the registry is there but the image is not; the registry is not there at all ----

def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unknown_repository_and_unreachable_registry(cp, cluster, make_agent, auth_registry):
    reg = auth_registry
    missing = f"{reg.host}/ecs-it/not-pushed:latest"
    nowhere = f"127.0.0.1:{free_port()}/ecs-it/nowhere:latest"  # nothing listens there
    drop_local(missing, nowhere)
    seed_token(cp, reg)
    register(cp, "missing", missing)
    register(cp, "nowhere", nowhere)
    cp.register("local", [{"name": "main", "image": harness.BUSYBOX, "essential": True,
                           "memory": 16, "command": ["sleep", "300"]}])
    agent = make_agent({"ECS_IMAGE_PULL_BEHAVIOR": "once"})
    registered(cp, cluster, agent)
    good = cp.run_task(cluster, "local")[0]
    tasks = {name: cp.run_task(cluster, name)[0] for name in ("missing", "nowhere")}
    reasons = {name: stopped_reason(cp, cluster, arn)[0] for name, arn in tasks.items()}
    # The ECR token was good: the registry answered that it has no such repository.
    assert reasons["missing"].startswith("CannotPullContainerError: "), reasons
    assert "not-pushed" in reasons["missing"] and "unknown" in reasons["missing"], reasons
    assert len(token_calls(cp)) == 1
    # Nothing listens: Docker's connection error names the registry.
    assert reasons["nowhere"].startswith("CannotPullContainerError: "), reasons
    assert nowhere.split("/")[0] in reasons["nowhere"], reasons
    assert "connection refused" in reasons["nowhere"], reasons
    assert reg.password not in agent.read_log()
    assert cp.describe_task(cluster, good)["lastStatus"] == "RUNNING"
    assert agent.alive()
