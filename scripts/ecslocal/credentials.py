"""Access-key table and fake STS-style credentials.

Three kinds of keys can sign requests:

* static keys (the default pair, ``--access-key/--secret-key``, env, keys
  added through the admin API) - never expire;
* task role / execution role credentials handed to the agent over ACS
  (§2.6.5, §2.7) - the agent uses execution credentials to call ECR, SSM and
  Secrets Manager (§1.13, §10), so they must verify here;
* the IMDS instance-role credentials (§8.8).

Temporary credentials carry a session token that must be presented in
``X-Amz-Security-Token`` and expire.
"""

import base64
import datetime
import secrets
import string
import time
import uuid

_UPPER = string.ascii_uppercase + string.digits


def _rand(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def iso_expiration(epoch):
    """ACS credential expiration format (§2.6.5): 2024-01-01T06:00:00.000+0000."""
    dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def iso_z(epoch):
    dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class CredentialTable:
    def __init__(self, store, static_keys):
        self.store = store
        self.static = {}
        for ak, sk, token in static_keys:
            self.static[ak] = {"secret": sk, "token": token, "kind": "static"}

    @property
    def _issued(self):
        return self.store.data.setdefault("issuedCredentials", {})

    @property
    def _added(self):
        return self.store.data.setdefault("accessKeys", {})

    def lookup(self, access_key):
        if access_key in self.static:
            return self.static[access_key]
        if access_key in self._added:
            return self._added[access_key]
        return self._issued.get(access_key)

    def add_static(self, access_key, secret, token=None):
        self._added[access_key] = {"secret": secret, "token": token, "kind": "static"}
        self.store.mark_dirty()

    def issue(self, kind, ttl, **meta):
        """Mint temporary credentials (ASIA... key, secret, session token)."""
        now = time.time()
        ak = "ASIA" + _rand(_UPPER, 16)
        entry = {
            "secret": _rand(string.ascii_letters + string.digits + "+/", 40),
            "token": base64.b64encode(secrets.token_bytes(96)).decode(),
            "kind": kind,
            "issuedAt": now,
            "expiration": now + ttl,
        }
        entry.update(meta)
        self._issued[ak] = entry
        self.prune(now)
        self.store.mark_dirty()
        return ak, entry

    def prune(self, now=None):
        """Forget credentials that expired more than an hour ago."""
        now = now or time.time()
        dead = [k for k, v in self._issued.items() if v.get("expiration", now) < now - 3600]
        for k in dead:
            del self._issued[k]


def new_credentials_id():
    return str(uuid.uuid4())
