"""Fault injection, driven by the admin API (POST /_ecslocal/faults).

Kinds (all optional fields shown with their defaults):

* ``close_acs``      {"containerInstanceArn": any, "abort": false, "code": 1000,
                      "closeMessage": true} - immediate, handled by the ACS hub.
* ``stop_acking``    {"scope": "all"|"acs"|"tcs"} - until cleared: the agent's
                      ACS acks are recorded but ignored (so payloads and
                      credentials keep being re-sent) and/or TCS stops sending
                      AckPublish*.
* ``delay``          {"count": 1, "seconds": 1.0, "types": [...]} - the next N
                      outgoing ACS messages are held S seconds each.
* ``duplicate``      {"count": 1, "types": [...]} - the next N are sent twice.
* ``reorder``        {"count": 2, "types": [...], "seconds": 5} - the next N are
                      held and released in reverse order (or after ``seconds``).
* ``submit_error``   {"count": 1, "code": "ThrottlingException", "message": ...}
                      - the next N Submit*StateChange(s) calls fail.
* ``bad_signature``  {"count": 1, "scope": "all"|"api"|"acs"|"tcs"} - the next N
                      signature checks fail with InvalidSignatureException.
* ``clock_skew``     {"seconds": S} - ecs-local's clock runs S seconds off for
                      signature checks and Date headers (0 clears).

``types`` (optional) limits delay/duplicate/reorder to ACS message types;
``containerInstanceArn`` (optional) limits them to one instance.
"""

import time

KINDS = ("close_acs", "stop_acking", "delay", "duplicate", "reorder",
         "submit_error", "bad_signature", "clock_skew")

SUBMIT_ERROR_CODES = ("ThrottlingException", "ServerException", "ClientException",
                      "InvalidParameterException", "AccessDeniedException",
                      "LimitExceededException")


class FaultError(ValueError):
    pass


def _count(spec, default=1):
    n = spec.get("count", default)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1 or n > 100000:
        raise FaultError("count must be a positive integer")
    return n


def _seconds(spec, key="seconds", default=None, allow_negative=False):
    s = spec.get(key, default)
    if isinstance(s, bool) or not isinstance(s, (int, float)):
        raise FaultError(f"{key} must be a number")
    if not allow_negative and s < 0:
        raise FaultError(f"{key} must be >= 0")
    return float(s)


def _types(spec):
    t = spec.get("types")
    if t is None:
        return None
    if not isinstance(t, list) or not all(isinstance(x, str) for x in t):
        raise FaultError("types must be a list of ACS message type names")
    return set(t)


class Faults:
    def __init__(self):
        self.clear()

    def clear(self):
        self.message_faults = []    # delay / duplicate / reorder entries
        self.submit_errors = []     # [{"remaining", "code", "message"}]
        self.bad_signatures = []    # [{"remaining", "scope"}]
        self.stop_acking = None     # None or scope string
        self.skew = 0.0
        self.history = []           # every fault applied, for the admin API

    # -- configuration -------------------------------------------------------
    def add(self, spec):
        """Validate and register a fault spec (close_acs is handled by the caller)."""
        if not isinstance(spec, dict):
            raise FaultError("fault must be a JSON object")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join(KINDS)}")
        ci = spec.get("containerInstanceArn")
        if ci is not None and not isinstance(ci, str):
            raise FaultError("containerInstanceArn must be a string")
        entry = {"kind": kind}
        if kind == "stop_acking":
            scope = spec.get("scope", "all")
            if scope not in ("all", "acs", "tcs"):
                raise FaultError("scope must be all, acs or tcs")
            self.stop_acking = scope
            entry["scope"] = scope
        elif kind in ("delay", "duplicate", "reorder"):
            n = _count(spec, 2 if kind == "reorder" else 1)
            entry.update(remaining=n, count=n, types=_types(spec), containerInstanceArn=ci)
            if kind == "delay":
                entry["seconds"] = _seconds(spec, default=1.0)
            if kind == "reorder":
                entry["seconds"] = _seconds(spec, default=5.0)
                entry["held"] = []
            self.message_faults.append(entry)
        elif kind == "submit_error":
            code = spec.get("code", "ThrottlingException")
            if code not in SUBMIT_ERROR_CODES:
                raise FaultError(f"code must be one of {', '.join(SUBMIT_ERROR_CODES)}")
            msg = spec.get("message") or {
                "ThrottlingException": "Rate exceeded",
                "ServerException": "Service unavailable. Please try again later.",
            }.get(code, "Injected failure")
            if not isinstance(msg, str):
                raise FaultError("message must be a string")
            entry.update(remaining=_count(spec), code=code, message=msg)
            self.submit_errors.append(entry)
        elif kind == "bad_signature":
            scope = spec.get("scope", "all")
            if scope not in ("all", "api", "acs", "tcs"):
                raise FaultError("scope must be all, api, acs or tcs")
            entry.update(remaining=_count(spec), scope=scope)
            self.bad_signatures.append(entry)
        elif kind == "clock_skew":
            self.skew = _seconds(spec, default=0.0, allow_negative=True)
            entry["seconds"] = self.skew
        elif kind == "close_acs":
            pass
        return entry

    def describe(self):
        def clean(e):
            out = {k: v for k, v in e.items() if k != "held"}
            if isinstance(out.get("types"), set):
                out["types"] = sorted(out["types"])
            if "held" in e:
                out["held"] = len(e["held"])
            return out
        return {
            "messageFaults": [clean(e) for e in self.message_faults],
            "submitErrors": [clean(e) for e in self.submit_errors],
            "badSignatures": [clean(e) for e in self.bad_signatures],
            "stopAcking": self.stop_acking,
            "clockSkewSeconds": self.skew,
            "applied": self.history[-200:],
        }

    def _applied(self, kind, **info):
        self.history.append(dict(kind=kind, at=time.time(), **info))

    # -- queries used by the rest of ecs-local --------------------------------
    def now(self):
        return time.time() + self.skew

    def take_submit_error(self):
        for e in self.submit_errors:
            if e["remaining"] > 0:
                e["remaining"] -= 1
                if e["remaining"] == 0:
                    self.submit_errors.remove(e)
                self._applied("submit_error", code=e["code"])
                return e["code"], e["message"]
        return None

    def take_bad_signature(self, scope):
        for e in self.bad_signatures:
            if e["scope"] in ("all", scope) and e["remaining"] > 0:
                e["remaining"] -= 1
                if e["remaining"] == 0:
                    self.bad_signatures.remove(e)
                self._applied("bad_signature", scope=scope)
                return True
        return False

    def ignoring_acks(self, which):
        return self.stop_acking in ("all", which)

    def take_message_fault(self, msg_type, instance_arn):
        """Return the delay/duplicate/reorder entry that applies to this
        outgoing ACS message (consuming one count), or None."""
        for e in self.message_faults:
            if e["types"] is not None and msg_type not in e["types"]:
                continue
            if e["containerInstanceArn"] and e["containerInstanceArn"] != instance_arn:
                continue
            e["remaining"] -= 1
            if e["remaining"] <= 0:
                self.message_faults.remove(e)
            self._applied(e["kind"], type=msg_type, containerInstanceArn=instance_arn)
            return e
        return None
