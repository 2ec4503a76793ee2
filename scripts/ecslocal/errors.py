"""AWS JSON 1.1 error values (ecs-protocol.md §1.2).

Every failure that reaches a client is an :class:`AwsError`.  The HTTP layer
renders it as AWS does: status 400 (500 for server faults, 403 for the
authentication family), header ``X-Amzn-ErrorType: <Code>`` and body
``{"__type": "<Code>", "message": "..."}``.
"""

# HTTP status per error code when it is not 400.
_STATUS = {
    "ServerException": 500,
    "InternalServerError": 500,
    "InternalServiceError": 500,
    "InternalFailure": 500,
    "InvalidSignatureException": 403,
    "UnrecognizedClientException": 403,
    "MissingAuthenticationTokenException": 403,
    "ExpiredTokenException": 403,
}


class AwsError(Exception):
    """An error answered to the caller in the AWS JSON 1.1 error shape."""

    def __init__(self, code, message, status=None, extra=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status or _STATUS.get(code, 400)
        self.extra = extra or {}

    def body(self):
        out = {"__type": self.code, "message": self.message}
        out.update(self.extra)
        return out


def client(msg):
    return AwsError("ClientException", msg)


def invalid(msg):
    return AwsError("InvalidParameterException", msg)


def cluster_not_found():
    return AwsError("ClusterNotFoundException", "Cluster not found.")
