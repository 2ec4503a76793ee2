"""ECR GetAuthorizationToken (§1.13), SSM GetParameters (§10.1) and
Secrets Manager GetSecretValue (§10.2), backed by values seeded through the
admin API.  The agent calls these with the task's execution-role
credentials, which ecs-local issued, so they verify like any other key.
"""

import base64
import re
import secrets
import time
import uuid

from .errors import AwsError

DEFAULT_REGISTRY_PASSWORD = "ecs-local-registry-password"
DEFAULT_TOKEN_TTL = 12 * 3600


class EcrOps:
    def __init__(self, cp):
        self.cp = cp

    def GetAuthorizationToken(self, p, ctx):
        ids = p.get("registryIds") or [self.cp.account]
        if not 1 <= len(ids) <= 10:
            raise AwsError("InvalidParameterException", "registryIds must contain 1 to 10 items.")
        out = []
        for rid in ids:
            if not re.match(r"^[0-9]{12}$", rid):
                raise AwsError("InvalidParameterException",
                               f"Invalid parameter at 'registryIds' failed to satisfy constraint: "
                               f"'Member must satisfy regular expression pattern: [0-9]{{12}}' ({rid})")
            cred = self.cp.data["registryCredentials"].get(rid) or {}
            user = cred.get("username", "AWS")
            password = cred.get("password", DEFAULT_REGISTRY_PASSWORD)
            endpoint = cred.get("proxyEndpoint")
            local = getattr(self.cp.cfg, "ecr_registry", [])
            if not endpoint and local and rid == self.cp.account:
                endpoint = f"http://{local[0]}"     # --ecr-registry stands in for this account's ECR
            endpoint = endpoint or f"https://{rid}.dkr.ecr.{self.cp.region}.amazonaws.com"
            token = cred.get("rawToken")
            if token is None:
                token = base64.b64encode(f"{user}:{password}".encode()).decode()
            out.append({
                "authorizationToken": token,
                "expiresAt": time.time() + cred.get("expiresIn", DEFAULT_TOKEN_TTL),
                "proxyEndpoint": endpoint,
            })
        return {"authorizationData": out}


def parameter_arn(cp, name):
    return f"arn:aws:ssm:{cp.region}:{cp.account}:parameter/{name.lstrip('/')}"


def seed_parameter(cp, name, value, ptype="String"):
    params = cp.data["parameters"]
    old = params.get(name)
    params[name] = {"name": name, "value": value, "type": ptype,
                    "version": (old["version"] + 1) if old else 1,
                    "lastModified": time.time(), "arn": parameter_arn(cp, name)}
    cp.changed()
    return params[name]


def seed_secret(cp, name, secret_string=None, secret_binary=None):
    store = cp.data["secrets"]
    old = store.get(name)
    arn = old["arn"] if old else (f"arn:aws:secretsmanager:{cp.region}:{cp.account}:secret:"
                                  f"{name}-{secrets.token_urlsafe(6)[:6]}")
    store[name] = {"name": name, "arn": arn, "versionId": str(uuid.uuid4()),
                   "createdDate": time.time(), "secretString": secret_string,
                   "secretBinary": secret_binary}
    cp.changed()
    return store[name]


class SsmOps:
    def __init__(self, cp):
        self.cp = cp

    def _lookup(self, ref):
        name = ref.split(":", 1)[0] if not ref.startswith("arn:") else ref
        if name.startswith("arn:"):
            m = re.match(r"^arn:aws:ssm:([a-z0-9-]+):(\d{12}):parameter/(.+)$", name)
            if not m or m.group(1) != self.cp.region or m.group(2) != self.cp.account:
                return None
            rest = m.group(3)
            name = "/" + rest if "/" in rest else rest
        params = self.cp.data["parameters"]
        return params.get(name) or params.get("/" + name.lstrip("/")) or params.get(name.lstrip("/"))

    def _view(self, ref, prm, decrypt):
        value = prm["value"]
        if prm["type"] == "SecureString" and not decrypt:
            value = base64.b64encode(b"ecs-local-kms:" + value.encode()).decode()
        return {"Name": ref if not ref.startswith("arn:") else prm["name"], "Type": prm["type"],
                "Value": value, "Version": prm["version"], "LastModifiedDate": prm["lastModified"],
                "ARN": prm["arn"], "DataType": "text"}

    def GetParameters(self, p, ctx):
        names = p["Names"]
        if not 1 <= len(names) <= 10:
            raise AwsError("ValidationException",
                           f"1 validation error detected: Value '{names}' at 'names' failed to "
                           "satisfy constraint: Member must have length less than or equal to 10")
        found, invalid = [], []
        for ref in names:
            prm = self._lookup(ref)
            if prm is None:
                invalid.append(ref)
            else:
                found.append(self._view(ref, prm, p.get("WithDecryption", False)))
        return {"Parameters": found, "InvalidParameters": invalid}

    def GetParameter(self, p, ctx):
        prm = self._lookup(p["Name"])
        if prm is None:
            raise AwsError("ParameterNotFound", f"Parameter {p['Name']} not found.")
        return {"Parameter": self._view(p["Name"], prm, p.get("WithDecryption", False))}


class SecretsManagerOps:
    def __init__(self, cp):
        self.cp = cp

    def GetSecretValue(self, p, ctx):
        ref = p["SecretId"]
        found = None
        for s in self.cp.data["secrets"].values():
            # name, full ARN, or partial ARN (without the random 6-char suffix)
            if ref in (s["name"], s["arn"], s["arn"][:-7]):
                found = s
                break
        if found is None:
            raise AwsError("ResourceNotFoundException",
                           "Secrets Manager can't find the specified secret.")
        if p.get("VersionId") and p["VersionId"] != found["versionId"]:
            raise AwsError("ResourceNotFoundException",
                           "Secrets Manager can't find the specified secret value for VersionId: "
                           + p["VersionId"])
        if p.get("VersionStage") and p["VersionStage"] != "AWSCURRENT":
            raise AwsError("ResourceNotFoundException",
                           "Secrets Manager can't find the specified secret value for staging "
                           "label: " + p["VersionStage"])
        out = {"ARN": found["arn"], "Name": found["name"], "VersionId": found["versionId"],
               "VersionStages": ["AWSCURRENT"], "CreatedDate": found["createdDate"]}
        if found.get("secretString") is not None:
            out["SecretString"] = found["secretString"]
        if found.get("secretBinary") is not None:
            out["SecretBinary"] = found["secretBinary"]
        return out
