"""Helpers for the ecs-local tests: a handle on an ecs-local process
(start/stop/restart, admin API, raw signed requests, botocore clients),
awscli runs, polling, task definitions.  (Kept out of conftest.py so test
modules can import it under a name no other test directory uses.)"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENTRY = os.path.join(ROOT, "scripts", "ecs-local")
sys.path.insert(0, HERE)

from fake_agent import shared_session  # noqa: E402

ACCESS_KEY = "AKIAECSLOCALEXAMPLE"
SECRET_KEY = "ecs-local-secret-key"
REGION = "us-west-2"

FAST = ["--heartbeat-interval", "0.5", "--manifest-interval", "60", "--resend-interval", "1",
        "--scheduler-interval", "0.2"]


class Server:
    def __init__(self, tmp, args, state=None, env=None):
        self.tmp = tmp
        self.args = list(args)
        self.state = state
        self.env = env
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.proc = None
        self._clients = {}
        self.url = None
        self.imds_url = None
        self.log_path = os.path.join(tmp, f"ecs-local-{uuid.uuid4().hex[:6]}.log")
        self.start()

    def start(self, port=0):
        argv = [ENTRY, "--listen", f"127.0.0.1:{port}"] + self.args
        if self.state:
            argv += ["--state", self.state]
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.logf, env=env)
        deadline = time.time() + 15
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError("ecs-local exited: " + open(self.log_path).read()[-3000:])
            if "listening on" in line:
                self.url = line.split("listening on ")[1].split()[0]
            if "imds on" in line:
                self.imds_url = line.split("imds on ")[1].split()[0]
            if line.startswith("ecs-local state:"):
                break
        self.port = int(self.url.rsplit(":", 1)[1])
        # health check
        for _ in range(50):
            try:
                if self.admin("GET", "/health")["status"] == "ok":
                    return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("ecs-local did not become healthy")

    def stop(self, sig="term"):
        if self.proc and self.proc.poll() is None:
            if sig == "kill":
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.logf.close()

    def restart(self, sig="term"):
        port = self.port
        self.stop(sig)
        self.start(port)

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    # ------------------------------------------------------------ admin API
    def admin(self, method, path, body=None, expect=200):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_ecslocal" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        out = json.loads(raw) if raw else {}
        if expect is not None:
            assert status == expect, (status, out)
        return out

    def fault(self, **spec):
        return self.admin("POST", "/faults", spec)

    def state_changes(self, since=0, task=None):
        q = f"?since={since}" + (f"&task={task}" if task else "")
        return self.admin("GET", "/state-changes" + q)["stateChanges"]

    def acs_messages(self, **filters):
        q = "&".join(f"{k}={urllib.request.quote(str(v), safe='')}" for k, v in filters.items())
        return self.admin("GET", "/acs/messages" + ("?" + q if q else ""))["messages"]

    # ---------------------------------------------------------------- raw
    def post(self, target, body, headers=None, sign=True, creds=None, service="ecs",
             date_offset=0):
        """POST / with X-Amz-Target, optionally SigV4-signed; returns (status, headers, json)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        import datetime
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
        hdrs.update(headers or {})
        req = AWSRequest(method="POST", url=self.url + "/", data=data, headers=hdrs)
        if sign:
            creds = creds or Credentials(self.access_key, self.secret_key)
            signer = SigV4Auth(creds, service, REGION)
            if date_offset:
                import botocore.auth as ba
                real = ba.datetime.datetime

                class Shifted(real):
                    @classmethod
                    def utcnow(cls):
                        return real.utcnow() + datetime.timedelta(seconds=date_offset)
                ba.datetime.datetime = Shifted
                try:
                    signer.add_auth(req)
                finally:
                    ba.datetime.datetime = real
            else:
                signer.add_auth(req)
        r = urllib.request.Request(self.url + "/", data=data, method="POST",
                                   headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = {"raw": raw.decode(errors="replace")}
            return e.code, dict(e.headers), parsed

    def client(self, service="ecs", access_key=None, secret_key=None, token=None):
        key = (service, access_key, secret_key, token)
        if key not in self._clients:
            self._clients[key] = shared_session().create_client(
                service, region_name=REGION, endpoint_url=self.url,
                aws_access_key_id=access_key or self.access_key,
                aws_secret_access_key=secret_key or self.secret_key, aws_session_token=token,
                config=Config(retries={"total_max_attempts": 1}))
        return self._clients[key]


def run_aws(srv, *args, env=None, check=True):
    home = os.path.join(srv.tmp, "home")
    os.makedirs(home, exist_ok=True)
    e = {"PATH": "/usr/bin:/bin", "HOME": home, "AWS_CONFIG_FILE": "/dev/null",
         "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
         "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION,
         "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
    e.update(env or {})
    argv = ["/usr/bin/aws", "--endpoint-url", srv.url, "--region", REGION, "--output", "json"] \
        + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def wait_until(fn, timeout=5.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value {last!r}")


def simple_taskdef(ecs, family=None, **kw):
    family = family or "td-" + uuid.uuid4().hex[:8]
    containers = kw.pop("containers", None) or [
        {"name": "app", "image": "busybox", "memory": kw.pop("memory", 128),
         "cpu": kw.pop("cpu", 128), "essential": True,
         "portMappings": kw.pop("portMappings", [])}]
    return ecs.register_task_definition(family=family, containerDefinitions=containers,
                                        **kw)["taskDefinition"]
