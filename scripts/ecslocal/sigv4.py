"""SigV4 verification with botocore's own signer (ecs-protocol.md §1.1, §2.3, §3.2).

The request is rebuilt from what arrived (method, path, query, the headers
named in ``SignedHeaders``, body) and signed again with
:class:`botocore.auth.SigV4Auth` at the request's own ``X-Amz-Date``; the two
signatures are compared in constant time.  The canonical query string is
built from the *decoded* query pairs, re-encoded the SigV4 way (RFC 3986,
space as ``%20``): the Go agent puts ``+`` for spaces on the wire (e.g. the
``dockerVersion=DockerVersion%3A+25.0.8`` ACS parameter, §2.2) but signs
``%20``.

Error codes and texts follow what AWS JSON services answer.
"""

import calendar
import datetime
import email.utils
import hashlib
import hmac

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from .errors import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_FMT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = 300  # seconds: AWS rejects requests more than 5 minutes off

MISMATCH = ("The request signature we calculated does not match the signature "
            "you provided. Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.")
BAD_TOKEN = "The security token included in the request is invalid."


class _Resigner(SigV4Auth):
    """SigV4Auth that signs exactly the headers the client said it signed
    (botocore's client-side blacklist must not apply when verifying) and
    hashes the body we received."""

    def __init__(self, credentials, service, region, signed_headers, body):
        super().__init__(credentials, service, region)
        self._signed = signed_headers
        self._body = body

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name, value in self._signed:
            hm[name] = value
        return hm

    def payload(self, request):
        return hashlib.sha256(self._body or b"").hexdigest()


class Caller:
    """Who signed a request."""

    def __init__(self, access_key, entry):
        self.access_key = access_key
        self.entry = entry

    @property
    def kind(self):
        return self.entry.get("kind", "static")


def _amz(dt_epoch):
    return datetime.datetime.fromtimestamp(dt_epoch, datetime.timezone.utc).strftime(AMZ_FMT)


def parse_authorization(value):
    """Split 'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'."""
    algo, _, rest = value.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            fields[k.strip()] = v.strip()
    return algo, fields


class SigV4Verifier:
    def __init__(self, creds, region, clock, faults=None):
        self.creds = creds
        self.region = region
        self.clock = clock          # callable -> "now" (shifted by the clock-skew fault)
        self.faults = faults

    def verify(self, method, path, query_pairs, headers, body, service, scope="api"):
        """Raise AwsError unless the request is correctly signed; return Caller.

        ``headers`` is an httpserver.Headers; ``scope`` names the fault scope
        ("api", "acs", "tcs")."""
        auth = headers.get("Authorization")
        if not auth:
            raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
        algo, f = parse_authorization(auth)
        if algo != ALGORITHM:
            raise AwsError("IncompleteSignatureException",
                           f"Unsupported AWS 'algorithm': '{algo}'")
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in f]
        if missing:
            raise AwsError("IncompleteSignatureException", " ".join(
                f"Authorization header requires '{k}' parameter." for k in missing)
                + f" Authorization={auth}")
        cred = f["Credential"].split("/")
        if len(cred) != 5 or cred[4] != "aws4_request":
            raise AwsError("IncompleteSignatureException",
                           "Credential should be scoped with a valid terminator: 'aws4_request', "
                           f"not '{cred[-1]}'. ")
        access_key, scope_date, scope_region, scope_service, _ = cred

        entry = self.creds.lookup(access_key)
        if entry is None:
            raise AwsError("UnrecognizedClientException", BAD_TOKEN)

        amz_date = headers.get("X-Amz-Date")
        if not amz_date:
            date_hdr = headers.get("Date")
            if not date_hdr:
                raise AwsError("IncompleteSignatureException",
                               "Authorization header requires existence of either a "
                               f"'X-Amz-Date' or a 'Date' header. Authorization={auth}")
            parsed = email.utils.parsedate_tz(date_hdr)
            if not parsed:
                raise AwsError("IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got '{date_hdr}'.")
            amz_date = _amz(email.utils.mktime_tz(parsed))
        try:
            req_time = calendar.timegm(datetime.datetime.strptime(amz_date, AMZ_FMT).timetuple())
        except ValueError:
            raise AwsError("IncompleteSignatureException",
                           f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
                           "See http://en.wikipedia.org/wiki/ISO_8601")
        if scope_date != amz_date[:8]:
            raise AwsError("InvalidSignatureException",
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                           f"version of date from HTTP: '{scope_date}' != '{amz_date[:8]}', "
                           f"from '{amz_date}'.")
        if scope_region != self.region:
            raise AwsError("InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{scope_region}'. ")
        if scope_service != service:
            raise AwsError("InvalidSignatureException",
                           f"Credential should be scoped to correct service: '{service}'. ")

        now = self.clock()
        if req_time < now - MAX_SKEW:
            raise AwsError("InvalidSignatureException",
                           f"Signature expired: {amz_date} is now earlier than "
                           f"{_amz(now - MAX_SKEW)} ({_amz(now)} - 5 min.)")
        if req_time > now + MAX_SKEW:
            raise AwsError("InvalidSignatureException",
                           f"Signature not yet current: {amz_date} is still later than "
                           f"{_amz(now + MAX_SKEW)} ({_amz(now)} + 5 min.)")

        token = headers.get("X-Amz-Security-Token")
        if (entry.get("token") or None) != (token or None):
            raise AwsError("UnrecognizedClientException", BAD_TOKEN)
        if entry.get("expiration") and entry["expiration"] < now:
            raise AwsError("ExpiredTokenException",
                           "The security token included in the request is expired")

        signed_names = [h.strip().lower() for h in f["SignedHeaders"].split(";") if h.strip()]
        if "host" not in signed_names:
            raise AwsError("InvalidSignatureException",
                           "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        signed = []
        for name in signed_names:
            values = headers.get_all(name)
            for v in values or [""]:
                signed.append((name, v))
        content_sha = headers.get("X-Amz-Content-Sha256")
        if content_sha and content_sha != "UNSIGNED-PAYLOAD" and \
                content_sha != hashlib.sha256(body or b"").hexdigest():
            raise AwsError("InvalidSignatureException",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.")

        host = headers.get("Host") or "localhost"
        request = AWSRequest(method=method, url=f"http://{host}{path}",
                             headers=dict(signed), data=body or b"",
                             params=list(query_pairs))
        request.context["timestamp"] = amz_date
        signer = _Resigner(Credentials(access_key, entry["secret"], entry.get("token")),
                           service, self.region, signed, body)
        canonical = signer.canonical_request(request)
        to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(to_sign, request)

        forced = self.faults is not None and self.faults.take_bad_signature(scope)
        if forced or not hmac.compare_digest(expected, f["Signature"]):
            raise AwsError("InvalidSignatureException",
                           MISMATCH + "\n\nThe Canonical String for this request should have been\n'"
                           + canonical + "'\n\nThe String-to-Sign should have been\n'" + to_sign + "'\n")
        return Caller(access_key, entry)
