"""Admin API under /_ecslocal/ (JSON, no authentication, loopback only).

For tests and the quickstart: inspect what the agent did, inject faults,
seed secrets/parameters/registry credentials, drive ACS by hand.  The full
list of routes is in README.md next to this file.
"""

import json
import logging
import time

from . import api_aux
from .faults import FaultError
from .httpserver import Response, json_response

log = logging.getLogger("ecslocal.admin")

PREFIX = "/_ecslocal"


class AdminError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


def _int_arg(req, name, default=0):
    v = req.query.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise AdminError(400, f"{name} must be an integer")


def _str(body, key, required=True):
    v = body.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or (required and not v):
        raise AdminError(400, f"{key} must be a non-empty string")
    return v


class Admin:
    def __init__(self, app):
        self.app = app
        self.cp = app.cp
        self.routes = {
            ("GET", "/health"): self.health,
            ("GET", "/state"): self.state,
            ("GET", "/state-changes"): self.state_changes,
            ("GET", "/api-log"): self.api_log,
            ("GET", "/acs/sessions"): self.acs_sessions,
            ("GET", "/tls"): self.tls,
            ("GET", "/acs/messages"): self.acs_messages,
            ("POST", "/acs/send"): self.acs_send,
            ("POST", "/acs/manifest"): self.acs_manifest,
            ("POST", "/acs/heartbeat"): self.acs_heartbeat,
            ("POST", "/acs/credentials"): self.acs_credentials,
            ("GET", "/tcs"): self.tcs,
            ("GET", "/faults"): self.faults_get,
            ("POST", "/faults"): self.faults_post,
            ("DELETE", "/faults"): self.faults_delete,
            ("POST", "/secrets"): self.secrets,
            ("POST", "/parameters"): self.parameters,
            ("POST", "/registry-credentials"): self.registry_credentials,
            ("POST", "/credentials"): self.credentials,
            ("GET", "/imds"): self.imds_get,
            ("POST", "/imds/spot-action"): self.spot_action,
            ("DELETE", "/imds/spot-action"): self.spot_action_delete,
            ("POST", "/scheduler/run"): self.scheduler_run,
        }

    async def handle(self, req):
        if not req.is_loopback():
            return json_response({"error": "the admin API only answers loopback clients"}, 403)
        sub = req.path[len(PREFIX):] or "/"
        handler = self.routes.get((req.method, sub))
        if handler is None:
            if any(path == sub for _, path in self.routes):
                return json_response({"error": f"method {req.method} not allowed on {req.path}"}, 405)
            return json_response({"error": f"no admin route {req.method} {req.path}"}, 404)
        body = {}
        if req.method in ("POST", "PUT") and req.body.strip():
            try:
                body = json.loads(req.body)
            except ValueError as e:
                return json_response({"error": f"malformed JSON: {e}"}, 400)
            if not isinstance(body, dict):
                return json_response({"error": "body must be a JSON object"}, 400)
        try:
            result = handler(req, body)
            if hasattr(result, "__await__"):
                result = await result
        except AdminError as e:
            return json_response({"error": e.text}, e.status)
        except FaultError as e:
            return json_response({"error": str(e)}, 400)
        self.cp.store.flush()
        if isinstance(result, Response):
            return result
        return json_response(result)

    # ---------------------------------------------------------- inspection
    def health(self, req, body):
        cp = self.cp
        return {"status": "ok", "region": cp.region, "account": cp.account,
                "endpoint": self.app.base_url, "imds": self.app.imds_url,
                "startedAt": cp.started_at, "uptime": time.time() - cp.started_at,
                "stateFile": cp.cfg.state, "acsSessions": len(cp.acs.sessions),
                "tcsSessions": len(cp.tcs.sessions),
                "counts": {k: len(cp.data[k]) for k in ("clusters", "instances", "tasks",
                                                        "services")}}

    def state(self, req, body):
        return self.cp.data

    def state_changes(self, req, body):
        since = _int_arg(req, "since")
        task = req.query.get("task")
        out = []
        for e in self.cp.data["stateChanges"]:
            if e["seq"] <= since:
                continue
            if task and not (isinstance(e["body"], dict) and e["body"].get("task") == task):
                continue
            out.append(e)
        return {"stateChanges": out}

    def api_log(self, req, body):
        since = _int_arg(req, "since")
        op = req.query.get("operation")
        return {"requests": [e for e in self.cp.api_log
                             if e["seq"] > since and (not op or e["operation"].endswith(op))]}

    def tls(self, req, body):
        """Whether the API port speaks TLS, and its handshake counts."""
        http = self.app.http
        return {"enabled": http.ssl_context is not None, **http.tls_stats,
                "connections": list(http.tls_log)}

    def acs_sessions(self, req, body):
        return self.cp.acs.describe()

    def acs_messages(self, req, body):
        return {"messages": self.cp.acs.frames_since(
            _int_arg(req, "since"), req.query.get("containerInstanceArn"),
            req.query.get("direction"), req.query.get("type"))}

    def tcs(self, req, body):
        return self.cp.tcs.describe()

    # ---------------------------------------------------------- ACS driving
    async def acs_send(self, req, body):
        """Send an arbitrary frame: {"frame": "<raw text>"} or {"message":
        {<envelope>}}; optional "containerInstanceArn", "binary": true."""
        arn = _str(body, "containerInstanceArn", required=False)
        if "frame" in body:
            frame = body["frame"]
            if not isinstance(frame, str):
                raise AdminError(400, "frame must be a string")
        elif "message" in body:
            frame = json.dumps(body["message"])
        else:
            raise AdminError(400, "give either frame (raw text) or message (JSON envelope)")
        sent = await self.cp.acs.send_raw(arn, frame, binary=bool(body.get("binary")))
        if not sent:
            raise AdminError(404, "no open ACS session" + (f" for {arn}" if arn else ""))
        return {"sentTo": sent}

    async def acs_manifest(self, req, body):
        arn = _str(body, "containerInstanceArn", required=False)
        ids = await self.cp.acs.send_manifest(arn)
        if not ids:
            raise AdminError(404, "no open ACS session" + (f" for {arn}" if arn else ""))
        return {"messageIds": ids}

    async def acs_heartbeat(self, req, body):
        await self.cp.acs.send_heartbeat(_str(body, "containerInstanceArn", required=False))
        return {}

    async def acs_credentials(self, req, body):
        n = await self.cp.acs.refresh_credentials(_str(body, "taskArn", required=False))
        return {"refreshed": n}

    # --------------------------------------------------------------- faults
    def faults_get(self, req, body):
        return self.cp.faults.describe()

    async def faults_post(self, req, body):
        entry = self.cp.faults.add(body)
        log.info("fault injected: %s", json.dumps({k: v for k, v in body.items()}))
        if entry["kind"] == "close_acs":
            arn = body.get("containerInstanceArn")
            code = body.get("code", 1000)
            if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
                raise AdminError(400, "code must be a websocket close code (1000-4999)")
            closed = await self.cp.acs.close_sessions(
                arn, abort=bool(body.get("abort")), code=code,
                close_message=body.get("closeMessage", True) is not False,
                text=body.get("message") or "ConnectionClosed: closed by ecs-local (fault)")
            return {"fault": "close_acs", "closed": closed}
        return {"fault": {k: (sorted(v) if isinstance(v, set) else v)
                          for k, v in entry.items() if k != "held"}}

    def faults_delete(self, req, body):
        self.cp.faults.clear()
        return {}

    # -------------------------------------------------------------- seeding
    def secrets(self, req, body):
        name = _str(body, "name")
        ss, sb = body.get("secretString"), body.get("secretBinary")
        if (ss is None) == (sb is None):
            raise AdminError(400, "give exactly one of secretString or secretBinary (base64)")
        if not isinstance(ss if ss is not None else sb, str):
            raise AdminError(400, "secretString/secretBinary must be a string")
        s = api_aux.seed_secret(self.cp, name, ss, sb)
        return {"name": s["name"], "arn": s["arn"], "versionId": s["versionId"]}

    def parameters(self, req, body):
        name = _str(body, "name")
        value = _str(body, "value")
        ptype = body.get("type", "String")
        if ptype not in ("String", "StringList", "SecureString"):
            raise AdminError(400, "type must be String, StringList or SecureString")
        p = api_aux.seed_parameter(self.cp, name, value, ptype)
        return {"name": p["name"], "arn": p["arn"], "version": p["version"]}

    def registry_credentials(self, req, body):
        rid = body.get("registryId", self.cp.account)
        if not isinstance(rid, str) or not rid.isdigit() or len(rid) != 12:
            raise AdminError(400, "registryId must be a 12-digit account id")
        entry = {"username": _str(body, "username", required=False) or "AWS",
                 "password": _str(body, "password")}
        if body.get("proxyEndpoint") is not None:
            entry["proxyEndpoint"] = _str(body, "proxyEndpoint")
        if body.get("expiresIn") is not None:
            ttl = body["expiresIn"]
            if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
                raise AdminError(400, "expiresIn must be a number of seconds")
            entry["expiresIn"] = ttl
        if body.get("rawToken") is not None:
            entry["rawToken"] = _str(body, "rawToken")
        self.cp.data["registryCredentials"][rid] = entry
        self.cp.changed()
        return {"registryId": rid}

    def credentials(self, req, body):
        ak = _str(body, "accessKeyId")
        sk = _str(body, "secretAccessKey")
        token = _str(body, "sessionToken", required=False)
        self.cp.creds.add_static(ak, sk, token)
        return {"accessKeyId": ak}

    # ----------------------------------------------------------------- IMDS
    def imds_get(self, req, body):
        if not self.app.imds:
            raise AdminError(404, "the IMDS emulator is not enabled (--imds)")
        return self.app.imds.describe()

    def spot_action(self, req, body):
        action = body.get("action", "terminate")
        if action not in ("hibernate", "stop", "terminate"):
            raise AdminError(400, "action must be hibernate, stop or terminate")
        when = body.get("time")
        if when is None:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        if not isinstance(when, str):
            raise AdminError(400, "time must be an ISO-8601 string")
        self.cp.data["imds"]["spotAction"] = {"action": action, "time": when}
        self.cp.changed()
        return self.cp.data["imds"]["spotAction"]

    def spot_action_delete(self, req, body):
        self.cp.data["imds"].pop("spotAction", None)
        self.cp.changed()
        return {}

    def scheduler_run(self, req, body):
        self.cp.scheduler.reconcile()
        return {}
