"""Test harness: the local control plane, a local registry and the agent binary, as
processes the tests start, drive and clean up after.

Everything listens on loopback; every container the agent makes in a test carries the
test's unique cluster name in the com.amazonaws.ecs.cluster label, which is how cleanup
finds them."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECS_LOCAL = os.path.join(TOP, "scripts", "ecs-local")
AWS = "/usr/bin/aws"
PYTHON = "/usr/bin/python3"
ACCESS_KEY = "AKIAECSLOCALEXAMPLE"
SECRET_KEY = "ecs-local-secret-key"
REGION = "us-west-2"
BUSYBOX = "ecs-test/busybox:latest"


def agent_binary():
    path = os.environ.get("ECS_AGENT_BIN") or os.path.join(TOP, "build", "ecs-agent")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"agent binary {path} not built (run scripts/test.sh)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every wait is a bound on a hang, never a performance expectation: on a busy machine (the
# ASan agent, other jobs starting containers on the same dockerd) the same steps take several
# times longer. ECS_TEST_WAIT_SCALE stretches every bound (default 3).
WAIT_SCALE = max(1.0, float(os.environ.get("ECS_TEST_WAIT_SCALE", "3")))


def wait_for(predicate, timeout=30.0, interval=0.1, what="condition"):
    """Polls predicate until it returns a truthy value, which is returned; gives up after
    timeout * WAIT_SCALE seconds."""
    timeout *= WAIT_SCALE
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def docker(*args, check=True):
    p = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


def docker_inspect(ref):
    out = docker("inspect", ref, check=False)
    found = json.loads(out) if out else []
    return found[0] if found else None


def containers_of(cluster, all_states=True):
    """IDs of the containers the agent made for a cluster."""
    args = ["ps", "-q", "--no-trunc", "--filter", f"label=com.amazonaws.ecs.cluster={cluster}"]
    if all_states:
        args.insert(1, "-a")
    out = docker(*args)
    return [line for line in out.splitlines() if line]


def remove_cgroup_tree(path):
    """rmdir a cgroup and its children, deepest first (cgroupfs has no recursive remove)."""
    if not os.path.isdir(path):
        return
    for root, dirs, _ in os.walk(path, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def remove_task_cgroups(task_ids):
    """The agent's task cgroups (/ecs/<task-id> in every hierarchy, v1 or v2) of tasks a
    test ran; a killed agent, or one whose cleanup wait did not pass, leaves them."""
    roots = [os.path.join("/sys/fs/cgroup", d) for d in os.listdir("/sys/fs/cgroup")]
    roots.append("/sys/fs/cgroup")
    for tid in task_ids:
        for root in roots:
            remove_cgroup_tree(os.path.join(root, "ecs", tid))


def task_cgroup_ids():
    """Task ids that have an agent task cgroup (/ecs/<id>) in any hierarchy."""
    found = set()
    roots = [os.path.join("/sys/fs/cgroup", d) for d in os.listdir("/sys/fs/cgroup")]
    for root in roots + ["/sys/fs/cgroup"]:
        base = os.path.join(root, "ecs")
        if os.path.isdir(base):
            found.update(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))
    return found


def remove_containers_of(cluster):
    ids = containers_of(cluster)
    tasks = set()
    for cid in ids:
        info = docker_inspect(cid)
        arn = info and info["Config"]["Labels"].get("com.amazonaws.ecs.task-arn")
        if arn:
            tasks.add(arn.rsplit("/", 1)[1])
    if ids:
        docker("rm", "-f", "-v", *ids, check=False)
    remove_task_cgroups(tasks)


class ControlPlane:
    """scripts/ecs-local on a free loopback port."""

    def __init__(self, tmpdir, port=None, state=False, extra_args=(), tls=None):
        """tls: (certificate, key, CA file) to serve https/wss; the test's own clients
        (admin calls, aws) trust the CA file."""
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.tmpdir = tmpdir
        self.state_file = os.path.join(tmpdir, "ecs-local-state.json") if state else None
        self.extra_args = list(extra_args)
        self.tls = tls
        self.ssl_context = None
        if tls:
            import ssl
            self.extra_args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
            self.ssl_context = ssl.create_default_context(cafile=tls[2])
        self.proc = None
        self.log_path = os.path.join(tmpdir, f"ecs-local-{self.port}.log")

    def start(self):
        args = [PYTHON, ECS_LOCAL, "--listen", f"127.0.0.1:{self.port}",
                "--region", REGION, "--heartbeat-interval", "2", "--resend-interval", "2",
                "--manifest-interval", "3600", *self.extra_args]
        if self.state_file:
            args += ["--state", self.state_file]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_for(self._healthy, timeout=20, what="ecs-local health")
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"ecs-local exited: {self.read_log()[-2000:]}")
        try:
            return self.admin("GET", "/health")["status"] == "ok"
        except OSError:
            return False

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_ecslocal" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=self.ssl_context) as r:
            return json.loads(r.read() or b"{}")

    def aws(self, *args, check=True, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        """Runs awscli against the control plane, as a user would; returns parsed JSON."""
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmpdir, "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_ACCESS_KEY_ID": access_key,
               "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_DEFAULT_REGION": REGION,
               "AWS_PAGER": ""}
        if self.tls:
            env["AWS_CA_BUNDLE"] = self.tls[2]
        p = subprocess.run([AWS, "--endpoint-url", self.url, "--output", "json", *args],
                           capture_output=True, text=True, env=env)
        if check and p.returncode != 0:
            raise RuntimeError(f"aws {' '.join(args)} failed: {p.stderr.strip()}")
        if p.returncode != 0:
            return {"error": p.stderr.strip()}
        return json.loads(p.stdout) if p.stdout.strip() else {}

    # Conveniences over aws ecs.
    def create_cluster(self, name):
        return self.aws("ecs", "create-cluster", "--cluster-name", name)["cluster"]

    def register(self, family, containers, **kw):
        args = ["ecs", "register-task-definition", "--family", family,
                "--container-definitions", json.dumps(containers)]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-"), v if isinstance(v, str) else json.dumps(v)]
        return self.aws(*args)["taskDefinition"]

    def run_task(self, cluster, taskdef, count=1, **kw):
        args = ["ecs", "run-task", "--cluster", cluster, "--task-definition", taskdef,
                "--launch-type", kw.get("launch_type", "EXTERNAL"), "--count", str(count)]
        if "overrides" in kw:
            args += ["--overrides", json.dumps(kw["overrides"])]
        if "tags" in kw:
            args += ["--tags", json.dumps(kw["tags"])]
        out = self.aws(*args)
        assert not out.get("failures"), out["failures"]
        return [t["taskArn"] for t in out["tasks"]]

    def describe_task(self, cluster, arn):
        out = self.aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", arn)
        return out["tasks"][0] if out.get("tasks") else None

    def stop_task(self, cluster, arn, reason="stopped by test"):
        return self.aws("ecs", "stop-task", "--cluster", cluster, "--task", arn,
                        "--reason", reason)["task"]

    def wait_task(self, cluster, arn, status, timeout=60):
        def check():
            t = self.describe_task(cluster, arn)
            return t if t and t["lastStatus"] == status else None
        return wait_for(check, timeout=timeout, interval=0.3, what=f"task {arn} {status}")

    def state_changes(self, task=None):
        q = f"?task={task}" if task else ""
        return self.admin("GET", "/state-changes" + q)["stateChanges"]

    # Hand-made ACS traffic, for what the control plane would never send by itself
    # (invalid or refused tasks, tasks it does not know, replays).
    def cluster_arn(self, cluster):
        return self.aws("ecs", "describe-clusters", "--clusters",
                        cluster)["clusters"][0]["clusterArn"]

    def send_payload(self, cluster, instance, message_id, tasks, seq=0):
        """A PayloadMessage straight onto the instance's ACS session. seq 0 leaves the
        sequence that manifests are numbered in alone."""
        self.admin("POST", "/acs/send", {"message": {"type": "PayloadMessage", "message": {
            "messageId": message_id, "clusterArn": self.cluster_arn(cluster),
            "containerInstanceArn": instance, "seqNum": seq, "generatedAt": 1,
            "tasks": tasks}}})

    def wait_report(self, arn, status="STOPPED", timeout=20):
        """The body of the first SubmitTaskStateChange for arn with that status."""
        def check():
            for ch in self.state_changes(task=arn):
                if ch["body"].get("status") == status:
                    return ch["body"]
            return None
        return wait_for(check, timeout=timeout, what=f"{status} report of {arn}")

    def connected_instance(self, cluster):
        """The ARN of a registered instance whose agent holds an ACS session (placement
        needs that, as on AWS), or None."""
        arns = self.instances(cluster)
        if not arns:
            return None
        out = self.aws("ecs", "describe-container-instances", "--cluster", cluster,
                       "--container-instances", *arns)
        for ci in out.get("containerInstances", []):
            if ci.get("agentConnected") and ci.get("status") == "ACTIVE":
                return ci["containerInstanceArn"]
        return None

    def instances(self, cluster):
        return self.aws("ecs", "list-container-instances", "--cluster",
                        cluster)["containerInstanceArns"]


def hand_task(cp, cluster, tid, containers, family="hand", desired="RUNNING", **fields):
    """A task for send_payload: tid is the task id (32 hex), containers the ACS model's."""
    task = {"arn": f"arn:aws:ecs:{REGION}:123456789012:task/{cluster}/{tid}",
            "family": family, "version": "1", "desiredStatus": desired,
            "taskClusterArn": cp.cluster_arn(cluster), "containers": containers}
    task.update(fields)
    return task


