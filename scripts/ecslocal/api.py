"""AWS JSON 1.1 front door: POST / with X-Amz-Target (§1.1, §1.2).

Order of checks, as AWS JSON services answer them: known target
(UnknownOperationException), SigV4 (403 family), JSON body
(SerializationException), model validation, then the operation itself.
Nothing is changed unless the operation succeeds; state is persisted before
the response is written.
"""

import json
import logging
import time
import uuid

from .errors import AwsError
from .httpserver import Response
from .validate import ServiceModel

log = logging.getLogger("ecslocal.api")

SUBMIT_OPS = ("SubmitTaskStateChange", "SubmitContainerStateChange",
              "SubmitAttachmentStateChanges")

CONTENT_TYPE = "application/x-amz-json-1.1"


class Context:
    """Per-request facts handed to operations."""

    def __init__(self, request, caller):
        self.request = request
        self.caller = caller


class Api:
    def __init__(self, cp, verifier, handlers):
        self.cp = cp
        self.verifier = verifier
        self.services = {}      # target prefix -> (service id, model, signing name, handler)
        specs = [
            ("ecs", "InvalidParameterException", False),
            ("ecr", "InvalidParameterException", False),
            ("ssm", "ValidationException", True),
            ("secretsmanager", "ValidationException", True),
        ]
        for svc, perr, coral in specs:
            model = ServiceModel(svc, perr, coral)
            md = model.metadata
            signing = md.get("signingName") or md.get("endpointPrefix")
            self.services[md["targetPrefix"]] = (svc, model, signing, handlers[svc])

    def _error(self, err, request_id):
        headers = [("X-Amzn-ErrorType", err.code), ("x-amzn-RequestId", request_id)]
        return Response(err.status, json.dumps(err.body()).encode(), headers, CONTENT_TYPE)

    async def handle(self, req):
        request_id = str(uuid.uuid4())
        started = time.time()
        op_label = "?"
        svc_op = None
        caller = None
        params = None
        try:
            if req.method != "POST" or req.path != "/":
                raise AwsError("UnknownOperationException",
                               f"No operation at {req.method} {req.path}")
            target = req.headers.get("X-Amz-Target") or ""
            prefix, _, op = target.rpartition(".")
            entry = self.services.get(prefix)
            if entry is None or not entry[1].has(op):
                raise AwsError("UnknownOperationException",
                               f"Unknown operation {target!r}" if target else
                               "Missing X-Amz-Target header")
            svc, model, signing, handler = entry
            op_label = f"{svc}.{op}"
            svc_op = (svc, op)
            caller = self.verifier.verify("POST", req.path, req.query_pairs, req.headers,
                                          req.body, signing, scope="api")
            try:
                params = json.loads(req.body.decode("utf-8")) if req.body.strip() else {}
            except (UnicodeDecodeError, ValueError) as e:
                raise AwsError("SerializationException", f"Malformed JSON request body: {e}")
            model.validate(op, params)
            if svc == "ecs" and op in SUBMIT_OPS:
                injected = self.cp.faults.take_submit_error()
                if injected:
                    raise AwsError(*injected)
            fn = getattr(handler, op, None)
            if fn is None:
                raise AwsError("UnknownOperationException",
                               f"{op} is not implemented by ecs-local")
            result = fn(params, Context(req, caller))
            if hasattr(result, "__await__"):
                result = await result
            self.cp.store.flush()
            self._log(op_label, 200, None, started, caller, request_id, req)
            if svc_op[0] == "ecs" and op in SUBMIT_OPS:
                self.cp.record_state_change(op, params, {"status": 200, "response": result},
                                            caller)
                self.cp.store.flush()
            if self.cp.scheduler:
                self.cp.scheduler.kick()
            return Response(200, json.dumps(result, separators=(",", ":")).encode(),
                            [("x-amzn-RequestId", request_id)], CONTENT_TYPE)
        except AwsError as e:
            self._log(op_label, e.status, e, started, caller, request_id, req)
            if svc_op and svc_op[0] == "ecs" and svc_op[1] in SUBMIT_OPS and caller is not None:
                body = params if params is not None else req.body.decode("utf-8", "replace")
                self.cp.record_state_change(svc_op[1], body,
                                            {"status": e.status, "error": e.code,
                                             "message": e.message}, caller)
                self.cp.store.flush()
            return self._error(e, request_id)
        except Exception:
            log.exception("api %s failed", op_label)
            return self._error(AwsError("ServerException", "Internal error in ecs-local"),
                               request_id)

    def _log(self, op, status, err, started, caller, request_id, req=None):
        self.cp.api_seq += 1
        entry = {"seq": self.cp.api_seq, "time": started, "operation": op, "status": status,
                 "requestId": request_id,
                 "userAgent": req.headers.get("User-Agent") if req else None,
                 "durationMs": round((time.time() - started) * 1000, 2)}
        if caller is not None:
            entry["accessKeyId"] = caller.access_key
        if err is not None:
            entry["error"] = err.code
            entry["message"] = err.message.split("\n")[0]
            log.info("api %s -> %s %s: %s", op, status, err.code, entry["message"])
        else:
            log.info("api %s -> %s", op, status)
        self.cp.api_log.append(entry)
