"""All control-plane state, as one JSON-serialisable dict, and its durability.

With ``--state FILE`` every mutation is flushed before the caller gets an
answer: write a temp file, fsync it, rename over FILE, fsync the directory
(the same recipe DESIGN.md asks of the agent).  Without it, state lives in
memory only.  Runtime-only things (open sessions, faults) are not kept here.
"""

import json
import logging
import os
import tempfile

log = logging.getLogger("ecslocal.store")

SCHEMA = 1

SECTIONS = ("clusters", "taskDefinitions", "instances", "tasks", "services",
            "secrets", "parameters", "registryCredentials", "issuedCredentials",
            "accessKeys", "clientTokens", "imds")


def empty_state():
    data = {k: {} for k in SECTIONS}
    data["schema"] = SCHEMA
    data["stateChanges"] = []
    data["counters"] = {"stateChange": 0}
    return data


class Store:
    MAX_STATE_CHANGES = 20000

    def __init__(self, path=None):
        self.path = path
        self.data = empty_state()
        self.dirty = False
        if path and os.path.exists(path):
            try:
                with open(path, "r", encoding="utf-8") as fh:
                    loaded = json.load(fh)
            except (OSError, ValueError) as e:
                raise SystemExit(f"ecs-local: cannot read state file {path}: {e}")
            if not isinstance(loaded, dict):
                raise SystemExit(f"ecs-local: {path} is not an ecs-local state file")
            if loaded.get("schema") != SCHEMA:
                raise SystemExit(f"ecs-local: {path}: unsupported state schema {loaded.get('schema')}")
            for k, v in empty_state().items():
                loaded.setdefault(k, v)
            self.data = loaded
            log.info("state loaded from %s: %d clusters, %d task definitions families, "
                     "%d instances, %d tasks, %d services", path,
                     len(self.data["clusters"]), len(self.data["taskDefinitions"]),
                     len(self.data["instances"]), len(self.data["tasks"]),
                     len(self.data["services"]))

    def mark_dirty(self):
        self.dirty = True

    def flush(self):
        """Persist now if anything changed (durable: temp+fsync+rename+fsync dir)."""
        if not self.dirty:
            return
        self.dirty = False
        if not self.path:
            return
        changes = self.data["stateChanges"]
        if len(changes) > self.MAX_STATE_CHANGES:
            del changes[: len(changes) - self.MAX_STATE_CHANGES]
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".ecs-local-state.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except Exception:
            log.exception("could not write state file %s", self.path)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            self.dirty = True