def sleeper_container(name="main", **fields):
    c = {"name": name, "image": BUSYBOX, "essential": True, "memory": 16,
         "command": ["sleep", "300"]}
    c.update(fields)
    return c


class Agent:
    """The ecs-agent binary with an ecs.config of the test's making."""

    def __init__(self, tmpdir, cluster, cp_url, settings=None, env=None):
        self.tmpdir = tmpdir
        self.cluster = cluster
        self.cp_url = cp_url
        self.settings = settings
        self.datadir = os.path.join(tmpdir, "data")
        self.config_path = os.path.join(tmpdir, "ecs.config")
        self.log_path = os.path.join(tmpdir, "agent.log")
        self.audit_log = os.path.join(tmpdir, "audit.log")
        cfg = {
            "ECS_CLUSTER": cluster,
            "ECS_BACKEND_HOST": cp_url,
            "ECS_DATADIR": self.datadir,
            "ECS_EXTERNAL": "true",
            "AWS_DEFAULT_REGION": REGION,
            "ECS_LOGLEVEL": "debug",
            "ECS_CONTAINER_STOP_TIMEOUT": "3s",
            "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "1h",
            "ECS_AUDIT_LOGFILE": self.audit_log,
        }
        cfg.update(settings or {})  # a value of None leaves the setting out
        with open(self.config_path, "w") as f:
            for k, v in cfg.items():
                if v is not None:
                    f.write(f"{k}={v}\n")
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": tmpdir,
                    "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                    # LSan reports leaks at exit; the test of a clean stop checks the code.
                    "ASAN_OPTIONS": "detect_leaks=1:exitcode=86",
                    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=87"}
        self.env.update(env or {})
        self.env = {k: v for k, v in self.env.items() if v is not None}
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([agent_binary(), "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        return self

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=30):
        rx = re.compile(pattern)

        def check():
            if self.proc.poll() is not None and not rx.search(self.read_log()):
                raise AssertionError(f"agent exited ({self.proc.returncode}) before "
                                     f"logging {pattern!r}:\n{self.read_log()[-3000:]}")
            return rx.search(self.read_log())
        return wait_for(check, timeout=timeout, what=f"agent log {pattern!r}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM; returns the exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None


def bcrypt_hash(password):
    """A bcrypt hash for an htpasswd file (docker-registry accepts only bcrypt)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


class Registry:
    """Debian's docker-registry on a loopback port, holding the test image."""

    def __init__(self, tmpdir, auth=None):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.dir = os.path.join(tmpdir, "registry")
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "config.yml")
        self.user, self.password = auth if auth else (None, None)
        auth_conf = ""
        if auth:
            htpasswd = os.path.join(self.dir, "htpasswd")
            with open(htpasswd, "w") as f:
                f.write(f"{self.user}:{bcrypt_hash(self.password)}\n")
            auth_conf = f"auth:\n  htpasswd:\n    realm: ecs-test\n    path: {htpasswd}\n"
        with open(self.config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {self.dir}/data\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: 127.0.0.1:{self.port}\n" + auth_conf)
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "registry.log"), "ab")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def up():
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2)
                return True
            except urllib.error.HTTPError as e:
                return e.code == 401 and self.user is not None
            except OSError:
                return False
        wait_for(up, timeout=20, what="registry")
        return self

    def push(self, image, name):
        """Pushes a local image as <registry>/<name> and returns that reference."""
        ref = f"{self.host}/{name}"
        if self.user is None:
            docker("tag", image, ref)
            docker("push", ref)
            docker("rmi", ref)
            return ref
        # log in with a throwaway client config: never ~/.docker
        with tempfile.TemporaryDirectory(prefix="ecs-it-docker-") as conf:
            env = dict(os.environ, DOCKER_CONFIG=conf)
            p = subprocess.run(["docker", "login", "-u", self.user, "--password-stdin", self.host],
                               input=self.password, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                raise RuntimeError(f"docker login {self.host}: {p.stderr.strip()}")
            docker("tag", image, ref)
            try:
                p = subprocess.run(["docker", "push", ref], capture_output=True, text=True, env=env)
                if p.returncode != 0:
                    raise RuntimeError(f"docker push {ref}: {p.stderr.strip()}")
            finally:
                docker("rmi", ref, check=False)
        return ref

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
            self.log.close()


def unique(prefix="it"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_tmpdir():
    return tempfile.mkdtemp(prefix="ecs-it-")


def rmtree(path):
    if os.environ.get("ECS_KEEP_TMP"):
        return
    shutil.rmtree(path, ignore_errors=True)
