"""ARN formats used by ECS (the "long" resource ID formats AWS uses today)."""

import re
import secrets
import uuid


def new_id32():
    """A 32-hex-digit ID like the ones in task and container-instance ARNs."""
    return secrets.token_hex(16)


class Arns:
    def __init__(self, region, account):
        self.region = region
        self.account = account
        self._prefix = f"arn:aws:ecs:{region}:{account}:"

    def cluster(self, name):
        return f"{self._prefix}cluster/{name}"

    def task(self, cluster, task_id):
        return f"{self._prefix}task/{cluster}/{task_id}"

    def container_instance(self, cluster, ci_id):
        return f"{self._prefix}container-instance/{cluster}/{ci_id}"

    def task_definition(self, family, revision):
        return f"{self._prefix}task-definition/{family}:{revision}"

    def service(self, cluster, name):
        return f"{self._prefix}service/{cluster}/{name}"

    def container(self, cluster, task_id):
        return f"{self._prefix}container/{cluster}/{task_id}/{uuid.uuid4()}"

    def attachment(self):
        return f"{self._prefix}attachment/{uuid.uuid4()}"

    def role(self, name):
        return f"arn:aws:iam::{self.account}:role/{name}"

    def ecs_resource(self, arn):
        """Split an ECS ARN of this region/account into (type, path) or None."""
        if not isinstance(arn, str) or not arn.startswith(self._prefix):
            return None
        rest = arn[len(self._prefix):]
        kind, sep, path = rest.partition("/")
        if not sep:
            return None
        return kind, path


NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def last_segment(ref):
    return ref.rsplit("/", 1)[-1]
