"""STS, query protocol: GetCallerIdentity, so that a client in a task can show which identity
the credentials it holds belong to. Task-role and execution-role credentials ecs-local issued
answer as the assumed role (session name: the task ID); the static keys as a user."""
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from .errors import AwsError
from .httpserver import Response

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
CONTENT_TYPE = "text/xml"


def is_query_post(req):
    """A query-protocol call: a form-encoded POST / without X-Amz-Target."""
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return (req.method == "POST" and req.path == "/" and not req.headers.get("X-Amz-Target")
            and ctype == "application/x-www-form-urlencoded")


def error_xml(code, message, request_id, status=400, ns=NS):
    """A query-protocol error body in the service's namespace."""
    body = (f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>")
    return Response(status, body.encode(), [("x-amzn-RequestId", request_id)], CONTENT_TYPE)


def identity(cp, caller):
    """(Arn, UserId) of the signer."""
    entry = caller.entry or {}
    account = cp.cfg.account
    role = entry.get("roleArn")
    if role:
        name = role.rsplit("/", 1)[-1]
        session = (entry.get("taskArn") or "ecs-local").rsplit("/", 1)[-1]
        return (f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
                f"AROA{caller.access_key[4:20]}:{session}")
    return f"arn:aws:iam::{account}:user/ecs-local", f"AIDA{caller.access_key[4:20]}"


async def handle(cp, verifier, req):
    request_id = str(uuid.uuid4())
    try:
        caller = verifier.verify("POST", req.path, req.query_pairs, req.headers, req.body,
                                 "sts", scope="api")
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace")))
        action = form.get("Action")
        if action != "GetCallerIdentity":
            return error_xml("InvalidAction", f"ecs-local implements no STS action {action!r}",
                              request_id)
        arn, user_id = identity(cp, caller)
        body = (f'<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult>'
                f"<Arn>{escape(arn)}</Arn><UserId>{escape(user_id)}</UserId>"
                f"<Account>{cp.cfg.account}</Account></GetCallerIdentityResult>"
                f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                "</GetCallerIdentityResponse>")
        return Response(200, body.encode(), [("x-amzn-RequestId", request_id)], CONTENT_TYPE)
    except AwsError as e:
        return error_xml(e.code, e.message, request_id, 403 if e.status in (400, 403) else e.status)
