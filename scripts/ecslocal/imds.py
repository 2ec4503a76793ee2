"""EC2 instance metadata emulator (--imds HOST:PORT), for the agent's EC2
path with ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` (§8.8, §9.6).

* IMDSv2: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``
  (1-21600) returns a session token; GETs must carry it in
  ``X-aws-ec2-metadata-token`` (401 otherwise) unless --imds-allow-v1.
  Token requests with ``X-Forwarded-For`` are refused (403), as on EC2.
* identity document + signature, instance id, placement, mac/network paths,
  local-ipv4, public-ipv4 (only with --imds-public-ip), ``iam/security-credentials/<role>`` (credentials ecs-local
  accepts for signing, bound to this instance), ``spot/instance-action``
  (404 until set through the admin API), autoscaling lifecycle state.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

from .credentials import iso_z
from .httpserver import Response

TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
_SIGNING_KEY = b"ecs-local-imds-document-signing-key"


class Imds:
    def __init__(self, cp):
        self.cp = cp
        self.cfg = cp.cfg
        self.tokens = {}
        self.requests = 0
        state = cp.data["imds"]
        if self.cfg.imds_instance_id:
            state["instanceId"] = self.cfg.imds_instance_id
        state.setdefault("instanceId", "i-0" + secrets.token_hex(8))
        state.setdefault("pendingTime", iso_z(time.time()))
        cp.changed()
        iid = state["instanceId"]
        digest = hashlib.sha256(iid.encode()).hexdigest()
        self.mac = "02:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))
        self.private_ip = "10.0.0." + str(10 + int(digest[:2], 16) % 200)

    @property
    def instance_id(self):
        return self.cp.data["imds"]["instanceId"]

    def describe(self):
        return {"instanceId": self.instance_id, "instanceType": self.cfg.imds_instance_type,
                "role": self.cfg.imds_role, "mac": self.mac, "privateIp": self.private_ip,
                "publicIp": self.cfg.imds_public_ip,
                "activeTokens": sum(1 for e in self.tokens.values() if e > time.time()),
                "requests": self.requests,
                "spotAction": self.cp.data["imds"].get("spotAction"),
                "roleAccessKeyId": self.cp.data["imds"].get("roleKey")}

    def identity_document(self):
        doc = {
            "accountId": self.cp.account,
            "architecture": "x86_64",
            "availabilityZone": f"{self.cp.region}a",
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": "ami-0ec5l0ca1000000001",
            "instanceId": self.instance_id,
            "instanceType": self.cfg.imds_instance_type,
            "kernelId": None,
            "pendingTime": self.cp.data["imds"]["pendingTime"],
            "privateIp": self.private_ip,
            "ramdiskId": None,
            "region": self.cp.region,
            "version": "2017-09-30",
        }
        return json.dumps(doc, indent=2, separators=(",", " : "))

    def signature(self):
        mac = hmac.new(_SIGNING_KEY, self.identity_document().encode(), hashlib.sha256).digest()
        return base64.b64encode(mac * 8).decode()

    def _role_credentials(self):
        state = self.cp.data["imds"]
        ak = state.get("roleKey")
        entry = self.cp.creds.lookup(ak) if ak else None
        ttl = self.cfg.credentials_ttl
        if entry is None or entry["expiration"] - time.time() <= min(3600.0, ttl / 2):
            ak, entry = self.cp.creds.issue(
                "instance-role", ttl, roleArn=self.cp.arns.role(self.cfg.imds_role),
                ec2InstanceId=self.instance_id)
            state["roleKey"] = ak
            self.cp.changed()
            self.cp.store.flush()
        return ak, entry

    @staticmethod
    def _text(body, status=200, headers=None):
        return Response(status, body, headers, content_type="text/plain")

    def _not_found(self):
        return Response(404, "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n"
                        "<html><head><title>404 - Not Found</title></head>"
                        "<body><h1>404 - Not Found</h1></body></html>\n",
                        content_type="text/html")

    async def handle(self, req):
        self.requests += 1
        path = req.path
        if path == "/latest/api/token":
            if req.method != "PUT":
                return self._text("", 405)
            if req.headers.get("X-Forwarded-For"):
                return self._text("", 403)
            try:
                ttl = int(req.headers.get(TOKEN_TTL_HEADER) or "")
            except ValueError:
                return self._text("", 400)
            if not 1 <= ttl <= 21600:
                return self._text("", 400)
            token = base64.b64encode(secrets.token_bytes(42)).decode()
            self.tokens[token] = time.time() + ttl
            return self._text(token, headers=[(TOKEN_TTL_HEADER, str(ttl))])
        if req.method not in ("GET", "HEAD"):
            return self._text("", 405)
        token = req.headers.get(TOKEN_HEADER)
        if token is not None:
            if self.tokens.get(token, 0) < time.time():
                return self._text("", 401)
        elif not self.cfg.imds_allow_v1:
            return self._text("", 401)
        if not path.startswith("/latest/"):
            return self._not_found()
        return self._get(path[len("/latest"):])

    def _get(self, path):
        region = self.cp.region
        md = "/meta-data/"
        mac = self.mac
        net = f"{md}network/interfaces/macs/{mac}/"
        table = {
            "/dynamic/instance-identity/document": self.identity_document,
            "/dynamic/instance-identity/signature": self.signature,
            "/dynamic/instance-identity/pkcs7": self.signature,
            "/dynamic/instance-identity/": lambda: "document\npkcs7\nsignature",
            md + "instance-id": lambda: self.instance_id,
            md + "instance-type": lambda: self.cfg.imds_instance_type,
            md + "ami-id": lambda: "ami-0ec5l0ca1000000001",
            md + "placement/region": lambda: region,
            md + "placement/availability-zone": lambda: f"{region}a",
            md + "placement/availability-zone-id": lambda: "usw2-az1" if region == "us-west-2"
            else f"{region}-az1",
            md + "mac": lambda: mac,
            md + "local-ipv4": lambda: self.private_ip,
            md + "public-ipv4": lambda: self.cfg.imds_public_ip,
            md + "local-hostname": lambda: "ip-" + self.private_ip.replace(".", "-")
            + f".{region}.compute.internal",
            md + "hostname": lambda: "ip-" + self.private_ip.replace(".", "-")
            + f".{region}.compute.internal",
            net + "vpc-id": lambda: "vpc-0ec5l0ca100000001",
            net + "subnet-id": lambda: "subnet-0ec5l0ca10000001",
            net + "vpc-ipv4-cidr-block": lambda: "10.0.0.0/16",
            net + "device-number": lambda: "0",
            md + "network/interfaces/macs/": lambda: mac + "/",
            md + "iam/security-credentials/": lambda: self.cfg.imds_role,
            md + "iam/security-credentials": lambda: self.cfg.imds_role,
            md + "iam/info": self._iam_info,
            md + "autoscaling/target-lifecycle-state": lambda: "InService",
            md + f"iam/security-credentials/{self.cfg.imds_role}": self._creds_doc,
            md + "spot/instance-action": self._spot_action,
            md + "spot/termination-time": self._spot_time,
            md: lambda: "\n".join(["ami-id", "hostname", "iam/", "instance-id", "instance-type",
                                   "local-hostname", "local-ipv4", "mac", "network/",
                                   "placement/"]),
        }
        fn = table.get(path)
        if fn is None:
            return self._not_found()
        body = fn()
        if body is None:
            return self._not_found()
        return self._text(body)

    def _iam_info(self):
        return json.dumps({
            "Code": "Success", "LastUpdated": iso_z(time.time()),
            "InstanceProfileArn": f"arn:aws:iam::{self.cp.account}:instance-profile/{self.cfg.imds_role}",
            "InstanceProfileId": "AIPAECSLOCAL" + self.instance_id[-8:].upper(),
        }, indent=2)

    def _creds_doc(self):
        ak, entry = self._role_credentials()
        return json.dumps({
            "Code": "Success",
            "LastUpdated": iso_z(entry["issuedAt"]),
            "Type": "AWS-HMAC",
            "AccessKeyId": ak,
            "SecretAccessKey": entry["secret"],
            "Token": entry["token"],
            "Expiration": iso_z(entry["expiration"]),
        }, indent=2)

    def _spot_action(self):
        sa = self.cp.data["imds"].get("spotAction")
        return json.dumps(sa) if sa else None

    def _spot_time(self):
        sa = self.cp.data["imds"].get("spotAction")
        return sa["time"] if sa else None
